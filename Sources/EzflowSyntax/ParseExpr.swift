import EzflowDiagnostics
import EzflowUnits

extension Parser {
    /// Every expression level counts once toward `depthMax`; lists, records and
    /// parentheses nest through here.
    mutating func parseExpr() -> Expr {
        let open = tokSpan
        if depth + 1 > Parser.depthMax {
            error("E0106", "nesting is too deep (more than \(Parser.depthMax) levels)", at: open,
                  help: "flatten the structure or split it into named declarations")
            // The opener is not consumed yet: skip it with everything up to its match.
            skipTokenTree()
            return Expr(.error, span(open.start, prevEnd))
        }
        depth += 1
        defer { depth -= 1 }
        return parseBinary(0)
    }

    static func precedence(_ k: TokenKind) -> (Int, BinaryOp)? {
        let op: BinaryOp
        switch k {
        case .coalesce: op = .coalesce
        case .oror: op = .or
        case .andand: op = .and
        case .eqeq: op = .eq
        case .noteq: op = .ne
        case .less: op = .lt
        case .lesseq: op = .le
        case .greater: op = .gt
        case .greatereq: op = .ge
        case .kwIn: op = .in
        case .plus: op = .add
        case .minus: op = .sub
        case .star: op = .mul
        case .slash: op = .div
        case .percent: op = .mod
        default: return nil
        }
        return (op.precedence, op)
    }

    /// Precedence climbing; comparisons do not chain (`a < b < c` is an error).
    mutating func parseBinary(_ minPrec: Int) -> Expr {
        var lhs = parseUnary()
        // A chain `a + b + c ...` nests to the left; each link counts toward the depth
        // cap, so later passes (and deallocation) never recurse without bound.
        var links = 0
        var progress = LoopProgress()
        while let (prec, op) = Parser.precedence(tok.kind), prec > minPrec, progress.evaluate(consumed) {
            let opSpan = tokSpan
            links += 1
            if depth + links > Parser.depthMax {
                error("E0106", "expression is too long (more than \(Parser.depthMax) operators in a chain)", at: opSpan,
                      help: "split it into named inputs or use a list")
                var skipping = LoopProgress()
                while Parser.precedence(tok.kind) != nil && tok.kind != .eof && skipping.evaluate(consumed) {
                    advance()
                    _ = parseUnary()
                }
                return Expr(.error, lhs.span.to(span(prevEnd, prevEnd)))
            }
            advance()
            let rhs = parseBinary(prec)
            lhs = Expr(.binary(op, lhs, rhs), lhs.span.to(rhs.span))
            if prec == 4, let (p2, _) = Parser.precedence(tok.kind), p2 == 4 {
                error("E0104", "comparison operators cannot be chained", at: tokSpan,
                      help: "combine comparisons with `&&`: `a < b && b < c`")
                _ = opSpan
                // Parse the rest so recovery is clean, but give the whole chain no type.
                advance()
                let rest = parseBinary(4)
                return Expr(.error, lhs.span.to(rest.span))
            }
        }
        return lhs
    }

    mutating func parseUnary() -> Expr {
        let start = tok.start
        if tok.kind == .bang || tok.kind == .minus {
            let op: UnaryOp = tok.kind == .bang ? .not : .negate
            advance()
            guard depth < Parser.depthMax else {
                error("E0106", "nesting is too deep (more than \(Parser.depthMax) levels)", at: span(start, prevEnd))
                var progress = LoopProgress()
                while (tok.kind == .bang || tok.kind == .minus) && progress.evaluate(consumed) { advance() }
                return Expr(.error, span(start, prevEnd))
            }
            depth += 1
            defer { depth -= 1 }
            let e = parseUnary()
            return Expr(.unary(op, e), span(start, e.span.end))
        }
        return parsePostfix()
    }

    mutating func parsePostfix() -> Expr {
        var e = parsePrimary()
        var links = 0
        var progress = LoopProgress()
        while progress.evaluate(consumed) {
            if tok.kind == .dot || tok.kind == .lbracket || tok.kind == .lparen {
                links += 1
                if depth + links > Parser.depthMax {
                    error("E0106", "expression is too long (more than \(Parser.depthMax) accesses in a chain)", at: tokSpan)
                    var skipping = LoopProgress()
                    while [.dot, .lbracket, .lparen, .ident].contains(tok.kind) && skipping.evaluate(consumed) { skipTokenTree() }
                    return Expr(.error, e.span.to(span(prevEnd, prevEnd)))
                }
            }
            switch tok.kind {
            case .dot:
                advance()
                guard tok.kind == .ident else {
                    expected("a field name after `.`")
                    return e
                }
                let n = Name(text(tok), tokSpan)
                advance()
                e = Expr(.member(e, n), e.span.to(n.span))
            case .lbracket:
                let open = tokSpan
                advance()
                let i = parseExpr()
                var s = e.span
                closeDelimiter(.rbracket, open: open, into: &s)
                e = Expr(.index(e, i), s)
            case .lparen:
                let open = tokSpan
                advance()
                var args: [Expr] = []
                var inner = LoopProgress()
                while tok.kind != .rparen && tok.kind != .eof && !abandoned && inner.evaluate(consumed) {
                    args.append(parseExpr())
                    if !eat(.comma) { break }
                }
                var s = e.span
                closeDelimiter(.rparen, open: open, into: &s)
                e = Expr(.call(e, args), s)
            default:
                return e
            }
        }
        return e  // only when a stalled loop was stopped (release builds)
    }

