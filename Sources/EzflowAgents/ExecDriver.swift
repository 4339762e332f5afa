// The `exec` agent driver: turns `Command.dispatch(task, attempt, agent, key)` into a
// subprocess and its outcome into the `Event` the core folds (docs/RUNTIME.md).
//
// What runs: a `run` task's template as `/bin/sh -c SCRIPT`, where each interpolation is a
// reference to a variable `EZFLOW_V<n>` holding its value (`renderScript`); any other action
// dispatched to an exec agent runs the agent's `command` (also through the shell) with
// the rendered template in the stdin JSON as `text`.
// Stdin: one JSON object `{attempt, deps, idempotency_key, inputs, item, run_id, task,
// task_id, text}` (`deps`: the outputs of the task's dependencies by task name).
// Environment: PATH, HOME, LANG, the task's `env`, `EZFLOW_RUN_ID`, `EZFLOW_TASK`,
// `EZFLOW_ATTEMPT`, `EZFLOW_IDEMPOTENCY_KEY`, `EZFLOW_AGENT` (the agent's name, when the
// attempt went to an agent), and each granted secret as
// `EZFLOW_SECRET_<NAME>`; nothing else of the parent's environment.
// Result: the result object is stdout when the whole of it is one JSON object, else its
// last non-blank line when that is one (lines before it are log; `resultObject`). Exit 0
// with a result object → success, outputs = that object plus `stdout` and `exit_code`
// unless it sets them; exit 0 without one → outputs `{stdout, exit_code}` (`stdout`
// without trailing newlines); a result object `{"error": {"class", "message"}}` → that
// class (any exit code); a success of a task with declared outputs is held to them
// (`holding`, OutputCheck.swift: `output_error` when one is missing or mistyped); exit 75 (EX_TEMPFAIL) → `transient`; other non-zero or a signal →
// `agent_error`; the timeout → `timeout`; a cancel → `cancelled`. Everything returned
// (outputs, messages, stdout, stderr) is raw: the runner's journal writer redacts it.
import EzflowIR
import EzflowRuntime
import Foundation

/// Error classes the drivers produce (user classes come from the agent's own reports).
public enum ErrorClass {
    public static let timeout = "timeout"
    public static let transient = "transient"
    public static let agentError = "agent_error"
    public static let cancelled = "cancelled"
    /// A secret could not be given to the task (not granted, missing, refused).
    public static let secretError = "secret_error"
    /// The template or env referenced a value that is not there.
    public static let renderError = "render_error"
    /// The agent cannot run this task (no command, wrong driver).
    public static let configError = "config_error"
    /// An llm prompt's bound leaves no completion within the attempt's token cap: not sent.
    public static let promptTooLarge = Core.promptTooLarge
    /// An llm agent reported more tokens than the cap it was sent.
    public static let capExceeded = "cap_exceeded"

    /// The longest message a task may report (`{"error": {"message"}}`): the journal, the
    /// dead-letter feed and `ezrun dlq list` carry it.
    public static let maxReportedMessage = 4_000

    /// A class and message a task reported (`{"error": {"class", "message"}}`), as the run
    /// takes them: a class is a name (1–64 of `A-Z`, `a-z`, `0-9`, `_`, `.`, `-`: what a retry
    /// rule's `on:` can name, upper case too), anything else is `agent_error` and said in the message; a
    /// message is cut at `maxReportedMessage` characters.
    public static func reported(_ cls: String?, _ message: String) -> (cls: String, message: String) {
        var msg = message
        if msg.count > maxReportedMessage { msg = String(msg.prefix(maxReportedMessage)) + "… (\(msg.count - maxReportedMessage) more characters)" }
        guard let c = cls else { return (agentError, msg) }
        let isName = (1...64).contains(c.utf8.count) && c.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D }
        return isName ? (c, msg) : (agentError, msg + " (the reported error class is not a name: letters, digits, _ . -)")
    }
}

