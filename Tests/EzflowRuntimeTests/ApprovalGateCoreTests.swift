import EzflowIR
import EzflowRuntime
import XCTest

/// The core's rules for an `approve` gate's timeout (ApprovalGate.swift, docs/RUNTIME.md
/// "Approval gates"): the timer is armed by the request, its firing decides per
/// `on_timeout`, stale timers are no-ops, and a resume arms it again.
final class ApprovalGateCoreTests: XCTestCase {
    static func source(_ gate: String, retry: String = "") -> String {
        """
        agent runner { driver: exec, capabilities: ["shell"] }
        role ops { allow: [run, approve], agents: [runner] }
        role oncall { allow: [approve] }
        workflow w {
          input who: string = "ada"
          task build { role: ops, agent: runner, run: "make" }
          task gate {
            role: ops
            after: [build]
            approve: "ship it, ${inputs.who}?"
            approvers: [ops]
            \(gate)
            \(retry)
          }
          task deploy { role: ops, agent: runner, after: [gate], run: "deploy" }
        }
        """
    }

    func harness(_ gate: String, retry: String = "") throws -> Harness {
        var h = Harness(try makePlan(Self.source(gate, retry: retry)))
        try h.start()
        return h
    }

    func testTheRequestCarriesTheQuestionAndArmsTheTimer() throws {
        var h = try harness("timeout: 200ms")
        let cmds = try h.run.apply(.taskSucceeded(task: 0, attempt: 1, outputs: .object([]), costMicros: 0, tokens: 0, atMs: 100))
        XCTAssertEqual(cmds, [.requestApproval(task: 1, reason: .gate, text: "ship it, ada?"),
                              .setTimer(.approvalTimeout(task: 1, attempt: 1, stage: 0), atMs: 300), .finishRun(.waitingForApproval)])
        XCTAssertEqual(h.run.state.verdict, .waitingForApproval, "a pause reads as waiting for approval")
        XCTAssertTrue(h.run.state.pausedForApproval)
        XCTAssertEqual(h.run.state.gateTimeoutNote(1), "rejected if nobody answers within 200ms")
    }

    func testAGateWithoutTimeoutArmsNothing() throws {
        var h = try harness("")
        XCTAssertEqual(try h.ok("build", at: 100), ["approve gate", "finish waiting_for_approval"])
        XCTAssertNil(h.run.state.gateTimeoutNote(1))
    }

    func testRejectIsTheDefault() throws {
        var h = try harness("timeout: 200ms")
        try h.ok("build", at: 100)
        XCTAssertEqual(try h.timer(.approvalTimeout(task: 1, attempt: 1, stage: 0), at: 300), ["finish failed"])
        XCTAssertEqual(h.run.state.tasks, [.succeeded, .failed, .skipped])
        XCTAssertEqual(h.run.state.history[1].map(\.errorClass), ["denied"])
        XCTAssertEqual(h.run.state.history[1].last?.startedAtMs, 100)
    }

    func testApprove() throws {
        var h = try harness("timeout: 200ms\n    on_timeout: approve")
        try h.ok("build", at: 100)
        XCTAssertEqual(try h.timer(.approvalTimeout(task: 1, attempt: 1, stage: 0), at: 300), ["dispatch deploy#1@runner"])
        XCTAssertEqual(h.run.state.tasks[1], .succeeded)
    }

