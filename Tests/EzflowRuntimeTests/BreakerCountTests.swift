import EzflowRuntime
import XCTest

/// The breaker counts each failure once, and only the classes that say the agent is down
/// (`timeout`, `transient`); a task's own failure (`agent_error`, `output_error`,
/// `conflict`, a declared class) is not an outage (docs/RUNTIME.md, "Circuit breaker").
final class BreakerCountTests: XCTestCase {
    func plan(_ tasks: Int) throws -> Plan {
        var body = ""
        for i in 0..<tasks { body += "  task t\(i) {\n    agent: v\n    run: \"echo\"\n  }\n" }
        return try makePlan(agents + "workflow main {\n" + body + "}\n")
    }

    func testFourTransientFailuresLeaveTheDefaultBreakerClosed() throws {
        var h = Harness(try plan(5), environment: RunEnvironment(breaker: CircuitBreaker()))
        XCTAssertEqual(try h.start(), ["dispatch t0#1@v"])
        for i in 0..<4 {
            _ = try h.fail("t\(i)", 1, "transient", at: Int64(10 * (i + 1)))
            XCTAssertEqual(h.run.state.agentHealth[0].consecutiveFailures, i + 1, "one failure, one count")
        }
        XCTAssertEqual(h.run.state.agentHealth[0].breaker, .closed, "the default opens after 5, not 3")
        _ = try h.fail("t4", 1, "transient", at: 50)
        XCTAssertEqual(h.run.state.agentHealth[0].breaker, .open(untilMs: 30_050))
    }

    func testATasksOwnFailureDoesNotCountAgainstTheAgent() throws {
        var h = Harness(try plan(6), environment: RunEnvironment(breaker: CircuitBreaker(failuresToOpen: 1, coolDownMs: 60_000)))
        _ = try h.start()
        for (i, cls) in ["agent_error", "output_error", "conflict", "fatal", "render_error"].enumerated() {
            _ = try h.fail("t\(i)", 1, cls, at: Int64(10 * (i + 1)))
            XCTAssertEqual(h.run.state.agentHealth[0].breaker, .closed, cls)
            XCTAssertEqual(h.run.state.agentHealth[0].consecutiveFailures, 0, cls)
        }
        _ = try h.fail("t5", 1, "timeout", at: 100)
        XCTAssertEqual(h.run.state.agentHealth[0].breaker, .open(untilMs: 60_100))
    }
}
