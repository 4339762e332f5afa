import EzflowAgents
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

/// The request bodies of both wire formats, checked against the official Python SDKs'
/// own request types (`openai`, `anthropic`; pinned in scripts/test.sh, which makes the
/// venv and sets EZFLOW_SDK_PYTHON) by Tests/Fixtures/llm/sdk_server.py, which answers
/// with bodies built through the SDKs' response models, read back by the same wires.
final class SDKValidationTests: XCTestCase {
    nonisolated(unsafe) static var server: SDKServer?
    nonisolated(unsafe) static var startError: String?

    override class func tearDown() {
        server?.stop()
        server = nil
    }

    /// The running server (started once for the class), or a skip without the venv.
    func sdk() throws -> SDKServer {
        guard let python = ProcessInfo.processInfo.environment["EZFLOW_SDK_PYTHON"], !python.isEmpty else {
            throw XCTSkip("EZFLOW_SDK_PYTHON is not set: run `bash scripts/test.sh`, which installs the openai and anthropic SDKs")
        }
        if let s = Self.server { return s }
        if let e = Self.startError { throw XCTSkip(e) }
        do {
            let s = try SDKServer(python: python)
            Self.server = s
            return s
        } catch {
            Self.startError = "\(error)"
            XCTFail("the SDK server did not start: \(error)")
            throw error
        }
    }

    static let messages = [LLMMessage(role: "user", content: "Name a prime."), LLMMessage(role: "assistant", content: "7"),
                           LLMMessage(role: "user", content: "Another?")]
    static let schema: JSONValue = .object([
        ("additionalProperties", .bool(false)), ("properties", .object([("answer", .object([("type", .string("string"))]))])),
        ("required", .array([.string("answer")])), ("type", .string("object")),
    ])

    /// The calls each format must send as its SDK would.
    static func calls() -> [(String, LLMCall)] {
        let one = LLMPrompt(messages: [LLMMessage(role: "user", content: "Name a prime.")])
        return [
            ("plain", LLMCall(model: "m-1", prompt: one, maxTokens: 100)),
            ("system prompt", LLMCall(model: "m-1", prompt: LLMPrompt(system: "Be terse.", messages: messages), maxTokens: 100)),
            ("temperature and stop", LLMCall(model: "m-1", prompt: one, maxTokens: 100, temperature: 0.2, stop: ["\n\n", "END"])),
            ("output schema", LLMCall(model: "m-1", prompt: one, maxTokens: 100, outputSchema: schema)),
            ("max_tokens 1", LLMCall(model: "m-1", prompt: one, maxTokens: 1)),
        ]
    }

    func send(_ s: SDKServer, format: String?, _ call: LLMCall) async throws -> (Int, JSONValue?, LLMReply?) {
        let wire = LLMDriver.wire(RemoteAgent(name: "a", driver: "llm", format: format))
        return try await s.post(wire, body: CanonicalJSON.encode(wire.body(call)))
    }

    func testOpenAIBodiesAreWhatTheSDKSends() async throws {
        let s = try sdk()
        var calls = Self.calls()
        calls.append(("stream", LLMCall(model: "m-1", prompt: LLMPrompt(messages: Self.messages), maxTokens: 100, stream: true)))
        for (what, call) in calls {
            let (status, body, reply) = try await send(s, format: nil, call)
            XCTAssertEqual(status, 200, "\(what): \(body.map { String(decoding: CanonicalJSON.encode($0), as: UTF8.self) } ?? "")")
            guard !call.stream else { continue }  // request validation only: LLMStreamTests read the events
            // With an output schema the body carries `response_format` and the server answers JSON.
            let echo = "echo: " + (call.prompt.messages.last?.content ?? "")
            let text = call.outputSchema == nil ? echo : #"{"answer": "\#(echo)"}"#
            XCTAssertEqual(reply?.text, text, what)
            XCTAssertEqual(reply.map { [$0.inputTokens, $0.outputTokens, $0.totalTokens] }, [11, 7, 18], what)
        }
        // Without a cap the SDK's type is satisfied too (an uncapped OpenAI-compatible call).
        let (status, _, _) = try await send(s, format: "openai", LLMCall(model: "m-1", prompt: LLMPrompt(messages: Self.messages)))
        XCTAssertEqual(status, 200)
    }

    func testAnthropicBodiesAreWhatTheSDKSends() async throws {
        let s = try sdk()
        // The SDK's MessageCreateParams has no `temperature`: the driver refuses one
        // (AnthropicWireTests.testTemperatureIsRefused), so the calls here carry stop sequences only.
        var calls = Self.calls().map { c in var call = c.1; call.temperature = nil; return (c.0, call) }
        calls.append(("stream", LLMCall(model: "m-1", prompt: LLMPrompt(messages: Self.messages), maxTokens: 100, stream: true)))
        for (what, call) in calls {
            let (status, body, reply) = try await send(s, format: "anthropic", call)
            XCTAssertEqual(status, 200, "\(what): \(body.map { String(decoding: CanonicalJSON.encode($0), as: UTF8.self) } ?? "")")
            guard !call.stream else { continue }  // request validation only: LLMStreamTests read the events
            // input 11 + cache 2 + 3; output 7.
            XCTAssertEqual(reply.map { [$0.inputTokens, $0.outputTokens, $0.totalTokens] }, [16, 7, 23], what)
            if call.outputSchema != nil {
                XCTAssertEqual(reply?.structured, .object([("answer", .string("echo: Name a prime."))]), what)
                XCTAssertEqual(reply?.text, "", what)
            } else {
                XCTAssertEqual(reply?.structured, nil, what)
                XCTAssertEqual(reply?.text.hasPrefix("echo: "), true, what)
            }
        }
    }

