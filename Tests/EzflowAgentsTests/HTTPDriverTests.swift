import EzflowAgents
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

final class HTTPDriverTests: XCTestCase {
    /// A workflow with one `call` task on an http agent whose base is `base`.
    func program(base: String, call: String = "hooks/released?tag=${inputs.tag}", timeout: String = "2s") throws -> IRProgram {
        try buildProgram("""
            secret hook_token {
              provider: env
              key: "HOOK_TOKEN"
            }
            agent hook {
              driver: http
              capabilities: ["http"]
              url: "\(base)/api"
              cost_per_call: $0.002
            }
            agent shell {
              driver: exec
              capabilities: ["shell"]
            }
            role caller {
              allow: [run]
              agents: [hook, shell]
              secrets: [hook_token]
            }
            workflow notify_release {
              input tag: string = "v1"
              task prepare {
                role: caller
                agent: shell
                run: "echo ${inputs.tag}"
              }
              task notify {
                role: caller
                agent: hook
                after: [prepare]
                secrets: [hook_token]
                call: "\(call)"
                timeout: \(timeout)
                output accepted: bool?
              }
            }
            """)
    }

    func driver(_ p: IRProgram, env: [String: String] = ["HOOK_TOKEN": "hk-very-secret-42"]) -> HTTPDriver {
        let resolver = SecretResolver(specs: SecretSpec.fromIR(p.document), config: SecretConfig(environment: env), redactor: Redactor())
        return HTTPDriver(program: p, secrets: resolver)
    }

    func call(_ d: HTTPDriver, _ p: IRProgram, attempt: Int = 1, cancel: CancelToken? = nil,
              outputs: [Int: JSONValue] = [:]) async -> DriverResult {
        let t = taskIndex(p, "notify")
        return await d.run(task: t, attempt: attempt, agent: agentIndex(p, "hook"), idempotencyKey: "run9/notify",
                           runID: "run9", values: RenderValues(inputs: ["tag": .string("v2.1")], taskOutputs: outputs), cancel: cancel)
    }

    func testSuccessWithOutputsAndHeaders() async throws {
        let server = try LoopbackServer { _ in .json(200, #"{"accepted": true, "id": 17, "status": "queued"}"#) }
        defer { server.stop() }
        let p = try program(base: server.base)
        let d = driver(p)
        let r = await call(d, p, attempt: 2, outputs: [taskIndex(p, "prepare"): .object([("stdout", .string("")), ("exit_code", .int(0))])])
        // A body above libcurl's 1 KiB `Expect: 100-continue` threshold must not stall.
        let t0 = Date()
        let big = await call(d, p, outputs: [taskIndex(p, "prepare"): .object([("stdout", .string(String(repeating: "z", count: 100_000)))])])
        XCTAssertNil(big.errorClass, big.message)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 0.5)
        XCTAssertNil(server.requests.last?.headers["expect"])
        guard case .string(let echoed)? = server.requests.last?.json?["deps"]?["prepare"]?["stdout"] else { return XCTFail("no deps") }
        XCTAssertEqual(echoed.count, 100_000)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out, .object([
            ("accepted", .bool(true)), ("id", .int(17)), ("status", .int(200)),
            ("body", .object([("accepted", .bool(true)), ("id", .int(17)), ("status", .string("queued"))])),
        ]))
        XCTAssertEqual(r.costMicros, 2000)
        XCTAssertEqual(r.tokens, 0)
        let reqs = server.requests
        XCTAssertEqual(reqs.count, 2)
        let q = reqs[0]
        XCTAssertEqual(q.method, "POST")
        XCTAssertEqual(q.target, "/api/hooks/released?tag=v2.1")
        XCTAssertEqual(q.headers["idempotency-key"], "run9/notify")
        XCTAssertEqual(q.headers["content-type"], "application/json")
        XCTAssertEqual(q.headers["x-ezflow-run-id"], "run9")
        XCTAssertEqual(q.headers["x-ezflow-task"], "notify")
        XCTAssertEqual(q.headers["x-ezflow-attempt"], "2")
        XCTAssertNil(q.headers["authorization"])
        XCTAssertNil(q.headers["expect"], "\(q.headers)")
        // The body is the exec driver's stdin document, canonical.
        XCTAssertEqual(String(decoding: q.body, as: UTF8.self),
                       #"{"attempt":2,"deps":{"prepare":{"exit_code":0,"stdout":""}},"idempotency_key":"run9/notify","inputs":{"tag":"v2.1"},"item":null,"run_id":"run9","task":"notify","task_id":1,"text":"hooks/released?tag=v2.1"}"#)
        XCTAssertEqual(r.event(task: 1, attempt: 2, atMs: 5), .taskSucceeded(task: 1, attempt: 2, outputs: r.out, costMicros: 2000, tokens: 0, atMs: 5))
    }

    func testFullURLAndNonJSONBody() async throws {
        let server = try LoopbackServer { _ in CannedResponse(status: 202, body: Array("queued\n".utf8), headers: [("Content-Type", "text/plain")]) }
        defer { server.stop() }
        let p = try program(base: "http://127.0.0.1:1", call: "\(server.base)/direct")
        let r = await call(driver(p), p)
        XCTAssertNil(r.errorClass, r.message)
        // `accepted` is optional: a body without it reads as null (OutputContract).
        XCTAssertEqual(r.out, .object([("accepted", .null), ("status", .int(202)), ("body", .string("queued\n"))]))
        XCTAssertEqual(server.requests.map(\.target), ["/direct"])
    }

    func testTimeout() async throws {
        let server = try LoopbackServer { _ in .json(200, "{}", delayMs: 3000) }
        defer { server.stop() }
        let p = try program(base: server.base, timeout: "300ms")
        let t0 = Date()
        let r = await call(driver(p), p)
        let elapsed = Date().timeIntervalSince(t0)
        XCTAssertEqual(r.errorClass, "timeout", r.message)
        XCTAssertEqual(r.message, "task `notify`: timed out after 300 ms")
        XCTAssertGreaterThanOrEqual(elapsed, 0.29)
        XCTAssertLessThan(elapsed, 1.5)
        XCTAssertEqual(server.requests.first?.headers["idempotency-key"], "run9/notify")
        XCTAssertEqual(r.costMicros, 2000)
    }

    func testCancel() async throws {
        let server = try LoopbackServer { _ in .json(200, "{}", delayMs: 3000) }
        defer { server.stop() }
        let p = try program(base: server.base)
        let token = CancelToken()
        Task {
            try? await Task.sleep(nanoseconds: 200_000_000)
            token.cancel()
        }
        let t0 = Date()
        let r = await call(driver(p), p, cancel: token)
        XCTAssertEqual(r.errorClass, "cancelled", r.message)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.5)
    }

