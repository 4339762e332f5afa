// A prompt task's system prompt, message list, temperature and stop sequences as sent,
// its declared outputs as a JSON schema (`response_format`), and the reply held to them
// (`output_error`), against the loopback server.
import EzflowAgents
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

extension LLMDriverTests {
    static let structured = """
        output verdict: Verdict
        output reasons: list[string]
        output note: string?
        """

    func testSystemMessagesTemperatureStopAndSchemaAreSent() async throws {
        let server = try LoopbackServer { _ in Self.completion(#"{"verdict": "APPROVE", "reasons": ["tests pass"]}"#) }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1", extra: """
            system: "You review ${inputs.repo} for the release team."
            messages: [{ role: "user", content: "Earlier diff." }, { role: "assistant", content: "Looked fine." }]
            temperature: 0.2
            stop: ["END"]
            \(Self.structured)
            """)
        // A cap of 1,000 tokens leaves less than `max_tokens` (800) once the input is counted.
        let r = await ask(driver(p), p, cap: 1_000)
        XCTAssertNil(r.errorClass, r.message)
        let q = try XCTUnwrap(server.requests.first?.json)
        // The bound is the messages' JSON bytes and the schema's: both are input.
        let bound = CanonicalJSON.encode(q["messages"] ?? .null).count
            + CanonicalJSON.encode(q["response_format"]?["json_schema"]?["schema"] ?? .null).count
        XCTAssertEqual(String(decoding: try XCTUnwrap(server.requests.first).body, as: UTF8.self),
                       #"{"max_tokens":\#(1_000 - bound),"messages":[{"content":"You review acme/api for the release team.","role":"system"},"#
                       + #"{"content":"Earlier diff.","role":"user"},{"content":"Looked fine.","role":"assistant"},"#
                       + #"{"content":"Review acme/api. Answer in JSON.","role":"user"}],"model":"gpt-test","#
                       + #""response_format":{"json_schema":{"name":"outputs","schema":{"additionalProperties":false,"properties":{"#
                       + #""note":{"type":["string","null"]},"reasons":{"items":{"type":"string"},"type":"array"},"#
                       + #""verdict":{"enum":["APPROVE","REQUEST_CHANGES"],"type":"string"}},"required":["note","reasons","verdict"],"#
                       + #""type":"object"},"strict":true},"type":"json_schema"},"stop":["END"],"temperature":0.2}"#)
        // Declared outputs (the optional one left out is null), then the conversation
        // without the system prompt, the answer last.
        let answer = #"{"verdict": "APPROVE", "reasons": ["tests pass"]}"#
        XCTAssertEqual(r.out, .object([
            ("note", .null), ("reasons", .array([.string("tests pass")])), ("verdict", .string("APPROVE")),
            ("messages", Self.conversation(["user", "Earlier diff."], ["assistant", "Looked fine."], ["user", "Review acme/api. Answer in JSON."],
                                           ["assistant", answer])),
            ("text", .string(answer)), ("tokens", .int(357)),
        ]))
    }

    /// A reply that breaks the declared outputs fails `output_error`, named by task and
    /// output, and is charged as answered.
    func testReplyIsHeldToTheDeclaredOutputs() async throws {
        let cases: [(String, String?)] = [
            (#"{"verdict": "maybe", "reasons": []}"#,
             #"task `review`: output `verdict` should be an enum APPROVE|REQUEST_CHANGES, got "maybe""#),
            (#"{"reasons": []}"#, "task `review`: output `verdict` is missing (it should be an enum APPROVE|REQUEST_CHANGES)"),
            (#"{"verdict": "APPROVE", "reasons": ["ok", 1]}"#, "task `review`: output `reasons[1]` should be a string, got 1"),
            (#"{"verdict": "APPROVE", "reasons": [], "note": 3}"#, "task `review`: output `note` should be a string or null, got 3"),
            (#"{"verdict": "APPROVE", "reasons": [], "score": 3}"#,
             "task `review`: the reply has `score`, which is not a declared output (declared: note, reasons, verdict)"),
            ("Looks good to me.", "task `review`: the reply should be a JSON object with its outputs (note, reasons, verdict), got no JSON object: "
             + "`Looks good to me.`"),
            ("```json\n{\"verdict\": \"REQUEST_CHANGES\", \"reasons\": [\"no tests\"], \"note\": \"soon\"}\n```", nil),
        ]
        for (answer, failure) in cases {
            let server = try LoopbackServer { _ in Self.completion(answer) }
            defer { server.stop() }
            let p = try program(base: server.base + "/v1", extra: Self.structured)
            let r = await ask(driver(p), p)
            XCTAssertEqual(r.errorClass, failure == nil ? nil : "output_error", answer)
            XCTAssertEqual(r.tokens, 357, answer)
            if let failure { XCTAssertEqual(r.message, failure) } else {
                XCTAssertEqual(r.out["verdict"], .string("REQUEST_CHANGES"))
                XCTAssertEqual(r.out["note"], .string("soon"))
            }
        }
    }

    /// A role the checker cannot see (computed at run time) is refused before sending.
    func testMessageRoleIsCheckedWhenSent() async throws {
        let server = try LoopbackServer { _ in Self.completion("ok") }
        defer { server.stop() }
        let p = try buildProgram("""
            agent m { driver: llm, capabilities: ["llm"], model: "gpt-test", url: "\(server.base)/v1" }
            type Message { role: string, content: string }
            workflow w {
              input history: list[Message] = []
              task ask {
                messages: inputs.history
                prompt: "Go on."
              }
            }
            """)
        let d = LLMDriver(program: p, secrets: SecretResolver(specs: [], config: SecretConfig(environment: [:]), redactor: Redactor()))
        let history: JSONValue = .array([.object([("content", .string("Be terse.")), ("role", .string("system"))])])
        let r = await d.run(task: 0, attempt: 1, agent: 0, idempotencyKey: "k", runID: "r", values: RenderValues(inputs: ["history": history]))
        XCTAssertEqual(r.errorClass, "render_error")
        XCTAssertEqual(r.message, "task `ask`: `messages[0]`: a message's role must be `user` or `assistant`, found `system`")
        XCTAssertTrue(server.requests.isEmpty)
    }

    /// A `map` output cannot be said in OpenAI's strict mode: the schema is sent with
    /// `strict: false`, and the reply is still checked.
    func testMapOutputMakesTheSchemaNotStrict() async throws {
        let server = try LoopbackServer { _ in Self.completion(#"{"scores": {"a": 1, "b": "x"}}"#) }
        defer { server.stop() }
        let p = try program(base: server.base + "/v1", extra: "output scores: map[int]")
        let r = await ask(driver(p), p)
        XCTAssertEqual(server.requests.first?.json?["response_format"]?["json_schema"]?["strict"], .bool(false))
        XCTAssertEqual(server.requests.first?.json?["response_format"]?["json_schema"]?["schema"]?["properties"]?["scores"],
                       .object([("additionalProperties", .object([("type", .string("integer"))])), ("type", .string("object"))]))
        XCTAssertEqual(r.errorClass, "output_error")
        XCTAssertEqual(r.message, #"task `review`: output `scores.b` should be an int, got "x""#)
    }
}
