// The shell of a real run: one coordinator thread folds events through the pure core,
// commits them (with attempt logs and consumed inbox requests) in ONE SQLite transaction
// per batch, and only then carries out the commands: dispatches go to drivers on the
// cooperative pool, timers into a heap, cancels to the attempt's token. Completions come
// back through the mailbox and form the next batch (group commit: every completion that
// arrived while the previous transaction was being written goes into the next one).
import EzflowAgents
import EzflowIR
import EzflowRuntime
import EzflowStore
import Foundation

/// Settings of `ezrun run` / `ezrun resume` that are not part of the workflow.
public struct RunConfig: Sendable {
    public var storePath: String = DurableStore.defaultPath
    public var synchronous: StoreOptions.Sync = .full
    /// nil: the local operator (no `--as`), not restricted by roles.
    public var principal: Principal?
    public var selector: SelectorName?
    /// Keep waiting for approvals (polling the inbox) instead of exiting with code 4.
    public var waitForApproval = false
    /// How often the inbox (approvals, cancellation) is read while the run waits.
    public var inboxPollMs: Int64 = 200
    public var exec = ExecOptions()
    public var secrets = SecretConfig()
    public var breaker = CircuitBreaker()
    public init() {}
}

/// What the runner tells the outside after each committed batch (progress, logs, metrics).
public protocol RunObserver: AnyObject {
    func committed(_ records: [JournalRecord], logs: [AttemptLogRow], state: RunState)
    /// CPU seconds the core spent choosing each dispatched attempt (ready → dispatch decision).
    func assigned(seconds: [Double])
    /// Called once per loop turn (at least every `inboxPollMs`), for throttled work.
    func tick(state: RunState)
    func notice(_ message: String)
}

/// The outcome of `Runner.execute`.
public struct RunOutcome: Sendable {
    public var runID: String
    public var verdict: Verdict
    public var state: RunState
}

public final class Runner {
    public let program: IRProgram
    public let plan: Plan
    public let store: DurableStore
    public let runID: String
    public let inputs: [String: JSONValue]
    public let config: RunConfig
    public private(set) var run: DurableRun
    let drivers: DriverSet
    let access: Access
    let scope: PlanScope
    public weak var observer: RunObserver?

    let mailbox = Mailbox()
    let workers = WorkerPool()
    /// The run's writer lock (see `lockRun`), released with the process or `deinit`.
    var lockFD: Int32 = -1
    /// Pending timers. Never cancelled: the core treats a stale one as a no-op.
    var timers = TimeQueue<TimerID>()
    var inflight: [Int: (attempt: Int, token: CancelToken)] = [:]
    var taskOutputs: [Int: JSONValue] = [:]
    var pendingLogs: [AttemptLogRow] = []
    var consumedInbox: [Int64] = []
    var lastNow: Millis = 0
    var lastInboxMs: Millis = 0
    /// Events that must be folded in the next batch (e.g. a dispatch refused by policy).
    var deferred: [Event] = []
    /// Commands of records stepped before the loop (a plan upgrade), carried out after
    /// the first commit.
    var carried: [Command] = []

    init(program: IRProgram, plan: Plan, store: DurableStore, run: DurableRun, inputs: [String: JSONValue], config: RunConfig) {
        self.program = program
        self.plan = plan
        self.store = store
        self.run = run
        self.runID = run.runID
        self.inputs = inputs
        self.config = config
        scope = PlanScope(plan: plan, rootInputs: inputs)
        drivers = DriverSet(document: scope.driverDocument, redactor: Redactor(), secretConfig: config.secrets, exec: config.exec)
        access = Access(workflow: program.document)
    }

    deinit { if lockFD >= 0 { close(lockFD) } }

    public var redactor: Redactor { drivers.redactor }

    /// The wall clock in epoch milliseconds, never going backwards within a run.
    func now() -> Millis {
        let t = Millis((Date().timeIntervalSince1970 * 1000).rounded(.down))
        lastNow = max(lastNow, t)
        return lastNow
    }

