import EzflowDiagnostics
import EzflowSyntax

/// One replacement in a document: bytes `[start, end)` of the text as it is become `text`.
public struct LineEdit: Sendable, Hashable {
    public var start: Int
    public var end: Int
    public var text: String

    public init(start: Int, end: Int, text: String) {
        self.start = start
        self.end = end
        self.text = text
    }
}

/// What formatting part of a document comes to.
public enum RangeFormatAnswer: Sendable, Equatable {
    /// Whole-line replacements, by position (none when the lines are formatted already).
    case edits([LineEdit])
    /// The document has syntax errors: nothing to do (its diagnostics say why).
    case doesNotParse
    /// The printer refused the file, or formatting only these lines would change what the
    /// file means: the document must not be touched.
    case refused(String)
}

extension Formatting {
    /// `ezc fmt` on the whole document, kept only where it touches the lines of bytes
    /// `[start, end)`. A range over every line gets the printer's text as the changed runs
    /// of lines (a line diff). Otherwise each attribute or block that has its lines to
    /// itself and lies on the requested lines is reprinted, outermost first (its lines
    /// become the printer's lines for it); lines outside stay as they are, blank lines
    /// between members too. The document with the edits must parse to the same tree with
    /// the same comments (the formatter's own check), else nothing is changed.
    public static func formatRange(_ bytes: [UInt8], path: String, start: Int, end: Int) -> RangeFormatAnswer {
        let formatted: [UInt8]
        switch format(bytes, path: path) {
        case .doesNotParse: return .doesNotParse
        case .refused(let why): return .refused(why)
        case .text(let t): formatted = Array(t.utf8)
        }
        if formatted == bytes { return .edits([]) }
        let old = LineDiff.lines(bytes), new = LineDiff.lines(formatted)
        // The requested lines: a range ending at a line's start does not take that line.
        let lo = max(0, min(start, bytes.count)), hi = max(lo, min(end, bytes.count))
        let first = LineDiff.line(old, lo), last = LineDiff.line(old, hi > lo && LineDiff.startsLine(old, hi) ? hi - 1 : hi)
        let before = SourceFile(path: path, bytes: bytes)
        let (t1, _) = Parser.parse(before, file: 0)
        var edits: [LineEdit] = []
        if first == 0 && last >= old.count - 1 {
            for h in LineDiff.hunks(old.map { bytes[$0] }, new.map { formatted[$0] }) {
                let s = h.old.lowerBound < old.count ? old[h.old.lowerBound].lowerBound : bytes.count
                let e = h.old.isEmpty ? s : old[h.old.upperBound - 1].upperBound
                let text = h.new.isEmpty ? [] : Array(formatted[new[h.new.lowerBound].lowerBound..<new[h.new.upperBound - 1].upperBound])
                edits.append(LineEdit(start: s, end: e, text: String(decoding: text, as: UTF8.self)))
            }
        } else {
            let (t2, _) = Parser.parse(SourceFile(path: path, bytes: formatted), file: 0)
            var picker = MemberPicker(old: bytes, new: formatted, oldLines: old, newLines: new, first: first, last: last)
            // The printer puts imports first: imports pair with imports, blocks with blocks.
            if t1.imports.count == t2.imports.count {
                for (a, b) in zip(t1.imports, t2.imports) { _ = picker.take(a.span, b.span) }
            }
            picker.members(t1.items.map(Member.block), t2.items.map(Member.block))
            edits = picker.edits.sorted { $0.start < $1.start }
        }
        if edits.isEmpty { return .edits([]) }
        // The pair check, on the document as the edits leave it.
        var patched: [UInt8] = []
        var at = 0
        for e in edits {
            patched += bytes[at..<e.start]
            patched += Array(e.text.utf8)
            at = e.end
        }
        patched += bytes[at...]
        let after = SourceFile(path: path, bytes: patched)
        let (t2, d2) = Parser.parse(after, file: 0)
        guard !d2.contains(where: { $0.severity == .error }), TreeDump.dump(t1) == TreeDump.dump(t2),
              Formatter.commentTexts(t1, before) == Formatter.commentTexts(t2, after) else {
            return .refused("formatting only these lines would change the file's meaning; format the whole document")
        }
        return .edits(edits)
    }
}

/// Walks a document's tree and the printer's tree of it side by side (the printer keeps
/// the tree, so members pair in order) and reprints the members on the requested lines.
struct MemberPicker {
    let old: [UInt8], new: [UInt8]
    let oldLines: [Range<Int>], newLines: [Range<Int>]
    let first: Int, last: Int
    var edits: [LineEdit] = []

    mutating func members(_ a: [Member], _ b: [Member]) {
        guard a.count == b.count else { return }
        for (x, y) in zip(a, b) where !take(x.span, y.span) {
            if case .block(let bx) = x, case .block(let by) = y { members(bx.members, by.members) }
        }
    }

    static func blank(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 10 }

