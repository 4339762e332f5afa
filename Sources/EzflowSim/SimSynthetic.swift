// Synthetic plans for scheduling benchmarks: built directly as arrays (no IR, no JSON),
// so a 1,000,000-task plan costs what the scheduler's own arrays cost.
import EzflowRuntime

/// The shape of a synthetic plan.
public struct SyntheticPlanSpec: Sendable, Equatable {
    public var tasks: Int
    public var agents: Int
    /// Agents that may run each task (the capability match's result).
    public var candidatesPerTask: Int
    /// Dependencies per task (on tasks among the previous `window`), except the first ones.
    public var depsPerTask: Int
    public var window: Int
    /// Slots per agent (bulkhead).
    public var concurrency: Int
    /// Attempts per task; transient failures are retried after `retryDelayMs`.
    public var attempts: Int
    public var retryDelayMs: Int64
    public var seed: UInt64

    public init(tasks: Int, agents: Int, candidatesPerTask: Int = 4, depsPerTask: Int = 2, window: Int = 1_000,
                concurrency: Int = 4, attempts: Int = 3, retryDelayMs: Int64 = 100, seed: UInt64 = 1) {
        precondition(tasks >= 1 && agents >= 1 && candidatesPerTask >= 1 && candidatesPerTask <= agents, "bad synthetic plan")
        self.tasks = tasks
        self.agents = agents
        self.candidatesPerTask = candidatesPerTask
        self.depsPerTask = depsPerTask
        self.window = max(1, window)
        self.concurrency = concurrency
        self.attempts = attempts
        self.retryDelayMs = retryDelayMs
        self.seed = seed
    }
}

extension Plan {
    /// A random layered DAG: task `t` depends on `depsPerTask` distinct tasks among the
    /// `window` before it; candidates are `candidatesPerTask` agents spread over the pool;
    /// priorities 0…9; no timeouts, budgets or deadline; retries on `transient`.
    public static func synthetic(_ s: SyntheticPlanSpec) -> Plan {
        var r = SeededRandom(seed: s.seed)
        let n = s.tasks
        var depStart = [Int](repeating: 0, count: n + 1)
        var deps: [Int] = []
        deps.reserveCapacity(n * s.depsPerTask)
        var indegreeOut = [Int](repeating: 0, count: n + 1) // dependents count per task
        for t in 0..<n {
            depStart[t] = deps.count
            let k = min(s.depsPerTask, t)
            var chosen: [Int] = []
            var guardCount = 0
            while chosen.count < k && guardCount < 64 {
                guardCount += 1
                let lo = max(0, t - s.window)
                let d = lo + Int(r.next() % UInt64(t - lo))
                if !chosen.contains(d) { chosen.append(d) }
            }
            chosen.sort()
            for d in chosen { indegreeOut[d] += 1 }
            deps.append(contentsOf: chosen)
        }
        depStart[n] = deps.count
        var dependentStart = [Int](repeating: 0, count: n + 1)
        for t in 0..<n { dependentStart[t + 1] = dependentStart[t] + indegreeOut[t] }
        var fill = dependentStart
        var dependents = [Int](repeating: 0, count: deps.count)
        for t in 0..<n { for k in depStart[t]..<depStart[t + 1] { let d = deps[k]; dependents[fill[d]] = t; fill[d] += 1 } }
        var priority = [Int](repeating: 0, count: n)
        for t in 0..<n { priority[t] = Int(r.next() % 10) }
        // Worst-case path with 1 s per task, from the end backwards.
        var critical = [Int64](repeating: 1000, count: n)
        for t in stride(from: n - 1, through: 0, by: -1) {
            var m: Int64 = 0
            for k in dependentStart[t]..<dependentStart[t + 1] { m = max(m, critical[dependents[k]]) }
            critical[t] = 1000 + m
        }
        var order = Array(0..<n)
        order.sort { a, b in
            if priority[a] != priority[b] { return priority[a] > priority[b] }
            if critical[a] != critical[b] { return critical[a] > critical[b] }
            return a < b
        }
        var rank = [Int](repeating: 0, count: n)
        for (i, t) in order.enumerated() { rank[t] = i }
        var candidateStart = [Int](repeating: 0, count: n + 1)
        var candidates: [Int] = []
        candidates.reserveCapacity(n * s.candidatesPerTask)
        let stride = max(1, s.agents / s.candidatesPerTask)
        for t in 0..<n {
            candidateStart[t] = candidates.count
            let base = Int(r.next() % UInt64(s.agents))
            var cs: [Int] = []
            for j in 0..<s.candidatesPerTask {
                let a = (base + j * stride) % s.agents
                if !cs.contains(a) { cs.append(a) }
            }
            cs.sort()
            candidates.append(contentsOf: cs)
        }
        candidateStart[n] = candidates.count
        let width = String(s.agents - 1).count
        // No tags, outputs, limits or selector: those keep `Plan`'s defaults.
        var plan = Plan.empty
        plan.hash = "sha256:synthetic-\(n)-\(s.agents)-\(s.seed)"
        plan.taskCount = n
        plan.taskNames = (0..<n).map { "t\($0)" }
        plan.isApproval = [Bool](repeating: false, count: n)
        plan.isFallback = [Bool](repeating: false, count: n)
        plan.depStart = depStart
        plan.deps = deps
        plan.dependentStart = dependentStart
        plan.dependents = dependents
        plan.priority = priority
        plan.criticalPathMs = critical
        plan.rank = rank
        plan.timeoutMs = [Int64](repeating: 0, count: n)
        plan.attemptsMax = [Int](repeating: s.attempts, count: n)
        plan.ruleStart = Array(0...n)
        plan.ruleAttempts = plan.attemptsMax
        plan.backoff = [Backoff](repeating: .fixed, count: n)
        plan.delayMs = [Int64](repeating: s.retryDelayMs, count: n)
        plan.maxDelayMs = [Int64](repeating: -1, count: n)
        plan.jitter = [Jitter](repeating: .none, count: n)
        plan.retryOnStart = (0...n).map { $0 }
        plan.retryOn = [Int](repeating: 0, count: n)
        plan.errorClassNames = ["transient", "agent_error", "timeout"]
        plan.catchTask = [Int](repeating: -1, count: n)
        plan.catchAgent = [Int](repeating: -1, count: n)
        plan.candidateStart = candidateStart
        plan.candidates = candidates
        plan.tagStart = [Int](repeating: 0, count: n + 1)
        plan.maxCostMicros = [Int64](repeating: -1, count: n)
        plan.maxTokens = [Int64](repeating: -1, count: n)
        plan.writeStart = [Int](repeating: 0, count: n + 1)
        plan.agentNames = (0..<s.agents).map { let i = String($0); return "a" + String(repeating: "0", count: width - i.count) + i }
        plan.agentConcurrency = [Int](repeating: s.concurrency, count: s.agents)
        plan.agentCostPerCallMicros = (0..<s.agents).map { Int64(100 + $0 % 900) }
        plan.agentCostPer1kTokensMicros = [Int64](repeating: 0, count: s.agents)
        plan.agentCostPerSecondMicros = [Int64](repeating: 0, count: s.agents)
        plan.fillDefaults()
        return plan
    }
}
