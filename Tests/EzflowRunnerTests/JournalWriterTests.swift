// One redacting journal writer: a secret planted in every event field that can carry text
// from outside (task outputs, failure class and message, approval principal and refusal,
// cancellation reason) and in the attempt logs is found nowhere in the store. The drivers
// hand raw results, so the end-to-end test runs real ones (exec, http, llm) on SQLite.
import EzflowAgents
import EzflowCompiler
import EzflowIR
import EzflowPorts
@testable import EzflowRunner
import EzflowRuntime
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

/// Finishes every attempt at once with a scripted outcome.
final class ScriptedExecutor: AttemptExecutor {
    let outcome: (WorkItem) -> (WorkOutcome, AttemptLogRow?)
    init(_ outcome: @escaping (WorkItem) -> (WorkOutcome, AttemptLogRow?)) { self.outcome = outcome }
    func start(_ items: [WorkItem], runner: Runner) throws(StoreError) {
        for l in try runner.ports.queue.claim(owner: "w", max: items.count, nowMs: 0, leaseMs: 1_000_000) {
            let (o, log) = outcome(l.item)
            _ = try runner.ports.queue.complete(WorkCompletion(item: l.item, owner: "w", outcome: o, log: log), nowMs: 0)
        }
    }
    func cancel(task: Int, attempt: Int) {}
}

