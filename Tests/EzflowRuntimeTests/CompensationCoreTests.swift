import EzflowRuntime
import XCTest

/// The core's compensation (docs/RUNTIME.md "Compensation") beyond the replay golden: the
/// deadline bounds neither an undo's retry after a server's wait nor its wait for a
/// healthy agent (the wait is bounded as in a run without a deadline).
final class CompensationCoreTests: XCTestCase {
    func plan(_ body: String, deadline: String = "1s", budget: String = "") throws -> Plan {
        try makePlan(agents + "workflow main {\n  deadline: \(deadline)\n\(budget)\n\(body)\n}\n")
    }

    static let saga = """
          task a {
            agent: v
            run: "a"
            compensate: undo_a
          }
          task b {
            agent: v
            after: [a]
            run: "b"
          }
          task undo_a {
            agent: v
            timeout: 10s
            retry { attempts: 2, backoff: fixed, delay: 10ms }
            run: "undo"
          }
        """

    func testAServersWaitPastTheDeadlineStillRetriesAnUndo() throws {
        var h = Harness(try plan(Self.saga))
        try h.start()
        try h.ok("a", at: 10)
        XCTAssertEqual(try h.fail("b", 1, "agent_error", at: 20).filter { $0.hasPrefix("dispatch") }, ["dispatch undo_a#1@v"])
        let cs = try h.send(.taskFailed(task: h.id("undo_a"), attempt: 1, errorClass: "transient", message: "429", costMicros: 0,
                                        tokens: 0, atMs: 30, retryAfterMs: 5_000))
        XCTAssertEqual(cs, ["timer retry/\(h.id("undo_a"))/2@5030"], "retried after the server's wait, past the 1s deadline")
        try h.timer(.deadline, at: 1_000)
        XCTAssertEqual(try h.timer(.retryDue(task: h.id("undo_a"), attempt: 2), at: 5_030).filter { $0.hasPrefix("dispatch") },
                       ["dispatch undo_a#2@v"])
        XCTAssertEqual(try h.ok("undo_a", 2, at: 5_100), ["finish failed"])
    }

    func testAnUndoWaitsForAHealthyAgentPastTheDeadline() throws {
        var h = Harness(try plan(Self.saga))
        try h.start()
        try h.ok("a", at: 10)
        try h.send(.agentHealth(agent: 0, healthy: false, atMs: 15))
        let cs = try h.fail("b", 1, "agent_error", at: 20)
        XCTAssertEqual(cs.filter { !$0.hasPrefix("dead") }, ["timer wake@600020"],
                       "the undo waits as in a run without a deadline, from when it was opened")
        XCTAssertEqual(h.state("undo_a"), "ready")
        XCTAssertEqual(try h.timer(.deadline, at: 1_000), [], "the deadline does not end the undo's wait")
        XCTAssertEqual(try h.send(.agentHealth(agent: 0, healthy: true, atMs: 2_000)), ["dispatch undo_a#1@v", "timer timeout/\(h.id("undo_a"))/1@12000"])
        XCTAssertEqual(try h.ok("undo_a", at: 2_100), ["finish failed"], "the main graph's verdict")
    }
}
