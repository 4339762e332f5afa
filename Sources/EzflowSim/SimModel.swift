// The `sim` agent driver's model: seeded latency, failures by error class and cost.
// Pure: every draw takes the caller's generator; nothing here reads a clock.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EzflowIR
import EzflowRuntime

/// The built-in error classes a sim agent fails with (docs/IR.md `retry.on`).
public enum SimErrorClass: String, Sendable, CaseIterable, Comparable {
    case agentError = "agent_error"
    case timeout
    case transient

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// How one sim agent behaves: latency (lognormal), failure probability per error
/// class, and prices. Built from the IR agent (`latency_ms`, `failure_rate_ppm`, costs)
/// and refined by a scenario file and `--faults`.
public struct SimAgentModel: Sendable, Equatable {
    /// Median latency of one call.
    public var latencyMedianMs: Double
    /// Lognormal shape σ; p95 = median · e^(1.645σ).
    public var latencySigma: Double
    /// Probability that a call fails, per class (sum ≤ 1). A `timeout` here means the
    /// agent hangs past any timeout; timeouts also happen when latency exceeds the task's.
    public var failure: [SimErrorClass: Double]
    public var costPerCallMicros: Int64
    public var costPer1kTokensMicros: Int64
    public var costPerSecondMicros: Int64
    /// Mean tokens per call (drawn uniformly in [0.5, 1.5]·mean); 0 for non-LLM agents.
    public var tokensMean: Int64
    /// Windows `[start, end)` in run milliseconds when the agent is down: every call and
    /// health check fails (a call with `transient`: the agent is unreachable).
    public var downWindows: [ClosedRange<Int64>]

    /// The default shape: p95 ≈ 2.3 × median.
    public static let sigmaDefault = 0.5

    public init(latencyMedianMs: Double, latencySigma: Double = SimAgentModel.sigmaDefault,
                failure: [SimErrorClass: Double] = [:], costPerCallMicros: Int64 = 0,
                costPer1kTokensMicros: Int64 = 0, costPerSecondMicros: Int64 = 0, tokensMean: Int64 = 0,
                downWindows: [ClosedRange<Int64>] = []) {
        self.latencyMedianMs = latencyMedianMs
        self.latencySigma = latencySigma
        self.failure = failure
        self.costPerCallMicros = costPerCallMicros
        self.costPer1kTokensMicros = costPer1kTokensMicros
        self.costPerSecondMicros = costPerSecondMicros
        self.tokensMean = tokensMean
        self.downWindows = downWindows
    }

    /// The model of an IR agent: `latency_ms` is taken as the mean (default 1 s), and
    /// `failure_rate_ppm` is split evenly between `transient` and `agent_error`.
    public init(agent: IRAgent, json: JSONValue) {
        var mean = 1000.0
        if case .int(let ms)? = json["latency_ms"] { mean = Double(max(ms, 1)) }
        var rate = 0.0
        if case .int(let ppm)? = json["failure_rate_ppm"] { rate = Double(ppm) / 1_000_000 }
        let sigma = SimAgentModel.sigmaDefault
        self.init(latencyMedianMs: mean / exp(sigma * sigma / 2), latencySigma: sigma,
                  failure: rate > 0 ? [.transient: rate / 2, .agentError: rate / 2] : [:],
                  costPerCallMicros: agent.costPerCallMicros, costPer1kTokensMicros: agent.costPer1kTokensMicros,
                  costPerSecondMicros: agent.costPerSecondMicros,
                  tokensMean: agent.costPer1kTokensMicros > 0 || agent.driver == "llm" ? 2_000 : 0)
    }

    /// Sets median and σ from a mean and a 95th percentile (p95 > mean).
    public mutating func setLatency(meanMs: Double, p95Ms: Double?) {
        guard let p95 = p95Ms, p95 > meanMs else {
            latencyMedianMs = meanMs / exp(latencySigma * latencySigma / 2)
            return
        }
        // mean = e^(μ+σ²/2), p95 = e^(μ+1.645σ) ⇒ σ²/2 − 1.645σ + ln(p95/mean) = 0.
        let k = log(p95 / meanMs), disc = 1.645 * 1.645 - 2 * k
        let sigma = disc > 0 ? 1.645 - disc.squareRoot() : 1.645
        latencySigma = max(0.01, sigma)
        latencyMedianMs = meanMs / exp(latencySigma * latencySigma / 2)
    }

