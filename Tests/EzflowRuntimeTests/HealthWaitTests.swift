import EzflowRuntime
import XCTest

/// An unhealthy agent gets no work until it recovers; ready tasks whose every candidate is
/// unhealthy wait for the recovery up to the deadline, or without one `Core.unhealthyWaitMs`
/// (docs/RUNTIME.md, "Health checks").
final class HealthWaitTests: XCTestCase {
    func plan(deadline: String?) throws -> Plan {
        try makePlan(agents + "workflow main {\n" + (deadline.map { "  deadline: \($0)\n" } ?? "")
                     + "  task a {\n    agent: v\n    run: \"echo\"\n  }\n}\n")
    }

    func start(_ h: inout Harness, unhealthy: [Int]) throws -> [String] {
        try h.send(.runStarted(runID: "r1", seed: 1, planHash: h.plan.hash, tagLimits: [:], atMs: 0, unhealthy: unhealthy))
    }

    func testAnAgentUnhealthyAtTheStartGetsWorkOnlyOnceItRecovers() throws {
        var h = Harness(try plan(deadline: "1h"))
        XCTAssertEqual(try start(&h, unhealthy: [0]), ["timer deadline@3600000"], "no dispatch to an unhealthy agent, no dead letter")
        XCTAssertEqual(h.state("a"), "ready")
        XCTAssertEqual(try h.send(.agentHealth(agent: 0, healthy: true, atMs: 2_000)), ["dispatch a#1@v"])
        XCTAssertEqual(try h.ok("a", 1, at: 2_100), ["finish success"])
    }

    func testWithADeadlineTheWaitEndsAtTheDeadline() throws {
        var h = Harness(try plan(deadline: "30s"))
        _ = try start(&h, unhealthy: [0])
        XCTAssertEqual(try h.send(.agentHealth(agent: 1, healthy: false, atMs: 1_000)), [], "still waiting")
        XCTAssertEqual(try h.timer(.deadline, at: 30_000), ["finish deadline_exceeded"])
    }

    func testWithoutADeadlineTheWaitIsBoundedThenNoAgent() throws {
        var h = Harness(try plan(deadline: nil))
        XCTAssertEqual(try start(&h, unhealthy: [0]), ["timer wake@600000"])
        XCTAssertEqual(try h.send(.agentHealth(agent: 0, healthy: false, atMs: 5_000)), [], "the wait runs from when it began")
        XCTAssertEqual(try h.timer(.wake, at: 600_000), ["dead a [no_agent]", "finish failed"])
    }

    func testTheWaitStartsAgainAfterProgress() throws {
        var h = Harness(try plan(deadline: nil))
        _ = try start(&h, unhealthy: [0])
        XCTAssertEqual(try h.send(.agentHealth(agent: 0, healthy: true, atMs: 100_000)), ["dispatch a#1@v"])
        XCTAssertEqual(h.run.state.unhealthySinceMs, -1)
    }

    func testRunStartedCarriesTheUnhealthyAgentsOnlyWhenThereAreAny() throws {
        let with = Event.runStarted(runID: "r", seed: 3, planHash: "h", tagLimits: [:], atMs: 0, unhealthy: [1, 0])
        let without = Event.runStarted(runID: "r", seed: 3, planHash: "h", tagLimits: [:], atMs: 0)
        for (e, has) in [(with, true), (without, false)] {
            let line = String(decoding: Journal.encode([JournalRecord(seq: 0, event: e, commands: [])]), as: UTF8.self)
            XCTAssertEqual(line.contains(#""unhealthy":[1,0]"#), has, line)
            XCTAssertEqual(line.contains("unhealthy"), has, line)
            XCTAssertEqual(try Journal.decode(Array(line.utf8)).first?.event, e)
        }
    }
}
