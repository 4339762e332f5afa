import EzflowHost
@testable import EzflowRuntime
import EzflowSim
import XCTest

/// Three sim agents: `cheap` ($0.001, 2 s), `mid` ($0.002, 500 ms), `quick` ($0.003, 100 ms).
let pool = """
agent cheap {
  driver: sim
  capabilities: ["shell"]
  concurrency: 4
  cost_per_call: $0.001
  latency: 2s
}

agent mid {
  driver: sim
  capabilities: ["shell"]
  concurrency: 4
  cost_per_call: $0.002
  latency: 500ms
}

agent quick {
  driver: sim
  capabilities: ["shell"]
  concurrency: 4
  cost_per_call: $0.003
  latency: 100ms
}

role ops {
  allow: [run]
  agents: [cheap, mid, quick]
}

"""

final class SelectorTests: XCTestCase {
    func poolPlan() throws -> (SimInput, SimWorld) {
        let input = try simInput(pool + "workflow main {\n" + tasks(1) + "}\n")
        let world = try SimWorld(program: input.program, plan: input.plan, scenario: SimScenario(), faults: [])
        return (input, world)
    }

    func testCheapestAndFastestPickTheRightAgent() throws {
        let (input, world) = try poolPlan()
        let plan = input.plan
        XCTAssertEqual(plan.agentNames, ["cheap", "mid", "quick"])
        var rng = SeededRandom(seed: 1)
        let v = view(plan)
        XCTAssertEqual(CheapestSelector(profiles: world.profiles).choose(task: 0, candidates: [0, 1, 2], view: v, rng: &rng), 0)
        XCTAssertEqual(FastestSelector(profiles: world.profiles).choose(task: 0, candidates: [0, 1, 2], view: v, rng: &rng), 2)
        // Only the candidates the core offers are considered.
        XCTAssertEqual(CheapestSelector(profiles: world.profiles).choose(task: 0, candidates: [1, 2], view: v, rng: &rng), 1)
        XCTAssertEqual(FastestSelector(profiles: world.profiles).choose(task: 0, candidates: [0, 1], view: v, rng: &rng), 1)
        // Without profiles: declared prices (worst case of one attempt) and the lower id on ties.
        XCTAssertEqual(CheapestSelector().choose(task: 0, candidates: [2, 1, 0], view: v, rng: &rng), 0)
        XCTAssertEqual(FastestSelector().choose(task: 0, candidates: [2, 1], view: v, rng: &rng), 1)
        // Equal profiles: the lower id wins.
        let same = [AgentProfile](repeating: AgentProfile(latencyMeanMs: 10, successRate: 1, costMeanMicros: 5), count: 3)
        XCTAssertEqual(CheapestSelector(profiles: same).choose(task: 0, candidates: [1, 2], view: v, rng: &rng), 1)
        XCTAssertEqual(FastestSelector(profiles: same).choose(task: 0, candidates: [2, 0], view: v, rng: &rng), 0)
        XCTAssertEqual(rng, SeededRandom(seed: 1), "cheapest and fastest draw no randomness")
    }

    func testFastestPrefersObservedLatency() throws {
        let (input, world) = try poolPlan()
        var health = Array(repeating: AgentHealth(), count: 3)
        health[2].successes = 2
        health[2].totalLatencyMs = 10_000 // quick turned out to take 5 s
        var rng = SeededRandom(seed: 1)
        XCTAssertEqual(FastestSelector(profiles: world.profiles).choose(task: 0, candidates: [0, 1, 2], view: view(input.plan, health: health), rng: &rng), 1)
    }

    func testAuctionWinnerAndTieBreaks() {
        func bid(_ a: Int, _ price: Int64, _ eta: Int64) -> (agent: Int, bid: Bid) { (a, Bid(priceMicros: price, etaMs: eta)) }
        // Lowest price wins.
        XCTAssertEqual(AuctionSelector.winner(bids: [bid(0, 300, 10), bid(1, 100, 90), bid(2, 200, 5)], deadlineMs: nil), 1)
        // Equal price: earlier ETA; equal price and ETA: lower id, whatever the bid order.
        XCTAssertEqual(AuctionSelector.winner(bids: [bid(0, 100, 60), bid(1, 100, 50)], deadlineMs: nil), 1)
        XCTAssertEqual(AuctionSelector.winner(bids: [bid(2, 100, 50), bid(1, 100, 50), bid(0, 100, 60)], deadlineMs: nil), 1)
        XCTAssertEqual(AuctionSelector.winner(bids: [bid(1, 100, 50), bid(2, 100, 50)], deadlineMs: nil), 1)
        // A bid that misses the deadline loses to a dearer one that meets it.
        XCTAssertEqual(AuctionSelector.winner(bids: [bid(0, 50, 60), bid(1, 100, 50)], deadlineMs: 55), 1)
        // Nobody meets it: the earliest ETA, then the lower price, then the lower id.
        XCTAssertEqual(AuctionSelector.winner(bids: [bid(0, 50, 60), bid(1, 100, 50), bid(2, 90, 50)], deadlineMs: 10), 2)
        XCTAssertNil(AuctionSelector.winner(bids: [], deadlineMs: nil))
    }