    /// Replaces the lines of `a` (in the document) by the lines of `b` (in the printer's
    /// text) when `a` lies on the requested lines and has them to itself: only blanks
    /// before it, only blanks or a comment after it. True when `a` is taken care of.
    mutating func take(_ a: Span, _ b: Span) -> Bool {
        guard a.end > a.start, b.end > b.start, a.end <= old.count, b.end <= new.count else { return false }
        let l0 = LineDiff.line(oldLines, a.start), l1 = LineDiff.line(oldLines, a.end - 1)
        guard l0 >= first, l1 <= last, l1 < oldLines.count else { return false }
        guard old[oldLines[l0].lowerBound..<a.start].allSatisfy(Self.blank) else { return false }
        let rest = old[a.end..<oldLines[l1].upperBound].drop(while: Self.blank)
        guard rest.isEmpty || rest.first == UInt8(ascii: "#") else { return false }
        let m0 = LineDiff.line(newLines, b.start), m1 = LineDiff.line(newLines, b.end - 1)
        guard m1 < newLines.count else { return false }
        let from = oldLines[l0].lowerBound..<oldLines[l1].upperBound, to = newLines[m0].lowerBound..<newLines[m1].upperBound
        // The printer writes `\n`; lines that end in `\r\n` keep doing so.
        var text = Array(new[to])
        if from.count >= 2, old[from.upperBound - 1] == 10, old[from.upperBound - 2] == 13 {
            text = text.split(separator: 10, omittingEmptySubsequences: false).map(Array.init).joined(separator: [13, 10]).map { $0 }
        }
        if Array(old[from]) != text {
            edits.append(LineEdit(start: from.lowerBound, end: from.upperBound, text: String(decoding: text, as: UTF8.self)))
        }
        return true
    }
}

/// A line diff (Myers' O(ND) algorithm) for range formatting.
enum LineDiff {
    /// Two runs of lines, one replacing the other (either may be empty).
    struct Hunk: Equatable {
        var old: Range<Int>
        var new: Range<Int>
    }

    /// Edits beyond this many lines make one hunk of everything between the common head
    /// and tail: the diff's time and memory stay bounded on a file rewritten throughout.
    static let editsMax = 2_000

    /// Each line's byte range, its `\n` included.
    static func lines(_ bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var s = 0
        for (i, b) in bytes.enumerated() where b == 10 {
            out.append(s..<(i + 1))
            s = i + 1
        }
        if s < bytes.count { out.append(s..<bytes.count) }
        return out
    }

    /// The index of the line holding byte `offset` (the line count past the end).
    static func line(_ lines: [Range<Int>], _ offset: Int) -> Int {
        var lo = 0, hi = lines.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if lines[mid].upperBound <= offset { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    static func startsLine(_ lines: [Range<Int>], _ offset: Int) -> Bool {
        lines.contains { $0.lowerBound == offset }
    }

    /// The runs where `a` and `b` differ, in order.
    static func hunks(_ a: [ArraySlice<UInt8>], _ b: [ArraySlice<UInt8>]) -> [Hunk] {
        // Lines as numbers: equal lines, equal numbers.
        var ids: [ArraySlice<UInt8>: Int] = [:]
        let x = a.map { l in ids[l] ?? { ids[l] = ids.count; return ids.count - 1 }() }
        let y = b.map { l in ids[l] ?? { ids[l] = ids.count; return ids.count - 1 }() }
        // The common head and tail first: most formatting changes a few runs.
        var head = 0
        while head < x.count, head < y.count, x[head] == y[head] { head += 1 }
        var tail = 0
        while tail < x.count - head, tail < y.count - head, x[x.count - 1 - tail] == y[y.count - 1 - tail] { tail += 1 }
        let xs = Array(x[head..<(x.count - tail)]), ys = Array(y[head..<(y.count - tail)])
        guard let matches = matches(xs, ys) else {
            return xs.isEmpty && ys.isEmpty ? [] : [Hunk(old: head..<(x.count - tail), new: head..<(y.count - tail))]
        }
        var out: [Hunk] = []
        var i = 0, j = 0
        for (mi, mj) in matches + [(xs.count, ys.count)] {
            if mi > i || mj > j { out.append(Hunk(old: (head + i)..<(head + mi), new: (head + j)..<(head + mj))) }
            i = mi + 1
            j = mj + 1
        }
        return out
    }

    /// The pairs of equal lines of a shortest edit script, in order; nil past `editsMax`.
    static func matches(_ a: [Int], _ b: [Int]) -> [(Int, Int)]? {
        let n = a.count, m = b.count, total = n + m
        if total == 0 { return [] }
        let off = total + 1
        var v = [Int](repeating: 0, count: 2 * total + 3)
        var trace: [[Int]] = []
        for d in 0...min(total, editsMax) {
            // Only the diagonals this round can read: memory O(D²), not O(D·(N+M)).
            trace.append(Array(v[(off - d - 1)...(off + d + 1)]))
            for k in stride(from: -d, through: d, by: 2) {
                var x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1] : v[off + k - 1] + 1
                var y = x - k
                while x < n, y < m, a[x] == b[y] {
                    x += 1
                    y += 1
                }
                v[off + k] = x
                if x >= n, y >= m { return backtrack(trace, n, m) }
            }
        }
        return nil
    }

    /// Walks the saved frontiers back from the end, collecting the diagonal steps.
    static func backtrack(_ trace: [[Int]], _ n: Int, _ m: Int) -> [(Int, Int)] {
        var x = n, y = m
        var out: [(Int, Int)] = []
        for d in stride(from: trace.count - 1, through: 0, by: -1) {
            let window = trace[d]
            func v(_ k: Int) -> Int { window[k + d + 1] }
            let k = x - y
            let prevK = (k == -d || (k != d && v(k - 1) < v(k + 1))) ? k + 1 : k - 1
            let prevX = d == 0 ? 0 : v(prevK)
            let prevY = d == 0 ? 0 : prevX - prevK
            while x > prevX, y > prevY {
                x -= 1
                y -= 1
                out.append((x, y))
            }
            x = prevX
            y = prevY
        }
        return out.reversed()
    }
}
