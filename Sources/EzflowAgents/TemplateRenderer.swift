// Evaluates IR expressions (docs/IR.md "Expressions") at dispatch time and renders a
// task's `template` parts into the text a driver sends (a command line, a prompt, a URL).
// Values come from the shell: workflow inputs, finished tasks' outputs, the fan-out item
// and the secrets granted to the task. A reference to a value that is not there is an
// error, never an empty string.
import EzflowIR

/// Why a template or expression could not be evaluated. Messages name references and
/// secrets by name only, never a secret's value.
public struct RenderError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The values an expression may read.
public struct RenderValues: Sendable {
    /// Workflow input values by name (defaults already applied by the shell).
    public var inputs: [String: JSONValue]
    /// Outputs object of each finished task, by task id. A `for_each` task's entry is an
    /// array with one outputs object per instance (its outputs then read as lists).
    public var taskOutputs: [Int: JSONValue]
    /// The current element of a `for_each` fan-out, if any.
    public var item: JSONValue?
    /// Resolved secret values by secret name: only the ones granted to the task.
    public var secrets: [String: String]
    /// Names of the ids in `taskOutputs` (the `deps` member drivers send), when the ids
    /// are not positions in the driver's task list (tasks of a sub-workflow scope).
    public var taskNames: [Int: String] = [:]

    public init(inputs: [String: JSONValue] = [:], taskOutputs: [Int: JSONValue] = [:], item: JSONValue? = nil,
                secrets: [String: String] = [:], taskNames: [Int: String] = [:]) {
        self.taskNames = taskNames
        self.inputs = inputs
        self.taskOutputs = taskOutputs
        self.item = item
        self.secrets = secrets
    }
}

extension RenderValues {
    /// The name of dependency `id`: from `taskNames`, else the task at that position.
    func depName(_ id: Int, tasks: [JSONValue]) -> String? {
        if let n = taskNames[id] { return n }
        guard id >= 0, id < tasks.count, case .string(let n)? = tasks[id]["name"] else { return nil }
        return n
    }
}

/// Evaluates IR expressions and renders templates against `RenderValues`.
///
/// Units evaluate to their integer IR encoding (durations in ms, money in micro-dollars,
/// tokens as a count), enum cases to their name. Text rendering: strings as they are,
/// numbers in decimal, `null` as the empty string, lists and records as canonical JSON.
public struct TemplateRenderer: Sendable {
    public var values: RenderValues

    public init(values: RenderValues) { self.values = values }

    /// Renders template parts (`[expr]`) into one string.
    public func render(_ parts: [JSONValue]) throws(RenderError) -> String {
        var out = ""
        for p in parts { out += Self.text(try evaluate(p)) }
        return out
    }

    /// Renders one expression as text (an `env` value, a single part).
    public func renderText(_ expr: JSONValue) throws(RenderError) -> String {
        Self.text(try evaluate(expr))
    }

    /// The text form of a value.
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

    /// Evaluates one expression object.
    public func evaluate(_ expr: JSONValue) throws(RenderError) -> JSONValue {
        guard case .object(let members) = expr, let (kind, arg) = members.first(where: { $0.0 != "args" }) ?? members.first else {
            throw RenderError("malformed expression: \(expr.typeName)")
        }
        switch kind {
        case "text":
            guard case .string = arg else { throw RenderError("malformed `text` expression") }
            return arg
        case "template":
            guard case .array(let parts) = arg else { throw RenderError("malformed `template` expression") }
            return .string(try render(parts))
        case "int", "duration_ms", "money_micros", "tokens":
            guard case .int = arg else { throw RenderError("malformed `\(kind)` expression") }
            return arg
        case "float":
            if case .int(let i) = arg { return .float(Double(i)) }
            guard case .float = arg else { throw RenderError("malformed `float` expression") }
            return arg
        case "bool":
            guard case .bool = arg else { throw RenderError("malformed `bool` expression") }
            return arg
        case "null": return .null
        case "list":
            guard case .array(let items) = arg else { throw RenderError("malformed `list` expression") }
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for i in items { out.append(try evaluate(i)) }
            return .array(out)
        case "record":
            guard case .object(let fields) = arg else { throw RenderError("malformed `record` expression") }
            var out: [(String, JSONValue)] = []
            for (k, v) in fields { out.append((k, try evaluate(v))) }
            return .object(out)
        case "enum":
            guard case .array(let p) = arg, p.count == 2, case .string(let c) = p[1] else { throw RenderError("malformed `enum` expression") }
            return .string(c)
        case "secret":
            guard case .string(let name) = arg else { throw RenderError("malformed `secret` expression") }
            guard let v = values.secrets[name] else { throw RenderError("secret `\(name)` is not granted to this task") }
            return .string(v)
        case "item":
            guard case .array(let path) = arg else { throw RenderError("malformed `item` expression") }
            guard let item = values.item else { throw RenderError("`item` used outside a for_each instance") }
            return try Self.follow(item, path[...], what: "item")
        case "ref":
            guard case .array(let path) = arg else { throw RenderError("malformed `ref` expression") }
            return try ref(path)
        case "op":
            return try op(arg, members)
        case "call":
            return try call(arg, members)
        case "index":
            guard case .array(let p) = arg, p.count == 2 else { throw RenderError("malformed `index` expression") }
            let base = try evaluate(p[0]), i = try evaluate(p[1])
            switch (base, i) {
            case (.array(let items), .int(let n)):
                guard n >= 0, n < items.count else { throw RenderError("index \(n) out of range (the list has \(items.count) elements)") }
                return items[Int(n)]
            case (.object, .string(let k)):
                return base[k] ?? .null
            default:
                throw RenderError("cannot index \(base.typeName) with \(i.typeName)")
            }
        case "field":
            guard case .array(let p) = arg, p.count == 2, case .string(let name) = p[1] else {
                throw RenderError("malformed `field` expression")
            }
            return try Self.follow(try evaluate(p[0]), [.string(name)][...], what: "value")
        default:
            throw RenderError("unknown expression kind `\(kind)`")
        }
    }

