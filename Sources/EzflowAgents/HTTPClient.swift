// Shared plumbing of the `http` and `llm` drivers: one POST with a whole-attempt
// deadline and a `CancelToken`, the agent fields both drivers read, and the task JSON
// document (the same one the exec driver writes to stdin).
//
// Why URLSession (FoundationNetworking, libcurl underneath) and not a socket client:
// LLM endpoints are HTTPS, and TLS is not something to hand-roll. URLSession's own
// `timeoutInterval` is an *idle* timeout (reset by every byte), so the attempt's limit
// is enforced here by a watchdog that cancels the URLSessionTask; the same watchdog
// polls the `CancelToken` (a flag, it has no callback). The continuation is resumed
// exactly once, by whichever of completion, timeout or cancel comes first.
import EzflowIR
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// One HTTP request of a driver.
public struct HTTPRequest: Sendable {
    public var url: URL
    public var method: String
    /// In the order given; a later header of the same name replaces an earlier one.
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Limit of the whole exchange (connect, send, receive), ms; nil: only `idleTimeoutMs`.
    public var timeoutMs: Int64?
    /// URLSession's inactivity timeout, ms (a backstop when there is no `timeoutMs`).
    public var idleTimeoutMs: Int64
    /// Larger bodies fail the request (`HTTPClientError.tooLarge`).
    public var responseLimit: Int

    public init(url: URL, method: String = "POST", headers: [(String, String)] = [], body: [UInt8] = [], timeoutMs: Int64? = nil,
                idleTimeoutMs: Int64 = 300_000, responseLimit: Int = 16 << 20) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeoutMs = timeoutMs
        self.idleTimeoutMs = idleTimeoutMs
        self.responseLimit = responseLimit
    }
}

/// A received response (any status).
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]
    public var durationNs: UInt64
    /// A streamed 2xx body whose reader asked to stop: the request was cancelled there.
    public var stoppedEarly = false
}

/// Why no response arrived.
public enum HTTPClientError: Error, Sendable, Equatable {
    /// The attempt's `timeoutMs` (or the idle timeout) expired.
    case timeout
    /// The `CancelToken` fired or the Swift task was cancelled.
    case cancelled
    /// Could not connect: refused, no route, name not resolved. Nothing was sent.
    case connect(String)
    /// The connection failed after it was made (reset, closed early).
    case network(String)
    /// TLS or certificate failure: retrying will not help.
    case secure(String)
    /// The body exceeded `responseLimit`.
    case tooLarge(Int)
    /// The URL cannot be used (scheme, host).
    case badURL(String)

    /// The driver error class for this failure.
    public var errorClass: String {
        switch self {
        case .timeout: ErrorClass.timeout
        case .cancelled: ErrorClass.cancelled
        case .connect, .network: ErrorClass.transient
        case .secure, .tooLarge: ErrorClass.agentError
        case .badURL: ErrorClass.configError
        }
    }

    public var message: String {
        switch self {
        case .timeout: "timed out"
        case .cancelled: "cancelled"
        case .connect(let m): "cannot connect: \(m)"
        case .network(let m): "connection failed: \(m)"
        case .secure(let m): "TLS failure: \(m)"
        case .tooLarge(let n): "response body larger than \(n) bytes"
        case .badURL(let m): m
        }
    }
}

/// Async HTTP with a hard deadline and cancellation.
public enum HTTPClient {
    /// The watchdog's polling period: the latency of a timeout or a `CancelToken`.
    static let pollNs: UInt64 = 10_000_000

    /// Sends `request`; a response with any status is `.success`.
    public static func send(_ request: HTTPRequest, cancel: CancelToken? = nil) async -> Result<HTTPResponse, HTTPClientError> {
        await exchange(request, cancel: cancel, onBytes: nil)
    }

    /// Sends `request` and hands each piece of a 2xx body to `onBytes` as it arrives; when
    /// that answers false the request is cancelled at once and the response so far is
    /// `.success` with `stoppedEarly`. Other statuses are read whole, as by `send`.
    public static func stream(_ request: HTTPRequest, cancel: CancelToken? = nil,
                              onBytes: @escaping @Sendable ([UInt8]) -> Bool) async -> Result<HTTPResponse, HTTPClientError> {
        await exchange(request, cancel: cancel, onBytes: onBytes)
    }