    /// Mean latency in milliseconds.
    public var latencyMeanMs: Double { latencyMedianMs * exp(latencySigma * latencySigma / 2) }
    /// Probability of any failure.
    public var failureRate: Double { min(1, failure.values.reduce(0, +)) }

    /// Expected cost of one call in micro-dollars.
    public var expectedCostMicros: Double {
        Double(costPerCallMicros) + Double(tokensMean) * Double(costPer1kTokensMicros) / 1000
            + latencyMeanMs * Double(costPerSecondMicros) / 1000
    }

    /// Draws one call started at `startMs` (run time). `tokenCap`: the cap the core put on
    /// the attempt's dispatch (`RunState.tokenCap`): the call uses no more tokens than that,
    /// as the llm driver's `max_tokens` makes a real server do. The draw is taken either way,
    /// so a cap never shifts the rest of the run's random sequence.
    public func sample(startMs: Int64, tokenCap: Int64? = nil, _ r: inout some DrawSource) -> SimOutcome {
        let z = SimDraw.normal(&r)
        let latency = Int64(min(max(1, (latencyMedianMs * exp(latencySigma * z)).rounded()), 1e12))
        let u = SimDraw.unit(&r)
        var error: SimErrorClass? = nil
        var acc = 0.0
        for c in SimErrorClass.allCases { // fixed order: deterministic
            acc += failure[c] ?? 0
            if u < acc { error = c; break }
        }
        if downWindows.contains(where: { $0.contains(startMs) }) { error = .transient }
        var tokens: Int64 = 0
        if tokensMean > 0 { tokens = Int64((Double(tokensMean) * (0.5 + SimDraw.unit(&r))).rounded()) }
        if let cap = tokenCap { tokens = min(tokens, max(0, cap)) }
        let cost = costPerCallMicros + tokens * costPer1kTokensMicros / 1000 + latency * costPerSecondMicros / 1000
        return SimOutcome(latencyMs: latency, error: error, tokens: tokens, costMicros: cost)
    }

    /// Whether a health check at `nowMs` passes (only down windows fail it).
    public func isHealthy(atMs nowMs: Int64) -> Bool { !downWindows.contains { $0.contains(nowMs) } }
}

/// One drawn call: how long it took, whether it failed and what it cost.
public struct SimOutcome: Sendable, Equatable {
    public var latencyMs: Int64
    /// nil on success.
    public var error: SimErrorClass?
    public var tokens: Int64
    public var costMicros: Int64
}

/// A fault injected into a run: multiply an agent's latency, set its failure rate, or
/// make a task fail whichever agent runs it.
public struct SimFault: Sendable, Equatable {
    public enum Target: Sendable, Equatable, Hashable {
        case agent(String)
        case task(String)
    }
    public var target: Target
    /// Failure probability replacing the model's (split as `failClass` says).
    public var fail: Double?
    /// The class injected failures carry (default: `agent_error`).
    public var failClass: SimErrorClass
    /// Latency multiplier.
    public var latencyFactor: Double?
    /// A window `[from, to]` in run milliseconds during which the agent is down.
    public var down: ClosedRange<Int64>?

    public init(target: Target, fail: Double? = nil, failClass: SimErrorClass = .agentError,
                latencyFactor: Double? = nil, down: ClosedRange<Int64>? = nil) {
        self.target = target
        self.fail = fail
        self.failClass = failClass
        self.latencyFactor = latencyFactor
        self.down = down
    }

