import EzflowIR
import EzflowRuntime
import XCTest

/// `taskRedriven` (`ezrun dlq retry`): a dead-lettered task runs again with a fresh retry
/// rule and what was skipped because of it waits again; anything else is a no-op.
final class RedriveTests: XCTestCase {
    static let source = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
          concurrency: 4
        }
        workflow w {
          deadline: 10s
          task a { run: "a" }
          task b {
            after: [a]
            run: "b"
            retry {
              attempts: 2
              backoff: fixed
              delay: 100ms
              on: [transient]
            }
          }
          task other { run: "o" }
          task c { after: [b] run: "c" }
          task d { after: [b, other] run: "d" }
          task e { after: [c] run: "e" }
        }
        """

    /// `a` succeeds, `b` is dead-lettered after its two attempts; `c`, `d`, `e` skipped.
    func deadLettered(otherFails: Bool = false) throws -> Harness {
        var h = Harness(try makePlan(Self.source))
        try h.start()
        try h.ok("a", at: 10)
        if otherFails { try h.fail("other", 1, "fatal", at: 15) } else { try h.ok("other", at: 15) }
        try h.fail("b", 1, "transient", at: 20)
        try h.timer(.retryDue(task: h.id("b"), attempt: 2), at: 120)
        let cs = try h.fail("b", 2, "transient", at: 150)
        XCTAssertTrue(cs.contains("finish failed"), "\(cs)")
        XCTAssertEqual(["b", "c", "d", "e"].map(h.state), ["dead_lettered", "skipped", "skipped", "skipped"])
        return h
    }

    func testRedriveRunsAFreshRuleAndReopensWhatWasSkipped() throws {
        var h = try deadLettered()
        var cs = try h.send(.taskRedriven(task: h.id("b"), principal: "ops", atMs: 1_000))
        // The finished run runs again: its deadline timer again (the shell arms it once).
        XCTAssertEqual(cs, ["timer deadline@10000", "dispatch b#3@sh"])
        XCTAssertEqual(["c", "d", "e"].map(h.state), ["waiting", "waiting", "waiting"])
        XCTAssertNil(h.run.state.verdict)
        // A fresh rule: attempt 3 failing is retried (as attempt 4), attempt 4 failing is not.
        cs = try h.fail("b", 3, "transient", at: 1_010)
        XCTAssertEqual(cs, ["timer retry/\(h.id("b"))/4@1110"])
        try h.timer(.retryDue(task: h.id("b"), attempt: 4), at: 1_110)
        cs = try h.ok("b", 4, at: 1_200)
        XCTAssertEqual(cs, ["dispatch c#1@sh", "dispatch d#1@sh"])
        try h.ok("c", at: 1_300)
        try h.ok("d", at: 1_310)
        cs = try h.ok("e", at: 1_400)
        XCTAssertEqual(cs, ["finish success"])
        XCTAssertEqual(h.run.state.history[h.id("b")].map(\.attempt), [1, 2, 3, 4])
        // The journal replays.
        _ = try Replay.verify(plan: h.plan, journal: h.run.records)
    }

    func testTheRuleIsCountedAgainAfterTheRedrive() throws {
        var h = try deadLettered()
        try h.send(.taskRedriven(task: h.id("b"), principal: "ops", atMs: 1_000))
        try h.fail("b", 3, "transient", at: 1_010)
        try h.timer(.retryDue(task: h.id("b"), attempt: 4), at: 1_110)
        let cs = try h.fail("b", 4, "transient", at: 1_150)
        XCTAssertEqual(cs.first, "dead b [transient transient transient transient]")
        XCTAssertEqual(cs.last, "finish failed")
        XCTAssertEqual(["b", "c", "d", "e"].map(h.state), ["dead_lettered", "skipped", "skipped", "skipped"])
    }

    func testADependentWithAnotherFailedDependencyStaysSkipped() throws {
        var h = try deadLettered(otherFails: true)
        try h.send(.taskRedriven(task: h.id("b"), principal: "ops", atMs: 1_000))
        XCTAssertEqual(["c", "d", "e"].map(h.state), ["waiting", "skipped", "waiting"])
        try h.ok("b", 3, at: 1_100)
        try h.ok("c", at: 1_200)
        let cs = try h.ok("e", at: 1_300)
        XCTAssertEqual(cs, ["finish failed"])
        XCTAssertEqual(h.state("d"), "skipped")
    }

    func testRedriveIsANoOpWhereItWouldChangeNothing() throws {
        // Not dead-lettered.
        var h = try deadLettered()
        let before = h.run.state.tasks
        XCTAssertEqual(try h.send(.taskRedriven(task: h.id("a"), principal: "ops", atMs: 1_000)), [])
        XCTAssertEqual(h.run.state.tasks, before)
        XCTAssertEqual(h.run.state.redriveRefusal(h.id("a"), at: 1_000), "task `a` is succeeded, not dead-lettered")
        // Past the deadline.
        XCTAssertEqual(h.run.state.redriveRefusal(h.id("b"), at: 10_000), "the run is past the run's deadline")
        XCTAssertEqual(try h.send(.taskRedriven(task: h.id("b"), principal: "ops", atMs: 10_000)), [])
        XCTAssertEqual(h.state("b"), "dead_lettered")
        XCTAssertEqual(h.run.state.verdict, .failed)
        // A run stopped by a cancel is not re-driven.
        var s = Harness(try makePlan(Self.source))
        try s.start()
        try s.ok("a", at: 10)
        try s.fail("b", 1, "fatal", at: 20)
        try s.send(.cancelRequested(reason: "ops", atMs: 30))
        XCTAssertEqual(s.run.state.redriveRefusal(s.id("b"), at: 40), "the run was stopped (cancelled); a stopped run is not re-driven")
        XCTAssertEqual(try s.send(.taskRedriven(task: s.id("b"), principal: "ops", atMs: 40)), [])
        // An unknown task is an illegal event.
        XCTAssertThrowsError(try s.send(.taskRedriven(task: 99, principal: "ops", atMs: 50)))
    }

    /// A fallback that dead-lettered: re-driving it settles the failed task it stood in
    /// for again, and that task's dependents run.
    func testRedrivingADeadLetteredFallbackSettlesTheTaskItStoodInFor() throws {
        var h = Harness(try makePlan("""
            agent sh {
              driver: exec
              capabilities: ["shell"]
            }
            workflow w {
              task main {
                run: "m"
                retry { attempts: 1 catch: rescue }
              }
              task rescue { run: "r" }
              task after_main { after: [main] run: "x" }
            }
            """))
        try h.start()
        try h.fail("main", 1, "fatal", at: 10)
        var cs = try h.fail("rescue", 1, "fatal", at: 20)
        XCTAssertEqual(cs.last, "finish failed")
        XCTAssertEqual(["main", "rescue", "after_main"].map(h.state), ["failed", "dead_lettered", "skipped"])
        cs = try h.send(.taskRedriven(task: h.id("rescue"), principal: "ops", atMs: 100))
        XCTAssertEqual(cs, ["dispatch rescue#2@sh"])
        XCTAssertEqual(h.state("after_main"), "waiting")
        cs = try h.ok("rescue", 2, at: 200)
        XCTAssertEqual(cs, ["dispatch after_main#1@sh"])
        cs = try h.ok("after_main", at: 300)
        XCTAssertEqual(cs, ["finish success"])
    }
}
