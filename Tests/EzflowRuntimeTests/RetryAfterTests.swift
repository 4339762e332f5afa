import EzflowRuntime
import XCTest

/// The server's `Retry-After` (`retry_after_ms` on `task_failed`) in the core's retry
/// rule: the retry is due at max(backoff, now + wait); a wait that reaches the deadline or
/// a time budget ends the rule at once, and the attempt's message says why.
final class RetryAfterTests: XCTestCase {
    func plan(deadline: String = "10s", budget: String = "") throws -> Plan {
        try makePlan(agents + """
            workflow main {
              deadline: \(deadline)
              task a {
                agent: v
                run: "echo"
                retry {
                  attempts: 3
                  backoff: fixed
                  delay: 100ms
                  on: [transient]
                }
                \(budget)
              }
            }
            """)
    }

    func waitFail(_ h: inout Harness, _ attempt: Int, at: Int64, wait: Int64?) throws -> [String] {
        try h.send(.taskFailed(task: 0, attempt: attempt, errorClass: "transient", message: "HTTP 429", costMicros: 0, tokens: 0,
                               atMs: at, retryAfterMs: wait))
    }

    func testTheRetryWaitsForTheLaterOfBackoffAndTheServersWait() throws {
        var h = Harness(try plan())
        XCTAssertEqual(try h.start(), ["timer deadline@10000", "dispatch a#1@v"])
        XCTAssertEqual(try waitFail(&h, 1, at: 10, wait: 2_000), ["timer retry/0/2@2010"], "the server's 2 s beat the 100 ms backoff")
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 2_010), ["dispatch a#2@v"])
        XCTAssertEqual(try waitFail(&h, 2, at: 2_020, wait: 30), ["timer retry/0/3@2120"], "the backoff is later than 30 ms")
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 3), at: 2_120), ["dispatch a#3@v"])
        XCTAssertEqual(try h.ok("a", 3, at: 2_200), ["finish success"])
    }

    func testAWaitPastTheDeadlineIsNoRetry() throws {
        var h = Harness(try plan())
        XCTAssertEqual(try h.start(), ["timer deadline@10000", "dispatch a#1@v"])
        XCTAssertEqual(try waitFail(&h, 1, at: 1_000, wait: 9_000), ["dead a [transient]", "finish failed"])
        XCTAssertEqual(h.run.state.history[0].last?.message,
                       "HTTP 429; not retried: the server asked to wait 9s, past the run's deadline")
    }

    func testAWaitPastATaskTimeBudgetIsNoRetry() throws {
        var h = Harness(try plan(deadline: "1h", budget: "budget {\n  time: 5s\n}"))
        XCTAssertEqual(try h.start(), ["timer deadline@3600000", "dispatch a#1@v", "timer budget/0@5000"])
        XCTAssertEqual(try waitFail(&h, 1, at: 100, wait: 4_899), ["timer retry/0/2@4999"])
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 4_999), ["dispatch a#2@v"])
        XCTAssertEqual(try waitFail(&h, 2, at: 4_999, wait: 1), ["dead a [transient transient]", "finish failed"],
                       "due at the budget's end: no time left to run")
        XCTAssertEqual(h.run.state.history[0].last?.message,
                       "HTTP 429; not retried: the server asked to wait 1ms, past the time budget of task `a`")
    }

    func testAWaitWithinTheDeadlineIsHonouredAndNoWaitKeepsTheBackoff() throws {
        var h = Harness(try plan())
        XCTAssertEqual(try h.start(), ["timer deadline@10000", "dispatch a#1@v"])
        XCTAssertEqual(try waitFail(&h, 1, at: 0, wait: 9_999), ["timer retry/0/2@9999"])
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 9_999), ["dispatch a#2@v"])
        XCTAssertEqual(try waitFail(&h, 2, at: 9_999, wait: nil), ["timer retry/0/3@10099"], "no wait: the backoff alone, as before")
    }

    func testTheWaitIsJournalledAndOmittedWhenAbsent() throws {
        let with = Event.taskFailed(task: 0, attempt: 1, errorClass: "transient", message: "m", costMicros: 0, tokens: 0, atMs: 5,
                                    retryAfterMs: 1_000)
        let without = Event.taskFailed(task: 0, attempt: 1, errorClass: "transient", message: "m", costMicros: 0, tokens: 0, atMs: 5)
        for (e, text) in [(with, #""retry_after_ms":1000"#), (without, "")] {
            let line = String(decoding: Journal.encode([JournalRecord(seq: 1, event: e, commands: [])]), as: UTF8.self)
            XCTAssertEqual(line.contains("retry_after_ms"), !text.isEmpty, line)
            if !text.isEmpty { XCTAssert(line.contains(text), line) }
            XCTAssertEqual(try Journal.decode(Array(line.utf8)).first?.event, e)
        }
    }
}