    func testAuctionWithSimBidsIsSeeded() throws {
        let (input, world) = try poolPlan()
        let s = AuctionSelector(bidder: SimBidder(profiles: world.profiles, noise: 0.1))
        var picks: [Int] = []
        for seed in 0..<50 as Range<UInt64> {
            var r1 = SeededRandom(seed: seed), r2 = SeededRandom(seed: seed)
            let a = s.choose(task: 0, candidates: [0, 1, 2], view: view(input.plan), rng: &r1)
            XCTAssertEqual(a, s.choose(task: 0, candidates: [0, 1, 2], view: view(input.plan), rng: &r2))
            XCTAssertEqual(r1, r2)
            picks.append(a!)
        }
        // Prices differ by 2× and 3×: 10 % noise never changes the cheapest bidder.
        XCTAssertEqual(Set(picks), [0])
        // With a 1 s task timeout only `mid` and `quick` can meet it; `mid` is cheaper.
        let timed = try simInput(pool + "workflow main {\n" + tasks(1, extra: "    timeout: 1s\n") + "}\n")
        var r = SeededRandom(seed: 9)
        XCTAssertEqual(s.choose(task: 0, candidates: [0, 1, 2], view: view(timed.plan), rng: &r), 1)
    }

    /// `flaky` is cheaper and looks reliable on paper, but fails 60 % of calls (injected,
    /// so the prior does not know); `steady` costs 1.5× and never fails. Expected cost to
    /// succeed: flaky 0.001/0.4 = $0.0025, steady $0.0015. The learned selector starts on
    /// flaky and must move to steady.
    func testLearnedConvergesToTheBestAgent() throws {
        let source = """
        agent flaky {
          driver: sim
          capabilities: ["shell"]
          concurrency: 8
          cost_per_call: $0.001
          latency: 200ms
        }

        agent steady {
          driver: sim
          capabilities: ["shell"]
          concurrency: 8
          cost_per_call: $0.0015
          latency: 200ms
        }

        role ops {
          allow: [run]
          agents: [flaky, steady]
        }

        workflow main {
          selector: learned

        """ + tasks(2, extra: "    retry {\n      attempts: 4\n      backoff: fixed\n      delay: 1s\n      on: [agent_error, transient]\n    }\n") + "}\n"
        var sim = try simulator(source, seed: 2024, runs: 200, faults: "agent=flaky:fail=0.6")
        XCTAssertEqual(sim.selectorName, .learned)
        let runs = try sim.runAll()
        let flaky = sim.world.plan.agentNames.firstIndex(of: "flaky")!, steady = 1 - flaky
        // The agent each task's first attempt went to, per run.
        let first = runs.map { r in r.history.compactMap { $0.first?.agent } }
        let early = first.prefix(20).joined(), late = first.suffix(50).joined()
        XCTAssertGreaterThan(early.count { $0 == flaky }, 0, "the prior favours flaky at first")
        let share = Double(late.count { $0 == steady }) / Double(late.count)
        XCTAssertGreaterThanOrEqual(share, 0.9, "late first attempts on steady: \(share)")
        print("learned: first attempts on flaky in runs 0-19: \(early.count { $0 == flaky })/\(early.count); on steady in runs 150-199: \(late.count { $0 == steady })/\(late.count)")
        // The fitted model agrees: steady is reliable, flaky is not.
        let e = sim.predictor.estimate(agent: "flaky", kind: "t0", priorSuccess: 1, priorLatencyMs: 200, priorCostMicros: 1000)
        XCTAssertLessThan(e.successMean, 0.6)
        // Fitting from a journal gives the same statistics as the live history.
        var one = try simulator(source, seed: 7, runs: 1, faults: "agent=flaky:fail=0.6", keepJournals: true)
        let r = try one.runOne(index: 0)
        var fromJournal = PerformancePredictor(), fromHistory = PerformancePredictor()
        try fromJournal.fit(journal: r.journal.map(\.event), plan: one.world.plan,
                            environment: RunEnvironment(selector: LearnedSelector(predictor: PerformancePredictor(), profiles: one.world.profiles),
                                                        breaker: CircuitBreaker()))
        fromHistory.observe(history: r.history, plan: one.world.plan)
        XCTAssertEqual(fromJournal, fromHistory)
    }

