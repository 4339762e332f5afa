import EzflowIR
import EzflowRuntime
import XCTest

/// Agents every snippet may use: `w` (2 slots, $0.01 a call), `v` (1 slot, free),
/// `x` (1 slot, free); all exec agents with capability `shell`.
let agents = """
error flaky
error fatal

agent v {
  driver: exec
  capabilities: ["shell"]
  concurrency: 1
}

agent w {
  driver: exec
  capabilities: ["shell"]
  concurrency: 2
  cost_per_call: $0.01
}

agent x {
  driver: exec
  capabilities: ["shell"]
  concurrency: 1
}

role ops {
  allow: [run, approve]
  agents: [v, w, x]
}

"""

func workflow(_ body: String) -> String { agents + "workflow main {\n" + body + "\n}\n" }

/// Unit tests of every rule, written as event → command sequences.
final class CoreTests: XCTestCase {
    func testChainRunsInOrder() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: w
            run: "echo a"
          }
          task b {
            agent: w
            after: [a]
            run: "echo b"
          }
          task c {
            agent: w
            after: [b]
            run: "echo c"
          }
        """)))
        XCTAssertEqual(try h.start(), ["dispatch a#1@w"])
        XCTAssertEqual(try h.ok("a", at: 10), ["dispatch b#1@w"])
        XCTAssertEqual(try h.ok("b", at: 20), ["dispatch c#1@w"])
        XCTAssertEqual(try h.ok("c", at: 30), ["finish success"])
        XCTAssertEqual(h.run.state.verdict, .success)
        XCTAssertEqual(h.run.state.chargedMicros, 0)
    }

    func testPriorityThenCriticalPathThenID() throws {
        var h = Harness(try makePlan(workflow("""
          max_parallel: 1
          task low {
            agent: v
            run: "echo"
            priority: 1
          }
          task short {
            agent: v
            run: "echo"
            timeout: 1s
            priority: 5
          }
          task long {
            agent: v
            run: "echo"
            timeout: 5s
            priority: 5
          }
          task head {
            agent: v
            run: "echo"
            timeout: 1s
            priority: 5
          }
          task tail {
            agent: v
            after: [head]
            run: "echo"
            timeout: 10s
            priority: 5
          }
          task high {
            agent: v
            run: "echo"
            priority: 9
          }
        """)))
        XCTAssertEqual(h.plan.criticalPathMs[h.id("head")], 11_000)
        XCTAssertEqual(try h.start(), ["dispatch high#1@v"])
        XCTAssertEqual(try h.ok("high", at: 1), ["dispatch head#1@v", "timer timeout/3/1@1001"])
        XCTAssertEqual(try h.ok("head", at: 2), ["dispatch tail#1@v", "timer timeout/5/1@10002"])
        XCTAssertEqual(try h.ok("tail", at: 3), ["dispatch long#1@v", "timer timeout/2/1@5003"])
        XCTAssertEqual(try h.ok("long", at: 4), ["dispatch short#1@v", "timer timeout/1/1@1004"])
        XCTAssertEqual(try h.ok("short", at: 5), ["dispatch low#1@v"])
        XCTAssertEqual(try h.ok("low", at: 6), ["finish success"])
    }

    func testBulkheadAndTagLimitHold() throws {
        let p = try makePlan(workflow("""
          task a {
            agent: w
            run: "echo"
          }
          task b {
            agent: w
            run: "echo"
          }
          task c {
            agent: w
            run: "echo"
          }
          task d {
            agent: x
            run: "echo"
            tags: ["db"]
          }
          task e {
            agent: v
            run: "echo"
            tags: ["db"]
          }
        """))
        var h = Harness(p)
        // w holds 2 at a time; tag `db` holds 1.
        XCTAssertEqual(try h.start(tagLimits: ["db": 1]), ["dispatch a#1@w", "dispatch b#1@w", "dispatch d#1@x"])
        XCTAssertEqual(h.run.state.agentLoad, [0, 2, 1])
        XCTAssertEqual(try h.ok("a", at: 5), ["dispatch c#1@w"])
        XCTAssertEqual(try h.ok("d", at: 6), ["dispatch e#1@v"])
        XCTAssertEqual(try h.ok("b", at: 7), [])
        XCTAssertEqual(try h.ok("c", at: 8), [])
        XCTAssertEqual(try h.ok("e", at: 9), ["finish success"])
    }

    func testExponentialBackoffDelays() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
            retry {
              attempts: 4
              backoff: exponential
              delay: 100ms
              max_delay: 250ms
              on: [transient]
            }
          }
        """)))
        XCTAssertEqual(try h.start(), ["dispatch a#1@v"])
        XCTAssertEqual(try h.fail("a", 1, at: 10), ["timer retry/0/2@110"])
        XCTAssertEqual(h.state("a"), "backoff(attempt: 2, until: 110)")
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 110), ["dispatch a#2@v"])
        XCTAssertEqual(try h.fail("a", 2, at: 200), ["timer retry/0/3@400"])
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 3), at: 400), ["dispatch a#3@v"])
        XCTAssertEqual(try h.fail("a", 3, at: 500), ["timer retry/0/4@750"], "400ms capped at 250ms")
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 4), at: 750), ["dispatch a#4@v"])
        XCTAssertEqual(try h.fail("a", 4, at: 800), ["dead a [transient transient transient transient]", "finish failed"])
    }

    func testBaseDelaysPerBackoff() throws {
        for (backoff, expected) in [("fixed", [100, 100, 100, 100]), ("linear", [100, 200, 300, 350]), ("exponential", [100, 200, 350, 350])] {
            let p = try makePlan(workflow("""
              task a {
                agent: v
                run: "echo"
                retry {
                  attempts: 5
                  backoff: \(backoff)
                  delay: 100ms
                  max_delay: 350ms
                  on: [transient]
                }
              }
            """))
            XCTAssertEqual((1...4).map { Int(p.baseDelayMs(rule: 0, failedAttempt: $0)) }, expected, backoff)
        }
    }

    func testSplitMix64KnownValues() {
        var r = SeededRandom(seed: 0)
        XCTAssertEqual(r.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(r.next(), 0x6E78_9E6A_A1B9_65F4)
        var s = SeededRandom(seed: 1234567)
        XCTAssertEqual(s.next(), 6_457_827_717_110_365_317)
    }

    /// Jitter draws from the seeded generator: the same seed gives the same delays.
    func testJitterIsReproducibleForASeed() throws {
        for jitter in ["full", "equal", "decorrelated"] {
            let p = try makePlan(workflow("""
              task a {
                agent: v
                run: "echo"
                retry {
                  attempts: 4
                  backoff: exponential
                  delay: 1s
                  max_delay: 10s
                  jitter: \(jitter)
                  on: [transient]
                }
              }
            """))
            func delays(seed: UInt64) throws -> [String] {
                var h = Harness(p)
                try h.start(seed: seed)
                var out: [String] = []
                var now: Int64 = 0
                for a in 1...3 {
                    let cs = try h.fail("a", a, at: now)
                    out += cs
                    guard case .backoff(_, let until) = h.run.state.tasks[0] else { XCTFail("no backoff"); return out }
                    XCTAssertGreaterThanOrEqual(until - now, jitter == "decorrelated" ? 1000 : 0)
                    XCTAssertLessThanOrEqual(until - now, 10_000)
                    now = until
                    try h.timer(.retryDue(task: 0, attempt: a + 1), at: now)
                }
                return out
            }
            XCTAssertEqual(try delays(seed: 42), try delays(seed: 42), jitter)
            XCTAssertNotEqual(try delays(seed: 42), try delays(seed: 43), jitter)
        }
        // Full jitter is `uniform(0…base)` with base 1s: the documented first draw.
        var r = SeededRandom(seed: 42)
        let expected = r.uniform(1000)
        let p = try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
            retry {
              attempts: 2
              delay: 1s
              jitter: full
              on: [transient]
            }
          }
        """))
        var h = Harness(p)
        try h.start(seed: 42)
        XCTAssertEqual(try h.fail("a", 1, at: 0), ["timer retry/0/2@\(expected)"])
    }

    func testNonRetryableClassFailsImmediately() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
            retry {
              attempts: 5
              on: [flaky]
            }
          }
          task b {
            agent: v
            after: [a]
            run: "echo"
          }
        """)))
        try h.start()
        XCTAssertEqual(try h.fail("a", 1, "fatal", at: 3), ["dead a [fatal]", "finish failed"])
        XCTAssertEqual(h.state("b"), "skipped")
    }

    func testFallbackTaskRunsInstead() throws {
        let p = try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
            retry {
              attempts: 1
              catch: plan_b
            }
          }
          task plan_b {
            agent: x
            run: "echo"
          }
          task c {
            agent: v
            after: [a]
            run: "echo"
          }
        """))
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch a#1@v"])
        XCTAssertEqual(try h.fail("a", 1, "fatal", at: 5), ["dispatch plan_b#1@x"])
        XCTAssertEqual(h.state("a"), "failed")
        XCTAssertEqual(try h.ok("plan_b", at: 9), ["dispatch c#1@v"])
        XCTAssertEqual(try h.ok("c", at: 12), ["finish success"])
        // Not needed: the fallback is skipped.
        var h2 = Harness(p)
        try h2.start()
        XCTAssertEqual(try h2.ok("a", at: 1), ["dispatch c#1@v"])
        XCTAssertEqual(try h2.ok("c", at: 2), ["finish success"])
        XCTAssertEqual(h2.state("plan_b"), "skipped")
    }

    func testCatchAgentRetriesOnThatAgent() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: w
            run: "echo"
            retry {
              attempts: 1
              catch: x
            }
          }
        """)))
        XCTAssertEqual(try h.start(), ["dispatch a#1@w"])
        XCTAssertEqual(try h.fail("a", 1, "agent_error", at: 5), ["dispatch a#2@x"])
        XCTAssertEqual(try h.fail("a", 2, "agent_error", at: 6), ["dead a [agent_error agent_error]", "finish failed"])
    }

    func testDeadLetterHasTheWholeHistory() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: w
            run: "echo"
            retry {
              attempts: 2
              delay: 1s
              on: [transient]
            }
          }
        """)))
        try h.start(at: 100)
        try h.send(.taskFailed(task: 0, attempt: 1, errorClass: "transient", message: "conn reset", costMicros: 7, tokens: 3, atMs: 150))
        try h.timer(.retryDue(task: 0, attempt: 2), at: 1150)
        let cs = try h.run.apply(.taskFailed(task: 0, attempt: 2, errorClass: "transient", message: "conn reset again", costMicros: 8, tokens: 4, atMs: 1200))
        XCTAssertEqual(cs, [
            .deadLetter(task: 0, history: [
                AttemptRecord(attempt: 1, agent: 1, errorClass: "transient", message: "conn reset", startedAtMs: 100, endedAtMs: 150, costMicros: 7, tokens: 3),
                AttemptRecord(attempt: 2, agent: 1, errorClass: "transient", message: "conn reset again", startedAtMs: 1150, endedAtMs: 1200, costMicros: 8, tokens: 4),
            ]),
            .finishRun(.failed),
        ])
        XCTAssertEqual(h.run.state.chargedMicros, 15)
    }

    func testTimeoutCancelsTheAttemptAndLateResultIsIgnored() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
            timeout: 1s
            retry {
              attempts: 2
              on: [timeout]
            }
          }
        """)))
        XCTAssertEqual(try h.start(), ["dispatch a#1@v", "timer timeout/0/1@1000"])
        XCTAssertEqual(try h.timer(.attemptTimeout(task: 0, attempt: 1), at: 1000), ["cancel a#1", "timer retry/0/2@1000"])
        XCTAssertEqual(try h.ok("a", 1, at: 1001, cost: 5), [], "late result of an abandoned attempt: charged, otherwise a no-op")
        XCTAssertEqual(h.run.state.chargedMicros, 5)
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 1002), ["dispatch a#2@v", "timer timeout/0/2@2002"])
        XCTAssertEqual(try h.ok("a", 2, at: 1500), ["finish success"])
        XCTAssertEqual(try h.timer(.attemptTimeout(task: 0, attempt: 2), at: 2002), [], "stale timer")
    }

    func testDeadlineCancelsEverything() throws {
        var h = Harness(try makePlan(workflow("""
          deadline: 5s
          task a {
            agent: v
            run: "echo"
          }
          task b {
            agent: v
            after: [a]
            run: "echo"
          }
        """)))
        XCTAssertEqual(try h.start(), ["timer deadline@5000", "dispatch a#1@v"])
        XCTAssertEqual(try h.timer(.deadline, at: 5000), ["cancel a#1", "finish deadline_exceeded"])
        XCTAssertEqual(h.state("a"), "cancelled")
        XCTAssertEqual(h.state("b"), "cancelled")
        XCTAssertEqual(Verdict.deadlineExceeded.exitCode, 3)
        XCTAssertEqual(try h.ok("a", 1, at: 5001), [])
    }

    func testBudgetRefusalStopsTheRunCleanly() throws {
        // The checker refuses $0.015 (two calls at $0.01 can never fit: E0606), so the
        // test tightens the budget the way a run-time-only limit would be.
        var p = try makePlan(workflow("""
          budget {
            money: $0.02
          }
          task a {
            agent: w
            run: "echo"
          }
          task b {
            agent: w
            after: [a]
            run: "echo"
          }
        """))
        p.budgetMoneyMicros = 15_000
        XCTAssertEqual(p.worstCostMicros(task: 1, agent: 1), 10_000)
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch a#1@w"])
        XCTAssertEqual(try h.ok("a", at: 4, cost: 10_000), ["finish budget_exceeded"])
        XCTAssertEqual(h.state("b"), "skipped")
        XCTAssertEqual(h.run.state.refusedTask, 1)
        XCTAssertLessThanOrEqual(h.run.state.chargedMicros, 15_000)
    }

    func testBudgetReservationWaitsForInFlightResults() throws {
        // Tightened after checking, as above (real results cost at least the $0.01 call).
        var p = try makePlan(workflow("""
          budget {
            money: $0.02
          }
          task a {
            agent: w
            run: "echo"
          }
          task b {
            agent: w
            run: "echo"
          }
        """))
        p.budgetMoneyMicros = 15_000
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch a#1@w"], "b waits: a's worst case is reserved")
        XCTAssertEqual(try h.ok("a", at: 4, cost: 2_000), ["dispatch b#1@w"])
        XCTAssertEqual(try h.ok("b", at: 5, cost: 2_000), ["finish success"])
    }

    func testApprovalWaitApproveDeny() throws {
        let p = try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
          }
          task gate {
            after: [a]
            approve: "ship?"
            approvers: [ops]
          }
          task c {
            agent: v
            after: [gate]
            run: "echo"
          }
        """))
        var h = Harness(p)
        try h.start()
        XCTAssertEqual(try h.ok("a", at: 1), ["approve gate", "finish waiting_for_approval"])
        XCTAssertEqual(Verdict.waitingForApproval.exitCode, 4)
        XCTAssertEqual(try h.approval("gate", true, at: 50), ["dispatch c#1@v"])
        XCTAssertEqual(try h.ok("c", at: 60), ["finish success"])

        var d = Harness(p)
        try d.start()
        try d.ok("a", at: 1)
        XCTAssertEqual(try d.approval("gate", false, at: 50), ["finish failed"])
        XCTAssertEqual(d.state("c"), "skipped")
        XCTAssertEqual(d.run.state.history[1].last?.message, "denied by alice")
    }

    func conflictPlan(_ policy: String, type: String = "map[string]") throws -> Plan {
        try makePlan(workflow("""
          output stats: \(type) {
            on_conflict: \(policy)
          }
          task a {
            agent: v
            run: "echo"
            writes: [stats]
            output stats: \(type)
          }
          task b {
            agent: x
            run: "echo"
            writes: [stats]
            output stats: \(type)
          }
        """))
    }

    func testOnConflictPolicies() throws {
        let one: JSONValue = .object([("stats", .object([("x", .int(1))]))])
        let two: JSONValue = .object([("stats", .object([("y", .int(2))]))])
        // merge: maps merge.
        var m = Harness(try conflictPlan("merge"))
        XCTAssertEqual(try m.start(), ["dispatch a#1@v", "dispatch b#1@x"])
        try m.ok("a", at: 1, outputs: one)
        XCTAssertEqual(try m.ok("b", at: 2, outputs: two), ["finish success"])
        XCTAssertEqual(m.run.state.outputs[0], .object([("x", .int(1)), ("y", .int(2))]))
        // last_writer: the later value wins.
        var l = Harness(try conflictPlan("last_writer"))
        try l.start()
        try l.ok("a", at: 1, outputs: one)
        XCTAssertEqual(try l.ok("b", at: 2, outputs: two), ["finish success"])
        XCTAssertEqual(l.run.state.outputs[0], .object([("y", .int(2))]))
        // fail: the second writer fails with class `conflict`.
        var f = Harness(try conflictPlan("fail"))
        try f.start()
        try f.ok("a", at: 1, outputs: one)
        XCTAssertEqual(try f.ok("b", at: 2, outputs: two), ["dead b [conflict]", "finish failed"])
        XCTAssertEqual(f.run.state.outputs[0], .object([("x", .int(1))]))
        // escalate: ask a human; approval takes the new value.
        var e = Harness(try conflictPlan("escalate"))
        try e.start()
        try e.ok("a", at: 1, outputs: one)
        XCTAssertEqual(try e.ok("b", at: 2, outputs: two), ["approve b conflict stats", "finish waiting_for_approval"])
        XCTAssertEqual(try e.approval("b", true, at: 3), ["finish success"])
        XCTAssertEqual(e.run.state.outputs[0], .object([("y", .int(2))]))
    }

    func testIllegalTransitionIsAnErrorWithHistory() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
          }
          task b {
            agent: v
            after: [a]
            run: "echo"
          }
        """)))
        try h.start()
        let before = h.run.state.seq
        XCTAssertThrowsError(try h.ok("b", at: 1)) { error in
            let e = error as! TransitionError
            XCTAssertEqual(e.code, "R0002")
            XCTAssertEqual(e.task, 1)
            XCTAssertTrue(e.description.contains("result of attempt 1 of task `b` in state waiting"), e.description)
        }
        XCTAssertEqual(h.run.state.seq, before, "state unchanged")
        try h.ok("a", at: 2)
        XCTAssertThrowsError(try h.ok("a", at: 3)) { error in
            let e = error as! TransitionError
            XCTAssertEqual(e.code, "R0002")
            XCTAssertEqual(e.history.map(\.description), ["#0 waiting -> ready", "#0 ready -> running(attempt: 1, agent: 0)", "#1 running(attempt: 1, agent: 0) -> succeeded"])
            // What a person reads names the agent, never its id.
            let agent = "`\(h.run.state.plan.agentNames[0])`"
            XCTAssertTrue(e.description.hasSuffix("history: #0 waiting -> ready, #0 ready -> running(attempt: 1, agent: \(agent)), "
                                                  + "#1 running(attempt: 1, agent: \(agent)) -> succeeded"), e.description)
        }
        XCTAssertThrowsError(try h.send(.taskSucceeded(task: 9, attempt: 1, outputs: .null, costMicros: 0, tokens: 0, atMs: 4))) {
            XCTAssertEqual(($0 as! TransitionError).code, "R0001")
        }
        XCTAssertThrowsError(try h.start()) { XCTAssertEqual(($0 as! TransitionError).code, "R0003") }
    }

    func testResumeRedispatchesInFlightWithTheSameKey() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
            timeout: 1s
          }
        """)))
        let first = try h.run.apply(.runStarted(runID: "run-7", seed: 1, planHash: h.plan.hash, tagLimits: [:], atMs: 0))
        let again = try h.run.apply(.resumed(atMs: 500))
        XCTAssertEqual(first, [.dispatch(task: 0, attempt: 1, agent: 0, idempotencyKey: "run-7/a"), .setTimer(.attemptTimeout(task: 0, attempt: 1), atMs: 1000)])
        XCTAssertEqual(again, first)
    }

    /// SIGINT/SIGTERM to the runner: from `interrupted` on nothing is dispatched and a
    /// ready task is not taken for stalled; a drained result is still folded; `resumed`
    /// dispatches what waited.
    func testInterruptedStopsDispatchUntilResumed() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
          }
          task b {
            agent: v
            after: [a]
            run: "echo"
          }
        """)))
        try h.start()
        XCTAssertEqual(try h.send(.interrupted(signal: "SIGTERM", drain: true, atMs: 1)), [])
        XCTAssertTrue(h.run.state.interrupted)
        XCTAssertEqual(try h.ok("a", at: 2), [], "b is ready but not dispatched, and the run is not stalled")
        XCTAssertEqual(h.run.state.tasks[h.id("b")], .ready)
        XCTAssertNil(h.run.state.verdict)
        XCTAssertEqual(try h.send(.resumed(atMs: 3)), ["dispatch b#1@v"])
        XCTAssertFalse(h.run.state.interrupted)
        XCTAssertEqual(try h.ok("b", at: 4), ["finish success"])
    }

    func testCancelRequested() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: v
            run: "echo"
          }
        """)))
        try h.start()
        XCTAssertEqual(try h.send(.cancelRequested(reason: "ctrl-c", atMs: 3)), ["cancel a#1", "finish cancelled"])
        XCTAssertEqual(Verdict.cancelled.exitCode, 1)
    }

    /// Without a deadline the run waits `Core.unhealthyWaitMs` for the agent to recover
    /// (before issue 11 it dead-lettered at once), then dead-letters with `no_agent`.
    func testUnhealthyAgentsStallIntoNoAgentDeadLetter() throws {
        var h = Harness(try makePlan(workflow("""
          task b {
            agent: x
            run: "echo"
          }
          task a {
            agent: v
            after: [b]
            run: "echo"
          }
        """)))
        try h.start()
        XCTAssertEqual(try h.send(.agentHealth(agent: 0, healthy: false, atMs: 1)), [])
        XCTAssertEqual(try h.ok("b", at: 2), ["timer wake@600002"])
        XCTAssertEqual(try h.timer(.wake, at: 600_002), ["dead a [no_agent]", "finish failed"])
    }

    func testEventsRoundTripThroughTheJournalEncoding() throws {
        let events: [Event] = [
            .runStarted(runID: "r", seed: UInt64.max, planHash: "sha256:x", tagLimits: ["b": 1, "a": 2], atMs: 0),
            .runStarted(runID: "r", seed: 1, planHash: "sha256:x", tagLimits: [:], atMs: 0, unhealthy: [2]),
            .taskSucceeded(task: 1, attempt: 2, outputs: .object([("k", .string("v\n"))]), costMicros: 3, tokens: 4, atMs: 5),
            .taskFailed(task: 1, attempt: 2, errorClass: "flaky", message: "m \"q\"", costMicros: 0, tokens: 0, atMs: 6),
            .timerFired(.attemptTimeout(task: 3, attempt: 4), atMs: 7), .timerFired(.retryDue(task: 3, attempt: 5), atMs: 7),
            .timerFired(.deadline, atMs: 8), .timerFired(.budgetTime, atMs: 8), .timerFired(.wake, atMs: 8),
            .approvalGiven(task: 2, principal: "alice", approved: false, atMs: 9), .agentHealth(agent: 0, healthy: true, atMs: 10),
            .cancelRequested(reason: "x", atMs: 11), .resumed(atMs: 12),
        ]
        let commands: [Command] = [
            .dispatch(task: 1, attempt: 1, agent: -1, idempotencyKey: "r/a"), .setTimer(.wake, atMs: 3), .cancel(task: 1, attempt: 1),
            .requestApproval(task: 2, reason: .gate), .requestApproval(task: 2, reason: .conflict(output: "o")),
            .deadLetter(task: 1, history: [AttemptRecord(attempt: 1, agent: 0, errorClass: nil, message: "", startedAtMs: 1, endedAtMs: 2, costMicros: 3, tokens: 4)]),
            .finishRun(.budgetExceeded),
        ]
        let records = events.enumerated().map { JournalRecord(seq: $0.offset, event: $0.element, commands: commands) }
        let bytes = Journal.encode(records)
        XCTAssertEqual(try Journal.decode(bytes), records)
        XCTAssertEqual(bytes.filter { $0 == UInt8(ascii: "\n") }.count, events.count, "one event, one line")
        XCTAssertThrowsError(try Journal.decode(Array("{\"seq\":0}\n".utf8))) { XCTAssertEqual(($0 as! JournalError).line, 1) }
    }
}
