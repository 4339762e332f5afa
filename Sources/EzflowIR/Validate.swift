import EzflowAttributes
import EzflowUnits

/// Why an IR document was refused: the JSON path of the bad field and what is wrong,
/// rendered as `tasks[3].retry.attempts: must be >= 1, found 0`.
public struct IRValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A JSON path (`tasks[3].retry.attempts`); empty for the document as a whole.
    public var path: String
    public var message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Resource limits (money, tokens, time); each nil when unlimited.
public struct IRBudget: Sendable, Equatable {
    public var moneyMicros: Int64?
    public var tokens: Int64?
    public var timeMs: Int64?
    /// `strict: true`: the checker made a worst case over a limit an error. The runtime
    /// enforces every budget the same way; it is carried so no attribute is dropped.
    public var strict: Bool

    public init(moneyMicros: Int64?, tokens: Int64?, timeMs: Int64?, strict: Bool = false) {
        self.moneyMicros = moneyMicros
        self.tokens = tokens
        self.timeMs = timeMs
        self.strict = strict
    }
}

/// A resolved retry rule.
public struct IRRetry: Sendable, Equatable {
    public var attempts: Int64
    public var backoff: String
    public var delayMs: Int64
    public var maxDelayMs: Int64?
    public var jitter: String
    /// The classes retried; nil: `on` left out, every class a retry can fix (`RetryClasses`).
    public var on: [String]?
    /// `exponential`'s factor in parts per million; nil: 2.
    public var factorPPM: Int64?
    /// The fallback: a task id of the same workflow, or an agent name; at most one is set.
    public var catchTask: Int?
    public var catchAgent: String?

    public init(attempts: Int64, backoff: String, delayMs: Int64, maxDelayMs: Int64?, jitter: String, on: [String]?,
                catchTask: Int? = nil, catchAgent: String? = nil, factorPPM: Int64? = nil) {
        self.factorPPM = factorPPM
        self.attempts = attempts
        self.backoff = backoff
        self.delayMs = delayMs
        self.maxDelayMs = maxDelayMs
        self.jitter = jitter
        self.on = on
        self.catchTask = catchTask
        self.catchAgent = catchAgent
    }
}

/// An agent the workflow may dispatch to.
public struct IRAgent: Sendable, Equatable {
    public var name: String
    public var driver: String?
    public var capabilities: [String]
    public var concurrency: Int64
    public var costPerCallMicros: Int64
    public var costPer1kTokensMicros: Int64
    public var costPerSecondMicros: Int64
    /// Prices per 1k input (prompt) and output (completion) tokens of models without a
    /// `prices` entry (0 when the IR leaves them out).
    public var costPer1kInputTokensMicros: Int64 = 0
    public var costPer1kOutputTokensMicros: Int64 = 0
    /// The agent's own `model`.
    public var model: String? = nil
    /// `prices`: per-model input and output prices, by model.
    public var prices: [String: IRModelPrice] = [:]
    /// `breaker_failures` / `breaker_cool_down`; nil: the run's defaults.
    public var breakerFailures: Int64? = nil
    public var breakerCoolDownMs: Int64? = nil
    /// The health check: a URL (http/llm) or a command line (exec), and its period; nil: none.
    public var healthURL: String? = nil
    public var healthCommand: String? = nil
    public var healthIntervalMs: Int64? = nil

    /// The input and output prices per 1k tokens of `model` (the task's, else the agent's).
    public func splitPrices(model m: String?) -> IRModelPrice {
        if let m = m ?? model, let p = prices[m] { return p }
        return IRModelPrice(inputMicros: costPer1kInputTokensMicros, outputMicros: costPer1kOutputTokensMicros)
    }
}

/// One model's prices per 1k input and output tokens (an agent's `prices` entry).
public struct IRModelPrice: Sendable, Equatable {
    public var inputMicros: Int64
    public var outputMicros: Int64
    public init(inputMicros: Int64, outputMicros: Int64) {
        self.inputMicros = inputMicros
        self.outputMicros = outputMicros
    }
}

/// One task, with the fields the scheduler reads typed; everything else is in `json`.
public struct IRTask: Sendable {
    public var id: Int
    public var name: String
    /// `run`, `prompt`, `call`, `approve` or `workflow`.
    public var action: String
    /// Ids of the tasks this one waits for; all smaller than `id`.
    public var deps: [Int]
    public var priority: Int64
    public var timeoutMs: Int64?
    public var retry: IRRetry?
    /// The task's further rules after `retry`, in order (`retry_more`; empty: one rule or none).
    public var retryMore: [IRRetry] = []
    public var budget: IRBudget?
    public var role: String?
    /// Agents that may run this task (capabilities, driver and role all allow them).
    public var agents: [String]
    public var tags: [String]
    /// Runs only as another task's `catch` fallback.
    public var fallback: Bool
    /// The called workflow of a `workflow` task.
    public var workflow: IRWorkflow?
    /// The task's JSON object as written.
    public var json: JSONValue
}

/// A workflow (the program, or a nested sub-program).
public struct IRWorkflow: Sendable {
    public var name: String
    public var tasks: [IRTask]
    public var agents: [IRAgent]
    public var budget: IRBudget?
    public var deadlineMs: Int64?
    public var maxParallel: Int64?
    public var selector: String?
    /// The workflow's JSON object as written.
    public var json: JSONValue
}

