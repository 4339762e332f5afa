// Agent selection strategies: `cheapest`, `fastest`, `auction` (and `learned` in
// SelectLearned.swift). The core hands each selector only the candidates that already
// passed capability + role (the IR's per-task `agents`), health, the breaker and the
// bulkhead; a selector only ranks them. All are pure: randomness comes from `rng`.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What is known in advance about one agent: declared (`latency_ms`, `failure_rate`,
/// prices) or from a driver model. Indexed like `Plan.agentNames`.
public struct AgentProfile: Sendable, Equatable {
    /// Mean latency of one attempt.
    public var latencyMeanMs: Double
    /// Probability that an attempt succeeds.
    public var successRate: Double
    /// Mean cost of one attempt in micro-dollars.
    public var costMeanMicros: Double

    public init(latencyMeanMs: Double, successRate: Double, costMeanMicros: Double) {
        self.latencyMeanMs = latencyMeanMs
        self.successRate = successRate
        self.costMeanMicros = costMeanMicros
    }
}

/// The deadline and budget a selector plans against. The core fills `SelectorView.limits`
/// (run start, deadline, the tightest remaining budget over the workflow and the task's
/// groups); `runStartMs` is only the fallback for a view built without them (tests).
public struct SelectionLimits: Sendable, Equatable {
    public var runStartMs: Millis
    public init(runStartMs: Millis = 0) { self.runStartMs = runStartMs }

    /// Milliseconds left before the run or an enclosing budget scope stops: the
    /// deadline, the workflow's `time_ms`, started groups' `time_ms` (nil: none).
    public func remainingDeadlineMs(_ view: SelectorView) -> Double? {
        if let left = view.timeLeftMs { return Double(left) }
        let d = view.plan.deadlineMs
        guard d >= 0 else { return nil }
        return Double(d - (view.nowMs - runStartMs))
    }

    /// Money a selector may plan to spend on the task: the tightest remaining room over
    /// the workflow and every enclosing group/task budget (nil: unlimited).
    public func budgetMicros(_ view: SelectorView) -> Double? {
        if let m = view.remainingMoneyMicros { return Double(m) }
        let b = view.plan.budgetMoneyMicros
        return b >= 0 ? Double(b) : nil
    }
}

extension SelectorView {
    /// The candidates whose worst case fits the remaining budget, or all of them when
    /// none does: the core drains the run rather than dispatch a misfit, so a selector
    /// avoids one whenever it has a choice.
    public func affordable(task: Int, _ candidates: [Int]) -> [Int] {
        guard remainingMoneyMicros != nil || remainingTokens != nil else { return candidates }
        let fit = candidates.filter { worstCaseFits(task: task, agent: $0) }
        return fit.isEmpty ? candidates : fit
    }
}

extension SelectorView {
    /// A declared-figures profile when the selector has none: latency unknown (the task's
    /// timeout, or 1 s), success 1, cost the worst case of one attempt.
    func fallbackProfile(task: Int, agent: Int) -> AgentProfile {
        let t = taskTimeoutMs(task)
        return AgentProfile(latencyMeanMs: t > 0 ? Double(t) : 1000, successRate: 1,
                            costMeanMicros: Double(worstCostMicros(task: task, agent: agent)))
    }

    /// The mean latency this run observed on `agent`, if it finished any attempt.
    func observedLatencyMs(_ agent: Int) -> Double? {
        let h = health(agent)
        let n = h.successes + h.failures
        return n > 0 ? Double(h.totalLatencyMs) / Double(n) : nil
    }
}

/// Picks the candidate with the lowest expected cost per attempt (profile, else the
/// declared worst case); ties go to the faster profile, then the lower agent id.
public struct CheapestSelector: AgentSelector {
    public var profiles: [AgentProfile]?
    public init(profiles: [AgentProfile]? = nil) { self.profiles = profiles }

    public func choose(task: Int, candidates: [Int], view: SelectorView, rng: inout SeededRandom) -> Int? {
        var best: Int? = nil, bestCost = 0.0, bestLatency = 0.0
        for a in candidates {
            let p = profiles?[a] ?? view.fallbackProfile(task: task, agent: a)
            if best == nil || (p.costMeanMicros, p.latencyMeanMs, a) < (bestCost, bestLatency, best!) {
                best = a; bestCost = p.costMeanMicros; bestLatency = p.latencyMeanMs
            }
        }
        return best
    }
}

/// Picks the candidate with the lowest expected latency: this run's observed mean once
/// the agent finished an attempt, else its profile; ties go to the cheaper, then the lower id.
public struct FastestSelector: AgentSelector {
    public var profiles: [AgentProfile]?
    public init(profiles: [AgentProfile]? = nil) { self.profiles = profiles }

    public func choose(task: Int, candidates: [Int], view: SelectorView, rng: inout SeededRandom) -> Int? {
        var best: Int? = nil, bestLatency = 0.0, bestCost = 0.0
        for a in candidates {
            let p = profiles?[a] ?? view.fallbackProfile(task: task, agent: a)
            let latency = view.observedLatencyMs(a) ?? p.latencyMeanMs
            if best == nil || (latency, p.costMeanMicros, a) < (bestLatency, bestCost, best!) {
                best = a; bestLatency = latency; bestCost = p.costMeanMicros
            }
        }
        return best
    }
}

