import EzflowAgents
import EzflowCompiler
import EzflowIR
import EzflowRuntime
import Foundation
import Glibc
import XCTest

final class ExecDriverTests: XCTestCase {
    func testSuccessWithJSONOutputs() async {
        let d = driver([irTask("build", [text(#"printf '{"image": "app:%s", "n": 3}' "$COMMIT""#)],
                               env: [("COMMIT", inputRef("commit"))])])
        let r = await runTask(d, values: RenderValues(inputs: ["commit": .string("abc123")]))
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["image"], .string("app:abc123"))
        XCTAssertEqual(r.out["n"], .int(3))
        XCTAssertEqual(r.out["exit_code"], .int(0))
        XCTAssertEqual(r.exitCode, 0)
        if case .taskSucceeded(let t, let a, let o, _, _, let at) = r.event(task: 0, attempt: 1, atMs: 42) {
            XCTAssertEqual([t, a], [0, 1])
            XCTAssertEqual(o["image"], .string("app:abc123"))
            XCTAssertEqual(at, 42)
        } else { XCTFail("expected taskSucceeded") }
    }

    func testNonJSONStdoutGivesImplicitOutputs() async {
        let d = driver([irTask("hello", [text("echo hello; echo world")])])
        let r = await runTask(d)
        XCTAssertEqual(r.out, .object([("stdout", .string("hello\nworld")), ("exit_code", .int(0))]))
    }

    func testExit75IsTransient() async {
        let d = driver([irTask("t", [text("echo try later >&2; exit 75")])])
        let r = await runTask(d)
        XCTAssertEqual(r.errorClass, "transient")
        XCTAssertTrue(r.message.contains("try later"), r.message)
        if case .taskFailed(_, _, let c, _, _, _, _, _) = r.event(task: 0, attempt: 1, atMs: 0) { XCTAssertEqual(c, "transient") }
        else { XCTFail("expected taskFailed") }
    }

    func testExplicitErrorClass() async {
        let d = driver([irTask("t", [text(#"echo '{"error": {"class": "flaky_test", "message": "test 7 flaked"}}'; exit 1"#)])])
        let r = await runTask(d)
        XCTAssertEqual(r.errorClass, "flaky_test")
        XCTAssertTrue(r.message.contains("test 7 flaked"), r.message)
        // Also when the exit code is 0.
        let d2 = driver([irTask("t", [text(#"echo '{"error": {"class": "bad_input", "message": "no"}}'"#)])])
        let r2 = await runTask(d2)
        XCTAssertEqual(r2.errorClass, "bad_input")
    }

    /// A reported class is a name a retry rule can match, or `agent_error` (a space or a
    /// newline in it would break every line-based listing); a message is cut at 4,000.
    func testAReportedClassMustBeANameAndAMessageIsCut() async {
        let d = driver([irTask("t", [text(#"printf '{"error": {"class": "my class;x", "message": "%05000d"}}' 7"#)])])
        let r = await runTask(d)
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertTrue(r.message.hasSuffix("… (1000 more characters) (the reported error class is not a name: letters, digits, _ . -)"),
                      String(r.message.suffix(200)))
        XCTAssertTrue(r.message.hasPrefix("task `t`: " + String(repeating: "0", count: 4_000) + "… (1000 more characters)"), String(r.message.prefix(100)))
        XCTAssertEqual(ErrorClass.reported("Rate_limited.v2-x", "m").cls, "Rate_limited.v2-x")
        XCTAssertEqual(ErrorClass.reported(String(repeating: "a", count: 65), "m").cls, "agent_error")
    }

    func testOtherNonZeroIsAgentError() async {
        let d = driver([irTask("t", [text("echo something broke >&2; exit 3")])])
        let r = await runTask(d)
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertEqual(r.exitCode, 3)
        XCTAssertTrue(r.message.contains("exit code 3") && r.message.contains("something broke"), r.message)
        XCTAssertEqual(r.stderr, "something broke\n")
    }

    func testTimeoutKillsWholeProcessGroup() async throws {
        // The grandchild holds stdout open: the driver must not wait for EOF forever.
        let d = driver([irTask("slow", [text("sleep 30 & echo $!; wait")], timeoutMs: 400)])
        let t0 = Date()
        let r = await runTask(d)
        let elapsed = Date().timeIntervalSince(t0)
        XCTAssertEqual(r.errorClass, "timeout", r.message)
        XCTAssertLessThan(elapsed, 5)
        let grandchild = try XCTUnwrap(Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "stdout: \(r.stdout)")
        usleep(50_000)
        XCTAssertTrue(processGone(grandchild), "grandchild \(grandchild) still running")
        XCTAssertTrue(processGone(try XCTUnwrap(r.pid)))
    }

    func testTimeoutEscalatesToSIGKILL() async throws {
        // TERM is ignored by the shell and (inherited) by its background child.
        let d = driver([irTask("stubborn", [text("trap '' TERM; sleep 30 & echo $!; wait; wait")], timeoutMs: 300)],
                       options: ExecOptions(killGraceMs: 300))
        let t0 = Date()
        let r = await runTask(d)
        XCTAssertEqual(r.errorClass, "timeout")
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5)
        let grandchild = try XCTUnwrap(Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "stdout: \(r.stdout)")
        usleep(50_000)
        XCTAssertTrue(processGone(grandchild), "grandchild \(grandchild) survived SIGKILL")
    }

    func testEnvironmentIsMinimal() async {
        setenv("EZFLOW_AGENTS_TEST_LEAK", "leaky-value", 1)
        defer { unsetenv("EZFLOW_AGENTS_TEST_LEAK") }
        let d = driver([irTask("envdump", [text("env")], env: [("GREETING", .object([("template", .array([text("hi "), inputRef("who")]))]))])])
        let r = await d.run(task: 0, attempt: 2, agent: -1, idempotencyKey: "run7/envdump", runID: "run7",
                            values: RenderValues(inputs: ["who": .string("bob")]))
        XCTAssertNil(r.errorClass, r.message)
        var env: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        XCTAssertNil(env["EZFLOW_AGENTS_TEST_LEAK"])
        XCTAssertFalse(r.stdout.contains("leaky-value"))
        XCTAssertEqual(env["EZFLOW_IDEMPOTENCY_KEY"], "run7/envdump")
        XCTAssertEqual(env["EZFLOW_ATTEMPT"], "2")
        XCTAssertEqual(env["EZFLOW_RUN_ID"], "run7")
        XCTAssertEqual(env["EZFLOW_TASK"], "envdump")
        XCTAssertEqual(env["GREETING"], "hi bob")
        XCTAssertNotNil(env["PATH"])
        let allowed: Set = ["PATH", "HOME", "LANG", "GREETING", "EZFLOW_IDEMPOTENCY_KEY", "EZFLOW_ATTEMPT", "EZFLOW_RUN_ID",
                            "EZFLOW_TASK", "PWD", "SHLVL", "_", "OLDPWD"]
        XCTAssertEqual(Set(env.keys).subtracting(allowed), [])
    }

    func testStdinCarriesTaskJSON() async {
        let d = driver([irTask("first", [text("true")]), irTask("reader", [text("cat")], deps: [0])])
        let values = RenderValues(inputs: ["x": .string("y")], taskOutputs: [0: .object([("a", .int(1))])])
        let r = await d.run(task: 1, attempt: 3, agent: -1, idempotencyKey: "r/reader", runID: "r", values: values)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["task"], .string("reader"))
        XCTAssertEqual(r.out["task_id"], .int(1))
        XCTAssertEqual(r.out["attempt"], .int(3))
        XCTAssertEqual(r.out["idempotency_key"], .string("r/reader"))
        XCTAssertEqual(r.out["run_id"], .string("r"))
        XCTAssertEqual(r.out["inputs"], .object([("x", .string("y"))]))
        XCTAssertEqual(r.out["deps"], .object([("first", .object([("a", .int(1))]))]))
    }

    func testLargeOutputDoesNotDeadlockAndIsCapped() async {
        // 10 MB on stdout and 10 MB on stderr at the same time; 1 MB kept of each.
        var o = ExecOptions(killGraceMs: 300)
        o.stdoutLimit = 1 << 20
        o.stderrLimit = 1 << 20
        let d = driver([irTask("big", [text("head -c 10485760 /dev/zero | tr '\\0' a >&2 & head -c 10485760 /dev/zero | tr '\\0' b; wait")],
                               timeoutMs: 15_000)], options: o)
        let r = await runTask(d)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertTrue(r.stdoutTruncated)
        XCTAssertTrue(r.stderrTruncated)
        XCTAssertEqual(r.stdout.utf8.count, 1 << 20)
        XCTAssertEqual(r.stderr.utf8.count, 1 << 20)
        guard case .string(let s)? = r.out["stdout"] else { return XCTFail("no stdout output") }
        XCTAssertEqual(s.utf8.count, 1 << 20)
    }

    func testLargeStdinAndStdoutThroughCat() throws {
        // 10 MB in and out concurrently: a writer that waited for all input to be consumed
        // before reading would deadlock on the 64 KB pipe buffers.
        var input = [UInt8](repeating: 0, count: 10 << 20)
        input.withUnsafeMutableBufferPointer { b in for i in 0..<b.count { b[i] = UInt8(truncatingIfNeeded: i &* 31) } }
        let r = try Subprocess.runBlocking(SpawnRequest(executable: "/bin/cat", arguments: ["cat"], stdin: input,
                                                        timeoutMs: 15_000, stdoutLimit: 16 << 20))
        XCTAssertEqual(r.termination, .exited(0))
        XCTAssertEqual(r.stdoutTotal, input.count)
        XCTAssertTrue(r.stdout == input)
    }

    func testCancelStopsTheGroup() async throws {
        let token = CancelToken()
        let d = driver([irTask("long", [text("sleep 30 & echo $!; wait")])])
        Task {
            try? await Task.sleep(nanoseconds: 300_000_000)
            token.cancel()
        }
        let t0 = Date()
        let r = await d.run(task: 0, attempt: 1, agent: -1, idempotencyKey: "k", runID: "r", values: RenderValues(), cancel: token)
        XCTAssertEqual(r.errorClass, "cancelled")
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5)
        let grandchild = try XCTUnwrap(Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        usleep(50_000)
        XCTAssertTrue(processGone(grandchild))
    }

    func testMissingReferenceIsAnError() async {
        let d = driver([irTask("t", [text("echo "), inputRef("nope")])])
        let r = await runTask(d)
        XCTAssertEqual(r.errorClass, "render_error")
        XCTAssertTrue(r.message.contains("input `nope` has no value"), r.message)
        let d2 = driver([irTask("t", [text("echo "), outputRef(5, "x")])])
        let r2 = await runTask(d2)
        XCTAssertEqual(r2.errorClass, "render_error")
    }

    func testAgentCostIsCharged() async {
        let agents: [JSONValue] = [.object([("name", .string("runner")), ("command", .null), ("cost_per_call_micros", .int(100)),
                                            ("cost_per_second_micros", .int(1000))])]
        let resolver = SecretResolver(specs: [], config: SecretConfig(environment: [:]), redactor: Redactor())
        let d = ExecDriver(workflow: workflow(tasks: [irTask("t", [text("sleep 0.1")])], agents: agents), secrets: resolver)
        let r = await d.run(task: 0, attempt: 1, agent: 0, idempotencyKey: "k", runID: "r", values: RenderValues())
        XCTAssertNil(r.errorClass)
        XCTAssertGreaterThanOrEqual(r.costMicros, 200)  // 100 + ≥100 ms × 1000 µ$/s
        XCTAssertLessThan(r.costMicros, 2100)
    }

    func testPromptOnExecAgentRunsAgentCommand() async {
        let agents: [JSONValue] = [.object([("name", .string("bot")), ("command", .string("cat")), ("cost_per_call_micros", .int(0)),
                                            ("cost_per_second_micros", .int(0))])]
        let resolver = SecretResolver(specs: [], config: SecretConfig(environment: [:]), redactor: Redactor())
        let t = irTask("ask", [text("Summarize "), inputRef("doc")], action: "prompt")
        let d = ExecDriver(workflow: workflow(tasks: [t], agents: agents), secrets: resolver)
        let r = await d.run(task: 0, attempt: 1, agent: 0, idempotencyKey: "k", runID: "r",
                            values: RenderValues(inputs: ["doc": .string("README")]))
        XCTAssertEqual(r.out["text"], .string("Summarize README"))
    }

    /// Spawn throughput (printed, not asserted): N=500 `/bin/true`, sequential and 4 at a time.
    func testSpawnThroughput() async throws {
        let n = 500
        let req = SpawnRequest(executable: "/bin/true", arguments: ["true"], environment: ["PATH": "/usr/bin:/bin"])
        var t0 = Date()
        for _ in 0..<n { _ = try Subprocess.runBlocking(req) }
        let seq = Double(n) / Date().timeIntervalSince(t0)
        t0 = Date()
        for _ in 0..<(n / 4) {
            try await withThrowingTaskGroup(of: SpawnResult.self) { g in
                for _ in 0..<4 { g.addTask { try await Subprocess.run(req) } }
                for try await r in g { XCTAssertEqual(r.termination, .exited(0)) }
            }
        }
        let par = Double(n) / Date().timeIntervalSince(t0)
        // A full driver round trip (render, env, stdin JSON, /bin/sh -c true, interpret).
        let d = driver([irTask("t", [text("true")])])
        t0 = Date()
        for _ in 0..<(n / 5) { _ = await runTask(d) }
        let drv = Double(n / 5) / Date().timeIntervalSince(t0)
        print(String(format: "spawn throughput: /bin/true sequential %.0f/s, async x4 %.0f/s; ExecDriver sh -c true %.0f/s", seq, par, drv))
    }
}
