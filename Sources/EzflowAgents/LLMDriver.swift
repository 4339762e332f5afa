// The `llm` agent driver: a `prompt` task is one model call in the agent's wire format
// (`LLMWire`: OpenAIWire, AnthropicWire by the agent's `format`; docs/DRIVERS.md).
//
// Request: the format's endpoint and body for the `LLMCall` decided here:
// `model` = the task's `model` ?? the agent's; the prompt (`LLMPrompt.render`: `system`,
// `messages`, the prompt last), `temperature`, `stop` and the schema of the declared
// outputs (`OutputSchema`); `max_tokens` = the task's, at most the attempt's token cap
// (decided by the core at dispatch, `RenderValues.tokenCap`) minus the input's bound
// (`LLMPrompt.bound(task:types:)`, as the core measured it), when capped; an input whose
// bound leaves no completion is not sent (`prompt_too_large`), a reply over the cap is
// charged and fails `cap_exceeded`; what the format cannot send (Anthropic: no cap, a
// temperature) is not sent (`config_error`); the format's key header (`Authorization:
// Bearer KEY`, `x-api-key: KEY`) where KEY is the agent's `api_key` secret (resolved through the run's `SecretResolver`, so registered
// with its redactor), plus the headers of the http driver (Idempotency-Key, X-Ezflow-*).
// Response: the format's answer text → output `text`; the tokens it reports in all →
// `DriverResult.tokens` and output `tokens`; the conversation (messages sent without the
// system prompt, then the answer) → output `messages`. Declared outputs are read from the
// format's structured answer (`LLMReply.structured`: Anthropic's forced tool), else from the
// answer as a JSON object (optionally inside a ``` fence), and held to their types
// (`OutputContract`: `output_error` otherwise); without them the members of a JSON answer
// are offered as outputs as they are. Cost = cost_per_call + tokens × cost_per_1k_tokens /
// 1000 + (input × input price + output × output price of the model) / 1000 +
// cost_per_second prorated, each rounded up (RemoteAgent.cost).
// Errors: 401/403 → `agent_error` ("authentication failed"); 408/409/425/429/5xx (529:
// overloaded), refused or reset connections → `transient`, with the server's
// `Retry-After`/`retry-after-ms` on 429/503/529 as `DriverResult.retryAfterMs`; other statuses and malformed responses →
// `agent_error`; the attempt's `timeout_ms` → `timeout`; a cancel → `cancelled`; an
// unresolvable key → the SecretError's class. The result is raw (a key a server echoes is
// still in it): the runner's journal writer redacts it before anything is stored.
import EzflowIR
import EzflowRuntime
import Foundation

/// Runs `prompt` tasks on `llm` agents (OpenAI-compatible chat completions).
public struct LLMDriver: AgentDriver {
    public let tasks: [JSONValue]
    /// The named types of each task's workflow (`RemoteContext.types`).
    public let types: [JSONValue?]
    public let agents: [RemoteAgent]
    public let secrets: SecretResolver
    public var redactor: Redactor { secrets.redactor }
    public var options: HTTPOptions

    /// `workflow`: the IR document (root workflow object).
    public init(workflow: JSONValue, secrets: SecretResolver, options: HTTPOptions = HTTPOptions()) {
        let context = RemoteContext(workflow: workflow)
        tasks = context.tasks
        types = context.types
        agents = context.agents
        self.secrets = secrets
        self.options = options
    }

    /// The driver for a validated IR program.
    public init(program: IRProgram, secrets: SecretResolver, options: HTTPOptions = HTTPOptions()) {
        self.init(workflow: program.document, secrets: secrets, options: options)
    }

    /// The chat completions endpoint for an agent base URL.
    public static func endpoint(base: String) -> String { OpenAIWire().endpoint(base: base) }

    /// The wire format of agent `ag` (`format:` on the agent; OpenAI-compatible by default).
    public static func wire(_ ag: RemoteAgent) -> any LLMWire { ag.format == "anthropic" ? AnthropicWire() : OpenAIWire() }

