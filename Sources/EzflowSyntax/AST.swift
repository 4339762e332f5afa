import EzflowDiagnostics

/// An identifier with where it was written.
public struct Name: Sendable, Hashable {
    public var text: String
    public var span: Span
    public init(_ text: String, _ span: Span) {
        self.text = text
        self.span = span
    }
}

/// The parse of one file: imports, top-level blocks and comments. Produced even
/// for broken input; missing pieces appear as `.error` expressions or absent members.
public struct SyntaxTree: Sendable {
    public var file: Int
    public var imports: [Import]
    public var items: [Block]
    public var comments: [Comment]
}

/// `import "std/retry" as r`.
public struct Import: Sendable {
    public var path: String
    public var pathSpan: Span
    public var alias: Name?
    public var span: Span
}

/// Every construct of the language is a block: `kind name { members }`, or one of
/// the special forms `input`/`output` (typed field), `enum`, `type` (record).
public struct Block: Sendable {
    public var kind: Name
    public var name: Name?
    public var members: [Member]
    /// The whole block, keyword to closing brace.
    public var span: Span
    /// `input`/`output`: the declared type.
    public var type: TypeExpr?
    /// `input x: T = default`.
    public var defaultValue: Expr?
    /// `enum E { a, b }`.
    public var cases: [Name]
    /// `type R { f: T }`.
    public var fields: [Field]
    public var hasBody: Bool

    public init(kind: Name, name: Name?, span: Span) {
        self.kind = kind
        self.name = name
        self.members = []
        self.span = span
        self.cases = []
        self.fields = []
        self.hasBody = false
    }

    /// Attributes in source order.
    public var attributes: [Attribute] {
        members.compactMap { if case .attribute(let a) = $0 { return a } else { return nil } }
    }

    /// Nested blocks in source order.
    public var blocks: [Block] {
        members.compactMap { if case .block(let b) = $0 { return b } else { return nil } }
    }

    /// The first attribute named `key`, without building the `attributes` array.
    public func attribute(_ key: String) -> Attribute? {
        for case .attribute(let a) in members where a.key.text == key { return a }
        return nil
    }

    /// The first nested block of `kind`, without building the `blocks` array.
    public func firstBlock(_ kind: String) -> Block? {
        for case .block(let b) in members where b.kind.text == kind { return b }
        return nil
    }
}

/// A record field in a `type` declaration.
public struct Field: Sendable {
    public var name: Name
    public var type: TypeExpr
}

public enum Member: Sendable {
    case attribute(Attribute)
    case block(Block)

    public var span: Span {
        switch self {
        case .attribute(let a): a.span
        case .block(let b): b.span
        }
    }
}

/// `key: value`.
public struct Attribute: Sendable {
    public var key: Name
    public var value: Expr
    public var span: Span
}

/// A written type: `list[string]?`, `Env`, `mod.Report`.
public struct TypeExpr: Sendable {
    public indirect enum Kind: Sendable {
        case named([Name])
        case list(TypeExpr)
        case map(TypeExpr)
        case optional(TypeExpr)
        case error
    }
    public var kind: Kind
    public var span: Span
}

public enum UnaryOp: String, Sendable { case not = "!", negate = "-" }

public enum BinaryOp: String, Sendable {
    case add = "+", sub = "-", mul = "*", div = "/", mod = "%"
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
    case and = "&&", or = "||", coalesce = "??", `in` = "in"
}

/// One piece of a string literal: text (escapes decoded) or an interpolated expression.
public enum StringPart: Sendable {
    case text(String)
    case interpolation(Expr)
}

public struct RecordEntry: Sendable {
    public var key: Name
    public var value: Expr
}

/// Expressions. Literal values are exact: money in micro-dollars, durations in
/// milliseconds, tokens as a count.
public struct Expr: Sendable {
    /// Only the self-recursive cases are boxed, so literals and names cost no allocation.
    public enum Kind: Sendable {
        case string([StringPart])
        case int(Int64)
        case float(Double)
        case duration(Int64)
        case money(Int64)
        case tokens(Int64)
        case bool(Bool)
        case null
        case name(String)
        indirect case member(Expr, Name)
        indirect case index(Expr, Expr)
        indirect case call(Expr, [Expr])
        indirect case unary(UnaryOp, Expr)
        indirect case binary(BinaryOp, Expr, Expr)
        case list([Expr])
        case record([RecordEntry])
        /// Stands where parsing failed; the checker gives it an error type silently.
        case error
    }
    public var kind: Kind
    public var span: Span

    public init(_ kind: Kind, _ span: Span) {
        self.kind = kind
        self.span = span
    }

    /// The dotted path of a plain reference (`a.b.c`), or nil for anything else.
    public var path: [Name]? {
        switch kind {
        case .name(let n): return [Name(n, span)]
        case .member(let base, let field):
            guard var p = base.path else { return nil }
            p.append(field)
            return p
        default: return nil
        }
    }
}
