import EzflowHost
@testable import EzflowRuntime
import XCTest

/// Two sim agents that can run every task: `a` (cheap, 2 slots) and `b` (dearer, 3 slots).
let pair = """
agent a {
  driver: sim
  capabilities: ["shell"]
  concurrency: 2
  cost_per_call: $0.001
  latency: 1s
}

agent b {
  driver: sim
  capabilities: ["shell"]
  concurrency: 3
  cost_per_call: $0.002
  latency: 1s
}

role ops {
  allow: [run]
  agents: [a, b]
}

"""

let retrying = "    retry {\n      attempts: 5\n      backoff: fixed\n      delay: 1s\n      on: [agent_error, transient]\n    }\n"

final class BreakerTests: XCTestCase {
    func outcome(_ failed: Bool) -> AttemptOutcome {
        AttemptOutcome(task: 0, agent: 0, errorClass: failed ? "transient" : nil, latencyMs: 10, costMicros: 0)
    }

    func testTransitions() {
        let b = CircuitBreaker(failuresToOpen: 3, coolDownMs: 100)
        var h = AgentHealth()
        // closed: failures count up, a success resets them.
        b.record(outcome(true), nowMs: 1, health: &h)
        b.record(outcome(true), nowMs: 2, health: &h)
        XCTAssertEqual(h.breaker, .closed)
        XCTAssertEqual(h.consecutiveFailures, 2)
        b.record(outcome(false), nowMs: 3, health: &h)
        XCTAssertEqual(h.consecutiveFailures, 0)
        // Three in a row open it for the cool-down.
        for t in 4...6 { b.record(outcome(true), nowMs: Int64(t), health: &h) }
        XCTAssertEqual(h.breaker, .open(untilMs: 106))
        XCTAssertFalse(b.admit(agent: 0, nowMs: 50, health: &h))
        XCTAssertFalse(b.admit(agent: 0, nowMs: 105, health: &h))
        XCTAssertEqual(h.breaker, .open(untilMs: 106))
        // Late results while open change nothing.
        b.record(outcome(false), nowMs: 60, health: &h)
        b.record(outcome(true), nowMs: 61, health: &h)
        XCTAssertEqual(h.breaker, .open(untilMs: 106))
        // Cool-down over: half-open admits a probe; its failure re-opens.
        XCTAssertTrue(b.admit(agent: 0, nowMs: 106, health: &h))
        XCTAssertEqual(h.breaker, .halfOpen)
        h.probeTask = 0  // what the core records when it dispatches the probe
        XCTAssertFalse(b.admit(agent: 0, nowMs: 107, health: &h), "one probe at a time")
        // Another task's (late) result says nothing while the probe runs.
        b.record(AttemptOutcome(task: 7, agent: 0, errorClass: nil, latencyMs: 1, costMicros: 0), nowMs: 120, health: &h)
        XCTAssertEqual(h.breaker, .halfOpen)
        b.record(outcome(true), nowMs: 150, health: &h)
        h.probeTask = -1  // the core clears it when the probe ends
        XCTAssertEqual(h.breaker, .open(untilMs: 250))
        // The next probe succeeds: closed, count reset.
        XCTAssertTrue(b.admit(agent: 0, nowMs: 300, health: &h))
        h.probeTask = 0
        b.record(outcome(false), nowMs: 310, health: &h)
        h.probeTask = -1
        XCTAssertEqual(h.breaker, .closed)
        XCTAssertEqual(h.consecutiveFailures, 0)
        XCTAssertTrue(b.admit(agent: 0, nowMs: 311, health: &h))
        // `conflict` is the task's fault, not the agent's.
        for t in 0..<5 {
            b.record(AttemptOutcome(task: 0, agent: 0, errorClass: "conflict", latencyMs: 1, costMicros: 0), nowMs: Int64(400 + t), health: &h)
        }
        XCTAssertEqual(h.breaker, .closed)
    }