/// Settings of the exec driver for a run.
public struct ExecOptions: Sendable {
    /// PATH, HOME and LANG given to every task (a task's `env` may override them).
    public var path: String
    public var home: String
    public var lang: String
    /// Names of further parent variables to pass through (empty by default).
    public var passEnvironment: [String]
    public var shell: String
    public var workingDirectory: String?
    /// Used when the task has no `timeout_ms`; nil: no limit.
    public var defaultTimeoutMs: Int64?
    public var killGraceMs: Int64
    public var stdoutLimit: Int
    public var stderrLimit: Int
    public var killGroupOnExit: Bool
    public var secretEnvPrefix: String

    public init(path: String = "/usr/local/bin:/usr/bin:/bin", home: String? = nil, lang: String = "C.UTF-8",
                passEnvironment: [String] = [], shell: String = "/bin/sh", workingDirectory: String? = nil,
                defaultTimeoutMs: Int64? = nil, killGraceMs: Int64 = 2000, stdoutLimit: Int = 4 << 20,
                stderrLimit: Int = 1 << 20, killGroupOnExit: Bool = true, secretEnvPrefix: String = "EZFLOW_SECRET_") {
        self.path = path
        self.home = home ?? ProcessInfo.processInfo.environment["HOME"] ?? "/"
        self.lang = lang
        self.passEnvironment = passEnvironment
        self.shell = shell
        self.workingDirectory = workingDirectory
        self.defaultTimeoutMs = defaultTimeoutMs
        self.killGraceMs = killGraceMs
        self.stdoutLimit = stdoutLimit
        self.stderrLimit = stderrLimit
        self.killGroupOnExit = killGroupOnExit
        self.secretEnvPrefix = secretEnvPrefix
    }
}

/// What one attempt came to, raw: secrets a task echoed are still in it, so it goes to the
/// runner's journal writer (which redacts) and nowhere else.
public struct DriverResult: Sendable {
    public enum Outcome: Sendable, Equatable {
        case success(outputs: JSONValue)
        case failure(errorClass: String, message: String)
    }

    public var outcome: Outcome
    public var costMicros: Int64
    public var tokens: Int64
    public var durationMs: Int64
    /// nil when the process did not run or was killed by a signal.
    public var exitCode: Int32?
    public var signal: Int32?
    public var pid: Int32?
    /// Captured output (capped, raw), for the log.
    public var stdout: String
    public var stderr: String
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    /// How long the server asked to wait before another attempt (`Retry-After` or
    /// `retry-after-ms` on a 429/503/529, in ms); nil: it did not say.
    public var retryAfterMs: Int64? = nil

    public var errorClass: String? { if case .failure(let c, _) = outcome { c } else { nil } }
    public var outputs: JSONValue? { if case .success(let o) = outcome { o } else { nil } }

    /// The event the shell journals for this result.
    public func event(task: Int, attempt: Int, atMs: Millis) -> Event {
        switch outcome {
        case .success(let o):
            .taskSucceeded(task: task, attempt: attempt, outputs: o, costMicros: costMicros, tokens: tokens, atMs: atMs)
        case .failure(let c, let m):
            .taskFailed(task: task, attempt: attempt, errorClass: c, message: m, costMicros: costMicros, tokens: tokens, atMs: atMs,
                        retryAfterMs: retryAfterMs)
        }
    }

    public static func failed(_ cls: String, _ message: String) -> DriverResult {
        DriverResult(outcome: .failure(errorClass: cls, message: message), costMicros: 0, tokens: 0, durationMs: 0, exitCode: nil,
                     signal: nil, pid: nil, stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false)
    }
}

/// An exec agent as the IR describes it.
public struct ExecAgent: Sendable {
    public var name: String
    public var command: String?
    public var costPerCallMicros: Int64
    public var costPerSecondMicros: Int64

