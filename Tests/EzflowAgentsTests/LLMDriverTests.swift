import EzflowAgents
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

final class LLMDriverTests: XCTestCase {
    static let key = "sk-test-Zq81xPwLm3"

    /// A workflow with one `prompt` task on an llm agent at `base` (…/v1); `extra`: more
    /// lines of the task (declared outputs, `system`, `messages`, …).
    func program(base: String, taskModel: String? = nil, timeout: String = "2s", apiKey: Bool = true, extra: String = "",
                 stream: Bool = false) throws -> IRProgram {
        try buildProgram("""
            secret llm_key {
              provider: env
              key: "LLM_KEY"
            }
            agent reviewer_model {
              driver: llm
              capabilities: ["llm"]
              model: "gpt-test"
              url: "\(base)"
              \(apiKey ? "api_key: llm_key" : "")
              cost_per_call: $0.001
              cost_per_1k_tokens: $0.01
              \(stream ? "stream: true" : "")
            }
            role reviewer {
              allow: [run]
              agents: [reviewer_model]
              secrets: [llm_key]
            }
            workflow review {
              input repo: string = "example/app"
              task review {
                role: reviewer
                agent: reviewer_model
                secrets: [llm_key]
                prompt: "Review ${inputs.repo}. Answer in JSON."
                max_tokens: 800 tokens
                \(taskModel.map { "model: \"\($0)\"" } ?? "")
                timeout: \(timeout)
                \(extra)
              }
            }
            enum Verdict { APPROVE, REQUEST_CHANGES }
            """)
    }

    func driver(_ p: IRProgram, env: [String: String] = ["LLM_KEY": LLMDriverTests.key]) -> LLMDriver {
        let resolver = SecretResolver(specs: SecretSpec.fromIR(p.document), config: SecretConfig(environment: env), redactor: Redactor())
        return LLMDriver(program: p, secrets: resolver)
    }

    /// `cap`: the attempt's token cap as the core hands it over (`RenderValues.tokenCap`);
    /// by default what the core reserves without budgets: the prompt's 62-byte bound plus
    /// its `max_tokens` of 800.
    func ask(_ d: LLMDriver, _ p: IRProgram, cap: Int64? = 862) async -> DriverResult {
        var values = RenderValues(inputs: ["repo": .string("acme/api")])
        values.tokenCap = cap
        return await d.run(task: taskIndex(p, "review"), attempt: 1, agent: agentIndex(p, "reviewer_model"), idempotencyKey: "run3/review",
                           runID: "run3", values: values)
    }

