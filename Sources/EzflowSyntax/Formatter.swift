import EzflowDiagnostics

/// `ezc fmt`: prints a `SyntaxTree` in the one canonical layout, keeping comments.
///
/// The printer works from the tree's values (decoded literals, expression trees), never
/// by copying source text, so a tree built from the YAML surface prints the same way.
/// Source bytes are read for two things only: the text of comments, and whether the
/// author left a blank line between two members (at most one is kept).
///
/// Layout rules (see `FormatPrinter` for the code):
/// 1. Two-space indent; one member per line; blocks with a body are always multi-line.
/// 2. Imports first, in source order; one blank line after them and between top-level items.
/// 3. Inside a body, a multi-line block is set off by a blank line from its siblings;
///    elsewhere the source's blank lines are kept (at most one).
/// 4. Lists, records and enums stay on one line when they fit in `width` columns and hold
///    no comment; otherwise one element per line with a trailing comma.
/// 5. Literals in canonical form: `90m`, `$2.50`, `200k tokens`, shortest floats;
///    a string with a newline becomes a `"""` block indented under its attribute.
/// 6. Expressions get the minimal parentheses their precedence needs.
/// 7. Comments: own-line comments lead the next member, end-of-line comments stay at the
///    end of their line, comments before a closing brace stay there. A comment inside an
///    expression that is not a list or record moves above its member. None is dropped.
public enum Formatter {
    /// Lines longer than this break their lists and records.
    public static let width = 100

    /// The canonical text of `tree`. `source` supplies comment text and blank lines; it
    /// should be the file the tree was parsed from (any text works for comment-free trees).
    /// Format only trees without syntax errors: `.error` nodes print as `<error>`.
    public static func format(_ tree: SyntaxTree, source: SourceFile) -> String {
        var p = FormatPrinter(tree: tree, source: source)
        return p.file(tree)
    }

    /// What `reformat` decided for one source text.
    public enum Outcome: Sendable {
        /// The canonical text; it parses back to the same tree and keeps every comment.
        case formatted(String)
        /// The source does not parse; it must be left as it is.
        case syntaxErrors([Diagnostic])
        /// The printer would have changed the meaning or lost a comment (a bug in it):
        /// the reason names what differed.
        case unsafe(String)
    }

    /// Parses, formats, then re-parses the output and compares a value fingerprint
    /// (`TreeDump`) and the comments of both trees: a pair check, so a printer bug
    /// refuses to write instead of corrupting a file.
    public static func reformat(_ source: SourceFile) -> Outcome {
        let (tree, diags) = Parser.parse(source, file: 0)
        if diags.contains(where: { $0.severity == .error }) { return .syntaxErrors(diags) }
        let text = format(tree, source: source)
        let again = SourceFile(path: source.path, text: text)
        let (tree2, diags2) = Parser.parse(again, file: 0)
        if let d = diags2.first(where: { $0.severity == .error }) {
            let (line, col) = again.position(of: d.primary.span.start)
            return .unsafe("the formatted text does not parse (\(d.code) at \(line):\(col): \(d.message))")
        }
        if TreeDump.dump(tree) != TreeDump.dump(tree2) {
            return .unsafe("the formatted text parses to a different tree")
        }
        if commentTexts(tree, source) != commentTexts(tree2, again) {
            return .unsafe("the formatted text does not keep every comment")
        }
        return .formatted(text)
    }

    /// The texts of all comments, trailing whitespace removed, sorted: the multiset the
    /// formatter must preserve.
    public static func commentTexts(_ tree: SyntaxTree, _ source: SourceFile) -> [String] {
        tree.comments.map { trimTrailingSpace(source.text($0.span)) }.sorted()
    }
}

func trimTrailingSpace(_ s: String) -> String {
    var u = Array(s.utf8)
    while let l = u.last, l == 0x20 || l == 0x09 || l == 0x0D { u.removeLast() }
    return String(decoding: u, as: UTF8.self)
}

/// The comments of one file, sorted by position, each claimed by exactly one place in
/// the output.
struct FormatComments {
    struct Entry {
        var start: Int
        var end: Int
        var text: String
        var trailing: Bool
    }
    var entries: [Entry]
    var used: [Bool]

    init(_ tree: SyntaxTree, _ source: SourceFile) {
        entries = tree.comments.filter { $0.span.file == tree.file }
            .map { Entry(start: $0.span.start, end: $0.span.end, text: trimTrailingSpace(source.text($0.span)), trailing: $0.trailing) }
            .sorted { $0.start < $1.start }
        used = Array(repeating: false, count: entries.count)
    }

    private func lowerBound(_ lo: Int) -> Int {
        var a = 0, b = entries.count
        while a < b {
            let m = (a + b) / 2
            if entries[m].start < lo { a = m + 1 } else { b = m }
        }
        return a
    }

    /// Unclaimed comments starting in `[lo, hi)`.
    func unused(_ lo: Int, _ hi: Int) -> [Int] {
        guard lo < hi else { return [] }
        var out: [Int] = []
        var i = lowerBound(lo)
        while i < entries.count && entries[i].start < hi {
            if !used[i] { out.append(i) }
            i += 1
        }
        return out
    }

