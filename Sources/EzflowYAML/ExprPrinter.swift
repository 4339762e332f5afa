import EzflowSyntax

/// Prints expressions and types in ezflow syntax from their values (not source text).
/// Parentheses are added where precedence needs them, so `parse(print(e))` has the
/// same value as `e`. (EzflowSyntax's formatter has no public expression printer yet.)
public enum ExprPrinter {
    public static func print(_ e: Expr) -> String { expr(e) }

    public static func print(_ t: TypeExpr) -> String {
        switch t.kind {
        case .named(let ns): return ns.map(\.text).joined(separator: ".")
        case .list(let x): return "list[\(print(x))]"
        case .map(let x): return "map[\(print(x))]"
        case .optional(let x): return print(x) + "?"
        case .error: return "<error>"
        }
    }

    static func precedence(_ op: BinaryOp) -> Int { op.precedence }

    static func precedence(_ e: Expr) -> Int {
        switch e.kind {
        case .binary(let op, _, _): precedence(op)
        case .unary: 7
        default: 8
        }
    }

    static func expr(_ e: Expr) -> String {
        switch e.kind {
        case .string(let parts): return "\"" + stringContent(parts, quote: true) + "\""
        case .int(let v): return String(v)
        case .float(let d): return float(d)
        case .duration(let ms): return duration(ms)
        case .money(let m): return money(m)
        case .tokens(let n): return tokens(n)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .name(let n): return n
        case .member(let b, let n): return postfixBase(b) + "." + n.text
        case .index(let b, let i): return postfixBase(b) + "[" + expr(i) + "]"
        case .call(let f, let args): return postfixBase(f) + "(" + args.map(expr).joined(separator: ", ") + ")"
        case .unary(let op, let x):
            let inner = precedence(x) < 7 ? "(" + expr(x) + ")" : expr(x)
            return op.rawValue + inner
        case .binary(let op, let a, let b):
            let p = precedence(op)
            let pa = precedence(a), pb = precedence(b)
            let left = pa < p || (p == 4 && pa == 4) ? "(" + expr(a) + ")" : expr(a)
            let right = pb <= p ? "(" + expr(b) + ")" : expr(b)
            return left + " " + op.rawValue + " " + right
        case .list(let xs): return "[" + xs.map(expr).joined(separator: ", ") + "]"
        case .record(let es):
            return "{" + es.map { key($0.key.text) + ": " + expr($0.value) }.joined(separator: ", ") + "}"
        case .error: return "<error>"
        }
    }

    static func postfixBase(_ b: Expr) -> String {
        precedence(b) < 8 ? "(" + expr(b) + ")" : expr(b)
    }

    static let reserved: Set<String> = ["import", "as", "true", "false", "null", "in"]

    static func isIdent(_ s: String) -> Bool {
        guard let f = s.utf8.first, f == 0x5F || (f | 0x20 >= 0x61 && f | 0x20 <= 0x7A) else { return false }
        return s.utf8.allSatisfy { ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// A record key: bare when it is an identifier, else a string.
    static func key(_ k: String) -> String {
        isIdent(k) && !reserved.contains(k) ? k : "\"" + stringContent([.text(k)], quote: true) + "\""
    }

    /// The characters between the quotes of an ezflow string. With `quote`, also `"`
    /// and control characters are escaped (a `"..."` literal); without, only `\` and
    /// `${` (content of a YAML string scalar, where the YAML quoting does the rest).
    public static func stringContent(_ parts: [StringPart], quote: Bool) -> String {
        var out = ""
        for p in parts {
            switch p {
            case .text(let t):
                var prevDollar = false
                for c in t.unicodeScalars {
                    if prevDollar && c == "{" { out.removeLast(); out += "\\${" ; prevDollar = false; continue }
                    prevDollar = c == "$"
                    switch c {
                    case "\\": out += "\\\\"
                    case "\"" where quote: out += "\\\""
                    case "\n" where quote: out += "\\n"
                    case "\t" where quote: out += "\\t"
                    case "\r" where quote: out += "\\r"
                    default: out.unicodeScalars.append(c)
                    }
                }
            case .interpolation(let e):
                out += "${" + expr(e) + "}"
            }
        }
        return out
    }

    static func float(_ d: Double) -> String {
        var s = "\(d)"
        if s.contains("e") {
            // ezflow has no exponent syntax: spell the decimal out.
            let neg = s.hasPrefix("-")
            if neg { s.removeFirst() }
            let parts = s.split(separator: "e")
            let exp = Int(parts[1]) ?? 0
            let mant = parts[0].split(separator: ".", omittingEmptySubsequences: false)
            var digits = String(mant[0]) + (mant.count > 1 ? String(mant[1]) : "")
            var point = mant[0].count + exp
            if point <= 0 {
                digits = String(repeating: "0", count: 1 - point) + digits
                point = 1
            }
            if digits.count < point + 1 { digits += String(repeating: "0", count: point + 1 - digits.count) }
            let i = digits.index(digits.startIndex, offsetBy: point)
            var frac = String(digits[i...])
            while frac.count > 1 && frac.hasSuffix("0") { frac.removeLast() }
            s = (neg ? "-" : "") + String(digits[..<i]) + "." + frac
        }
        if !s.contains(".") { s += ".0" }
        return s
    }

    static func duration(_ ms: Int64) -> String {
        if ms == 0 { return "0s" }
        for (unit, f) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] where ms % f == 0 {
            return "\(ms / f)\(unit)"
        }
        return "\(ms)ms"
    }

    static func money(_ micros: Int64) -> String {
        let whole = micros / 1_000_000, frac = micros % 1_000_000
        if frac == 0 { return "$\(whole)" }
        var f = String(frac)
        f = String(repeating: "0", count: 6 - f.count) + f
        while f.hasSuffix("0") { f.removeLast() }
        return "$\(whole).\(f)"
    }

    static func tokens(_ n: Int64) -> String {
        if n != 0 && n % 1_000_000 == 0 { return "\(n / 1_000_000)M tokens" }
        if n != 0 && n % 1_000 == 0 { return "\(n / 1_000)k tokens" }
        return "\(n) tokens"
    }
}
