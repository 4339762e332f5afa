import EzflowDiagnostics
import EzflowUnits

/// Expressions and literals for `Formatter`: canonical literal forms, minimal
/// parentheses, and list/record layout (one line if it fits, else one element per line).
extension FormatPrinter {
    /// Binding strength of an expression's outermost form: binary operators as in
    /// `Parser.precedence` (1 `??` … 6 `*`), prefix operators 7, postfix and primaries 8.
    static func level(_ e: Expr) -> Int {
        switch e.kind {
        case .binary(let op, _, _): precedence(op)
        case .unary: 7
        case .int(let v): v < 0 ? 7 : 8
        case .float(let v): v < 0 ? 7 : 8
        case .duration(let v), .money(let v), .tokens(let v): v < 0 ? 7 : 8
        default: 8
        }
    }

    static func precedence(_ op: BinaryOp) -> Int { op.precedence }

    /// Operands that need parentheses: a looser left side (or any comparison under a
    /// comparison, which does not chain), and a right side that is not strictly tighter
    /// (operators associate to the left).
    static func needsParens(left: Expr, of op: BinaryOp) -> Bool {
        let p = precedence(op), l = level(left)
        return l < p || (p == 4 && l == 4)
    }

    static func needsParens(right: Expr, of op: BinaryOp) -> Bool { level(right) <= precedence(op) }

    /// Column after `text` placed at `column`.
    static func endColumn(_ column: Int, _ text: String) -> Int {
        if let nl = text.lastIndex(of: "\n") { return text[text.index(after: nl)...].count }
        return column + text.count
    }

    // MARK: - layout

    /// `e` placed at `column` on a line indented by `indent`: first line unindented,
    /// later lines (broken lists, `"""` strings) at absolute indentation.
    mutating func expr(_ e: Expr, indent: Int, column: Int) -> String {
        switch e.kind {
        case .string(let parts):
            return stringLiteral(parts, indent: indent, single: false)
        case .list(let items):
            if comments.unused(e.span.start, e.span.end).isEmpty, let f = FormatPrinter.flat(e, single: false),
               column + f.count <= Formatter.width {
                return f
            }
            var pieces: [FormatPiece] = []
            for item in items {
                var p = FormatPiece(start: item.span.start, end: item.span.end,
                                    text: expr(item, indent: indent + 2, column: indent + 2))
                p.separator = ","
                pieces.append(finish(p))
            }
            return String(bracketed("[", "]", pieces, lo: e.span.start + 1, hi: e.span.end, indent: indent, kind: .list).dropFirst())
        case .record(let entries):
            if comments.unused(e.span.start, e.span.end).isEmpty, let f = FormatPrinter.flat(e, single: false),
               column + f.count <= Formatter.width {
                return f
            }
            var pieces: [FormatPiece] = []
            for entry in entries {
                let head = FormatPrinter.recordKey(entry.key.text) + ": "
                var p = FormatPiece(start: entry.key.span.start, end: max(entry.key.span.end, entry.value.span.end),
                                    text: head + expr(entry.value, indent: indent + 2, column: indent + 2 + head.count))
                p.separator = ","
                pieces.append(finish(p))
            }
            return String(bracketed("{", "}", pieces, lo: e.span.start + 1, hi: e.span.end, indent: indent, kind: .list).dropFirst())
        case .unary(let op, let x):
            return FormatPrinter.prefix(op, wrap(x, FormatPrinter.level(x) < 7, indent: indent, column: column + 1))
        case .binary(let op, let l, let r):
            let ls = wrap(l, FormatPrinter.needsParens(left: l, of: op), indent: indent, column: column)
            let mid = " \(op.rawValue) "
            let rs = wrap(r, FormatPrinter.needsParens(right: r, of: op), indent: indent,
                          column: FormatPrinter.endColumn(column, ls) + mid.count)
            return ls + mid + rs
        case .member(let base, let name):
            return wrap(base, FormatPrinter.level(base) < 8, indent: indent, column: column) + "." + name.text
        case .index(let base, let i):
            let b = wrap(base, FormatPrinter.level(base) < 8, indent: indent, column: column)
            return b + "[" + expr(i, indent: indent, column: FormatPrinter.endColumn(column, b) + 1) + "]"
        case .call(let f, let args):
            var out = wrap(f, FormatPrinter.level(f) < 8, indent: indent, column: column) + "("
            for (k, a) in args.enumerated() {
                if k > 0 { out += ", " }
                out += expr(a, indent: indent, column: FormatPrinter.endColumn(column, out))
            }
            return out + ")"
        default:
            return FormatPrinter.literal(e)
        }
    }

