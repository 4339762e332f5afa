import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits

/// A record type: named (`type Report {...}`) or the shape of a record literal.
public struct RecordType: Sendable, Hashable {
    public var name: String?
    public var fields: [String: Ty]
    public var order: [String]
}

/// ezflow's types. `error` is the poison type: anything involving it is accepted
/// silently, so one mistake yields one diagnostic.
public indirect enum Ty: Sendable, Hashable, CustomStringConvertible {
    case string, int, float, bool, duration, money, tokens, path, json
    /// A task's file artifact (docs/RUNTIME.md, "Files"): a path only in `run` and `env`.
    case file
    case list(Ty)
    case map(Ty)
    case optional(Ty)
    case record(RecordType)
    case enumeration(name: String, cases: [String])
    case null
    /// The element type of `[]`: fits any list.
    case nothing
    case error

    public var description: String {
        switch self {
        case .string: "string"
        case .int: "int"
        case .float: "float"
        case .bool: "bool"
        case .duration: "duration"
        case .money: "money"
        case .tokens: "tokens"
        case .path: "path"
        case .file: "file"
        case .json: "json"
        case .list(let t): "list[\(t)]"
        case .map(let t): "map[\(t)]"
        case .optional(let t): "\(t)?"
        case .record(let r):
            r.name ?? "{ " + r.order.map { "\($0): \(r.fields[$0]!)" }.joined(separator: ", ") + " }"
        case .enumeration(let n, _): n
        case .null: "null"
        case .nothing: "nothing"
        case .error: "{unknown}"
        }
    }

    /// duration, money and tokens carry units; mixing them is a unit error, not a type error.
    public var isUnit: Bool {
        switch self {
        case .duration, .money, .tokens: true
        default: false
        }
    }

    public var isNumeric: Bool { self == .int || self == .float }

    public var isError: Bool {
        switch self {
        case .error: true
        case .list(let t), .map(let t), .optional(let t): t.isError
        default: false
        }
    }

    /// How a value of this type is written, for help lines (`10m`, `$2.50`).
    public var example: String {
        if let k = literalKind { return k.example }
        switch self {
        case .string, .path: return "`\"text\"`"
        default: return withArticle("`\(self)`") + " value"
        }
    }

    /// The scalar kind a literal of this type has (`ezrun --input` reads the same ones).
    public var literalKind: LiteralKind? {
        switch self {
        case .duration, .money, .tokens, .int, .float, .bool: LiteralKind(rawValue: description)
        default: nil
        }
    }

    /// Whether a value of type `self` can stand where `expected` is wanted.
    public func fits(_ expected: Ty) -> Bool {
        if self == expected || isError || expected.isError { return true }
        switch (self, expected) {
        case (_, .json): return true
        case (.int, .float): return true
        case (.string, .path): return true
        case (.null, .optional): return true
        case (.nothing, _): return true
        case (_, .optional(let inner)): return fits(inner)
        case (.list(let a), .list(let b)): return a.fits(b)
        case (.map(let a), .map(let b)): return a.fits(b)
        case (.record(let a), .map(let v)): return a.fields.values.allSatisfy { $0.fits(v) }
        case (.record(let a), .record(let b)):
            // Structural: every field of the expected record present and fitting, no extras.
            guard a.name == nil || a.name == b.name else { return false }
            for (k, t) in b.fields {
                if let have = a.fields[k] { if !have.fits(t) { return false } }
                else if case .optional = t {} else { return false }
            }
            return a.fields.keys.allSatisfy { b.fields[$0] != nil }
        default: return false
        }
    }

    /// The common type of two branches (list elements), or nil when they do not agree.
    public func join(_ other: Ty) -> Ty? {
        if fits(other) { return other }
        if other.fits(self) { return self }
        if self == .null { return .optional(other) }
        if other == .null { return .optional(self) }
        if case .record(let a) = self, case .record(let b) = other, a.name == nil, b.name == nil { return Self.joinShapes(a, b) }
        return nil
    }

    /// Two record literals' shapes as one (`[{ image: "a" }, { image: "b", tag: null }]`):
    /// a field missing on one side is optional, so a list of records may leave an optional
    /// field out or set it to `null`; nil when a field's types do not agree.
    static func joinShapes(_ a: RecordType, _ b: RecordType) -> Ty? {
        var out = RecordType(name: nil, fields: [:], order: a.order + b.order.filter { a.fields[$0] == nil })
        for k in out.order {
            switch (a.fields[k], b.fields[k]) {
            case (let x?, let y?):
                guard let j = x.join(y) else { return nil }
                out.fields[k] = j
            case (let x?, nil), (nil, let x?):
                if case .optional = x { out.fields[k] = x } else { out.fields[k] = x == .null ? .null : .optional(x) }
            case (nil, nil): break
            }
        }
        return .record(out)
    }
}
