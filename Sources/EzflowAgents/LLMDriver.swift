// The `llm` agent driver: a `prompt` task is one OpenAI-compatible chat completion
// (docs/DRIVERS.md).
//
// Request: `POST {agent.url}/chat/completions` (a `url` already ending in
// `/chat/completions` is used as is) with `{"max_tokens"?, "messages": [{"role": "user",
// "content": PROMPT}], "model"}`, `model` = the task's `model` ?? the agent's, `max_tokens`
// = the attempt's token cap (decided by the core at dispatch, `RenderValues.tokenCap`)
// minus the prompt's bound (its messages' UTF-8 bytes), when capped; a prompt whose bound
// leaves no completion is not sent (`prompt_too_large`), a reply over the cap is charged
// and fails `cap_exceeded`; `Authorization: Bearer KEY` where KEY is the
// agent's `api_key` secret (resolved through the run's `SecretResolver`, so registered
// with its redactor), plus the headers of the http driver (Idempotency-Key, X-Ezflow-*).
// Response: `choices[0].message.content` → output `text`; `usage.total_tokens` (else
// prompt + completion) → `DriverResult.tokens` and output `tokens`; when the content is a
// JSON object (optionally inside a ``` fence) its members become outputs too, so a task
// can declare structured outputs. Cost = cost_per_call + tokens × cost_per_1k_tokens /
// 1000 + cost_per_second prorated, each rounded up.
// Errors: 401/403 → `agent_error` ("authentication failed"); 408/409/425/429/5xx,
// refused or reset connections → `transient`; other statuses and malformed responses →
// `agent_error`; the attempt's `timeout_ms` → `timeout`; a cancel → `cancelled`; an
// unresolvable key → the SecretError's class. The result is raw (a key a server echoes is
// still in it): the runner's journal writer redacts it before anything is stored.
import EzflowIR
import EzflowRuntime
import Foundation

/// Runs `prompt` tasks on `llm` agents (OpenAI-compatible chat completions).
public struct LLMDriver: AgentDriver {
    public let tasks: [JSONValue]
    public let agents: [RemoteAgent]
    public let secrets: SecretResolver
    public var redactor: Redactor { secrets.redactor }
    public var options: HTTPOptions

    /// `workflow`: the IR document (root workflow object).
    public init(workflow: JSONValue, secrets: SecretResolver, options: HTTPOptions = HTTPOptions()) {
        let context = RemoteContext(workflow: workflow)
        tasks = context.tasks
        agents = context.agents
        self.secrets = secrets
        self.options = options
    }

    /// The driver for a validated IR program.
    public init(program: IRProgram, secrets: SecretResolver, options: HTTPOptions = HTTPOptions()) {
        self.init(workflow: program.document, secrets: secrets, options: options)
    }

    /// The chat completions endpoint for an agent base URL.
    public static func endpoint(base: String) -> String {
        var b = base.trimmingCharacters(in: .whitespacesAndNewlines)
        while b.hasSuffix("/") { b.removeLast() }
        return b.hasSuffix("/chat/completions") ? b : b + "/chat/completions"
    }

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
        guard let prompt = nt.rendered else { return fail(ErrorClass.configError, "no prompt") }
        guard let url = URL(string: Self.endpoint(base: base)) else { return fail(ErrorClass.configError, "agent `\(ag.name)` has an invalid `url`") }
        if let refused = NetworkTask.checkHost(url, options) { return fail(ErrorClass.configError, refused) }