    public init(name: String, command: String? = nil, costPerCallMicros: Int64 = 0, costPerSecondMicros: Int64 = 0) {
        self.name = name
        self.command = command
        self.costPerCallMicros = costPerCallMicros
        self.costPerSecondMicros = costPerSecondMicros
    }

    init(ir a: JSONValue) {
        func int(_ k: String) -> Int64 { if case .int(let i)? = a[k] { i } else { 0 } }
        var cmd: String?
        if case .string(let c)? = a["command"] { cmd = c }
        var name = ""
        if case .string(let n)? = a["name"] { name = n }
        self.init(name: name, command: cmd, costPerCallMicros: int("cost_per_call_micros"),
                  costPerSecondMicros: int("cost_per_second_micros"))
    }

    /// cost_per_call + cost_per_second prorated by the millisecond, rounded up.
    public func cost(durationMs: Int64) -> Int64 {
        let (p, o) = costPerSecondMicros.multipliedReportingOverflow(by: max(0, durationMs))
        return costPerCallMicros &+ (o ? .max / 2 : (p + 999) / 1000)
    }
}

/// Runs tasks of one IR workflow as subprocesses.
public struct ExecDriver: AgentDriver {
    /// IR task objects by id and exec agents by IR agent index.
    public let tasks: [JSONValue]
    public let agents: [ExecAgent]
    /// The named types of each task's workflow (`RemoteContext.types`), for its declared outputs.
    public let types: [JSONValue?]
    public let secrets: SecretResolver
    public var redactor: Redactor { secrets.redactor }
    public var options: ExecOptions

    /// `workflow`: the IR document (root workflow object).
    public init(workflow: JSONValue, secrets: SecretResolver, options: ExecOptions = ExecOptions()) {
        let context = RemoteContext(workflow: workflow)
        tasks = context.tasks
        types = context.types
        if case .array(let ags)? = workflow["agents"] { agents = ags.map(ExecAgent.init(ir:)) } else { agents = [] }
        self.secrets = secrets
        self.options = options
    }

    /// The driver for a validated IR program, with a resolver for its declared secrets.
    public init(program: IRProgram, redactor: Redactor = Redactor(), secretConfig: SecretConfig = SecretConfig(),
                options: ExecOptions = ExecOptions()) {
        let resolver = SecretResolver(specs: SecretSpec.fromIR(program.document), config: secretConfig, redactor: redactor)
        self.init(workflow: program.document, secrets: resolver, options: options)
    }

    /// Runs attempt `attempt` of task `task` on agent `agent` (-1: the local executor).
    /// `values` carries inputs, finished tasks' outputs and the fan-out item; the granted
    /// secrets are resolved here and any secrets already in `values` are ignored.
    public func run(task: Int, attempt: Int, agent: Int, idempotencyKey: String, runID: String, values: RenderValues,
                    cancel: CancelToken? = nil) async -> DriverResult {
        await run(task: task, attempt: attempt, agent: agent, idempotencyKey: idempotencyKey, runID: runID, values: values,
                  cancel: cancel, started: nil)
    }

    /// `run`, telling `started` the attempt's process right after the spawn (the runner
    /// records it for `ezrun resume`, as for attempts run with `runPrepared`).
    public func run(task: Int, attempt: Int, agent: Int, idempotencyKey: String, runID: String, values: RenderValues,
                    cancel: CancelToken?, started: (@Sendable (SpawnedProcess) -> Void)?, workingDirectory: String? = nil) async -> DriverResult {
        guard task >= 0, task < tasks.count else { return .failed(ErrorClass.configError, "no task \(task) in the workflow") }
        let t = tasks[task]
        // Secrets: only the granted ones, resolved before anything is rendered.
        var vals = values
        let granted = grantedSecrets(task: t)
        do throws(SecretError) {
            vals.secrets = try await secrets.resolve(granted, granted: Set(granted))
        } catch {
            return .failed(error.errorClass, "task `\(Self.name(t, task))`: \(error.description)")
        }
        switch prepare(task: task, attempt: attempt, agent: agent, idempotencyKey: idempotencyKey, runID: runID, values: vals,
                       workingDirectory: workingDirectory) {
        case .failed(let r): return r
        case .ready(let p):
            let res: SpawnResult
            do throws(SpawnError) {
                res = try await Subprocess.run(p.request, cancel: cancel, started: started)
            } catch {
                return spawnFailed(p, error)
            }
            return finished(res, p)
        }
    }

