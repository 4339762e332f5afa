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
        XCTAssertEqual((1...4).map { p.baseDelayMs(task: 0, failedAttempt: $0) }, [100, 300, 900, 2_700])
        let half = try plan("attempts: 4\n      backoff: exponential\n      delay: 1s\n      factor: 1.5\n      max_delay: 2s")
        XCTAssertEqual((1...3).map { half.baseDelayMs(task: 0, failedAttempt: $0) }, [1_000, 1_500, 2_000], "1.5× and capped")
        let two = try plan("attempts: 4\n      backoff: exponential\n      delay: 7ms")
        XCTAssertEqual((1...3).map { two.baseDelayMs(task: 0, failedAttempt: $0) }, [7, 14, 28], "default 2")
        var h = Harness(p)
        _ = try h.start()
        XCTAssertEqual(try h.fail("a", 1, "transient", at: 0), ["timer retry/0/2@100"])
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 100), ["dispatch a#2@v"])
        XCTAssertEqual(try h.fail("a", 2, "transient", at: 100), ["timer retry/0/3@400"])
    }
}
