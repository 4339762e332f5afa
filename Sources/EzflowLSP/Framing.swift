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
        guard let end = headerEnd() else {
            if pending > Self.headerMax {
                start = buffer.count
                return .malformed("no message header in \(Self.headerMax) bytes; the bytes were skipped")
            }
            return nil
        }
        let header = buffer[start..<end]
        let bodyStart = end + 4
        switch Self.contentLength(header) {
        case .failure(let why):
            start = bodyStart
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

    /// The offset of the CRLF CRLF closing the header block, if it has arrived.
    func headerEnd() -> Int? {
        var i = start
        while i + 3 < buffer.count {
            if buffer[i] == 13, buffer[i + 1] == 10, buffer[i + 2] == 13, buffer[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }

    /// `Content-Length` from a header block (names are case-insensitive; other fields,
    /// such as `Content-Type`, are allowed and ignored).
    static func contentLength(_ header: ArraySlice<UInt8>) -> Result<Int, MalformedHeader> {
        let text = String(decoding: header, as: UTF8.self)
        var length: Int?
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: false) {
            guard let colon = line.firstIndex(of: ":") else {
                return .failure(MalformedHeader("header line `\(line.prefix(80))` is not `Name: value`; the message was skipped"))
            }
            guard line[..<colon].lowercased() == "content-length" else { continue }
            let value = line[line.index(after: colon)...].trimmed(" \t")
            guard !value.isEmpty, value.count <= 12, value.allSatisfy(\.isASCIIDigit), let n = Int(value) else {
                return .failure(MalformedHeader("Content-Length `\(value.prefix(40))` is not a byte count; the message was skipped"))
            }
            guard n <= bodyMax else {
                return .failure(MalformedHeader("Content-Length \(n) is above the \(bodyMax)-byte limit; the header was skipped"))
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
    init(_ description: String) { self.description = description }
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
