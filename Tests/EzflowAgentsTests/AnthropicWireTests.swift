import EzflowAgents
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

/// `format: anthropic`: the Messages API's endpoint, headers and body, its answer, usage
/// and errors, and prices per input and output token (per model).
final class AnthropicWireTests: XCTestCase {
    static let key = "sk-ant-test-Qw9v2"

    /// One `prompt` task `ask` on agent `claude` (anthropic, at `base`), `max_tokens` 800;
    /// `stream`: the agent streams; `timeout`: the task's.
    func program(base: String, taskModel: String? = nil, outputs: String = "", stream: Bool = false,
                 timeout: String? = nil) throws -> IRProgram {
        try buildProgram("""
            secret claude_key { provider: env, key: "CLAUDE_KEY" }
            agent claude {
              driver: llm
              format: anthropic
              capabilities: ["llm"]
              model: "claude-sonnet-4-5"
              url: "\(base)"
              api_key: claude_key
              cost_per_call: $0.001
              cost_per_1k_input_tokens: $0.003
              cost_per_1k_output_tokens: $0.015
              prices: { "claude-haiku-4-5": { input: $0.001, output: $0.005 } }
              \(stream ? "stream: true" : "")
            }
            role asker { allow: [run], agents: [claude], secrets: [claude_key] }
            workflow w {
              task ask {
                role: asker
                agent: claude
                secrets: [claude_key]
                prompt: "Name one prime."
                max_tokens: 800 tokens
                \(outputs)
                \(taskModel.map { "model: \"\($0)\"" } ?? "")
                \(timeout.map { "timeout: \($0)" } ?? "")
              }
            }
            """)
    }

    func run(_ p: IRProgram, cap: Int64? = 2_000) async -> DriverResult {
        let resolver = SecretResolver(specs: SecretSpec.fromIR(p.document), config: SecretConfig(environment: ["CLAUDE_KEY": Self.key]),
                                      redactor: Redactor())
        var values = RenderValues(inputs: [:])
        values.tokenCap = cap
        return await LLMDriver(program: p, secrets: resolver).run(task: taskIndex(p, "ask"), attempt: 1, agent: agentIndex(p, "claude"),
                                                                   idempotencyKey: "r/ask", runID: "r", values: values)
    }