    /// Runs attempt `attempt` of `prompt` task `task` on agent `agent` (an IR agent index).
    public func run(task: Int, attempt: Int, agent: Int, idempotencyKey: String, runID: String, values: RenderValues,
                    cancel: CancelToken? = nil) async -> DriverResult {
        let (prepared, failed) = await NetworkTask.prepare(tasks: tasks, agents: agents, secrets: secrets, options: options,
                                                           task: task, agent: agent, values: values, action: "prompt", driver: "llm")
        guard let nt = prepared else { return failed! }
        func fail(_ cls: String, _ msg: String) -> DriverResult {
            .failed(cls, "task `\(nt.name)`: \(msg)")
        }
        guard let ag = nt.agent else { return fail(ErrorClass.configError, "the llm driver needs an agent (got index \(agent))") }
        guard let base = ag.url, !base.isEmpty else { return fail(ErrorClass.configError, "agent `\(ag.name)` has no `url`") }
        let taskModel: String? = if case .string(let m)? = nt.ir["model"] { m } else { nil }
        guard let model = taskModel ?? ag.model else {
            return fail(ErrorClass.configError, "no `model` on the task or on agent `\(ag.name)`")
        }
        let wire = Self.wire(ag)
        guard let url = URL(string: wire.endpoint(base: base)) else { return fail(ErrorClass.configError, "agent `\(ag.name)` has an invalid `url`") }
        if let refused = NetworkTask.checkHost(url, options) { return fail(ErrorClass.configError, refused) }

        var headers = NetworkTask.standardHeaders(runID: runID, task: nt.name, attempt: attempt, idempotencyKey: idempotencyKey,
                                                  options: options)
        switch await nt.apiKey(secrets) {
        case .success(let key): headers.append(contentsOf: wire.headers(apiKey: key))
        case .failure(let e): return fail(e.errorClass, "agent `\(ag.name)` api_key: \(e.description)")
        }
        let types = taskTypes(task)
        var call: LLMCall
        switch Self.call(task: nt.ir, model: model, types: types, values: nt.values) {
        case .success(let c): call = c
        case .failure(let e): return fail(ErrorClass.renderError, e.message)
        }
        call.stream = ag.stream
        // The input's bound, as `LLMPrompt.bound(task:types:)` measures it for the core:
        // the call's schema is `OutputSchema.of(task:types:)` (`Self.call`).
        let bound = call.prompt.bound(extra: call.outputSchema)
        if let cap = values.tokenCap {
            // The core reserved `cap` = the input's bound + `max_tokens` (or less, when a
            // budget is tighter); measured again here from the same bytes.
            guard bound < cap else {
                return fail(ErrorClass.promptTooLarge, "the prompt may use up to \(bound) tokens (its \(bound) bytes), but the attempt's "
                            + "token cap is \(cap) tokens: nothing would be left for the answer; the prompt was not sent")
            }
            call.maxTokens = cap - bound
            if case .int(let m)? = nt.ir["max_tokens"], m > 0 { call.maxTokens = min(m, cap - bound) }
        }
        if let refused = Self.refusedByFormat(call, wire: wire, agent: ag.name) { return fail(ErrorClass.configError, refused) }
        let req = HTTPRequest(url: url, headers: headers, body: CanonicalJSON.encode(wire.body(call)), timeoutMs: nt.timeoutMs,
                              idleTimeoutMs: options.idleTimeoutMs, responseLimit: options.responseLimit)
        let t0 = HTTPClient.nowNs()
        let feed = call.stream ? LLMStreamFeed(decoder: wire.streamDecoder(), completionCap: call.maxTokens, cap: values.tokenCap) : nil
        let sent = if let feed { await HTTPClient.stream(req, cancel: cancel, onBytes: feed.receive) } else { await HTTPClient.send(req, cancel: cancel) }
        let durationMs = Int64((HTTPClient.nowNs() &- t0) / 1_000_000)
        let result = interpret(sent, wire: wire, call: call, declared: OutputSchema.declared(task: nt.ir, types: types),
                               feed: feed, taskName: nt.name, agent: ag, model: model, timeoutMs: nt.timeoutMs, durationMs: durationMs)
        guard let cap = values.tokenCap, let completionCap = call.maxTokens, case .success(let r) = sent, feed?.overCap != true else {
            return result
        }
        let usage = feed.map { (input: $0.state.inputTokens, output: $0.state.completionSeen) }
            ?? { let u = wire.usage(HTTPText.json(r.body)); return (input: u.input, output: u.output) }()
        // With input and output priced apart the reservation counts the input's bound at
        // the input price: more input than that breaks it as surely as a long answer.
        let split = ag.splitPrices(model: model)
        if split.inputMicros > 0 || split.outputMicros > 0 {
            if usage.input > bound { return Self.inputOverBound(result, input: usage.input, bound: bound, taskName: nt.name, agent: ag.name) }
        }
        return Self.enforce(cap: cap, completionCap: completionCap, completion: usage.output, result: result, taskName: nt.name, agent: ag.name)
    }

