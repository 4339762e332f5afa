import EzflowDiagnostics

/// Token kinds. Keywords are only the reserved words; block kinds are identifiers.
public enum TokenKind: UInt8, Sendable, CustomStringConvertible {
    case ident, int, float, number, money, string
    case kwImport, kwAs, kwTrue, kwFalse, kwNull, kwIn
    case lbrace, rbrace, lbracket, rbracket, lparen, rparen
    case colon, comma, semicolon, dot, question, equal
    case plus, minus, star, slash, percent, bang
    case eqeq, noteq, less, lesseq, greater, greatereq, andand, oror, coalesce
    case eof, invalid

    public var description: String {
        switch self {
        case .ident: "identifier"
        case .int, .float, .number: "number"
        case .money: "money literal"
        case .string: "string"
        case .kwImport: "`import`"
        case .kwAs: "`as`"
        case .kwTrue: "`true`"
        case .kwFalse: "`false`"
        case .kwNull: "`null`"
        case .kwIn: "`in`"
        case .lbrace: "`{`"
        case .rbrace: "`}`"
        case .lbracket: "`[`"
        case .rbracket: "`]`"
        case .lparen: "`(`"
        case .rparen: "`)`"
        case .colon: "`:`"
        case .comma: "`,`"
        case .semicolon: "`;`"
        case .dot: "`.`"
        case .question: "`?`"
        case .equal: "`=`"
        case .plus: "`+`"
        case .minus: "`-`"
        case .star: "`*`"
        case .slash: "`/`"
        case .percent: "`%`"
        case .bang: "`!`"
        case .eqeq: "`==`"
        case .noteq: "`!=`"
        case .less: "`<`"
        case .lesseq: "`<=`"
        case .greater: "`>`"
        case .greatereq: "`>=`"
        case .andand: "`&&`"
        case .oror: "`||`"
        case .coalesce: "`??`"
        case .eof: "end of file"
        case .invalid: "invalid character"
        }
    }
}

/// One token: kind plus the byte range it covers. Values (numbers, string parts)
/// are decoded by the parser from the range, so tokens stay small and copyable.
public struct Token: Sendable {
    public var kind: TokenKind
    public var start: Int
    public var end: Int
    /// For `.number`: byte offset where the unit suffix starts (== end when none).
    public var suffixStart: Int
}

/// A `#` comment, kept for the formatter.
public struct Comment: Sendable, Hashable {
    public var span: Span
    /// True when code precedes the comment on its line.
    public var trailing: Bool
}