    func ref(_ path: [JSONValue]) throws(RenderError) -> JSONValue {
        guard case .string(let head)? = path.first else { throw RenderError("malformed `ref` expression") }
        switch head {
        case "inputs":
            guard path.count >= 2, case .string(let name) = path[1] else { throw RenderError("malformed input reference") }
            guard let v = values.inputs[name] else { throw RenderError("input `\(name)` has no value") }
            return try Self.follow(v, path[2...], what: "inputs.\(name)")
        case "task":
            guard path.count >= 4, case .int(let id) = path[1], case .string("outputs") = path[2],
                  case .string(let name) = path[3] else { throw RenderError("malformed task output reference") }
            guard let outs = values.taskOutputs[Int(id)] else { throw RenderError("task \(id) has no outputs (it has not succeeded)") }
            let what = "task \(id) output `\(name)`"
            if case .array(let instances) = outs {
                var list: [JSONValue] = []
                for inst in instances {
                    guard let v = inst[name] else { throw RenderError("\(what) is missing in a for_each instance") }
                    list.append(v)
                }
                return try Self.follow(.array(list), path[4...], what: what)
            }
            guard let v = outs[name] else { throw RenderError("\(what) is missing") }
            return try Self.follow(v, path[4...], what: what)
        default:
            throw RenderError("reference `\(head)` cannot be evaluated in a task")
        }
    }

    /// Follows record fields; a missing field is an error.
    static func follow(_ base: JSONValue, _ fields: ArraySlice<JSONValue>, what: String) throws(RenderError) -> JSONValue {
        var v = base
        var path = what
        for f in fields {
            guard case .string(let name) = f else { throw RenderError("malformed field path after \(path)") }
            guard case .object = v else { throw RenderError("\(path) is \(v.typeName), not a record (reading `\(name)`)") }
            guard let next = v[name] else { throw RenderError("\(path) has no field `\(name)`") }
            v = next
            path += ".\(name)"
        }
        return v
    }

    func args(_ members: [(String, JSONValue)], _ n: Int, _ what: String) throws(RenderError) -> [JSONValue] {
        guard case .array(let a)? = members.first(where: { $0.0 == "args" })?.1, a.count == n else {
            throw RenderError("`\(what)` takes \(n) argument\(n == 1 ? "" : "s")")
        }
        return a
    }