    /// A reply reporting more input tokens than the input has bytes broke the cap (a token
    /// is at least one byte): charged as reported, failed `cap_exceeded`.
    static func inputOverBound(_ result: DriverResult, input: Int64, bound: Int64, taskName: String, agent: String) -> DriverResult {
        var r = result
        r.outcome = .failure(errorClass: ErrorClass.capExceeded, message: "task `\(taskName)`: agent `\(agent)` broke the token cap: "
                             + "it reported \(input) input tokens for a prompt of \(bound) bytes (a token is at least one byte); "
                             + "charged as reported")
        return r
    }

    /// The call for IR task `task` without its cap: the prompt (`LLMPrompt.render`, as the core
    /// measures it), `temperature`, `stop` and the schema of its declared outputs.
    static func call(task: JSONValue, model: String, types: JSONValue?, values: RenderValues) -> Result<LLMCall, ExprError> {
        let prompt: LLMPrompt
        do throws(ExprError) { prompt = try LLMPrompt.render(task: task, in: values) } catch { return .failure(error) }
        var call = LLMCall(model: model, prompt: prompt, outputSchema: OutputSchema.of(task: task, types: types))
        if case .int(let ppm)? = task["temperature_ppm"] { call.temperature = Double(ppm) / 1_000_000 }
        if case .array(let stop)? = task["stop"] { call.stop = stop.compactMap { if case .string(let s) = $0 { s } else { nil } } }
        return .success(call)
    }

    /// The named types task `task`'s outputs may use (its workflow's `types`).
    func taskTypes(_ task: Int) -> JSONValue? { task >= 0 && task < types.count ? types[task] : nil }

    /// What the agent's format cannot send, so the call is not sent (`config_error`): the
    /// Anthropic Messages API requires `max_tokens` (E0609 refuses the task before the
    /// run) and has no `temperature` (its SDK's request type has none).
    public static func refusedByFormat(_ call: LLMCall, wire: any LLMWire, agent: String) -> String? {
        guard wire is AnthropicWire else { return nil }
        if call.maxTokens == nil {
            return "agent `\(agent)` speaks the Anthropic format, which requires `max_tokens`, and the task has none "
                + "(`ezc check` refuses this, E0609); the prompt was not sent"
        }
        if call.temperature != nil {
            return "agent `\(agent)` speaks the Anthropic format, whose requests take no `temperature`; the prompt was not sent"
        }
        return nil
    }

    /// A server that reports more than the attempt's cap (completion tokens above the
    /// `max_tokens` sent, or more tokens in all than the cap) broke it: the attempt is
    /// charged what was reported and fails `cap_exceeded`.
    static func enforce(cap: Int64, completionCap: Int64, completion: Int64, result: DriverResult, taskName: String,
                        agent: String) -> DriverResult {
        guard completion > completionCap || result.tokens > cap else { return result }
        var r = result
        r.outcome = .failure(errorClass: ErrorClass.capExceeded, message: "task `\(taskName)`: agent `\(agent)` broke the token cap: "
                             + "it reported \(result.tokens) tokens (\(completion) completion) for a cap of \(cap) tokens "
                             + "(\(completionCap) completion sent as `max_tokens`); charged as reported")
        return r
    }

