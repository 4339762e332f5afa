import EzflowAgents
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

/// `Retry-After` (delta-seconds or HTTP-date) and `retry-after-ms` as the drivers read them.
final class RetryAfterHeaderTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT

    func testDeltaSecondsDatesAndMilliseconds() {
        XCTAssertEqual(RetryAfter.ms(status: 429, headers: ["retry-after": "1"], now: now), 1_000)
        XCTAssertEqual(RetryAfter.ms(status: 503, headers: ["retry-after": " 120 "], now: now), 120_000)
        XCTAssertEqual(RetryAfter.ms(status: 529, headers: ["retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"], now: now), 30_000)
        XCTAssertEqual(RetryAfter.ms(status: 429, headers: ["retry-after": "Wednesday, 21-Oct-15 07:29:00 GMT"], now: now), 60_000)
        XCTAssertEqual(RetryAfter.ms(status: 429, headers: ["retry-after": "Wed Oct 21 07:28:05 2015"], now: now), 5_000)
        XCTAssertEqual(RetryAfter.ms(status: 429, headers: ["retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"], now: now), 0, "a date passed: no wait")
        XCTAssertEqual(RetryAfter.ms(status: 429, headers: ["retry-after-ms": "250.5", "retry-after": "9"], now: now), 251,
                       "the millisecond header wins")
        XCTAssertEqual(RetryAfter.ms(status: 429, headers: ["retry-after": "99999999999"], now: now), RetryAfter.maxMs)
    }

    func testOtherStatusesAndJunkGiveNoWait() {
        XCTAssertNil(RetryAfter.ms(status: 500, headers: ["retry-after": "1"], now: now))
        XCTAssertNil(RetryAfter.ms(status: 200, headers: ["retry-after": "1"], now: now))
        XCTAssertNil(RetryAfter.ms(status: 429, headers: [:], now: now))
        XCTAssertNil(RetryAfter.ms(status: 429, headers: ["retry-after": "soon"], now: now))
        XCTAssertNil(RetryAfter.ms(status: 429, headers: ["retry-after": "-5"], now: now))
        XCTAssertNil(RetryAfter.ms(status: 429, headers: ["retry-after-ms": "nan"], now: now))
    }

    /// The http driver reads the same headers on a 429.
    func testHTTPDriverReadsTheWait() async throws {
        let server = try LoopbackServer { req in
            // The second call's body reports its own class: the wait still rides on it.
            let body = req.headers["x-ezflow-attempt"] == "2" ? #"{"error": {"class": "rate_limited", "message": "slow down"}}"# : ""
            return CannedResponse(status: 429, body: Array(body.utf8), headers: [("retry-after-ms", "1500")])
        }
        defer { server.stop() }
        let p = try buildProgram("""
            agent api {
              driver: http
              capabilities: ["http"]
              url: "\(server.base)"
            }
            workflow w {
              task call_it {
                agent: api
                call: "/x"
              }
            }
            """)
        let d = HTTPDriver(program: p, secrets: SecretResolver(specs: [], config: SecretConfig(environment: [:]), redactor: Redactor()))
        let r = await d.run(task: 0, attempt: 1, agent: 0, idempotencyKey: "k", runID: "r", values: RenderValues(inputs: [:]))
        XCTAssertEqual(r.errorClass, ErrorClass.transient)
        XCTAssertEqual(r.retryAfterMs, 1_500)
        let r2 = await d.run(task: 0, attempt: 2, agent: 0, idempotencyKey: "k", runID: "r", values: RenderValues(inputs: [:]))
        XCTAssertEqual(r2.errorClass, "rate_limited")
        XCTAssertEqual(r2.retryAfterMs, 1_500)
    }
}
