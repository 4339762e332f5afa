/// LSP's base protocol: each message is a header block (`Name: value` lines ending in
/// CRLF, then an empty line) and a body of exactly `Content-Length` bytes. The reader is
/// fed whatever a read returned — half a header, three messages at once — and hands back
/// whole bodies; a header it cannot use is reported and skipped, so one bad frame never
/// stops the server.
public struct FrameReader: Sendable {
    /// A body larger than this is refused: a corrupt length must not make the server
    /// allocate gigabytes (the biggest workflow files are a few MiB).
    public static let bodyMax = 64 << 20
    /// A header block longer than this without its blank line is garbage, not a header.
    public static let headerMax = 8 << 10

    public enum Frame: Sendable, Equatable {
        /// One message's body (JSON, not yet parsed).
        case message([UInt8])
        /// Bytes that were not a usable frame, and why; they are skipped.
        case malformed(String)
    }

    var buffer: [UInt8] = []
    /// Where the unread bytes start: consumed bytes are dropped in bulk, not one frame at a time.
    var start = 0
    /// After a skipped header the body that followed it is unusable too: bytes are
    /// dropped until the next `Content-Length`, where the next message starts.
    var resyncing = false

    public init() {}

    /// Bytes read but not yet handed back as a frame.
    public var pending: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed.
    public mutating func next() -> Frame? {
        if resyncing {
            guard let at = find(Self.lengthName) else {
                // Keep a tail that may be the start of the name, split across reads.
                start = max(start, buffer.count - Self.lengthName.count + 1)
                return nil
            }
            start = at
            resyncing = false
        }
        // Line breaks between messages (a client that ends its body with one) are no header.
        while start < buffer.count, buffer[start] == 13 || buffer[start] == 10 { start += 1 }
        guard let (end, bodyStart) = headerEnd() else {
            if pending > Self.headerMax {
                start = buffer.count
                return .malformed("no message header in \(Self.headerMax) bytes; the bytes were skipped")
            }
            return nil
        }
        let header = buffer[start..<end]
        switch Self.contentLength(header) {
        case .failure(let why):
            // A header with a bad length: its body is skipped. One without a length may be the
            // tail of a body that was a few bytes off, with the next message inside it.
            start = why.lengthGiven ? bodyStart : start + 1
            resyncing = true
            return .malformed(why.description)
        case .success(let length):
            guard buffer.count - bodyStart >= length else { return nil }
            start = bodyStart + length
            return .message(Array(buffer[bodyStart..<start]))
        }
    }

    static let lengthName = Array("content-length".utf8)

    /// The first offset at or after `start` where `name` (lowercase ASCII) occurs, case-insensitively.
    func find(_ name: [UInt8]) -> Int? {
        var i = start
        while i + name.count <= buffer.count {
            var j = 0
            while j < name.count, buffer[i + j] | 0x20 == name[j] || buffer[i + j] == name[j] { j += 1 }
            if j == name.count { return i }
            i += 1
        }
        return nil
    }

    /// Where the header block ends and its body starts, once its blank line has arrived:
    /// CRLF CRLF as the protocol says, or LF LF from a client that writes bare newlines.
    func headerEnd() -> (end: Int, body: Int)? {
        var i = start
        while i + 1 < buffer.count {
            if buffer[i] == 10, buffer[i + 1] == 10 { return (i, i + 2) }
            if i + 3 < buffer.count, buffer[i] == 13, buffer[i + 1] == 10, buffer[i + 2] == 13, buffer[i + 3] == 10 { return (i, i + 4) }
            i += 1
        }
        return nil
    }

    /// `Content-Length` from a header block (names are case-insensitive; other fields,
    /// such as `Content-Type`, are allowed and ignored).
    static func contentLength(_ header: ArraySlice<UInt8>) -> Result<Int, MalformedHeader> {
        var length: Int?
        // Split on the bytes: in a Swift string "\r\n" is one character, not two.
        for raw in header.split(separator: 10, omittingEmptySubsequences: false) {
            let line = String(decoding: raw.last == 13 ? raw.dropLast() : raw, as: UTF8.self)
            guard let colon = line.firstIndex(of: ":") else {
                return .failure(MalformedHeader("header line `\(line.prefix(80))` is not `Name: value`; the message was skipped"))
            }
            guard line[..<colon].lowercased() == "content-length" else { continue }
            let value = line[line.index(after: colon)...].trimmed(" \t")
            guard !value.isEmpty, value.count <= 12, value.allSatisfy(\.isASCIIDigit), let n = Int(value) else {
                return .failure(MalformedHeader("Content-Length `\(value.prefix(40))` is not a byte count; the message was skipped", lengthGiven: true))
            }
            guard n <= bodyMax else {
                return .failure(MalformedHeader("Content-Length \(n) is above the \(bodyMax)-byte limit; the header was skipped", lengthGiven: true))
            }
            guard length == nil || length == n else {
                return .failure(MalformedHeader("two Content-Length fields (\(length ?? 0) and \(n)); the message was skipped", lengthGiven: true))
            }
            length = n
        }
        guard let length else { return .failure(MalformedHeader("a message header without Content-Length; the message was skipped")) }
        return .success(length)
    }

    /// The frame of one message body, ready to write.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body
    }
}

/// Why a header block was skipped, in words for the server's log.
public struct MalformedHeader: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    /// The header named a length, only not a usable one: it was a header, its body follows.
    var lengthGiven = false
    init(_ description: String, lengthGiven: Bool = false) {
        self.description = description
        self.lengthGiven = lengthGiven
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension StringProtocol {
    func trimmed(_ set: String) -> String {
        let s = self.drop { set.contains($0) }
        return String(s.reversed().drop { set.contains($0) }.reversed())
    }
}