/// A validated IR document.
public struct IRProgram: Sendable {
    public var version: Int
    /// `sha256:` + hex, verified against the content.
    public var hash: String
    public var workflow: IRWorkflow
    public var document: JSONValue
}

/// Validates IR bytes: JSON syntax, the `ezir` version, every field's presence and
/// type, dense ids in topological order (deps point backwards), references in range,
/// non-negative quantities, `attempts >= 1`, and the content hash. The runtime loads
/// only what this accepts; `ezc build` runs it on its own output before writing.
public func validate(_ bytes: [UInt8]) throws(IRValidationError) -> IRProgram {
    let doc: JSONValue
    do { doc = try JSONParser.parse(bytes) } catch { throw IRValidationError(path: "", message: error.description) }
    return try validate(document: doc)
}

/// Like `validate(_:)` for an already parsed document.
public func validate(document doc: JSONValue) throws(IRValidationError) -> IRProgram {
    guard case .object(let members) = doc else {
        throw IRValidationError(path: "", message: "expected a JSON object, found \(doc.typeName)")
    }
    var v = IRValidator()
    let root = try v.object(doc, "", allowed: IRValidator.workflowKeys.union(["ezir", "hash", "source_map"]))
    let version = try v.int(root, "ezir", min: 0)
    guard version == Int64(ezirVersion) else {
        throw IRValidationError(path: "ezir", message: "unsupported version \(version) (this build reads \(ezirVersion))")
    }
    let hash = try v.string(root, "hash")
    let workflow = try v.workflow(doc, path: "")
    // `source_map` is optional (goldens leave it out); when present it must be an object.
    if let sm = root["source_map"], sm.typeName != "object" { throw IRValidationError(path: "source_map", message: "expected object, found \(sm.typeName)") }
    let expected = IRDocument.hash(of: members)
    guard hash == expected else {
        throw IRValidationError(path: "hash", message: "does not match the content (computed \(expected))")
    }
    return IRProgram(version: Int(version), hash: hash, workflow: workflow, document: doc)
}

/// An object being validated: its members by key and its path.
struct IRObject {
    var members: [(String, JSONValue)]
    var path: String
    func sub(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
    /// Linear lookup: IR objects have at most ~30 members.
    subscript(_ key: String) -> JSONValue? {
        for (k, v) in members where k == key { return v }
        return nil
    }
}

struct IRValidator {
    static let workflowKeys: Set<String> = [
        "name", "inputs", "outputs", "budget", "deadline_ms", "selector", "max_parallel",
        "agents", "roles", "secrets", "policies", "types", "groups", "tasks",
    ]
    /// A task's fields: those its attributes are written to (`AttributeTable`), plus the
    /// ones lowering derives.
    static let taskKeys: Set<String> = AttributeTable.irKeys("task").union([
        "id", "name", "group", "action", "permissions", "agents", "budget", "item_type", "outputs", "policies", "fallback",
        "retry_more", "matrix", "needs_item", "status_deps", "finally", "compensation", "loop",
    ])
    static let actions: Set<String> = ["run", "prompt", "call", "approve", "workflow", "loop"]
    /// Task fields lowering writes only when the attribute is given (absent: not given),
    /// so IR from before they existed keeps its hash.
    static let optionalTaskKeys: Set<String> = ["self_approval", "system", "messages", "temperature_ppm", "stop", "on_timeout", "escalate_to",
                                                "escalate_timeout_ms", "retry_more", "matrix", "needs_item", "when", "run_on", "allow_failure", "status_deps", "finally",
                                                "max_items", "compensate", "compensation", "loop"]
    /// Agent fields written the same way: the format and the input/output prices.
    static let optionalAgentKeys: Set<String> = ["cost_per_1k_input_tokens_micros", "cost_per_1k_output_tokens_micros", "format", "prices",
                                                 "breaker_failures", "breaker_cool_down_ms", "health_url", "health_command", "health_interval_ms", "queue"]
    /// Sub-workflows nest at most this deep (the compiler never gets close).
    static let nestingMax = 64

    var depth = 0

    func fail(_ path: String, _ message: String) -> IRValidationError { IRValidationError(path: path, message: message) }

    func object(_ v: JSONValue, _ path: String, allowed: Set<String>) throws(IRValidationError) -> IRObject {
        guard case .object(let m) = v else { throw fail(path, "expected object, found \(v.typeName)") }
        let o = IRObject(members: m, path: path)
        for (k, _) in m where !allowed.contains(k) { throw fail(o.sub(k), "unknown field") }
        return o
    }

    func field(_ o: IRObject, _ key: String) throws(IRValidationError) -> JSONValue {
        guard let v = o[key] else { throw fail(o.sub(key), "required field is missing") }
        return v
    }

    func int(_ o: IRObject, _ key: String, min: Int64? = nil, max: Int64? = nil) throws(IRValidationError) -> Int64 {
        let v = try field(o, key)
        guard case .int(let i) = v else { throw fail(o.sub(key), "expected int, found \(v.typeName)") }
        if let min, i < min { throw fail(o.sub(key), "must be >= \(min), found \(i)") }
        if let max, i > max { throw fail(o.sub(key), "must be <= \(max), found \(i)") }
        return i
    }

