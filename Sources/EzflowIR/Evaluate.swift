// The one evaluator of IR expressions (docs/IR.md "Expressions"). Pure: values come from
// an `ExprEnvironment` (inputs, task outputs, the fan-out item, granted secrets), nothing
// is read from the world. It sits in the IR layer so that the runtime core can decide a
// condition and the drivers (`TemplateRenderer`) can render a template with the same code.
//
// Units evaluate to their integer IR encoding (durations in ms, money in micro-dollars,
// tokens as a count), enum cases to their name. A reference to a value that is not there
// is an error, never an empty string.
import EzflowUnits

/// What an expression may read. Task ids are the IR ids of the expression's workflow scope.
public protocol ExprEnvironment {
    /// The value of workflow input `name`, nil when it has none.
    func input(_ name: String) -> JSONValue?
    /// The outputs object of IR task `id` (a `for_each` task: an array with one outputs
    /// object per instance), nil while it has none.
    func outputs(ofTask id: Int) -> JSONValue?
    /// The current element of a `for_each` fan-out, if any.
    var item: JSONValue? { get }
    /// A resolved secret granted to the reader, nil when not granted.
    func secret(_ name: String) -> String?
    /// The declared name of IR task `id`, for messages: a person never reads a task's id.
    func taskName(_ id: Int) -> String?
    /// How IR task `id` ended (`succeeded`, `failed`, `skipped`, `cancelled`: `TASK.status`),
    /// nil while it has not.
    func status(ofTask id: Int) -> String?
    /// Whether the reader's outputs of IR task `id` are typed optional (a `run_on:
    /// failure|always` reader, an `allow_failure` task): once it ended without them they
    /// read as null instead of an error.
    func outputsMayBeMissing(ofTask id: Int) -> Bool
    /// `run.status` / `run.failures` (a `finally` task's), nil elsewhere.
    func runValue(_ name: String) -> JSONValue?
}

extension ExprEnvironment {
    /// No names known: messages then say "an upstream task", never its id.
    public func taskName(_ id: Int) -> String? { nil }
    /// No statuses known: outputs of a task without them are an error, as before conditions.
    public func status(ofTask id: Int) -> String? { nil }
    public func outputsMayBeMissing(ofTask id: Int) -> Bool { false }
    public func runValue(_ name: String) -> JSONValue? { nil }
}

/// Why an expression has no value. Messages name references and secrets by name only,
/// never a secret's value.
public struct ExprError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Malformed, or the values do not fit (a type, an overflow, a missing field or input).
        case invalid
        /// The expression reads outputs of IR task `task`, which has none (yet).
        case noOutputs(task: Int)
    }
    public var kind: Kind
    public var message: String

    public init(_ message: String, kind: Kind = .invalid) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Evaluation of IR expressions and the text form of values.
public enum IRExpr {
    /// The value of `expr` in `env`.
    public static func evaluate<E: ExprEnvironment>(_ expr: JSONValue, in env: E) throws(ExprError) -> JSONValue {
        try Evaluator(env: env).evaluate(expr)
    }

    /// Template parts (`[expr]`) rendered into one string.
    public static func render<E: ExprEnvironment>(_ parts: [JSONValue], in env: E) throws(ExprError) -> String {
        try Evaluator(env: env).render(parts)
    }

    /// The text form of a value: strings as they are, numbers in decimal, `null` as the
    /// empty string, lists and records as canonical JSON.
    public static func text(_ v: JSONValue) -> String {
        switch v {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .float(let d): return CanonicalJSON.floatText(d)
        case .string(let s): return s
        case .array, .object, .raw: return String(decoding: CanonicalJSON.encode(v), as: UTF8.self)
        }
    }

    /// Equality with int/float comparing numerically.
    public static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .float(let y)): return Double(x) == y
        case (.float(let x), .int(let y)): return x == Double(y)
        default: return a == b
        }
    }

    static func double(_ v: JSONValue) -> Double? {
        switch v {
        case .int(let i): Double(i)
        case .float(let d): d
        default: nil
        }
    }

    /// Follows record fields; a missing field is an error.
    static func follow(_ base: JSONValue, _ fields: ArraySlice<JSONValue>, what: String) throws(ExprError) -> JSONValue {
        var v = base
        var path = what
        for f in fields {
            guard case .string(let name) = f else { throw ExprError("malformed field path after \(path)") }
            guard case .object = v else { throw ExprError("\(path) is \(v.typeName), not a record (reading `\(name)`)") }
            guard let next = v[name] else { throw ExprError("\(path) has no field `\(name)`") }
            v = next
            path += ".\(name)"
        }
        return v
    }
}