    static func environment(_ plan: Plan, config: RunConfig) -> RunEnvironment {
        let name = config.selector ?? plan.selectorName.flatMap(SelectorName.init(rawValue:)) ?? .cheapest
        let profiles = (0..<plan.agentNames.count).map { a in
            AgentProfile(latencyMeanMs: Double(max(plan.timeoutMs.max() ?? 0, 1_000)) / 2, successRate: 1,
                         costMeanMicros: Double(plan.agentCostPerCallMicros[a]))
        }
        let selector: any AgentSelector = switch name {
        case .cheapest: CheapestSelector(profiles: nil)
        case .fastest: FastestSelector(profiles: nil)
        case .learned: LearnedSelector(predictor: PerformancePredictor(), profiles: profiles)
        case .auction: AuctionSelector(bidder: SimBidder(profiles: profiles, noise: 0))
        }
        return RunEnvironment(selector: selector, breaker: config.breaker)
    }

    // MARK: Starting and resuming

    /// Creates the run in the store and folds `runStarted`. The principal's `run`
    /// permission is checked (and audited) before anything is written.
    public static func start(program: IRProgram, irBytes: [UInt8], inputs: [String: JSONValue], runID: String, seed: UInt64,
                             config: RunConfig) throws(RunnerError) -> Runner {
        let plan: Plan
        do { plan = try Plan(program, inputs: inputs) } catch { throw .invalid("\(error)") }
        let store = try openStore(config)
        let nowMs = Millis((Date().timeIntervalSince1970 * 1000).rounded(.down))
        try authorize(config.principal, access: Access(workflow: program.document), inputs: inputs, runID: nil, store: store, nowMs: nowMs,
                      target: program.workflow.name)
        let lock = try lockRun(runID, storePath: config.storePath)
        let durable: DurableRun
        do {
            durable = try DurableRun.create(store: store, run: NewRun(runID: runID, workflow: program.workflow.name, irHash: program.hash,
                                                                        ir: irBytes, seed: seed, createdMs: nowMs),
                                            plan: plan, environment: environment(plan, config: config))
            try store.setMeta(run: runID, meta(inputs: inputs, config: config))
        } catch { throw .store(error.description) }
        let r = Runner(program: program, plan: plan, store: store, run: durable, inputs: inputs, config: config)
        r.lockFD = lock
        r.lastNow = nowMs
        r.deferred.append(.runStarted(runID: runID, seed: seed, planHash: program.hash, tagLimits: [:], atMs: nowMs))
        return r
    }

