// Flattening a validated IRProgram into the scheduler's Int-indexed arrays.
import EzflowIR

/// Why a validated IR cannot be run by this runtime (a value it does not understand).
public struct PlanError: Error, Sendable, Equatable, CustomStringConvertible {
    /// JSON path of the field, as in `IRValidationError`.
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

extension Plan {
    /// Builds the plan of the program's root workflow. Nested `workflow` tasks are
    /// scheduled as one opaque task each (the shell runs the sub-workflow).
    public init(_ ir: IRProgram) throws(PlanError) {
        let w = ir.workflow
        let n = w.tasks.count
        hash = ir.hash
        taskCount = n
        selectorName = w.selector
        var agentID: [String: Int] = [:]
        agentNames = []
        agentConcurrency = []
        agentCostPerCallMicros = []
        agentCostPer1kTokensMicros = []
        agentCostPerSecondMicros = []
        for (i, a) in w.agents.enumerated() {
            agentID[a.name] = i
            agentNames.append(a.name)
            agentConcurrency.append(Int(max(1, a.concurrency)))
            agentCostPerCallMicros.append(a.costPerCallMicros)
            agentCostPer1kTokensMicros.append(a.costPer1kTokensMicros)
            agentCostPerSecondMicros.append(a.costPerSecondMicros)
        }
        // Outputs and their conflict policies.
        outputNames = []
        onConflict = []
        var outputID: [String: Int] = [:]
        if case .array(let outs)? = w.json["outputs"] {
            for (i, o) in outs.enumerated() {
                guard case .string(let name)? = o["name"] else { continue }
                outputID[name] = outputNames.count
                outputNames.append(name)
                if case .string(let p)? = o["on_conflict"] {
                    guard let c = ConflictPolicy(rawValue: p) else {
                        throw PlanError(path: "outputs[\(i)].on_conflict", message: "unknown policy `\(p)`")
                    }
                    onConflict.append(c)
                } else {
                    onConflict.append(.fail)
                }
            }
        }
        taskNames = []
        isApproval = []
        isFallback = []
        priority = []
        timeoutMs = []
        attemptsMax = []
        backoff = []
        delayMs = []
        maxDelayMs = []
        jitter = []
        retryOnStart = [0]
        retryOn = []
        errorClassNames = ["timeout", "transient", "agent_error"]
        var classID: [String: Int] = ["timeout": 0, "transient": 1, "agent_error": 2]
        catchTask = []
        catchAgent = []
        candidateStart = [0]
        candidates = []
        tagStart = [0]
        tags = []
        tagNames = []
        var tagID: [String: Int] = [:]
        maxCostMicros = []
        maxTokens = []
        writeStart = [0]
        writes = []
        depStart = [0]
        deps = []
        for (i, t) in w.tasks.enumerated() {
            precondition(t.id == i, "validated IR has dense task ids")
            let path = "tasks[\(i)]"
            taskNames.append(t.name)
            isApproval.append(t.action == "approve")
            isFallback.append(t.fallback)
            priority.append(Int(t.priority))
            timeoutMs.append(t.timeoutMs ?? 0)
            deps.append(contentsOf: t.deps)
            depStart.append(deps.count)
            if let r = t.retry {
                attemptsMax.append(Int(min(r.attempts, 1_000)))
                guard let b = Backoff(rawValue: r.backoff) else { throw PlanError(path: path + ".retry.backoff", message: "unknown backoff `\(r.backoff)`") }
                guard let j = Jitter(rawValue: r.jitter) else { throw PlanError(path: path + ".retry.jitter", message: "unknown jitter `\(r.jitter)`") }
                backoff.append(b)
                jitter.append(j)
                delayMs.append(r.delayMs)
                maxDelayMs.append(r.maxDelayMs ?? -1)
                for c in r.on {
                    if let id = classID[c] { retryOn.append(id) } else {
                        classID[c] = errorClassNames.count
                        retryOn.append(errorClassNames.count)
                        errorClassNames.append(c)
                    }
                }
                catchTask.append(r.catchTask ?? -1)
                if let a = r.catchAgent {
                    guard let id = agentID[a] else { throw PlanError(path: path + ".retry.catch.agent", message: "no agent `\(a)`") }
                    catchAgent.append(id)
                } else {
                    catchAgent.append(-1)
                }
            } else {
                attemptsMax.append(1)
                backoff.append(.fixed)
                jitter.append(.none)
                delayMs.append(0)
                maxDelayMs.append(-1)
                catchTask.append(-1)
                catchAgent.append(-1)
            }
            retryOnStart.append(retryOn.count)
            for a in t.agents {
                guard let id = agentID[a] else { throw PlanError(path: path + ".agents", message: "no agent `\(a)`") }
                candidates.append(id)
            }
            candidateStart.append(candidates.count)
            for g in t.tags {
                if let id = tagID[g] { tags.append(id) } else {
                    tagID[g] = tagNames.count
                    tags.append(tagNames.count)
                    tagNames.append(g)
                }
            }
            tagStart.append(tags.count)
            if case .int(let c)? = t.json["max_cost_micros"] { maxCostMicros.append(c) } else { maxCostMicros.append(-1) }
            if case .int(let c)? = t.json["max_tokens"] { maxTokens.append(c) } else { maxTokens.append(-1) }
            if case .array(let ws)? = t.json["writes"] {
                for case .string(let o) in ws {
                    guard let id = outputID[o] else { throw PlanError(path: path + ".writes", message: "no output `\(o)`") }
                    writes.append(id)
                }
            }
            writeStart.append(writes.count)
        }
        for (i, c) in catchTask.enumerated() where c >= 0 {
            guard c < n, c != i else { throw PlanError(path: "tasks[\(i)].retry.catch.task", message: "bad fallback task \(c)") }
        }
        maxParallel = w.maxParallel.map { Int($0) } ?? -1
        budgetMoneyMicros = w.budget?.moneyMicros ?? -1
        budgetTokens = w.budget?.tokens ?? -1
        budgetTimeMs = w.budget?.timeMs ?? -1
        deadlineMs = w.deadlineMs ?? -1
        dependentStart = []
        dependents = []
        criticalPathMs = []
        rank = []
        try derive()
    }