/// One evaluation: the expression kinds, references, operators and calls.
struct Evaluator<E: ExprEnvironment> {
    let env: E

    func render(_ parts: [JSONValue]) throws(ExprError) -> String {
        var out = ""
        for p in parts { out += IRExpr.text(try evaluate(p)) }
        return out
    }

    func evaluate(_ expr: JSONValue) throws(ExprError) -> JSONValue {
        guard case .object(let members) = expr, let (kind, arg) = members.first(where: { $0.0 != "args" }) ?? members.first else {
            throw ExprError("malformed expression: \(expr.typeName)")
        }
        switch kind {
        case "text", "template", "int", "duration_ms", "money_micros", "tokens", "float", "bool", "null", "enum":
            return try literal(kind, arg)
        case "list":
            guard case .array(let items) = arg else { throw ExprError("malformed `list` expression") }
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for i in items { out.append(try evaluate(i)) }
            return .array(out)
        case "record":
            guard case .object(let fields) = arg else { throw ExprError("malformed `record` expression") }
            var out: [(String, JSONValue)] = []
            for (k, v) in fields { out.append((k, try evaluate(v))) }
            return .object(out)
        case "secret":
            guard case .string(let name) = arg else { throw ExprError("malformed `secret` expression") }
            guard let v = env.secret(name) else { throw ExprError("secret `\(name)` is not granted to this task") }
            return .string(v)
        case "item":
            guard case .array(let path) = arg else { throw ExprError("malformed `item` expression") }
            guard let item = env.item else { throw ExprError("`item` used outside a for_each instance") }
            return try IRExpr.follow(item, path[...], what: "item")
        case "ref":
            guard case .array(let path) = arg else { throw ExprError("malformed `ref` expression") }
            return try ref(path)
        case "op":
            return try op(arg, members)
        case "call":
            return try call(arg, members)
        case "index", "field":
            return try access(kind, arg)
        default:
            throw ExprError("unknown expression kind `\(kind)`")
        }
    }

    /// Literals, templates and enum cases.
    func literal(_ kind: String, _ arg: JSONValue) throws(ExprError) -> JSONValue {
        switch kind {
        case "text":
            guard case .string = arg else { throw ExprError("malformed `text` expression") }
            return arg
        case "template":
            guard case .array(let parts) = arg else { throw ExprError("malformed `template` expression") }
            return .string(try render(parts))
        case "float":
            if case .int(let i) = arg { return .float(Double(i)) }
            guard case .float = arg else { throw ExprError("malformed `float` expression") }
            return arg
        case "bool":
            guard case .bool = arg else { throw ExprError("malformed `bool` expression") }
            return arg
        case "null":
            return .null
        case "enum":
            guard case .array(let p) = arg, p.count == 2, case .string(let c) = p[1] else { throw ExprError("malformed `enum` expression") }
            return .string(c)
        default:  // int and the units
            guard case .int = arg else { throw ExprError("malformed `\(kind)` expression") }
            return arg
        }
    }

    /// `index` (a list element or a record member) and `field`.
    func access(_ kind: String, _ arg: JSONValue) throws(ExprError) -> JSONValue {
        if kind == "field" {
            guard case .array(let p) = arg, p.count == 2, case .string(let name) = p[1] else {
                throw ExprError("malformed `field` expression")
            }
            return try IRExpr.follow(try evaluate(p[0]), [.string(name)][...], what: "value")
        }
        guard case .array(let p) = arg, p.count == 2 else { throw ExprError("malformed `index` expression") }
        let base = try evaluate(p[0]), i = try evaluate(p[1])
        switch (base, i) {
        case (.array(let items), .int(let n)):
            guard n >= 0, n < items.count else { throw ExprError("index \(n) out of range (the list has \(Units.counted(items.count, "element")))") }
            return items[Int(n)]
        case (.object, .string(let k)):
            return base[k] ?? .null
        default:
            throw ExprError("cannot index \(base.typeName) with \(i.typeName)")
        }
    }