    mutating func parsePrimary() -> Expr {
        let t = tok
        let s = tokSpan
        switch t.kind {
        case .ident:
            advance()
            return Expr(.name(text(t)), s)
        case .kwTrue: advance(); return Expr(.bool(true), s)
        case .kwFalse: advance(); return Expr(.bool(false), s)
        case .kwNull: advance(); return Expr(.null, s)
        case .int, .float, .number:
            advance()
            return numberLiteral(t)
        case .money:
            advance()
            return moneyLiteral(t)
        case .string:
            advance()
            return stringLiteral(t)
        case .lparen:
            advance()
            let e = parseExpr()
            var sp = s
            closeDelimiter(.rparen, open: s, into: &sp)
            return Expr(e.kind, sp)
        case .lbracket:
            advance()
            var items: [Expr] = []
            var progress = LoopProgress()
            while tok.kind != .rbracket && tok.kind != .eof && !abandoned && progress.evaluate(consumed) {
                let before = tok.start
                items.append(parseExpr())
                if !eat(.comma) {
                    if tok.kind != .rbracket && tok.start == before { skipTokenTree() }
                    if tok.kind != .rbracket { break }
                }
            }
            var sp = s
            if tok.kind != .rbracket && !recovering && tok.kind != .eof {
                expected("`,` or `]` in the list")
            }
            closeDelimiter(.rbracket, open: s, into: &sp)
            return Expr(.list(items), sp)
        case .lbrace:
            advance()
            var entries: [RecordEntry] = []
            var progress = LoopProgress()
            while tok.kind != .rbrace && tok.kind != .eof && !abandoned && progress.evaluate(consumed) {
                let key: Name
                if tok.kind == .ident {
                    key = Name(text(tok), tokSpan)
                } else if tok.kind == .string {
                    key = quotedKey(tok)
                } else {
                    expected("a field name in the record")
                    skipTokenTree()
                    continue
                }
                advance()
                guard eat(.colon) else { expected("`:` after field `\(key.text)`"); break }
                entries.append(RecordEntry(key: key, value: parseExpr()))
                if !eat(.comma) && tok.kind != .rbrace && tok.kind != .ident { break }
            }
            var sp = s
            closeDelimiter(.rbrace, open: s, into: &sp)
            return Expr(.record(entries), sp)
        default:
            expected("an expression")
            // Consume stray tokens that cannot start or end anything, so the caller moves on.
            if ![.rbrace, .rbracket, .rparen, .ident, .eof, .comma, .semicolon].contains(t.kind) {
                advance()
            }
            return Expr(.error, s)
        }
    }

    // MARK: - literals

    /// Digits (with `_` separators) as an exact decimal: integer value and the number
    /// of fraction digits. nil on overflow.
    func decimal(_ a: Int, _ b: Int) -> (value: Int64, scale: Int)? { Units.decimal(bytes[a..<b]) }