    /// What the SDK says of `temperature` today: not a field of a Messages request, so
    /// AnthropicWire cannot send it (and LLMDriver refuses a call that has one).
    func testAnthropicSDKHasNoTemperature() async throws {
        let s = try sdk()
        let text = #"{"max_tokens":5,"messages":[{"content":"hi","role":"user"}],"model":"m","temperature":0.2}"#
        let (status, body, _) = try await s.post(AnthropicWire(), body: Array(text.utf8))
        XCTAssertEqual(status, 400)
        XCTAssertTrue(AnthropicWire().errorMessage(body)?.contains("temperature\n  Extra inputs are not permitted") == true)
    }

    /// The validator refuses what the SDKs would not send: unknown keys (at the top and in
    /// a message), a role the format does not have, a missing `max_tokens` (Anthropic),
    /// and the format's headers missing.
    func testTheValidatorRefusesWrongBodies() async throws {
        let s = try sdk()
        let openai = OpenAIWire(), anthropic = AnthropicWire()
        let cases: [(any LLMWire, String, String)] = [
            (openai, #"{"messages":[{"content":"hi","role":"user"}],"model":"m","max_token":5}"#, "max_token\n  Extra inputs are not permitted"),
            (openai, #"{"messages":[{"content":"hi","role":"user","name2":"x"}],"model":"m"}"#, "Extra inputs are not permitted"),
            (openai, #"{"messages":[{"content":"hi","role":"wizard"}],"model":"m"}"#, "input_value='wizard'"),
            (anthropic, #"{"max_tokens":5,"messages":[{"content":"hi","role":"user"}],"model":"m","stop":["x"]}"#,
             "stop\n  Extra inputs are not permitted"),
            (anthropic, #"{"messages":[{"content":"hi","role":"user"}],"model":"m"}"#, "max_tokens\n  Field required"),
            (anthropic, #"{"max_tokens":5,"messages":[{"content":"hi","role":"user"}],"model":"m","tool_choice":{"type":"tool"}}"#,
             "tool_choice.ToolChoiceToolParam.name\n  Field required"),
        ]
        for (wire, text, expected) in cases {
            let (status, body, _) = try await s.post(wire, body: Array(text.utf8))
            XCTAssertEqual(status, 400, text)
            let message = wire.errorMessage(body) ?? ""
            XCTAssertTrue(message.contains(expected), "\(text): \(message)")
        }
        let plain = CanonicalJSON.encode(anthropic.body(Self.calls()[0].1))
        let (status, body, _) = try await s.post(anthropic, body: plain, apiKey: nil)
        XCTAssertEqual(status, 400)
        XCTAssertEqual(anthropic.errorMessage(body), "invalid_request_error: missing `x-api-key`")
    }
}

/// Tests/Fixtures/llm/sdk_server.py, run by the venv's python; stopped by closing its stdin.
final class SDKServer: @unchecked Sendable {
    let process = Process()
    let stdin = Pipe()
    let base: String

    struct StartError: Error, CustomStringConvertible { var description: String }

    init(python: String) throws {
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Repo.url("Tests/Fixtures/llm/sdk_server.py").path]
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        // The first line is `PORT <n>` once the SDKs are imported and the socket is bound.
        var line: [UInt8] = []
        let handle = stdout.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else {
            stdin.fileHandleForWriting.closeFile()
            process.waitUntilExit()
            throw StartError(description: "sdk_server.py printed `\(text)` (exit \(process.terminationStatus)); is the venv complete?")
        }
        base = "http://127.0.0.1:\(port)"
    }

    /// POSTs `body` where `wire` sends it, with its headers; the status, the body as JSON
    /// and, on 200, the wire's reading of it.
    func post(_ wire: any LLMWire, body: [UInt8], apiKey: String? = "sk-sdk-test") async throws -> (Int, JSONValue?, LLMReply?) {
        // An OpenAI-compatible `url` is the API base with its version; an Anthropic one the host.
        let url = try XCTUnwrap(URL(string: wire.endpoint(base: wire is OpenAIWire ? base + "/v1" : base)))
        let req = HTTPRequest(url: url, headers: [("Content-Type", "application/json")] + wire.headers(apiKey: apiKey), body: body,
                              timeoutMs: 30_000)
        let r = try await HTTPClient.send(req, cancel: nil).get()
        let json = try? JSONParser.parse(r.body)
        let reply = r.status == 200 ? json.flatMap { try? wire.reply($0).get() } : nil
        return (r.status, json, reply)
    }

    func stop() {
        stdin.fileHandleForWriting.closeFile()
        process.waitUntilExit()
    }
}