    func optInt(_ o: IRObject, _ key: String, min: Int64? = nil) throws(IRValidationError) -> Int64? {
        if case .null = try field(o, key) { return nil }
        return try int(o, key, min: min)
    }

    func string(_ o: IRObject, _ key: String, oneOf: Set<String>? = nil) throws(IRValidationError) -> String {
        let v = try field(o, key)
        guard case .string(let s) = v else { throw fail(o.sub(key), "expected string, found \(v.typeName)") }
        if let oneOf, !oneOf.contains(s) {
            throw fail(o.sub(key), "must be one of \(oneOf.sorted().joined(separator: ", ")), found `\(s)`")
        }
        return s
    }

    /// The field of attribute `attr` of `block`, an int in the attribute's range.
    func attr(_ o: IRObject, _ block: String, _ attr: String) throws(IRValidationError) -> Int64 {
        let f = AttributeTable.declared(block, attr)
        return try int(o, f.irKey!, min: f.min, max: f.max)
    }

    /// Like `attr`, or nil when the field is null (the attribute was left out).
    func optAttr(_ o: IRObject, _ block: String, _ attr: String) throws(IRValidationError) -> Int64? {
        let f = AttributeTable.declared(block, attr)
        if case .null = try field(o, f.irKey!) { return nil }
        return try int(o, f.irKey!, min: f.min, max: f.max)
    }

    /// An agent's breaker settings and health check (each absent: not written).
    func agentHealth(_ a: IRObject, into g: inout IRAgent) throws(IRValidationError) {
        func opt(_ attr: String) throws(IRValidationError) -> Int64? {
            a[AttributeTable.declared("agent", attr).irKey!] == nil ? nil : try optAttr(a, "agent", attr)
        }
        g.breakerFailures = try opt("breaker_failures")
        g.breakerCoolDownMs = try opt("breaker_cool_down")
        g.healthIntervalMs = try opt("health_interval")
        g.healthURL = a["health_url"] == nil ? nil : try optString(a, "health_url")
        g.healthCommand = a["health_command"] == nil ? nil : try optString(a, "health_command")
    }

    /// An agent's `prices` (absent: none): `[{"input_micros", "model", "output_micros"}…]`,
    /// each model once, prices ≥ 0.
    func modelPrices(_ a: IRObject) throws(IRValidationError) -> [String: IRModelPrice] {
        guard a["prices"] != nil else { return [:] }
        var out: [String: IRModelPrice] = [:]
        for (i, x) in try array(a, "prices").enumerated() {
            let p = try object(x, "\(a.sub("prices"))[\(i)]", allowed: ["input_micros", "model", "output_micros"])
            let m = try string(p, "model")
            guard out[m] == nil else { throw fail(p.sub("model"), "model `\(m)` is priced twice") }
            out[m] = IRModelPrice(inputMicros: try int(p, "input_micros", min: 0), outputMicros: try int(p, "output_micros", min: 0))
        }
        return out
    }

    /// Every numeric attribute of `block` that `o` carries, checked against its range: a
    /// new attribute in the table is validated without a line here.
    func numbers(_ o: IRObject, _ block: String) throws(IRValidationError) {
        for f in AttributeTable.numeric(block) {
            let optional = block == "task" ? Self.optionalTaskKeys : block == "agent" ? Self.optionalAgentKeys : []
            if optional.contains(f.irKey!), o[f.irKey!] == nil { continue }
            _ = try optAttr(o, block, f.name)
        }
    }


    /// The words attribute `attr` of `block` allows.
    func words(_ block: String, _ attr: String) -> Set<String> {
        switch AttributeTable.declared(block, attr).value {
        case .word(let ws), .words(let ws?): return Set(ws)
        default: preconditionFailure("`\(block).\(attr)` takes no fixed words")
        }
    }

    func optString(_ o: IRObject, _ key: String, oneOf: Set<String>? = nil) throws(IRValidationError) -> String? {
        if case .null = try field(o, key) { return nil }
        return try string(o, key, oneOf: oneOf)
    }

    func bool(_ o: IRObject, _ key: String) throws(IRValidationError) -> Bool {
        let v = try field(o, key)
        guard case .bool(let b) = v else { throw fail(o.sub(key), "expected bool, found \(v.typeName)") }
        return b
    }

    func array(_ o: IRObject, _ key: String) throws(IRValidationError) -> [JSONValue] {
        let v = try field(o, key)
        guard case .array(let a) = v else { throw fail(o.sub(key), "expected array, found \(v.typeName)") }
        return a
    }

    func strings(_ o: IRObject, _ key: String, known: Set<String>? = nil, what: String = "") throws(IRValidationError) -> [String] {
        var out: [String] = []
        for (i, x) in try array(o, key).enumerated() {
            guard case .string(let s) = x else { throw fail("\(o.sub(key))[\(i)]", "expected string, found \(x.typeName)") }
            if let known, !known.contains(s) { throw fail("\(o.sub(key))[\(i)]", "unknown \(what) `\(s)`") }
            out.append(s)
        }
        return out
    }

    func nullable(_ o: IRObject, _ key: String) throws(IRValidationError) -> JSONValue? {
        let v = try field(o, key)
        if case .null = v { return nil }
        return v
    }