        var headers = NetworkTask.standardHeaders(runID: runID, task: nt.name, attempt: attempt, idempotencyKey: idempotencyKey,
                                                  options: options)
        switch await nt.apiKey(secrets) {
        case .success(let key?): headers.append(("Authorization", "Bearer " + key))
        case .success(nil): break  // a local server without authentication
        case .failure(let e): return fail(e.errorClass, "agent `\(ag.name)` api_key: \(e.description)")
        }
        let messages = JSONValue.array([.object([("content", .string(prompt)), ("role", .string("user"))])])
        var members: [(String, JSONValue)] = []
        var completionCap: Int64? = nil
        if let cap = values.tokenCap {
            let bound = Self.promptBound(messages)
            guard bound < cap else {
                return fail(ErrorClass.promptTooLarge, "the prompt may use up to \(bound) tokens (its \(bound) bytes), but the attempt's "
                            + "token cap is \(cap) tokens: nothing would be left for the answer; the prompt was not sent")
            }
            completionCap = cap - bound
            members.append(("max_tokens", .int(cap - bound)))
        }
        members.append(("messages", messages))
        members.append(("model", .string(model)))
        let req = HTTPRequest(url: url, headers: headers, body: CanonicalJSON.encode(.object(members)), timeoutMs: nt.timeoutMs,
                              idleTimeoutMs: options.idleTimeoutMs, responseLimit: options.responseLimit)
        let t0 = HTTPClient.nowNs()
        let sent = await HTTPClient.send(req, cancel: cancel)
        let durationMs = Int64((HTTPClient.nowNs() &- t0) / 1_000_000)
        let result = interpret(sent, taskName: nt.name, agent: ag, timeoutMs: nt.timeoutMs, durationMs: durationMs)
        guard let cap = values.tokenCap, let completionCap, case .success(let r) = sent else { return result }
        return Self.enforce(cap: cap, completionCap: completionCap, response: r, result: result, taskName: nt.name, agent: ag.name)
    }

    /// A sound bound on the tokens of the prompt: the UTF-8 bytes of the `messages` JSON
    /// sent (every real tokenizer spends at least one byte per token, and the JSON framing
    /// of each message outweighs the chat template's; docs/DRIVERS.md).
    static func promptBound(_ messages: JSONValue) -> Int64 { Int64(CanonicalJSON.encode(messages).count) }

    /// A server that reports more than the attempt's cap (`usage.completion_tokens` above
    /// the `max_tokens` sent, or more tokens in all than the cap) broke it: the attempt is
    /// charged what was reported and fails `cap_exceeded`.
    static func enforce(cap: Int64, completionCap: Int64, response: HTTPResponse, result: DriverResult, taskName: String,
                        agent: String) -> DriverResult {
        let usage = HTTPText.json(response.body)?["usage"]
        let completion: Int64 = if case .int(let c)? = usage?["completion_tokens"] { c } else { 0 }
        guard completion > completionCap || result.tokens > cap else { return result }
        var r = result
        r.outcome = .failure(errorClass: ErrorClass.capExceeded, message: "task `\(taskName)`: agent `\(agent)` broke the token cap: "
                             + "it reported \(result.tokens) tokens (\(completion) completion) for a cap of \(cap) tokens "
                             + "(\(completionCap) completion sent as `max_tokens`); charged as reported")
        return r
    }

    /// Maps an exchange to a result (see the file comment for the rules).
    func interpret(_ sent: Result<HTTPResponse, HTTPClientError>, taskName: String, agent: RemoteAgent, timeoutMs: Int64?,
                   durationMs: Int64) -> DriverResult {
        let response: HTTPResponse
        switch sent {
        case .success(let r): response = r
        case .failure(let e):
            var r = DriverResult.failed(e.errorClass, "")
            r.durationMs = durationMs
            // A provider bills what it received; a refused connection received nothing.
            if case .connect = e {} else if case .badURL = e {} else { r.costMicros = agent.cost(durationMs: durationMs, tokens: 0) }
            let msg = e == .timeout ? "timed out after \(timeoutMs ?? 0) ms" : e.message
            r.outcome = .failure(errorClass: e.errorClass, message: "task `\(taskName)`: \(msg)")
            return r
        }
        let body = response.body
        let parsed = HTTPText.json(body)
        let tokens = Self.tokens(parsed?["usage"])
        let logText = String(decoding: body.prefix(options.logBodyLimit), as: UTF8.self)
        var result = DriverResult.network(durationMs: durationMs, costMicros: agent.cost(durationMs: durationMs, tokens: tokens),
                                          tokens: tokens, log: logText, logTruncated: body.count > options.logBodyLimit)
        func fail(_ cls: String, _ msg: String) -> DriverResult {
            var r = result
            r.outcome = .failure(errorClass: cls, message: "task `\(taskName)`: \(msg)")
            return r
        }
        let status = response.status
        if !(200..<300).contains(status) {
            // OpenAI-style `{"error": {"message", "type", "code"}}`; else the raw body.
            var detail = ""
            if case .string(let m)? = parsed?["error"]?["message"] { detail = HTTPText.excerpt(Array(m.utf8)) }
            else if case .string(let m)? = parsed?["error"] { detail = HTTPText.excerpt(Array(m.utf8)) }
            else { detail = HTTPText.excerpt(body) }
            let suffix = detail.isEmpty ? "" : ": " + detail
            switch status {
            case 401, 403:
                return fail(ErrorClass.agentError, "authentication failed (HTTP \(status)) at agent `\(agent.name)`" + suffix)
            case 408, 409, 425, 429, 500...599:
                return fail(ErrorClass.transient, "HTTP \(status)" + suffix)
            default:
                return fail(ErrorClass.agentError, "HTTP \(status)" + suffix)
            }
        }
        guard case .object? = parsed else {
            return fail(ErrorClass.agentError, "malformed response: not a JSON object: " + HTTPText.excerpt(body, limit: 120))
        }
        guard case .array(let choices)? = parsed?["choices"], let first = choices.first else {
            return fail(ErrorClass.agentError, "malformed response: no `choices`")
        }
        guard case .string(let content)? = first["message"]?["content"] else {
            return fail(ErrorClass.agentError, "malformed response: `choices[0].message.content` is not a string")
        }
        // Structured outputs first; `text` and `tokens` are the driver's and typed
        // (string, tokens), so members of those names do not replace them.
        var outputs: [(String, JSONValue)] = []
        if case .object(let m)? = Self.jsonObject(in: content) { outputs = m.filter { $0.0 != "text" && $0.0 != "tokens" } }
        outputs.append(("text", .string(content)))
        outputs.append(("tokens", .int(tokens)))
        result.outcome = .success(outputs: .object(outputs))
        return result
    }

    /// `usage.total_tokens`, else `prompt_tokens + completion_tokens`, else 0.
    static func tokens(_ usage: JSONValue?) -> Int64 {
        if case .int(let t)? = usage?["total_tokens"], t >= 0 { return t }
        var sum: Int64 = 0
        for k in ["prompt_tokens", "completion_tokens"] { if case .int(let t)? = usage?[k], t >= 0 { sum = sum.addingReportingOverflow(t).overflow ? sum : sum + t } }
        return sum
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
