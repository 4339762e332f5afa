// `ezrun run`, `resume`, `approve`, `cancel`, `status`, `runs`, `logs`: parsing and
// printing; the work is in EzflowRunner (the loop), EzflowStore (the file) and
// EzflowReport (what CI reads).
import EzflowAgents
import EzflowBackends
import EzflowCLI
import EzflowCompiler
import EzflowDiagnostics
import EzflowIR
import EzflowPorts
import EzflowReport
import EzflowRunner
import EzflowRuntime
import EzflowStore
import EzflowUnits
import Foundation

/// The parsed command line (flags and arguments are read off the table in EzflowCLI).
typealias Args = Invocation

/// What the run commands share: the store path, the principal, report files.
struct RunFlags {
    var config = RunConfig()
    var junit: String?, summary: String?, summaryMD: String?, otlp: String?, logPath: String?, metricsFile: String?
    /// `$GITHUB_STEP_SUMMARY` when set: the Markdown summary is appended to it, with or
    /// without `--summary-md` (docs/RUNNING.md), as every step of a job appends its own.
    var stepSummary: String?
    var metricsPort: UInt16?
    var quiet = false
    /// `--json`: one document on stdout at the end instead of the run id line.
    var json = false
    /// `--no-progress`: no live status line, the progress lines only.
    var noProgress = false
    var color = ColorChoice.auto

    /// How `ezrun resume` names this run's store in a hint: `--db PATH`, or `--backend URL`
    /// (its password left out: the user has it).
    var storeFlag: String {
        Backend.kind(of: config.storePath) != nil ? "--backend \(Backend.redacted(config.storePath))" : "--db \(config.storePath)"
    }

    /// The store as the reading commands (`status`, `logs`, …) take it: always `--db`.
    var readFlag: String { "--db " + (Backend.kind(of: config.storePath) != nil ? Backend.redacted(config.storePath) : config.storePath) }

    init(_ a: Args) {
        config.storePath = CLI.storePath(a)
        let principals = a.value("--principals") ?? ProcessInfo.processInfo.environment["EZFLOW_PRINCIPALS"]
            ?? (FileManager.default.fileExists(atPath: ".ezflow/principals.json") ? ".ezflow/principals.json" : nil)
        if let spec = a.value("--as") ?? ProcessInfo.processInfo.environment["EZFLOW_AS"] {
            do { config.principal = try Principal.resolve(spec, principalsFile: principals) } catch { CLI.fail(error.description) }
        }
        if let s = a.value("--selector") {
            guard let n = SelectorName(rawValue: s) else { CLI.usageError(a, "unknown selector `\(s)` (expected cheapest, fastest, learned, auction)") }
            config.selector = n
        }
        if let s = a.value("--on-signal") {
            guard let p = SignalPolicy(rawValue: s) else { CLI.usageError(a, "--on-signal takes stop or drain, not `\(s)`") }
            config.onSignal = p
        }
        let breaker = CLI.breakerFlags(a)
        if let n = breaker.failures { config.breakerFailures = n }
        if let d = breaker.coolDownMs { config.breakerCoolDownMs = d }
        config.waitForApproval = a.flags.contains("--wait")
        if a.flags.contains("--sync-normal") { config.synchronous = .normal }
        junit = a.value("--junit")
        summary = a.value("--summary")
        summaryMD = a.value("--summary-md")
        stepSummary = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"].flatMap { $0.isEmpty ? nil : $0 }
        otlp = a.value("--otlp")
        logPath = a.value("--log")
        metricsFile = a.value("--metrics-file")
        if let p = a.value("--metrics-port") {
            guard let v = UInt16(p) else { CLI.usageError(a, "--metrics-port needs a port number (0 picks a free one)") }
            metricsPort = v
        }
        quiet = a.flags.contains("--quiet")
        json = a.flags.contains("--json")
        noProgress = a.flags.contains("--no-progress")
        color = a.value("--color").flatMap(ColorChoice.init(rawValue:)) ?? .auto  // the table checks the word
    }
}