    /// Claims and returns the unclaimed comments starting in `[lo, hi)`.
    mutating func take(_ lo: Int, _ hi: Int) -> [Int] {
        let r = unused(lo, hi)
        for i in r { used[i] = true }
        return r
    }
}

/// One line-level unit of a sequence (a member, an import, a list element, an enum
/// case) before comments are placed around it.
struct FormatPiece {
    /// Source range, for placing the comments around it.
    var start: Int
    var end: Int
    /// Rendered text: the first line without indentation, later lines fully indented.
    var text: String
    /// Printed right after the text (`,` in lists).
    var separator = ""
    /// A multi-line block: set off by blank lines inside a body.
    var big = false
    var isImport = false
    /// Comments from inside the piece that no nested structure could hold.
    var moved: [Int] = []
    var leading: [Int] = []
    var trailing: Int?
}

enum FormatSequenceKind { case file, body, list }

struct FormatPrinter {
    let bytes: [UInt8]
    var comments: FormatComments

    init(tree: SyntaxTree, source: SourceFile) {
        bytes = source.bytes
        comments = FormatComments(tree, source)
    }

    static func spaces(_ n: Int) -> String { String(repeating: " ", count: n) }

    /// True when the source has an empty line between offsets `a` and `b`.
    func blankLine(_ a: Int, _ b: Int) -> Bool {
        let lo = max(0, a), hi = min(bytes.count, b)
        guard lo < hi else { return false }
        var n = 0
        for i in lo..<hi where bytes[i] == 0x0A {
            n += 1
            if n >= 2 { return true }
        }
        return false
    }

    func hasNewline(_ a: Int, _ b: Int) -> Bool {
        let lo = max(0, a), hi = min(bytes.count, b)
        guard lo < hi else { return false }
        return bytes[lo..<hi].contains(0x0A)
    }

    /// Finishes a piece: comments still unclaimed inside its range move above it.
    mutating func finish(_ p: FormatPiece) -> FormatPiece {
        var p = p
        p.moved += comments.take(p.start, p.end)
        return p
    }

    // MARK: - sequences

    /// Places the unclaimed comments of `[lo, hi)` around `pieces` and prints them one per
    /// line at `indent`, each line ending in a newline. `opener` receives a comment on the
    /// line of the opening delimiter.
    mutating func sequence(_ pieces: [FormatPiece], lo: Int, hi: Int, indent: Int,
                           kind: FormatSequenceKind, opener: inout Int?) -> String {
        var ps = pieces
        var dangling: [Int] = []
        // Pieces never overlap, and a comment inside one was claimed when it was rendered,
        // so the neighbours of a comment are found by binary search over the starts.
        let byStart = ps.indices.sorted { ps[$0].start < ps[$1].start }
        let starts = byStart.map { ps[$0].start }
        for c in comments.take(lo, hi) {
            let e = comments.entries[c]
            var a = 0, b = starts.count
            while a < b {
                let m = (a + b) / 2
                if starts[m] < e.start { a = m + 1 } else { b = m }
            }
            let prev: Int? = a > 0 ? byStart[a - 1] : nil
            let next: Int? = a < byStart.count ? byStart[a] : nil
            let prevEnd = prev.map { ps[$0].end } ?? lo
            if e.trailing && !hasNewline(prevEnd, e.start) {
                if let p = prev, ps[p].trailing == nil {
                    ps[p].trailing = c
                    continue
                }
                if prev == nil && kind != .file && opener == nil {
                    opener = c
                    continue
                }
            }
            if let n = next { ps[n].leading.append(c) } else { dangling.append(c) }
        }

        let ind = FormatPrinter.spaces(indent)
        var out = ""
        var lastEnd: Int?
        for (k, p) in ps.enumerated() {
            let leading = p.leading.sorted()
            let firstStart = leading.first.map { comments.entries[$0].start } ?? p.start
            if k > 0, let prevEnd = lastEnd {
                let prev = ps[k - 1]
                let blank: Bool
                switch kind {
                case .file: blank = !(prev.isImport && p.isImport) || blankLine(prevEnd, firstStart)
                case .body: blank = prev.big || p.big || blankLine(prevEnd, firstStart)
                case .list: blank = blankLine(prevEnd, firstStart)
                }
                if blank { out += "\n" }
            }
            var cEnd: Int?
            for c in leading {
                let e = comments.entries[c]
                if let ce = cEnd, blankLine(ce, e.start) { out += "\n" }
                out += ind + e.text + "\n"
                cEnd = e.end
            }
            if let ce = cEnd, blankLine(ce, p.start) { out += "\n" }
            for c in p.moved.sorted() { out += ind + comments.entries[c].text + "\n" }
            out += ind + p.text + p.separator
            if let t = p.trailing { out += " " + comments.entries[t].text }
            out += "\n"
            lastEnd = p.trailing.map { comments.entries[$0].end } ?? p.end
        }
        var cEnd = lastEnd
        for c in dangling.sorted() {
            let e = comments.entries[c]
            if let ce = cEnd, blankLine(ce, e.start) { out += "\n" }
            out += ind + e.text + "\n"
            cEnd = e.end
        }
        return out
    }

