// The Anthropic Messages API (`POST …/v1/messages`, `format: anthropic` on the agent):
// docs/DRIVERS.md, "Wire formats".
import EzflowIR
import EzflowRuntime

/// `format: anthropic`.
public struct AnthropicWire: LLMWire {
    /// The API version every request names (`anthropic-version`).
    public static let version = "2023-06-01"
    /// The name of the one tool a structured-output call forces.
    public static let toolName = "respond"

    public init() {}

    /// `{url}/v1/messages`; a url already ending in `/v1` gets `/messages`, one ending in
    /// `/v1/messages` is used as it is (trailing slashes dropped first).
    public func endpoint(base: String) -> String {
        var b = base.trimmingCharacters(in: .whitespacesAndNewlines)
        while b.hasSuffix("/") { b.removeLast() }
        if b.hasSuffix("/v1/messages") { return b }
        return b.hasSuffix("/v1") ? b + "/messages" : b + "/v1/messages"
    }

    public func headers(apiKey: String?) -> [(String, String)] {
        (apiKey.map { [("x-api-key", $0)] } ?? []) + [("anthropic-version", Self.version)]
    }

    /// `{"max_tokens", "messages": [{"content", "role"}…], "model", "stop_sequences"?,
    /// "stream"?, "system"?, "tool_choice"?, "tools"?}`: the system prompt is top-level;
    /// an output schema becomes one forced tool, `respond`, whose input is the answer.
    /// The API requires `max_tokens` and has no `temperature` (the SDK's request type has
    /// none): the driver refuses a call without the one or with the other before it gets
    /// here.
    public func body(_ call: LLMCall) -> JSONValue {
        var m: [(String, JSONValue)] = [("max_tokens", .int(call.maxTokens ?? 0))]
        m.append(("messages", .array(call.prompt.messages.map {
            .object([("content", .string($0.content)), ("role", .string($0.role))])
        })))
        m.append(("model", .string(call.model)))
        if !call.stop.isEmpty { m.append(("stop_sequences", .array(call.stop.map { .string($0) }))) }
        if call.stream { m.append(("stream", .bool(true))) }
        if let s = call.prompt.system { m.append(("system", .string(s))) }
        if let schema = call.outputSchema {
            m.append(("tool_choice", .object([("name", .string(Self.toolName)), ("type", .string("tool"))])))
            m.append(("tools", .array([.object([
                ("description", .string("Give the answer as this tool's input.")), ("input_schema", schema),
                ("name", .string(Self.toolName)),
            ])])))
        }
        return .object(m)
    }

    /// The text blocks of `content`, joined, and the `input` of a `tool_use` block (a
    /// structured answer), and `usage`.
    public func reply(_ body: JSONValue) -> Result<LLMReply, LLMWireError> {
        guard case .array(let blocks)? = body["content"] else { return .failure(LLMWireError("no `content` list")) }
        var text = "", structured: JSONValue?
        for (i, b) in blocks.enumerated() {
            switch b["type"] {
            case .string("text")?:
                guard case .string(let t)? = b["text"] else { return .failure(LLMWireError("`content[\(i)].text` is not a string")) }
                text += t
            case .string("tool_use")?:
                guard let input = b["input"], case .object = input else {
                    return .failure(LLMWireError("`content[\(i)].input` is not an object"))
                }
                structured = input
            default: continue
            }
        }
        let u = usage(body)
        var r = LLMReply(text: text, inputTokens: u.input, outputTokens: u.output, totalTokens: u.total)
        r.structured = structured
        return .success(r)
    }

    /// Input: `usage.input_tokens` + `cache_creation_input_tokens` +
    /// `cache_read_input_tokens` (all billed as input); output: `usage.output_tokens`.
    public func usage(_ body: JSONValue?) -> (input: Int64, output: Int64, total: Int64) {
        let u = body?["usage"]
        func count(_ k: String) -> Int64 { if case .int(let t)? = u?[k], t >= 0 { t } else { 0 } }
        let input = LLMReply.sum(LLMReply.sum(count("input_tokens"), count("cache_creation_input_tokens")), count("cache_read_input_tokens"))
        let output = count("output_tokens")
        return (input, output, LLMReply.sum(input, output))
    }

    /// `{"type": "error", "error": {"type", "message"}}` → `type: message`.
    /// `stream: true`: Anthropic's events (`message_start`, `content_block_delta`, …).
    public func streamDecoder() -> any LLMStreamDecoder { AnthropicStreamDecoder() }

    public func errorMessage(_ body: JSONValue?) -> String? {
        guard case .string(let m)? = body?["error"]?["message"] else { return nil }
        if case .string(let t)? = body?["error"]?["type"] { return t + ": " + m }
        return m
    }
}