    /// Reopens a run: the IR and inputs come from the store; the journal is replayed;
    /// timers still pending are set again and in-flight attempts re-dispatched (same
    /// idempotency keys) by the core's `resumed` event. `offered` (a workflow given on the
    /// command line) must be the run's IR, unless `allowCompatible` and it only adds tasks
    /// downstream of unfinished ones: then the run moves to it (`plan_upgraded`).
    public static func resume(runID: String, config: RunConfig, offered: (program: IRProgram, bytes: [UInt8])? = nil,
                              allowCompatible: Bool = false) throws(RunnerError) -> Runner {
        let store = try openStore(config)
        var versions = try RunVersions.load(store: store, runID: runID)
        let lock = try lockRun(runID, storePath: config.storePath)
        let cfg = versions.config(config)
        let nowMs = Millis((Date().timeIntervalSince1970 * 1000).rounded(.down))
        var durable: DurableRun
        do {
            durable = try DurableRun.resume(store: store, runID: runID, plans: versions.plans,
                                            environment: environment(versions.plans[0], config: cfg)).run
        } catch { throw .invalid(error.description) }
        var upgrade: (Plan, IRProgram)? = nil
        if let offered, offered.program.hash != versions.current.hash {
            let old = versions.current
            let diff = IRDiff.describe(old: old.document, new: offered.program.document)
            let listing = "what changed:\n" + (diff.isEmpty ? "  (only the hash)" : diff.map { "  " + $0 }.joined(separator: "\n"))
            let unfinished = Self.unfinishedRootTasks(durable.state)
            let compatible = IRDiff.onlyAddsDownstream(old: old.document, new: offered.program.document, unfinished: unfinished)
            guard allowCompatible else {
                throw .invalid("run `\(runID)` was started with IR \(old.hash), the workflow given is \(offered.program.hash); refusing to resume.\n"
                    + listing + (compatible ? "\nthe change only adds tasks after unfinished ones: pass --allow-compatible to continue on it" : ""))
            }
            guard compatible else {
                throw .invalid("run `\(runID)`: the new workflow is not compatible (only tasks depending on unfinished tasks may be added).\n" + listing)
            }
            let plan: Plan
            do { plan = try Plan(offered.program, inputs: versions.inputs) } catch { throw .invalid("\(error)") }
            upgrade = (plan, offered.program)
        }
        let program = upgrade?.1 ?? versions.current
        try authorize(config.principal, access: Access(workflow: program.document), inputs: versions.inputs, runID: runID, store: store,
                      nowMs: nowMs, target: program.workflow.name, action: "resume")
        var carried: [Command] = []
        if let (plan, prog) = upgrade {
            do {
                try store.addVersion(run: runID, fromSeq: durable.state.seq, irHash: prog.hash, ir: offered!.bytes)
                carried = try durable.upgrade(to: plan, atMs: max(nowMs, durable.state.nowMs))
            } catch let e as MigrationError { throw .invalid("run `\(runID)`: cannot move to the new workflow: \(e.message)") }
            catch { throw .store("\(error)") }
            versions.programs.append(prog)
            versions.plans.append(plan)
        }
        let r = Runner(program: program, plan: versions.plan, store: store, run: durable, inputs: versions.inputs, config: cfg)
        r.lockFD = lock
        r.lastNow = max(nowMs, durable.state.nowMs)
        r.restoreFromJournal(versions: versions)
        r.carried = carried
        switch durable.state.phase {
        case .finished(let v) where v != .waitingForApproval: return r
        case .notStarted:
            // Killed between creating the run row and journaling its first event.
            let seed: UInt64
            do { seed = try store.run(runID)?.seed ?? 0 } catch { throw .store(error.description) }
            r.deferred.append(.runStarted(runID: runID, seed: seed, planHash: program.hash, tagLimits: [:], atMs: r.now()))
        default:
            r.deferred.append(.resumed(atMs: r.now()))
        }
        return r
    }

    /// Names of the root workflow's IR tasks with an instance that has not succeeded.
    static func unfinishedRootTasks(_ state: RunState) -> Set<String> {
        let plan = state.plan
        var out = Set<String>()
        for t in 0..<plan.taskCount where state.tasks[t] != .succeeded {
            let w = t < plan.taskWorkflow.count ? plan.taskWorkflow[t] : 0
            if w == 0, t < plan.taskJSON.count, case .string(let n)? = plan.taskJSON[t]["name"] { out.insert(n) }
            // A nested task belongs to its root join: that join is unfinished too.
            var scope = w
            while scope > 0 {
                let join = plan.workflowTask[scope]
                if plan.workflowParent[scope] == 0, case .string(let n)? = plan.taskJSON[join]["name"] { out.insert(n) }
                scope = plan.workflowParent[scope]
            }
        }
        return out
    }