    static func exchange(_ request: HTTPRequest, cancel: CancelToken?,
                         onBytes: (@Sendable ([UInt8]) -> Bool)?) async -> Result<HTTPResponse, HTTPClientError> {
        guard let scheme = request.url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            return .failure(.badURL("only http and https URLs can be called"))
        }
        guard let host = request.url.host, !host.isEmpty else { return .failure(.badURL("the URL has no host")) }
        var req = URLRequest(url: request.url, cachePolicy: .reloadIgnoringLocalCacheData,
                             timeoutInterval: Double(max(1, request.idleTimeoutMs)) / 1000)
        req.httpMethod = request.method
        for (k, v) in request.headers { req.setValue(v, forHTTPHeaderField: k) }
        if !request.body.isEmpty || request.method == "POST" { req.httpBody = Data(request.body) }

        let cfg = URLSessionConfiguration.ephemeral
        cfg.timeoutIntervalForRequest = Double(max(1, request.idleTimeoutMs)) / 1000
        cfg.timeoutIntervalForResource = Double(max(1, request.timeoutMs ?? request.idleTimeoutMs)) / 1000 + 5
        cfg.httpShouldSetCookies = false
        cfg.httpCookieAcceptPolicy = .never
        cfg.urlCache = nil
        // Streaming reads through a delegate (pieces as they arrive); a whole body through
        // the completion handler, as before.
        let streamer = onBytes.map { StreamReader(limit: request.responseLimit, onBytes: $0) }
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = streamer.map { URLSession(configuration: cfg, delegate: $0, delegateQueue: queue) } ?? URLSession(configuration: cfg)
        defer { session.finishTasksAndInvalidate() }

        let state = Exchange()
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline: UInt64? = request.timeoutMs.map { start &+ UInt64(max(0, $0)) &* 1_000_000 }
        let limit = request.responseLimit
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>) in
                state.install(c)
                streamer?.begin(state, start: start)
                let task = streamer != nil ? session.dataTask(with: req) : session.dataTask(with: req) { data, response, error in
                    let dur = DispatchTime.now().uptimeNanoseconds &- start
                    if let error { return state.finish(.failure(classify(error))) }
                    guard let http = response as? HTTPURLResponse else {
                        return state.finish(.failure(.network("no HTTP response")))
                    }
                    let body = data.map { [UInt8]($0) } ?? []
                    if body.count > limit { return state.finish(.failure(.tooLarge(limit))) }
                    let (status, headers) = head(http)
                    state.finish(.success(HTTPResponse(status: status, headers: headers, body: body, durationNs: dur)))
                }
                state.setTask(task)
                task.resume()
                watch(state, cancel: cancel, deadline: deadline)
            }
        } onCancel: {
            state.finish(.failure(.cancelled))
        }
    }

    /// The watchdog: ends with the exchange; enforces the deadline and the token.
    static func watch(_ state: Exchange, cancel: CancelToken?, deadline: UInt64?) {
        Task.detached {
            while !state.isFinished {
                if cancel?.isCancelled == true { state.finish(.failure(.cancelled)); break }
                if let d = deadline, DispatchTime.now().uptimeNanoseconds >= d { state.finish(.failure(.timeout)); break }
                try? await Task.sleep(nanoseconds: pollNs)
            }
        }
    }

    /// The response head's status and lowercased headers.
    static func head(_ http: HTTPURLResponse) -> (Int, [String: String]) {
        var headers: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
        }
        return (http.statusCode, headers)
    }

    static func classify(_ error: any Error) -> HTTPClientError {
        let ns = error as NSError
        let detail = ns.localizedDescription
        guard ns.domain == NSURLErrorDomain else { return .network(detail) }
        switch ns.code {
        case NSURLErrorTimedOut: return .timeout
        case NSURLErrorCancelled: return .cancelled
        case NSURLErrorCannotConnectToHost, NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed,
             NSURLErrorNotConnectedToInternet:
            return .connect(detail)
        case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateHasBadDate, NSURLErrorServerCertificateUntrusted,
             NSURLErrorServerCertificateHasUnknownRoot, NSURLErrorServerCertificateNotYetValid,
             NSURLErrorClientCertificateRejected, NSURLErrorClientCertificateRequired:
            return .secure(detail)
        case NSURLErrorBadURL, NSURLErrorUnsupportedURL:
            return .badURL(detail)
        default:
            return .network(detail)
        }
    }

    /// Monotonic clock, ns.
    static func nowNs() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// One exchange's state: resumes the continuation once and cancels the URLSessionTask