    func testStatusMapping() async throws {
        let server = try LoopbackServer { req in
            switch req.target {
            case "/api/s503": CannedResponse(status: 503, body: Array("overloaded".utf8), headers: [("Retry-After", "3")])
            case "/api/s429": .json(429, #"{"message": "slow down"}"#)
            case "/api/s500": .json(500, #"{"trace": "NullPointerException at Handler.java:42"}"#)
            case "/api/s404": .json(404, "not here")
            case "/api/classed": .json(200, #"{"error": {"class": "bad_input", "message": "tag v2.1 unknown"}}"#)
            case "/api/classed500": .json(500, #"{"error": {"class": "quota", "message": "over quota"}}"#)
            case "/api/unclassed": .json(200, #"{"error": {"message": "nope"}}"#)
            case "/api/unclassed503": .json(503, #"{"error": {"message": "draining"}}"#)
            default: .json(200, #"{"error": null, "ok": true}"#)
            }
        }
        defer { server.stop() }
        func run(_ path: String) async throws -> DriverResult {
            let p = try program(base: server.base, call: path)
            return await call(driver(p), p)
        }
        var r = try await run("s503")
        XCTAssertEqual(r.errorClass, "transient")
        XCTAssertEqual(r.message, "task `notify`: HTTP 503 (retry after 3): overloaded")
        r = try await run("s429")
        XCTAssertEqual(r.errorClass, "transient")
        XCTAssertEqual(r.message, #"task `notify`: HTTP 429: {"message": "slow down"}"#)
        r = try await run("s500")
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertEqual(r.message, #"task `notify`: HTTP 500: {"trace": "NullPointerException at Handler.java:42"}"#)
        XCTAssertEqual(r.costMicros, 2000)
        r = try await run("s404")
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertEqual(r.message, "task `notify`: HTTP 404: not here")
        r = try await run("classed")
        XCTAssertEqual(r.errorClass, "bad_input")
        XCTAssertEqual(r.message, "task `notify`: tag v2.1 unknown")
        r = try await run("classed500")
        XCTAssertEqual(r.errorClass, "quota")
        XCTAssertEqual(r.message, "task `notify`: over quota")
        r = try await run("unclassed")
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertEqual(r.message, "task `notify`: nope")
        r = try await run("unclassed503")
        XCTAssertEqual(r.errorClass, "transient")
        XCTAssertEqual(r.message, #"task `notify`: HTTP 503: {"error": {"message": "draining"}}"#)
        r = try await run("fine")
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["ok"], .bool(true))
    }

    func testLongErrorBodyIsExcerpted() async throws {
        let server = try LoopbackServer { _ in .json(500, String(repeating: "x", count: 5000) + "\n\u{1B}[31m") }
        defer { server.stop() }
        let p = try program(base: server.base)
        let r = await call(driver(p), p)
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertEqual(r.message, "task `notify`: HTTP 500: " + String(repeating: "x", count: 200) + "…")
    }

    func testConnectionRefusedIsTransient() async throws {
        let p = try program(base: "http://127.0.0.1:\(closedPort())")
        let t0 = Date()
        let r = await call(driver(p), p)
        XCTAssertEqual(r.errorClass, "transient", r.message)
        XCTAssertTrue(r.message.hasPrefix("task `notify`: cannot connect: "), r.message)
        XCTAssertEqual(r.costMicros, 0)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2)
    }

    /// A secret in the URL that the server echoes comes back raw (the journal writer
    /// redacts it), and the value is registered with the run's redactor.
    func testSecretsInURLAndEchoesComeBackRawAndRegistered() async throws {
        // The server echoes everything it got, including the token in the query.
        let server = try LoopbackServer { req in
            .json(400, "bad request " + req.target + " " + String(decoding: req.body, as: UTF8.self))
        }
        defer { server.stop() }
        let p = try program(base: server.base, call: "hooks?token=${secrets.hook_token}")
        let d = driver(p)
        let r = await call(d, p)
        XCTAssertEqual(server.requests.first?.target, "/api/hooks?token=hk-very-secret-42")
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertTrue(r.message.hasPrefix("task `notify`: HTTP 400: bad request /api/hooks?token=hk-very-secret-42 "), r.message)
        XCTAssertTrue(r.stdout.hasPrefix("bad request /api/hooks?token=hk-very-secret-42 "), r.stdout)
        let redactor = d.redactor
        XCTAssertTrue(redactor.redact(r.message).hasPrefix("task `notify`: HTTP 400: bad request /api/hooks?token=[REDACTED:hook_token] "))
        XCTAssertFalse(redactor.redact(r.stdout).contains("hk-very-secret-42"))

        let echo = try LoopbackServer { req in .json(200, #"{"seen": "\#(req.target)"}"#) }
        defer { echo.stop() }
        let p2 = try program(base: echo.base, call: "hooks?token=${secrets.hook_token}")
        let d2 = driver(p2)
        let r2 = await call(d2, p2)
        XCTAssertEqual(r2.out["seen"], .string("/api/hooks?token=hk-very-secret-42"))
        XCTAssertEqual(r2.out["body"], .object([("seen", .string("/api/hooks?token=hk-very-secret-42"))]))
        let redacted = d2.redactor.redact(r2.out)
        XCTAssertEqual(redacted["body"], .object([("seen", .string("/api/hooks?token=[REDACTED:hook_token]"))]))
    }

    func testConfigErrors() async throws {
        let p = try program(base: "http://127.0.0.1:1")
        // Not granted: the role lists the secret, but a resolver without the variable fails.
        let d = driver(p, env: [:])
        let r = await call(d, p)
        XCTAssertEqual(r.errorClass, "secret_error")
        XCTAssertEqual(r.message, "task `notify`: secret `hook_token`: environment variable HOOK_TOKEN is not set")
        // A host outside the allowed set.
        let resolver = SecretResolver(specs: SecretSpec.fromIR(p.document), config: SecretConfig(environment: ["HOOK_TOKEN": "x"]),
                                      redactor: Redactor())
        let limited = HTTPDriver(program: p, secrets: resolver, options: HTTPOptions(allowedHosts: ["localhost"]))
        let r2 = await call(limited, p)
        XCTAssertEqual(r2.errorClass, "config_error")
        XCTAssertEqual(r2.message, "task `notify`: host `127.0.0.1` is not in the allowed hosts")
        // A `run` task is not the http driver's.
        let r3 = await limited.run(task: taskIndex(p, "prepare"), attempt: 1, agent: -1, idempotencyKey: "k", runID: "r",
                                   values: RenderValues())
        XCTAssertEqual(r3.errorClass, "config_error")
        XCTAssertEqual(r3.message, "task `prepare`: the http driver runs `call` tasks, not `run`")
        // A relative path without an agent.
        let r4 = await limited.run(task: taskIndex(p, "notify"), attempt: 1, agent: -1, idempotencyKey: "k", runID: "r",
                                   values: RenderValues(inputs: ["tag": .string("a")]))
        XCTAssertEqual(r4.errorClass, "config_error")
        XCTAssertEqual(r4.message, "task `notify`: `hooks/released?tag=a` is not a full URL and the agent has no `url`")
    }

    /// Round trips per second through the driver (printed, not asserted).
    func testThroughput() async throws {
        let server = try LoopbackServer { _ in .json(200, #"{"accepted": true}"#) }
        defer { server.stop() }
        let p = try program(base: server.base)
        let d = driver(p)
        let n = 100
        let t0 = Date()
        for _ in 0..<n {
            let r = await call(d, p)
            XCTAssertNil(r.errorClass, r.message)
        }
        print(String(format: "http driver: %.0f sequential POSTs/s (URLSession, loopback)", Double(n) / Date().timeIntervalSince(t0)))
    }
}
