// The `learned` selector: choose by expected cost to succeed, from a performance
// predictor fitted on past runs, exploring by bounded Thompson sampling.

/// For each candidate, draws a success probability from its Beta posterior and latency
/// and cost from the uncertainty of their means (Thompson sampling), every draw clipped
/// to the posterior mean ± `spreadMax` standard deviations — so exploration is bounded
/// and shrinks as 1/√n as evidence accumulates, and an agent whose optimistic value is
/// worse than another's pessimistic one is never tried. With p the drawn success
/// probability, an agent's expected cost to succeed is cost/p and its expected time to
/// succeed latency/p (geometric retries). Candidates whose worst case would not fit the
/// remaining budget are left out when another fits (the core would drain the run).
/// Among the rest, those whose expected time fits the time left (deadline, workflow and
/// enclosing groups' `time_ms`, and the task timeout) and whose expected cost fits the
/// remaining budget (the tightest of the workflow's and the task's groups') compete: the
/// lowest expected cost wins (ties: expected time, then agent id); when none fits, the
/// lowest expected time wins. Every candidate is drawn for, in id order, whatever is
/// left out, so the generator advances the same way. Setting `spreadMax` to 0 gives the
/// greedy choice.
public struct LearnedSelector: AgentSelector {
    public var predictor: PerformancePredictor
    /// Declared or modelled figures per agent id: the prior.
    public var profiles: [AgentProfile]?
    public var limits: SelectionLimits
    /// Bound on exploration, in posterior standard deviations.
    public var spreadMax: Double

    public init(predictor: PerformancePredictor, profiles: [AgentProfile]? = nil, limits: SelectionLimits = SelectionLimits(),
                spreadMax: Double = 2) {
        precondition(spreadMax >= 0, "spreadMax must be >= 0")
        self.predictor = predictor
        self.profiles = profiles
        self.limits = limits
        self.spreadMax = spreadMax
    }

    public func choose(task: Int, candidates: [Int], view: SelectorView, rng: inout SeededRandom) -> Int? {
        let kind = PerformancePredictor.kind(view.taskName(task))
        // A real run's model is the one its `run_started` journalled (fitted from the
        // store's earlier runs); a simulation feeds `predictor` between runs instead.
        let model = view.learned ?? predictor
        var deadline = limits.remainingDeadlineMs(view)
        let timeout = view.taskTimeoutMs(task)
        if timeout > 0 { deadline = min(deadline ?? Double(timeout), Double(timeout)) }
        let budget = limits.budgetMicros(view)
        var best: (agent: Int, cost: Double, time: Double)? = nil
        var bestLate: (agent: Int, time: Double, cost: Double)? = nil
        let affordable = view.affordable(task: task, candidates)
        for a in candidates {
            let prior = profiles?[a] ?? view.fallbackProfile(task: task, agent: a)
            let e = model.estimate(agent: view.name(a), kind: kind, priorSuccess: prior.successRate,
                                       priorLatencyMs: prior.latencyMeanMs, priorCostMicros: prior.costMeanMicros)
            let (p, latency, cost) = draw(e, &rng)
            let expCost = cost / p, expTime = latency / p
            guard affordable.count == candidates.count || affordable.contains(a) else { continue }
            if (deadline.map { expTime <= $0 } ?? true) && (budget.map { expCost <= $0 } ?? true) {
                if best == nil || (expCost, expTime, a) < (best!.cost, best!.time, best!.agent) { best = (a, expCost, expTime) }
            } else if bestLate == nil || (expTime, expCost, a) < (bestLate!.time, bestLate!.cost, bestLate!.agent) {
                bestLate = (a, expTime, expCost)
            }
        }
        return best?.agent ?? bestLate?.agent
    }

    /// One bounded Thompson draw: (success probability, latency ms, cost micros).
    func draw(_ e: AgentEstimate, _ rng: inout SeededRandom) -> (Double, Double, Double) {
        func clip(_ x: Double, _ mean: Double, _ sd: Double) -> Double { min(max(x, mean - spreadMax * sd), mean + spreadMax * sd) }
        guard spreadMax > 0 else { return (max(e.successMean, 0.001), max(e.latencyMeanMs, 0), max(e.costMeanMicros, 0)) }
        let p = clip(SimDraw.beta(e.alpha, e.beta, &rng), e.successMean, e.successStdDev)
        let z1 = SimDraw.normal(&rng), z2 = SimDraw.normal(&rng)
        let latency = clip(e.latencyMeanMs + z1 * e.latencyErrorMs, e.latencyMeanMs, e.latencyErrorMs)
        let cost = clip(e.costMeanMicros + z2 * e.costErrorMicros, e.costMeanMicros, e.costErrorMicros)
        return (max(p, 0.001), max(latency, 0), max(cost, 0))
    }
}