/// when something other than its completion finished first.
final class Exchange: Sendable {
    struct State {
        var continuation: CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>?
        var task: URLSessionTask?
        var result: Result<HTTPResponse, HTTPClientError>?
    }

    // URLSessionTask is not Sendable; it is only touched under the lock.
    private let state = Mutex<UnsafeState>(UnsafeState(State()))

    struct UnsafeState: @unchecked Sendable {
        var s: State
        init(_ s: State) { self.s = s }
    }

    var isFinished: Bool { state.withLock { $0.s.result != nil } }

    func install(_ c: CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>) {
        // A cancel that arrived before the continuation existed is delivered now.
        let early: Result<HTTPResponse, HTTPClientError>? = state.withLock { st in
            if let r = st.s.result { return r }
            st.s.continuation = c
            return nil
        }
        if let early { c.resume(returning: early) }
    }

    func setTask(_ t: URLSessionTask) {
        let cancelNow = state.withLock { st -> Bool in
            st.s.task = t
            return st.s.result != nil
        }
        if cancelNow { t.cancel() }
    }

    func finish(_ r: Result<HTTPResponse, HTTPClientError>) {
        typealias C = CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>
        let (first, c, t): (Bool, C?, URLSessionTask?) = state.withLock { st in
            guard st.s.result == nil else { return (false, nil, nil) }
            st.s.result = r
            let c = st.s.continuation
            st.s.continuation = nil
            return (true, c, st.s.task)
        }
        guard first else { return }
        // Timeout, cancel, or a reader that stopped: end the transfer so the connection
        // does not linger (and a server streaming forever is cut off).
        if case .failure = r { t?.cancel() } else if case .success(let x) = r, x.stoppedEarly { t?.cancel() }
        c?.resume(returning: r)
    }
}

/// The fields of an IR agent the network drivers read.
public struct RemoteAgent: Sendable {
    public var name: String
    public var driver: String?
    public var url: String?
    public var model: String?
    /// Secret name of the agent's API key.
    public var apiKey: String?
    public var costPerCallMicros: Int64
    public var costPer1kTokensMicros: Int64
    public var costPerSecondMicros: Int64
    /// `format`: `openai` (nil) or `anthropic`.
    public var format: String?
    /// Prices per 1k input and output tokens of models without a `prices` entry.
    public var costPer1kInputTokensMicros: Int64 = 0
    public var costPer1kOutputTokensMicros: Int64 = 0
    /// `prices`: per-model input and output prices per 1k tokens.
    public var prices: [String: IRModelPrice] = [:]
    /// `stream: true`: an llm agent's answers are asked for as server-sent events.
    public var stream = false

    public init(name: String, driver: String? = nil, url: String? = nil, model: String? = nil, apiKey: String? = nil,
                costPerCallMicros: Int64 = 0, costPer1kTokensMicros: Int64 = 0, costPerSecondMicros: Int64 = 0,
                format: String? = nil) {
        self.name = name
        self.driver = driver
        self.url = url
        self.model = model
        self.apiKey = apiKey
        self.costPerCallMicros = costPerCallMicros
        self.costPer1kTokensMicros = costPer1kTokensMicros
        self.costPerSecondMicros = costPerSecondMicros
        self.format = format
    }

    public init(ir a: JSONValue) {
        func int(_ k: String) -> Int64 { if case .int(let i)? = a[k] { i } else { 0 } }
        func str(_ k: String) -> String? { if case .string(let s)? = a[k] { s } else { nil } }
        self.init(name: str("name") ?? "", driver: str("driver"), url: str("url"), model: str("model"), apiKey: str("api_key"),
                  costPerCallMicros: int("cost_per_call_micros"), costPer1kTokensMicros: int("cost_per_1k_tokens_micros"),
                  costPerSecondMicros: int("cost_per_second_micros"), format: str("format"))
        costPer1kInputTokensMicros = int("cost_per_1k_input_tokens_micros")
        costPer1kOutputTokensMicros = int("cost_per_1k_output_tokens_micros")
        stream = a["stream"] == .bool(true)
        if case .array(let ps)? = a["prices"] {
            for p in ps {
                guard case .string(let m)? = p["model"], case .int(let i)? = p["input_micros"], case .int(let o)? = p["output_micros"] else { continue }
                prices[m] = IRModelPrice(inputMicros: i, outputMicros: o)
            }
        }
    }

