// A streamed answer (`stream: true` on an llm agent): the server-sent events of one call
// folded into the same `LLMReply` the whole body would give, with the token cap watched
// while the events arrive (docs/DRIVERS.md, "Streaming").
//
// Per format, an `LLMStreamDecoder`:
// - OpenAI chat completions: each `data:` is a chunk; `choices[0].delta.content` appends
//   text, the last chunk (asked for with `stream_options.include_usage`) carries `usage`,
//   `data: [DONE]` ends the stream; a chunk `{"error": …}` fails it.
// - Anthropic Messages: `message_start` (`message.usage.input_tokens`, plus the cache
//   reads and writes, billed as input), `content_block_delta`
//   (`delta.text_delta.text` appends text, `input_json_delta.partial_json` the forced tool's
//   JSON, whose `content_block_start` begins it afresh: the last tool block is the answer,
//   as in the whole body), `message_delta` (`usage.output_tokens`, cumulative), `message_stop` ends it;
//   `error` fails it (`overloaded_error`/`api_error` → `transient`).
//
// The cap: completion tokens seen = the largest cumulative count reported, or one per
// content delta when that is more (no delta carries less than one token). As soon as that
// exceeds the `max_tokens` sent, or the input reported plus it exceeds the attempt's cap, the
// driver stops reading and cancels the request.
import EzflowIR
import EzflowRuntime
import Foundation
import Synchronization

/// What a streamed answer came to so far.
public struct LLMStreamState: Sendable, Equatable {
    public var text = ""
    /// The forced tool's input JSON, in pieces (Anthropic structured outputs).
    public var toolJSON = ""
    /// A tool block arrived (its start or a piece of its JSON).
    public var toolBlock = false
    public var inputTokens: Int64 = 0
    /// The largest cumulative completion count the server reported.
    public var outputTokens: Int64 = 0
    /// A total the server reported (OpenAI `usage.total_tokens`).
    public var totalTokens: Int64?
    /// Content delta events seen (text or tool JSON).
    public var deltas: Int64 = 0
    /// The stream's own end (`[DONE]`, `message_stop`) arrived.
    public var finished = false
    /// The stream reported an error: its class and message.
    public var failure: (cls: String, message: String)?

    public init() {}

    /// Completion tokens certainly spent: the count reported, or one per delta if more.
    public var completionSeen: Int64 { max(outputTokens, deltas) }

    /// The answer as the whole body would give it: the reported usage, its text, and the
    /// forced tool's input as `structured` (nil when that JSON is not an object:
    /// `malformedTool`), so the driver reads both alike.
    public var reply: LLMReply {
        LLMReply(text: text, inputTokens: inputTokens, outputTokens: outputTokens, totalTokens: totalTokens, structured: toolInput)
    }

    /// The tool block's input: its JSON (a block without pieces has the empty input `{}`).
    var toolInput: JSONValue? {
        guard toolBlock, let v = try? JSONParser.parse(Array((toolJSON.isEmpty ? "{}" : toolJSON).utf8)), case .object = v else { return nil }
        return v
    }

    /// A tool block whose JSON is not an object (the whole body's `input` must be one).
    public var malformedTool: Bool { toolBlock && toolInput == nil }

    /// What a stream cut short is charged: the input reported so far plus the completion seen.
    public var chargedIfCut: Int64 { LLMReply.sum(inputTokens, completionSeen) }

    public static func == (a: Self, b: Self) -> Bool {
        a.text == b.text && a.toolJSON == b.toolJSON && a.toolBlock == b.toolBlock && a.inputTokens == b.inputTokens && a.outputTokens == b.outputTokens
            && a.totalTokens == b.totalTokens && a.deltas == b.deltas && a.finished == b.finished
            && a.failure?.cls == b.failure?.cls && a.failure?.message == b.failure?.message
    }
}

/// Folds one format's server-sent events into an `LLMStreamState`.
public protocol LLMStreamDecoder: Sendable {
    func fold(_ event: SSEEvent, into s: inout LLMStreamState)
}

/// The OpenAI-compatible chunk stream.
public struct OpenAIStreamDecoder: LLMStreamDecoder {
    public init() {}