    func budget(_ v: JSONValue?, _ path: String) throws(IRValidationError) -> IRBudget? {
        guard let v else { return nil }
        let o = try object(v, path, allowed: ["money_micros", "tokens", "time_ms", "strict"])
        var b = IRBudget(moneyMicros: try optAttr(o, "budget", "money"), tokens: try optAttr(o, "budget", "tokens"),
                         timeMs: try optAttr(o, "budget", "time"))
        if o["strict"] != nil { b.strict = try bool(o, "strict") }
        return b
    }

    /// Names of an array of named objects, checking uniqueness.
    func names(_ items: [JSONValue], _ path: String) throws(IRValidationError) -> Set<String> {
        var out: Set<String> = []
        for (i, x) in items.enumerated() {
            guard case .object = x else { throw fail("\(path)[\(i)]", "expected object, found \(x.typeName)") }
            guard case .string(let n)? = x["name"] else { throw fail("\(path)[\(i)].name", "expected string") }
            guard out.insert(n).inserted else { throw fail("\(path)[\(i)].name", "duplicate name `\(n)`") }
        }
        return out
    }

    mutating func workflow(_ v: JSONValue, path: String) throws(IRValidationError) -> IRWorkflow {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.nestingMax else { throw fail(path, "sub-workflows nest deeper than \(Self.nestingMax)") }
        let o = try object(v, path, allowed: path.isEmpty ? Self.workflowKeys.union(["ezir", "hash", "source_map"]) : Self.workflowKeys)
        let name = try string(o, "name")

        // Declarations first, so references can be checked against them.
        let agentItems = try array(o, "agents"), roleItems = try array(o, "roles")
        let secretItems = try array(o, "secrets"), policyItems = try array(o, "policies")
        let agentNames = try names(agentItems, o.sub("agents"))
        let roleNames = try names(roleItems, o.sub("roles"))
        let secretNames = try names(secretItems, o.sub("secrets"))
        let policyNames = try names(policyItems, o.sub("policies"))
        let taskItems = try array(o, "tasks")
        let groupItems = try array(o, "groups")

        var agents: [IRAgent] = []
        for (i, x) in agentItems.enumerated() {
            let a = try object(x, "\(o.sub("agents"))[\(i)]", allowed: [
                "name", "driver", "capabilities", "concurrency", "cost_per_call_micros", "cost_per_1k_tokens_micros",
                "cost_per_second_micros", "model", "url", "command", "api_key", "latency_ms", "failure_rate_ppm",
                "cost_per_1k_input_tokens_micros", "cost_per_1k_output_tokens_micros", "format", "prices", "stream",
                "breaker_failures", "breaker_cool_down_ms", "health_url", "health_command", "health_interval_ms", "queue",
            ])
            if a["format"] != nil { _ = try optString(a, "format", oneOf: words("agent", "format")) }
            let prices = try modelPrices(a)
            let apiKey = try optString(a, "api_key")
            if let k = apiKey, !secretNames.contains(k) { throw fail(a.sub("api_key"), "unknown secret `\(k)`") }
            _ = try optString(a, "model"); _ = try optString(a, "url"); _ = try optString(a, "command")
            if a["queue"] != nil { _ = try string(a, "queue") }
            if a["stream"] != nil { _ = try bool(a, "stream") }
            try numbers(a, "agent")
            agents.append(IRAgent(
                name: try string(a, "name"), driver: try optString(a, "driver", oneOf: words("agent", "driver")),
                capabilities: try strings(a, "capabilities"), concurrency: try attr(a, "agent", "concurrency"),
                costPerCallMicros: try attr(a, "agent", "cost_per_call"),
                costPer1kTokensMicros: try attr(a, "agent", "cost_per_1k_tokens"),
                costPerSecondMicros: try attr(a, "agent", "cost_per_second"),
                costPer1kInputTokensMicros: a["cost_per_1k_input_tokens_micros"] == nil ? 0 : try attr(a, "agent", "cost_per_1k_input_tokens"),
                costPer1kOutputTokensMicros: a["cost_per_1k_output_tokens_micros"] == nil ? 0 : try attr(a, "agent", "cost_per_1k_output_tokens"),
                model: try optString(a, "model"), prices: prices))
            try agentHealth(a, into: &agents[agents.count - 1])
        }
        for (i, x) in roleItems.enumerated() {
            let r = try object(x, "\(o.sub("roles"))[\(i)]", allowed: ["name", "inherits", "allow", "agents", "secrets"])
            _ = try strings(r, "inherits", known: roleNames, what: "role")
            _ = try strings(r, "allow", known: words("role", "allow"), what: "permission")
            _ = try strings(r, "agents", known: agentNames, what: "agent")
            _ = try strings(r, "secrets", known: secretNames, what: "secret")
        }
        for (i, x) in secretItems.enumerated() {
            let s = try object(x, "\(o.sub("secrets"))[\(i)]", allowed: ["name", "provider", "key"])
            _ = try string(s, "provider", oneOf: words("secret", "provider"))
            _ = try string(s, "key")
        }
        let policyScope = ExprScope(taskCount: 0, deps: [], policy: true)
        for (i, x) in policyItems.enumerated() {
            let p = try object(x, "\(o.sub("policies"))[\(i)]", allowed: ["name", "effect", "action", "roles", "when"])
            _ = try string(p, "effect", oneOf: words("policy", "effect"))
            _ = try string(p, "action", oneOf: words("policy", "action"))
            _ = try strings(p, "roles", known: roleNames, what: "role")
            if let w = try nullable(p, "when") { try expr(w, p.sub("when"), policyScope) }
        }
        for (i, x) in try array(o, "inputs").enumerated() {
            let inp = try object(x, "\(o.sub("inputs"))[\(i)]", allowed: ["name", "type", "required", "default", "default_expr"])
            _ = try string(inp, "name"); _ = try string(inp, "type"); _ = try bool(inp, "required")
            _ = try field(inp, "default")
            if let e = try nullable(inp, "default_expr") { try expr(e, inp.sub("default_expr"), ExprScope(taskCount: 0, deps: [], policy: false)) }
        }
        for (i, x) in try array(o, "outputs").enumerated() {
            let out = try object(x, "\(o.sub("outputs"))[\(i)]", allowed: ["name", "type", "on_conflict"])
            _ = try string(out, "name"); _ = try string(out, "type")
            _ = try optString(out, "on_conflict", oneOf: words("output", "on_conflict"))
        }
        let outputNames = try names(try array(o, "outputs"), o.sub("outputs"))
        let wfBudget = try budget(try nullable(o, "budget"), o.sub("budget"))
        let deadline = try optAttr(o, "workflow", "deadline")
        let selector = try optString(o, "selector", oneOf: words("workflow", "selector"))
        let maxParallel = try optAttr(o, "workflow", "max_parallel")
        if case .object = try field(o, "types") {} else { throw fail(o.sub("types"), "expected object, found \(try field(o, "types").typeName)") }

        for (i, x) in groupItems.enumerated() {
            let g = try object(x, "\(o.sub("groups"))[\(i)]", allowed: ["id", "name", "parent", "budget", "role", "tags", "tasks"])
            let id = try int(g, "id")
            guard id == Int64(i) else { throw fail(g.sub("id"), "must be \(i) (its position), found \(id)") }
            _ = try string(g, "name")
            if let p = try optInt(g, "parent", min: 0), p >= id { throw fail(g.sub("parent"), "must name an earlier group (< \(id)), found \(p)") }
            _ = try budget(try nullable(g, "budget"), g.sub("budget"))
            if let r = try optString(g, "role"), !roleNames.contains(r) { throw fail(g.sub("role"), "unknown role `\(r)`") }
            _ = try strings(g, "tags")
            for (k, t) in try array(g, "tasks").enumerated() {
                guard case .int(let tid) = t, tid >= 0, tid < Int64(taskItems.count) else {
                    throw fail("\(g.sub("tasks"))[\(k)]", "no task \(t.typeName == "int" ? "\(t)" : t.typeName) (the workflow has \(taskItems.count))")
                }
            }
        }

        var tasks: [IRTask] = []
        tasks.reserveCapacity(taskItems.count)
        var finallyTasks: Set<Int> = []
        for (i, x) in taskItems.enumerated() {
            let t = try object(x, "\(o.sub("tasks"))[\(i)]", allowed: Self.taskKeys)
            let id = try int(t, "id")
            guard id == Int64(i) else { throw fail(t.sub("id"), "must be \(i) (its position), found \(id)") }
            let tname = try string(t, "name")
            if let g = try optInt(t, "group", min: 0), g >= Int64(groupItems.count) {
                throw fail(t.sub("group"), "no group \(g) (the workflow has \(groupItems.count))")
            }
            var deps: [Int] = []
            for (k, d) in try array(t, "deps").enumerated() {
                let p = "\(t.sub("deps"))[\(k)]"
                guard case .int(let dv) = d else { throw fail(p, "expected int, found \(d.typeName)") }
                guard dv >= 0, dv < Int64(i) else { throw fail(p, "must point to an earlier task (< \(i)), found \(dv)") }
                if let last = deps.last, Int(dv) <= last { throw fail(p, "deps must be sorted and unique, found \(dv) after \(last)") }
                deps.append(Int(dv))
            }
            let isFinally = t["finally"] != nil ? try bool(t, "finally") : false
            for d in deps where !isFinally && finallyTasks.contains(d) {
                throw fail(t.sub("deps"), "task \(i) depends on `finally` task \(d): nothing in the main graph waits for one")
            }
            if isFinally { finallyTasks.insert(i) }
            var scope = ExprScope(taskCount: taskItems.count, deps: deps, policy: false)
            scope.finally = isFinally
            let action = try string(t, "action", oneOf: Self.actions)
            var sub: IRWorkflow? = nil
            if action == "workflow" {
                guard let w = try nullable(t, "workflow") else { throw fail(t.sub("workflow"), "required for a `workflow` task") }
                sub = try workflow(w, path: t.sub("workflow"))
                if try nullable(t, "template") != nil { throw fail(t.sub("template"), "must be null for a `workflow` task") }
                if let with = try nullable(t, "with") { try exprMap(with, t.sub("with"), scope) }
            } else if action == "loop" {
                for k in ["template", "workflow", "with"] where try nullable(t, k) != nil { throw fail(t.sub(k), "must be null for a `loop` task") }
                try loop(t, id: i, deps: deps, scope)
            } else {
                guard let tpl = try nullable(t, "template") else { throw fail(t.sub("template"), "required when `action` is `\(action)`") }
                try parts(tpl, t.sub("template"), scope)
                if try nullable(t, "workflow") != nil { throw fail(t.sub("workflow"), "only a `workflow` task has a sub-workflow") }
                if try nullable(t, "with") != nil { throw fail(t.sub("with"), "only a `workflow` task takes `with`") }
            }
            let role = try optString(t, "role")
            if let r = role, !roleNames.contains(r) { throw fail(t.sub("role"), "unknown role `\(r)`") }
            if let pv = try nullable(t, "permissions") {
                let p = try object(pv, t.sub("permissions"), allowed: ["allow", "agents", "secrets"])
                _ = try strings(p, "allow", known: words("role", "allow"), what: "permission")
                _ = try strings(p, "agents", known: agentNames, what: "agent")
                _ = try strings(p, "secrets", known: secretNames, what: "secret")
            }
            if let a = try optString(t, "agent"), !agentNames.contains(a) { throw fail(t.sub("agent"), "unknown agent `\(a)`") }
            let candidates = try strings(t, "agents", known: agentNames, what: "agent")
            _ = try strings(t, "needs")
            let timeout = try optAttr(t, "task", "timeout")
            var retry: IRRetry? = nil
            if let rv = try nullable(t, "retry") { retry = try retryRule(rv, t.sub("retry"), task: i, taskCount: taskItems.count, agentNames: agentNames) }
            var retryMore: [IRRetry] = []
            if t["retry_more"] != nil {
                guard retry != nil else { throw fail(t.sub("retry_more"), "further rules need a first one in `retry`") }
                let more = try array(t, "retry_more")
                if more.isEmpty { throw fail(t.sub("retry_more"), "must not be empty (leave it out)") }
                for (k, x) in more.enumerated() {
                    let r = try retryRule(x, "\(t.sub("retry_more"))[\(k)]", task: i, taskCount: taskItems.count, agentNames: agentNames)
                    if r.catchTask != nil || r.catchAgent != nil { throw fail("\(t.sub("retry_more"))[\(k)].catch", "must be null: the task's fallback is on `retry`") }
                    retryMore.append(r)
                }
            }
            let tb = try budget(try nullable(t, "budget"), t.sub("budget"))
            let priority = try attr(t, "task", "priority")
            let tags = try strings(t, "tags")
            if let fe = try nullable(t, "for_each") { try expr(fe, t.sub("for_each"), scope) }
            try matrix(t, scope)
            try dynamicFanout(t)
            if t["loop"] != nil && action != "loop" { throw fail(t.sub("loop"), "only a `loop` task has `loop`") }
            _ = try optString(t, "item_type")
            if let env = try nullable(t, "env") { try exprMap(env, t.sub("env"), scope) }
            for (k, ov) in try array(t, "outputs").enumerated() {
                let out = try object(ov, "\(t.sub("outputs"))[\(k)]", allowed: ["name", "type"])
                _ = try string(out, "name")
                // Only a `run` task leaves files behind to store (the checker's E0940).
                if FileRecord.namesFile(try string(out, "type")), action != "run" {
                    throw fail("\(t.sub("outputs"))[\(k)].type", "a `file` output needs a `run` task, not `\(action)`")
                }
            }
            _ = try strings(t, "writes", known: outputNames, what: "workflow output")
            _ = try strings(t, "secrets", known: secretNames, what: "secret")
            _ = try strings(t, "approvers", known: roleNames, what: "role")
            if t["self_approval"] != nil { _ = try bool(t, "self_approval") }
            try gateTimeout(t, action: action, roleNames: roleNames)
            _ = try strings(t, "policies", known: policyNames, what: "policy")
            try numbers(t, "task")
            _ = try optString(t, "model")
            try promptExtras(t, action: action, scope)
            try conditions(t, action: action, deps: deps, scope)
            tasks.append(IRTask(id: i, name: tname, action: action, deps: deps, priority: priority, timeoutMs: timeout,
                                retry: retry, retryMore: retryMore, budget: tb, role: role, agents: candidates, tags: tags,
                                fallback: try bool(t, "fallback"), workflow: sub, json: x))
        }
        try compensations(tasks, path: o.sub("tasks"))
        return IRWorkflow(name: name, tasks: tasks, agents: agents, budget: wfBudget, deadlineMs: deadline,
                          maxParallel: maxParallel, selector: selector, json: v)
    }