/// Progress lines, JSON-lines logs and metrics, fed after every committed batch.
final class CLIObserver: RunObserver {
    let runID: String
    let plan: Plan
    let progress: EzflowReport.Progress
    let quiet: Bool
    let log: FileHandle?
    let metrics = RunMetrics()
    let redact: @Sendable (String) -> String

    /// A terminal on stderr that can redraw a line (`TerminalColor.canRedraw`), without
    /// `--quiet` or `--no-progress`: the progress lines scroll above a live status line,
    /// which ticks on a thread of its own. nil: plain lines only, no escape codes.
    let live: LiveStatus?
    /// When the status line's facts were last read from the state (O(tasks), so at most
    /// every `factsEveryMs` unless a line is printed).
    var lastFactsMs: Int64 = 0
    var factsStale = false
    static let factsEveryMs: Int64 = 100

    init(runID: String, plan: Plan, redactor: Redactor, flags: RunFlags) {
        self.runID = runID
        self.plan = plan
        self.quiet = flags.quiet
        redact = { redactor.redact($0) }
        let env = ProcessInfo.processInfo.environment
        let tty = !quiet && !flags.noProgress && TerminalColor.canRedraw(fd: 2, environment: env)
        var ws = winsize()
        let width = tty && ioctl(2, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 20 ? Int(ws.ws_col) - 1 : 100
        let progress = EzflowReport.Progress(width: width, color: TerminalColor.enabled(flags.color, fd: 2, environment: env), redact: redact)
        self.progress = progress
        live = tty ? LiveStatus(write: { Console.err($0) },
                                render: { progress.statusLine($0, nowMs: $1) }) : nil
        live?.start()
        if let logPath = flags.logPath {
            // Appended to, never truncated: `ezrun resume --log F` continues the run's log.
            if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
            log = FileHandle(forWritingAtPath: logPath)
            if log == nil { finish(); CLI.fail("--log \(logPath): cannot open the file for writing") }
            log?.seekToEndOfFile()
        } else {
            log = nil
        }
    }

    /// Gauges cost O(tasks) to compute, so they are refreshed at most twice a second, on
    /// the coordinator's thread. Keeping a copy of the state instead would make the core's
    /// next step copy every array (copy-on-write): O(tasks) per batch.
    var gaugesWanted = false
    var lastGaugesMs: Int64 = 0

    var gaugesStale = true

    func tick(state: RunState) {
        let nowMs = LiveStatus.wallClockMs()
        if let live, factsStale, nowMs - lastFactsMs >= Self.factsEveryMs {
            factsStale = false
            lastFactsMs = nowMs
            live.update(progress.statusFacts(state: state))
        }
        guard gaugesWanted && gaugesStale else { return }
        if nowMs - lastGaugesMs >= 500 {
            lastGaugesMs = nowMs
            gaugesStale = false
            metrics.update(from: state)
        }
    }

    func committed(_ records: [JournalRecord], logs: [AttemptLogRow], state: RunState) {
        gaugesStale = true
        metrics.recordAppend(records: records.count)
        var text = ""
        var lines = ""
        for r in records {
            if !quiet, let l = progress.line(for: r, plan: plan, state: state) { text += l + "\n" }
            if log != nil { lines += logLine(r, state: state) + "\n" }
            switch r.event {
            case .taskSucceeded(let t, let a, _, _, _, _):
                metrics.recordAttempt(agent: agentName(state.history[t].last { $0.attempt == a }?.agent ?? -1), outcome: "succeeded")
            case .taskFailed(let t, let a, let cls, _, _, _, _, _):
                metrics.recordAttempt(agent: agentName(state.history[t].last { $0.attempt == a }?.agent ?? -1), outcome: cls)
            case .runStarted, .timerFired, .approvalGiven, .approvalRefused, .agentHealth, .cancelRequested, .resumed, .planUpgraded,
                 .interrupted, .taskRedriven, .backendFallback:
                break  // not an attempt's end
            }
        }
        if let live {
            // A batch that prints reads the facts at once; the others at most every
            // `factsEveryMs` (here or in `tick`), while the thread keeps the time ticking.
            let nowMs = LiveStatus.wallClockMs()
            if !text.isEmpty || nowMs - lastFactsMs >= Self.factsEveryMs {
                lastFactsMs = nowMs
                factsStale = false
                live.update(progress.statusFacts(state: state), printing: text)
            } else {
                factsStale = true
            }
        } else if !text.isEmpty {
            Console.err(text)
        }
        if let log, !lines.isEmpty { log.write(Data(lines.utf8)) }
    }

    func assigned(seconds: [Double]) {
        for s in seconds { metrics.observeAssignment(seconds: s) }
    }

    /// Stops the live status line and erases it, before the final messages.
    func finish() {
        live?.finish()
    }

    func notice(_ message: String) {
        let line = "ezrun: \(redact(message))\n"
        if let live { live.print(line) } else if !quiet { Console.err(line) }
        log?.write(Data((JSONLog.line(atMs: Int64(Date().timeIntervalSince1970 * 1000), level: .info, runID: runID, message: message,
                                      redact: redact) + "\n").utf8))
    }

    func agentName(_ a: Int) -> String { plan.agentLabel(a) }

    func logLine(_ r: JournalRecord, state: RunState) -> String {
        JSONLog.record(r, runID: runID, plan: plan).render(redact: redact)
    }
}

extension CLI {
    /// The store at `path`: read-only for a command that only reads it (`DurableStore.reading`),
    /// else read-write (created if missing).
    /// The store at `path`: an SQLite file, or a backend URL (`--db postgres://…`).
    static func openStore(_ path: String, readOnly: Bool = false) -> any JournalStore & RunInbox {
        if Backend.kind(of: path) != nil {
            do { return try Backend.open(path).store } catch { failOpening(error) }
        }
        if path.contains("://") {
            // Not a file name: a URL of a backend ezflow does not know (it may hold a password).
            fail("--db \(Backend.redacted(path)): not a store: give a file path, or a backend URL (sqlite:PATH, postgres://…, redis://…)")
        }
        do { return try readOnly ? DurableStore.reading(path: path) : DurableStore(path: path) } catch {
            if error.kind == .notFound { fail("\(error.message); \(error.nextStep ?? error.advice)") }
            fail(error)
        }
    }

