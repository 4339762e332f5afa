// The `http` agent driver: a `call` task is one POST (docs/DRIVERS.md).
//
// URL: the task's rendered template; a full `http(s)://` URL is used as is, anything
// else is a path joined to the agent's `url`. `HTTPOptions.allowedHosts` may limit hosts.
// Request: `POST`, body = the task document the exec driver writes to stdin
// (`{attempt, deps, idempotency_key, inputs, item, run_id, task, task_id, text}`, `text`
// = the rendered URL), headers `Content-Type: application/json`, `Idempotency-Key`,
// `X-Ezflow-Run-Id`, `X-Ezflow-Task`, `X-Ezflow-Attempt`, and `Authorization: Bearer`
// when the agent has an `api_key`.
// Result: a body `{"error": {"class", "message"}}` → that class (any status; without a
// class: `agent_error` on 2xx, the status rule otherwise); 2xx → success, outputs = the
// members of a JSON object body plus the implicit `status` (int) and `body` (the parsed
// JSON, or the text); 408/425/429/502/503/504/529, connection refused or reset → `transient`
// (on 429/503/529 a `Retry-After` or `retry-after-ms` becomes `DriverResult.retryAfterMs`);
// other statuses → `agent_error` with a short excerpt; the attempt's `timeout_ms` →
// `timeout`; a cancel → `cancelled`. A task's declared outputs are held to their types
// (`holding`, OutputCheck.swift): one missing or mistyped fails the attempt `output_error`;
// the implicit `status` and `body` and other members stay. The result is raw (a secret a server echoes back is
// still in it): the runner's journal writer redacts outputs, messages and the log.
import EzflowIR
import EzflowRuntime
import Foundation

/// Runs `call` tasks of one IR workflow as HTTP POSTs.
public struct HTTPDriver: AgentDriver {
    /// IR task objects by id and agents by IR agent index.
    public let tasks: [JSONValue]
    public let agents: [RemoteAgent]
    /// The named types of each task's workflow (`RemoteContext.types`), for its declared outputs.
    public let types: [JSONValue?]
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

    /// Runs attempt `attempt` of task `task` on agent `agent` (an IR agent index; -1: no
    /// agent, the template must then be a full URL).
    public func run(task: Int, attempt: Int, agent: Int, idempotencyKey: String, runID: String, values: RenderValues,
                    cancel: CancelToken? = nil) async -> DriverResult {
        let (prepared, failed) = await NetworkTask.prepare(tasks: tasks, agents: agents, secrets: secrets, options: options,
                                                           task: task, agent: agent, values: values, action: "call", driver: "http")
        guard let nt = prepared else { return failed! }
        func fail(_ cls: String, _ msg: String) -> DriverResult {
            .failed(cls, "task `\(nt.name)`: \(msg)")
        }
        guard let target = nt.rendered else { return fail(ErrorClass.configError, "no URL to call") }
        let url: URL
        switch NetworkTask.resolveURL(target, base: nt.agent?.url) {
        case .success(let u): url = u
        case .failure(let p): return fail(ErrorClass.configError, p.message)
        }
        if let refused = NetworkTask.checkHost(url, options) { return fail(ErrorClass.configError, refused) }

        var headers = NetworkTask.standardHeaders(runID: runID, task: nt.name, attempt: attempt, idempotencyKey: idempotencyKey,
                                                  options: options)
        switch await nt.apiKey(secrets) {
        case .success(let key?): headers.append(("Authorization", "Bearer " + key))
        case .success(nil): break
        case .failure(let e): return fail(e.errorClass, e.description)
        }
        let doc = TaskDocument.build(tasks: tasks, task: task, taskName: nt.name, attempt: attempt, idempotencyKey: idempotencyKey,
                                     runID: runID, values: values, text: target)
        let req = HTTPRequest(url: url, headers: headers, body: CanonicalJSON.encode(doc), timeoutMs: nt.timeoutMs,
                              idleTimeoutMs: options.idleTimeoutMs, responseLimit: options.responseLimit)
        let t0 = HTTPClient.nowNs()
        let sent = await HTTPClient.send(req, cancel: cancel)
        let durationMs = Int64((HTTPClient.nowNs() &- t0) / 1_000_000)
        let result = interpret(sent, taskName: nt.name, agent: nt.agent, timeoutMs: nt.timeoutMs, durationMs: durationMs)
        let declared = OutputSchema.declared(task: nt.ir, types: task < types.count ? types[task] : nil)
        return result.holding(to: declared, task: nt.name) {
            guard case .success(let response) = sent, case .object? = HTTPText.json(response.body) else {
                let body: [UInt8] = if case .success(let response) = sent { response.body } else { [] }
                return body.isEmpty ? "the response body was empty" : "the response body is not a JSON object: `\(HTTPText.excerpt(body, limit: 80))`"
            }
            return nil
        }
    }