    /// Maps an exchange to a result (see the file comment for the rules).
    /// `feed`: the streamed answer's reader, when the call streamed.
    func interpret(_ sent: Result<HTTPResponse, HTTPClientError>, wire: any LLMWire, call: LLMCall, declared: [OutputField]?,
                   feed: LLMStreamFeed? = nil, taskName: String, agent: RemoteAgent, model: String? = nil, timeoutMs: Int64?,
                   durationMs: Int64) -> DriverResult {
        let response: HTTPResponse
        switch sent {
        case .success(let r): response = r
        case .failure(let e):
            var r = DriverResult.failed(e.errorClass, "")
            r.durationMs = durationMs
            // A provider bills what it received; a refused connection received nothing.
            if case .connect = e {} else if case .badURL = e {} else {
                // A stream cut by a timeout or a dropped connection: what was seen was spent.
                r.tokens = feed?.state.chargedIfCut ?? 0
                r.costMicros = agent.cost(durationMs: durationMs, tokens: r.tokens, input: feed?.state.inputTokens ?? 0,
                                          output: feed?.state.completionSeen ?? 0, model: model)
            }
            let msg = e == .timeout ? "timed out after \(timeoutMs ?? 0) ms" : e.message
            r.outcome = .failure(errorClass: e.errorClass, message: "task `\(taskName)`: \(msg)")
            return r
        }
        let body = response.body
        let parsed = HTTPText.json(body)
        // A 2xx stream: its events, charged at least what was seen (docs/DRIVERS.md, "Streaming").
        let streamed = (200..<300).contains(response.status) ? feed?.state : nil
        let usage = streamed.map { (input: $0.inputTokens, output: $0.completionSeen, total: max($0.reply.totalTokens, $0.chargedIfCut)) }
            ?? wire.usage(parsed)
        let tokens = usage.total
        let logText = String(decoding: body.prefix(options.logBodyLimit), as: UTF8.self)
        let cost = agent.cost(durationMs: durationMs, tokens: tokens, input: usage.input, output: usage.output, model: model)
        var result = DriverResult.network(durationMs: durationMs, costMicros: cost,
                                          tokens: tokens, log: logText, logTruncated: body.count > options.logBodyLimit)
        func fail(_ cls: String, _ msg: String) -> DriverResult {
            var r = result
            r.outcome = .failure(errorClass: cls, message: "task `\(taskName)`: \(msg)")
            return r
        }
        let status = response.status
        if !(200..<300).contains(status) {
            // The format's error message; else the raw body.
            let detail = wire.errorMessage(parsed).map { HTTPText.excerpt(Array($0.utf8)) } ?? HTTPText.excerpt(body)
            let suffix = detail.isEmpty ? "" : ": " + detail
            switch status {
            case 401, 403:
                return fail(ErrorClass.agentError, "authentication failed (HTTP \(status)) at agent `\(agent.name)`" + suffix)
            case 408, 409, 425, 429, 500...599: // 529: Anthropic's "overloaded"
                var r = fail(ErrorClass.transient, "HTTP \(status)" + suffix)
                r.retryAfterMs = RetryAfter.ms(status: status, headers: response.headers)
                return r
            default:
                return fail(ErrorClass.agentError, "HTTP \(status)" + suffix)
            }
        }
        let reply: LLMReply
        if let s = streamed, let feed {
            if let (cls, msg) = Self.streamStop(s, feed, charged: tokens, agent: agent.name) { return fail(cls, msg) }
            reply = s.reply
        } else {
            guard let parsed, case .object = parsed else {
                return fail(ErrorClass.agentError, "malformed response: not a JSON object: " + HTTPText.excerpt(body, limit: 120))
            }
            switch wire.reply(parsed) {
            case .success(let r): reply = r
            case .failure(let e): return fail(ErrorClass.agentError, "malformed response: " + e.message)
            }
        }
        // A structured answer given apart from the text (Anthropic's tool input) is the
        // answer's text too when there is no other, so `text` and `messages` carry it.
        let content = reply.text.isEmpty ? reply.structured.map { String(decoding: CanonicalJSON.encode($0), as: UTF8.self) } ?? "" : reply.text
        var outputs: [(String, JSONValue)]
        if let declared {
            // Structured outputs: the reply must be exactly what the task declares.
            let answer = reply.structured ?? Self.jsonObject(in: content)
            switch OutputContract.check(task: taskName, fields: declared, reply: answer) {
            case .success(let checked): outputs = checked
            case .failure(let m):
                var r = result
                let prose = answer == nil && !content.isEmpty ? ": `\(HTTPText.excerpt(Array(content.utf8), limit: 80))`" : ""
                r.outcome = .failure(errorClass: OutputContract.errorClass, message: m.message + prose)
                return r
            }
        } else {
            // No declared outputs: the members of a JSON answer are offered as they are.
            outputs = []
            if case .object(let m)? = reply.structured ?? Self.jsonObject(in: content) { outputs = m.filter { !OutputSchema.implicitNames.contains($0.0) } }
        }
        // `text`, `tokens` and `messages` are the driver's and typed, so members of those
        // names never replace them.
        outputs.append(("messages", call.prompt.conversation(answer: content)))
        outputs.append(("text", .string(content)))
        outputs.append(("tokens", .int(tokens)))
        result.outcome = .success(outputs: .object(outputs))
        return result
    }

