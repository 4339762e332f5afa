import EzflowIDE
import EzflowIR

extension LanguageServer {
    /// `textDocument/inlayHint`: each task's worst case after its name.
    func inlayHints(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        let p = params ?? .null
        let uri = try p.object("textDocument", in: "params").string("uri", in: "textDocument")
        let range = try p.object("range", in: "params")
        guard let (a, path) = analysis(uri), let source = a.source(path) else { return .array([]) }
        let lines = lineMap(source.key, source.text)
        let (start, end) = try TextDocument.range(range, lines, encoding)
        return .array(a.inlayHints(path: path, start: start, end: end).map { h in
            let at = lines.position(h.offset, encoding)
            return .object([
                ("position", .object([("line", .int(Int64(at.line))), ("character", .int(Int64(at.character)))])),
                ("label", .string(h.label)),
                ("tooltip", .string(h.tooltip)),
                ("paddingLeft", .bool(true)),
            ])
        })
    }
}
