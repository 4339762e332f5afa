import EzflowIDE
import EzflowIR

/// `textDocument/codeAction`: the checker's fixes of the diagnostics in the range, as
/// quick fixes with their edits (a `WorkspaceEdit`: a grant may go into another file).
extension LanguageServer {
    func codeActions(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        let p = params ?? .null
        let uri = try p.object("textDocument", in: "params").string("uri", in: "textDocument")
        let range = try p.object("range", in: "params")
        // A client asking only for other kinds (refactor, source) gets none.
        if let only = p["context"]?["only"]?.arrayValue?.compactMap(\.stringValue),
           !only.contains(where: { $0 == "quickfix" || "quickfix".hasPrefix($0 + ".") }) {
            return .array([])
        }
        guard let (a, path) = analysis(uri), let source = a.source(path) else { return .array([]) }
        let lines = lineMap(source.key, source.text)
        let (start, end) = try TextDocument.range(range, lines, encoding)
        var out: [JSONValue] = []
        for fix in a.quickFixes(path: path, start: min(start, end), end: max(start, end)) {
            guard let edit = workspaceEdit(fix.edits, a) else { continue }
            out.append(.object([
                ("title", .string(fix.title)),
                ("kind", .string("quickfix")),
                ("diagnostics", .array([diagnostic(fix.diagnostic, uri, lines, a)])),
                ("isPreferred", .bool(fix.preferred)),
                ("edit", edit),
            ]))
        }
        return .array(out)
    }

    /// Edits as a `WorkspaceEdit` by URI; nil when one would edit the stdlib (the
    /// installation's files, not the workspace's) or a file the check did not read.
    func workspaceEdit(_ edits: [FileEdit], _ a: Analysis) -> JSONValue? {
        var byURI: [String: [JSONValue]] = [:]
        let std = stdlibDirectory
        for e in edits {
            guard let key = a.source(e.range.path)?.key, let r = range(e.range, a) else { return nil }
            if let std, key.hasPrefix(std) { return nil }
            byURI[uri(ofKey: key), default: []].append(.object([("range", r), ("newText", .string(e.newText))]))
        }
        return .object([("changes", .object(byURI.keys.sorted().map { ($0, .array(byURI[$0]!)) }))])
    }
}
