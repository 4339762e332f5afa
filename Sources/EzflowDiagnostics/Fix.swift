/// One replacement in a source file: the bytes of `span` become `replacement`. An empty
/// span inserts; an empty replacement deletes.
public struct TextEdit: Sendable, Hashable {
    public var span: Span
    public var replacement: String

    public init(_ span: Span, _ replacement: String) {
        self.span = span
        self.replacement = replacement
    }
}

/// An edit the diagnostic proposes, as data an editor can apply (a code action) and
/// SARIF can carry. Text output keeps showing the diagnostic's `help` line instead.
public struct Fix: Sendable, Hashable {
    /// What the fix does, e.g. "replace with `build`".
    public var title: String
    /// Non-overlapping edits, applied together.
    public var edits: [TextEdit]

    public init(_ title: String, _ edits: [TextEdit]) {
        self.title = title
        self.edits = edits
    }

    /// Replaces `span` with `text`.
    public static func replace(_ span: Span, with text: String) -> Fix {
        Fix("replace with `\(text)`", [TextEdit(span, text)])
    }

    /// Deletes `span`.
    public static func remove(_ span: Span, _ what: String) -> Fix {
        Fix("remove \(what)", [TextEdit(span, "")])
    }
}

extension Diagnostic {
    /// Adds a "did you mean" suggestion: the help line and the fix replacing `span` with
    /// `name`. Without a suggestion, `otherwise` (if any) becomes the help.
    public func suggesting(_ name: String?, at span: Span, otherwise: String? = nil) -> Diagnostic {
        var d = self
        guard let name else {
            if let otherwise { d.help = otherwise }
            return d
        }
        d.help = "did you mean `\(name)`?"
        d.fixes.append(.replace(span, with: name))
        return d
    }

    /// The diagnostic with its help line set.
    public func with(help: String?) -> Diagnostic {
        var d = self
        d.help = help
        return d
    }

    /// The diagnostic with `fix` added.
    public func fixing(_ fix: Fix?) -> Diagnostic {
        var d = self
        if let fix { d.fixes.append(fix) }
        return d
    }
}

extension SourceFile {
    /// The bytes with `edits` (all in this file, not overlapping) applied.
    public func applying(_ edits: [TextEdit]) -> [UInt8] {
        var out = bytes
        for e in edits.sorted(by: { $0.span.start > $1.span.start }) {
            let lo = max(0, min(e.span.start, out.count)), hi = max(lo, min(e.span.end, out.count))
            out.replaceSubrange(lo..<hi, with: Array(e.replacement.utf8))
        }
        return out
    }
}