    func testPredictorMoments() {
        var m = RunningMoments()
        for x in [2.0, 4, 4, 4, 5, 5, 7, 9] { m.add(x) }
        XCTAssertEqual(m.mean, 5, accuracy: 1e-12)
        XCTAssertEqual(m.variance, 32.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(PerformancePredictor.kind("build[12]"), "build")
        XCTAssertEqual(PerformancePredictor.kind("build"), "build")
    }

    // MARK: remaining budget and deadline

    /// `metered` is cheaper on average but its worst case (10 s at $0.01/s) is $0.101;
    /// `flat` always costs $0.005. With $0.05 left only `flat` can be dispatched without
    /// draining the run, so `learned` (greedy) and `auction` pick it; with no budget
    /// they pick `metered`.
    func testLearnedAndAuctionStayWithinTheRemainingBudget() throws {
        let source = """
        agent flat {
          driver: sim
          capabilities: ["shell"]
          concurrency: 4
          cost_per_call: $0.005
          latency: 100ms
        }

        agent metered {
          driver: sim
          capabilities: ["shell"]
          concurrency: 4
          cost_per_call: $0.001
          cost_per_second: $0.01
          latency: 100ms
        }

        role ops {
          allow: [run]
          agents: [flat, metered]
        }

        workflow main {

        """ + tasks(1, extra: "    timeout: 10s\n") + "}\n"
        let input = try simInput(source)
        let plan = input.plan
        let flat = plan.agentNames.firstIndex(of: "flat")!, metered = plan.agentNames.firstIndex(of: "metered")!
        let world = try SimWorld(program: input.program, plan: plan, scenario: SimScenario(), faults: [])
        XCTAssertEqual(plan.worstCostMicros(task: 0, agent: metered), 101_000)
        let learned = LearnedSelector(predictor: PerformancePredictor(), profiles: world.profiles, spreadMax: 0)
        let auction = AuctionSelector(bidder: SimBidder(profiles: world.profiles, noise: 0))
        func pick(_ s: any AgentSelector, _ limits: SelectorLimits) -> Int? {
            var r = SeededRandom(seed: 1)
            let v = SelectorView(plan: plan, load: [0, 0], health: [AgentHealth(), AgentHealth()], nowMs: 0, limits: limits)
            return s.choose(task: 0, candidates: [0, 1], view: v, rng: &r)
        }
        XCTAssertEqual(pick(learned, SelectorLimits()), metered)
        XCTAssertEqual(pick(auction, SelectorLimits()), metered)
        var tight = SelectorLimits()
        tight.remainingMoneyMicros = 50_000
        XCTAssertEqual(pick(learned, tight), flat)
        XCTAssertEqual(pick(auction, tight), flat)
        // Nobody fits: keep the usual choice rather than refuse (the core decides).
        tight.remainingMoneyMicros = 1_000
        XCTAssertEqual(pick(learned, tight), metered)
        let v = SelectorView(plan: plan, load: [0, 0], health: [AgentHealth(), AgentHealth()], nowMs: 0, limits: tight)
        XCTAssertEqual(v.affordable(task: 0, [0, 1]), [0, 1])
    }

    /// The time left comes from the core's view (deadline, started groups' time), not
    /// from the selector's own settings.
    func testLearnedAndAuctionMeetTheTimeLeft() throws {
        let source = pool + "workflow main {\n" + tasks(1) + "}\n"
        let input = try simInput(source)
        let world = try SimWorld(program: input.program, plan: input.plan, scenario: SimScenario(), faults: [])
        let n = input.plan.agentNames.count
        let learned = LearnedSelector(predictor: PerformancePredictor(), profiles: world.profiles, spreadMax: 0)
        let auction = AuctionSelector(bidder: SimBidder(profiles: world.profiles, noise: 0))
        var limits = SelectorLimits()
        func pick(_ s: any AgentSelector) -> Int? {
            var r = SeededRandom(seed: 1)
            let v = SelectorView(plan: input.plan, load: Array(repeating: 0, count: n), health: Array(repeating: AgentHealth(), count: n),
                                 nowMs: 5_000, limits: limits)
            return s.choose(task: 0, candidates: Array(0..<n), view: v, rng: &r)
        }
        let name = { (g: Int?) in g.map { input.plan.agentNames[$0] } ?? "none" }
        XCTAssertEqual(name(pick(learned)), "cheap")
        XCTAssertEqual(name(pick(auction)), "cheap")
        // Stop 1 s from now: `cheap` (2 s) would miss it; `mid` is the cheapest in time.
        limits.stopAtMs = 6_000
        XCTAssertEqual(name(pick(learned)), "mid")
        XCTAssertEqual(name(pick(auction)), "mid")
    }

    func testAuctionBudgetRule() {
        let bids = [(agent: 0, bid: Bid(priceMicros: 1_000, etaMs: 100)), (agent: 1, bid: Bid(priceMicros: 2_000, etaMs: 50))]
        XCTAssertEqual(AuctionSelector.winner(bids: bids, deadlineMs: 80), 1)
        // Only `1` meets the deadline but it is over budget: the affordable late bid wins.
        XCTAssertEqual(AuctionSelector.winner(bids: bids, deadlineMs: 80, budgetMicros: 1_500), 0)
        // Nothing affordable: the budget is ignored.
        XCTAssertEqual(AuctionSelector.winner(bids: bids, deadlineMs: 80, budgetMicros: 500), 1)
    }
}