    /// Parses a `--faults` spec:
    ///
    ///     SPEC   := CLAUSE (';' CLAUSE)*
    ///     CLAUSE := ('agent' | 'task') '=' NAME ':' SETTING (',' SETTING)*
    ///     SETTING:= 'fail=' P            probability 0…1 that a call fails
    ///             | 'class=' CLASS       agent_error | transient | timeout (for fail=)
    ///             | 'latency=x' F        multiply latency by F (> 0)  (agents only)
    ///             | 'down=' MS '-' MS    agent down in [MS, MS] of run time (agents only)
    ///
    /// e.g. `agent=coder:fail=0.3,latency=x2;task=deploy:fail=1`.
    public static func parse(spec: String) throws(SimSpecError) -> [SimFault] {
        var out: [SimFault] = []
        for clause in spec.split(separator: ";", omittingEmptySubsequences: true) {
            let c = clause.trimmingSpaces
            guard let colon = c.firstIndex(of: ":") else {
                throw SimSpecError("fault `\(c)`: expected `agent=NAME:SETTING,...` or `task=NAME:SETTING,...`")
            }
            let head = c[..<colon], body = c[c.index(after: colon)...]
            let kv = head.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, !kv[1].isEmpty else { throw SimSpecError("fault `\(c)`: expected `agent=NAME` or `task=NAME` before `:`") }
            var fault: SimFault
            switch kv[0] {
            case "agent": fault = SimFault(target: .agent(String(kv[1])))
            case "task": fault = SimFault(target: .task(String(kv[1])))
            default: throw SimSpecError("fault `\(c)`: unknown target `\(kv[0])` (expected agent or task)")
            }
            for setting in body.split(separator: ",") {
                let p = setting.split(separator: "=", maxSplits: 1)
                guard p.count == 2 else { throw SimSpecError("fault `\(c)`: expected KEY=VALUE, found `\(setting)`") }
                let value = String(p[1])
                switch p[0] {
                case "fail":
                    guard let x = Double(value), (0...1).contains(x) else { throw SimSpecError("fault `\(c)`: fail must be a number in 0…1, found `\(value)`") }
                    fault.fail = x
                case "class":
                    guard let k = SimErrorClass(rawValue: value) else { throw SimSpecError("fault `\(c)`: class must be agent_error, timeout or transient, found `\(value)`") }
                    fault.failClass = k
                case "latency":
                    guard value.hasPrefix("x"), let f = Double(value.dropFirst()), f > 0, f.isFinite else {
                        throw SimSpecError("fault `\(c)`: latency must be xF with F > 0 (e.g. x2), found `\(value)`")
                    }
                    guard case .agent = fault.target else { throw SimSpecError("fault `\(c)`: latency applies to agents only") }
                    fault.latencyFactor = f
                case "down":
                    let r = value.split(separator: "-")
                    guard r.count == 2, let a = Int64(r[0]), let b = Int64(r[1]), a >= 0, a <= b else {
                        throw SimSpecError("fault `\(c)`: down must be FROM-TO in milliseconds, found `\(value)`")
                    }
                    guard case .agent = fault.target else { throw SimSpecError("fault `\(c)`: down applies to agents only") }
                    fault.down = a...b
                default:
                    throw SimSpecError("fault `\(c)`: unknown setting `\(p[0])` (expected fail, class, latency, down)")
                }
            }
            out.append(fault)
        }
        return out
    }
}

/// A malformed `--faults` spec or scenario file.
public struct SimSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// A scenario file: per-agent model overrides and faults, as JSON:
///
///     {"agents": {"coder": {"latency_ms": 800, "p95_ms": 3000, "fail": 0.1,
///                           "failures": {"transient": 0.05, "timeout": 0.01},
///                           "cost_per_call_micros": 1000, "cost_per_1k_tokens_micros": 2000,
///                           "cost_per_second_micros": 0, "tokens": 1500,
///                           "down": [[60000, 120000]]}},
///      "faults": "task=deploy:fail=1"}
///
/// Every key is optional; unknown keys are errors. `fail` splits evenly between
/// `transient` and `agent_error`; `failures` sets classes one by one (after `fail`).
public struct SimScenario: Sendable, Equatable {
    public var agents: [String: AgentOverride] = [:]
    public var faults: [SimFault] = []

    public struct AgentOverride: Sendable, Equatable {
        public var latencyMs: Double?
        public var p95Ms: Double?
        public var fail: Double?
        public var failures: [SimErrorClass: Double] = [:]
        public var costPerCallMicros: Int64?
        public var costPer1kTokensMicros: Int64?
        public var costPerSecondMicros: Int64?
        public var tokens: Int64?
        public var down: [ClosedRange<Int64>] = []
        public init() {}
    }

    public init() {}

