// A server's `Retry-After` end to end: the llm driver reads it off a 429, the journal
// carries it, the core delays the retry to it, or refuses a retry past the deadline.
import EzflowAgents
import EzflowIR
@testable import EzflowRunner
import EzflowRuntime
import EzflowTestSupport
import Foundation
import Synchronization
import XCTest

final class RetryAfterRunTests: XCTestCase {
    /// Answers the first request with `first` and headers, every later one with a completion;
    /// keeps each request's arrival time.
    final class Server: Sendable {
        final class Log: Sendable { let dates = Mutex<[Date]>([]) }
        let server: LoopbackServer
        let log = Log()
        var arrivals: [Date] { log.dates.withLock { $0 } }
        init(first status: Int, headers: [(String, String)]) throws {
            let log = self.log
            server = try LoopbackServer { _ in
                let n = log.dates.withLock { d -> Int in d.append(Date()); return d.count }
                if n == 1 {
                    return CannedResponse(status: status, body: Array(#"{"error": {"message": "slow down"}}"#.utf8),
                                          headers: [("Content-Type", "application/json")] + headers)
                }
                return .json(200, #"{"choices":[{"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#)
            }
        }
    }

    func source(base: String, deadline: String) -> String {
        """
        agent model {
          driver: llm
          capabilities: ["llm"]
          model: "tiny-1"
          url: "\(base)/v1"
        }
        workflow w {
          deadline: \(deadline)
          task ask {
            agent: model
            prompt: "Say hi."
            max_tokens: 100 tokens
            retry {
              attempts: 3
              backoff: fixed
              delay: 10ms
              on: [transient]
            }
          }
        }
        """
    }

    func testA429WithRetryAfterDelaysTheSecondAttempt() throws {
        let s = try Server(first: 429, headers: [("Retry-After", "1")])
        defer { s.server.stop() }
        let out = try TokenCapTests.run(source(base: s.server.base, deadline: "1m"))
        XCTAssertEqual(out.verdict, .success)
        let at = s.arrivals
        XCTAssertEqual(at.count, 2)
        XCTAssertGreaterThanOrEqual(at[1].timeIntervalSince(at[0]), 1.0, "the second attempt waited for Retry-After: 1, not the 10 ms backoff")
        let first = try XCTUnwrap(out.state.history[0].first)
        XCTAssertEqual(first.errorClass, "transient")
        XCTAssertEqual(first.message, "task `ask`: HTTP 429: slow down")
        XCTAssertGreaterThanOrEqual(out.state.history[0][1].startedAtMs - first.endedAtMs, 1_000)
    }

    func testAWaitPastTheDeadlineFailsAtOnce() throws {
        let s = try Server(first: 529, headers: [("retry-after-ms", "120000")])
        defer { s.server.stop() }
        let t0 = Date()
        let out = try TokenCapTests.run(source(base: s.server.base, deadline: "30s"))
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10, "no waiting for a retry that cannot come")
        XCTAssertEqual(out.verdict, .failed)
        XCTAssertEqual(s.arrivals.count, 1)
        XCTAssertEqual(out.state.history[0].first?.message,
                       "task `ask`: HTTP 529: slow down; not retried: the server asked to wait 2m, past the run's deadline")
    }
}
