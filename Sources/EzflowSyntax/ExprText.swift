/// The one public expression printer: ezflow source text for an expression, on one line,
/// in the formatter's canonical forms (literals, minimal parentheses, escapes), so
/// `parse(print(e))` has the same value as `e`. `ezc fmt` lays out the same text over
/// several lines where it is too wide; the YAML printer and messages use this.
public enum ExprText {
    /// `e` as ezflow source on one line (strings as `"..."` with escapes).
    public static func print(_ e: Expr) -> String { FormatPrinter.flat(e, single: true) ?? "<error>" }

    /// A type as written: `list[string]`, `Env?`.
    public static func print(_ t: TypeExpr) -> String { FormatPrinter.type(t) }

    /// A record key: bare when it is an identifier, else a string literal.
    public static func recordKey(_ k: String) -> String { FormatPrinter.recordKey(k) }

    /// An interpolation's expression as it appears inside `${...}`.
    public static func interpolation(_ e: Expr) -> String { "${" + print(e) + "}" }
}
