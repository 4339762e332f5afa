import EzflowSyntax

/// Expressions and types in ezflow syntax for YAML scalars: `EzflowSyntax.ExprText`
/// prints them, so `ezc fmt` and the YAML printer agree on every literal, key and escape.
/// Only the content of a YAML string scalar is spelled here.
public enum ExprPrinter {
    public static func print(_ e: Expr) -> String { ExprText.print(e) }

    public static func print(_ t: TypeExpr) -> String { ExprText.print(t) }

    /// An ezflow string as the content of a YAML string scalar: only `\` and `${` are
    /// escaped; the YAML quoting does the rest.
    public static func stringContent(_ parts: [StringPart]) -> String {
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
                    default: out.unicodeScalars.append(c)
                    }
                }
            case .interpolation(let e):
                out += ExprText.interpolation(e)
            }
        }
        return out
    }
}
