import EzflowIR

/// An open document: the editor's text, not the file on disk, is what gets checked.
public struct TextDocument: Sendable {
    public var uri: String
    /// The key the compiler loads it by: the file's absolute path (the URI itself for a
    /// document that is not a file, e.g. `untitled:`).
    public var path: String
    public var version: Int
    public private(set) var lines: LineMap

    public var bytes: [UInt8] { lines.bytes }

    public init(uri: String, version: Int, text: String) {
        self.uri = uri
        self.path = FileURI.path(uri) ?? uri
        self.version = version
        self.lines = LineMap(Array(text.utf8))
    }

    /// Applies `didChange`'s `contentChanges` in order: one with a `range` replaces that
    /// range (positions in `encoding`, read against the text as the changes before it
    /// left it); one without replaces the whole text.
    public mutating func apply(_ changes: [JSONValue], _ encoding: PositionEncoding) throws(RPCError) {
        for change in changes {
            let text = try change.string("text", in: "contentChanges[]")
            guard let range = change["range"] else {
                lines = LineMap(Array(text.utf8))
                continue
            }
            let (start, end) = try Self.range(range, lines, encoding)
            var bytes = lines.bytes
            bytes.replaceSubrange(start..<max(start, end), with: Array(text.utf8))
            lines = LineMap(bytes)
        }
    }

    /// A `Range` read into byte offsets of `lines`.
    static func range(_ range: JSONValue, _ lines: LineMap, _ encoding: PositionEncoding) throws(RPCError) -> (Int, Int) {
        let start = try position(range.object("start", in: "range"), "range.start")
        let end = try position(range.object("end", in: "range"), "range.end")
        return (lines.offset(start, encoding), lines.offset(end, encoding))
    }

    static func position(_ v: JSONValue, _ what: String) throws(RPCError) -> Position {
        Position(line: try v.int("line", in: what), character: try v.int("character", in: what))
    }
}