    /// Recomputes what is derived from the per-task arrays: dependents (CSR), critical
    /// paths and the dispatch order; checks that no `catch` task depends on the task it
    /// catches (it could never start). `init(_:)` calls it; tests that edit a plan call it again.
    public mutating func derive() throws(PlanError) {
        let n = taskCount
        // Dependents (CSR), by counting.
        var counts = Array(repeating: 0, count: n + 1)
        for d in deps { counts[d + 1] += 1 }
        for i in 0..<n { counts[i + 1] += counts[i] }
        dependentStart = counts
        dependents = Array(repeating: 0, count: deps.count)
        var fill = counts
        for t in 0..<n {
            for k in depStart[t]..<depStart[t + 1] {
                let d = deps[k]
                dependents[fill[d]] = t
                fill[d] += 1
            }
        }
        // Critical path: ids are topological, so one backward sweep suffices.
        criticalPathMs = Array(repeating: 0, count: n)
        rank = Array(repeating: 0, count: n)
        for t in stride(from: n - 1, through: 0, by: -1) {
            var tail: Int64 = 0
            for k in dependentStart[t]..<dependentStart[t + 1] { tail = max(tail, criticalPathMs[dependents[k]]) }
            criticalPathMs[t] = Plan.saturatingAdd(worstDurationMs(t), tail)
        }
        let order = (0..<n).sorted { a, b in
            if priority[a] != priority[b] { return priority[a] > priority[b] }
            if criticalPathMs[a] != criticalPathMs[b] { return criticalPathMs[a] > criticalPathMs[b] }
            return a < b
        }
        for (r, t) in order.enumerated() { rank[t] = r }
        for (i, c) in catchTask.enumerated() where c >= 0 {
            var seen = Array(repeating: false, count: n)
            var stack = [i]
            while let x = stack.popLast() {
                if x == c { throw PlanError(path: "tasks[\(i)].retry.catch.task", message: "fallback `\(taskNames[c])` depends on `\(taskNames[i])`") }
                for k in dependentStart[x]..<dependentStart[x + 1] where !seen[dependents[k]] {
                    seen[dependents[k]] = true
                    stack.append(dependents[k])
                }
            }
        }
    }