    func op(_ arg: JSONValue, _ members: [(String, JSONValue)]) throws(RenderError) -> JSONValue {
        guard case .string(let o) = arg else { throw RenderError("malformed operator") }
        if o == "!" || o == "neg" {
            let v = try evaluate(try args(members, 1, o)[0])
            switch (o, v) {
            case ("!", .bool(let b)): return .bool(!b)
            case ("neg", .int(let i)): return .int(0 &- i)
            case ("neg", .float(let d)): return .float(-d)
            default: throw RenderError("`\(o)` cannot be applied to \(v.typeName)")
            }
        }
        let a = try args(members, 2, o)
        // Short-circuit operators evaluate the right side only when needed.
        switch o {
        case "&&", "||":
            guard case .bool(let l) = try evaluate(a[0]) else { throw RenderError("`\(o)` needs bool operands") }
            if o == "&&" && !l { return .bool(false) }
            if o == "||" && l { return .bool(true) }
            guard case .bool(let r) = try evaluate(a[1]) else { throw RenderError("`\(o)` needs bool operands") }
            return .bool(r)
        case "??":
            let l = try evaluate(a[0])
            return l == .null ? try evaluate(a[1]) : l
        default: break
        }
        let l = try evaluate(a[0]), r = try evaluate(a[1])
        func bad() -> RenderError { RenderError("`\(o)` cannot be applied to \(l.typeName) and \(r.typeName)") }
        switch o {
        case "==": return .bool(Self.equal(l, r))
        case "!=": return .bool(!Self.equal(l, r))
        case "<", "<=", ">", ">=":
            let c: Int
            switch (l, r) {
            case (.int(let x), .int(let y)): c = x < y ? -1 : (x == y ? 0 : 1)
            case (.string(let x), .string(let y)): c = x < y ? -1 : (x == y ? 0 : 1)
            default:
                guard let x = Self.double(l), let y = Self.double(r) else { throw bad() }
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
            case (_, .array(let items)): return .bool(items.contains { Self.equal($0, l) })
            case (.string(let k), .object): return .bool(r[k] != nil)
            case (.string(let x), .string(let y)): return .bool(x.isEmpty || y.contains(x))
            default: throw bad()
            }
        case "+":
            switch (l, r) {
            case (.int(let x), .int(let y)):
                let (s, o) = x.addingReportingOverflow(y)
                if o { throw RenderError("integer overflow in `+`") }
                return .int(s)
            case (.string(let x), .string(let y)): return .string(x + y)
            case (.array(let x), .array(let y)): return .array(x + y)
            default:
                guard let x = Self.double(l), let y = Self.double(r) else { throw bad() }
                return .float(x + y)
            }
        case "-", "*", "/", "%":
            if case .int(let x) = l, case .int(let y) = r {
                switch o {
                case "-":
                    let (v, ov) = x.subtractingReportingOverflow(y)
                    if ov { throw RenderError("integer overflow in `-`") }
                    return .int(v)
                case "*":
                    let (v, ov) = x.multipliedReportingOverflow(by: y)
                    if ov { throw RenderError("integer overflow in `*`") }
                    return .int(v)
                default:
                    if y == 0 { throw RenderError("division by zero") }
                    if x == .min && y == -1 { throw RenderError("integer overflow in `\(o)`") }
                    return .int(o == "/" ? x / y : x % y)
                }
            }
            guard o != "%", let x = Self.double(l), let y = Self.double(r) else { throw bad() }
            switch o {
            case "-": return .float(x - y)
            case "*": return .float(x * y)
            default:
                if y == 0 { throw RenderError("division by zero") }
                return .float(x / y)
            }
        default:
            throw RenderError("unknown operator `\(o)`")
        }
    }

    func call(_ arg: JSONValue, _ members: [(String, JSONValue)]) throws(RenderError) -> JSONValue {
        guard case .string(let f) = arg else { throw RenderError("malformed call") }
        let arity: [String: Int] = ["len": 1, "join": 2, "upper": 1, "lower": 1, "contains": 2, "keys": 1, "default": 2]
        guard let n = arity[f] else { throw RenderError("unknown function `\(f)`") }
        let raw = try args(members, n, f)
        if f == "default" {
            let v = try evaluate(raw[0])
            return v == .null ? try evaluate(raw[1]) : v
        }
        var a: [JSONValue] = []
        for x in raw { a.append(try evaluate(x)) }
        func bad() -> RenderError { RenderError("wrong argument types for `\(f)`: (\(a.map(\.typeName).joined(separator: ", ")))") }
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
            return .string(items.map(Self.text).joined(separator: sep))
        case "upper", "lower":
            guard case .string(let s) = a[0] else { throw bad() }
            return .string(f == "upper" ? s.uppercased() : s.lowercased())
        case "contains":
            switch (a[0], a[1]) {
            case (.array(let items), let x): return .bool(items.contains { Self.equal($0, x) })
            case (.string(let s), .string(let x)): return .bool(x.isEmpty || s.contains(x))
            default: throw bad()
            }
        default:  // keys
            guard case .object(let m) = a[0] else { throw bad() }
            return .array(m.map(\.0).sorted(by: JSONValue.keyLess).map { .string($0) })
        }
    }

    static func double(_ v: JSONValue) -> Double? {
        switch v {
        case .int(let i): Double(i)
        case .float(let d): d
        default: nil
        }
    }

    /// Equality with int/float comparing numerically.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .float(let y)): return Double(x) == y
        case (.float(let x), .int(let y)): return x == Double(y)
        default: return a == b
        }
    }
}
