/// One source text with a line index, so byte offsets turn into 1-based line:column
/// positions in O(log lines). Columns count Unicode scalars, as editors and SARIF do.
public final class SourceFile: Sendable {
    /// Path as the user named it; used verbatim in every rendered position.
    public let path: String
    /// The bytes as read. Invalid UTF-8 is kept so positions stay exact.
    public let bytes: [UInt8]
    /// Byte offset of the first byte of each line.
    public let lineStarts: [Int]

    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
        var starts = [0]
        starts.reserveCapacity(bytes.count / 24 + 1)
        for (i, b) in bytes.enumerated() where b == 0x0A { starts.append(i + 1) }
        self.lineStarts = starts
    }

    public convenience init(path: String, text: String) {
        self.init(path: path, bytes: Array(text.utf8))
    }

    /// 1-based line and column of a byte offset (clamped to the file).
    public func position(of offset: Int) -> (line: Int, column: Int) {
        let off = max(0, min(offset, bytes.count))
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= off { lo = mid } else { hi = mid - 1 }
        }
        var column = 1
        var i = lineStarts[lo]
        while i < off {
            // Count scalars: skip UTF-8 continuation bytes.
            if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        return (lo + 1, column)
    }

    /// The text of a 1-based line without its newline, with invalid UTF-8 repaired.
    public func lineText(_ line: Int) -> String {
        guard line >= 1, line <= lineStarts.count else { return "" }
        let start = lineStarts[line - 1]
        var end = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
        if end > start, bytes[end - 1] == 0x0D { end -= 1 }
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }

    /// Text of a byte range, invalid UTF-8 repaired.
    public func text(_ span: Span) -> String {
        let lo = max(0, min(span.start, bytes.count)), hi = max(lo, min(span.end, bytes.count))
        return String(decoding: bytes[lo..<hi], as: UTF8.self)
    }
}

/// A half-open byte range `[start, end)` inside one `SourceFile`.
public struct Span: Sendable, Hashable, Comparable {
    /// The file's id in its `SourceMap`: derived from the file's canonical path, so the
    /// same file has the same id in every check, whatever order files were loaded in.
    public var file: Int
    public var start: Int
    public var end: Int

    public init(file: Int, start: Int, end: Int) {
        self.file = file
        self.start = start
        self.end = max(start, end)
    }

    /// The smallest span covering both.
    public func to(_ other: Span) -> Span {
        Span(file: file, start: min(start, other.start), end: max(end, other.end))
    }

    /// Orders by file id, then position; `SourceMap.precedes` orders files by load order.
    public static func < (a: Span, b: Span) -> Bool {
        (a.file, a.start, a.end) < (b.file, b.start, b.end)
    }
}

/// All files of one compilation. Each file's id (`Span.file`) comes from its canonical
/// path (`SourceMap.id(forKey:)`), never from the order files were read; `files` keeps
/// that order for output that lists files.
public struct SourceMap: Sendable {
    /// Files in the order they were added.
    public private(set) var files: [SourceFile] = []
    /// Id → position in `files`.
    private var position: [Int: Int] = [:]
    /// Id → the key it was derived from, to tell a hash collision from a repeat.
    private var keys: [Int: String] = [:]

    public init() {}

    /// The id of a canonical path: FNV-1a over its UTF-8 bytes, kept non-negative.
    public static func id(forKey key: String) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return Int(truncatingIfNeeded: h) & Int.max
    }

    /// Adds a file under `key` (its canonical path; by default its display path) and
    /// returns its id. Adding the same key again replaces the file and keeps the id.
    @discardableResult
    public mutating func add(_ file: SourceFile, key: String? = nil) -> Int {
        let key = key ?? file.path
        var id = Self.id(forKey: key)
        // Two keys with one hash: probe to the next free id (deterministic for a given set).
        while let k = keys[id], k != key { id = (id &+ 1) & Int.max }
        if let p = position[id] {
            files[p] = file
        } else {
            position[id] = files.count
            keys[id] = key
            files.append(file)
        }
        return id
    }

    /// Adds a file under an id the caller chose: for single-file tools (`ezc fmt`) that
    /// parse with a fixed id and never mix files.
    public mutating func add(_ file: SourceFile, id: Int) {
        if let p = position[id] {
            files[p] = file
        } else {
            position[id] = files.count
            keys[id] = file.path
            files.append(file)
        }
    }

    /// Whether `id` names a file of this map.
    public func contains(_ id: Int) -> Bool { position[id] != nil }

    /// The file with id `index`; an unknown id (a bug) gives an empty file rather than a trap.
    public subscript(_ index: Int) -> SourceFile {
        guard let p = position[index] else { return SourceMap.unknown }
        return files[p]
    }

    /// Whether file `a` was added before file `b` (unknown ids last): the order output lists files in.
    public func precedes(_ a: Int, _ b: Int) -> Bool {
        (position[a] ?? Int.max, a) < (position[b] ?? Int.max, b)
    }

    /// Load-order rank of a file, for sorting (unknown ids last).
    public func rank(_ id: Int) -> Int { position[id] ?? Int.max }

    static let unknown = SourceFile(path: "<unknown file>", bytes: [])
}