    /// A task's worst-case duration: every attempt runs to its timeout and every backoff
    /// takes its un-jittered delay (at least 1 ms, so untimed tasks still count).
    public func worstDurationMs(_ t: Int) -> Int64 {
        var total = Plan.saturatingMul(timeoutMs[t], Int64(attemptsMax[t]))
        if attemptsMax[t] > 1 {
            for a in 1..<attemptsMax[t] { total = Plan.saturatingAdd(total, baseDelayMs(task: t, failedAttempt: a)) }
        }
        return max(total, 1)
    }

    /// The un-jittered delay after attempt `failedAttempt` (1-based) failed:
    /// fixed `d`, linear `d × n`, exponential `d × 2^(n-1)`, each capped by `max_delay_ms`.
    public func baseDelayMs(task t: Int, failedAttempt n: Int) -> Int64 {
        let d = delayMs[t]
        var v: Int64
        switch backoff[t] {
        case .fixed: v = d
        case .linear: v = Plan.saturatingMul(d, Int64(n))
        case .exponential: v = n - 1 >= 62 ? (d == 0 ? 0 : Int64.max) : Plan.saturatingMul(d, Int64(1) << Int64(n - 1))
        }
        if maxDelayMs[t] >= 0 { v = min(v, maxDelayMs[t]) }
        return v
    }

    /// Worst-case money of one attempt of `task` on `agent` (-1: local, costs nothing but
    /// `max_cost_micros`): `max_cost_micros` when given, else the agent's cost model —
    /// per call + per second × timeout + per 1k tokens × `max_tokens` (missing timeout or
    /// max_tokens count as 0).
    public func worstCostMicros(task t: Int, agent a: Int) -> Int64 {
        if maxCostMicros[t] >= 0 { return maxCostMicros[t] }
        guard a >= 0 else { return 0 }
        var c = agentCostPerCallMicros[a]
        c = Plan.saturatingAdd(c, Plan.saturatingMul(agentCostPerSecondMicros[a], (timeoutMs[t] + 999) / 1000))
        if maxTokens[t] > 0 {
            c = Plan.saturatingAdd(c, Plan.saturatingMul(agentCostPer1kTokensMicros[a], (maxTokens[t] + 999) / 1000))
        }
        return c
    }

    /// Worst-case tokens of one attempt: `max_tokens`, else 0.
    public func worstTokens(task t: Int) -> Int64 { max(0, maxTokens[t]) }

    /// Whether the rule of `task` retries error class `name`.
    public func retries(task t: Int, errorClass name: String) -> Bool {
        for k in retryOnStart[t]..<retryOnStart[t + 1] where errorClassNames[retryOn[k]] == name { return true }
        return false
    }

    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? Int64.max : r
    }

    static func saturatingMul(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? Int64.max : r
    }
}

/// The default selector: the lowest agent id among the candidates (which all have free
/// capacity), never drawing randomness.
public struct FirstFitSelector: AgentSelector {
    public init() {}
    public func choose(task: Int, candidates: [Int], view: SelectorView, rng: inout SeededRandom) -> Int? {
        candidates.first
    }
}

/// A breaker that never opens; it only counts failures in a row.
public struct NoBreaker: BreakerPolicy {
    public init() {}
    public func record(_ outcome: AttemptOutcome, nowMs: Millis, health: inout AgentHealth) {}
    public func admit(agent: Int, nowMs: Millis, health: inout AgentHealth) -> Bool { true }
}