    mutating func wrap(_ e: Expr, _ parens: Bool, indent: Int, column: Int) -> String {
        parens ? "(" + expr(e, indent: indent, column: column + 1) + ")" : expr(e, indent: indent, column: column)
    }

    /// One-line form, or nil when a string needs a `"""` block (unless `single`, which
    /// forces `"..."` strings: inside interpolations a line break is not allowed).
    static func flat(_ e: Expr, single: Bool) -> String? {
        func sub(_ x: Expr, _ parens: Bool) -> String? {
            guard let s = flat(x, single: single) else { return nil }
            return parens ? "(" + s + ")" : s
        }
        switch e.kind {
        case .string(let parts):
            if !single && hasNewline(parts) { return nil }
            return singleLine(parts)
        case .list(let items):
            var out: [String] = []
            for i in items { guard let s = flat(i, single: single) else { return nil }; out.append(s) }
            return "[" + out.joined(separator: ", ") + "]"
        case .record(let entries):
            if entries.isEmpty { return "{}" }
            var out: [String] = []
            for en in entries {
                guard let s = flat(en.value, single: single) else { return nil }
                out.append(recordKey(en.key.text) + ": " + s)
            }
            return "{ " + out.joined(separator: ", ") + " }"
        case .unary(let op, let x):
            return sub(x, level(x) < 7).map { prefix(op, $0) }
        case .binary(let op, let l, let r):
            guard let ls = sub(l, needsParens(left: l, of: op)), let rs = sub(r, needsParens(right: r, of: op)) else { return nil }
            return ls + " \(op.rawValue) " + rs
        case .member(let base, let name):
            return sub(base, level(base) < 8).map { $0 + "." + name.text }
        case .index(let base, let i):
            guard let b = sub(base, level(base) < 8), let s = flat(i, single: single) else { return nil }
            return b + "[" + s + "]"
        case .call(let f, let args):
            guard let fs = sub(f, level(f) < 8) else { return nil }
            var out: [String] = []
            for a in args { guard let s = flat(a, single: single) else { return nil }; out.append(s) }
            return fs + "(" + out.joined(separator: ", ") + ")"
        default:
            return literal(e)
        }
    }

    /// A prefix operator; `- -x` keeps its space so it does not read as a decrement.
    static func prefix(_ op: UnaryOp, _ operand: String) -> String {
        op == .negate && operand.hasPrefix("-") ? "- " + operand : op.rawValue + operand
    }

    // MARK: - literals

    static func literal(_ e: Expr) -> String {
        switch e.kind {
        case .int(let v): "\(v)"
        case .float(let v): floatText(v)
        case .duration(let ms): durationText(ms)
        case .money(let m): moneyText(m)
        case .tokens(let n): tokensText(n)
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .name(let n): n
        case .string(let parts): singleLine(parts)
        default: "<error>"
        }
    }

    static func durationText(_ ms: Int64) -> String { Units.duration(ms) }
    static func moneyText(_ micros: Int64) -> String { Units.moneyLiteral(micros) }
    static func tokensText(_ n: Int64) -> String { Units.tokensLiteral(n) }

    /// Shortest decimal that reads back as the same `Double`, in plain notation (the
    /// grammar has no exponents): `0.05`, `1.0`, `0.00001`.
    static func floatText(_ d: Double) -> String {
        guard d.isFinite else { return "<error>" }
        let s = "\(d)"
        guard let eIdx = s.firstIndex(where: { $0 == "e" || $0 == "E" }) else {
            return s.contains(".") ? s : s + ".0"
        }
        let exp = Int(s[s.index(after: eIdx)...].filter { $0 != "+" }) ?? 0
        var mant = String(s[..<eIdx])
        let sign = mant.hasPrefix("-") ? "-" : ""
        if !sign.isEmpty { mant.removeFirst() }
        let halves = mant.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(halves[0]), fracPart = halves.count > 1 ? String(halves[1]) : ""
        let digits = intPart + fracPart
        let point = intPart.count + exp
        var out: String
        if point <= 0 {
            out = "0." + String(repeating: "0", count: -point) + digits
        } else if point >= digits.count {
            out = digits + String(repeating: "0", count: point - digits.count) + ".0"
        } else {
            let i = digits.index(digits.startIndex, offsetBy: point)
            out = digits[..<i] + "." + digits[i...]
        }
        // Trailing zeros after the point (but keep one digit).
        while out.hasSuffix("0") && !out.hasSuffix(".0") { out.removeLast() }
        return sign + out
    }