    /// The input and output prices per 1k tokens of `model` (the task's, else the agent's).
    public func splitPrices(model m: String?) -> IRModelPrice {
        if let m = m ?? model, let p = prices[m] { return p }
        return IRModelPrice(inputMicros: costPer1kInputTokensMicros, outputMicros: costPer1kOutputTokensMicros)
    }

    /// cost_per_call + cost_per_second prorated by the millisecond + cost_per_1k_tokens
    /// prorated by the token (`tokens` in all) + input tokens × the model's input price and
    /// output tokens × its output price per 1k (rounded up together), each part rounded
    /// up and saturating (the same model as `Plan.worstCostMicros`, which bounds it: input
    /// ≤ the prompt's bound at the input price, output ≤ the answer's cap at the output
    /// price, else the attempt fails `cap_exceeded`).
    public func cost(durationMs: Int64, tokens: Int64, input: Int64 = 0, output: Int64 = 0, model: String? = nil) -> Int64 {
        func prorated(_ rate: Int64, _ n: Int64, _ per: Int64) -> Int64 {
            let (p, o) = rate.multipliedReportingOverflow(by: max(0, n))
            return o ? .max / 4 : (p + per - 1) / per
        }
        let split = splitPrices(model: model)
        let (pi, oi) = split.inputMicros.multipliedReportingOverflow(by: max(0, input))
        let (po, oo) = split.outputMicros.multipliedReportingOverflow(by: max(0, output))
        let (pio, os) = pi.addingReportingOverflow(po)
        let inOut = oi || oo || os ? Int64.max / 4 : (pio + 999) / 1000
        let (s1, o1) = costPerCallMicros.addingReportingOverflow(prorated(costPerSecondMicros, durationMs, 1000))
        let (s2, o2) = s1.addingReportingOverflow(prorated(costPer1kTokensMicros, tokens, 1000))
        let (s3, o3) = s2.addingReportingOverflow(inOut)
        return o1 || o2 || o3 ? .max / 2 : s3
    }
}

/// The task document every driver sends (exec: stdin; http: the POST body).
enum TaskDocument {
    static func build(tasks: [JSONValue], task: Int, taskName: String, attempt: Int, idempotencyKey: String, runID: String,
                      values: RenderValues, text: String?) -> JSONValue {
        var deps: [(String, JSONValue)] = []
        if case .array(let ds)? = tasks[task]["deps"] {
            for case .int(let d) in ds {
                guard let o = values.taskOutputs[Int(d)], let dn = values.depName(Int(d), tasks: tasks) else {
                    continue
                }
                deps.append((dn, o))
            }
        }
        return .object([
            ("attempt", .int(Int64(attempt))), ("deps", .object(deps)), ("idempotency_key", .string(idempotencyKey)),
            ("inputs", .object(values.inputs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })), ("item", values.item ?? .null),
            ("run_id", .string(runID)), ("task", .string(taskName)), ("task_id", .int(Int64(task))),
            ("text", text.map { .string($0) } ?? .null),
        ])
    }
}

/// Helpers both network drivers use to shape messages.
enum HTTPText {
    /// A short, single-line excerpt of a body for an error message (raw: the writer redacts it).
    static func excerpt(_ body: [UInt8], limit: Int = 200) -> String {
        var s = String(decoding: body.prefix(limit * 4), as: UTF8.self)
        s = String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        s = s.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        if s.count > limit { s = String(s.prefix(limit)) + "…" }
        return s
    }

    /// Parses `bytes` as JSON when it starts like a JSON value.
    static func json(_ bytes: [UInt8]) -> JSONValue? {
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
              first == UInt8(ascii: "{") || first == UInt8(ascii: "[") || first == UInt8(ascii: "\"") else { return nil }
        return try? JSONParser.parse(bytes)
    }

    /// `{"error": {"class", "message"}}` → (class if given, message). Only an object
    /// counts (as for exec): `{"error": null}` or a string member is ordinary data.
    static func reportedError(_ v: JSONValue?) -> (cls: String?, message: String)? {
        guard case .object? = v, let e = v?["error"], case .object = e else { return nil }
        let cls: String? = if case .string(let c)? = e["class"], !c.isEmpty { c } else { nil }
        let msg: String = if case .string(let s)? = e["message"] { s } else { "reported an error" }
        let (c, m) = ErrorClass.reported(cls, msg)
        return (cls == nil ? nil : c, m)
    }
}