    /// `fail` is a failure of class `timeout`: a rule retrying `timeout` opens the gate
    /// again (a new timer for the next answer), and the last one is dead-lettered.
    func testFailGoesThroughTheRetryRule() throws {
        var h = try harness("timeout: 200ms\n    on_timeout: fail", retry: "retry { attempts: 2, delay: 50ms, on: [timeout] }")
        try h.ok("build", at: 100)
        XCTAssertEqual(try h.timer(.approvalTimeout(task: 1, attempt: 1, stage: 0), at: 300), ["timer retry/1/2@350"])
        XCTAssertEqual(try h.timer(.retryDue(task: 1, attempt: 2), at: 350),
                       ["approve gate", "timer approval/1/2/0@550", "finish waiting_for_approval"])
        // The first gate's timer again (a duplicate delivery): nothing.
        XCTAssertEqual(try h.timer(.approvalTimeout(task: 1, attempt: 1, stage: 0), at: 400), [])
        XCTAssertEqual(try h.timer(.approvalTimeout(task: 1, attempt: 2, stage: 0), at: 550), ["dead gate [timeout timeout]", "finish failed"])
        XCTAssertEqual(h.run.state.tasks[1], .deadLettered)
    }

    func testEscalateAsksTheOtherRolesThenRejects() throws {
        var h = try harness("timeout: 200ms\n    on_timeout: escalate\n    escalate_to: [oncall]\n    escalate_timeout: 1s")
        try h.ok("build", at: 100)
        XCTAssertNil(h.run.state.escalatedApprovers(1))
        XCTAssertEqual(try h.timer(.approvalTimeout(task: 1, attempt: 1, stage: 0), at: 300),
                       ["approve gate", "timer approval/1/1/1@1300", "finish waiting_for_approval"])
        XCTAssertEqual(h.run.state.escalatedApprovers(1), ["oncall"])
        XCTAssertEqual(h.run.state.gateTimeoutNote(1), "escalated to `oncall`; rejected if nobody answers within 1s")
        // A resume asks again and arms the escalation's timer from when it was asked.
        XCTAssertEqual(try h.send(.resumed(atMs: 500)), ["approve gate", "timer approval/1/1/1@1300"])
        XCTAssertEqual(try h.timer(.approvalTimeout(task: 1, attempt: 1, stage: 1), at: 1_300), ["finish failed"])
        XCTAssertEqual(h.run.state.history[1].last?.message, "no answer within 1s: rejected after the escalation")
        XCTAssertNil(h.run.state.escalatedApprovers(1))
    }

    func testAnAnswerBeforeTheTimeoutWins() throws {
        var h = try harness("timeout: 200ms")
        try h.ok("build", at: 100)
        XCTAssertEqual(try h.approval("gate", true, at: 150), ["dispatch deploy#1@runner"])
        XCTAssertEqual(try h.timer(.approvalTimeout(task: 1, attempt: 1, stage: 0), at: 300), [])
        XCTAssertEqual(h.run.state.tasks[1], .succeeded)
    }

    /// On resume the gate's timer is armed from when it was asked; one already past fires
    /// at once in the shell.
    func testResumeArmsTheGateTimer() throws {
        var h = try harness("timeout: 200ms")
        try h.ok("build", at: 100)
        XCTAssertEqual(try h.send(.resumed(atMs: 5_000)), ["approve gate", "timer approval/1/1/0@300"])
    }

    func testTimerOfAGateNeverOpenedIsRefused() throws {
        var h = try harness("timeout: 200ms")
        XCTAssertThrowsError(try h.timer(.approvalTimeout(task: 1, attempt: 3, stage: 0), at: 10))
        XCTAssertThrowsError(try h.timer(.approvalTimeout(task: 9, attempt: 1, stage: 0), at: 10))
    }

    /// The critical path counts a gate at most its timeouts.
    func testWorstDurationCountsTheGateTimeouts() throws {
        let plain = try makePlan(Self.source("timeout: 200ms"))
        XCTAssertEqual(plain.worstDurationMs(1), 200)
        let escalating = try makePlan(Self.source("timeout: 200ms\n    on_timeout: escalate\n    escalate_to: [oncall]\n    escalate_timeout: 1s"))
        XCTAssertEqual(escalating.worstDurationMs(1), 1_200)
        let same = try makePlan(Self.source("timeout: 200ms\n    on_timeout: escalate\n    escalate_to: [oncall]"))
        XCTAssertEqual(same.worstDurationMs(1), 400)
    }
}
