import EzflowAgents
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import Synchronization
import XCTest

/// `format: anthropic` with `stream: true`, through `LLMDriver.run`: the streamed answer
/// gives the result the whole body gives (text, structured outputs, tokens, split-price
/// cost), and the cap holds while the events arrive.
final class AnthropicStreamTests: XCTestCase {
    let t = AnthropicWireTests(name: "anthropic", testClosure: { _ in })

    static func event(_ type: String, _ json: String) -> String { "event: \(type)\ndata: {\"type\":\"\(type)\",\(json)}" }

    static func start(input: Int = 40) -> String {
        event("message_start", #""message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","#
              + #""stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":\#(input),"output_tokens":1}}"#)
    }

    static func textDelta(_ piece: String, index: Int = 0) -> String {
        let json = String(decoding: CanonicalJSON.encode(.string(piece)), as: UTF8.self)
        return event("content_block_delta", #""index":\#(index),"delta":{"type":"text_delta","text":\#(json)}"#)
    }

    static func usage(_ output: Int) -> String {
        event("message_delta", #""delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":\#(output)}"#)
    }

    /// One whole message as a stream: text blocks (in pieces), then the forced tool's
    /// block with its input in `toolPieces` (none: no tool block), 200 output tokens.
    static func events(text: [String] = [], toolPieces: [String]? = nil) -> [String] {
        var out = [start(), event("ping", "\"x\":0")]
        if !text.isEmpty {
            out.append(event("content_block_start", #""index":0,"content_block":{"type":"text","text":""}"#))
            out += text.map { textDelta($0) }
            out.append(event("content_block_stop", #""index":0"#))
        }
        if let toolPieces {
            let i = text.isEmpty ? 0 : 1
            out.append(event("content_block_start", #""index":\#(i),"content_block":{"type":"tool_use","id":"toolu_1","name":"respond","input":{}}"#))
            out += toolPieces.map {
                let json = String(decoding: CanonicalJSON.encode(.string($0)), as: UTF8.self)
                return event("content_block_delta", #""index":\#(i),"delta":{"type":"input_json_delta","partial_json":\#(json)}"#)
            }
            out.append(event("content_block_stop", #""index":\#(i)"#))
        }
        return out + [usage(200), event("message_stop", "\"x\":0")]
    }

    /// The same answer streamed (`events`) and whole (`content`): equal results.
    func assertSameResult(events: [String], content: String, outputs: String = "", file: StaticString = #filePath,
                          line: UInt = #line) async throws -> (streamed: DriverResult, request: ReceivedRequest) {
        let server = try LLMStreamTests.server(events, piece: 7)
        defer { server.stop() }
        let whole = try LoopbackServer { _ in AnthropicWireTests.message(content) }
        defer { whole.stop() }
        let r = await t.run(try t.program(base: server.base, outputs: outputs, stream: true))
        let w = await t.run(try t.program(base: whole.base, outputs: outputs))
        XCTAssertEqual(r.outcome, w.outcome, file: file, line: line)
        XCTAssertEqual([r.tokens, r.costMicros], [w.tokens, w.costMicros], file: file, line: line)
        return (r, try XCTUnwrap(server.requests.first, file: file, line: line))
    }

    func testStreamedTextGivesTheWholeBodysResult() async throws {
        let (r, q) = try await assertSameResult(events: Self.events(text: ["Seven", " is", " prïme."]),
                                                content: #"[{"type": "text", "text": "Seven is prïme."}]"#)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["text"], .string("Seven is prïme."))
        // $0.001 + ⌈(40 × $0.003 + 200 × $0.015) / 1k⌉ = 1000 + ⌈120 + 3000⌉ µ$.
        XCTAssertEqual([r.tokens, r.costMicros], [240, 4120])
        XCTAssertEqual(q.target, "/v1/messages")
        XCTAssertEqual(q.headers["x-api-key"], AnthropicWireTests.key)
        XCTAssertEqual(q.headers["anthropic-version"], "2023-06-01")
        XCTAssertNil(q.headers["authorization"])
        XCTAssertEqual(String(decoding: q.body, as: UTF8.self),
                       #"{"max_tokens":800,"messages":[{"content":"Name one prime.","role":"user"}],"model":"claude-sonnet-4-5","#
                       + #""stream":true}"#)
    }

    /// The forced tool's streamed JSON is the structured answer, as the whole body's
    /// `input` is: outputs held to the declared types, and `text`/`messages` carry its
    /// canonical JSON (not the pieces as sent), also after a text block.
    func testStreamedToolInputIsTheStructuredAnswer() async throws {
        let outputs = "output n: int\noutput why: string"
        let input = #"{"n": 7, "why": "only divisors 1 and 7"}"#
        let (r, q) = try await assertSameResult(events: Self.events(toolPieces: [#"{"n": 7,"#, #" "why": "only di"#, #"visors 1 and 7"}"#]),
                                                content: #"[{"type": "tool_use", "id": "toolu_1", "name": "respond", "input": \#(input)}]"#,
                                                outputs: outputs)
        XCTAssertNil(r.errorClass, r.message)
        let canonical = #"{"n":7,"why":"only divisors 1 and 7"}"#
        XCTAssertEqual(r.out, .object([
            ("n", .int(7)), ("why", .string("only divisors 1 and 7")),
            ("messages", .array([.object([("content", .string("Name one prime.")), ("role", .string("user"))]),
                                 .object([("content", .string(canonical)), ("role", .string("assistant"))])])),
            ("text", .string(canonical)), ("tokens", .int(240)),
        ]))
        XCTAssertEqual(q.json?["stream"], .bool(true))
        XCTAssertEqual(q.json?["tool_choice"], .object([("name", .string("respond")), ("type", .string("tool"))]))
        // A text block before the tool: the text is `text`, the tool's input the outputs.
        let (pre, _) = try await assertSameResult(
            events: Self.events(text: ["Here", " it is."], toolPieces: [input]),
            content: #"[{"type": "text", "text": "Here it is."}, {"type": "tool_use", "id": "toolu_1", "name": "respond", "input": \#(input)}]"#,
            outputs: outputs)
        XCTAssertEqual([pre.out["text"], pre.out["n"]], [.string("Here it is."), .int(7)])
    }

    /// A streamed tool input that does not match the declared types fails `output_error`
    /// with the message the whole body gets, charged its tokens; one that is not a JSON
    /// object is a malformed stream.
    func testStreamedToolInputIsHeldToTheDeclaredTypes() async throws {
        let (r, _) = try await assertSameResultFailing(toolPieces: [#"{"n": "sev"#, #"en", "why": "prime"}"#],
                                                        input: #"{"n": "seven", "why": "prime"}"#)
        XCTAssertEqual(r.errorClass, "output_error")
        XCTAssertEqual(r.message, #"task `ask`: output `n` should be an int, got "seven""#)
        XCTAssertEqual([r.tokens, r.costMicros], [240, 4120])
        let server = try LLMStreamTests.server(Self.events(toolPieces: [#"{"n": 7"#]), piece: 7)
        defer { server.stop() }
        let cut = await t.run(try t.program(base: server.base, outputs: "output n: int", stream: true))
        XCTAssertEqual(cut.errorClass, "agent_error")
        XCTAssertEqual(cut.message, #"task `ask`: malformed stream: the `respond` tool's input is not a JSON object: {"n": 7"#)
        XCTAssertEqual(cut.tokens, 240)
    }

    func assertSameResultFailing(toolPieces: [String], input: String) async throws -> (DriverResult, ReceivedRequest) {
        try await assertSameResult(events: Self.events(toolPieces: toolPieces),
                                   content: #"[{"type": "tool_use", "id": "toolu_1", "name": "respond", "input": \#(input)}]"#,
                                   outputs: "output n: int\noutput why: string")
    }

    /// `message_delta`'s cumulative count passing the 800 sent: reading stops there, the
    /// request is cancelled long before the 30 s timeout, charged the input and the
    /// completion seen at the split prices.
    func testCumulativeUsagePastMaxTokensIsCutOff() async throws {
        final class Flag: Sendable { let left = Mutex(false) }
        let flag = Flag()
        let server = try LoopbackServer { _ in
            .events { send in
                let head = [Self.start(input: 20), Self.textDelta("la"), Self.usage(400), Self.textDelta("la"), Self.usage(801)]
                guard send(Array((head.joined(separator: "\n\n") + "\n\n").utf8)) else { return }
                let more = Array((Self.textDelta("la ") + "\n\n").utf8)
                while send(Array(repeating: more, count: 20).flatMap { $0 }) { usleep(1000) }
                flag.left.withLock { $0 = true }
            }
        }
        defer { server.stop() }
        let t0 = Date()
        let r = await t.run(try t.program(base: server.base, stream: true, timeout: "30s"))
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10, "ended by the cap, not by the timeout")
        XCTAssertEqual(r.errorClass, ErrorClass.capExceeded)
        XCTAssertEqual(r.message, "task `ask`: agent `claude` broke the token cap while streaming: 801 completion tokens seen for 800 "
                       + "completion tokens sent as `max_tokens` (a cap of 2000 tokens); reading stopped and the request was cancelled; "
                       + "charged the 821 tokens seen")
        // $0.001 + ⌈(20 × $0.003 + 801 × $0.015) / 1k⌉ = 1000 + ⌈60 + 12015⌉ µ$.
        XCTAssertEqual([r.tokens, r.costMicros], [821, 13075])
        for _ in 0..<300 where !flag.left.withLock({ $0 }) { usleep(10_000) }
        XCTAssertTrue(flag.left.withLock { $0 }, "the connection was closed")
    }
}