    /// One retry rule object (`retry`, or an entry of `retry_more`).
    func retryRule(_ rv: JSONValue, _ path: String, task: Int, taskCount: Int, agentNames: Set<String>) throws(IRValidationError) -> IRRetry {
        let r = try object(rv, path, allowed: ["attempts", "backoff", "delay_ms", "max_delay_ms", "jitter", "on", "catch", "factor_ppm"])
        var rr = IRRetry(
            attempts: try attr(r, "retry", "attempts"), backoff: try string(r, "backoff", oneOf: words("retry", "backoff")),
            delayMs: try attr(r, "retry", "delay"), maxDelayMs: try optAttr(r, "retry", "max_delay"),
            jitter: try string(r, "jitter", oneOf: words("retry", "jitter")),
            on: try nullable(r, "on") == nil ? nil : try strings(r, "on"))
        if r["factor_ppm"] != nil { rr.factorPPM = try optAttr(r, "retry", "factor") }
        if let cv = try nullable(r, "catch") {
            let c = try object(cv, r.sub("catch"), allowed: ["task", "agent"])
            if c.members.count != 1 { throw fail(r.sub("catch"), "must have exactly one of `task` or `agent`") }
            if c["task"] != nil {
                let ct = try int(c, "task", min: 0)
                guard ct < Int64(taskCount) else { throw fail(c.sub("task"), "no task \(ct) (the workflow has \(taskCount))") }
                guard ct != Int64(task) else { throw fail(c.sub("task"), "a task cannot be its own fallback") }
                rr.catchTask = Int(ct)
            } else {
                let ca = try string(c, "agent")
                guard agentNames.contains(ca) else { throw fail(c.sub("agent"), "unknown agent `\(ca)`") }
                rr.catchAgent = ca
            }
        }
        return rr
    }