    /// Whether `task` can be prepared without awaiting anything (it is granted no secrets),
    /// so a shell may run it on a plain thread with `prepare` + `runPrepared`.
    public func isSynchronous(task: Int) -> Bool {
        task >= 0 && task < tasks.count && grantedSecrets(task: tasks[task]).isEmpty
    }

    /// A rendered attempt, ready to spawn.
    public struct Prepared: Sendable {
        public var request: SpawnRequest
        public var taskName: String
        public var agent: ExecAgent?
        /// The task's declared outputs (nil: none), which its result is held to.
        public var declared: [OutputField]?
    }

    public enum Preparation: Sendable {
        case ready(Prepared)
        case failed(DriverResult)
    }

    /// Renders the command line, environment and stdin of an attempt. `values.secrets`
    /// must already hold the granted secrets (see `run`). `workingDirectory`: the
    /// attempt's own (a task with `file` outputs, docs/RUNTIME.md "Files") instead of the
    /// run's; the run's is then in `EZFLOW_PROJECT_DIR`.
    public func prepare(task: Int, attempt: Int, agent: Int, idempotencyKey: String, runID: String, values vals: RenderValues,
                        workingDirectory: String? = nil) -> Preparation {
        guard task >= 0, task < tasks.count else { return .failed(.failed(ErrorClass.configError, "no task \(task) in the workflow")) }
        let t = tasks[task]
        let taskName = Self.name(t, task)
        let action: String = if case .string(let a)? = t["action"] { a } else { "run" }
        let ag: ExecAgent? = agent >= 0 && agent < agents.count ? agents[agent] : nil
        let granted = grantedSecrets(task: t)
        let values = vals
        let renderer = TemplateRenderer(values: vals)

        // The command line and environment. A `run:` script holds no value: each
        // interpolation reads a variable (`renderScript`), set after the task's `env`.
        let text: String?
        let commandLine: String
        var env: [String: String]
        var valueVars: [(String, String)] = []
        do throws(RenderError) {
            let parts: [JSONValue]? = if case .array(let ps)? = t["template"] { ps } else { nil }
            if action == "run" {
                guard let parts else { return .failed(.failed(ErrorClass.configError, "task `\(taskName)` has no command")) }
                let command = try renderer.renderScript(parts, tasks: tasks)
                commandLine = command.script
                valueVars = command.environment
                text = nil
            } else {
                guard let c = ag?.command else {
                    return .failed(.failed(ErrorClass.configError, "task `\(taskName)` (\(action)) needs an exec agent with a `command`"))
                }
                commandLine = c
                if let parts { text = try renderer.render(parts) } else { text = nil }
            }
            env = try taskEnvironment(t, renderer)
        } catch {
            return .failed(.failed(ErrorClass.renderError, "task `\(taskName)`: \(error.message)"))
        }
        var full: [String: String] = ["PATH": options.path, "HOME": options.home, "LANG": options.lang]
        if !options.passEnvironment.isEmpty {
            let parent = ProcessInfo.processInfo.environment
            for n in options.passEnvironment { if let v = parent[n] { full[n] = v } }
        }
        for (k, v) in env { full[k] = v }
        for name in granted { if let v = vals.secrets[name] { full[options.secretEnvPrefix + Self.envName(name)] = v } }
        for (k, v) in valueVars { full[k] = v }
        full["EZFLOW_RUN_ID"] = runID
        full["EZFLOW_TASK"] = taskName
        full["EZFLOW_ATTEMPT"] = String(attempt)
        full["EZFLOW_IDEMPOTENCY_KEY"] = idempotencyKey
        // Which of a pool's agents took the attempt (`selector`), for scripts that depend on it.
        if let ag { full["EZFLOW_AGENT"] = ag.name }
        if workingDirectory != nil {
            full["EZFLOW_PROJECT_DIR"] = options.workingDirectory ?? FileManager.default.currentDirectoryPath
        }
        for (k, v) in full where k.isEmpty || k.contains("=") || k.utf8.contains(0) || v.utf8.contains(0) {
            let why = v.utf8.contains(0) ? ": its value contains a NUL byte, which no environment variable can carry" : ""
            return .failed(.failed(ErrorClass.renderError, "task `\(taskName)`: invalid environment variable `\(k)`\(why)"))
        }

        // The task JSON on stdin.
        var deps: [(String, JSONValue)] = []
        if case .array(let ds)? = t["deps"] {
            for case .int(let d) in ds {
                guard let o = values.taskOutputs[Int(d)], let dn = values.depName(Int(d), tasks: tasks) else { continue }
                deps.append((dn, o))
            }
        }
        let stdinDoc: JSONValue = .object([
            ("attempt", .int(Int64(attempt))), ("deps", .object(deps)), ("idempotency_key", .string(idempotencyKey)),
            ("inputs", .object(values.inputs.map { ($0.key, $0.value) })), ("item", values.item ?? .null),
            ("run_id", .string(runID)), ("task", .string(taskName)), ("task_id", .int(Int64(task))),
            ("text", text.map { .string($0) } ?? .null),
        ])
        var stdin = CanonicalJSON.encode(stdinDoc)
        stdin.append(0x0A)

        var timeout = options.defaultTimeoutMs
        if case .int(let ms)? = t["timeout_ms"] { timeout = ms }
        // A direct command's relative program is found from the run's directory, so an
        // attempt with its own directory goes through the shell, which looks from there.
        let direct = workingDirectory == nil ? Self.directCommand(commandLine, path: options.path) : nil
        let (exe, argv) = direct ?? (options.shell, [options.shell, "-c", commandLine])
        let req = SpawnRequest(executable: exe, arguments: argv, environment: full,
                               workingDirectory: workingDirectory ?? options.workingDirectory, stdin: stdin, timeoutMs: timeout,
                               killGraceMs: options.killGraceMs, stdoutLimit: options.stdoutLimit, stderrLimit: options.stderrLimit,
                               killGroupOnExit: options.killGroupOnExit)
        return .ready(Prepared(request: req, taskName: taskName, agent: ag,
                               declared: OutputSchema.declared(task: t, types: task < types.count ? types[task] : nil)))
    }