    /// Statuses worth a retry: the server says "not now", not "never".
    public static let transientStatuses: Set<Int> = [408, 425, 429, 502, 503, 504, 529]

    /// Maps an exchange to a result (see the file comment for the rules).
    func interpret(_ sent: Result<HTTPResponse, HTTPClientError>, taskName: String, agent: RemoteAgent?, timeoutMs: Int64?,
                   durationMs: Int64) -> DriverResult {
        let response: HTTPResponse
        switch sent {
        case .success(let r): response = r
        case .failure(let e):
            // Nothing reached a server that refused the connection: no call to pay for.
            var r = DriverResult.failed(e.errorClass, "")
            r.durationMs = durationMs
            if case .connect = e {} else if case .badURL = e {} else { r.costMicros = agent?.cost(durationMs: durationMs, tokens: 0) ?? 0 }
            let msg = e == .timeout ? "timed out after \(timeoutMs ?? 0) ms" : e.message
            r.outcome = .failure(errorClass: e.errorClass, message: "task `\(taskName)`: \(msg)")
            return r
        }
        // Raw: the runner's journal writer redacts outputs, messages and the log.
        let body = response.body
        let logText = String(decoding: body.prefix(options.logBodyLimit), as: UTF8.self)
        var result = DriverResult.network(durationMs: durationMs, costMicros: agent?.cost(durationMs: durationMs, tokens: 0) ?? 0,
                                          tokens: 0, log: logText, logTruncated: body.count > options.logBodyLimit)
        // The server's wait rides on every failure of this answer (a reported class too).
        result.retryAfterMs = RetryAfter.ms(status: response.status, headers: response.headers)
        func fail(_ cls: String, _ msg: String) -> DriverResult {
            var r = result
            r.outcome = .failure(errorClass: cls, message: "task `\(taskName)`: \(msg)")
            return r
        }
        let status = response.status
        let parsed = HTTPText.json(body)
        let ok = (200..<300).contains(status)
        if let (cls, msg) = HTTPText.reportedError(parsed) {
            if let cls { return fail(cls, msg) }
            if ok { return fail(ErrorClass.agentError, msg) }
        }
        if !ok {
            let cls = Self.transientStatuses.contains(status) ? ErrorClass.transient : ErrorClass.agentError
            var msg = "HTTP \(status)"
            if let ra = response.headers["retry-after"] { msg += " (retry after \(HTTPText.excerpt(Array(ra.utf8), limit: 40)))" }
            let ex = HTTPText.excerpt(body)
            if !ex.isEmpty { msg += ": " + ex }
            return fail(cls, msg)
        }
        // The implicit outputs are the driver's: `status` is typed int and `body` json,
        // so members of the same name do not replace them (they stay in `body`).
        var outputs: [(String, JSONValue)] = []
        if case .object(let m)? = parsed { outputs = m.filter { $0.0 != "status" && $0.0 != "body" } }
        outputs.append(("status", .int(Int64(status))))
        outputs.append(("body", parsed ?? .string(String(decoding: body, as: UTF8.self))))
        result.outcome = .success(outputs: .object(outputs))
        return result
    }
}
