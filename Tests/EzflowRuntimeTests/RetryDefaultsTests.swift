import EzflowIR
import EzflowRuntime
import XCTest

/// A rule without `on:` retries every class except those a retry cannot fix
/// (`RetryClasses.notByDefault`); `factor` is the base of `exponential` backoff
/// (docs/RUNTIME.md, "Retries").
final class RetryDefaultsTests: XCTestCase {
    func plan(_ rule: String) throws -> Plan {
        try makePlan(agents + "workflow main {\n  task a {\n    agent: v\n    run: \"echo\"\n    retry {\n\(rule)\n    }\n  }\n}\n")
    }

    func testARuleWithoutOnRetriesWhatARetryCanFix() throws {
        let p = try plan("attempts: 2")
        for cls in ["timeout", "transient", "agent_error", "output_error", "fatal", "rate_limited"] {
            XCTAssertTrue(p.retries(task: 0, errorClass: cls), cls)
        }
        for r in RetryClasses.notByDefault { XCTAssertFalse(p.retries(task: 0, errorClass: r.name), r.name) }
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch a#1@v"])
        XCTAssertEqual(try h.fail("a", 1, "agent_error", at: 5), ["timer retry/0/2@5"], "a script's non-zero exit is retried")
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 5), ["dispatch a#2@v"])
        var g = Harness(p)
        _ = try g.start()
        XCTAssertEqual(try g.fail("a", 1, "render_error", at: 5), ["dead a [render_error]", "finish failed"], "no retry fixes a missing value")
    }

    func testAnExplicitOnStillNamesExactlyWhatIsRetried() throws {
        let p = try plan("attempts: 2\n      on: [timeout]")
        XCTAssertTrue(p.retries(task: 0, errorClass: "timeout"))
        XCTAssertFalse(p.retries(task: 0, errorClass: "agent_error"))
        XCTAssertFalse(try plan("attempts: 2\n      on: []").retries(task: 0, errorClass: "timeout"), "`on: []` retries nothing")
    }

    func testTheFactorIsTheBaseOfExponentialBackoff() throws {
        let p = try plan("attempts: 5\n      backoff: exponential\n      delay: 100ms\n      factor: 3")
        XCTAssertEqual((1...4).map { p.baseDelayMs(rule: 0, failedAttempt: $0) }, [100, 300, 900, 2_700])
        let half = try plan("attempts: 4\n      backoff: exponential\n      delay: 1s\n      factor: 1.5\n      max_delay: 2s")
        XCTAssertEqual((1...3).map { half.baseDelayMs(rule: 0, failedAttempt: $0) }, [1_000, 1_500, 2_000], "1.5× and capped")
        let two = try plan("attempts: 4\n      backoff: exponential\n      delay: 7ms")
        XCTAssertEqual((1...3).map { two.baseDelayMs(rule: 0, failedAttempt: $0) }, [7, 14, 28], "default 2")
        var h = Harness(p)
        _ = try h.start()
        XCTAssertEqual(try h.fail("a", 1, "transient", at: 0), ["timer retry/0/2@100"])
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 100), ["dispatch a#2@v"])
        XCTAssertEqual(try h.fail("a", 2, "transient", at: 100), ["timer retry/0/3@400"])
    }

    /// Several rules (issue 11): a failure goes to the first rule that retries its class,
    /// each counts its own failures and waits its own delay; a used-up rule ends the task
    /// although another has attempts left. The plan keeps the rules in order and bounds the
    /// task at 1 + (3 - 1) + (2 - 1) attempts.
    func testEachRuleCountsItsOwnFailures() throws {
        let p = try makePlan(agents + """
            workflow main {
              task a {
                agent: v
                run: "echo"
                retry { on: [timeout], attempts: 3, delay: 10ms }
                retry { on: [agent_error], attempts: 2, delay: 40ms }
              }
            }
            """)
        XCTAssertEqual(p.rules(task: 0).count, 2)
        XCTAssertEqual(p.attemptsMax[0], 4)
        XCTAssertEqual(p.rule(task: 0, errorClass: "timeout"), p.ruleStart[0])
        XCTAssertEqual(p.rule(task: 0, errorClass: "agent_error"), p.ruleStart[0] + 1)
        XCTAssertNil(p.rule(task: 0, errorClass: "transient"))

        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch a#1@v"])
        XCTAssertEqual(try h.fail("a", 1, "agent_error", at: 5), ["timer retry/0/2@45"], "the agent_error rule's 40ms")
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 45), ["dispatch a#2@v"])
        XCTAssertEqual(try h.fail("a", 2, "timeout", at: 50), ["timer retry/0/3@60"], "the timeout rule's 10ms, its first failure")
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 3), at: 60), ["dispatch a#3@v"])
        XCTAssertEqual(try h.fail("a", 3, "timeout", at: 70), ["timer retry/0/4@80"], "the timeout rule's second failure of three")
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 4), at: 80), ["dispatch a#4@v"])
        XCTAssertEqual(try h.ok("a", 4, at: 90), ["finish success"], "one rule alone (3 attempts) would have dead-lettered it")

        var g = Harness(p)
        _ = try g.start()
        XCTAssertEqual(try g.fail("a", 1, "agent_error", at: 5), ["timer retry/0/2@45"])
        _ = try g.timer(.retryDue(task: 0, attempt: 2), at: 45)
        XCTAssertEqual(try g.fail("a", 2, "agent_error", at: 50), ["dead a [agent_error agent_error]", "finish failed"],
                       "the agent_error rule is used up; the timeout rule's attempts do not help")

        var n = Harness(p)
        _ = try n.start()
        XCTAssertEqual(try n.fail("a", 1, "transient", at: 5), ["dead a [transient]", "finish failed"], "no rule takes `transient`")
    }
}
