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
///
/// The fields live in one shared, copy-on-write box, so copying a `Block` (into a
/// `Member`, a `TaskInfo`, a loop variable) costs one retain instead of copying
/// every field.
public struct Block: Sendable {
    @usableFromInline
    final class Storage: @unchecked Sendable {
        @exclusivity(unchecked) @usableFromInline var kind: Name
        @exclusivity(unchecked) @usableFromInline var name: Name?
        @exclusivity(unchecked) @usableFromInline var members: [Member]
        @exclusivity(unchecked) @usableFromInline var span: Span
        @exclusivity(unchecked) @usableFromInline var type: TypeExpr?
        @exclusivity(unchecked) @usableFromInline var defaultValue: Expr?
        @exclusivity(unchecked) @usableFromInline var cases: [Name]
        @exclusivity(unchecked) @usableFromInline var fields: [Field]
        @exclusivity(unchecked) @usableFromInline var hasBody: Bool

        @usableFromInline init(kind: Name, name: Name?, members: [Member], span: Span, type: TypeExpr?, defaultValue: Expr?,
             cases: [Name], fields: [Field], hasBody: Bool) {
            self.kind = kind
            self.name = name
            self.members = members
            self.span = span
            self.type = type
            self.defaultValue = defaultValue
            self.cases = cases
            self.fields = fields
            self.hasBody = hasBody
        }

        @usableFromInline func copy() -> Storage {
            Storage(kind: kind, name: name, members: members, span: span, type: type, defaultValue: defaultValue,
                    cases: cases, fields: fields, hasBody: hasBody)
        }
    }

    @usableFromInline var _s: Storage

    @inlinable mutating func _unique() {
        if !isKnownUniquelyReferenced(&_s) { _s = _s.copy() }
    }

    public var kind: Name {
        @inlinable get { _s.kind }
        @inlinable _modify { _unique(); yield &_s.kind }
    }
    public var name: Name? {
        @inlinable get { _s.name }
        @inlinable _modify { _unique(); yield &_s.name }
    }
    public var members: [Member] {
        @inlinable get { _s.members }
        @inlinable _modify { _unique(); yield &_s.members }
    }
    /// The whole block, keyword to closing brace.
    public var span: Span {
        @inlinable get { _s.span }
        @inlinable _modify { _unique(); yield &_s.span }
    }
    /// `input`/`output`: the declared type.
    public var type: TypeExpr? {
        @inlinable get { _s.type }
        @inlinable _modify { _unique(); yield &_s.type }
    }
    /// `input x: T = default`.
    public var defaultValue: Expr? {
        @inlinable get { _s.defaultValue }
        @inlinable _modify { _unique(); yield &_s.defaultValue }
    }
    /// `enum E { a, b }`.
    public var cases: [Name] {
        @inlinable get { _s.cases }
        @inlinable _modify { _unique(); yield &_s.cases }
    }
    /// `type R { f: T }`.
    public var fields: [Field] {
        @inlinable get { _s.fields }
        @inlinable _modify { _unique(); yield &_s.fields }
    }
    public var hasBody: Bool {
        @inlinable get { _s.hasBody }
        @inlinable _modify { _unique(); yield &_s.hasBody }
    }

    public init(kind: Name, name: Name?, span: Span) {
        _s = Storage(kind: kind, name: name, members: [], span: span, type: nil, defaultValue: nil,
                     cases: [], fields: [], hasBody: false)
    }

    /// Attributes in source order.
    public var attributes: [Attribute] {
        var out: [Attribute] = []
        for case .attribute(let a) in _s.members { out.append(a) }
        return out
    }

    /// Nested blocks in source order.
    public var blocks: [Block] {
        var out: [Block] = []
        for case .block(let b) in _s.members { out.append(b) }
        return out
    }

    /// The first attribute named `key`, without building the `attributes` array.
    public func attribute(_ key: String) -> Attribute? {
        for case .attribute(let a) in _s.members where a.key.text == key { return a }
        return nil
    }

    /// The first nested block of `kind`, without building the `blocks` array.
    public func firstBlock(_ kind: String) -> Block? {
        for case .block(let b) in _s.members where b.kind.text == kind { return b }
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

    /// Binding strength, loosest 1 to tightest 6; the one table the parser and both
    /// printers (formatter, YAML) use. Comparisons (4) do not chain.
    public var precedence: Int {
        switch self {
        case .coalesce: 1
        case .or: 2
        case .and: 3
        case .eq, .ne, .lt, .le, .gt, .ge, .in: 4
        case .add, .sub: 5
        case .mul, .div, .mod: 6
        }
    }
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
        // Iterative, filling one array: a reference costs one allocation.
        switch kind {
        case .name(let n): return [Name(n, span)]
        case .member: break
        default: return nil
        }
        var out: [Name] = []
        out.reserveCapacity(4)
        var e = self
        while true {
            switch e.kind {
            case .name(let n):
                out.append(Name(n, e.span))
                out.reverse()
                return out
            case .member(let base, let field):
                out.append(field)
                e = base
            default:
                return nil
            }
        }
    }
}