    /// Compiles a source or validates an IR file; diagnostics go to stderr (exit 2).
    static func loadProgram(_ path: String, stdlib: String?) -> (IRProgram, [UInt8]) {
        guard FileManager.default.isReadableFile(atPath: path) else { fail("\(path): cannot read the file") }
        let bytes: [UInt8]
        if path.hasSuffix(".ezir") || path.hasSuffix(".json") {
            guard let d = FileManager.default.contents(atPath: path) else { fail("\(path): cannot read the file") }
            bytes = [UInt8](d)
        } else {
            let r = Compiler.build(path: path, stdlibRoot: stdlib)
            if r.check.hasErrors || r.ir == nil {
                // Errors only: warnings are `ezc check`'s to report.
                let text = TextRenderer(color: false).render(r.check.diagnostics.filter { $0.severity == .error }, sources: r.check.sources)
                fail(text.isEmpty ? "\(path): \(r.failure ?? "no IR produced")" : text.trimmingCharacters(in: .newlines))
            }
            bytes = r.ir!
        }
        do { return (try validate(bytes), bytes) } catch { fail("\(path): invalid IR: \(error)") }
    }

    static func newRunID(_ workflow: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        var g = SystemRandomNumberGenerator()
        let safe = String(workflow.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "_" })
        return "\(safe)-\(f.string(from: Date()))-" + String(format: "%04x", UInt32(g.next() & 0xFFFF))
    }