    static func completion(_ content: String, usage: String = #"{"prompt_tokens": 12, "completion_tokens": 345, "total_tokens": 357}"#) -> CannedResponse {
        let c = String(decoding: CanonicalJSON.encode(.string(content)), as: UTF8.self)
        return .json(200, #"{"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": \#(c)}, "finish_reason": "stop"}], "usage": \#(usage)}"#)
    }

    /// Messages as a prompt task's output `messages` holds them: `[role, content]` pairs.
    static func conversation(_ pairs: [String]...) -> JSONValue {
        .array(pairs.map { .object([("content", .string($0[1])), ("role", .string($0[0]))]) })
    }

    func testRequestShapeTokensAndCost() async throws {
        let server = try LoopbackServer { _ in Self.completion(#"{"verdict": "APPROVE", "text": "ignored", "notes": ["tests"]}"#) }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1")
        let r = await ask(driver(p), p)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.tokens, 357)
        // $0.001 + 357 tokens × $0.01 / 1k = 1000 + 3570 µ$.
        XCTAssertEqual(r.costMicros, 4570)
        let answer = #"{"verdict": "APPROVE", "text": "ignored", "notes": ["tests"]}"#
        XCTAssertEqual(r.out, .object([
            ("verdict", .string("APPROVE")), ("notes", .array([.string("tests")])),
            ("messages", Self.conversation(["user", "Review acme/api. Answer in JSON."], ["assistant", answer])),
            ("text", .string(answer)), ("tokens", .int(357)),
        ]))
        let q = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(q.method, "POST")
        XCTAssertEqual(q.target, "/v1/chat/completions")
        XCTAssertEqual(q.headers["authorization"], "Bearer " + Self.key)
        XCTAssertEqual(q.headers["content-type"], "application/json")
        XCTAssertEqual(q.headers["idempotency-key"], "run3/review")
        XCTAssertEqual(String(decoding: q.body, as: UTF8.self),
                       // The task's `max_tokens`: the cap of 862 tokens less the prompt's bound (the 62 bytes of `messages`).
                       #"{"max_tokens":800,"messages":[{"content":"Review acme/api. Answer in JSON.","role":"user"}],"model":"gpt-test"}"#)
        if case .taskSucceeded(_, _, _, let c, let k, _) = r.event(task: 0, attempt: 1, atMs: 0) {
            XCTAssertEqual([c, k], [4570, 357])
        } else { XCTFail("expected taskSucceeded") }
    }

    func testUncappedAttemptSendsNoMaxTokens() async throws {
        let server = try LoopbackServer { _ in Self.completion("fine") }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1")
        let r = await ask(driver(p), p, cap: nil)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertNil(try XCTUnwrap(server.requests.first).json?["max_tokens"])
    }

    /// The prompt's bound (62 bytes) leaves nothing of a 62-token cap: nothing is sent.
    func testPromptLargerThanTheCapIsNotSent() async throws {
        let server = try LoopbackServer { _ in
            Self.completion("y", usage: #"{"prompt_tokens": 62, "completion_tokens": 1, "total_tokens": 63}"#)
        }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1")
        let r = await ask(driver(p), p, cap: 62)
        XCTAssertEqual(r.errorClass, "prompt_too_large")
        XCTAssertEqual(r.message, "task `review`: the prompt may use up to 62 tokens (its 62 bytes), but the attempt's token cap is "
                       + "62 tokens: nothing would be left for the answer; the prompt was not sent")
        XCTAssertEqual(r.tokens, 0)
        XCTAssertTrue(server.requests.isEmpty)
        // One token of answer is the least an attempt is sent with.
        let one = await ask(driver(p), p, cap: 63)
        XCTAssertNil(one.errorClass, one.message)
        XCTAssertEqual(try XCTUnwrap(server.requests.first).json?["max_tokens"], .int(1))
    }

    /// The result of one attempt (cap 862 tokens) against a server reporting `usage`.
    func answered(usage: String) async throws -> DriverResult {
        let server = try LoopbackServer { _ in Self.completion("long", usage: usage) }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1")
        return await ask(driver(p), p)
    }

    /// A server that answers more than it was sent is charged what it reports and fails
    /// `cap_exceeded`: more completion than `max_tokens`, or more in all than the cap.
    func testServerOverTheCapIsChargedAndFails() async throws {
        let r = try await answered(usage: #"{"prompt_tokens": 10, "completion_tokens": 801, "total_tokens": 811}"#)
        XCTAssertEqual(r.errorClass, "cap_exceeded")
        XCTAssertEqual(r.tokens, 811)
        XCTAssertEqual(r.message, "task `review`: agent `reviewer_model` broke the token cap: it reported 811 tokens (801 completion) "
                       + "for a cap of 862 tokens (800 completion sent as `max_tokens`); charged as reported")
        // $0.001 + 811 tokens × $0.01 / 1k, rounded up.
        XCTAssertEqual(r.costMicros, 1000 + 8110)
        let total = try await answered(usage: #"{"prompt_tokens": 500, "completion_tokens": 400, "total_tokens": 900}"#)
        XCTAssertEqual(total.errorClass, "cap_exceeded")
        XCTAssertEqual(total.tokens, 900)
        let within = try await answered(usage: #"{"prompt_tokens": 62, "completion_tokens": 800, "total_tokens": 862}"#)
        XCTAssertNil(within.errorClass, within.message)
    }

    func testModelOverrideFullEndpointAndPlainText() async throws {
        let server = try LoopbackServer { _ in
            Self.completion("Looks fine.\nAPPROVE", usage: #"{"prompt_tokens": 10, "completion_tokens": 791}"#)
        }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1/chat/completions/", taskModel: "gpt-big")
        let r = await ask(driver(p), p)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out, .object([
            ("messages", Self.conversation(["user", "Review acme/api. Answer in JSON."], ["assistant", "Looks fine.\nAPPROVE"])),
            ("text", .string("Looks fine.\nAPPROVE")), ("tokens", .int(801)),
        ]))
        XCTAssertEqual(r.tokens, 801)
        XCTAssertEqual(r.costMicros, 1000 + 8010)  // 801 × 10 µ$ per token, exactly
        XCTAssertEqual(server.requests.first?.target, "/v1/chat/completions")
        XCTAssertEqual(server.requests.first?.json?["model"], .string("gpt-big"))
    }

    func testFencedJSONContent() async throws {
        let server = try LoopbackServer { _ in Self.completion("```json\n{\"verdict\": \"REQUEST_CHANGES\"}\n```", usage: #"{"total_tokens": 1}"#) }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1")
        let r = await ask(driver(p), p)
        XCTAssertEqual(r.out["verdict"], .string("REQUEST_CHANGES"))
        XCTAssertEqual(r.costMicros, 1010)  // 1 token × $0.01/1k = 10 µ$
    }

    func testEchoedKeyComesBackRawAndRegistered() async throws {
        // A hostile or buggy server echoes the Authorization header in content, in a
        // structured member, and in an error body. The driver hands it back raw; the key
        // is registered, so the journal writer redacts it (JournalWriterTests, end to end).
        let server = try LoopbackServer { req in
            let auth = req.headers["authorization"] ?? ""
            if req.json?["model"] == .string("fail") { return .json(400, #"{"error": {"message": "bad header \#(auth)"}}"#) }
            return Self.completion(#"{"verdict": "leak \#(auth)"}"#)
        }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1")
        let d = driver(p)
        let r = await ask(d, p)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["verdict"], .string("leak Bearer \(Self.key)"))
        XCTAssertEqual(d.redactor.redact(r.out)["verdict"], .string("leak Bearer [REDACTED:llm_key]"))
        let all = String(decoding: CanonicalJSON.encode(d.redactor.redact(r.out)), as: UTF8.self) + d.redactor.redact(r.stdout)
        XCTAssertFalse(all.contains(Self.key), all)
        XCTAssertEqual(server.requests.first?.headers["authorization"], "Bearer " + Self.key)

        let p2 = try program(base: server.base + "/v1", taskModel: "fail")
        let d2 = driver(p2)
        let r2 = await ask(d2, p2)
        XCTAssertEqual(r2.errorClass, "agent_error")
        XCTAssertEqual(r2.message, "task `review`: HTTP 400: bad header Bearer \(Self.key)")
        XCTAssertEqual(d2.redactor.redact(r2.message), "task `review`: HTTP 400: bad header Bearer [REDACTED:llm_key]")
    }

    func testErrorMapping() async throws {
        let server = try LoopbackServer { req in
            switch req.json?["model"] {
            case .string("unauth"): .json(401, #"{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}"#)
            case .string("busy"): .json(429, #"{"error": {"message": "Rate limit reached"}}"#)
            case .string("down"): .json(503, "upstream unavailable")
            case .string("broken"): .json(200, #"{"choices": []}"#)
            case .string("html"): CannedResponse(status: 200, body: Array("<html>hi</html>".utf8), headers: [("Content-Type", "text/html")])
            case .string("slow"): .json(200, "{}", delayMs: 3000)
            default: Self.completion("ok")
            }
        }
        defer { server.stop() }
        func run(_ model: String, timeout: String = "2s") async throws -> DriverResult {
            let p = try program(base: server.base + "/v1", taskModel: model, timeout: timeout)
            return await ask(driver(p), p)
        }
        var r = try await run("unauth")
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertEqual(r.message, "task `review`: authentication failed (HTTP 401) at agent `reviewer_model`: Incorrect API key provided")
        XCTAssertEqual(r.tokens, 0)
        r = try await run("busy")
        XCTAssertEqual(r.errorClass, "transient")
        XCTAssertEqual(r.message, "task `review`: HTTP 429: Rate limit reached")
        r = try await run("down")
        XCTAssertEqual(r.errorClass, "transient")
        XCTAssertEqual(r.message, "task `review`: HTTP 503: upstream unavailable")
        r = try await run("broken")
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertEqual(r.message, "task `review`: malformed response: no `choices`")
        r = try await run("html")
        XCTAssertEqual(r.errorClass, "agent_error")
        XCTAssertEqual(r.message, "task `review`: malformed response: not a JSON object: <html>hi</html>")
        let t0 = Date()
        r = try await run("slow", timeout: "250ms")
        XCTAssertEqual(r.errorClass, "timeout")
        XCTAssertEqual(r.message, "task `review`: timed out after 250 ms")
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.5)
        r = try await run("fine")
        XCTAssertEqual(r.out, .object([
            ("messages", Self.conversation(["user", "Review acme/api. Answer in JSON."], ["assistant", "ok"])),
            ("text", .string("ok")), ("tokens", .int(357)),
        ]))
    }

    func testConnectionRefusedAndMissingKey() async throws {
        let p = try program(base: "http://127.0.0.1:\(closedPort())/v1")
        let r = await ask(driver(p), p)
        XCTAssertEqual(r.errorClass, "transient", r.message)
        XCTAssertEqual(r.costMicros, 0)
        // The key must be resolvable: nothing is sent without it.
        let r2 = await ask(driver(p, env: [:]), p)
        XCTAssertEqual(r2.errorClass, "secret_error")
        XCTAssertEqual(r2.message, "task `review`: secret `llm_key`: environment variable LLM_KEY is not set")
    }

    func testNoAPIKeySendsNoAuthorization() async throws {
        let server = try LoopbackServer { _ in Self.completion("hi") }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1", apiKey: false)
        let r = await ask(driver(p), p)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertNil(server.requests.first?.headers["authorization"])
    }

    func testWrongActionIsConfigError() async throws {
        let p = try program(base: "http://127.0.0.1:1/v1")
        let resolver = SecretResolver(specs: [], config: SecretConfig(environment: [:]), redactor: Redactor())
        let http = HTTPDriver(program: p, secrets: resolver)
        let r = await http.run(task: 0, attempt: 1, agent: 0, idempotencyKey: "k", runID: "r",
                               values: RenderValues(inputs: ["repo": .string("x")]))
        // Checked before anything is resolved (this resolver has no secrets at all).
        XCTAssertEqual(r.errorClass, "config_error")
        XCTAssertEqual(r.message, "task `review`: the http driver runs `call` tasks, not `prompt`")
        let d = driver(p)
        let r2 = await d.run(task: 0, attempt: 1, agent: -1, idempotencyKey: "k", runID: "r",
                             values: RenderValues(inputs: ["repo": .string("x")]))
        XCTAssertEqual(r2.errorClass, "config_error")
        XCTAssertEqual(r2.message, "task `review`: the llm driver needs an agent (got index -1)")
    }

    func testCostModel() {
        let a = RemoteAgent(name: "m", costPerCallMicros: 100, costPer1kTokensMicros: 10_000, costPerSecondMicros: 1000)
        // 100 + 1234 ms × 1000 µ$/s + 1545 tokens × 10 µ$ = 100 + 1234 + 15450.
        XCTAssertEqual(a.cost(durationMs: 1234, tokens: 1545), 16784)
        // Rounded up per component: 1 ms of 1 µ$/s and 1 token of 1 µ$/1k are 1 µ$ each.
        XCTAssertEqual(RemoteAgent(name: "m", costPer1kTokensMicros: 1, costPerSecondMicros: 1).cost(durationMs: 1, tokens: 1), 2)
        // Saturates instead of trapping.
        XCTAssertEqual(RemoteAgent(name: "m", costPer1kTokensMicros: .max).cost(durationMs: 0, tokens: .max), Int64.max / 4)
    }

    /// 529 (Anthropic's "overloaded") is transient in the llm driver; its wait is read.
    func testLLMDriver529IsTransientWithTheServersWait() async throws {
        let server = try LoopbackServer { _ in
            CannedResponse(status: 529, body: Array(#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.utf8),
                           headers: [("Content-Type", "application/json"), ("Retry-After", "3")])
        }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1")
        let r = await ask(driver(p), p)
        XCTAssertEqual(r.errorClass, ErrorClass.transient)
        XCTAssertEqual(r.retryAfterMs, 3_000)
        XCTAssertEqual(r.event(task: 0, attempt: 1, atMs: 7),
                       Event.taskFailed(task: 0, attempt: 1, errorClass: "transient", message: "task `review`: HTTP 529: Overloaded",
                                   costMicros: r.costMicros, tokens: 0, atMs: 7, retryAfterMs: 3_000))
    }
}