    static let reservedWords: Set<String> = ["import", "as", "true", "false", "null", "in"]

    static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.utf8.first, f == UInt8(ascii: "_") || (f | 0x20 >= 0x61 && f | 0x20 <= 0x7A) else { return false }
        return s.utf8.allSatisfy(isIdentContinue) && !reservedWords.contains(s)
    }

    /// A record key: bare when it is an identifier, else a string literal with the same escapes.
    static func recordKey(_ k: String) -> String { isIdentifier(k) ? k : singleLine([.text(k)]) }

    // MARK: - strings

    static func hasNewline(_ parts: [StringPart]) -> Bool {
        parts.contains { if case .text(let t) = $0 { t.unicodeScalars.contains("\n") } else { false } }
    }

    /// `"..."` with `\n \t \r \" \\ \$` escapes (every literal `$` is escaped, as shell
/// commands in `run:` are easier to read when `\$VAR` is visibly not an interpolation).
    static func singleLine(_ parts: [StringPart]) -> String {
        var out = "\""
        for p in parts {
            switch p {
            case .text(let t):
                let u = Array(t.unicodeScalars)
                for c in u {
                    switch c {
                    case "\"": out += "\\\""
                    case "\\": out += "\\\\"
                    case "\n": out += "\\n"
                    case "\t": out += "\\t"
                    case "\r": out += "\\r"
                    case "$": out += "\\$"
                    default: out.unicodeScalars.append(c)
                    }
                }
            case .interpolation(let e):
                out += "${" + (flat(e, single: true) ?? "<error>") + "}"
            }
        }
        return out + "\""
    }

    /// A `"""` block whose lines sit at `indent + 2`, the closing quotes too when the text
    /// ends with a newline. Blank lines carry no indentation.
    static func tripleQuoted(_ parts: [StringPart], indent: Int) -> String {
        let pad = spaces(indent + 2)
        var out = "\"\"\"\n"
        var atLineStart = true
        for (pi, p) in parts.enumerated() {
            switch p {
            case .text(let t):
                let u = Array(t.unicodeScalars)
                for (i, c) in u.enumerated() {
                    if c == "\n" {
                        out += "\n"
                        atLineStart = true
                        continue
                    }
                    if atLineStart { out += pad; atLineStart = false }
                    switch c {
                    case "\\": out += "\\\\"
                    case "\t": out += "\\t"
                    case "\r": out += "\\r"
                    case "$": out += "\\$"
                    // Only where it would close the block: before two more quotes, or in a
                    // run of quotes that reaches the closing `"""`.
                    case "\"" where (i + 2 < u.count && u[i + 1] == "\"" && u[i + 2] == "\"")
                        || (pi == parts.count - 1 && u[i...].allSatisfy { $0 == "\"" }):
                        out += "\\\""
                    default: out.unicodeScalars.append(c)
                    }
                }
            case .interpolation(let e):
                if atLineStart { out += pad; atLineStart = false }
                out += "${" + (flat(e, single: true) ?? "<error>") + "}"
            }
        }
        if atLineStart { out += pad }
        return out + "\"\"\""
    }

    /// A string literal; multi-line text becomes a `"""` block when that block reads back
    /// as exactly the same parts (the dedent rule cannot express every text, e.g. one
    /// whose every line starts with spaces), else `"..."` with `\n` escapes.
    func stringLiteral(_ parts: [StringPart], indent: Int, single: Bool) -> String {
        if !single && FormatPrinter.hasNewline(parts) {
            let t = FormatPrinter.tripleQuoted(parts, indent: indent)
            if FormatPrinter.readsBack(t, as: parts) { return t }
        }
        return FormatPrinter.singleLine(parts)
    }

    static func readsBack(_ literal: String, as parts: [StringPart]) -> Bool {
        var p = Parser(bytes: Array(literal.utf8), file: 0)
        let e = p.parseExpr()
        guard p.diagnostics.isEmpty, p.lexer.diagnostics.isEmpty, p.tok.kind == .eof else { return false }
        return TreeDump.expr(e) == TreeDump.expr(Expr(.string(parts), e.span))
    }
}