    /// Parses scenario bytes (strict JSON).
    public static func parse(_ bytes: [UInt8]) throws(SimSpecError) -> SimScenario {
        let doc: JSONValue
        do { doc = try JSONParser.parse(bytes) } catch { throw SimSpecError("scenario: \(error.description)") }
        guard case .object(let top) = doc else { throw SimSpecError("scenario: expected a JSON object") }
        var s = SimScenario()
        func number(_ v: JSONValue, _ path: String) throws(SimSpecError) -> Double {
            switch v {
            case .int(let i): return Double(i)
            case .float(let f): return f
            default: throw SimSpecError("scenario \(path): expected a number, found \(v.typeName)")
            }
        }
        func int(_ v: JSONValue, _ path: String) throws(SimSpecError) -> Int64 {
            guard case .int(let i) = v, i >= 0 else { throw SimSpecError("scenario \(path): expected an integer >= 0") }
            return i
        }
        func probability(_ v: JSONValue, _ path: String) throws(SimSpecError) -> Double {
            let x = try number(v, path)
            guard (0...1).contains(x) else { throw SimSpecError("scenario \(path): must be in 0…1, found \(x)") }
            return x
        }
        for (key, value) in top {
            switch key {
            case "faults":
                guard case .string(let spec) = value else { throw SimSpecError("scenario faults: expected a string") }
                s.faults += try SimFault.parse(spec: spec)
            case "agents":
                guard case .object(let agents) = value else { throw SimSpecError("scenario agents: expected an object") }
                for (name, a) in agents {
                    guard case .object(let fields) = a else { throw SimSpecError("scenario agents.\(name): expected an object") }
                    var o = AgentOverride()
                    for (k, v) in fields {
                        let path = "agents.\(name).\(k)"
                        switch k {
                        case "latency_ms": o.latencyMs = max(1, try number(v, path))
                        case "p95_ms": o.p95Ms = try number(v, path)
                        case "fail": o.fail = try probability(v, path)
                        case "failures":
                            guard case .object(let cs) = v else { throw SimSpecError("scenario \(path): expected an object") }
                            for (cn, p) in cs {
                                guard let c = SimErrorClass(rawValue: cn) else { throw SimSpecError("scenario \(path).\(cn): unknown error class") }
                                o.failures[c] = try probability(p, "\(path).\(cn)")
                            }
                        case "cost_per_call_micros": o.costPerCallMicros = try int(v, path)
                        case "cost_per_1k_tokens_micros": o.costPer1kTokensMicros = try int(v, path)
                        case "cost_per_second_micros": o.costPerSecondMicros = try int(v, path)
                        case "tokens": o.tokens = try int(v, path)
                        case "down":
                            guard case .array(let ws) = v else { throw SimSpecError("scenario \(path): expected [[from, to], ...]") }
                            for w in ws {
                                guard case .array(let p) = w, p.count == 2 else { throw SimSpecError("scenario \(path): expected [from, to]") }
                                let a = try int(p[0], path), b = try int(p[1], path)
                                guard a <= b else { throw SimSpecError("scenario \(path): from > to") }
                                o.down.append(a...b)
                            }
                        default: throw SimSpecError("scenario \(path): unknown field")
                        }
                    }
                    s.agents[name] = o
                }
            default: throw SimSpecError("scenario \(key): unknown field (expected agents, faults)")
            }
        }
        return s
    }

    /// Applies this scenario's overrides to `model` (for the agent `name`).
    public func apply(to model: inout SimAgentModel, agent name: String) {
        guard let o = agents[name] else { return }
        if let c = o.costPerCallMicros { model.costPerCallMicros = c }
        if let c = o.costPer1kTokensMicros { model.costPer1kTokensMicros = c }
        if let c = o.costPerSecondMicros { model.costPerSecondMicros = c }
        if let t = o.tokens { model.tokensMean = t }
        if let m = o.latencyMs { model.setLatency(meanMs: m, p95Ms: o.p95Ms) }
        if let f = o.fail { model.failure = f > 0 ? [.transient: f / 2, .agentError: f / 2] : [:] }
        for (c, p) in o.failures { model.failure[c] = p }
        model.downWindows += o.down
    }
}

extension SimFault {
    /// Applies an agent fault to `model` (task faults are applied per call by the host).
    public func apply(to model: inout SimAgentModel) {
        if let f = latencyFactor { model.latencyMedianMs *= f }
        if let p = fail { model.failure = p > 0 ? [failClass: p] : [:] }
        if let d = down { model.downWindows.append(d) }
    }
}

extension AgentProfile {
    /// The profile of a sim model.
    public init(_ m: SimAgentModel) {
        self.init(latencyMeanMs: m.latencyMeanMs, successRate: 1 - m.failureRate, costMeanMicros: m.expectedCostMicros)
    }
}