    mutating func numberLiteral(_ t: Token) -> Expr {
        let s = span(t.start, t.end)
        let suffix = t.suffixStart == t.end ? "" : String(decoding: bytes[t.suffixStart..<t.end], as: UTF8.self)
        guard let d = decimal(t.start, t.suffixStart) else {
            error("E0103", "number literal is too large", at: s)
            return Expr(.error, s)
        }
        // A unit belongs to its number on the same line only: `time: 1h` then a
        // `tokens: ...` member on the next line are two members, not `1h tokens`.
        let isTokens = tokenIs(tok, "tokens") && sameLine(t.end, tok.start)
        if isTokens {
            let factor: Int64
            switch suffix {
            case "": factor = 1
            case "k": factor = 1_000
            case "M": factor = 1_000_000
            case "m":
                let ws = span(t.start, tok.end)
                advance()
                error("E0103", "`m` means minutes; a million tokens is `M`", at: ws, help: "write `\(String(decoding: bytes[t.start..<t.suffixStart], as: UTF8.self))M tokens`")
                return Expr(.error, ws)
            default:
                let ws = span(t.start, tok.end)
                advance()
                error("E0103", "unknown magnitude `\(suffix)` for tokens", at: ws, help: "use `k` (thousands) or `M` (millions): `200k tokens`")
                return Expr(.error, ws)
            }
            let whole = span(t.start, tok.end)
            advance()
            guard let n = Units.scaled(d, by: factor) else {
                error("E0103", "a token count must be a whole number", at: whole)
                return Expr(.error, whole)
            }
            return Expr(.tokens(n), whole)
        }
        // Durations by bytes first: they are the common case and need no String compare.
        let ss = t.suffixStart, se = t.end
        if let factor = Units.durationFactor(bytes[ss..<se]) {
            guard let ms = Units.scaled(d, by: factor) else {
                error("E0103", "duration is not a whole number of milliseconds, or too large", at: s)
                return Expr(.error, s)
            }
            return Expr(.duration(ms), s)
        }
        switch suffix {
        case "":
            if d.scale > 0 {
                return Expr(.float(Double(String(decoding: bytes[t.start..<t.end], as: UTF8.self).replacingUnderscores()) ?? 0), s)
            }
            return Expr(.int(d.value), s)
        case "k", "M":
            error("E0103", "magnitude `\(suffix)` needs a unit", at: s,
                  help: tokenIs(tok, "tokens")
                    ? "a unit belongs to its number on the same line: write `\(text(t)) tokens`"
                    : "only token counts take `k`/`M`: write `\(text(t)) tokens`")
            return Expr(.error, s)
        default:
            error("E0103", "unknown unit `\(suffix)`", at: span(t.suffixStart, t.end),
                  help: "durations take ms, s, m, h or d (`30s`, `10m`); token counts are written `200k tokens`")
            return Expr(.error, s)
        }
    }

    mutating func moneyLiteral(_ t: Token) -> Expr {
        let s = span(t.start, t.end)
        if t.suffixStart != t.end {
            error("E0103", "money literals take no unit suffix", at: span(t.suffixStart, t.end), help: "write `$2.50`")
            return Expr(.error, s)
        }
        guard let d = decimal(t.start + 1, t.end), d.scale <= 6, let micros = Units.scaled(d, by: 1_000_000) else {
            error("E0103", "money must have at most 6 decimal places and fit in 64 bits", at: s)
            return Expr(.error, s)
        }
        return Expr(.money(micros), s)
    }

    /// A quoted record key, its escapes decoded like any string's (so `"a\\b"` is the key
    /// `a\b`, and printers escape keys as they escape strings). A key is plain text.
    mutating func quotedKey(_ t: Token) -> Name {
        let s = span(t.start, t.end)
        guard case .string(let parts) = stringLiteral(t).kind else { return Name("", s) }
        var text = ""
        for p in parts {
            switch p {
            case .text(let x): text += x
            case .interpolation:
                error("E0104", "a record key cannot contain `${...}`", at: s, help: "write the key as plain text")
            }
        }
        return Name(text, s)
    }

