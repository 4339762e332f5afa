import EzflowDiagnostics

/// Recursive-descent parser with error recovery. Parsing never fails: it returns a
/// tree and diagnostics. Invariants: every loop consumes a token or exits (checked by
/// `LoopProgress` in each loop's condition); nesting is capped at `Parser.depthMax`;
/// after `errorsMax` syntax errors a file is abandoned with one final note, so garbage
/// input stays fast and readable.
public struct Parser {
    public static let depthMax = 128
    public static let errorsMax = 50
    /// Larger files are refused outright (E0107) rather than parsed slowly.
    public static let fileBytesMax = 64 << 20

    var lexer: Lexer
    var tok: Token
    var prevEnd: Int
    let bytes: [UInt8]
    let file: Int
    var depth: Int
    var diagnostics: [Diagnostic] = []
    /// Set after an error until the next successful member, to avoid cascades.
    var recovering = false
    var unclosedReported = false
    var abandoned = false
    /// Tokens consumed so far (never decreases): what `LoopProgress` watches.
    var consumed = 0

    init(bytes: [UInt8], file: Int, start: Int = 0, end: Int? = nil, depth: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.lexer = Lexer(bytes: bytes, file: file, start: start, end: end)
        self.depth = depth
        self.prevEnd = start
        self.tok = Token(kind: .eof, start: start, end: start, suffixStart: start)
        advance()
    }

    /// Parses one file. `file` is the index spans will carry.
    public static func parse(_ source: SourceFile, file: Int) -> (SyntaxTree, [Diagnostic]) {
        let bytes = source.bytes
        if bytes.count > fileBytesMax {
            let d = Diagnostic.error("E0107", "file is too large (\(bytes.count) bytes)",
                                     at: Span(file: file, start: 0, end: 0),
                                     notes: ["ezc reads files of at most \(fileBytesMax) bytes"],
                                     help: "split the workflow into modules and `import` them")
            return (SyntaxTree(file: file, imports: [], items: [], comments: []), [d])
        }
        var pre: [Diagnostic] = []
        if let bad = firstInvalidUTF8(bytes) {
            pre.append(.error("E0108", "file is not valid UTF-8", at: Span(file: file, start: bad, end: bad + 1),
                              label: "invalid byte sequence here", help: "save the file as UTF-8"))
        }
        var p = Parser(bytes: bytes, file: file)
        let tree = p.parseFile()
        p.diagnostics.append(contentsOf: p.lexer.diagnostics)
        return (tree, pre + p.diagnostics)
    }

    // MARK: - token plumbing

    mutating func advance() {
        consumed += 1
        prevEnd = tok.end
        tok = lexer.next()
        // Lexer errors count toward the cap too.
        if lexer.diagnostics.count + diagnostics.count > Parser.errorsMax { abandon() }
    }

    func span(_ a: Int, _ b: Int) -> Span { Span(file: file, start: a, end: b) }
    var tokSpan: Span { span(tok.start, tok.end) }
    func text(_ t: Token) -> String { String(decoding: bytes[t.start..<t.end], as: UTF8.self) }

    /// Whether the bytes `[a, b)` spell `word`, without making a String.
    @inline(__always)
    func bytesEqual(_ a: Int, _ b: Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard b - a == n else { return false }
        let p = word.utf8Start
        for i in 0..<n where bytes[a + i] != p[i] { return false }
        return true
    }

    /// Whether no newline lies in the bytes `[a, b)` (a unit suffix must share its number's line).
    func sameLine(_ a: Int, _ b: Int) -> Bool {
        !bytes[a..<b].contains(0x0A)
    }