/// Settings of the `http` and `llm` drivers for a run.
public struct HTTPOptions: Sendable {
    /// Used when the task has no `timeout_ms`; nil: only `idleTimeoutMs` applies.
    public var defaultTimeoutMs: Int64?
    /// No byte for this long fails the attempt with `timeout` (URLSession's own timer).
    public var idleTimeoutMs: Int64
    /// Response bodies above this fail the attempt (`agent_error`).
    public var responseLimit: Int
    /// Hosts (lowercased names or IP literals) a task may reach; nil: any. The driver
    /// hardcodes none: deployments that want "loopback only" say `["127.0.0.1", "localhost", "::1"]`.
    public var allowedHosts: Set<String>?
    public var userAgent: String
    /// Bytes of the raw response body kept in `DriverResult.stdout` for the log.
    public var logBodyLimit: Int

    public init(defaultTimeoutMs: Int64? = nil, idleTimeoutMs: Int64 = 300_000, responseLimit: Int = 16 << 20,
                allowedHosts: Set<String>? = nil, userAgent: String = "ezflow", logBodyLimit: Int = 64 << 10) {
        self.defaultTimeoutMs = defaultTimeoutMs
        self.idleTimeoutMs = idleTimeoutMs
        self.responseLimit = responseLimit
        self.allowedHosts = allowedHosts.map { Set($0.map { $0.lowercased() }) }
        self.userAgent = userAgent
        self.logBodyLimit = logBodyLimit
    }
}

/// A task made ready for a network driver: looked up, secrets resolved, template rendered.
struct NetworkTask {
    var ir: JSONValue
    var name: String
    var action: String
    var agent: RemoteAgent?
    /// The rendered template (URL for `call`, prompt for `prompt`).
    var rendered: String?
    var timeoutMs: Int64?
    /// What the task's expressions read, its granted secrets resolved.
    var values: RenderValues

    /// nil and a failed result when the task cannot be prepared.
    /// `action`: the one action the driver runs (checked first: nothing is resolved for a
    /// task sent to the wrong driver).
    static func prepare(tasks: [JSONValue], agents: [RemoteAgent], secrets: SecretResolver, options: HTTPOptions, task: Int,
                        agent: Int, values: RenderValues, action expected: String, driver: String) async -> (NetworkTask?, DriverResult?) {
        guard task >= 0, task < tasks.count else { return (nil, .failed(ErrorClass.configError, "no task \(task) in the workflow")) }
        let t = tasks[task]
        let name: String = if case .string(let n)? = t["name"] { n } else { "task\(task)" }
        let action: String = if case .string(let a)? = t["action"] { a } else { "run" }
        guard action == expected else {
            return (nil, .failed(ErrorClass.configError, "task `\(name)`: the \(driver) driver runs `\(expected)` tasks, not `\(action)`"))
        }
        let ag: RemoteAgent? = agent >= 0 && agent < agents.count ? agents[agent] : nil
        // Only the granted secrets, resolved before anything is rendered (as the exec driver).
        var vals = values
        let granted = grantedSecrets(task: t)
        do throws(SecretError) {
            vals.secrets = try await secrets.resolve(granted, granted: Set(granted))
        } catch {
            return (nil, .failed(error.errorClass, "task `\(name)`: \(error.description)"))
        }
        var rendered: String?
        do throws(RenderError) {
            if case .array(let parts)? = t["template"] { rendered = try TemplateRenderer(values: vals).render(parts) }
        } catch {
            return (nil, .failed(ErrorClass.renderError, "task `\(name)`: \(error.message)"))
        }
        var timeout = options.defaultTimeoutMs
        if case .int(let ms)? = t["timeout_ms"] { timeout = ms }
        return (NetworkTask(ir: t, name: name, action: action, agent: ag, rendered: rendered, timeoutMs: timeout, values: vals), nil)
    }

    /// The agent's API key, if it has one (registered with the redactor by the resolver).
    /// The key belongs to the agent, not the task: a role that may use the agent may use
    /// its key, and the task never sees the value.
    func apiKey(_ secrets: SecretResolver) async -> Result<String?, SecretError> {
        guard let name = agent?.apiKey else { return .success(nil) }
        do throws(SecretError) { return .success(try await secrets.resolve(name)) } catch { return .failure(error) }
    }

