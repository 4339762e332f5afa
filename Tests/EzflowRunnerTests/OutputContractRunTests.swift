// `ezrun run` end to end: declared outputs are a contract held where the attempt ends
// (docs/RUNTIME.md, "Outputs are a contract"). The producer's attempt fails
// `output_error`, its own retry rule decides, and the task that reads it is never blamed.
import EzflowIR
import EzflowRunner
import EzflowStore
import EzflowTestSupport
import Foundation
import Synchronization
import XCTest

final class OutputContractRunTests: XCTestCase {
    /// `make` prints prose on its first attempt (and, with `always`, on every one).
    static func workflow(retry: String, always: Bool = false) -> String {
        let first = always ? "true" : "[ \\\"$EZFLOW_ATTEMPT\\\" = 1 ]"
        return """
            agent sh {
              driver: exec
              capabilities: ["shell"]
            }
            workflow outs {
              task make {
                run: "echo building; if \(first); then echo here is your patch; else echo '{\\"patch\\": \\"diff\\"}'; fi"
                output patch: string
                output note: string?
                \(retry)
              }
              task use {
                run: "echo got ${make.outputs.patch} note=[${make.outputs.note}]"
              }
            }
            """
    }

    func testProseFailsTheProducersAttemptAndItsRetryRuleRetriesIt() throws {
        let dir = tempDir("outs")
        write(Self.workflow(retry: "retry { attempts: 2, delay: 10ms, on: [output_error] }"), to: dir + "/outs.ezflow")
        let r = ezrun(["run", "outs.ezflow", "--run-id", "o1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("task make failed (attempt 1/2, sh): output_error: task `make`: output `patch` is missing "
                                        + "(it should be a string); stdout's last line is not a JSON object: `here is your patch`"), r.stderr)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "o1")
        XCTAssertEqual(run.state.history[0].map(\.errorClass), ["output_error", nil])
        // The log line before the JSON is log; the optional output left out reads as null.
        XCTAssertEqual(run.state.taskOutputs[0]?["patch"], .string("diff"))
        XCTAssertEqual(run.state.taskOutputs[0]?["note"], .null)
        let logs = ezrun(["logs", "o1", "use"], in: dir)
        XCTAssertTrue(logs.stdout.hasSuffix("got diff note=[]\n"), logs.stdout)
        let status = ezrun(["status", "o1"], in: dir)
        XCTAssertTrue(status.stdout.contains("make  succeeded        2"), status.stdout)
    }

    func testWithoutARetryTheProducerFailsAndTheReaderIsNotBlamed() throws {
        let dir = tempDir("outs")
        write(Self.workflow(retry: "", always: true), to: dir + "/outs.ezflow")
        let r = ezrun(["run", "outs.ezflow", "--run-id", "o2", "--junit", "j.xml"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "o2")
        XCTAssertEqual(run.state.tasks, [.deadLettered, .skipped])
        XCTAssertEqual(run.state.history[0].last?.errorClass, "output_error")
        XCTAssertTrue(run.state.history[1].isEmpty, "the reader never ran")
        let junit = read(dir + "/j.xml")
        XCTAssertTrue(junit.contains(#"<failure message="task `make`: output `patch` is missing"#), junit)
        XCTAssertFalse(junit.contains("render_error"), junit)
        XCTAssertFalse(r.stderr.contains("task 0"), r.stderr)
    }

    func testAnHTTPTaskWhoseBodyLacksADeclaredOutputIsRetriedByItsRule() throws {
        let calls = Counter()
        let server = try LoopbackServer { _ in
            calls.next() == 1 ? CannedResponse(status: 200, body: Array("accepted!".utf8), headers: [("Content-Type", "text/plain")])
                : .json(200, #"{"id": 17}"#)
        }
        defer { server.stop() }
        let dir = tempDir("outs")
        write("""
            agent hook {
              driver: http
              capabilities: ["http"]
              url: "\(server.base)"
            }
            workflow h {
              task notify {
                call: "hooks"
                output id: int
                retry { attempts: 2, delay: 10ms, on: [output_error] }
              }
            }
            """, to: dir + "/h.ezflow")
        let r = ezrun(["run", "h.ezflow", "--run-id", "h1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "h1")
        XCTAssertEqual(run.state.history[0].map(\.errorClass), ["output_error", nil])
        XCTAssertEqual(run.state.history[0].first?.message,
                       "task `notify`: output `id` is missing (it should be an int); the response body is not a JSON object: `accepted!`")
        XCTAssertEqual(run.state.taskOutputs[0]?["id"], .int(17))
    }
}

/// A thread-safe count of calls.
final class Counter: Sendable {
    let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
