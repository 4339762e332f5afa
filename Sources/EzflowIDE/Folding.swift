import EzflowCheck
import EzflowSyntax

/// One foldable run of whole lines (zero-based, as editors count them: a line ends at
/// `\n`, `\r\n` or a lone `\r`). The start line stays visible; the lines after it up to
/// `endLine` fold away.
public struct FoldingRange: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// Two or more comment lines in a row.
        case comment
        /// The `import` lines at the head of a file.
        case imports
    }

    public var startLine: Int
    public var endLine: Int
    /// Nil for a block, list, record or multi-line string.
    public var kind: Kind?

    public init(startLine: Int, endLine: Int, kind: Kind? = nil) {
        self.startLine = startLine
        self.endLine = endLine
        self.kind = kind
    }
}

extension Analysis {
    /// What can fold in `path`: every block over several lines, multi-line lists, records,
    /// calls and `"""` strings, runs of two or more comment lines, and each run of
    /// imports. A closing `}`, `]`, `)` or `"""` that starts its line stays visible (the
    /// fold ends on the line before it). At most one range starts on a line (the largest).
    public func foldingRanges(path: String) -> [FoldingRange] {
        guard let m = module(path) else { return [] }
        return Folding.ranges(model.modules[m].tree, result.sources[model.modules[m].file].bytes)
    }
}

/// Folding ranges from a syntax tree and its bytes.
struct Folding {
    let bytes: [UInt8]
    /// The offset of each line's first byte (editor line breaks).
    let starts: [Int]
    var out: [FoldingRange] = []

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var starts = [0]
        var i = 0
        while i < bytes.count {
            if bytes[i] == 10 || bytes[i] == 13 {
                if bytes[i] == 13, i + 1 < bytes.count, bytes[i + 1] == 10 { i += 1 }
                starts.append(i + 1)
            }
            i += 1
        }
        self.starts = starts
    }

    static func ranges(_ tree: SyntaxTree, _ bytes: [UInt8]) -> [FoldingRange] {
        var f = Folding(bytes)
        f.imports(tree)
        f.comments(tree.comments)
        for b in tree.items { f.block(b) }
        // Largest first per start line; one range per start line (what editors keep).
        let sorted = f.out.filter { $0.endLine > $0.startLine }
            .sorted { ($0.startLine, -$0.endLine) < ($1.startLine, -$1.endLine) }
        var seen: Set<Int> = []
        return sorted.filter { seen.insert($0.startLine).inserted }
    }

    /// The zero-based line holding byte `offset`.
    func line(_ offset: Int) -> Int {
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// A fold from the line of `start` to the line of `close` (where the closing delimiter
    /// starts), or to the line before when only blanks precede the delimiter on its line.
    mutating func fold(_ start: Int, close: Int, _ kind: FoldingRange.Kind? = nil) {
        guard start >= 0, close >= start, close <= bytes.count else { return }
        var end = line(close)
        if close < bytes.count, bytes[starts[end]..<close].allSatisfy({ $0 == 32 || $0 == 9 }) { end -= 1 }
        out.append(FoldingRange(startLine: line(start), endLine: end, kind: kind))
    }

    /// Each run of imports with no declaration between them.
    mutating func imports(_ tree: SyntaxTree) {
        let sorted = tree.imports.sorted { $0.span.start < $1.span.start }
        var first: Import?, last: Import?
        func flush(_ f: inout Folding) {
            if let first, let last { f.out.append(FoldingRange(startLine: f.line(first.span.start), endLine: f.line(max(last.span.start, last.span.end - 1)), kind: .imports)) }
        }
        for i in sorted {
            if let l = last, tree.items.contains(where: { $0.span.start > l.span.end && $0.span.start < i.span.start }) {
                flush(&self)
                first = nil
            }
            if first == nil { first = i }
            last = i
        }
        flush(&self)
    }

    /// Runs of own-line comments on consecutive lines.
    mutating func comments(_ comments: [Comment]) {
        var run: (first: Int, last: Int)?
        for c in comments.sorted(by: { $0.span.start < $1.span.start }) {
            let l = line(c.span.start)
            if !c.trailing, let r = run, l == r.last + 1 {
                run = (r.first, l)
                continue
            }
            if let r = run { out.append(FoldingRange(startLine: r.first, endLine: r.last, kind: .comment)) }
            run = c.trailing ? nil : (l, l)
        }
        if let r = run { out.append(FoldingRange(startLine: r.first, endLine: r.last, kind: .comment)) }
    }

    mutating func block(_ b: Block) {
        if b.hasBody, b.span.end > b.span.start { fold(b.span.start, close: b.span.end - 1) }
        if let d = b.defaultValue { expr(d) }
        for m in b.members {
            switch m {
            case .attribute(let a): expr(a.value)
            case .block(let nb): block(nb)
            }
        }
    }

    mutating func expr(_ e: Expr) {
        guard e.span.end > e.span.start, e.span.end <= bytes.count else { return }
        switch e.kind {
        case .string(let parts):
            // A `"""` string closes with three quotes, a one-line string with one.
            let triple = e.span.end - e.span.start >= 6 && bytes[(e.span.end - 3)..<e.span.end].allSatisfy { $0 == 34 }
            fold(e.span.start, close: e.span.end - (triple ? 3 : 1))
            for case .interpolation(let x) in parts { expr(x) }
        case .list(let items):
            fold(e.span.start, close: e.span.end - 1)
            for x in items { expr(x) }
        case .record(let entries):
            fold(e.span.start, close: e.span.end - 1)
            for x in entries { expr(x.value) }
        case .call(let f, let args):
            fold(e.span.start, close: e.span.end - 1)
            expr(f)
            for x in args { expr(x) }
        case .member(let base, _): expr(base)
        case .index(let base, let i):
            expr(base)
            expr(i)
        case .unary(_, let x): expr(x)
        case .binary(_, let l, let r):
            expr(l)
            expr(r)
        case .int, .float, .duration, .money, .tokens, .bool, .null, .name, .error: break
        }
    }
}
