// One model call, whatever the wire format: what the llm driver decided to send
// (`LLMCall`) and what it read back (`LLMReply`). A wire format (`LLMWire`) only turns one
// into bytes and bytes into the other, so the cap, the cost and the outputs are decided
// once, in LLMDriver, for every format (docs/DRIVERS.md).
import EzflowIR
import EzflowRuntime

/// The request of one attempt, format-neutral.
public struct LLMCall: Sendable {
    public var model: String
    public var prompt: LLMPrompt
    /// The completion cap sent as `max_tokens`; nil: none sent (an uncapped task).
    public var maxTokens: Int64?
    /// Sampling temperature passed through; nil: the server's default.
    public var temperature: Double?
    /// Stop sequences passed through (OpenAI `stop`, Anthropic `stop_sequences`).
    public var stop: [String]
    /// The JSON schema of the task's declared outputs (structured outputs); nil: free text.
    public var outputSchema: JSONValue?
    /// Ask for the answer as server-sent events (`stream: true` on the agent).
    public var stream: Bool

    public init(model: String, prompt: LLMPrompt, maxTokens: Int64? = nil, temperature: Double? = nil, stop: [String] = [],
                outputSchema: JSONValue? = nil, stream: Bool = false) {
        self.model = model
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.stop = stop
        self.outputSchema = outputSchema
        self.stream = stream
    }
}

/// The answer of one attempt, format-neutral.
public struct LLMReply: Sendable, Equatable {
    /// The answer's text.
    public var text: String
    /// Tokens the server reported: prompt (input), completion (output) and in all.
    public var inputTokens: Int64
    public var outputTokens: Int64
    public var totalTokens: Int64
    /// A structured answer given apart from the text (Anthropic: the forced tool's
    /// `input`); nil when the format gives it in the text (OpenAI) or there is none.
    public var structured: JSONValue?

    public init(text: String, inputTokens: Int64, outputTokens: Int64, totalTokens: Int64? = nil, structured: JSONValue? = nil) {
        self.text = text
        self.structured = structured
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.totalTokens = totalTokens ?? Self.sum(inputTokens, outputTokens)
    }

    static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (s, o) = max(0, a).addingReportingOverflow(max(0, b))
        return o ? .max : s
    }
}

/// A wire format of the llm driver: where a call goes, how it is written and read.
public protocol LLMWire: Sendable {
    /// The endpoint for an agent's base `url`.
    func endpoint(base: String) -> String
    /// The headers that carry the API key (nil: no key) and the format's own.
    func headers(apiKey: String?) -> [(String, String)]
    /// The request body.
    func body(_ call: LLMCall) -> JSONValue
    /// The answer in a 2xx body; a failure names what is malformed.
    func reply(_ body: JSONValue) -> Result<LLMReply, LLMWireError>
    /// Tokens reported in a body, whatever its status (a failed call may still bill).
    func usage(_ body: JSONValue?) -> (input: Int64, output: Int64, total: Int64)
    /// The provider's message in an error body, if any.
    func errorMessage(_ body: JSONValue?) -> String?
    /// Reads the format's server-sent events when the call streams (LLMStream.swift).
    func streamDecoder() -> any LLMStreamDecoder
}

/// A 2xx answer the driver cannot read: its message says which field is wrong.
public struct LLMWireError: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