    /// `a` always fails: the breaker opens, the work moves to `b`, and no attempt goes to
    /// `a` while its breaker is open (the simulator checks that after every step).
    func testOpenAgentGetsNoTasks() throws {
        var sim = try simulator(pair + "workflow main {\n  selector: cheapest\n" + tasks(20, extra: retrying) + "}\n",
                                seed: 5, runs: 10, faults: "agent=a:fail=1,class=transient",
                                breaker: CircuitBreaker(failuresToOpen: 3, coolDownMs: 60_000))
        let runs = try sim.runAll()
        for r in runs {
            XCTAssertEqual(r.verdict, .success)
            XCTAssertGreaterThanOrEqual(r.breakerOpens[0], 1)
            // Before the first open, at most 3 failures plus what was already in flight (2 slots).
            XCTAssertLessThanOrEqual(r.dispatches[0], 3 + 2 + r.breakerOpens[0] * 2, "dispatches to a: \(r.dispatches[0])")
            XCTAssertEqual(r.failures[0], r.dispatches[0])
            // No attempt started on `a` inside an open window: after the first failure
            // streak, the next start on `a` is at least the cool-down later.
            let starts = r.history.flatMap { $0 }.filter { $0.agent == 0 }.map(\.startedAtMs).sorted()
            if let firstOpenEnd = r.history.flatMap({ $0 }).filter({ $0.agent == 0 }).map(\.endedAtMs).sorted().dropFirst(2).first {
                XCTAssertTrue(starts.allSatisfy { $0 <= firstOpenEnd || $0 >= firstOpenEnd + 60_000 }, "starts on a: \(starts)")
            }
        }
    }

    /// `a` is down for the first minute: the health check takes it out, and it gets work
    /// again once it is back.
    func testHealthCheckKeepsADownAgentOut() throws {
        var sim = try simulator(pair + "workflow main {\n  selector: cheapest\n" + tasks(40, extra: retrying) + "}\n",
                                seed: 3, runs: 3, faults: "agent=a:down=0-30000",
                                breaker: CircuitBreaker(failuresToOpen: 100, coolDownMs: 1))
        for r in try sim.runAll() {
            XCTAssertEqual(r.verdict, .success)
            let onA = r.history.flatMap { $0 }.filter { $0.agent == 0 }
            // t = 0 is decided before the first health check; after it, nothing until 30 s.
            XCTAssertTrue(onA.allSatisfy { $0.startedAtMs == 0 || $0.startedAtMs >= 30_000 }, "\(onA.map(\.startedAtMs))")
            XCTAssertTrue(onA.contains { $0.startedAtMs >= 30_000 } || r.makespanMs < 30_000)
        }
    }

    /// 60 ready tasks at once, 2 + 3 slots: every slot is used and none is exceeded.
    func testBulkheadHoldsUnderLoad() throws {
        for selector in SelectorName.allCases {
            var sim = try simulator(pair + "workflow main {\n" + tasks(60) + "}\n", seed: 11, runs: 3, selector: selector)
            for r in try sim.runAll() {
                XCTAssertEqual(r.verdict, .success)
                let peak = peakLoad(r.history, agents: 2)
                XCTAssertLessThanOrEqual(peak[0], 2, "\(selector)")
                XCTAssertLessThanOrEqual(peak[1], 3, "\(selector)")
                XCTAssertEqual(peak.reduce(0, +) >= 2, true)
                XCTAssertEqual(r.dispatches.reduce(0, +), 60)
            }
        }
        // Cheapest fills `a` to its limit and overflows to `b`: both bulkheads reach their cap.
        var sim = try simulator(pair + "workflow main {\n  selector: cheapest\n" + tasks(60) + "}\n", seed: 11, runs: 1)
        let r = try sim.runOne(index: 0)
        XCTAssertEqual(peakLoad(r.history, agents: 2), [2, 3])
    }
}