    /// Whether token `t` is the identifier `word`.
    @inline(__always)
    func tokenIs(_ t: Token, _ word: StaticString) -> Bool {
        t.kind == .ident && bytesEqual(t.start, t.end, word)
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .ident: "identifier `\(text(t))`"
        case .invalid: "invalid input"
        case .eof: "end of file"
        default: t.kind.description
        }
    }

    mutating func error(_ code: String, _ message: String, at s: Span, label: String = "", help: String? = nil) {
        if abandoned { return }
        diagnostics.append(.error(code, message, at: s, label: label, help: help))
        if diagnostics.count + lexer.diagnostics.count >= Parser.errorsMax { abandon() }
    }

    mutating func expected(_ what: String, help: String? = nil) {
        if recovering || tok.kind == .invalid { recovering = true; return }
        error("E0104", "expected \(what), found \(describe(tok))", at: tokSpan, label: "expected \(what)", help: help)
        recovering = true
    }

    /// Gives up on the rest of the file after too many errors.
    mutating func abandon() {
        guard !abandoned else { return }
        abandoned = true
        consumed += 1  // the rest of the file counts as consumed
        let at = span(tok.start, tok.start)
        diagnostics.append(Diagnostic("E0104", .error, "too many syntax errors; the rest of the file was not read",
                                      at: Label(at), help: "fix the errors above and run `ezc check` again"))
        lexer.pos = lexer.end
        tok = Token(kind: .eof, start: lexer.end, end: lexer.end, suffixStart: lexer.end)
    }

    mutating func eat(_ k: TokenKind) -> Bool {
        if tok.kind == k { advance(); return true }
        return false
    }

    /// Skips one token; an opening delimiter is skipped with everything up to its match.
    mutating func skipTokenTree() {
        var level = 0
        var progress = LoopProgress()
        repeat {
            switch tok.kind {
            case .lbrace, .lbracket, .lparen: level += 1
            case .rbrace, .rbracket, .rparen: level -= 1
            case .eof: return
            default: break
            }
            advance()
        } while level > 0 && progress.evaluate(consumed)
    }

    // MARK: - file and blocks

    mutating func parseFile() -> SyntaxTree {
        var imports: [Import] = []
        var items: [Block] = []
        // Comments are rare; a rough guess avoids regrowing for commented files.
        lexer.comments.reserveCapacity(16)
        var progress = LoopProgress()
        while tok.kind != .eof && progress.evaluate(consumed) {
            if tok.kind == .kwImport {
                if let i = parseImport() { imports.append(i) }
                continue
            }
            switch parseMember(topLevel: true) {
            case .block(let b)?: items.append(b)
            case .attribute(let a)?:
                error("E0202", "attribute `\(a.key.text)` must be inside a block", at: a.key.span,
                      help: "move it into the `workflow` block")
            case nil:
                break
            }
        }
        return SyntaxTree(file: file, imports: imports, items: items, comments: lexer.comments)
    }

    mutating func parseImport() -> Import? {
        let start = tok.start
        advance()
        guard tok.kind == .string else {
            expected("a module path string after `import`", help: "write `import \"std/retry\"`")
            if tok.kind != .eof && tok.kind != .ident { advance() }
            return nil
        }
        let pathTok = tok
        let path = String(decoding: bytes[(pathTok.start + 1)..<(pathTok.end - 1)], as: UTF8.self)
        advance()
        var alias: Name?
        if eat(.kwAs) {
            if tok.kind == .ident {
                alias = Name(text(tok), tokSpan)
                advance()
            } else {
                expected("an alias name after `as`")
            }
        }
        recovering = false
        return Import(path: path, pathSpan: span(pathTok.start, pathTok.end), alias: alias, span: span(start, prevEnd))
    }

    /// A member starts with an identifier. Anything else is reported once and skipped.
    mutating func parseMember(topLevel: Bool) -> Member? {
        guard tok.kind == .ident else {
            if tok.kind == .comma || tok.kind == .semicolon { advance(); return nil }
            expected(topLevel ? "a declaration such as `workflow` or `task`" : "an attribute or a block")
            skipTokenTree()
            return nil
        }
        let first = Name(text(tok), tokSpan)
        advance()
        switch tok.kind {
        case .colon:
            advance()
            let value = parseExpr()
            recovering = false
            return .attribute(Attribute(key: first, value: value, span: first.span.to(value.span)))
        case .lbrace:
            var b = Block(kind: first, name: nil, span: first.span)
            parseBody(into: &b)
            recovering = false
            return .block(b)
        case .ident:
            let name = Name(text(tok), tokSpan)
            advance()
            var b = Block(kind: first, name: name, span: first.span.to(name.span))
            let fs = first.span
            if bytesEqual(fs.start, fs.end, "input") || bytesEqual(fs.start, fs.end, "output") {
                parseTypedField(into: &b)
            } else if bytesEqual(fs.start, fs.end, "enum") {
                parseEnumBody(into: &b)
            } else if bytesEqual(fs.start, fs.end, "type") {
                parseRecordBody(into: &b)
            } else if tok.kind == .lbrace {
                parseBody(into: &b)
            }
            recovering = false
            return .block(b)
        default:
            expected("`:` or `{` after `\(first.text)`",
                     help: "an attribute is written `\(first.text): value`, a block `\(first.text) { ... }`")
            if tok.kind != .rbrace && tok.kind != .ident && tok.kind != .eof { skipTokenTree() }
            return nil
        }
    }

    /// `{ members }`; reports a missing `}` at the opening brace.
    mutating func parseBody(into b: inout Block) {
        let open = tokSpan
        advance()
        b.hasBody = true
        guard enterNesting(open) else { return }
        defer { depth -= 1 }
        let isLeaf = isLeafKind(b.kind.span)
        var progress = LoopProgress()
        while tok.kind != .rbrace && tok.kind != .eof && progress.evaluate(consumed) {
            if isLeaf && startsSiblingBlock(of: b.kind.text) {
                // `task a { ...` left open, then `task b {`: the missing `}` belongs to `a`.
                if !unclosedReported && !abandoned {
                    unclosedReported = true
                    diagnostics.append(.error("E0105", "unclosed `{`", at: open, label: "this `\(b.kind.text)` is never closed",
                                              help: "add `}` before the next `\(text(tok))`"))
                }
                return
            }
            if let m = parseMember(topLevel: false) { b.members.append(m) }
        }
        closeDelimiter(.rbrace, open: open, into: &b.span)
    }

    /// True when the next tokens open a block that cannot be inside `kind` but can
    /// be beside it (`task x {` inside a task), which means a `}` is missing.
    static let siblingKinds: Set<String> = ["task", "group", "workflow", "agent", "role", "policy", "secret", "input"]
    static let leafKinds: Set<String> = ["task", "agent", "role", "policy", "secret", "budget", "retry", "input", "output"]

    /// `leafKinds.contains(kind)` on the bytes of the kind keyword.
    func isLeafKind(_ s: Span) -> Bool {
        let a = s.start, b = s.end
        guard a < b else { return false }
        switch bytes[a] {
        case UInt8(ascii: "t"): return bytesEqual(a, b, "task")
        case UInt8(ascii: "a"): return bytesEqual(a, b, "agent")
        case UInt8(ascii: "r"): return bytesEqual(a, b, "role") || bytesEqual(a, b, "retry")
        case UInt8(ascii: "p"): return bytesEqual(a, b, "policy")
        case UInt8(ascii: "s"): return bytesEqual(a, b, "secret")
        case UInt8(ascii: "b"): return bytesEqual(a, b, "budget")
        case UInt8(ascii: "i"): return bytesEqual(a, b, "input")
        case UInt8(ascii: "o"): return bytesEqual(a, b, "output")
        default: return false
        }
    }

    /// `siblingKinds.contains(text(t))` on the token's bytes.
    func isSiblingKind(_ t: Token) -> Bool {
        guard t.kind == .ident else { return false }
        let a = t.start, b = t.end
        switch bytes[a] {
        case UInt8(ascii: "t"): return bytesEqual(a, b, "task")
        case UInt8(ascii: "g"): return bytesEqual(a, b, "group")
        case UInt8(ascii: "w"): return bytesEqual(a, b, "workflow")
        case UInt8(ascii: "a"): return bytesEqual(a, b, "agent")
        case UInt8(ascii: "r"): return bytesEqual(a, b, "role")
        case UInt8(ascii: "p"): return bytesEqual(a, b, "policy")
        case UInt8(ascii: "s"): return bytesEqual(a, b, "secret")
        case UInt8(ascii: "i"): return bytesEqual(a, b, "input")
        default: return false
        }
    }

    func startsSiblingBlock(of kind: String) -> Bool {
        guard isSiblingKind(tok) else { return false }
        let isInput = tokenIs(tok, "input")
        var look = lexer
        let next = look.next()
        guard next.kind == .ident else { return false }
        let after = look.next()
        return after.kind == .lbrace || (isInput && after.kind == .colon)
    }

    mutating func closeDelimiter(_ k: TokenKind, open: Span, into s: inout Span) {
        if tok.kind == k {
            s = s.to(tokSpan)
            advance()
        } else if !unclosedReported && !abandoned {
            unclosedReported = true
            diagnostics.append(.error("E0105", "unclosed \(TokenKind.describeOpen(k))", at: open,
                                      label: "this delimiter is never closed",
                                      help: "add \(k) to close it"))
            s = s.to(span(prevEnd, prevEnd))
        }
    }

    /// Returns false (after reporting and skipping the group) when too deep.
    mutating func enterNesting(_ open: Span) -> Bool {
        depth += 1
        if depth <= Parser.depthMax { return true }
        error("E0106", "nesting is too deep (more than \(Parser.depthMax) levels)", at: open,
              help: "flatten the structure or split it into named declarations")
        // Skip to the matching close without recursion.
        var level = 1
        var progress = LoopProgress()
        while level > 0 && tok.kind != .eof && progress.evaluate(consumed) {
            switch tok.kind {
            case .lbrace, .lbracket, .lparen: level += 1
            case .rbrace, .rbracket, .rparen: level -= 1
            default: break
            }
            advance()
        }
        depth -= 1
        return false
    }

    /// `input name: T [= default] [{ ... }]`.
    mutating func parseTypedField(into b: inout Block) {
        guard eat(.colon) else {
            expected("`:` and a type after `\(b.kind.text) \(b.name?.text ?? "")`",
                     help: "write `\(b.kind.text) \(b.name?.text ?? "name"): string`")
            return
        }
        let t = parseType()
        b.type = t
        b.span = b.span.to(t.span)
        if eat(.equal) {
            let v = parseExpr()
            b.defaultValue = v
            b.span = b.span.to(v.span)
        }
        if tok.kind == .lbrace { parseBody(into: &b) }
    }

    mutating func parseEnumBody(into b: inout Block) {
        guard tok.kind == .lbrace else { expected("`{` and the enum cases"); return }
        let open = tokSpan
        advance()
        b.hasBody = true
        var progress = LoopProgress()
        while tok.kind != .rbrace && tok.kind != .eof && progress.evaluate(consumed) {
            if tok.kind == .ident {
                b.cases.append(Name(text(tok), tokSpan))
                advance()
                recovering = false
            } else if tok.kind == .comma {
                advance()
            } else {
                expected("an enum case name")
                skipTokenTree()
            }
        }
        closeDelimiter(.rbrace, open: open, into: &b.span)
    }

    mutating func parseRecordBody(into b: inout Block) {
        guard tok.kind == .lbrace else { expected("`{` and the record fields"); return }
        let open = tokSpan
        advance()
        b.hasBody = true
        var progress = LoopProgress()
        while tok.kind != .rbrace && tok.kind != .eof && progress.evaluate(consumed) {
            if tok.kind == .ident {
                let n = Name(text(tok), tokSpan)
                advance()
                guard eat(.colon) else { expected("`:` and a type after field `\(n.text)`"); continue }
                b.fields.append(Field(name: n, type: parseType()))
                recovering = false
            } else if tok.kind == .comma || tok.kind == .semicolon {
                advance()
            } else {
                expected("a field name")
                skipTokenTree()
            }
        }
        closeDelimiter(.rbrace, open: open, into: &b.span)
    }

    // MARK: - types

    mutating func parseType() -> TypeExpr {
        let start = tok.start
        var t: TypeExpr
        if tok.kind == .ident {
            let n = Name(text(tok), tokSpan)
            advance()
            if (n.text == "list" || n.text == "map") && tok.kind == .lbracket {
                let open = tokSpan
                advance()
                guard enterNesting(open) else { return TypeExpr(kind: .error, span: span(start, prevEnd)) }
                let inner = parseType()
                depth -= 1
                var s = span(start, prevEnd)
                closeDelimiter(.rbracket, open: open, into: &s)
                t = TypeExpr(kind: n.text == "list" ? .list(inner) : .map(inner), span: span(start, prevEnd))
            } else {
                var path = [n]
                var progress = LoopProgress()
                while tok.kind == .dot && progress.evaluate(consumed) {
                    advance()
                    guard tok.kind == .ident else { expected("a type name after `.`"); break }
                    path.append(Name(text(tok), tokSpan))
                    advance()
                }
                t = TypeExpr(kind: .named(path), span: span(start, prevEnd))
            }
        } else {
            expected("a type", help: "types are string, int, float, bool, duration, money, tokens, path, json, list[T], map[T], or a declared enum or record")
            return TypeExpr(kind: .error, span: span(tok.start, tok.start))
        }
        var progress = LoopProgress()
        while tok.kind == .question && progress.evaluate(consumed) {
            advance()
            t = TypeExpr(kind: .optional(t), span: span(start, prevEnd))
        }
        return t
    }
}