    /// Headers every network request carries (values without CR/LF: no header injection).
    static func standardHeaders(runID: String, task: String, attempt: Int, idempotencyKey: String, options: HTTPOptions) -> [(String, String)] {
        func clean(_ s: String) -> String { String(s.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init)) }
        return [("Content-Type", "application/json"), ("Accept", "application/json"), ("User-Agent", clean(options.userAgent)),
                ("Idempotency-Key", clean(idempotencyKey)), ("X-Ezflow-Run-Id", clean(runID)), ("X-Ezflow-Task", clean(task)),
                ("X-Ezflow-Attempt", String(attempt))]
    }

    /// `http://…` or `https://…` as is; anything else joined to the agent's base URL.
    static func resolveURL(_ target: String, base: String?) -> Result<URL, URLProblem> {
        let trimmed = target.trimmingCharacters(in: .whitespacesAndNewlines)
        let full: String
        if trimmed.range(of: "://") != nil {
            full = trimmed
        } else {
            guard let base, !base.isEmpty else { return .failure(URLProblem(message: "`\(trimmed)` is not a full URL and the agent has no `url`")) }
            let b = base.hasSuffix("/") ? String(base.dropLast()) : base
            if trimmed.isEmpty { full = b } else if trimmed.hasPrefix("/") || trimmed.hasPrefix("?") { full = b + trimmed } else { full = b + "/" + trimmed }
        }
        if let u = URL(string: full) { return .success(u) }
        // Interpolated values may bring spaces or non-ASCII: escape what URL(string:) refuses.
        var allowed = CharacterSet.urlQueryAllowed
        allowed.insert(charactersIn: "#%")
        if let e = full.addingPercentEncoding(withAllowedCharacters: allowed), let u = URL(string: e) { return .success(u) }
        return .failure(URLProblem(message: "`\(full)` is not a valid URL"))
    }

    static func checkHost(_ url: URL, _ options: HTTPOptions) -> String? {
        guard let allowed = options.allowedHosts else { return nil }
        let host = (url.host ?? "").lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return allowed.contains(host) ? nil : "host `\(host)` is not in the allowed hosts"
    }
}

struct URLProblem: Error { var message: String }

extension DriverResult {
    /// A result carrying duration and cost, to be given an outcome.
    static func network(durationMs: Int64, costMicros: Int64, tokens: Int64, log: String, logTruncated: Bool) -> DriverResult {
        DriverResult(outcome: .failure(errorClass: ErrorClass.agentError, message: ""), costMicros: costMicros, tokens: tokens,
                     durationMs: durationMs, exitCode: nil, signal: nil, pid: nil, stdout: log, stderr: "",
                     stdoutTruncated: logTruncated, stderrTruncated: false)
    }
}

/// The delegate of a streamed exchange: hands each piece of a 2xx body to the reader as it
/// arrives and keeps the whole body (within the limit) for the result and the log. Its
/// delegate queue is serial, so its fields are only touched there.
final class StreamReader: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let limit: Int
    let onBytes: @Sendable ([UInt8]) -> Bool
    private var exchange: Exchange?
    private var start: UInt64 = 0
    private var status = 0
    private var headers: [String: String] = [:]
    private var body: [UInt8] = []

    init(limit: Int, onBytes: @escaping @Sendable ([UInt8]) -> Bool) {
        self.limit = limit
        self.onBytes = onBytes
    }

    func begin(_ exchange: Exchange, start: UInt64) {
        self.exchange = exchange
        self.start = start
    }

    private func response(stopped: Bool) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: body, durationNs: DispatchTime.now().uptimeNanoseconds &- start,
                     stoppedEarly: stopped)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        if let http = response as? HTTPURLResponse { (status, headers) = HTTPClient.head(http) }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let exchange, !exchange.isFinished else { return }
        let piece = [UInt8](data)
        body.append(contentsOf: piece)
        if body.count > limit { return exchange.finish(.failure(.tooLarge(limit))) }
        if (200..<300).contains(status) && !onBytes(piece) { exchange.finish(.success(response(stopped: true))) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        guard let exchange else { return }
        if let error { return exchange.finish(.failure(HTTPClient.classify(error))) }
        guard status > 0 else { return exchange.finish(.failure(.network("no HTTP response"))) }
        exchange.finish(.success(response(stopped: false)))
    }
}
