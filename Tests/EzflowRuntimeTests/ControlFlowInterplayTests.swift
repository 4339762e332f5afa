import EzflowRuntime
import XCTest

/// Where loops, dynamic fan-outs and compensation meet each other and the rest of the
/// core (found by review and by trying the merged constructs): an undo opened after
/// another one still waits for a breaker or a healthy agent; a cancel during a budget
/// drain runs every undo with its retries; a loop inside a called workflow does not skip
/// the workflow task; a failed run with nothing to undo can still be re-driven.
final class ControlFlowInterplayTests: XCTestCase {
    func testASecondUndoWaitsForAHealthyAgentInsteadOfStayingReady() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: v
            run: "a"
            compensate: undo_a
          }
          task b {
            agent: v
            after: [a]
            run: "b"
            compensate: undo_b
          }
          task c {
            agent: v
            after: [b]
            run: "c"
          }
          task undo_a {
            agent: v
            timeout: 10s
            run: "undo a"
          }
          task undo_b {
            agent: v
            timeout: 10s
            run: "undo b"
          }
        """)))
        try h.start()
        try h.ok("a", at: 10)
        try h.ok("b", at: 20)
        XCTAssertEqual(try h.fail("c", 1, "fatal", at: 30).filter { $0.hasPrefix("dispatch") }, ["dispatch undo_b#1@v"])
        try h.send(.agentHealth(agent: 0, healthy: false, atMs: 35))
        // undo_a is opened from the idle settle: it must arm the bounded health wait.
        let cs = try h.ok("undo_b", at: 40)
        print("second undo:", cs)
        XCTAssertEqual(h.state("undo_a"), "ready")
        XCTAssertTrue(cs.contains { $0.hasPrefix("timer wake@") }, "the second undo waits for a healthy agent: \(cs)")
        XCTAssertEqual(try h.send(.agentHealth(agent: 0, healthy: true, atMs: 1_000)).filter { $0.hasPrefix("dispatch") }, ["dispatch undo_a#1@v"])
        XCTAssertEqual(try h.ok("undo_a", at: 1_100), ["finish failed"])
    }

    func testACancelDuringABudgetDrainRunsEveryUndoWithItsRetries() throws {
        var h = Harness(try makePlan(workflow("""
          budget {
            money: $0.025
          }
          task a1 {
            agent: v
            run: "a1"
            compensate: undo_a1
          }
          task a2 {
            agent: v
            after: [a1]
            run: "a2"
            compensate: undo_a2
          }
          task slow {
            agent: x
            run: "sleep 60"
          }
          task b {
            agent: w
            after: [a2]
            run: "b"
          }
          task c {
            agent: w
            after: [b]
            run: "c"
          }
          task undo_a1 {
            agent: v
            timeout: 10s
            run: "undo a1"
          }
          task undo_a2 {
            agent: v
            timeout: 10s
            retry { attempts: 2, backoff: fixed, delay: 10ms }
            run: "undo a2"
          }
        """)))
        try h.start()
        try h.ok("a1", at: 10)
        try h.ok("a2", at: 20)
        // `b` costs $0.02 of $0.025: `c` ($0.01) can never fit, the run drains while `slow` runs.
        let drain = try h.ok("b", at: 30, cost: 20_000)
        print("drain:", drain)
        XCTAssertFalse(drain.contains { $0.hasPrefix("dispatch") || $0.hasPrefix("finish") }, "\(drain)")
        let cancel = try h.send(.cancelRequested(reason: "user", atMs: 40))
        print("cancel:", cancel)
        XCTAssertTrue(cancel.contains { $0.hasPrefix("dispatch undo_a2#1") }, "latest completion first: \(cancel)")
        let failed = try h.fail("undo_a2", 1, "transient", at: 50)
        XCTAssertTrue(failed.contains { $0.hasPrefix("timer retry/\(h.id("undo_a2"))/2@") }, "an undo's own rule retries it: \(failed)")
        XCTAssertEqual(h.state("undo_a1"), "waiting", "the other undo is not skipped as not needed")
        XCTAssertTrue(try h.timer(.retryDue(task: h.id("undo_a2"), attempt: 2), at: 60).contains { $0.hasPrefix("dispatch undo_a2#2") })
        XCTAssertTrue(try h.ok("undo_a2", 2, at: 70).contains { $0.hasPrefix("dispatch undo_a1#1") })
        XCTAssertEqual(try h.ok("undo_a1", at: 80), ["finish cancelled"])
    }

    func testALoopInACalledWorkflowDoesNotSkipTheWorkflowTask() throws {
        let inner = """
        agent v {
          driver: exec
          capabilities: ["shell"]
        }

        role ops {
          allow: [run]
          agents: [v]
        }

        workflow inner {
          group r {
            repeat {
              max: 3
              until: step.outputs.ok
            }
            task step {
              role: ops
              agent: v
              run: "step"
              output ok: bool
            }
          }
        }
        """
        let main = """
        import "inner"

        workflow main {
          agents: [inner.v]
          task call {
            role: inner.ops
            workflow: inner.inner
          }
          task next {
            role: inner.ops
            agent: inner.v
            after: [call]
            run: "next"
          }
        }
        """
        var h = Harness(try makePlan(files: ["main.ezflow": main, "inner": inner]))
        try h.start()
        let cs = try h.ok("call.step[iteration=1]", at: 10, outputs: .object([("ok", .bool(true))]))
        print("nested loop:", cs, h.run.state.tasks.map(\.description))
        XCTAssertEqual(h.state("call"), "succeeded")
        XCTAssertEqual(cs.filter { $0.hasPrefix("dispatch") }, ["dispatch next#1@inner.v"])
        XCTAssertEqual(try h.ok("next", at: 20), ["finish success"])
    }

    func testAFanOutOverALoopsOutputNamesTheListAsWritten() throws {
        let plan = try makePlan(workflow("""
          group rounds {
            repeat {
              max: 2
              until: len(draft.outputs.files) > 0
            }
            task draft {
              agent: v
              run: "draft"
              output files: list[string]
            }
          }
          task lint {
            agent: v
            for_each: draft.outputs.files
            max_items: 2
            run: "lint ${item}"
          }
        """))
        XCTAssertEqual(Set(plan.dynamicSlot.values.map(\.listText)), ["draft.outputs.files"], "not `rounds.outputs.draft.files`")
    }

    func testAFailedRunWithNothingToUndoCanBeRedriven() throws {
        var h = Harness(try makePlan(workflow("""
          task a {
            agent: v
            run: "a"
            compensate: undo_a
          }
          task undo_a {
            agent: v
            timeout: 10s
            run: "undo"
          }
        """)))
        try h.start()
        XCTAssertEqual(try h.fail("a", 1, "fatal", at: 10).filter { $0.hasPrefix("finish") }, ["finish failed"])
        XCTAssertNil(h.run.state.compensating, "nothing succeeded, so no compensation began")
        let cs = try h.send(.taskRedriven(task: h.id("a"), principal: "ops", atMs: 20))
        XCTAssertEqual(cs.filter { $0.hasPrefix("dispatch") }, ["dispatch a#2@v"], "a fresh rule: the dead letter is re-driven")
    }
}

/// `resumed` restarts the clock of the attempts it dispatches again (the runner writes
/// `restarts_attempts: true`); a journal from before the flag keeps the old clock.
final class ResumeClockTests: XCTestCase {
    static let source = workflow("""
      task a {
        agent: v
        timeout: 1s
        run: "a"
      }
    """)

    func testAResumedAttemptGetsItsWholeTimeoutAgain() throws {
        var h = Harness(try makePlan(Self.source))
        XCTAssertEqual(try h.start(), ["dispatch a#1@v", "timer timeout/0/1@1000"])
        XCTAssertEqual(try h.send(.resumed(atMs: 5_000, restartsAttempts: true)), ["dispatch a#1@v", "timer timeout/0/1@6000"])
        XCTAssertEqual(try h.timer(.attemptTimeout(task: 0, attempt: 1), at: 5_000), [], "the timer from before the crash is stale")
        XCTAssertEqual(h.state("a"), "running(attempt: 1, agent: 0)")
        XCTAssertEqual(try h.ok("a", at: 5_500), ["finish success"])
    }

    func testAJournalFromBeforeTheFlagKeepsTheOldClock() throws {
        var h = Harness(try makePlan(Self.source))
        try h.start()
        XCTAssertEqual(try h.send(.resumed(atMs: 5_000)), ["dispatch a#1@v", "timer timeout/0/1@1000"])
        XCTAssertTrue(try h.timer(.attemptTimeout(task: 0, attempt: 1), at: 5_000).contains("cancel a#1"))
    }
}