    func ref(_ path: [JSONValue]) throws(ExprError) -> JSONValue {
        guard case .string(let head)? = path.first else { throw ExprError("malformed `ref` expression") }
        switch head {
        case "inputs":
            guard path.count >= 2, case .string(let name) = path[1] else { throw ExprError("malformed input reference") }
            guard let v = env.input(name) else { throw ExprError("input `\(name)` has no value") }
            return try IRExpr.follow(v, path[2...], what: "inputs.\(name)")
        case "task":
            if path.count == 3, case .int(let id) = path[1], case .string("status") = path[2] {
                guard let s = env.status(ofTask: Int(id)) else {
                    let task = env.taskName(Int(id)).map { "task `\($0)`" } ?? "an upstream task"
                    throw ExprError("\(task) has not ended", kind: .noOutputs(task: Int(id)))
                }
                return .string(s)
            }
            guard path.count >= 4, case .int(let id) = path[1], case .string("outputs") = path[2],
                  case .string(let name) = path[3] else { throw ExprError("malformed task output reference") }
            let task = env.taskName(Int(id)).map { "task `\($0)`" } ?? "an upstream task"
            guard let outs = env.outputs(ofTask: Int(id)) else {
                // Ended without outputs (failed, skipped): the checker typed the read optional.
                if env.outputsMayBeMissing(ofTask: Int(id)), let s = env.status(ofTask: Int(id)), s != "succeeded" { return .null }
                throw ExprError("\(task) has no outputs (it has not succeeded)", kind: .noOutputs(task: Int(id)))
            }
            let what = "\(task)'s output `\(name)`"
            if case .array(let instances) = outs {
                var list: [JSONValue] = []
                for inst in instances {
                    guard let v = inst[name] else { throw ExprError("\(what) is missing in a for_each instance") }
                    list.append(v)
                }
                return try IRExpr.follow(.array(list), path[4...], what: what)
            }
            guard let v = outs[name] else { throw ExprError("\(what) is missing") }
            return try IRExpr.follow(v, path[4...], what: what)
        case "run":
            guard path.count == 2, case .string(let name) = path[1] else { throw ExprError("malformed `run` reference") }
            guard let v = env.runValue(name) else { throw ExprError("`run.\(name)` is known only in a `finally` task") }
            return v
        default:
            throw ExprError("reference `\(head)` cannot be evaluated in a task")
        }
    }

    func args(_ members: [(String, JSONValue)], _ n: Int, _ what: String) throws(ExprError) -> [JSONValue] {
        guard case .array(let a)? = members.first(where: { $0.0 == "args" })?.1, a.count == n else {
            throw ExprError("`\(what)` takes \(Units.counted(n, "argument"))")
        }
        return a
    }

    func op(_ arg: JSONValue, _ members: [(String, JSONValue)]) throws(ExprError) -> JSONValue {
        guard case .string(let o) = arg else { throw ExprError("malformed operator") }
        if o == "!" || o == "neg" {
            let v = try evaluate(try args(members, 1, o)[0])
            switch (o, v) {
            case ("!", .bool(let b)): return .bool(!b)
            case ("neg", .int(let i)): return .int(0 &- i)
            case ("neg", .float(let d)): return .float(-d)
            default: throw ExprError("`\(o)` cannot be applied to \(v.typeName)")
            }
        }
        let a = try args(members, 2, o)
        // Short-circuit operators evaluate the right side only when needed.
        switch o {
        case "&&", "||":
            guard case .bool(let l) = try evaluate(a[0]) else { throw ExprError("`\(o)` needs bool operands") }
            if o == "&&" && !l { return .bool(false) }
            if o == "||" && l { return .bool(true) }
            guard case .bool(let r) = try evaluate(a[1]) else { throw ExprError("`\(o)` needs bool operands") }
            return .bool(r)
        case "??":
            let l = try evaluate(a[0])
            return l == .null ? try evaluate(a[1]) : l
        default:
            return try binary(o, try evaluate(a[0]), try evaluate(a[1]))
        }
    }