/// An agent's offer for one task: its price and its estimated time to finish.
public struct Bid: Sendable, Equatable {
    public var priceMicros: Int64
    public var etaMs: Int64
    public init(priceMicros: Int64, etaMs: Int64) {
        self.priceMicros = priceMicros
        self.etaMs = etaMs
    }
}

/// Asks an agent's driver for a bid. Pure: a real driver's bids are gathered by the shell
/// beforehand and served from a table; the sim driver derives them from its model.
public protocol AgentBidder: Sendable {
    /// The bid of `agent` for `task`, or nil when it declines.
    func bid(task: Int, agent: Int, view: SelectorView, rng: inout SeededRandom) -> Bid?
}

/// Sim agents bid their model's expected cost and mean latency, each times a seeded
/// factor uniform in [1 − noise, 1 + noise].
public struct SimBidder: AgentBidder {
    public var profiles: [AgentProfile]
    public var noise: Double
    public init(profiles: [AgentProfile], noise: Double = 0.1) {
        precondition((0..<1).contains(noise), "noise must be in [0, 1)")
        self.profiles = profiles
        self.noise = noise
    }

    public func bid(task: Int, agent: Int, view: SelectorView, rng: inout SeededRandom) -> Bid? {
        let p = profiles[agent]
        let f1 = 1 - noise + 2 * noise * SimDraw.unit(&rng), f2 = 1 - noise + 2 * noise * SimDraw.unit(&rng)
        return Bid(priceMicros: Int64((p.costMeanMicros * f1).rounded()), etaMs: Int64((p.latencyMeanMs * f2).rounded()))
    }
}

/// Asks every candidate for a bid (in id order, so the draws are deterministic). Bids
/// above the remaining budget (the tightest of the workflow's and the task's groups'), or
/// from agents whose worst case would not fit it, are dropped when another bid remains.
/// Among the rest, the bids whose ETA meets the deadline (the time left before the run or
/// an enclosing budget scope stops, and the task's timeout) compete: the lowest price
/// wins; ties go to the earlier ETA, then the lower agent id. When no bid meets the
/// deadline, the earliest ETA wins (same tie-breaks by price, id).
public struct AuctionSelector: AgentSelector {
    public var bidder: any AgentBidder
    public var limits: SelectionLimits
    public init(bidder: any AgentBidder, limits: SelectionLimits = SelectionLimits()) {
        self.bidder = bidder
        self.limits = limits
    }

    public func choose(task: Int, candidates: [Int], view: SelectorView, rng: inout SeededRandom) -> Int? {
        var bids: [(agent: Int, bid: Bid)] = []
        bids.reserveCapacity(candidates.count)
        for a in candidates { if let b = bidder.bid(task: task, agent: a, view: view, rng: &rng) { bids.append((a, b)) } }
        let affordable = view.affordable(task: task, bids.map(\.agent))
        if affordable.count < bids.count { bids = bids.filter { affordable.contains($0.agent) } }
        let budget = limits.budgetMicros(view).map { Int64($0) }
        return AuctionSelector.winner(bids: bids, deadlineMs: deadline(task: task, view: view), budgetMicros: budget)
    }

    /// The time a bid must finish within: the remaining workflow time and the task timeout.
    func deadline(task: Int, view: SelectorView) -> Int64? {
        var d: Int64? = nil
        if let r = limits.remainingDeadlineMs(view) { d = Int64(r) }
        let t = view.taskTimeoutMs(task)
        if t > 0 { d = min(d ?? t, t) }
        return d
    }

    /// The auction rule with a budget: bids priced above `budgetMicros` are dropped
    /// when another bid remains, then `winner(bids:deadlineMs:)`.
    public static func winner(bids: [(agent: Int, bid: Bid)], deadlineMs: Int64?, budgetMicros: Int64?) -> Int? {
        guard let budgetMicros else { return winner(bids: bids, deadlineMs: deadlineMs) }
        let within = bids.filter { $0.bid.priceMicros <= budgetMicros }
        return winner(bids: within.isEmpty ? bids : within, deadlineMs: deadlineMs)
    }

    /// The auction rule on given bids (exposed for tests).
    public static func winner(bids: [(agent: Int, bid: Bid)], deadlineMs: Int64?) -> Int? {
        var best: (agent: Int, bid: Bid)? = nil
        let meeting = bids.filter { deadlineMs == nil || $0.bid.etaMs <= deadlineMs! }
        if !meeting.isEmpty {
            for b in meeting {
                guard let c = best else { best = b; continue }
                if (b.bid.priceMicros, b.bid.etaMs, b.agent) < (c.bid.priceMicros, c.bid.etaMs, c.agent) { best = b }
            }
        } else {
            for b in bids {
                guard let c = best else { best = b; continue }
                if (b.bid.etaMs, b.bid.priceMicros, b.agent) < (c.bid.etaMs, c.bid.priceMicros, c.agent) { best = b }
            }
        }
        return best?.agent
    }
}

/// The names `selector:` may take in a workflow and on `ezrun --selector`.
public enum SelectorName: String, Sendable, CaseIterable {
    case cheapest, fastest, learned, auction
}
