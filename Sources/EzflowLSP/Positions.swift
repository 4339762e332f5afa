/// How a position's `character` counts: LSP's default is UTF-16 code units (what
/// JavaScript strings index); 3.17 lets the client offer UTF-8, which is what the
/// compiler's offsets already are, so the server takes it when offered.
public enum PositionEncoding: String, Sendable {
    case utf8 = "utf-8"
    case utf16 = "utf-16"

    /// The server's choice from the client's `general.positionEncodings`.
    public static func negotiate(_ offered: [String]?) -> PositionEncoding {
        (offered ?? []).contains(PositionEncoding.utf8.rawValue) ? .utf8 : .utf16
    }
}

/// An LSP position: zero-based line and character (in the negotiated encoding).
public struct Position: Sendable, Hashable {
    public var line: Int
    public var character: Int
    public init(line: Int, character: Int) {
        self.line = line
        self.character = character
    }
}

/// The lines of a text as UTF-8 bytes, to turn LSP positions into the byte offsets the
/// compiler uses and back. Lines end at `\n`, `\r\n` or a lone `\r`, as the protocol
/// (and the editor) counts them: the compiler's offsets need no line table of theirs.
public struct LineMap: Sendable {
    public let bytes: [UInt8]
    /// The offset of each line's first byte, and where its text ends (its terminator's start).
    let starts: [Int]
    let ends: [Int]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var starts = [0], ends: [Int] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == 10 || bytes[i] == 13 {
                ends.append(i)
                if bytes[i] == 13, i + 1 < bytes.count, bytes[i + 1] == 10 { i += 1 }
                starts.append(i + 1)
            }
            i += 1
        }
        ends.append(bytes.count)
        self.starts = starts
        self.ends = ends
    }

    /// Where line `line`'s text ends: before its terminator.
    func lineEnd(_ line: Int) -> Int { ends[line] }

    /// The byte offset of `p`. A line past the end is the end of the text, a character past
    /// the line's end is the line's end (the spec's rule); a character inside a character
    /// (half a surrogate pair) is the start of that character.
    public func offset(_ p: Position, _ encoding: PositionEncoding) -> Int {
        guard p.line >= 0 else { return 0 }
        guard p.line < starts.count else { return bytes.count }
        let start = starts[p.line], end = lineEnd(p.line)
        var offset = start, units = 0
        let wanted = max(0, p.character)
        while offset < end {
            let (size, width) = Self.scalar(bytes, offset, end, encoding)
            if units + width > wanted { break }
            units += width
            offset += size
        }
        return offset
    }

    /// The position of byte `offset` (clamped to the text); an offset inside a character
    /// counts from that character's start.
    public func position(_ offset: Int, _ encoding: PositionEncoding) -> Position {
        let offset = min(max(0, offset), bytes.count)
        // The last line starting at or before `offset`.
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        let end = min(offset, lineEnd(lo))
        var at = starts[lo], units = 0
        while at < end {
            let (size, width) = Self.scalar(bytes, at, lineEnd(lo), encoding)
            if at + size > end { break }
            units += width
            at += size
        }
        return Position(line: lo, character: units)
    }

    /// The UTF-8 length of the character starting at `i` and its width in `encoding`.
    /// A byte that starts no valid sequence counts as one character of one unit (U+FFFD).
    static func scalar(_ bytes: [UInt8], _ i: Int, _ end: Int, _ encoding: PositionEncoding) -> (size: Int, width: Int) {
        let b = bytes[i]
        let size: Int
        switch b {
        case 0..<0x80: size = 1
        case 0xC2..<0xE0: size = 2
        case 0xE0..<0xF0: size = 3
        case 0xF0..<0xF5: size = 4
        default: return (1, 1)
        }
        guard i + size <= end, (1..<size).allSatisfy({ bytes[i + $0] & 0xC0 == 0x80 }) else { return (1, 1) }
        switch encoding {
        case .utf8: return (size, size)
        case .utf16: return (size, size == 4 ? 2 : 1)
        }
    }
}