    static func message(_ content: String, usage: String = #"{"input_tokens": 40, "output_tokens": 200}"#) -> CannedResponse {
        .json(200, #"{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": \#(content), "stop_reason": "end_turn", "stop_sequence": null, "usage": \#(usage)}"#)
    }

    func testEndpointRule() {
        let w = AnthropicWire()
        XCTAssertEqual(w.endpoint(base: "https://api.anthropic.com"), "https://api.anthropic.com/v1/messages")
        XCTAssertEqual(w.endpoint(base: "https://api.anthropic.com/"), "https://api.anthropic.com/v1/messages")
        XCTAssertEqual(w.endpoint(base: "http://gw.local/anthropic/v1"), "http://gw.local/anthropic/v1/messages")
        XCTAssertEqual(w.endpoint(base: "http://gw.local/v1/messages/"), "http://gw.local/v1/messages")
    }

    func testRequestAnswerUsageAndSplitCost() async throws {
        let server = try LoopbackServer { _ in Self.message(#"[{"type": "text", "text": "Seven"}, {"type": "text", "text": " is prime."}]"#) }
        defer { server.stop() }
        let p = try program(base: server.base)
        let r = await run(p)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["text"], .string("Seven is prime."))
        XCTAssertEqual(r.tokens, 240)
        // $0.001 + ⌈(40 × $0.003 + 200 × $0.015) / 1k⌉ = 1000 + ⌈120 + 3000⌉ µ$.
        XCTAssertEqual(r.costMicros, 4120)
        let q = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(q.target, "/v1/messages")
        XCTAssertEqual(q.headers["x-api-key"], Self.key)
        XCTAssertEqual(q.headers["anthropic-version"], "2023-06-01")
        XCTAssertNil(q.headers["authorization"])
        // The task's `max_tokens`: the cap of 2,000 less the prompt's 45-byte bound is more.
        XCTAssertEqual(String(decoding: q.body, as: UTF8.self),
                       #"{"max_tokens":800,"messages":[{"content":"Name one prime.","role":"user"}],"model":"claude-sonnet-4-5"}"#)
    }

    /// A task's `model` picks its `prices` entry; cache tokens are billed as input.
    func testModelPriceAndCacheTokens() async throws {
        let server = try LoopbackServer { _ in
            Self.message(#"[{"type": "text", "text": "2"}]"#,
                         usage: #"{"input_tokens": 5, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 20, "output_tokens": 300}"#)
        }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1", taskModel: "claude-haiku-4-5")
        let r = await run(p)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.tokens, 335)
        // $0.001 + ⌈(35 × $0.001 + 300 × $0.005) / 1k⌉ = 1000 + ⌈35 + 1500⌉ µ$.
        XCTAssertEqual(r.costMicros, 2535)
        XCTAssertEqual(try XCTUnwrap(server.requests.first).json?["model"], .string("claude-haiku-4-5"))
    }

    /// With input and output priced apart the reservation counts the prompt's bound at the
    /// input price: a server reporting more input tokens than the prompt has bytes broke
    /// the cap (charged as reported).
    func testMoreInputThanThePromptsBytesBreaksTheCap() async throws {
        let server = try LoopbackServer { _ in Self.message(#"[{"type": "text", "text": "2"}]"#, usage: #"{"input_tokens": 46, "output_tokens": 1}"#) }
        defer { server.stop() }
        let r = await run(try program(base: server.base))
        XCTAssertEqual(r.errorClass, "cap_exceeded")
        XCTAssertEqual(r.message, "task `ask`: agent `claude` broke the token cap: it reported 46 input tokens for a prompt of 45 bytes "
                       + "(a token is at least one byte); charged as reported")
        // $0.001 + ⌈(46 × $0.003 + 1 × $0.015) / 1k⌉ = 1000 + ⌈138 + 15⌉ µ$.
        XCTAssertEqual(r.costMicros, 1153)
    }

    /// Input and output parts are prorated together and rounded up once.
    func testCostRoundsTheTokenPartsUpTogether() {
        var a = RemoteAgent(name: "a", costPer1kTokensMicros: 0)
        a.costPer1kInputTokensMicros = 1
        a.costPer1kOutputTokensMicros = 1
        XCTAssertEqual(a.cost(durationMs: 0, tokens: 2, input: 1, output: 1), 1)
        XCTAssertEqual(a.cost(durationMs: 0, tokens: 1001, input: 1000, output: 1), 2)
    }

    func testBodyWithSystemStopSchemaAndStream() {
        let call = LLMCall(model: "claude-haiku-4-5",
                           prompt: LLMPrompt(system: "Be terse.", messages: [LLMMessage(role: "user", content: "Hi"),
                                                                             LLMMessage(role: "assistant", content: "Hello"),
                                                                             LLMMessage(role: "user", content: "A prime?")]),
                           maxTokens: 64, stop: ["\n\n", "END"],
                           outputSchema: .object([("properties", .object([("n", .object([("type", .string("integer"))]))])),
                                                  ("required", .array([.string("n")])), ("type", .string("object"))]),
                           stream: true)
        XCTAssertEqual(String(decoding: CanonicalJSON.encode(AnthropicWire().body(call)), as: UTF8.self),
                       #"{"max_tokens":64,"messages":[{"content":"Hi","role":"user"},{"content":"Hello","role":"assistant"},"#
                       + #"{"content":"A prime?","role":"user"}],"model":"claude-haiku-4-5","stop_sequences":["\n\n","END"],"stream":true,"#
                       + #""system":"Be terse.","tool_choice":{"name":"respond","type":"tool"},"tools":[{"description":"#
                       + #""Give the answer as this tool's input.","input_schema":{"properties":{"n":{"type":"integer"}},"required":["n"],"#
                       + #""type":"object"},"name":"respond"}]}"#)
    }

    /// The Messages API takes no `temperature` (its SDK's request type has none): a call
    /// with one is refused rather than sent without it.
    func testTemperatureIsRefused() {
        var call = LLMCall(model: "m", prompt: LLMPrompt(messages: []), maxTokens: 5)
        XCTAssertNil(LLMDriver.refusedByFormat(call, wire: AnthropicWire(), agent: "claude"))
        call.temperature = 0.5
        XCTAssertEqual(LLMDriver.refusedByFormat(call, wire: AnthropicWire(), agent: "claude"),
                       "agent `claude` speaks the Anthropic format, whose requests take no `temperature`; the prompt was not sent")
        XCTAssertNil(LLMDriver.refusedByFormat(call, wire: OpenAIWire(), agent: "gpt"))
    }

    func testOpenAIBodyCarriesTemperatureAndStop() {
        let call = LLMCall(model: "gpt-test", prompt: LLMPrompt(messages: [LLMMessage(role: "user", content: "Hi")]), maxTokens: 10,
                           temperature: 0, stop: ["END"])
        XCTAssertEqual(String(decoding: CanonicalJSON.encode(OpenAIWire().body(call)), as: UTF8.self),
                       #"{"max_tokens":10,"messages":[{"content":"Hi","role":"user"}],"model":"gpt-test","stop":["END"],"temperature":0}"#)
    }

    /// The forced tool's `input` is the structured answer: its members become outputs.
    func testToolUseInputIsTheStructuredAnswer() async throws {
        let server = try LoopbackServer { _ in
            Self.message(#"[{"type": "tool_use", "id": "toolu_1", "name": "respond", "input": {"n": 7, "why": "only divisors 1 and 7"}}]"#)
        }
        defer { server.stop() }
        let p = try program(base: server.base)
        let r = await run(p)
        XCTAssertNil(r.errorClass, r.message)
        let answer = #"{"n":7,"why":"only divisors 1 and 7"}"#
        XCTAssertEqual(r.out, .object([
            ("n", .int(7)), ("why", .string("only divisors 1 and 7")),
            ("messages", .array([.object([("content", .string("Name one prime.")), ("role", .string("user"))]),
                                 .object([("content", .string(answer)), ("role", .string("assistant"))])])),
            ("text", .string(answer)), ("tokens", .int(240)),
        ]))
        XCTAssertEqual(AnthropicWire().reply(.object([("content", .array([]))])).map(\.structured), .success(nil))
    }

    /// Declared outputs go as the forced tool's `input_schema`, and the tool's `input` is
    /// held to them like any structured answer (`output_error` when it does not match).
    func testDeclaredOutputsGoThroughTheForcedTool() async throws {
        let server = try LoopbackServer { q in
            let n = q.json?["model"] == .string("claude-haiku-4-5") ? #""seven""# : "7"
            return Self.message(#"[{"type": "tool_use", "id": "toolu_1", "name": "respond", "input": {"n": \#(n)}}]"#)
        }
        defer { server.stop() }
        let r = await run(try program(base: server.base, outputs: "output n: int"))
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["n"], .int(7))
        let sent = try XCTUnwrap(server.requests.first?.json)
        XCTAssertEqual(sent["tool_choice"], .object([("name", .string("respond")), ("type", .string("tool"))]))
        guard case .array(let tools)? = sent["tools"], let tool = tools.first else { return XCTFail("no tools sent") }
        XCTAssertEqual(tool["name"], .string("respond"))
        XCTAssertEqual(tool["input_schema"]?["properties"]?["n"]?["type"], .string("integer"))
        let bad = await run(try program(base: server.base, taskModel: "claude-haiku-4-5", outputs: "output n: int"))
        XCTAssertEqual(bad.errorClass, "output_error", bad.message)
    }

    func testErrorsAndOverloaded() async throws {
        let server = try LoopbackServer { q in
            q.json?["model"] == .string("claude-haiku-4-5")
                ? .json(529, #"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#)
                : .json(400, #"{"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}"#)
        }
        defer { server.stop() }
        let bad = await run(try program(base: server.base))
        XCTAssertEqual(bad.errorClass, "agent_error")
        XCTAssertEqual(bad.message, "task `ask`: HTTP 400: invalid_request_error: max_tokens: too large")
        let busy = await run(try program(base: server.base, taskModel: "claude-haiku-4-5"))
        XCTAssertEqual(busy.errorClass, "transient")
        XCTAssertEqual(busy.message, "task `ask`: HTTP 529: overloaded_error: Overloaded")
    }

    /// The API requires `max_tokens`: an attempt without a cap (what an IR that skipped
    /// E0609 gives) is not sent.
    func testNoCapIsAConfigError() async throws {
        let server = try LoopbackServer { _ in Self.message("[]") }
        defer { server.stop() }
        let r = await run(try program(base: server.base), cap: nil)
        XCTAssertEqual(r.errorClass, "config_error")
        XCTAssertEqual(r.message, "task `ask`: agent `claude` speaks the Anthropic format, which requires `max_tokens`, and the task has "
                       + "none (`ezc check` refuses this, E0609); the prompt was not sent")
        XCTAssertTrue(server.requests.isEmpty)
    }
}
