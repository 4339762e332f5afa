import EzflowAgents
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import Synchronization
import XCTest

/// `stream: true` on an llm agent: server-sent events read as they arrive, folded into the
/// answer the whole body would give, and the token cap enforced while they arrive.
final class LLMStreamTests: XCTestCase {
    static let answer = #"{"verdict": "APPROVE", "notes": ["tests", "naïve ✓"]}"#

    /// OpenAI chunks of `text` (a few characters each), then the usage chunk and `[DONE]`.
    static func openAIEvents(_ text: String, usage: String = #"{"prompt_tokens": 12, "completion_tokens": 345, "total_tokens": 357}"#) -> [String] {
        var out = [#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#]
        var rest = Substring(text)
        while !rest.isEmpty {
            let piece = String(rest.prefix(7))
            rest = rest.dropFirst(7)
            let json = String(decoding: CanonicalJSON.encode(.string(piece)), as: UTF8.self)
            out.append(#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":\#(json)}}]}"#)
        }
        out.append(#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#)
        out.append(#"data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":\#(usage)}"#)
        out.append("data: [DONE]")
        return out
    }

    /// Writes each event (and its blank line) in pieces of `piece` bytes, as a slow server.
    static func server(_ events: [String], piece: Int = 5, pauseMs: Int = 1) throws -> LoopbackServer {
        try LoopbackServer { _ in
            .events { send in
                let bytes = Array((": keep-alive\n\n" + events.joined(separator: "\n\n") + "\n\n").utf8)
                var i = 0
                while i < bytes.count {
                    guard send(Array(bytes[i..<min(bytes.count, i + piece)])) else { return }
                    i += piece
                    usleep(UInt32(pauseMs * 1000))
                }
            }
        }
    }

    func testSSEParserReadsDataEventsAndCommentsAcrossPieces() {
        let text = ": comment\r\nevent: message_start\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata: naïve\rid: 7\r\r\nretry: 5\n\ndata: [DONE]\n\ndata: unfinished"
        let expected = [SSEEvent(name: "message_start", data: "{\"a\":\n1}"), SSEEvent(data: "naïve"), SSEEvent(data: "[DONE]")]
        var whole = SSEParser()
        XCTAssertEqual(whole.feed(Array(text.utf8)), expected)
        // Byte by byte: a CRLF and a UTF-8 character split across pieces are read alike.
        var bytewise = SSEParser()
        XCTAssertEqual(Array(text.utf8).flatMap { bytewise.feed([$0]) }, expected)
    }

    /// The streamed answer equals the non-streamed one: text, tokens, cost, outputs.
    func testOpenAIStreamAssemblesTheSameResultAsTheWholeBody() async throws {
        let server = try Self.server(Self.openAIEvents(Self.answer))
        defer { server.stop() }
        let whole = try LoopbackServer { _ in LLMDriverTests.completion(Self.answer) }
        defer { whole.stop() }
        let t = LLMDriverTests(name: "streamed", testClosure: { _ in })
        let p = try t.program(base: server.base + "/v1", stream: true)
        let r = await t.ask(t.driver(p), p)
        XCTAssertNil(r.errorClass, r.message)
        let pw = try t.program(base: whole.base + "/v1")
        // `stream: true` is lowered onto the agent in the IR; an agent without it has no key.
        guard case .array(let ags)? = p.document["agents"], case .array(let wags)? = pw.document["agents"] else { return XCTFail("no agents") }
        XCTAssertEqual(ags.first?["stream"], .bool(true))
        XCTAssertNil(wags.first?["stream"])
        let w = await t.ask(t.driver(pw), pw)
        XCTAssertEqual(r.out, w.out)
        XCTAssertEqual([r.tokens, r.costMicros], [w.tokens, w.costMicros])
        XCTAssertEqual([r.tokens, r.costMicros], [357, 4570])
        XCTAssertEqual(r.out["verdict"], .string("APPROVE"))
        XCTAssertEqual(String(decoding: try XCTUnwrap(server.requests.first).body, as: UTF8.self),
                       #"{"max_tokens":800,"messages":[{"content":"Review acme/api. Answer in JSON.","role":"user"}],"model":"gpt-test","#
                       + #""stream":true,"stream_options":{"include_usage":true}}"#)
    }

    /// A server that streams past the cap forever: reading stops at the first token over
    /// the 800 sent, the request is cancelled, long before the attempt's 30 s timeout.
    func testAStreamPastTheCapIsCutOffPromptly() async throws {
        final class Flag: Sendable { let left = Mutex(false) }
        let flag = Flag()
        let server = try LoopbackServer { _ in
            .events { send in
                let chunk = Array(#"data: {"choices":[{"index":0,"delta":{"content":"la "}}]}\#n\#n"#.utf8)
                while send(Array(repeating: chunk, count: 20).flatMap { $0 }) { usleep(1000) }
                flag.left.withLock { $0 = true }
            }
        }
        defer { server.stop() }
        let t = LLMDriverTests(name: "cap", testClosure: { _ in })
        let p = try t.program(base: server.base + "/v1", timeout: "30s", stream: true)
        let t0 = Date()
        let r = await t.ask(t.driver(p), p)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10, "ended by the cap, not by the timeout")
        XCTAssertEqual(r.errorClass, ErrorClass.capExceeded)
        XCTAssertEqual(r.tokens, 801)
        XCTAssertEqual(r.message, "task `review`: agent `reviewer_model` broke the token cap while streaming: 801 completion tokens seen "
                       + "for 800 completion tokens sent as `max_tokens` (a cap of 862 tokens); reading stopped and the request was "
                       + "cancelled; charged the 801 tokens seen")
        // The server notices the client left (its writes fail) soon after.
        for _ in 0..<300 where !flag.left.withLock({ $0 }) { usleep(10_000) }
        XCTAssertTrue(flag.left.withLock { $0 }, "the connection was closed")
    }

    /// A connection that closes mid-answer: transient, charged the pieces seen.
    func testAStreamThatDropsMidAnswerIsTransient() async throws {
        let events = Array(Self.openAIEvents(Self.answer).prefix(4))  // the role chunk and 3 pieces
        let server = try Self.server(events)
        defer { server.stop() }
        let t = LLMDriverTests(name: "drop", testClosure: { _ in })
        let p = try t.program(base: server.base + "/v1", stream: true)
        let r = await t.ask(t.driver(p), p)
        XCTAssertEqual(r.errorClass, ErrorClass.transient)
        XCTAssertEqual(r.tokens, 3)
        XCTAssertEqual(r.message, "task `review`: the stream ended before the answer did (the connection closed after 3 pieces of it); "
                       + "charged the 3 tokens seen")
    }

    /// A stream that stalls past the attempt's timeout: `timeout`, charged the pieces seen.
    func testAStreamThatStallsTimesOutChargedWhatWasSeen() async throws {
        let events = Array(Self.openAIEvents(Self.answer).prefix(3))  // the role chunk and 2 pieces
        let server = try LoopbackServer { _ in
            .events { send in
                _ = send(Array((events.joined(separator: "\n\n") + "\n\n").utf8))
                usleep(3_000_000)
            }
        }
        defer { server.stop() }
        let t = LLMDriverTests(name: "stall", testClosure: { _ in })
        let p = try t.program(base: server.base + "/v1", timeout: "500ms", stream: true)
        let r = await t.ask(t.driver(p), p)
        XCTAssertEqual(r.errorClass, ErrorClass.timeout)
        XCTAssertEqual(r.tokens, 2)
        XCTAssertEqual(r.message, "task `review`: timed out after 500 ms")
    }

    /// An error chunk in an OpenAI stream fails the attempt with the provider's message.
    func testAnErrorChunkFailsTheAttempt() async throws {
        let server = try Self.server([#"data: {"error": {"message": "model overloaded, try later"}}"#])
        defer { server.stop() }
        let t = LLMDriverTests(name: "error", testClosure: { _ in })
        let p = try t.program(base: server.base + "/v1", stream: true)
        let r = await t.ask(t.driver(p), p)
        XCTAssertEqual(r.errorClass, ErrorClass.agentError)
        XCTAssertEqual(r.message, "task `review`: the stream reported an error: model overloaded, try later")
    }

    // MARK: - Anthropic events, through the HTTP client and the same reader

    static let anthropicEvents = [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-test\",\"usage\":{\"input_tokens\":20,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
        "event: ping\ndata: {\"type\":\"ping\"}",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", wörld\"}}",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}",
    ]

    func read(_ server: LoopbackServer, _ decoder: any LLMStreamDecoder, completionCap: Int64? = nil,
              cap: Int64? = nil) async throws -> (Result<HTTPResponse, HTTPClientError>, LLMStreamFeed) {
        let feed = LLMStreamFeed(decoder: decoder, completionCap: completionCap, cap: cap)
        let req = HTTPRequest(url: try XCTUnwrap(URL(string: server.base + "/v1/messages")), body: Array("{}".utf8), timeoutMs: 30_000)
        return (await HTTPClient.stream(req, onBytes: feed.receive), feed)
    }

    func testAnthropicStreamAssemblesTextAndUsage() async throws {
        let server = try Self.server(Self.anthropicEvents, piece: 11)
        defer { server.stop() }
        let (sent, feed) = try await read(server, AnthropicStreamDecoder(), completionCap: 100, cap: 200)
        XCTAssertEqual(try sent.get().status, 200)
        XCTAssertFalse(feed.overCap)
        XCTAssertEqual(feed.state.reply, LLMReply(text: "Hello, wörld", inputTokens: 25, outputTokens: 15))
        XCTAssertTrue(feed.state.finished)
    }

    /// `message_delta`'s cumulative count over the completion cap stops the reading.
    func testAnthropicCumulativeUsageOverTheCapStops() async throws {
        let server = try Self.server(Self.anthropicEvents, piece: 11)
        defer { server.stop() }
        let (sent, feed) = try await read(server, AnthropicStreamDecoder(), completionCap: 10, cap: 200)
        XCTAssertTrue(try sent.get().stoppedEarly)
        XCTAssertTrue(feed.overCap)
        XCTAssertEqual([feed.state.completionSeen, feed.state.chargedIfCut], [15, 40])
        XCTAssertFalse(feed.state.finished, "nothing after the event that broke the cap was read")
    }

    /// Anthropic's mid-stream `overloaded_error` is transient; the forced tool's JSON arrives
    /// in `input_json_delta` pieces.
    func testAnthropicErrorEventsAndToolJSON() {
        var s = LLMStreamState()
        let d = AnthropicStreamDecoder()
        d.fold(SSEEvent(name: "content_block_delta", data: #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"verdict\": "}}"#), into: &s)
        d.fold(SSEEvent(name: "content_block_delta", data: #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\"OK\"}"}}"#), into: &s)
        XCTAssertEqual(s.reply, LLMReply(text: "", inputTokens: 0, outputTokens: 0, structured: .object([("verdict", .string("OK"))])))
        XCTAssertEqual(s.deltas, 2)
        d.fold(SSEEvent(name: "error", data: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#), into: &s)
        XCTAssertEqual(s.failure?.cls, ErrorClass.transient)
        XCTAssertEqual(s.failure?.message, "overloaded_error: Overloaded")
        var bad = LLMStreamState()
        d.fold(SSEEvent(name: "error", data: #"{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}"#), into: &bad)
        XCTAssertEqual(bad.failure?.cls, ErrorClass.agentError)
    }
}