    /// Why a 2xx stream gives no answer, if it does not: over the cap (reading stopped), an
    /// error event, an end that never came (the connection closed mid-answer), or a tool
    /// input that is not a JSON object.
    static func streamStop(_ s: LLMStreamState, _ feed: LLMStreamFeed, charged: Int64, agent: String) -> (String, String)? {
        if feed.overCap {
            let sent = feed.completionCap.map { "\($0) completion tokens sent as `max_tokens`" } ?? "no `max_tokens`"
            return (ErrorClass.capExceeded, "agent `\(agent)` broke the token cap while streaming: \(s.completionSeen) completion "
                    + "tokens seen for \(sent) (a cap of \(feed.cap ?? 0) tokens); reading stopped and the request was cancelled; "
                    + "charged the \(charged) tokens seen")
        }
        if let f = s.failure { return (f.cls, "the stream reported an error: " + HTTPText.excerpt(Array(f.message.utf8))) }
        if !s.finished {
            return (ErrorClass.transient, "the stream ended before the answer did (the connection closed after \(s.deltas) "
                    + "pieces of it); charged the \(charged) tokens seen")
        }
        if s.malformedTool {
            return (ErrorClass.agentError, "malformed stream: the `\(AnthropicWire.toolName)` tool's input is not a JSON object: "
                    + HTTPText.excerpt(Array(s.toolJSON.utf8), limit: 120))
        }
        return nil
    }

    /// The content as a JSON object: the whole text, or the inside of one ``` fence
    /// (models often wrap JSON in ```json … ```).
    static func jsonObject(in content: String) -> JSONValue? {
        var s = content.trimmingCharacters(in: .whitespacesAndNewlines)
        if s.hasPrefix("```") && s.hasSuffix("```") && s.count >= 6 {
            s = String(s.dropFirst(3).dropLast(3))
            // Drop the info string (`json`) on the fence line.
            if let nl = s.firstIndex(of: "\n") { s = String(s[s.index(after: nl)...]) }
            s = s.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard s.hasPrefix("{"), case .object? = try? JSONParser.parse(Array(s.utf8)) else { return nil }
        return try? JSONParser.parse(Array(s.utf8))
    }
}
