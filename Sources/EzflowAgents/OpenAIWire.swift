// The OpenAI-compatible chat completions format (`POST …/chat/completions`), spoken by
// OpenAI and most local servers (vLLM, llama.cpp, Ollama): docs/DRIVERS.md.
import EzflowIR
import EzflowRuntime

/// `format: openai` (the default).
public struct OpenAIWire: LLMWire {
    public init() {}

    public func endpoint(base: String) -> String {
        var b = base.trimmingCharacters(in: .whitespacesAndNewlines)
        while b.hasSuffix("/") { b.removeLast() }
        return b.hasSuffix("/chat/completions") ? b : b + "/chat/completions"
    }

    public func headers(apiKey: String?) -> [(String, String)] {
        apiKey.map { [("Authorization", "Bearer " + $0)] } ?? []
    }

    /// `{"max_tokens"?, "messages": [{"content", "role"}…], "model", "response_format"?,
    /// "stop"?, "stream"?, "stream_options"?, "temperature"?}`; the system prompt is the
    /// first message; a schema of declared outputs is `response_format` `json_schema` named
    /// `outputs`, strict when OpenAI's strict mode can say it (`OutputSchema.isStrict`); a
    /// streamed call asks for the usage chunk (`include_usage`): the tokens are charged from it.
    public func body(_ call: LLMCall) -> JSONValue {
        var members: [(String, JSONValue)] = []
        if let cap = call.maxTokens { members.append(("max_tokens", .int(cap))) }
        members.append(("messages", call.prompt.json))
        members.append(("model", .string(call.model)))
        if let schema = call.outputSchema {
            let spec: JSONValue = .object([("name", .string("outputs")), ("schema", schema), ("strict", .bool(OutputSchema.isStrict(schema)))])
            members.append(("response_format", .object([("json_schema", spec), ("type", .string("json_schema"))])))
        }
        if !call.stop.isEmpty { members.append(("stop", .array(call.stop.map { .string($0) }))) }
        if call.stream {
            members.append(("stream", .bool(true)))
            members.append(("stream_options", .object([("include_usage", .bool(true))])))
        }
        if let t = call.temperature { members.append(("temperature", .float(t))) }
        return .object(members)
    }

    public func streamDecoder() -> any LLMStreamDecoder { OpenAIStreamDecoder() }

    /// `choices[0].message.content`, and `usage`.
    public func reply(_ body: JSONValue) -> Result<LLMReply, LLMWireError> {
        guard case .array(let choices)? = body["choices"], let first = choices.first else {
            return .failure(LLMWireError("no `choices`"))
        }
        guard case .string(let content)? = first["message"]?["content"] else {
            return .failure(LLMWireError("`choices[0].message.content` is not a string"))
        }
        let u = usage(body)
        return .success(LLMReply(text: content, inputTokens: u.input, outputTokens: u.output, totalTokens: u.total))
    }

    /// `usage.prompt_tokens`/`completion_tokens`; in all `usage.total_tokens`, else their sum.
    public func usage(_ body: JSONValue?) -> (input: Int64, output: Int64, total: Int64) {
        let u = body?["usage"]
        func count(_ k: String) -> Int64 { if case .int(let t)? = u?[k], t >= 0 { t } else { 0 } }
        let input = count("prompt_tokens"), output = count("completion_tokens")
        if case .int(let t)? = u?["total_tokens"], t >= 0 { return (input, output, t) }
        return (input, output, LLMReply.sum(input, output))
    }

    /// `{"error": {"message"}}` or `{"error": "…"}`.
    public func errorMessage(_ body: JSONValue?) -> String? {
        if case .string(let m)? = body?["error"]?["message"] { return m }
        if case .string(let m)? = body?["error"] { return m }
        return nil
    }
}
