import EzflowDiagnostics

/// Turns bytes into tokens on demand. Never fails: bad bytes become `.invalid`
/// tokens (one per run) with a diagnostic, and the lexer always advances.
struct Lexer {
    let bytes: [UInt8]
    let file: Int
    var pos: Int
    var end: Int
    var comments: [Comment] = []
    var diagnostics: [Diagnostic] = []
    /// Whether a token has been produced since the last newline (for trailing comments).
    private var codeOnLine = false

    init(bytes: [UInt8], file: Int, start: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.file = file
        self.pos = start
        self.end = end ?? bytes.count
    }

    private func span(_ a: Int, _ b: Int) -> Span { Span(file: file, start: a, end: b) }

    mutating func next() -> Token {
        skipTrivia()
        guard pos < end else { return Token(kind: .eof, start: end, end: end, suffixStart: end) }
        codeOnLine = true
        let start = pos
        let c = bytes[pos]
        func single(_ k: TokenKind) -> Token {
            pos += 1
            return Token(kind: k, start: start, end: pos, suffixStart: pos)
        }
        func pair(_ second: UInt8, _ two: TokenKind, _ one: TokenKind?) -> Token {
            if pos + 1 < end && bytes[pos + 1] == second {
                pos += 2
                return Token(kind: two, start: start, end: pos, suffixStart: pos)
            }
            if let one { return single(one) }
            return invalidRun()
        }
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
            while pos < end, isIdentContinue(bytes[pos]) { pos += 1 }
            return Token(kind: keyword(start, pos), start: start, end: pos, suffixStart: pos)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return number(start)
        case UInt8(ascii: "$"):
            pos += 1
            if pos < end, isDigit(bytes[pos]) {
                let t = number(pos)
                return Token(kind: .money, start: start, end: t.end, suffixStart: t.suffixStart)
            }
            diagnostics.append(.error("E0103", "expected an amount after `$`", at: span(start, pos),
                                      help: "write money as `$2.50` or `$10`"))
            return Token(kind: .invalid, start: start, end: pos, suffixStart: pos)
        case UInt8(ascii: "\""):
            return string(start)
        case UInt8(ascii: "{"): return single(.lbrace)
        case UInt8(ascii: "}"): return single(.rbrace)
        case UInt8(ascii: "["): return single(.lbracket)
        case UInt8(ascii: "]"): return single(.rbracket)
        case UInt8(ascii: "("): return single(.lparen)
        case UInt8(ascii: ")"): return single(.rparen)
        case UInt8(ascii: ":"): return single(.colon)
        case UInt8(ascii: ","): return single(.comma)
        case UInt8(ascii: ";"): return single(.semicolon)
        case UInt8(ascii: "."): return single(.dot)
        case UInt8(ascii: "+"): return single(.plus)
        case UInt8(ascii: "-"): return single(.minus)
        case UInt8(ascii: "*"): return single(.star)
        case UInt8(ascii: "/"): return single(.slash)
        case UInt8(ascii: "%"): return single(.percent)
        case UInt8(ascii: "?"): return pair(UInt8(ascii: "?"), .coalesce, .question)
        case UInt8(ascii: "="): return pair(UInt8(ascii: "="), .eqeq, .equal)
        case UInt8(ascii: "!"): return pair(UInt8(ascii: "="), .noteq, .bang)
        case UInt8(ascii: "<"): return pair(UInt8(ascii: "="), .lesseq, .less)
        case UInt8(ascii: ">"): return pair(UInt8(ascii: "="), .greatereq, .greater)
        case UInt8(ascii: "&"): return pair(UInt8(ascii: "&"), .andand, nil)
        case UInt8(ascii: "|"): return pair(UInt8(ascii: "|"), .oror, nil)
        case 0xE2 where pos + 2 < end && bytes[pos + 1] == 0x80 && (bytes[pos + 2] == 0x9C || bytes[pos + 2] == 0x9D):
            return smartQuoted()
        default:
            return invalidRun()
        }
    }

    /// “typographic quotes” pasted from a document: one diagnostic for the whole
    /// quoted run, which then stands as one invalid token so parsing continues.
    private mutating func smartQuoted() -> Token {
        let start = pos
        pos += 3
        while pos < end, bytes[pos] != 0x0A {
            if bytes[pos] == 0xE2, pos + 2 < end, bytes[pos + 1] == 0x80, (bytes[pos + 2] == 0x9D || bytes[pos + 2] == 0x9C) {
                pos += 3
                break
            }
            pos += 1
        }
        diagnostics.append(.error("E0100", "typographic quotes are not string delimiters", at: span(start, pos),
                                  help: "use straight quotes: \"...\""))
        return Token(kind: .invalid, start: start, end: pos, suffixStart: pos)
    }

    /// One diagnostic for a whole run of bad bytes, so garbage input stays readable.
    private mutating func invalidRun() -> Token {
        let start = pos
        pos += 1
        while pos < end, !startsToken(bytes[pos]) { pos += 1 }
        let first = bytes[start]
        let what: String
        if first >= 0x20 && first < 0x7F {
            what = "unexpected character `\(Character(Unicode.Scalar(first)))`"
        } else if first >= 0x80 {
            what = "unexpected non-ASCII character outside a string or comment"
        } else {
            what = String(format0x: first)
        }
        diagnostics.append(.error("E0100", what, at: span(start, pos),
                                  help: first == UInt8(ascii: "&") || first == UInt8(ascii: "|")
                                    ? "logical operators are `&&` and `||`" : nil))
        return Token(kind: .invalid, start: start, end: pos, suffixStart: pos)
    }

    private func startsToken(_ b: UInt8) -> Bool {
        if b < 0x80 && (isIdentContinue(b) || b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D) { return true }
        switch b {
        case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\""), UInt8(ascii: ":"),
            UInt8(ascii: ","), UInt8(ascii: "#"):
            return true
        default: return false
        }
    }

    private mutating func number(_ start: Int) -> Token {
        var isFloat = false
        while pos < end, isDigit(bytes[pos]) || bytes[pos] == UInt8(ascii: "_") { pos += 1 }
        if pos + 1 < end, bytes[pos] == UInt8(ascii: "."), isDigit(bytes[pos + 1]) {
            isFloat = true
            pos += 1
            while pos < end, isDigit(bytes[pos]) || bytes[pos] == UInt8(ascii: "_") { pos += 1 }
        }
        let suffix = pos
        while pos < end, isIdentContinue(bytes[pos]) { pos += 1 }
        let kind: TokenKind = suffix < pos ? .number : (isFloat ? .float : .int)
        return Token(kind: kind, start: start, end: pos, suffixStart: suffix)
    }

    private mutating func string(_ start: Int) -> Token {
        let triple = pos + 2 < end && bytes[pos + 1] == UInt8(ascii: "\"") && bytes[pos + 2] == UInt8(ascii: "\"")
        pos += triple ? 3 : 1
        if let close = scanStringBody(bytes, from: pos, end: end, triple: triple) {
            pos = close
            return Token(kind: .string, start: start, end: pos, suffixStart: pos)
        }
        // Unterminated: a one-line string stops at the newline so the next line still parses.
        var stop = pos
        if !triple { while stop < end, bytes[stop] != 0x0A { stop += 1 } } else { stop = end }
        diagnostics.append(.error("E0101", "unterminated string literal", at: span(start, min(stop, start + 1)),
                                  label: "string starts here",
                                  help: triple ? "close it with `\"\"\"`" : "close it with `\"` before the end of the line"))
        pos = stop
        return Token(kind: .invalid, start: start, end: stop, suffixStart: stop)
    }

    private mutating func skipTrivia() {
        while pos < end {
            let b = bytes[pos]
            if b == 0x0A { codeOnLine = false; pos += 1 }
            else if b == 0x20 || b == 0x09 || b == 0x0D { pos += 1 }
            else if b == UInt8(ascii: "#") {
                let s = pos
                while pos < end, bytes[pos] != 0x0A { pos += 1 }
                comments.append(Comment(span: span(s, pos), trailing: codeOnLine))
            } else if b == UInt8(ascii: "/"), pos + 1 < end, bytes[pos + 1] == UInt8(ascii: "/") {
                slashComment()
            } else { return }
        }
    }

    /// A `//` comment from another language: one diagnostic (with the fix to `#`), and
    /// the rest of the line is skipped as a comment, so its words raise nothing more.
    private mutating func slashComment() {
        let s = pos
        while pos < end, bytes[pos] != 0x0A { pos += 1 }
        diagnostics.append(.error("E0100", "`//` does not start a comment in ezflow", at: span(s, s + 2),
                                  label: "not a comment", help: "comments start with `#`")
            .fixing(.replace(span(s, s + 2), with: "#")))
    }

    private func keyword(_ a: Int, _ b: Int) -> TokenKind {
        let n = b - a
        guard n >= 2 && n <= 6 else { return .ident }
        func eq(_ s: StaticString) -> Bool {
            guard s.utf8CodeUnitCount == n else { return false }
            let p = s.utf8Start
            for i in 0..<n where bytes[a + i] != p[i] { return false }
            return true
        }
        switch bytes[a] {
        case UInt8(ascii: "i"): return eq("import") ? .kwImport : eq("in") ? .kwIn : .ident
        case UInt8(ascii: "a"): return eq("as") ? .kwAs : .ident
        case UInt8(ascii: "t"): return eq("true") ? .kwTrue : .ident
        case UInt8(ascii: "f"): return eq("false") ? .kwFalse : .ident
        case UInt8(ascii: "n"): return eq("null") ? .kwNull : .ident
        default: return .ident
        }
    }
}

@inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
/// Whether `s` can be written as a bare name: what a rename may produce.
public func isBareIdentifier(_ s: String) -> Bool { FormatPrinter.isIdentifier(s) }

@inline(__always) func isIdentContinue(_ b: UInt8) -> Bool {
    (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
}

/// Finds the byte just past the closing quote(s) of a string body starting at `from`,
/// skipping escapes and `${...}` interpolations (which may hold strings themselves).
/// Returns nil when the string is unterminated.
func scanStringBody(_ bytes: [UInt8], from: Int, end: Int, triple: Bool) -> Int? {
    scanNested(bytes, from: from, end: end, inString: true, triple: triple, singleLineStrings: true)
}

/// Index of the `}` closing an interpolation whose body starts at `from` (just after
/// `${`), skipping nested braces and strings with their own interpolations; nil when
/// unclosed. The YAML surface uses it on scalar text, where newlines are content.
public func interpolationClose(_ bytes: [UInt8], from: Int) -> Int? {
    guard let after = scanNested(bytes, from: from, end: bytes.count, inString: false, triple: false,
                                 singleLineStrings: false) else { return nil }
    return after - 1
}

/// The one scanner for nested strings and interpolations. It starts inside a string
/// (`inString`) or inside an interpolation and returns the index just past whatever
/// closes that first frame. With `singleLineStrings`, a newline inside a `"..."` string
/// (at any depth) means unterminated, as in source text. Iterative over a small stack
/// capped at 256 frames, so deep nesting cannot overflow the call stack.
func scanNested(_ bytes: [UInt8], from: Int, end: Int, inString: Bool, triple: Bool, singleLineStrings: Bool) -> Int? {
    var stack: [(inString: Bool, triple: Bool, braces: Int)] = [(inString, triple, 0)]
    var i = from
    while i < end {
        let b = bytes[i]
        let top = stack[stack.count - 1]
        if top.inString {
            if b == UInt8(ascii: "\\") { i += 2; continue }
            if b == 0x0A && singleLineStrings && !top.triple { return nil }
            if b == UInt8(ascii: "$"), i + 1 < end, bytes[i + 1] == UInt8(ascii: "{") {
                stack.append((false, false, 0))
                i += 2
                continue
            }
            if b == UInt8(ascii: "\"") {
                if !top.triple {
                    stack.removeLast()
                    i += 1
                } else if i + 2 < end, bytes[i + 1] == UInt8(ascii: "\""), bytes[i + 2] == UInt8(ascii: "\"") {
                    stack.removeLast()
                    i += 3
                } else { i += 1; continue }
                if stack.isEmpty { return i }
                continue
            }
            i += 1
        } else {
            if b == UInt8(ascii: "{") { stack[stack.count - 1].braces += 1 }
            else if b == UInt8(ascii: "}") {
                if top.braces == 0 {
                    stack.removeLast()
                    if stack.isEmpty { return i + 1 }
                } else { stack[stack.count - 1].braces -= 1 }
            } else if b == UInt8(ascii: "\"") {
                let t = i + 2 < end && bytes[i + 1] == UInt8(ascii: "\"") && bytes[i + 2] == UInt8(ascii: "\"")
                stack.append((true, t, 0))
                i += t ? 3 : 1
                continue
            } else if b == 0x0A && singleLineStrings && stack.contains(where: { $0.inString && !$0.triple }) {
                return nil
            }
            i += 1
        }
        if stack.count > 256 { return nil }
    }
    return nil
}

extension String {
    init(format0x b: UInt8) {
        let hex = Array("0123456789ABCDEF")
        self = "unexpected control byte 0x\(hex[Int(b >> 4)])\(hex[Int(b & 15)])"
    }
}