    /// Runs a prepared attempt on the calling thread (blocking) and interprets it;
    /// `started` learns the process right after the spawn.
    public func runPrepared(_ p: Prepared, cancel: CancelToken?, started: ((SpawnedProcess) -> Void)? = nil) -> DriverResult {
        let res: SpawnResult
        do throws(SpawnError) {
            res = try Subprocess.runBlocking(p.request, cancel: cancel, started: started)
        } catch {
            return spawnFailed(p, error)
        }
        return finished(res, p)
    }

    /// A finished attempt's result, held to the task's declared outputs (`holding`).
    func finished(_ res: SpawnResult, _ p: Prepared) -> DriverResult {
        interpret(res, taskName: p.taskName, agent: p.agent, timeoutMs: p.request.timeoutMs).holding(to: p.declared, task: p.taskName) {
            guard !res.stdoutTruncated else { return "stdout was cut at its limit, so no JSON object was read from it" }
            guard Self.resultObject(res.stdout) == nil else { return nil }
            let line = Self.lastLine(String(decoding: res.stdout, as: UTF8.self))
            return line.isEmpty ? "stdout was empty (print the outputs as one JSON object on its last line)"
                : "stdout's last line is not a JSON object: `\(line)`"
        }
    }

    func spawnFailed(_ p: Prepared, _ error: SpawnError) -> DriverResult {
        .failed(ErrorClass.agentError, "task `\(p.taskName)`: cannot start \(p.request.executable): \(error.description)")
    }