    /// An `approve` task's `on_timeout` (one of the table's words), `escalate_to` (known
    /// roles, only with `on_timeout: escalate`, which needs them) and `escalate_timeout_ms`
    /// (read with the other numbers, only on an escalating gate), as the checker's
    /// E0203/E0506/E0507 leave them.
    func gateTimeout(_ t: IRObject, action: String, roleNames: Set<String>) throws(IRValidationError) {
        for k in ["on_timeout", "escalate_to", "escalate_timeout_ms"] where t[k] != nil && action != "approve" {
            throw fail(t.sub(k), "only an `approve` task takes `\(k)`")
        }
        var escalates = false
        if t["on_timeout"] != nil {
            escalates = try string(t, "on_timeout", oneOf: words("task", "on_timeout")) == "escalate"
        }
        let roles = t["escalate_to"] == nil ? [] : try strings(t, "escalate_to", known: roleNames, what: "role")
        guard escalates == !roles.isEmpty else {
            throw fail(t.sub(escalates ? "on_timeout" : "escalate_to"),
                       escalates ? "`on_timeout: escalate` needs `escalate_to` roles" : "`escalate_to` needs `on_timeout: escalate`")
        }
        if t["escalate_timeout_ms"] != nil && !escalates {
            throw fail(t.sub("escalate_timeout_ms"), "`escalate_timeout_ms` needs `on_timeout: escalate`")
        }
    }