    /// One writer per run: an exclusive `flock` on `<db>.locks/<run>`, held until this
    /// process exits (the kernel drops it on kill -9, so a crash never leaves it stuck).
    static func lockRun(_ runID: String, storePath: String) throws(RunnerError) -> Int32 {
        let dir = storePath + ".locks"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let safe = String(runID.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
        let path = dir + "/" + safe
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .store("\(path): cannot open the run lock: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw .invalid("run `\(runID)` is being run by another ezrun\(holder.isEmpty ? "" : " (pid \(holder))"); wait for it or stop it first")
        }
        _ = ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }

    static func openStore(_ config: RunConfig) throws(RunnerError) -> DurableStore {
        do { return try DurableStore(path: config.storePath, options: StoreOptions(synchronous: config.synchronous)) } catch {
            throw .store(error.description)
        }
    }

    static func meta(inputs: [String: JSONValue], config: RunConfig) -> JSONValue {
        var m: [(String, JSONValue)] = [("inputs", .object(inputs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))]
        m.append(("principal", config.principal.map { .string($0.name) } ?? .null))
        if let s = config.selector { m.append(("selector", .string(s.rawValue))) }
        return .object(m)
    }

    static func authorize(_ p: Principal?, access: Access, inputs: [String: JSONValue], runID: String?, store: DurableStore,
                          nowMs: Millis, target: String, action: String = "run") throws(RunnerError) {
        guard let p else { return }
        let d = access.canRun(p, inputs: inputs)
        try? store.audit(AuditEntry(runID: runID, principal: p.name, action: action, target: target, allowed: d.allowed, reason: d.reason, atMs: nowMs))
        guard d.allowed else { throw .refused(d.reason) }
    }

    /// Pending timers and finished tasks' outputs, from the stored journal. Task ids
    /// before a `plan_upgraded` record are the older plan's: outputs are carried by task
    /// name, and only timers set from the last upgrade on count (it sets the live ones
    /// again under the new ids).
    func restoreFromJournal(versions: RunVersions) {
        let journal = (try? store.journal(run: runID)) ?? []
        let which = versions.versionIndex(journal: journal)
        var index: [String: Int] = [:]
        for (i, n) in plan.taskNames.enumerated() { index[n] = i }
        let lastUpgrade = journal.lastIndex { if case .planUpgraded = $0.event { true } else { false } } ?? 0
        var fired = Set<String>()
        for (i, r) in journal.enumerated() {
            switch r.event {
            case .timerFired(let id, _) where i >= lastUpgrade: fired.insert(id.description)
            case .taskSucceeded(let t, _, let outputs, _, _, _):
                let names = versions.plans[which[i]].taskNames
                if t < names.count, let now = index[names[t]] { taskOutputs[now] = outputs }
            default: break
            }
        }
        for r in journal[lastUpgrade...] {
            for c in r.commands {
                if case .setTimer(let id, let at) = c, !fired.contains(id.description) { timers.push(id, atMs: at) }
            }
        }
    }

    // MARK: The loop

    /// Runs until the run finishes, or pauses for an approval (unless
    /// `waitForApproval`). Throws only for store failures and core refusals (bugs).
    public func execute() throws(RunnerError) -> RunOutcome {
        while true {
            var events: [(Event, AttemptLogRow?)] = deferred.map { ($0, nil) }
            deferred.removeAll()
            // Wait for something to do: a completion, a timer, or the inbox poll.
            var wait: Millis = 0
            if events.isEmpty {
                wait = config.inboxPollMs
                if let t = timers.nextAtMs { wait = min(wait, max(0, t - now())) }
            }
            for c in mailbox.take(timeoutMs: wait) { events.append(complete(c)) }
            let nowMs = now()
            for (id, _) in timers.popDue(nowMs: nowMs) { events.append((.timerFired(id, atMs: nowMs), nil)) }
            // The inbox is another process's channel; reading it once per poll interval
            // keeps a query off every batch of a busy run.
            if nowMs - lastInboxMs >= config.inboxPollMs || events.isEmpty {
                lastInboxMs = nowMs
                for e in readInbox(nowMs: nowMs) { events.append((e, nil)) }
            }

            var commands: [Command] = carried
            var records: [JournalRecord] = run.pending
            carried.removeAll()
            var assignments: [Double] = []
            for (e, log) in events {
                let seq = run.state.seq
                let t0 = Self.threadCPUNs()
                let before = commands.count
                do { commands += try run.step(e) } catch {
                    throw .invalid("internal error: the core refused event #\(seq) of run `\(runID)`: \(error)")
                }
                records.append(run.pending.last!)
                // Assignment latency: the core's CPU time for a step that dispatched.
                let dispatched = commands[before...].reduce(0) { if case .dispatch = $1 { $0 + 1 } else { $0 } }
                if dispatched > 0 {
                    let seconds = Double(Self.threadCPUNs() &- t0) / 1e9
                    for _ in 0..<dispatched { assignments.append(seconds / Double(dispatched)) }
                }
                if var log {
                    log.seq = seq
                    pendingLogs.append(log)
                }
            }
            if !run.pending.isEmpty || !consumedInbox.isEmpty || !pendingLogs.isEmpty {
                do throws(StoreError) {
                    try run.commit(logs: pendingLogs, consumedInbox: consumedInbox)
                } catch { throw .store(error.description) }
                let logs = pendingLogs
                pendingLogs.removeAll()
                consumedInbox.removeAll()
                observer?.committed(records, logs: logs, state: run.state)
                if !assignments.isEmpty { observer?.assigned(seconds: assignments) }
            }
            for c in commands { perform(c) }
            observer?.tick(state: run.state)

            switch run.state.phase {
            case .finished(let v) where v != .waitingForApproval:
                // Attempts the core abandoned (timeouts, cancellation) may still run: stop them.
                for f in inflight.values { f.token.cancel() }
                return RunOutcome(runID: runID, verdict: v, state: run.state)
            case .running where run.state.announcedWaiting && run.state.runningCount == 0 && inflight.isEmpty && deferred.isEmpty:
                // Only approvals can move the run on: record the pause and hand back (exit 4).
                guard !config.waitForApproval else { break }
                do throws(StoreError) {
                    try store.update(run: runID, RunUpdate(status: .waiting, verdict: .waitingForApproval, updatedMs: run.state.nowMs))
                } catch { throw .store(error.description) }
                return RunOutcome(runID: runID, verdict: .waitingForApproval, state: run.state)
            default: break
            }
        }
    }

    /// The event for a finished attempt; its log row is written with it.
    func complete(_ c: Completion) -> (Event, AttemptLogRow?) {
        if inflight[c.task]?.attempt == c.attempt { inflight[c.task] = nil }
        let e = c.result.event(task: c.task, attempt: c.attempt, atMs: now())
        if case .taskSucceeded(let t, _, let outputs, _, _, _) = e { taskOutputs[t] = outputs }
        guard c.result.pid != nil || !c.result.stdout.isEmpty || !c.result.stderr.isEmpty else { return (e, nil) }
        return (e, AttemptLogRow(task: c.task, attempt: c.attempt, seq: -1, agent: c.agent, exitCode: c.result.exitCode,
                                 durationMs: c.result.durationMs, stdout: c.result.stdout, stderr: c.result.stderr))
    }

    /// Approvals and cancellations other processes posted.
    func readInbox(nowMs: Millis) -> [Event] {
        guard let items = try? store.inbox(run: runID), !items.isEmpty else { return [] }
        var out: [Event] = []
        for item in items {
            consumedInbox.append(item.id)
            switch item.kind {
            case .cancel:
                out.append(.cancelRequested(reason: "cancelled by \(item.principal)" + (item.comment.isEmpty ? "" : ": \(item.comment)"), atMs: nowMs))
            case .approval:
                guard let name = item.task, let t = plan.taskNames.firstIndex(of: name) else { continue }
                if let refusal = item.refusal {
                    out.append(.approvalRefused(task: t, principal: item.principal, reason: refusal, atMs: nowMs))

                    continue
                }
                guard run.state.tasks[t] == .awaitingApproval || run.state.pendingConflict[t] != nil else {
                    observer?.notice("ignored approval of `\(name)` by \(item.principal): the task is \(run.state.tasks[t])")
                    continue
                }
                out.append(.approvalGiven(task: t, principal: item.principal, approved: item.approved, atMs: nowMs))
            }
        }
        return out
    }

    static func threadCPUNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    // MARK: Commands

    func perform(_ c: Command) {
        switch c {
        case .dispatch(let task, let attempt, let agent, let key):
            dispatch(task: task, attempt: attempt, agent: agent, key: key)
        case .setTimer(let id, let at):
            timers.push(id, atMs: at)
        case .cancel(let task, let attempt):
            if let f = inflight[task], f.attempt == attempt { f.token.cancel() }
        case .requestApproval(let task, let reason):
            // Answered in the same batch (an approval waiting in the inbox on resume).
            guard run.state.tasks[task] == .awaitingApproval || run.state.pendingConflict[task] != nil else { return }
            let why = if case .conflict(let o) = reason { "conflicting write to output `\(o)`" } else { "approval gate" }
            observer?.notice("waiting for approval of `\(plan.taskNames[task])` (\(why)): ezrun approve \(runID) \(plan.taskNames[task]) --as PRINCIPAL")
        case .deadLetter, .finishRun:
            break
        }
    }

    func dispatch(task: Int, attempt: Int, agent: Int, key: String) {
        let token = CancelToken()
        inflight[task] = (attempt, token)
        if let p = config.principal, task < plan.taskJSON.count {
            let d = access.canDispatch(p, task: plan.taskJSON[task], inputs: inputs)
            if !d.allowed {
                mailbox.post(Completion(task: task, attempt: attempt, agent: agent,
                                        result: .failed("forbidden", "task `\(plan.taskNames[task])`: \(d.reason)")))
                return
            }
        }
        let values = scope.values(for: task, outputs: taskOutputs, state: run.state)
        let drivers = self.drivers, mailbox = self.mailbox, runID = self.runID
        if drivers.isExec(agent: agent), drivers.exec.isSynchronous(task: task) {
            // The common case (a subprocess, no secret to fetch): render here, then spawn
            // and wait on a pooled thread — no async hops between completion and journal.
            switch drivers.exec.prepare(task: task, attempt: attempt, agent: agent, idempotencyKey: key, runID: runID, values: values) {
            case .failed(let r):
                mailbox.post(Completion(task: task, attempt: attempt, agent: agent, result: r))
            case .ready(let p):
                let exec = drivers.exec
                workers.submit {
                    mailbox.post(Completion(task: task, attempt: attempt, agent: agent, result: exec.runPrepared(p, cancel: token)))
                }
            }
            return
        }
        Task.detached {
            let r = await drivers.run(task: task, attempt: attempt, agent: agent, key: key, runID: runID, values: values, cancel: token)
            mailbox.post(Completion(task: task, attempt: attempt, agent: agent, result: r))
        }
    }
}

/// A stored run, replayed for `ezrun status`, `approve` and reports.
public struct StoredRun: Sendable {
    public var info: RunInfo
    public var program: IRProgram
    public var plan: Plan
    public var state: RunState
    public var inputs: [String: JSONValue]
    public var principal: String?

    /// Reads and replays run `runID` (the journal must replay with this build).
    public static func load(store: DurableStore, runID: String) throws(RunnerError) -> StoredRun {
        let versions = try RunVersions.load(store: store, runID: runID)
        let info: RunInfo
        let journal: [JournalRecord]
        do {
            guard let i = try store.run(runID) else { throw RunnerError.invalid("\(store.path): no run `\(runID)`") }
            info = i
            journal = try store.journal(run: runID)
        } catch let e as RunnerError { throw e } catch { throw .store("\(error)") }
        let config = versions.config(RunConfig())
        let state: RunState
        do {
            state = try Replay.verify(plans: versions.plans, journal: journal, environment: Runner.environment(versions.plans[0], config: config))
        } catch {
            throw .invalid("run `\(runID)`: \(error)")
        }
        let principal: String? = if case .string(let p)? = versions.meta["principal"] { p } else { nil }
        return StoredRun(info: info, program: versions.current, plan: state.plan, state: state, inputs: versions.inputs, principal: principal)
    }

    /// The IR task object of plan task `t`.
    public func irTask(_ t: Int) -> JSONValue? {
        t >= 0 && t < plan.taskJSON.count ? plan.taskJSON[t] : nil
    }
}