extension TokenKind {
    static func describeOpen(_ close: TokenKind) -> String {
        switch close {
        case .rbrace: "`{`"
        case .rbracket: "`[`"
        default: "`(`"
        }
    }
}

/// Offset of the first byte that breaks UTF-8, or nil if the bytes are valid.
/// Shared by both surfaces so they report E0108 at the same place.
public func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
    var i = 0
    let n = bytes.count
    while i < n {  // loop-progress: bytes, not tokens; every branch moves `i` forward
        let b = bytes[i]
        if b < 0x80 { i += 1; continue }
        let len: Int
        if b & 0xE0 == 0xC0 && b >= 0xC2 { len = 2 }
        else if b & 0xF0 == 0xE0 { len = 3 }
        else if b & 0xF8 == 0xF0 && b <= 0xF4 { len = 4 }
        else { return i }
        if i + len > n { return i }
        for k in 1..<len where bytes[i + k] & 0xC0 != 0x80 { return i }
        // Overlong 3-byte forms and UTF-16 surrogates.
        if len == 3 {
            if b == 0xE0 && bytes[i + 1] < 0xA0 { return i }
            if b == 0xED && bytes[i + 1] >= 0xA0 { return i }
        }
        if len == 4 {
            if b == 0xF0 && bytes[i + 1] < 0x90 { return i }
            if b == 0xF4 && bytes[i + 1] >= 0x90 { return i }
        }
        i += len
    }
    return nil
}