    /// Decodes escapes and parses `${...}` parts with a sub-parser over the same bytes,
    /// so spans inside interpolations point into the file.
    mutating func stringLiteral(_ t: Token) -> Expr {
        let s = span(t.start, t.end)
        let triple = t.end - t.start >= 6 && bytes[t.start + 1] == UInt8(ascii: "\"") && bytes[t.start + 2] == UInt8(ascii: "\"")
        let q = triple ? 3 : 1
        var parts: [StringPart] = []
        // Decoded text so far is `buf` followed by the plain bytes `[runStart, i)`;
        // `buf` is only used once an escape is seen, so most strings are one slice.
        var buf: [UInt8] = []
        var i = t.start + q
        let end = t.end - q
        var runStart = i
        let src = self.bytes
        func flush(_ upTo: Int) {
            if buf.isEmpty {
                if upTo > runStart { parts.append(.text(String(decoding: src[runStart..<upTo], as: UTF8.self))) }
            } else {
                buf.append(contentsOf: src[runStart..<upTo])
                parts.append(.text(String(decoding: buf, as: UTF8.self)))
                buf.removeAll(keepingCapacity: true)
            }
        }
        while i < end {  // loop-progress: bytes of one string token; every branch moves `i` forward
            let c = bytes[i]
            if c == UInt8(ascii: "\\") {
                buf.append(contentsOf: bytes[runStart..<i])
                runStart = min(i + 2, end)
                let e = i + 1 < end ? bytes[i + 1] : 0
                switch e {
                case UInt8(ascii: "n"): buf.append(0x0A)
                case UInt8(ascii: "t"): buf.append(0x09)
                case UInt8(ascii: "r"): buf.append(0x0D)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "$"): buf.append(e)
                default:
                    error("E0102", "invalid escape sequence", at: span(i, min(i + 2, end)),
                          help: "valid escapes are \\n \\t \\r \\\" \\\\ and \\$")
                }
                i += 2
            } else if c == UInt8(ascii: "$"), i + 1 < end, bytes[i + 1] == UInt8(ascii: "{") {
                flush(i)
                let open = i
                let close = interpolationEnd(from: i + 2, limit: end)
                // Parse the interpolation in place, as a fresh sub-parser over `[i+2, close)`
                // would: own diagnostics, flags and error cap; the outer state is restored after.
                let sub = parseInterpolation(start: i + 2, end: close)
                if let e = sub.expr {
                    parts.append(.interpolation(e))
                } else {
                    error("E0104", "empty interpolation", at: span(open, min(close + 1, end)), help: "write `${inputs.name}`")
                    parts.append(.interpolation(Expr(.error, span(open, close))))
                }
                diagnostics.append(contentsOf: sub.diagnostics)
                i = close + 1
                runStart = min(i, end)
            } else {
                i += 1
            }
        }
        flush(max(runStart, min(i, end)))
        if triple { parts = Parser.dedent(parts) }
        return Expr(.string(parts), s)
    }

    /// Parses the expression in `[start, end)` with this parser's machinery, in the state a
    /// new `Parser(bytes:file:start:end:depth: depth + 1)` would start in, and restores the
    /// outer state afterwards. nil when the range holds no token (an empty interpolation).
    /// The diagnostics are the sub-parse's own, then its lexer's, as a sub-parser reports them.
    mutating func parseInterpolation(start: Int, end: Int) -> (expr: Expr?, diagnostics: [Diagnostic]) {
        let savedLexer = lexer
        let savedTok = tok, savedPrevEnd = prevEnd, savedDepth = depth
        let savedRecovering = recovering, savedUnclosed = unclosedReported, savedAbandoned = abandoned
        var savedDiagnostics: [Diagnostic] = []
        swap(&savedDiagnostics, &diagnostics)
        lexer.diagnostics = []
        lexer.pos = start
        lexer.end = end
        depth = savedDepth + 1
        recovering = false
        unclosedReported = false
        abandoned = false
        prevEnd = start
        tok = Token(kind: .eof, start: start, end: start, suffixStart: start)
        advance()
        var e: Expr?
        if tok.kind != .eof {
            e = parseExpr()
            if tok.kind != .eof { expected("`}` to end the interpolation") }
        }
        var out: [Diagnostic] = []
        swap(&out, &diagnostics)
        out.append(contentsOf: lexer.diagnostics)
        diagnostics = savedDiagnostics
        lexer = savedLexer
        tok = savedTok
        prevEnd = savedPrevEnd
        depth = savedDepth
        recovering = savedRecovering
        unclosedReported = savedUnclosed
        abandoned = savedAbandoned
        return (e, out)
    }

    /// Index of the `}` closing an interpolation opened just before `from`.
    func interpolationEnd(from: Int, limit: Int) -> Int {
        var lx = Lexer(bytes: bytes, file: file, start: from, end: limit)
        var level = 0
        while true {  // loop-progress: a private lexer, which always moves on and ends with `eof`
            let t = lx.next()
            switch t.kind {
            case .eof: return limit
            case .lbrace: level += 1
            case .rbrace:
                if level == 0 { return t.start }
                level -= 1
            default: break
            }
        }
    }

    /// Triple-quoted strings: drop the first newline and the indentation common to all lines.
    static func dedent(_ parts: [StringPart]) -> [StringPart] {
        var texts = parts
        if case .text(let first)? = texts.first, first.hasPrefix("\n") {
            texts[0] = .text(String(first.dropFirst()))
        }
        var lines: [Substring] = []
        var atLineStart = true
        for p in texts {
            if case .text(let s) = p {
                let ls = s.split(separator: "\n", omittingEmptySubsequences: false)
                for (k, l) in ls.enumerated() where (k > 0 || atLineStart) {
                    if !l.allSatisfy({ $0 == " " }) || k < ls.count - 1 { lines.append(l) }
                }
                atLineStart = s.hasSuffix("\n")
            } else {
                atLineStart = false
            }
        }
        let indent = lines.filter { !$0.allSatisfy { $0 == " " } }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        guard indent > 0 else { return texts }
        atLineStart = true
        return texts.map { p in
            guard case .text(let s) = p else { atLineStart = false; return p }
            let ls = s.split(separator: "\n", omittingEmptySubsequences: false)
            let out = ls.enumerated().map { k, l in
                (k > 0 || atLineStart) ? String(l.dropFirst(min(indent, l.prefix { $0 == " " }.count))) : String(l)
            }.joined(separator: "\n")
            atLineStart = s.hasSuffix("\n")
            return .text(out)
        }
    }
}

extension String {
    func replacingUnderscores() -> String { filter { $0 != "_" } }
}