final class JournalWriterTests: XCTestCase {
    func testNoSecretReachesTheStore() throws {
        let source = """
            agent sh { driver: exec, capabilities: ["shell"] }
            workflow w {
              task a {
                run: "true"
                output x: string
              }
              task b { run: "true" }
            }
            """
        let built = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source])
        let bytes = try XCTUnwrap(built.ir, "\(built.check.diagnostics.map(\.message))")
        let program = try validate(bytes)
        let secret = "s3cr3t-VALUE-0123456789"
        let store = MemoryStore(), clock = ManualClock(startMs: 1_000)
        let ports = RunPorts(store: store, inbox: store, clock: clock, lease: MemoryRunLease(), queue: MemoryWorkQueue(), owner: "t")
        let runner = try Runner.start(program: program, irBytes: bytes, inputs: [:], runID: "r", seed: 1, config: RunConfig(), ports: ports)
        runner.redactor.add(name: "TOKEN", value: secret)
        runner.executor = ScriptedExecutor { item in
            let log = AttemptLogRow(task: item.task, attempt: item.attempt, seq: -1, agent: item.agent, exitCode: 1, durationMs: 1,
                                    stdout: "out \(secret)", stderr: "err \(secret)")
            let o: WorkOutcome = item.task == 0
                ? .succeeded(outputs: .object([("x", .string("v=\(secret)")), ("\(secret)", .string("key"))]), costMicros: 0, tokens: 0)
                : .failed(errorClass: "class-\(secret)", message: "message \(secret)", costMicros: 0, tokens: 0)
            return (o, log)
        }
        _ = try store.post(InboxItem(runID: "r", kind: .approval, task: "a", principal: "p-\(secret)", approved: true,
                                     refusal: "refused \(secret)", comment: "", createdMs: 1))
        var turns = 0
        while true {
            if turns == 1 {
                _ = try store.post(InboxItem(runID: "r", kind: .cancel, task: nil, principal: "q-\(secret)", approved: false, refusal: nil,
                                             comment: "because \(secret)", createdMs: 2))
            }
            turns += 1
            if case .stopped = try runner.turn() { break }
            XCTAssertLessThan(turns, 20)
        }
        let journal = try store.journal(run: "r", from: 0)
        let kinds = Set(journal.map(\.event.typeName))
        for k in ["task_succeeded", "task_failed", "approval_refused"] { XCTAssertTrue(kinds.contains(k), "\(k) in \(kinds)") }
        let text = String(decoding: Journal.encode(journal), as: UTF8.self)
        XCTAssertFalse(text.contains(secret), text)
        XCTAssertTrue(text.contains("[REDACTED:TOKEN]"), text)
        let logs = try store.logs(run: "r", task: nil)
        XCTAssertEqual(logs.count, 2)
        XCTAssertFalse(logs.contains { $0.stdout.contains(secret) || $0.stderr.contains(secret) })
        // The state the run went on with is the redacted one too (a resume renders the same).
        XCTAssertFalse("\(runner.run.state.taskOutputs)".contains(secret))
    }

    /// Real drivers, a real `Runner`, a real SQLite file: secrets the tasks and services
    /// echo (stdout JSON, one split by a `\u0041` escape, a numeric one, a member name,
    /// stderr, an exit message, a reported error class and message, http and llm bodies
    /// in outputs, messages and logs) are in no byte of the database or its WAL.
    func testRawDriverResultsNeverReachTheSQLiteStore() throws {
        let tok = "tk-9Aw2-hush-0451", pin = "73914582", key = "sk-e2e-Zq81xPwLm3"
        let server = try LoopbackServer { req in
            if req.target.hasPrefix("/api/ok") { return .json(200, #"{"seen": "\#(req.target)", "echo": "\#(tok)"}"#) }
            // The excerpt in the message is cut 8 bytes into the secret.
            if req.target.hasPrefix("/api/err") { return .json(400, String(repeating: "d", count: 192) + tok) }
            let auth = req.headers["authorization"] ?? ""
            if req.json?["model"] == .string("fail") { return .json(400, #"{"error": {"message": "bad header \#(auth)"}}"#) }
            let content = String(decoding: CanonicalJSON.encode(.string(#"{"verdict": "leak \#(auth)"}"#)), as: UTF8.self)
            return .json(200, #"{"choices": [{"message": {"role": "assistant", "content": \#(content)}}], "usage": {"total_tokens": 3}}"#)
        }
        defer { server.stop() }
        let dir = tempDir("rawdrivers")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        write(#"""
            S="$EZFLOW_SECRET_TOK"
            printf '{"plain": "v=%s", "split": "%s\\u0041%s", "%s": "as a key", "pin": %s}\n' "$S" "${S%%A*}" "${S#*A}" "$S" "$EZFLOW_SECRET_PIN"
            echo "stderr says $S" >&2
            """#, to: dir + "/out.sh")
        // The stderr tail in the message keeps the last 500 characters: 9 of the secret.
        write(#"printf 'xxx%s%0491d\n' "$EZFLOW_SECRET_TOK" 0 >&2; exit 3"#, to: dir + "/fail.sh")
        write(#"printf '{"error": {"class": "auth-%s", "message": "bad key %s"}}' "$EZFLOW_SECRET_TOK" "$EZFLOW_SECRET_TOK""#,
              to: dir + "/report.sh")
        func shell(_ name: String, _ script: String) -> String {
            "task \(name) {\n role: all\n agent: shell\n secrets: [tok, pin]\n run: \"sh \(dir)/\(script)\"\n}"
        }
        let source = """
            secret tok { provider: env
              key: "TOK" }
            secret pin { provider: env
              key: "PIN" }
            secret llm_key { provider: env
              key: "LLM_KEY" }
            agent shell { driver: exec
              capabilities: ["shell"] }
            agent hook { driver: http
              capabilities: ["http"]
              url: "\(server.base)/api" }
            agent model { driver: llm
              capabilities: ["llm"]
              model: "gpt-test"
              url: "\(server.base)/v1"
              api_key: llm_key }
            role all { allow: [run]
              agents: [shell, hook, model]
              secrets: [tok, pin, llm_key] }
            workflow leak {
              \(shell("out", "out.sh"))
              \(shell("fails", "fail.sh"))
              \(shell("reports", "report.sh"))
              task hook_ok { role: all
                agent: hook
                secrets: [tok]
                call: "ok?token=${secrets.tok}" }
              task hook_err { role: all
                agent: hook
                secrets: [tok]
                call: "err?token=${secrets.tok}" }
              task ask { role: all
                agent: model
                secrets: [llm_key]
                prompt: "hello" }
              task ask_err { role: all
                agent: model
                secrets: [llm_key]
                model: "fail"
                prompt: "hello" }
            }
            """
        let built = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source])
        let bytes = try XCTUnwrap(built.ir, "\(built.failure ?? "") \(built.check.diagnostics.map(\.message))")
        let program = try validate(bytes)
        var config = RunConfig()
        config.storePath = dir + "/ezflow.db"
        config.secrets = SecretConfig(environment: ["TOK": tok, "PIN": pin, "LLM_KEY": key])
        let runner = try Runner.start(program: program, irBytes: bytes, inputs: [:], runID: "leak", seed: 1, config: config)
        let outcome = try runner.execute()
        runner.releaseLease()

        // Every task ran to an outcome that carried the secrets in (checked raw, then gone).
        let store = try DurableStore(path: config.storePath)
        let journal = try store.journal(run: "leak", from: 0)
        var finished: [String: String] = [:], messages: [String: String] = [:]
        for r in journal {
            switch r.event {
            case .taskSucceeded(let t, _, _, _, _, _): finished[runner.plan.taskNames[t]] = "ok"
            case .taskFailed(let t, _, let cls, let m, _, _, _, _):
                finished[runner.plan.taskNames[t]] = cls
                messages[runner.plan.taskNames[t]] = m
            default: break
            }
        }
        XCTAssertEqual(finished, ["out": "ok", "fails": "agent_error", "reports": "auth-[REDACTED:tok]", "hook_ok": "ok",
                                  "hook_err": "agent_error", "ask": "ok", "ask_err": "agent_error"], "\(outcome.verdict)")
        // A secret cut by a driver (stderr tail, body excerpt) leaves no part behind.
        XCTAssertEqual(messages["fails"], "task `fails`: exit code 3: …[REDACTED:tok]" + String(repeating: "0", count: 491))
        XCTAssertEqual(messages["hook_err"], "task `hook_err`: HTTP 400: " + String(repeating: "d", count: 192) + "[REDACTED:tok]…")
        XCTAssertEqual(messages["reports"], "task `reports`: bad key [REDACTED:tok]")
        XCTAssertEqual(messages["ask_err"], "task `ask_err`: HTTP 400: bad header Bearer [REDACTED:llm_key]")
        let out = outcome.state.taskOutputs[runner.plan.taskNames.firstIndex(of: "out")!]
        XCTAssertEqual(out?["split"], .string("[REDACTED:tok]"))
        XCTAssertEqual(out?["pin"], .string("[REDACTED:pin]"))
        XCTAssertEqual(server.requests.filter { $0.headers["authorization"] == "Bearer " + key }.count, 2)
        let logs = try store.logs(run: "leak", task: nil)
        XCTAssertEqual(logs.count, 7)
        // The stdout that hid the secret behind `\u0041` is stored re-encoded, redacted.
        let outLog = logs.first { $0.task == runner.plan.taskNames.firstIndex(of: "out") }
        XCTAssertEqual(outLog?.stderr, "stderr says [REDACTED:tok]\n")
        XCTAssertTrue(outLog?.stdout.contains(#""split":"[REDACTED:tok]""#) ?? false, outLog?.stdout ?? "")
        store.close()

        // The whole file and its WAL, byte for byte: journal, logs, attempts, run data, audit.
        var raw: [UInt8] = []
        for suffix in ["", "-wal", "-journal"] {
            if let d = FileManager.default.contents(atPath: config.storePath + suffix) { raw += d }
        }
        XCTAssertGreaterThan(raw.count, 4096)
        for secret in [tok, pin, key, "tk-9Aw2-", "hush-0451"] {
            let at = raw.firstRange(of: Array(secret.utf8))
            XCTAssertNil(at, "`\(secret)` is in the store: " + String(decoding: raw[max(0, (at?.lowerBound ?? 0) - 80)..<min(raw.count, (at?.upperBound ?? 0) + 40)], as: UTF8.self))
        }
        XCTAssertNotNil(raw.firstRange(of: Array("[REDACTED:tok]".utf8)))
        XCTAssertNotNil(raw.firstRange(of: Array("[REDACTED:llm_key]".utf8)))
    }
}
