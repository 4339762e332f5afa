// The `learned` selector's performance model: per (agent, task kind) success counts
// (a Beta posterior) and running mean/variance of latency and cost (Welford), fitted
// from past runs' journals. Pure value; the host feeds it and keeps it between runs.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Running mean and variance (Welford), exact under any number of observations.
public struct RunningMoments: Sendable, Equatable {
    public private(set) var count: Int64 = 0
    public private(set) var mean: Double = 0
    private var m2: Double = 0

    public init() {}

    /// The moments of `count` observations from their sum and sum of squares (a
    /// journalled `LearnedPrior`): the same for any order they were added in.
    init(count: Int64, sum: Int64, sumSq: Int64) {
        self.count = max(0, count)
        guard count > 0 else { return }
        let n = Double(count), s = Double(sum)
        mean = s / n
        m2 = max(0, Double(sumSq) - s * s / n)
    }

    public mutating func add(_ x: Double) {
        count += 1
        let d = x - mean
        mean += d / Double(count)
        m2 += d * (x - mean)
    }

    /// Sample variance; 0 below two observations.
    public var variance: Double { count > 1 ? m2 / Double(count - 1) : 0 }
}

/// What is known about one agent on one kind of task.
public struct AgentTaskStats: Sendable, Equatable {
    public var successes: Int64 = 0
    public var failures: Int64 = 0
    /// Latency of completed attempts (success or failure), milliseconds.
    public var latency = RunningMoments()
    /// Cost of attempts, micro-dollars.
    public var cost = RunningMoments()

    public init() {}

    public var attempts: Int64 { successes + failures }

    public mutating func add(success: Bool, latencyMs: Int64, costMicros: Int64) {
        if success { successes += 1 } else { failures += 1 }
        latency.add(Double(latencyMs))
        cost.add(Double(costMicros))
    }
}

/// A predicted distribution for one (agent, kind): Beta(α, β) success and Gaussian
/// latency and cost with the uncertainty of their means.
public struct AgentEstimate: Sendable, Equatable {
    public var alpha: Double
    public var beta: Double
    public var latencyMeanMs: Double
    /// Standard error of the latency mean (prior-weighted).
    public var latencyErrorMs: Double
    public var costMeanMicros: Double
    public var costErrorMicros: Double
    /// Observations behind the estimate.
    public var observations: Int64

    public var successMean: Double { alpha / (alpha + beta) }
    public var successStdDev: Double {
        let s = alpha + beta
        return (alpha * beta / (s * s * (s + 1))).squareRoot()
    }
}

/// Per-agent, per-task-kind performance, with a prior from the declared model.
///
/// The prior counts as `priorWeight` pseudo-observations: success Beta(1 + w·p₀, 1 + w·(1−p₀))
/// and latency/cost means shrunk toward the declared values, so an agent nobody has run
/// yet is neither ignored nor trusted blindly.
public struct PerformancePredictor: Sendable, Equatable {
    /// Stats keyed by agent name, then task kind.
    public private(set) var stats: [String: [String: AgentTaskStats]] = [:]
    /// Stats per agent across all kinds (the fallback for an unseen kind).
    public private(set) var agentStats: [String: AgentTaskStats] = [:]
    /// Observations recorded.
    public private(set) var observations: Int64 = 0
    /// Pseudo-observations given to the declared model.
    public var priorWeight: Double = 2

    public init() {}

    /// The model a journalled prior describes (`run_started`'s `prior`): each (agent,
    /// kind) cell, and per agent the cells added up (the fallback for a rare kind).
    public init(prior: LearnedPrior) {
        var byAgent: [String: LearnedPrior.Entry] = [:]
        for e in prior.entries where e.attempts > 0 {
            stats[e.agent, default: [:]][e.kind] = Self.cell(e)
            observations += e.attempts
            byAgent[e.agent, default: LearnedPrior.Entry(agent: e.agent, kind: "")].absorb(e)
        }
        for (name, e) in byAgent { agentStats[name] = Self.cell(e) }
    }

    private static func cell(_ e: LearnedPrior.Entry) -> AgentTaskStats {
        var cell = AgentTaskStats()
        cell.successes = e.successes
        cell.failures = e.failures
        cell.latency = RunningMoments(count: e.attempts, sum: e.latencySumMs, sumSq: e.latencySumSq)
        cell.cost = RunningMoments(count: e.attempts, sum: e.costSumMicros, sumSq: e.costSumSq)
        return cell
    }

    /// Records one finished attempt.
    public mutating func observe(agent: String, kind: String, success: Bool, latencyMs: Int64, costMicros: Int64) {
        stats[agent, default: [:]][kind, default: AgentTaskStats()].add(success: success, latencyMs: latencyMs, costMicros: costMicros)
        agentStats[agent, default: AgentTaskStats()].add(success: success, latencyMs: latencyMs, costMicros: costMicros)
        observations += 1
    }

    /// The estimate for `agent` on `kind`, given its declared prior (success probability,
    /// mean latency, mean cost). Kind-level data wins; agent-level data fills in when the
    /// kind has fewer than 3 observations.
    public func estimate(agent: String, kind: String, priorSuccess: Double, priorLatencyMs: Double,
                         priorCostMicros: Double) -> AgentEstimate {
        var s = stats[agent]?[kind] ?? AgentTaskStats()
        if s.attempts < 3, let a = agentStats[agent] { s = a }
        let w = priorWeight
        let p0 = min(max(priorSuccess, 0.001), 0.999)
        func shrink(_ m: RunningMoments, prior: Double) -> (mean: Double, error: Double) {
            let k = Double(m.count)
            let mean = (m.mean * k + prior * w) / (k + w)
            // Spread: observed variance, or half the prior mean when there is none.
            let spread = m.count > 1 ? m.variance.squareRoot() : max(prior, 1) * 0.5
            return (mean, spread / (k + w).squareRoot())
        }
        let lat = shrink(s.latency, prior: priorLatencyMs), cost = shrink(s.cost, prior: priorCostMicros)
        return AgentEstimate(alpha: 1 + w * p0 + Double(s.successes), beta: 1 + w * (1 - p0) + Double(s.failures),
                             latencyMeanMs: lat.mean, latencyErrorMs: lat.error,
                             costMeanMicros: cost.mean, costErrorMicros: cost.error, observations: s.attempts)
    }
}

extension PerformancePredictor {
    /// Adds every ended attempt on a real agent in `history` (a run's `RunState.history`),
    /// keyed by agent name and task kind.
    public mutating func observe(history: [[AttemptRecord]], plan: Plan) {
        for (t, records) in history.enumerated() {
            for r in records where r.agent >= 0 {
                observe(agent: plan.agentNames[r.agent], kind: PerformancePredictor.kind(plan.taskNames[t]),
                        success: r.errorClass == nil, latencyMs: r.endedAtMs - r.startedAtMs, costMicros: r.costMicros)
            }
        }
    }

    /// Fits from a journal: replays it through the core and reads the attempt history.
    /// Throws the core's error when the journal does not belong to `plan`.
    public mutating func fit(journal: [Event], plan: Plan, environment: RunEnvironment) throws(TransitionError) {
        var state = RunState(plan: plan, environment: environment)
        for e in journal { _ = try Core.step(&state, e) }
        observe(history: state.history, plan: plan)
    }

    /// The kind of a task for statistics: its name without a `for_each` index suffix
    /// (`build[3]` → `build`).
    public static func kind(_ taskName: String) -> String {
        if taskName.last == "]", let i = taskName.lastIndex(of: "[") { return String(taskName[..<i]) }
        return taskName
    }
}