    /// A strict binary operator on two values.
    func binary(_ o: String, _ l: JSONValue, _ r: JSONValue) throws(ExprError) -> JSONValue {
        func bad() -> ExprError { ExprError("`\(o)` cannot be applied to \(l.typeName) and \(r.typeName)") }
        switch o {
        case "==": return .bool(IRExpr.equal(l, r))
        case "!=": return .bool(!IRExpr.equal(l, r))
        case "<", "<=", ">", ">=":
            let c: Int
            switch (l, r) {
            case (.int(let x), .int(let y)): c = x < y ? -1 : (x == y ? 0 : 1)
            case (.string(let x), .string(let y)): c = x < y ? -1 : (x == y ? 0 : 1)
            default:
                guard let x = IRExpr.double(l), let y = IRExpr.double(r) else { throw bad() }
                c = x < y ? -1 : (x == y ? 0 : 1)
            }
            switch o {
            case "<": return .bool(c < 0)
            case "<=": return .bool(c <= 0)
            case ">": return .bool(c > 0)
            default: return .bool(c >= 0)
            }
        case "in":
            switch (l, r) {
            case (_, .array(let items)): return .bool(items.contains { IRExpr.equal($0, l) })
            case (.string(let k), .object): return .bool(r[k] != nil)
            case (.string(let x), .string(let y)): return .bool(x.isEmpty || y.contains(x))
            default: throw bad()
            }
        case "+":
            switch (l, r) {
            case (.int(let x), .int(let y)):
                let (s, o) = x.addingReportingOverflow(y)
                if o { throw ExprError("integer overflow in `+`") }
                return .int(s)
            case (.string(let x), .string(let y)): return .string(x + y)
            case (.array(let x), .array(let y)): return .array(x + y)
            default:
                guard let x = IRExpr.double(l), let y = IRExpr.double(r) else { throw bad() }
                return .float(x + y)
            }
        case "-", "*", "/", "%":
            return try arithmetic(o, l, r, bad)
        default:
            throw ExprError("unknown operator `\(o)`")
        }
    }

    /// `- * / %`: checked on integers, IEEE on floats (`%` is integers only).
    func arithmetic(_ o: String, _ l: JSONValue, _ r: JSONValue, _ bad: () -> ExprError) throws(ExprError) -> JSONValue {
        if case .int(let x) = l, case .int(let y) = r {
            switch o {
            case "-":
                let (v, ov) = x.subtractingReportingOverflow(y)
                if ov { throw ExprError("integer overflow in `-`") }
                return .int(v)
            case "*":
                let (v, ov) = x.multipliedReportingOverflow(by: y)
                if ov { throw ExprError("integer overflow in `*`") }
                return .int(v)
            default:
                if y == 0 { throw ExprError("division by zero") }
                if x == .min && y == -1 { throw ExprError("integer overflow in `\(o)`") }
                return .int(o == "/" ? x / y : x % y)
            }
        }
        guard o != "%", let x = IRExpr.double(l), let y = IRExpr.double(r) else { throw bad() }
        switch o {
        case "-": return .float(x - y)
        case "*": return .float(x * y)
        default:
            if y == 0 { throw ExprError("division by zero") }
            return .float(x / y)
        }
    }

    func call(_ arg: JSONValue, _ members: [(String, JSONValue)]) throws(ExprError) -> JSONValue {
        guard case .string(let f) = arg else { throw ExprError("malformed call") }
        let arity: [String: Int] = ["len": 1, "join": 2, "upper": 1, "lower": 1, "contains": 2, "keys": 1, "default": 2]
        guard let n = arity[f] else { throw ExprError("unknown function `\(f)`") }
        let raw = try args(members, n, f)
        if f == "default" {
            let v = try evaluate(raw[0])
            return v == .null ? try evaluate(raw[1]) : v
        }
        var a: [JSONValue] = []
        for x in raw { a.append(try evaluate(x)) }
        func bad() -> ExprError { ExprError("wrong argument types for `\(f)`: (\(a.map(\.typeName).joined(separator: ", ")))") }
        switch f {
        case "len":
            switch a[0] {
            case .array(let x): return .int(Int64(x.count))
            case .object(let x): return .int(Int64(x.count))
            case .string(let s): return .int(Int64(s.count))
            default: throw bad()
            }
        case "join":
            guard case .array(let items) = a[0], case .string(let sep) = a[1] else { throw bad() }
            return .string(items.map(IRExpr.text).joined(separator: sep))
        case "upper", "lower":
            guard case .string(let s) = a[0] else { throw bad() }
            return .string(f == "upper" ? s.uppercased() : s.lowercased())
        case "contains":
            switch (a[0], a[1]) {
            case (.array(let items), let x): return .bool(items.contains { IRExpr.equal($0, x) })
            case (.string(let s), .string(let x)): return .bool(x.isEmpty || s.contains(x))
            default: throw bad()
            }
        default:  // keys
            guard case .object(let m) = a[0] else { throw bad() }
            return .array(m.map(\.0).sorted(by: JSONValue.keyLess).map { .string($0) })
        }
    }
}