    /// The task's name (`task<id>` when it has none), as messages name it.
    public static func name(_ t: JSONValue, _ id: Int) -> String { if case .string(let n)? = t["name"] { n } else { "task\(id)" } }

    /// A command line the shell would only split into words (no quotes, variables, globs,
    /// redirections or operators), as an executable path and argv — so it runs without a
    /// shell in between, as make does for such recipes. That halves the cost of tiny tasks.
    /// nil: let the shell run it.
    public static func directCommand(_ line: String, path: String) -> (String, [String])? {
        let plain = line.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x20
                || "_./:,+@%-".utf8.contains(c)
        }
        guard plain else { return nil }
        let words = line.split(separator: " ").map(String.init)
        // Builtins and keywords behave differently from (or do not exist as) programs.
        guard let first = words.first, !first.contains("="), !shellWords.contains(first) else { return nil }
        if first.contains("/") { return FileManager.default.isExecutableFile(atPath: first) ? (first, words) : nil }
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = dir + "/" + first
            if FileManager.default.isExecutableFile(atPath: candidate) { return (candidate, words) }
        }
        return nil
    }

    static let shellWords: Set<String> = [
        "echo", "printf", "test", "kill", "pwd", "read", "type", "command", "exec", "eval", "set", "unset", "export", "ulimit",
        "umask", "wait", "time", "cd", "exit", "return", "shift", "trap", "alias", "hash", "getopts", "times", "readonly",
        "if", "then", "else", "fi", "for", "while", "until", "do", "done", "case", "esac", "!", "{", "}", ".", ":",
    ]

    /// `github_token` → `GITHUB_TOKEN` (anything but letters, digits and `_` becomes `_`).
    public static func envName(_ name: String) -> String {
        String(name.uppercased().unicodeScalars.map { s -> Character in
            (s.value < 128 && (CharacterSet.alphanumerics.contains(s) || s == "_")) ? Character(s) : "_"
        })
    }

    /// The task's declared `env`, rendered. `{"*": expr}` is one map expression.
    func taskEnvironment(_ t: JSONValue, _ r: TemplateRenderer) throws(RenderError) -> [String: String] {
        guard case .object(let members)? = t["env"] else { return [:] }
        var env: [String: String] = [:]
        if members.count == 1, members[0].0 == "*" {
            let v = try r.evaluate(members[0].1)
            guard case .object(let m) = v else { throw RenderError("`env` must evaluate to a map, found \(v.typeName)") }
            for (k, x) in m { env[k] = TemplateRenderer.text(x) }
            return env
        }
        for (k, e) in members { env[k] = try r.renderText(e) }
        return env
    }

    /// Maps a finished subprocess to a result (see the file comment for the rules).
    public func interpret(_ res: SpawnResult, taskName: String, agent: ExecAgent?, timeoutMs: Int64?) -> DriverResult {
        let durationMs = Int64(res.durationNs / 1_000_000)
        let stdoutBytes = res.stdout
        let stdoutText = String(decoding: stdoutBytes, as: UTF8.self)
        let stderrText = String(decoding: res.stderr, as: UTF8.self)
        var result = DriverResult(outcome: .failure(errorClass: ErrorClass.agentError, message: ""),
                                  costMicros: agent?.cost(durationMs: durationMs) ?? 0, tokens: 0, durationMs: durationMs,
                                  exitCode: res.exitCode, signal: nil, pid: res.pid, stdout: stdoutText, stderr: stderrText,
                                  stdoutTruncated: res.stdoutTruncated, stderrTruncated: res.stderrTruncated)
        if case .signaled(let s) = res.termination { result.signal = s }
        func fail(_ cls: String, _ msg: String) -> DriverResult {
            var r = result
            r.outcome = .failure(errorClass: cls, message: "task `\(taskName)`: \(msg)")
            return r
        }
        if res.cancelled { return fail(ErrorClass.cancelled, "cancelled") }
        if res.timedOut { return fail(ErrorClass.timeout, "timed out after \(timeoutMs ?? 0) ms; process group killed") }

        // The result object, parsed from the raw bytes: a secret split by an escape
        // (`\u0041`) is whole again in the parsed strings, where the writer finds it.
        let object = res.stdoutTruncated ? nil : Self.resultObject(stdoutBytes)
        if let m = object, let e = m.first(where: { $0.0 == "error" })?.1, case .object = e {
            let cls: String? = if case .string(let c)? = e["class"], !c.isEmpty { c } else { nil }
            let msg: String = if case .string(let s)? = e["message"] { s } else { "reported an error" }
            let (c, m) = ErrorClass.reported(cls, msg)
            return fail(c, m)
        }
        let tail = Self.tail(stderrText)
        switch res.termination {
        case .exited(0):
            break
        case .exited(75):
            return fail(ErrorClass.transient, "exit code 75 (temporary failure)" + tail)
        case .exited(let c):
            return fail(ErrorClass.agentError, "exit code \(c)" + tail)
        case .signaled(let s):
            return fail(ErrorClass.agentError, "killed by signal \(s)" + tail)
        case .unknown:
            return fail(ErrorClass.agentError, "exit status lost (the process was reaped elsewhere)" + tail)
        }
        var outputs: [(String, JSONValue)] = object ?? []
        if !outputs.contains(where: { $0.0 == "stdout" }) {
            // Trailing newlines trimmed, as shell command substitution does.
            var s = Substring(stdoutText)
            while s.last == "\n" || s.last == "\r\n" { s.removeLast() }
            outputs.append(("stdout", .string(String(s))))
        }
        if !outputs.contains(where: { $0.0 == "exit_code" }) { outputs.append(("exit_code", .int(0))) }
        result.outcome = .success(outputs: .object(outputs))
        return result
    }

    /// The JSON object a task's stdout holds as its result: the whole of stdout, or else
    /// its last non-blank line, so a script may log lines before its result (as a step
    /// logs freely in GitHub Actions and hands outputs over apart from its log). nil: none.
    static func resultObject(_ bytes: [UInt8]) -> [(String, JSONValue)]? {
        func object(_ b: ArraySlice<UInt8>) -> [(String, JSONValue)]? {
            guard let first = b.first(where: { !isBlank($0) }), first == UInt8(ascii: "{"),
                  case .object(let m)? = try? JSONParser.parse(Array(b)) else { return nil }
            return m
        }
        if let whole = object(bytes[...]) { return whole }
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true)
        guard let last = lines.last(where: { $0.contains { !isBlank($0) } }), lines.count > 1 else { return nil }
        return object(last)
    }

    static func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

    /// The last non-blank line of stdout, for a message saying what the task printed.
    static func lastLine(_ stdout: String) -> String {
        let last = stdout.split(separator: "\n").last { !$0.allSatisfy(\.isWhitespace) }
        return HTTPText.excerpt(Array((last ?? "").utf8), limit: 80)
    }

    /// The last line(s) of stderr for an error message.
    static func tail(_ s: String) -> String {
        let lines = s.split(separator: "\n", omittingEmptySubsequences: true)
        guard !lines.isEmpty else { return "" }
        var t = lines.suffix(3).joined(separator: " | ")
        if t.count > 500 { t = "…" + t.suffix(500) }
        return ": " + t
    }
}