    // MARK: - file and blocks

    mutating func file(_ tree: SyntaxTree) -> String {
        var pieces: [FormatPiece] = []
        for imp in tree.imports {
            var text = "import \"\(imp.path)\""
            if let a = imp.alias { text += " as \(a.text)" }
            var p = FormatPiece(start: imp.span.start, end: imp.span.end, text: text)
            p.isImport = true
            pieces.append(finish(p))
        }
        for item in tree.items { pieces.append(blockPiece(item, indent: 0)) }
        var opener: Int?
        var out = sequence(pieces, lo: 0, hi: Int.max, indent: 0, kind: .file, opener: &opener)
        // Unreachable in practice (every comment has a place); kept so none is ever lost.
        for c in comments.take(0, Int.max) { out += comments.entries[c].text + "\n" }
        return out
    }

    /// Where the header of a block ends in the source (before `{`).
    func headerEnd(_ b: Block) -> Int {
        var e = b.kind.span.end
        if let n = b.name { e = max(e, n.span.end) }
        if let t = b.type { e = max(e, t.span.end) }
        if let d = b.defaultValue { e = max(e, d.span.end) }
        return e
    }

    mutating func blockPiece(_ b: Block, indent: Int) -> FormatPiece {
        let text = block(b, indent: indent)
        var p = FormatPiece(start: b.span.start, end: b.span.end, text: text)
        p.big = text.contains("\n") && (b.hasBody || !b.members.isEmpty)
        return finish(p)
    }

    /// A block, first line unindented, later lines at absolute indentation.
    mutating func block(_ b: Block, indent: Int) -> String {
        var head = b.kind.text
        if let n = b.name { head += " " + n.text }
        let hEnd = headerEnd(b)
        let inner = indent + 2
        if b.name != nil, b.kind.text == "enum", b.type == nil {
            guard b.hasBody else { return head }
            let cases = b.cases.map { FormatPiece(start: $0.span.start, end: $0.span.end, text: $0.text) }
            let flat = head + " { " + b.cases.map(\.text).joined(separator: ", ") + " }"
            if comments.unused(hEnd, b.span.end).isEmpty {
                if b.cases.isEmpty { return head + " {}" }
                if indent + flat.count <= Formatter.width { return flat }
            }
            let pieces = cases.map { c -> FormatPiece in
                var c = c
                c.separator = ","
                return finish(c)
            }
            return head + bracketed("{", "}", pieces, lo: hEnd, hi: b.span.end, indent: indent, kind: .list)
        }
        if b.name != nil, b.kind.text == "type", b.type == nil {
            guard b.hasBody else { return head }
            let pieces = b.fields.map { f in
                finish(FormatPiece(start: f.name.span.start, end: f.type.span.end, text: f.name.text + ": " + FormatPrinter.type(f.type)))
            }
            return head + bracketed("{", "}", pieces, lo: hEnd, hi: b.span.end, indent: indent, kind: .body)
        }
        if let t = b.type {
            head += ": " + FormatPrinter.type(t)
            if let d = b.defaultValue {
                head += " = "
                head += expr(d, indent: indent, column: indent + head.count)
            }
        }
        guard b.hasBody else { return head }
        var pieces: [FormatPiece] = []
        for m in b.members {
            switch m {
            case .attribute(let a):
                pieces.append(attributePiece(a, indent: inner))
            case .block(let nb):
                pieces.append(blockPiece(nb, indent: inner))
            }
        }
        return head + bracketed("{", "}", pieces, lo: hEnd, hi: b.span.end, indent: indent, kind: .body)
    }

    /// ` {` + members one per line at `indent + 2` + `}`; ` {}` when there is nothing inside.
    mutating func bracketed(_ open: String, _ close: String, _ pieces: [FormatPiece], lo: Int, hi: Int,
                            indent: Int, kind: FormatSequenceKind) -> String {
        var opener: Int?
        let body = sequence(pieces, lo: lo, hi: hi, indent: indent + 2, kind: kind, opener: &opener)
        var out = " " + open
        if let o = opener { out += " " + comments.entries[o].text }
        if body.isEmpty && opener == nil { return out + close }
        return out + "\n" + body + FormatPrinter.spaces(indent) + close
    }

    mutating func attributePiece(_ a: Attribute, indent: Int) -> FormatPiece {
        let head = a.key.text + ": "
        let text = head + expr(a.value, indent: indent, column: indent + head.count)
        return finish(FormatPiece(start: a.span.start, end: a.span.end, text: text))
    }

    static func type(_ t: TypeExpr) -> String {
        switch t.kind {
        case .named(let path): path.map(\.text).joined(separator: ".")
        case .list(let e): "list[\(type(e))]"
        case .map(let e): "map[\(type(e))]"
        case .optional(let e): type(e) + "?"
        case .error: "<error>"
        }
    }
}