    public func fold(_ event: SSEEvent, into s: inout LLMStreamState) {
        if event.data.trimmingCharacters(in: .whitespaces) == "[DONE]" { s.finished = true; return }
        guard let chunk = try? JSONParser.parse(Array(event.data.utf8)) else {
            s.failure = (ErrorClass.agentError, "malformed stream: a chunk is not JSON: " + HTTPText.excerpt(Array(event.data.utf8), limit: 120))
            return
        }
        if let m = OpenAIWire().errorMessage(chunk) { s.failure = (ErrorClass.agentError, m); return }
        if case .array(let choices)? = chunk["choices"], let first = choices.first,
           case .string(let piece)? = first["delta"]?["content"], !piece.isEmpty {
            s.text += piece
            s.deltas += 1
        }
        if case .object? = chunk["usage"] {
            let u = OpenAIWire().usage(chunk)
            s.inputTokens = u.input
            s.outputTokens = max(s.outputTokens, u.output)
            s.totalTokens = u.total
        }
    }
}

/// The Anthropic Messages event stream.
public struct AnthropicStreamDecoder: LLMStreamDecoder {
    public init() {}

    public func fold(_ event: SSEEvent, into s: inout LLMStreamState) {
        guard let e = try? JSONParser.parse(Array(event.data.utf8)) else {
            s.failure = (ErrorClass.agentError, "malformed stream: an event is not JSON: " + HTTPText.excerpt(Array(event.data.utf8), limit: 120))
            return
        }
        let type: String = if case .string(let t)? = e["type"] { t } else { event.name ?? "" }
        func count(_ v: JSONValue?) -> Int64? { if case .int(let n)? = v, n >= 0 { n } else { nil } }
        // Input as the whole body counts it: cache writes and reads are billed as input too.
        func input(_ u: JSONValue?) -> Int64? {
            let parts = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"].compactMap { count(u?[$0]) }
            return parts.isEmpty ? nil : parts.reduce(0, LLMReply.sum)
        }
        switch type {
        case "message_start":
            if let n = input(e["message"]?["usage"]) { s.inputTokens = n }
            if let n = count(e["message"]?["usage"]?["output_tokens"]) { s.outputTokens = max(s.outputTokens, n) }
        case "content_block_start":
            if case .string("tool_use")? = e["content_block"]?["type"] { s.toolBlock = true; s.toolJSON = "" }
        case "content_block_delta":
            let d = e["delta"]
            if case .string("text_delta")? = d?["type"], case .string(let piece)? = d?["text"] {
                s.text += piece
                s.deltas += 1
            } else if case .string("input_json_delta")? = d?["type"], case .string(let piece)? = d?["partial_json"] {
                s.toolJSON += piece
                s.toolBlock = true
                s.deltas += 1
            }
        case "message_delta":
            if let n = count(e["usage"]?["output_tokens"]) { s.outputTokens = max(s.outputTokens, n) }
            if let n = input(e["usage"]) { s.inputTokens = n }
        case "message_stop":
            s.finished = true
        case "error":
            let kind: String = if case .string(let k)? = e["error"]?["type"] { k } else { "error" }
            let msg: String = if case .string(let m)? = e["error"]?["message"] { m } else { kind }
            let transient = kind == "overloaded_error" || kind == "api_error" || kind == "rate_limit_error"
            s.failure = (transient ? ErrorClass.transient : ErrorClass.agentError, "\(kind): \(msg)")
        default:
            break  // ping, content_block_stop
        }
    }
}

/// One streamed call's reading side, shared with the HTTP client's callback: parses the
/// bytes, folds the events, and says when to stop reading (the end, an error, the cap).
public final class LLMStreamFeed: Sendable {
    struct Inner {
        var parser = SSEParser()
        var state = LLMStreamState()
        /// Reading stopped because the completion seen went over the cap.
        var overCap = false
    }

    private let inner = Mutex<Inner>(Inner())
    let decoder: any LLMStreamDecoder
    /// The `max_tokens` sent and the attempt's whole cap; nil: uncapped.
    public let completionCap: Int64?
    public let cap: Int64?

    public init(decoder: any LLMStreamDecoder, completionCap: Int64?, cap: Int64?) {
        self.decoder = decoder
        self.completionCap = completionCap
        self.cap = cap
    }

    public var state: LLMStreamState { inner.withLock { $0.state } }
    public var overCap: Bool { inner.withLock { $0.overCap } }

    /// Takes the next piece of a 2xx body; false: stop reading.
    public func receive(_ bytes: [UInt8]) -> Bool {
        inner.withLock { x in
            for e in x.parser.feed(bytes) {
                decoder.fold(e, into: &x.state)
                if let c = completionCap, x.state.completionSeen > c { x.overCap = true }
                if let c = cap, x.state.chargedIfCut > c { x.overCap = true }
                if x.overCap || x.state.finished || x.state.failure != nil { return false }
            }
            return true
        }
    }
}
