// `ezrun run` against services the test starts on 127.0.0.1: an OpenAI-compatible chat
// endpoint (tokens charged to the budget), an http agent, the metrics endpoint; and the
// CI example end to end with its approval gate.
import EzflowIR
import EzflowRunner
import EzflowRuntime
import EzflowPorts
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class ServicesTests: XCTestCase {
    func llmWorkflow(base: String, tokensBudget: Int) -> String {
        """
        secret llm_key {
          provider: env
          key: "EZ_TEST_LLM_KEY"
        }
        agent model {
          driver: llm
          capabilities: ["llm"]
          model: "tiny-1"
          url: "\(base)/v1"
          api_key: llm_key
          cost_per_1k_tokens: $0.01
        }
        agent hook {
          driver: http
          capabilities: ["notify"]
          url: "\(base)/hooks"
          cost_per_call: $0.002
        }
        role writer {
          allow: [run]
          agents: [model, hook]
          secrets: [llm_key]
        }
        workflow poem {
          input topic: string = "queues"
          budget {
            tokens: \(tokensBudget) tokens
          }
          task write {
            role: writer
            needs: ["llm"]
            prompt: "Write one line about ${inputs.topic}."
            max_tokens: 100 tokens
          }
          task publish {
            role: writer
            needs: ["notify"]
            call: "publish"
            after: [write]
            output id: int
          }
        }
        """
    }

    func runWithKey(_ args: [String], in dir: String, key: String = "EZ_TEST_LLM_KEY") -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.environment = [key: "sk-test-0123456789", "PATH": "/usr/bin:/bin"]
        let err = Pipe()
        p.standardError = err
        do { try p.run() } catch { return (-1, "\(error)") }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    func testLLMAndHTTPAgentsChargeTokensAndPassOutputs() throws {
        let server = try LoopbackServer { req in
            if req.target.hasSuffix("/chat/completions") {
                return .json(200, #"{"choices":[{"message":{"role":"assistant","content":"Queues wait so you do not."}}],"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}}"#)
            }
            return .json(200, #"{"id": 42}"#)
        }
        defer { server.stop() }
        let dir = tempDir("llm")
        write(llmWorkflow(base: server.base, tokensBudget: 1000), to: dir + "/poem.ezflow")
        let r = runWithKey(["run", "poem.ezflow", "--run-id", "p1", "--summary", "s.json"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)

        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: "p1")
        XCTAssertEqual(run.state.chargedTokens, 20)
        XCTAssertEqual(run.state.chargedMicros, 200 + 2_000, "20 tokens at $0.01/1k, one call at $0.002")
        let chat = try XCTUnwrap(server.requests.first { $0.target.hasSuffix("/chat/completions") })
        XCTAssertEqual(chat.headers["authorization"], "Bearer sk-test-0123456789")
        XCTAssertEqual(chat.json?["model"], .string("tiny-1"))
        XCTAssertEqual(chat.json?["messages"]?.array?.first?["content"], .string("Write one line about queues."))
        // The http task received the LLM's answer as its dependency's output.
        let hook = try XCTUnwrap(server.requests.first { $0.target.hasSuffix("/hooks/publish") })
        XCTAssertEqual(hook.json?["deps"]?["write"]?["text"], .string("Queues wait so you do not."))
        XCTAssertTrue(hook.headers["idempotency-key"]?.hasPrefix("p1/") ?? false)
        let summary = try JSONParser.parse(Array(read(dir + "/s.json").utf8))
        XCTAssertEqual(summary["tokens"], .int(20))
        XCTAssertFalse(read(dir + "/s.json").contains("sk-test-0123456789"))
    }

    func testTokenBudgetStopsTheRunWithExitThree() throws {
        let server = try LoopbackServer { _ in
            .json(200, #"{"choices":[{"message":{"content":"long answer"}}],"usage":{"total_tokens":900}}"#)
        }
        defer { server.stop() }
        let dir = tempDir("llm")
        // 100 tokens of budget: the worst case of `write` (max_tokens 100) fits and the
        // driver sends what its prompt leaves of it, but the model ignores that and spends
        // 900: charged as reported, the attempt fails `cap_exceeded`, the run stops on the
        // budget and `publish` is never dispatched.
        write(llmWorkflow(base: server.base, tokensBudget: 100), to: dir + "/poem.ezflow")
        let r = runWithKey(["run", "poem.ezflow", "--run-id", "p2"], in: dir)
        XCTAssertEqual(r.status, 3, r.stderr)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "p2")
        XCTAssertEqual(run.info.verdict, .budgetExceeded)
        XCTAssertEqual(run.state.chargedTokens, 900)
        XCTAssertEqual(run.state.attempts[run.plan.taskNames.firstIndex(of: "publish")!], 0)
        XCTAssertEqual(server.requests.filter { $0.target.hasSuffix("/hooks/publish") }.count, 0)
    }

    func testMetricsEndpointServesWhileRunning() throws {
        let dir = tempDir("metrics")
        write("""
            agent sh {
              driver: exec
              capabilities: ["shell"]
            }
            workflow waits {
              task first { run: "true" }
              task nap {
                after: [first]
                run: "sleep 2"
              }
            }
            """, to: dir + "/waits.ezflow")
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = ["run", "waits.ezflow", "--metrics-port", "0", "--run-id", "m1"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let err = Pipe()
        p.standardError = err
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        // The port is announced on stderr before the run starts.
        var seen = Data()
        var port: Int? = nil
        let deadline = Date().addingTimeInterval(10)
        while port == nil && Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
            let text = String(decoding: seen, as: UTF8.self)
            if let r = text.range(of: "http://127.0.0.1:"), let end = text[r.upperBound...].firstIndex(of: "/") {
                port = Int(text[r.upperBound..<end])
            }
        }
        let p0 = try XCTUnwrap(port, String(decoding: seen, as: UTF8.self))
        var body = ""
        for _ in 0..<50 {
            body = self.body(port: p0, path: "/metrics")
            // `nap` running after `first` succeeded.
            if body.contains("ezflow_tasks{state=\"running\"} 1") && body.contains("ezflow_tasks{state=\"succeeded\"} 1") { break }
            usleep(50_000)
        }
        XCTAssertTrue(body.contains("ezflow_tasks{state=\"running\"} 1"), body)
        XCTAssertTrue(body.contains("ezflow_tasks{state=\"succeeded\"} 1"), body)
        XCTAssertTrue(body.contains("# TYPE ezflow_assignment_latency_seconds histogram"), body)
        XCTAssertTrue(body.contains("ezflow_assignment_latency_seconds_count 2"), "two dispatches so far: \(body)")
        XCTAssertTrue(body.contains("ezflow_attempts_total{agent=\"sh\",outcome=\"succeeded\"} 1"), body)
        XCTAssertTrue(body.contains("ezflow_queue_depth 0"), body)
        XCTAssertEqual(self.body(port: p0, path: "/nope"), "", "only /metrics is served")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }

    /// The body of a 200 response, or "".
    func body(port: Int, path: String) -> String {
        guard let text = try? httpGet(port: UInt16(port), path: path), text.hasPrefix("HTTP/1.1 200"),
              let r = text.range(of: "\r\n\r\n") else { return "" }
        return String(text[r.upperBound...])
    }

    /// The CI example for real: exec tasks, the approval gate (exit 4), an approval by a
    /// releaser, resume to success; JUnit lists every task.
    func testCIPipelineExampleEndToEnd() throws {
        let dir = tempDir("example")
        let src = Repo.url("examples/ci_pipeline.ezflow").path
        let r = ezrun(["run", src, "--run-id", "ci", "--as", "ana:ci", "--junit", "junit.xml"], in: dir)
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertEqual(ezrun(["approve", "ci", "approve_deploy", "--as", "rob:releaser", "--yes"], in: dir).status, 0)
        let done = ezrun(["resume", "ci", "--as", "ana:ci", "--junit", "junit.xml"], in: dir)
        XCTAssertEqual(done.status, 0, done.stderr)
        let junit = read(dir + "/junit.xml")
        for t in ["build", "test", "lint", "typecheck", "approve_deploy", "deploy"] {
            XCTAssertTrue(junit.contains("name=\"\(t)\""), "\(t) missing in \(junit)")
        }
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let logs = try store.logs(run: "ci")
        XCTAssertTrue(logs.contains { $0.stdout.contains("deploying \"app:HEAD\" to \"staging\"") || $0.stdout.contains("deploying app:HEAD to staging") },
                      logs.map(\.stdout).joined(separator: "|"))
    }

    /// The LLM review example for real, against a loopback OpenAI-compatible server: the
    /// review is asked for with its system prompt and its declared outputs as a strict
    /// JSON schema; a first answer that misses `verdict` fails `output_error` and is
    /// retried; the approval gate, then the post with the checked review.
    func testLLMCodeReviewExampleEndToEnd() throws {
        let answers = LockedCounter()
        let server = try LoopbackServer { req in
            let first = answers.next() == 0
            let content = first ? #"{"review_comment": "LGTM"}"# : #"{"review_comment": "Add a test for --dry-run.", "verdict": "REQUEST_CHANGES"}"#
            let c = String(decoding: CanonicalJSON.encode(.string(content)), as: UTF8.self)
            return .json(200, #"{"choices":[{"message":{"role":"assistant","content":\#(c)}}],"usage":{"prompt_tokens":300,"completion_tokens":40,"total_tokens":340}}"#)
        }
        defer { server.stop() }
        let dir = tempDir("example")
        let text = read(Repo.url("examples/llm_code_review.ezflow").path)
        XCTAssertTrue(text.contains("http://127.0.0.1:8080/v1"))
        // Faster retries than the example's 2 s, same rule otherwise.
        write(text.replacingOccurrences(of: "http://127.0.0.1:8080", with: server.base).replacingOccurrences(of: "delay: 2s", with: "delay: 10ms"),
              to: dir + "/review.ezflow")
        let me = "--as", who = "ana:author,code_reviewer"
        let r = runWithKey(["run", "review.ezflow", "--run-id", "rv", me, who], in: dir, key: "OPENAI_API_KEY")
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertEqual(server.requests.count, 2)
        let body = try XCTUnwrap(server.requests.first?.json)
        XCTAssertEqual(body["messages"]?.array?.first?["role"], .string("system"))
        XCTAssertEqual(body["max_tokens"], .int(8_000))
        let format = try XCTUnwrap(body["response_format"])
        XCTAssertEqual(format["type"], .string("json_schema"))
        XCTAssertEqual(format["json_schema"]?["strict"], .bool(true))
        XCTAssertEqual(format["json_schema"]?["schema"]?["properties"]?["verdict"]?["enum"], .array([.string("APPROVE"), .string("REQUEST_CHANGES")]))
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: "rv")
        let review = try XCTUnwrap(run.plan.taskNames.firstIndex(of: "review"))
        XCTAssertEqual(run.state.history[review].map(\.errorClass), ["output_error", nil])
        XCTAssertTrue(run.state.history[review][0].message.contains("output `verdict`"), run.state.history[review][0].message)
        XCTAssertEqual(ezrun(["approve", "rv", "approve_review", "--as", "mia:maintainer", "--yes"], in: dir).status, 0)
        let done = runWithKey(["resume", "rv", me, who], in: dir, key: "OPENAI_API_KEY")
        XCTAssertEqual(done.status, 0, done.stderr)
        let logs = try DurableStore(path: dir + "/.ezflow/ezflow.db").logs(run: "rv")
        XCTAssertTrue(logs.contains { $0.stdout.contains("Add a test for --dry-run.") }, logs.map(\.stdout).joined(separator: "|"))
    }

    /// The fan-out example for real: one instance per input file, their outputs merged
    /// into a workflow output and read back as a list by the fan-in task.
    func testFanoutExampleEndToEnd() throws {
        let dir = tempDir("example")
        let src = Repo.url("examples/fanout_data_job.ezflow").path
        let r = ezrun(["run", src, "--run-id", "fo", "--summary", "s.json",
                       "--input", #"files=["a.csv", "b.csv"]"#], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try JSONParser.parse(Array(read(dir + "/s.json").utf8))
        XCTAssertEqual(summary["outputs"]?["report"], .string("2 files, rows per file: 1000 1000"))
        XCTAssertEqual(summary["outputs"]?["stats"]?["b.csv"], .string("ok"))
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "fo")
        XCTAssertTrue(run.plan.taskNames.contains("process[1]"))
        XCTAssertFalse(run.plan.taskNames.contains("process[2]"))
    }
}

extension JSONValue {
    var array: [JSONValue]? { if case .array(let xs) = self { xs } else { nil } }
}

/// A counter the loopback server's handler threads share.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    /// The count before this call.
    func next() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n - 1 }
}