    /// `system` (template parts), `messages` (an expression), `stop` (strings): only on a
    /// `prompt` task, as the checker refuses them elsewhere (E0203).
    func promptExtras(_ t: IRObject, action: String, _ scope: ExprScope) throws(IRValidationError) {
        for k in ["system", "messages", "temperature_ppm", "stop"] where t[k] != nil && action != "prompt" {
            throw fail(t.sub(k), "only a `prompt` task takes `\(k)`")
        }
        if let sys = t["system"] { try parts(sys, t.sub("system"), scope) }
        if let m = t["messages"] { try expr(m, t.sub("messages"), scope) }
        if t["stop"] != nil {
            let stop = try strings(t, "stop")
            let most = AttributeTable.stopSequencesMax
            if stop.count > most { throw fail(t.sub("stop"), "at most \(most) sequences, found \(stop.count)") }
        }
    }

    /// `when`, `run_on`, `allow_failure` and `status_deps` (docs/IR.md "Conditions"): absent
    /// when not given; never on a `workflow` task or a fallback.
    func conditions(_ t: IRObject, action: String, deps: [Int], _ scope: ExprScope) throws(IRValidationError) {
        if let w = t["when"] { try expr(w, t.sub("when"), scope) }
        if t["run_on"] != nil { _ = try string(t, "run_on", oneOf: words("task", "run_on")) }
        if t["allow_failure"] != nil { _ = try bool(t, "allow_failure") }
        let given = ["when", "run_on", "allow_failure"].filter { t[$0] != nil }
        if action == "workflow", let k = given.first { throw fail(t.sub(k), "a `workflow` task takes no conditions") }
        if case .bool(true)? = t["fallback"], let k = given.first(where: { $0 != "allow_failure" }) {
            throw fail(t.sub(k), "a fallback takes no conditions")
        }
        guard t["status_deps"] != nil else { return }
        var last = -1
        for (k, d) in try array(t, "status_deps").enumerated() {
            let p = "\(t.sub("status_deps"))[\(k)]"
            guard case .int(let dv) = d, deps.contains(Int(dv)) else { throw fail(p, "must be one of the task's deps") }
            guard Int(dv) > last else { throw fail(p, "must be sorted and unique") }
            last = Int(dv)
        }
    }

    /// What an expression may refer to where it stands.
    struct ExprScope {
        var taskCount: Int
        var deps: [Int]
        var policy: Bool
        /// In a `finally` task: `run.status` and `run.failures` are readable.
        var finally = false
    }

    static let binaryOps: Set<String> = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "??", "in"]
    static let functions: [String: Int] = ["len": 1, "join": 2, "upper": 1, "lower": 1, "contains": 2, "keys": 1, "default": 2]

    func exprMap(_ v: JSONValue, _ path: String, _ s: ExprScope) throws(IRValidationError) {
        guard case .object(let m) = v else { throw fail(path, "expected object, found \(v.typeName)") }
        for (k, x) in m { try expr(x, path + "." + k, s) }
    }

    func parts(_ v: JSONValue, _ path: String, _ s: ExprScope) throws(IRValidationError) {
        guard case .array(let items) = v else { throw fail(path, "expected array, found \(v.typeName)") }
        for (i, x) in items.enumerated() { try expr(x, "\(path)[\(i)]", s) }
    }

