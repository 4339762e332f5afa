/// Renders diagnostics as one JSON document for scripts and editors:
///
///     {"diagnostics":[{"code":"E0400","column":3,"end_column":8,"end_line":2,
///       "file":"ci.ezflow","fixes":[],"help":null,"labels":[...],"line":2,"message":"...",
///       "notes":[],"severity":"error"}],"errors":1,"version":1,"warnings":0}
///
/// Keys are sorted and every key is always present (`help` is `null` when there is
/// none), so the bytes are the same for the same diagnostics and consumers need no
/// existence checks. Positions are 1-based; columns count Unicode scalars and the
/// end is exclusive. `labels` lists the primary label first, then the secondary ones.
/// `fixes` lists the edits `help` proposes: each a `title` and `edits` (a range, also as
/// byte offsets, and its `replacement` text), for editors and scripts to apply.
/// `version` changes only when a field is removed or changes meaning.
public struct JSONRenderer: DiagnosticRenderer {
    /// The value of the top-level `version` field.
    public static let formatVersion = 1

    public init() {}

    /// The document on one line, followed by a newline.
    public func render(_ diags: [Diagnostic], sources: SourceMap) -> String {
        let document: JSON = [
            "diagnostics": .array(diags.map { json($0, sources) }),
            "errors": .int(diags.errorCount),
            "warnings": .int(diags.warningCount),
            "version": .int(Self.formatVersion),
        ]
        return document.serialized() + "\n"
    }

    private func json(_ d: Diagnostic, _ sources: SourceMap) -> JSON {
        let labels =
            [json(d.primary, primary: true, sources)] + d.secondary.map { json($0, primary: false, sources) }
        return range(d.primary.span, sources, [
            "code": .string(d.code),
            "severity": .string(d.severity.rawValue),
            "message": .string(d.message),
            "labels": .array(labels),
            "notes": .array(d.notes.map(JSON.string)),
            "help": .optional(d.help),
            "fixes": .array(d.fixes.map { fix in
                ["title": .string(fix.title), "edits": .array(fix.edits.map { json($0, sources) })]
            }),
        ])
    }

    /// An edit: its range as positions (end exclusive) and as byte offsets, and the new text.
    private func json(_ edit: TextEdit, _ sources: SourceMap) -> JSON {
        range(edit.span, sources, [
            "start_offset": .int(edit.span.start),
            "end_offset": .int(edit.span.end),
            "replacement": .string(edit.replacement),
        ])
    }

    private func json(_ label: Label, primary: Bool, _ sources: SourceMap) -> JSON {
        range(label.span, sources, ["message": .string(label.message), "primary": .bool(primary)])
    }

    /// `fields` plus the span's file and 1-based start and end positions.
    private func range(_ span: Span, _ sources: SourceMap, _ fields: [String: JSON]) -> JSON {
        let at = sources.resolve(span)
        var out = fields
        out["file"] = .string(at.path)
        out["line"] = .int(at.line)
        out["column"] = .int(at.column)
        out["end_line"] = .int(at.endLine)
        out["end_column"] = .int(at.endColumn)
        return .object(out)
    }
}
