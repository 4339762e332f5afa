// Server-sent events (the WHATWG HTML "event stream" format), read incrementally: bytes in
// as they arrive, whole events out. What the llm stream decoders need and no more: `data:`
// lines (several join with "\n"), `event:` names, `:` comments skipped, `id:`/`retry:`
// ignored; lines end with LF, CRLF or CR (a CR at the end of one piece and an LF at the
// start of the next are one line end). A line is decoded as UTF-8 only when whole, so a
// character split across two pieces arrives intact. An event is dispatched at a blank line
// and only when it has data; an unfinished event at the end of the stream is dropped, as
// the format says.

/// One event of a stream.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` name; nil: none given (the format's default, "message").
    public var name: String?
    /// The `data:` lines joined with "\n".
    public var data: String

    public init(name: String? = nil, data: String) {
        self.name = name
        self.data = data
    }
}

/// Splits a byte stream into `SSEEvent`s; feed it pieces in order.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var afterCR = false
    private var name: String?
    private var data: [String] = []
    private var hasData = false

    public init() {}

    /// The events completed by `bytes`.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [SSEEvent] {
        var out: [SSEEvent] = []
        for b in bytes {
            if afterCR {
                afterCR = false
                if b == 0x0A { continue }
            }
            switch b {
            case 0x0D:
                afterCR = true
                endLine(&out)
            case 0x0A:
                endLine(&out)
            default:
                line.append(b)
            }
        }
        return out
    }

    private mutating func endLine(_ out: inout [SSEEvent]) {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else {
            if hasData { out.append(SSEEvent(name: name, data: data.joined(separator: "\n"))) }
            name = nil
            data.removeAll()
            hasData = false
            return
        }
        if line[0] == UInt8(ascii: ":") { return }  // a comment (keep-alives)
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring, value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            var v = text[text.index(after: colon)...]
            if v.first == " " { v = v.dropFirst() }
            value = v
        } else {
            (field, value) = (text[...], "")
        }
        switch field {
        case "data":
            data.append(String(value))
            hasData = true
        case "event":
            name = String(value)
        default:
            break  // `id`, `retry`, unknown fields
        }
    }
}