    /// One expression node: an object with one kind key (two for `op`/`call` with `args`).
    func expr(_ v: JSONValue, _ path: String, _ s: ExprScope) throws(IRValidationError) {
        guard case .object(let m) = v else { throw fail(path, "expected an expression object, found \(v.typeName)") }
        let keys = Set(m.map(\.0))
        func only(_ k: String) throws(IRValidationError) -> JSONValue {
            guard keys.count == 1, let x = v[k] else { throw fail(path, "an expression node has exactly one kind key") }
            return x
        }
        func intValue(_ k: String, min: Int64? = nil) throws(IRValidationError) {
            let x = try only(k)
            guard case .int(let i) = x else { throw fail("\(path).\(k)", "expected int, found \(x.typeName)") }
            if let min, i < min { throw fail("\(path).\(k)", "must be >= \(min), found \(i)") }
        }
        if keys == ["op", "args"] || keys == ["call", "args"] {
            guard case .array(let args) = v["args"]! else { throw fail("\(path).args", "expected array") }
            if let opv = v["op"] {
                guard case .string(let op) = opv else { throw fail("\(path).op", "expected string") }
                let ok = args.count == 2 ? Self.binaryOps.contains(op) : args.count == 1 && (op == "!" || op == "neg")
                if !ok { throw fail("\(path).op", "unknown operator `\(op)` with \(args.count) operands") }
            } else {
                guard case .string(let f) = v["call"]!, let arity = Self.functions[f] else { throw fail("\(path).call", "unknown function") }
                if arity != args.count { throw fail("\(path).args", "`\(f)` takes \(Units.counted(arity, "argument")), found \(args.count)") }
            }
            for (i, a) in args.enumerated() { try expr(a, "\(path).args[\(i)]", s) }
            return
        }
        guard let kind = keys.first, keys.count == 1 else { throw fail(path, "an expression node has exactly one kind key") }
        let p = path + "." + kind
        let x = v[kind]!
        switch kind {
        case "text", "secret":
            guard case .string = x else { throw fail(p, "expected string, found \(x.typeName)") }
        case "int": try intValue(kind)
        case "duration_ms", "money_micros", "tokens": try intValue(kind, min: Int64.min)
        case "float":
            switch x { case .float, .int: break; default: throw fail(p, "expected number, found \(x.typeName)") }
        case "bool":
            guard case .bool = x else { throw fail(p, "expected bool, found \(x.typeName)") }
        case "null":
            guard case .null = x else { throw fail(p, "expected null, found \(x.typeName)") }
        case "template", "list":
            try parts(x, p, s)
        case "record":
            try exprMap(x, p, s)
        case "index":
            guard case .array(let a) = x, a.count == 2 else { throw fail(p, "expected [base, index]") }
            try expr(a[0], p + "[0]", s)
            try expr(a[1], p + "[1]", s)
        case "field":
            guard case .array(let a) = x, a.count == 2, case .string = a[1] else { throw fail(p, "expected [base, \"name\"]") }
            try expr(a[0], p + "[0]", s)
        case "item", "enum":
            guard case .array(let a) = x, a.allSatisfy({ if case .string = $0 { true } else { false } }) else {
                throw fail(p, "expected an array of strings")
            }
            if kind == "enum" && a.count != 2 { throw fail(p, "expected [\"Enum\", \"case\"]") }
        case "ref":
            guard case .array(let a) = x, let head = a.first, case .string(let h) = head else { throw fail(p, "expected a reference path") }
            switch h {
            case "inputs", "principal":
                guard a.count >= 2, a.dropFirst().allSatisfy({ if case .string = $0 { true } else { false } }) else {
                    throw fail(p, "expected [\"\(h)\", \"name\", ...]")
                }
                if h == "principal" && !s.policy { throw fail(p, "`principal` is readable only in policy conditions") }
            case "task":
                if s.policy {
                    guard a.count == 2, case .string = a[1] else { throw fail(p, "expected [\"task\", \"attribute\"] in a policy") }
                    return
                }
                if a.count == 3, case .int(let t) = a[1], case .string("status") = a[2] {
                    guard t >= 0, t < Int64(s.taskCount), s.deps.contains(Int(t)) else {
                        throw fail(p + "[1]", "reads the status of task \(t), which is not among the task's deps")
                    }
                    return
                }
                guard a.count >= 4, case .int(let t) = a[1], case .string("outputs") = a[2],
                      a.dropFirst(3).allSatisfy({ if case .string = $0 { true } else { false } }) else {
                    throw fail(p, "expected [\"task\", ID, \"outputs\", \"name\", ...]")
                }
                guard t >= 0, t < Int64(s.taskCount) else { throw fail(p + "[1]", "no task \(t) (the workflow has \(s.taskCount))") }
                guard s.deps.contains(Int(t)) else { throw fail(p + "[1]", "reads task \(t), which is not among the task's deps") }
            case "run":
                guard s.finally, a.count == 2, case .string(let f) = a[1], f == "status" || f == "failures" else {
                    throw fail(p, "expected [\"run\", \"status\"|\"failures\"] in a `finally` task")
                }
            default:
                throw fail(p + "[0]", "unknown reference root `\(h)`")
            }
        default:
            throw fail(path, "unknown expression kind `\(kind)`")
        }
    }
}