    static func run(_ a: Args) -> Int32 {
        var flags = RunFlags(a)
        let (program, bytes) = loadProgram(a.positional[0], stdlib: a.value("--stdlib"))
        let inputs: [String: JSONValue]
        do { inputs = try RunInputs.resolve(a.all("--input"), workflow: program.document) } catch { fail(error.description) }
        var seed: UInt64
        if let s = a.value("--seed") {
            guard let v = UInt64(s) else { usageError(a, "--seed needs an unsigned 64-bit integer") }
            seed = v
        } else {
            var g = SystemRandomNumberGenerator()
            seed = g.next()
        }
        let runID = a.value("--run-id") ?? newRunID(program.workflow.name)
        // A run id names lock files and is printed on terminals: letters, digits, `.`, `_`, `-`.
        guard (1...200).contains(runID.utf8.count), runID.first != ".", runID.first != "-",
              runID.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }) else {
            usageError(a, "--run-id takes 1…200 ASCII letters, digits, `.`, `_` and `-`, not starting with `.` or `-`")
        }
        let runner: Runner
        if let chosen = chooseBackend(a, runID: runID, mustHold: false) {
            let backend = chosen.ports
            flags.config.storePath = chosen.url
            do {
                runner = try Runner.start(program: program, irBytes: bytes, inputs: inputs, runID: runID, seed: seed, config: flags.config,
                                          ports: coordinatorPorts(backend))
            } catch { fail(error) }
            useRemoteWorkers(runner, on: backend)
            journalFallback(runner, chosen)
        } else {
            do { runner = try Runner.start(program: program, irBytes: bytes, inputs: inputs, runID: runID, seed: seed, config: flags.config) } catch {
                fail(error)
            }
        }
        // The run id, for scripts: `id=$(ezrun run flow.ezflow)`; with --json it is in the final
        // document. Written once the run exists and before anything runs.
        if !flags.json && !Console.tryOut("\(runID)\n") {
            fail("cannot write to standard output: \(String(cString: strerror(errno))); run \(runID) was created and nothing ran: "
                 + "`ezrun resume \(runID)` runs it, `ezrun cancel \(runID)` ends it")
        }
        if !flags.quiet { Console.err("ezrun: run \(runID) of \(program.workflow.name) (\(Units.counted(runner.plan.taskCount, "task")), journal \(Backend.redacted(flags.config.storePath)))\n") }
        if !flags.quiet, Runner.selectorName(runner.plan, config: flags.config) == .auction {
            // W0107 at check time; said again where it takes effect.
            Console.err("ezrun: warning: the `auction` selector only bids in `ezrun simulate`; here every bid is priced from the agent's declared cost, and no agent is asked\n")
        }
        return drive(runner, flags)
    }

    static func resume(_ a: Args) -> Int32 {
        var flags = RunFlags(a)
        let offered = a.value("--workflow").map { loadProgram($0, stdlib: a.value("--stdlib")) }.map { (program: $0.0, bytes: $0.1) }
        let runner: Runner
        if let chosen = chooseBackend(a, runID: a.positional[0], mustHold: true) {
            let backend = chosen.ports
            flags.config.storePath = chosen.url
            do {
                runner = try Runner.resume(runID: a.positional[0], config: flags.config, ports: coordinatorPorts(backend), offered: offered,
                                           allowCompatible: a.flags.contains("--allow-compatible"))
            } catch { fail(error) }
            useRemoteWorkers(runner, on: backend)
        } else {
            do {
                runner = try Runner.resume(runID: a.positional[0], config: flags.config, offered: offered,
                                           allowCompatible: a.flags.contains("--allow-compatible"))
            } catch { fail(error) }
        }
        if !flags.quiet {
            if case .finished(let v) = runner.run.state.phase, v != .waitingForApproval {
                // A re-drive posted to a finished run (`dlq retry --no-resume`, or on a
                // backend) is what this resume is for.
                let redrives = ((try? runner.ports.inbox.inbox(run: runner.runID)) ?? []).filter { $0.kind == .redrive }.compactMap(\.task)
                Console.err(redrives.isEmpty ? "ezrun: run \(runner.runID) has already finished (\(v.rawValue)): nothing to resume\n"
                    : "ezrun: resuming run \(runner.runID) (finished: \(v.rawValue)) to re-drive \(redrives.map { "`\($0)`" }.joined(separator: ", "))\n")
            } else {
                Console.err("ezrun: resuming run \(runner.runID) at event \(runner.run.state.seq)\n")
            }
        }
        if !flags.quiet, runner.survivorsEnded > 0 {
            Console.err("ezrun: ended \(Units.counted(runner.survivorsEnded, "task process group")) the crashed runner left running\n")
        }
        return drive(runner, flags)
    }

    /// Runs to the end, then writes the reports.
    static func drive(_ runner: Runner, _ flags: RunFlags) -> Int32 {
        let code = driveToEnd(runner, flags)
        if flags.json { printFinalDocument(runID: runner.runID, storePath: flags.config.storePath, exitCode: code) }
        return code
    }

    /// `--json`: the run's state as `ezrun status --json` prints it, with the exit status.
    static func printFinalDocument(runID: String, storePath: String, exitCode: Int32) {
        let store = openStore(storePath, readOnly: true)
        let s: StoredRun
        do { s = try StoredRun.load(store: store, runID: runID) } catch { fail(error) }
        let doc = statusDocument(s, openAttempts: s.info.openAttempts, extra: [("exit_code", .int(Int64(exitCode)))])
        printJSON(doc)
    }

    /// After this coordinator stopped on an error: whether another one took the run over
    /// (a standby adopted it while this one was frozen or cut off): it holds the run's
    /// lease now (this one's own is let go first), or it wrote records this one never
    /// saw (it may have finished the run already).
    static func adoptedElsewhere(_ runner: Runner, _ flags: RunFlags) -> Bool {
        guard Backend.kind(of: flags.config.storePath) != nil else { return false }
        runner.releaseLease()
        guard let backend = try? Backend.open(flags.config.storePath) else { return false }
        if (try? backend.leaseHeld(runner.runID)) == true { return true }
        // Records beyond this one's own last batch (which may have committed before the
        // connection was cut) were written by another coordinator.
        let ours = (runner.run.pending.first?.seq ?? runner.run.state.seq) + runner.run.pending.count
        guard let stored = try? backend.store.run(runner.runID) else { return false }
        return stored.journalCount > ours
    }

    static func driveToEnd(_ runner: Runner, _ flags: RunFlags) -> Int32 {
        let observer = CLIObserver(runID: runner.runID, plan: runner.plan, redactor: runner.redactor, flags: flags)
        runner.observer = observer
        observer.gaugesWanted = flags.metricsPort != nil
        var server: MetricsServer? = nil
        if let port = flags.metricsPort {
            let metrics = observer.metrics
            do { server = try MetricsServer(port: port, render: { metrics.exposition() }) } catch { fail(error.description) }
            if !flags.quiet { Console.err("ezrun: metrics on http://127.0.0.1:\(server!.port)/metrics\n") }
        }
        defer { server?.stop() }
        Signals.listen(runner.stopRequest)
        let outcome: RunOutcome
        do { outcome = try runner.execute() } catch {
            observer.finish()
            if adoptedElsewhere(runner, flags) {
                fail("run \(runner.runID) was adopted by another coordinator while this one could not reach the backend (it was frozen or cut off); "
                     + "it goes on there: ezrun status \(runner.runID) \(flags.readFlag)", code: 5)
            }
            fail("\(error.description)\nthe journal is intact; continue with: ezrun resume \(runner.runID) \(flags.storeFlag)", code: 1)
        }
        observer.finish()
        if let sig = outcome.interruptedBy {
            let name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)"
            let state = Backend.kind(of: flags.config.storePath) != nil ? "its attempts on workers go on and are journalled when it resumes"
                : "no task of run \(runner.runID) is running"
            Console.err("ezrun: interrupted by \(name): \(state); continue with: ezrun resume \(runner.runID) \(flags.storeFlag)\n")
            return 128 + sig
        }
        observer.metrics.update(from: outcome.state)
        writeReports(runner: runner, state: outcome.state, flags: flags, observer: observer)
        if !flags.quiet, outcome.verdict == .waitingForApproval {
            let gates = WaitingGate.all(outcome.state).map(\.name)
            let task = gates.count == 1 ? gates[0] : "TASK"
            Console.err("ezrun: run \(runner.runID) is waiting for approval of \(gates.joined(separator: ", ")); "
                + "approve with `ezrun approve \(runner.runID) \(task) --as PRINCIPAL`, then `ezrun resume \(runner.runID)`\n")
        }
        return outcome.verdict.exitCode
    }

    /// What the reports are made of; a store that cannot be read stops `ezrun` with the
    /// store's exit status rather than writing reports of an empty run.
    static func snapshot(store: any JournalStore, runID: String, plan: Plan, state: RunState, workflow: String) -> RunSnapshot {
        let journal: [JournalRecord], rows: [AttemptLogRow]
        do {
            journal = try store.journal(run: runID, from: 0)
            rows = try store.logs(run: runID, task: nil)
        } catch { fail(StoreError(error.kind, path: error.path, code: error.code, message: "reports not written: \(error.message)")) }
        let logs = rows.map {
            AttemptLog(task: $0.task, attempt: $0.attempt, agent: $0.agent, stdout: $0.stdout, stderr: $0.stderr, exitCode: $0.exitCode, durationMs: $0.durationMs)
        }
        let started = journal.first?.event.atMs ?? state.startedAtMs
        return RunSnapshot(runID: runID, workflowName: workflow, plan: plan, state: state, journal: journal, logs: logs,
                           startedAtMs: started, endedAtMs: journal.last?.event.atMs ?? state.nowMs)
    }

    static func writeReports(runner: Runner, state: RunState, flags: RunFlags, observer: CLIObserver) {
        let needed = [flags.junit, flags.summary, flags.summaryMD, flags.stepSummary, flags.otlp].contains { $0 != nil }
        let redact = observer.redact
        if needed {
            let snap = snapshot(store: runner.store, runID: runner.runID, plan: runner.plan, state: state, workflow: runner.workflowName)
            func write(_ path: String?, _ bytes: [UInt8], append: Bool = false) {
                guard let path else { return }
                if append, let h = FileHandle(forWritingAtPath: path) {
                    h.seekToEndOfFile()
                    h.write(Data(bytes))
                    do { try h.close() } catch {
                        Console.err("ezrun: \(path): cannot write: \(error.localizedDescription)\n")
                    }
                    return
                }
                do { try Data(bytes).write(to: URL(fileURLWithPath: path)) } catch {
                    Console.err("ezrun: \(path): cannot write: \(error.localizedDescription)\n")
                }
            }
            write(flags.junit, Array(JUnitReport.render(snap, redact: redact).utf8))
            write(flags.summary, SummaryReport.json(snap, redact: redact))
            let markdown = Array(SummaryReport.markdown(snap, redact: redact).utf8)
            if flags.summaryMD != flags.stepSummary { write(flags.summaryMD, markdown) }
            write(flags.stepSummary, markdown, append: true)
            write(flags.otlp, OTLPExport.json(snap, redact: redact))
        }
        if let m = flags.metricsFile {
            do { try Data(observer.metrics.exposition().utf8).write(to: URL(fileURLWithPath: m)) } catch {
                Console.err("ezrun: \(m): cannot write: \(error.localizedDescription)\n")
            }
        }
    }
}
