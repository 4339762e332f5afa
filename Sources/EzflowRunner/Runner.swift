// The shell of a run: the coordinator. It folds events through the pure core, commits
// them (with attempt logs and consumed inbox requests) in ONE journal append per batch,
// and only then carries out the commands: dispatches are offered on the work queue and
// handed to the executor, timers go into a heap, cancels to the executor. It reaches the
// world only through `RunPorts`, so the same code runs `ezrun run` (SQLite, wall clock,
// worker threads) and `ezrun simulate` (memory, virtual time, simulated agents, faults).
//
// `turn()` is one batch; `execute()` is the real loop around it (wait for a completion,
// a timer or the inbox poll, then turn). Group commit: every completion that arrived
// while the previous batch was being written goes into the next one.
import EzflowAgents
import EzflowIR
import EzflowPorts
import EzflowRuntime
import EzflowUnits
import Foundation

/// What the runner tells the outside after each committed batch (progress, logs, metrics).
public protocol RunObserver: AnyObject {
    func committed(_ records: [JournalRecord], logs: [AttemptLogRow], state: RunState)
    /// CPU seconds the core spent choosing each dispatched attempt (ready → dispatch decision).
    func assigned(seconds: [Double])
    /// Called once per loop turn (at least every `inboxPollMs`), for throttled work.
    func tick(state: RunState)
    func notice(_ message: String)
    /// Just before the core folds `event` (the state is the one it folds into).
    func willFold(_ event: Event, state: RunState)
    /// Just after: the record (event and commands) and the new state. Not yet committed.
    func didFold(_ record: JournalRecord, state: RunState)
}

extension RunObserver {
    public func willFold(_ event: Event, state: RunState) {}
    public func didFold(_ record: JournalRecord, state: RunState) {}
}

/// The outcome of `Runner.execute`.
public struct RunOutcome: Sendable {
    public var runID: String
    /// The run's verdict; `.cancelled` when `interruptedBy` is set (the run is not over).
    public var verdict: Verdict
    public var state: RunState
    /// The signal that interrupted `ezrun` (`StopRequest`): the run's attempts were ended
    /// or drained and it is left for `ezrun resume`.
    public var interruptedBy: Int32? = nil
}

/// What one `turn` came to.
public enum TurnResult: Sendable {
    /// The run goes on: call `turn` again when a completion arrives, at `nextTimerAtMs`,
    /// or after the inbox poll interval.
    case running(nextTimerAtMs: Millis?)
    /// Finished, or paused for an approval (`verdict == .waitingForApproval`).
    case stopped(RunOutcome)
}

public final class Runner {
    /// The IR the run executes; nil for a plan simulated without one (`attach`).
    public let program: IRProgram?
    public let workflowName: String
    public let plan: Plan
    public let ports: RunPorts
    public let runID: String
    public let inputs: [String: JSONValue]
    public let config: RunConfig
    public private(set) var run: DurableRun
    let drivers: DriverSet
    let access: Access
    let scope: PlanScope
    let writer: JournalWriter
    public weak var observer: RunObserver?
    /// Carries out attempts (the local worker threads unless a simulation sets its own).
    public var executor: (any AttemptExecutor)?
    public var mutations = RunnerMutations.none
    /// The agents' health checks (`HealthMonitor` in a real run; nil: none, or a simulation,
    /// which feeds `agent_health` itself).
    public var health: (any HealthProbe)?

    /// Wakes `execute` when a completion arrives (set with the local workers).
    var wakeSource: Wakeup?
    /// Set when the attempts are carried out by workers in other processes.
    var remote: RemoteWaiting?
    /// Pending timers. Never cancelled: the core treats a stale one as a no-op.
    var timers = TimeQueue<TimerID>()
    /// When each pending timer is due, and which fired (in this plan version): a resumed
    /// run arms a timer from the journal and again from the core's `resumed` (twice after
    /// two crashes), and it must fire once. Timer ids are one-shot per plan version. Found
    /// by `ezrun simulate` with `runner:crash`; the oracle checks each timer fires once.
    var armed: [TimerID: Millis] = [:]
    var firedTimers = Set<TimerID>()
    var pendingLogs: [AttemptLogRow] = []
    /// Attempt processes to record or forget with the next commit (no commit of their own).
    var pendingProcesses = ProcessChanges()
    /// Set from ezrun's signal thread: stop dispatching, then end or drain what runs.
    public internal(set) var stopRequest = StopRequest(wake: nil)
    var interruptionJournalled = false
    var consumedInbox: [Int64] = []
    var lastInboxMs: Millis = Millis.min
    /// Events that must be folded in the next batch (e.g. a dispatch refused by policy).
    var deferred: [Event] = []
    /// Commands of records stepped before the loop (a plan upgrade), carried out after
    /// the first commit.
    var carried: [Command] = []
    /// Completions the queue handed over that the core no longer waits for (duplicates,
    /// stale attempts): acknowledged, never folded.
    public private(set) var completionsRefused = 0
    var released = false
    /// The backend's dead-letter feed: entries made from the records folded (and, on a
    /// resume, from the whole journal), sent with the next commit or right after it.
    var deadLetterFeed: DeadLetterFeed
    var pendingDeadLetters: [DeadLetterEntry] = []

    init(program: IRProgram?, plan: Plan, ports: RunPorts, run: DurableRun, inputs: [String: JSONValue], config: RunConfig) {
        self.program = program
        workflowName = program?.workflow.name ?? "simulated"
        self.plan = plan
        self.ports = ports
        self.run = run
        self.runID = run.runID
        self.inputs = inputs
        self.config = config
        scope = PlanScope(plan: plan, rootInputs: inputs, files: FileStore(storePath: config.storePath))
        drivers = DriverSet(document: scope.driverDocument, redactor: Redactor(), secretConfig: config.secrets, exec: config.exec)
        access = Access(workflow: program?.document ?? .object([]))
        writer = JournalWriter(redactor: drivers.redactor)
        deadLetterFeed = DeadLetterFeed(runID: run.runID, versions: [plan.taskNames])
    }

    deinit { releaseLease() }

    /// Gives the run lease back (also done when the runner goes away).
    public func releaseLease() {
        health?.stop()
        guard !released else { return }
        released = true
        ports.lease.release(run: runID, owner: ports.owner)
    }

    public var redactor: Redactor { drivers.redactor }
    public var store: any JournalStore { ports.store }

    /// The run's time: the clock, never behind the last folded event.
    /// (Public: an event posted from outside, `post`, is stamped with it, never with the
    /// poster's own clock.)
    public func now() -> Millis { max(ports.clock.nowMs(), run.state.nowMs) }

    static func environment(_ plan: Plan, config: RunConfig) -> RunEnvironment {
        let name = selectorName(plan, config: config)
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
        return RunEnvironment(selector: selector, breaker: CircuitBreaker.of(plan, failures: config.breakerFailures, coolDownMs: config.breakerCoolDownMs))
    }

    // MARK: Starting and resuming

    /// `start` on the embedded ports (SQLite at `config.storePath`, local workers).
    public static func start(program: IRProgram, irBytes: [UInt8], inputs: [String: JSONValue], runID: String, seed: UInt64,
                             config: RunConfig) throws(RunnerError) -> Runner {
        let wake = Wakeup()
        let r = try start(program: program, irBytes: irBytes, inputs: inputs, runID: runID, seed: seed, config: config,
                          ports: .embedded(config, wake: wake))
        r.useLocalWorkers(wake)
        r.useHealthChecks(HealthMonitor.start(plan: r.plan, exec: config.exec, wake: wake))
        return r
    }

    /// Creates the run in the store and folds `runStarted`. The principal's `run`
    /// permission is checked (and audited) before anything is written.
    public static func start(program: IRProgram, irBytes: [UInt8], inputs: [String: JSONValue], runID: String, seed: UInt64,
                             config: RunConfig, ports: RunPorts) throws(RunnerError) -> Runner {
        let plan: Plan
        do { plan = try Plan(program, inputs: inputs) } catch { throw .invalid("\(error)") }
        let nowMs = ports.clock.nowMs()
        try authorize(config.principal, access: Access(workflow: program.document), inputs: inputs, runID: runID, store: ports.store,
                      nowMs: nowMs, target: program.workflow.name)
        try acquire(ports, runID: runID, nowMs: nowMs)
        let prior: LearnedPrior?
        do { prior = try learnedPrior(plan, config: config, store: ports.store, workflow: program.workflow.name, runID: runID) } catch {
            ports.lease.release(run: runID, owner: ports.owner)
            throw error
        }
        let durable: DurableRun
        do {
            durable = try DurableRun.create(store: ports.store, run: NewRun(runID: runID, workflow: program.workflow.name,
                                                                              irHash: program.hash, ir: irBytes, seed: seed, createdMs: nowMs,
                                                                              meta: meta(inputs: inputs, config: config)),
                                            plan: plan, environment: environment(plan, config: config))
        } catch {
            ports.lease.release(run: runID, owner: ports.owner)
            // A run id already taken is the caller's input, not a broken store.
            if error.kind == .conflict {
                let exists: Bool
                do { exists = try ports.store.run(runID) != nil } catch let read { throw .store("\(error.description); \(read.description)") }
                if exists {
                    throw .invalid("run `\(runID)` already exists in this store; pick another --run-id, or continue it with `ezrun resume \(runID)`")
                }
            }
            throw .store(error.description)
        }
        let r = Runner(program: program, plan: plan, ports: ports, run: durable, inputs: inputs, config: config)
        r.deferred.append(.runStarted(runID: runID, seed: seed, planHash: program.hash, tagLimits: [:], atMs: nowMs, prior: prior))
        return r
    }

    /// Starts a run of a plan that has no IR program behind it (simulations of synthetic
    /// plans and of compiled workflows): no access checks, an empty IR in the store.
    public static func attach(plan: Plan, runID: String, seed: UInt64, config: RunConfig, ports: RunPorts,
                              environment env: RunEnvironment) throws(RunnerError) -> Runner {
        let nowMs = ports.clock.nowMs()
        try acquire(ports, runID: runID, nowMs: nowMs)
        let durable: DurableRun
        do {
            durable = try DurableRun.create(store: ports.store, run: NewRun(runID: runID, workflow: "simulated", irHash: plan.hash, ir: [],
                                                                              seed: seed, createdMs: nowMs),
                                            plan: plan, environment: env)
        } catch {
            ports.lease.release(run: runID, owner: ports.owner)
            throw .store(error.description)
        }
        let r = Runner(program: nil, plan: plan, ports: ports, run: durable, inputs: [:], config: config)
        r.deferred.append(.runStarted(runID: runID, seed: seed, planHash: plan.hash, tagLimits: [:], atMs: nowMs))
        return r
    }

    /// Resumes a run `attach` started, from what its store committed.
    public static func reattach(runID: String, plan: Plan, config: RunConfig, ports: RunPorts, environment env: RunEnvironment,
                                mutations: RunnerMutations = .none) throws(RunnerError) -> Runner {
        try acquire(ports, runID: runID, nowMs: ports.clock.nowMs())
        let resumed: (run: DurableRun, openAttempts: [OpenAttempt], journal: [JournalRecord])
        do { resumed = try DurableRun.resume(store: ports.store, runID: runID, plans: [plan], environment: env) } catch {
            ports.lease.release(run: runID, owner: ports.owner)
            throw .invalid(error.description)
        }
        let r = Runner(program: nil, plan: plan, ports: ports, run: resumed.run, inputs: [:], config: config)
        do { try r.prepareResume(journal: resumed.journal, carried: [], planHash: plan.hash, nowMs: r.now(), mutations: mutations) } catch {
            r.releaseLease()
            throw error
        }
        return r
    }

    /// What every resume does once the journal is replayed: re-arm the pending timers,
    /// re-issue the cancels of abandoned attempts, and fold `resumed` (or `runStarted`
    /// for a run killed before its first event) in the first turn.
    func prepareResume(journal: [JournalRecord], carried upgrade: [Command], planHash: String, nowMs: Millis,
                       mutations: RunnerMutations) throws(RunnerError) {
        self.mutations = mutations
        restoreTimers(from: journal)
        carried = upgrade + abandonedCancels()
        // A crash may have come between a commit and its feed entries (where the store does
        // not carry them): send them all again, with those of an upgrade's records.
        for r in journal + run.pending {
            let entries = deadLetterFeed.entries(of: r)
            if !mutations.skipDeadLetterResend { pendingDeadLetters += entries }
        }
        switch run.state.phase {
        case .finished(let v) where v != .waitingForApproval: break
        case .notStarted:
            // Killed between creating the run row and journaling its first event.
            let seed: UInt64
            do { seed = try ports.store.run(runID)?.seed ?? 0 } catch { throw .store(error.description) }
            let prior = program == nil ? nil
                : try Self.learnedPrior(plan, config: config, store: ports.store, workflow: workflowName, runID: runID)
            deferred.append(.runStarted(runID: runID, seed: seed, planHash: planHash, tagLimits: [:], atMs: nowMs, prior: prior))
        default:
            deferred.append(.resumed(atMs: nowMs, restartsAttempts: true))
        }
    }

    /// Processes of a crashed runner's attempts that this resume found alive and ended.
    public private(set) var survivorsEnded = 0

    /// A runner killed with `kill -9` may leave attempts running (its `ezguard` normally
    /// ends them within the grace period): end every recorded one the store
    /// proves is still that attempt, whole group, before anything is dispatched again.
    func endSurvivors() throws(RunnerError) {
        let recorded: [AttemptProcess]
        do { recorded = try ports.store.processes(run: runID) } catch { throw .store(error.description) }
        guard !recorded.isEmpty, let executor else { return }
        survivorsEnded = executor.endSurvivors(recorded)
    }

    /// Nothing is waiting to be folded: the next turn needs a completion, a timer or the inbox.
    public var isIdle: Bool { deferred.isEmpty && carried.isEmpty }

    /// When the earliest pending timer is due (run clock), if any.
    public var nextTimerAtMs: Millis? { timers.nextAtMs }

    /// An event from the world outside the queue and the inbox (an agent's health), folded
    /// in the next turn.
    public func post(_ event: Event) { deferred.append(event) }

    /// `resume` on the embedded ports.
    public static func resume(runID: String, config: RunConfig, offered: (program: IRProgram, bytes: [UInt8])? = nil,
                              allowCompatible: Bool = false) throws(RunnerError) -> Runner {
        let wake = Wakeup()
        let r = try resume(runID: runID, config: config, ports: .embedded(config, wake: wake), offered: offered,
                           allowCompatible: allowCompatible)
        r.useLocalWorkers(wake)
        r.useHealthChecks(HealthMonitor.start(plan: r.plan, exec: config.exec, wake: wake))
        do { try r.endSurvivors() } catch {
            r.releaseLease()
            throw error
        }
        return r
    }

    /// Reopens a run: the IR and inputs come from the store; the journal is replayed;
    /// timers still pending are set again and in-flight attempts re-offered (same
    /// idempotency keys) by the core's `resumed` event. `offered` (a workflow given on the
    /// command line) must be the run's IR, unless `allowCompatible` and it only adds tasks
    /// downstream of unfinished ones: then the run moves to it (`plan_upgraded`). A
    /// journal that cannot be read or replayed refuses the resume.
    public static func resume(runID: String, config: RunConfig, ports: RunPorts, offered: (program: IRProgram, bytes: [UInt8])? = nil,
                              allowCompatible: Bool = false, mutations: RunnerMutations = .none) throws(RunnerError) -> Runner {
        let store = ports.store
        var versions = try RunVersions.load(store: store, runID: runID)
        let nowMs0 = ports.clock.nowMs()
        try acquire(ports, runID: runID, nowMs: nowMs0)
        do {
            let r = try reopen(runID: runID, config: config, ports: ports, versions: &versions, offered: offered,
                               allowCompatible: allowCompatible, mutations: mutations)
            return r
        } catch {
            ports.lease.release(run: runID, owner: ports.owner)
            throw error
        }
    }

    static func reopen(runID: String, config: RunConfig, ports: RunPorts, versions: inout RunVersions,
                       offered: (program: IRProgram, bytes: [UInt8])?, allowCompatible: Bool,
                       mutations: RunnerMutations) throws(RunnerError) -> Runner {
        let store = ports.store
        let cfg = versions.config(config)
        var durable: DurableRun
        let journal: [JournalRecord]
        do {
            (durable, _, journal) = try DurableRun.resume(store: store, runID: runID, plans: versions.plans,
                                                          environment: environment(versions.plans[0], config: cfg))
        } catch {
            // A journal the store cannot read refuses the resume as a store failure (exit 5),
            // one that does not match its chain as an edited store (exit 6).
            if case .store(let e) = error { throw versions.failure(e) }
            throw .invalid(error.description)
        }
        let nowMs = max(ports.clock.nowMs(), durable.state.nowMs)
        var upgrade: (Plan, IRProgram)? = nil
        if let offered, offered.program.hash != versions.current.hash {
            upgrade = try upgradePlan(runID: runID, versions: versions, state: durable.state, offered: offered.program,
                                      allowCompatible: allowCompatible)
        }
        let program = upgrade?.1 ?? versions.current
        try authorize(config.principal, access: Access(workflow: program.document), inputs: versions.inputs, runID: runID, store: store,
                      nowMs: nowMs, target: program.workflow.name, action: "resume")
        var carried: [Command] = []
        if let (plan, prog) = upgrade {
            do {
                try store.addVersion(run: runID, fromSeq: durable.state.seq, irHash: prog.hash, ir: offered!.bytes)
                carried = try durable.upgrade(to: plan, atMs: nowMs)
            } catch let e as MigrationError { throw .invalid("run `\(runID)`: cannot move to the new workflow: \(e.message)") }
            catch { throw .store("\(error)") }
            versions.programs.append(prog)
            versions.plans.append(plan)
        }
        let r = Runner(program: program, plan: versions.plan, ports: ports, run: durable, inputs: versions.inputs, config: cfg)
        r.deadLetterFeed = DeadLetterFeed(runID: runID, versions: versions.plans.map(\.taskNames))
        try r.prepareResume(journal: journal, carried: carried, planHash: program.hash, nowMs: nowMs, mutations: mutations)
        return r
    }

    /// The plan of `offered`, if the run may move to it; else a refusal listing the diff.
    static func upgradePlan(runID: String, versions: RunVersions, state: RunState, offered: IRProgram,
                            allowCompatible: Bool) throws(RunnerError) -> (Plan, IRProgram) {
        let old = versions.current
        let diff = IRDiff.describe(old: old.document, new: offered.document)
        let listing = "what changed:\n" + (diff.isEmpty ? "  (only the hash)" : diff.map { "  " + $0 }.joined(separator: "\n"))
        let compatible = IRDiff.onlyAddsDownstream(old: old.document, new: offered.document, unfinished: unfinishedRootTasks(state))
        guard allowCompatible else {
            throw .invalid("run `\(runID)` was started with IR \(old.hash), the workflow given is \(offered.hash); refusing to resume.\n"
                + listing + (compatible ? "\nthe change only adds tasks after unfinished ones: pass --allow-compatible to continue on it" : ""))
        }
        guard compatible else {
            throw .invalid("run `\(runID)`: the new workflow is not compatible (only tasks depending on unfinished tasks may be added).\n" + listing)
        }
        do { return (try Plan(offered, inputs: versions.inputs), offered) } catch { throw .invalid("\(error)") }
    }

    /// Takes the run's single-writer lease. Its epoch is not kept: the journal's expected
    /// seq already fences a stale writer here; backends with workers fence on it.
    static func acquire(_ ports: RunPorts, runID: String, nowMs: Millis) throws(RunnerError) {
        do { _ = try ports.lease.acquire(run: runID, owner: ports.owner, nowMs: nowMs) } catch { throw .invalid(error.message) }
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

    static func meta(inputs: [String: JSONValue], config: RunConfig) -> JSONValue {
        var m: [(String, JSONValue)] = [("inputs", .object(inputs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))]
        m.append(("principal", config.principal.map { .string($0.name) } ?? .null))
        if let s = config.selector { m.append(("selector", .string(s.rawValue))) }
        // The breaker decides what the core dispatches: a resume and a replay need the same.
        if let n = config.breakerFailures { m.append(("breaker_failures", .int(Int64(n)))) }
        if let d = config.breakerCoolDownMs { m.append(("breaker_cool_down_ms", .int(d))) }
        return .object(m)
    }

    /// Checks the principal's permission and audits the decision. An audit that cannot be
    /// written refuses the action: an unaudited decision is not taken.
    static func authorize(_ p: Principal?, access: Access, inputs: [String: JSONValue], runID: String?, store: any JournalStore,
                          nowMs: Millis, target: String, action: String = "run") throws(RunnerError) {
        guard let p else { return }
        let d = access.canRun(p, inputs: inputs)
        do {
            try store.audit(AuditEntry(runID: runID, principal: p.name, action: action, target: target, allowed: d.allowed, reason: d.reason,
                                       atMs: nowMs))
        } catch { throw .store("cannot record the access decision: \(error.description)") }
        guard d.allowed else { throw .refused(d.reason) }
    }

    /// Pending timers, from the journal the resume replayed (read once: each read decodes
    /// and re-verifies the chain; finished tasks' outputs are in the replayed `RunState`).
    /// Only timers set from the last `plan_upgraded` on count (it sets the live ones again
    /// under the new ids).
    func restoreTimers(from journal: [JournalRecord]) {
        guard !mutations.skipTimerRearm else { return }
        let lastUpgrade = journal.lastIndex { if case .planUpgraded = $0.event { true } else { false } } ?? 0
        var wake: Millis?
        for r in journal[lastUpgrade...] {
            if case .timerFired(let id, _) = r.event {
                if id == .wake { wake = nil } else { firedTimers.insert(id) }
            }
            for c in r.commands { if case .setTimer(.wake, let at) = c { wake = at } }
        }
        for r in journal[lastUpgrade...] {
            for c in r.commands {
                if case .setTimer(let id, let at) = c, id != .wake { arm(id, atMs: at) }
            }
        }
        if let wake { arm(.wake, atMs: wake) }
    }

    /// Arms `id` unless it is already armed for the same time (`wake` may be armed again
    /// after it fired: each `setTimer` is a new wake-up).
    func arm(_ id: TimerID, atMs at: Millis) {
        guard id == .wake || !firedTimers.contains(id), armed[id] != at else { return }
        armed[id] = at
        timers.push(id, atMs: at)
    }

    /// Cancels for every attempt the journal abandoned. The crashed runner may have
    /// committed a cancel and died before carrying it out: without these, the abandoned
    /// attempt would keep running next to its retry (found by `ezrun simulate` with
    /// `runner:crash` and `clock:jump`; regression test `SimFaultTests`).
    func abandonedCancels() -> [Command] {
        var out: [Command] = []
        for t in 0..<plan.taskCount { for a in run.state.abandoned[t] { out.append(.cancel(task: t, attempt: a)) } }
        return out
    }

    // MARK: The loop

    /// Runs until the run finishes, or pauses for an approval (unless
    /// `waitForApproval`). Throws only for store failures and core refusals (bugs).
    public func execute() throws(RunnerError) -> RunOutcome {
        while true {
            if stopRequest.requests > 0, let outcome = try honourStop() { return outcome }
            switch try turn() {
            case .stopped(let outcome):
                if outcome.state.isFinishedForGood { try endInFlight() }
                return outcome
            case .running(let next):
                guard deferred.isEmpty else { continue }
                var wait = config.inboxPollMs
                if let t = next { wait = min(wait, max(0, t - now())) }
                if let w = wakeSource { w.wait(timeoutMs: wait) } else if let r = remote { r.wait(wait) }
            }
        }
    }

    /// How long to wait for attempts being ended: the grace period, SIGKILL, and the
    /// bounded wait for their groups to be gone.
    var endWaitMs: Int64 { 2 * max(0, config.exec.killGraceMs) + 3_000 }

    /// The run is over: end what still runs (abandoned attempts: timeouts, deadline,
    /// cancel, budget stop), wait until their process groups are gone, and forget their
    /// processes in the store. (`turn` already did this before committing the verdict;
    /// here it catches what a stop request left.) A run over for good also drops its work
    /// from a shared queue.
    func endInFlight() throws(RunnerError) {
        endAll(forceAfter: stopRequest.requests)
        try flushProcesses()
        if run.state.isFinishedForGood { forgetQueuedWork() }
    }

    /// Ends every attempt in flight (SIGTERM to their groups, the grace, SIGKILL) and
    /// waits, at most `endWaitMs`, until their process groups are gone. Once more than
    /// `forceAfter` stop requests arrived, they are killed at once.
    func endAll(forceAfter: Int) {
        guard let executor, executor.inFlight > 0 else { return }
        executor.stopAll(force: stopRequest.requests > forceAfter)
        let deadline = ports.clock.nowMs() + endWaitMs
        while !executor.awaitIdle(timeoutMs: 100) {
            guard ports.clock.nowMs() < deadline else {
                observer?.notice("\(Units.counted(executor.inFlight, "attempt")) did not end within \(endWaitMs) ms")
                return
            }
            if stopRequest.requests > forceAfter { executor.stopAll(force: true) }
        }
    }

    /// Commits the process changes not yet written, if any (one commit, at the end).
    func flushProcesses() throws(RunnerError) {
        if let changes = executor?.takeProcessChanges() { pendingProcesses.merge(changes) }
        guard !pendingProcesses.isEmpty else { return }
        try commit(assignments: [])
    }

    /// SIGINT/SIGTERM (`StopRequest`): nothing new starts (`perform`); by default the
    /// attempts in flight are ended now, with `--on-signal drain` they finish and are
    /// journalled first. Each further request escalates: drain → stop → SIGKILL. nil:
    /// keep turning (draining).
    func honourStop() throws(RunnerError) -> RunOutcome? {
        let drainFirst = config.onSignal == .drain ? 1 : 0
        if !interruptionJournalled {
            // Journalled first: from this record on the core dispatches nothing, and the
            // results drained after it are folded behind it.
            interruptionJournalled = true
            if run.state.isActive {
                deferred.append(.interrupted(signal: Self.signalName(stopRequest.signal), drain: drainFirst == 1, atMs: now()))
                if case .stopped(let outcome) = try turn() {
                    try endInFlight()
                    return outcome
                }
            }
        }
        let inFlight = executor?.inFlight ?? 0
        if stopRequest.requests <= drainFirst {
            if inFlight > 0 { return nil }
            // Drained: journal the results handed back since the last turn (an attempt
            // leaves `inFlight` only once its completion is on the queue).
            if case .stopped(let outcome) = try turn() {
                try endInFlight()
                return outcome
            }
        } else if inFlight > 0 {
            // The results of ended attempts are not folded: the attempts stay open and
            // `ezrun resume` offers them again, as after a crash.
            observer?.notice("stopping: the same signal again kills them at once")
            endAll(forceAfter: drainFirst + 1)
        }
        try flushProcesses()
        do { try ports.store.update(run: runID, RunUpdate(status: .interrupted, verdict: nil, updatedMs: now())) } catch {
            throw .store(error.description)
        }
        return RunOutcome(runID: runID, verdict: .cancelled, state: run.state, interruptedBy: stopRequest.signal)
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(signal)"
        }
    }

    /// One batch: collect what happened (deferred events, completions on the queue, due
    /// timers, the inbox), fold it, commit it in one append, then carry out the commands.
    public func turn() throws(RunnerError) -> TurnResult {
        // A coordinator that lost its run (frozen or cut off past its lease) stops now,
        // not at its next append, which may be a timeout away.
        guard ports.lease.holds(run: runID) else {
            throw .store("run `\(runID)`: this coordinator lost the run's lease (it was frozen or cut off from the backend for longer than the lease)")
        }
        let nowMs = now()
        var events: [(Event, AttemptLogRow?, WorkItem?)] = deferred.map { ($0, nil, nil) }
        deferred.removeAll()
        let completions: [WorkCompletion]
        do { completions = try ports.queue.completions(run: runID, reader: ports.owner) } catch {
            throw .store("run `\(runID)`: cannot read completions: \(error.description)")
        }
        for c in completions { events.append((c.outcome.event(task: c.item.task, attempt: c.item.attempt, atMs: nowMs), c.log, c.item)) }
        try reapIfDue(nowMs: nowMs)
        for (id, at) in timers.popDue(nowMs: nowMs) {
            if id == .wake {
                // `wake` is armed anew by each `setTimer` (a breaker cool-down, a wait for
                // health): only its latest arming fires, once.
                guard armed[id] == at else { continue }
                armed[id] = nil
                events.append((.timerFired(id, atMs: nowMs), nil, nil))
                continue
            }
            if armed[id] == at { armed[id] = nil }
            if firedTimers.insert(id).inserted { events.append((.timerFired(id, atMs: nowMs), nil, nil)) }
        }
        // The inbox is another process's channel; reading it once per poll interval
        // keeps a query off every batch of a busy run.
        if lastInboxMs == Millis.min || nowMs - lastInboxMs >= config.inboxPollMs || events.isEmpty {
            lastInboxMs = nowMs
            for e in try readInbox(nowMs: nowMs) { events.append((e, nil, nil)) }
        }
        for e in healthChanges(nowMs: nowMs) { events.append((e, nil, nil)) }
        var commands: [Command] = carried
        carried.removeAll()
        var assignments: [Double] = []
        for (e, log, item) in events {
            if let item, !mutations.skipCompletionFence, !awaitsResult(item) {
                completionsRefused += 1
                continue
            }
            let before = commands.count
            let t0 = Self.threadCPUNs()
            commands += try fold(e, log: log)
            // Assignment latency: the core's CPU time for a step that dispatched.
            let dispatched = commands[before...].reduce(0) { if case .dispatch = $1 { $0 + 1 } else { $0 } }
            if dispatched > 0 {
                let seconds = Double(Self.threadCPUNs() &- t0) / 1e9
                for _ in 0..<dispatched { assignments.append(seconds / Double(dispatched)) }
            }
        }
        // A verdict (deadline, budget stop, cancel, a last failure) is journalled only once
        // the process trees of the attempts still in flight are gone.
        if run.state.isFinishedForGood { endAll(forceAfter: stopRequest.requests) }
        if let changes = executor?.takeProcessChanges() { pendingProcesses.merge(changes) }
        let effects = queueEffects(of: commands, acknowledged: completions.map(\.item))
        // Where the queue is tables beside the journal, the acknowledgements, cancels and
        // offers commit with the records that caused them; elsewhere they follow the commit.
        // The dead-letter feed commits with them wherever the store keeps it (a `TurnStore`:
        // PostgreSQL, Redis, SQLite): a run that ends is never resumed to send them again.
        let inOne = ports.queueInStore
        let feedInOne = ports.store is any TurnStore
        var writes: TurnQueueWrites? = inOne ? effects.writes
            : feedInOne && !pendingDeadLetters.isEmpty ? TurnQueueWrites(nowMs: effects.writes.nowMs) : nil
        writes?.deadLetters = pendingDeadLetters
        try commit(assignments: assignments, queue: writes)
        if !inOne && !completions.isEmpty {
            do { try ports.queue.acknowledge(run: runID, completions.map(\.item)) } catch {
                throw .store("run `\(runID)`: cannot acknowledge completions: \(error.description)")
            }
        }
        if !feedInOne && !pendingDeadLetters.isEmpty {
            do { try ports.queue.deadLetter(pendingDeadLetters) } catch {
                throw .store("run `\(runID)`: cannot add to the dead-letter feed: \(error.description)")
            }
        }
        pendingDeadLetters.removeAll()
        try perform(commands, effects, queueWritten: inOne)
        observer?.tick(state: run.state)
        return try verdictAfterTurn()
    }

    /// Probes the agents' health from now on; a run not started yet starts with the agents
    /// whose first check failed as `unhealthy` (in `run_started`, before anything is dispatched).
    func useHealthChecks(_ probe: (any HealthProbe)?) {
        health = probe
        guard let probe, case .runStarted(let id, let seed, let hash, let limits, let at, _, let prior)? = deferred.first else { return }
        let down = probe.current().filter { !$0.value }.map(\.key).sorted()
        deferred[0] = .runStarted(runID: id, seed: seed, planHash: hash, tagLimits: limits, atMs: at, unhealthy: down, prior: prior)
    }

    /// `agent_health` for each probed agent whose latest check differs from the run's
    /// state: journalled on change only, so a steady agent adds no records.
    func healthChanges(nowMs: Millis) -> [Event] {
        guard let health, run.state.isActive else { return [] }
        return health.current().sorted { $0.key < $1.key }.compactMap { g, ok in
            g < run.state.agentHealth.count && run.state.agentHealth[g].healthy != ok ? .agentHealth(agent: g, healthy: ok, atMs: nowMs) : nil
        }
    }

    /// Whether the core still waits for a result of `item`'s attempt: it runs, or was
    /// abandoned and its result not yet charged. Anything else is a duplicate or stale.
    func awaitsResult(_ item: WorkItem) -> Bool {
        let t = item.task
        guard t >= 0 && t < plan.taskCount else { return false }
        if case .running(let a, _) = run.state.tasks[t], a == item.attempt { return true }
        return run.state.abandoned[t].contains(item.attempt)
    }

    /// Steps one event, redacted first: the journal, the state and every report see the
    /// same redacted values, so a resumed run renders what the live one did.
    func fold(_ raw: Event, log: AttemptLogRow?) throws(RunnerError) -> [Command] {
        let seq = run.state.seq
        let e = writer.redact(raw)
        var out: [Command]
        observer?.willFold(e, state: run.state)
        do { out = try run.step(e) } catch {
            throw .invalid("internal error: the core refused event #\(seq) of run `\(runID)`: \(error)")
        }
        precondition(run.state.seq == seq + 1 && run.pending.last?.seq == seq, "the journal sequence must advance by one per event")
        if let o = observer { o.didFold(run.pending[run.pending.count - 1], state: run.state) }
        if mutations.skipTimerRearm, case .resumed = e { out.removeAll { if case .setTimer = $0 { true } else { false } } }
        if let log { pendingLogs.append(writer.redact(log, seq: seq)) }
        if case .planUpgraded = e { firedTimers.removeAll() }
        pendingDeadLetters += deadLetterFeed.entries(of: run.pending[run.pending.count - 1])
        return out
    }

    func commit(assignments: [Double], queue: TurnQueueWrites? = nil) throws(RunnerError) {
        let writesQueue = queue.map { !$0.isEmpty } ?? false
        guard !run.pending.isEmpty || !consumedInbox.isEmpty || !pendingLogs.isEmpty || !pendingProcesses.isEmpty || writesQueue else { return }
        // What this commit writes: the records of the batch and of a plan upgrade before it.
        let records = run.pending
        do throws(StoreError) {
            try run.commit(logs: pendingLogs, consumedInbox: consumedInbox, processes: pendingProcesses, queue: queue)
        } catch { throw .store(error.description) }
        pendingProcesses = ProcessChanges()
        let logs = pendingLogs
        pendingLogs.removeAll()
        consumedInbox.removeAll()
        observer?.committed(records, logs: logs, state: run.state)
        if !assignments.isEmpty { observer?.assigned(seconds: assignments) }
    }

    /// After a turn: finished, paused for an approval, or running.
    func verdictAfterTurn() throws(RunnerError) -> TurnResult {
        switch run.state.phase {
        case .finished(let v) where v != .waitingForApproval:
            return .stopped(RunOutcome(runID: runID, verdict: v, state: run.state))
        case .running where run.state.announcedWaiting && run.state.runningCount == 0 && deferred.isEmpty:
            // Only approvals can move the run on: record the pause and hand back (exit 4).
            guard !config.waitForApproval else { break }
            do throws(StoreError) {
                try ports.store.update(run: runID, RunUpdate(status: .waiting, verdict: .waitingForApproval, updatedMs: run.state.nowMs))
            } catch { throw .store(error.description) }
            return .stopped(RunOutcome(runID: runID, verdict: .waitingForApproval, state: run.state))
        default: break
        }
        return .running(nextTimerAtMs: timers.nextAtMs)
    }

    /// Approvals and cancellations other processes posted.
    func readInbox(nowMs: Millis) throws(RunnerError) -> [Event] {
        let items: [InboxItem]
        do { items = try ports.inbox.inbox(run: runID) } catch {
            throw .store("run `\(runID)`: cannot read the inbox: \(error.description)")
        }
        var out: [Event] = []
        var redriven = Set<Int>()
        for item in items {
            consumedInbox.append(item.id)
            switch item.kind {
            case .cancel:
                out.append(.cancelRequested(reason: "cancelled by \(item.principal)" + (item.comment.isEmpty ? "" : ": \(item.comment)"), atMs: nowMs))
            case .redrive:
                guard let e = redriveEvent(item, nowMs: nowMs) else { continue }
                // Two requests read together would both pass the check (the state moves
                // only when the first is folded): the second changes nothing, say so.
                if case .taskRedriven(let t, _, _) = e, !redriven.insert(t).inserted {
                    observer?.notice("ignored re-drive of `\(plan.taskNames[t])` by \(item.principal): an earlier request re-drove it")
                    continue
                }
                out.append(e)
            case .approval:
                guard let name = item.task, let t = plan.taskNames.firstIndex(of: name) else { continue }
                if let refusal = item.refusal {
                    out.append(.approvalRefused(task: t, principal: item.principal, reason: refusal, atMs: nowMs))
                    continue
                }
                guard run.state.tasks[t] == .awaitingApproval || run.state.pendingConflict[t] != nil else {
                    observer?.notice("ignored approval of `\(name)` by \(item.principal): the task is \(run.state.tasks[t].name)")
                    continue
                }
                out.append(.approvalGiven(task: t, principal: item.principal, approved: item.approved, atMs: nowMs))
            }
        }
        return out
    }

    /// A re-drive request as the event to fold, or nil (with a notice) when it would
    /// change nothing: the task is not dead-lettered, the run was stopped or is past its
    /// deadline (`RunState.redriveRefusal`), or the access check refused it.
    func redriveEvent(_ item: InboxItem, nowMs: Millis) -> Event? {
        guard let name = item.task, let t = plan.taskNames.firstIndex(of: name) else {
            observer?.notice("ignored re-drive of `\(item.task ?? "")` by \(item.principal): the run has no such task")
            return nil
        }
        if let why = item.refusal ?? run.state.redriveRefusal(t, at: nowMs) {
            observer?.notice("ignored re-drive of `\(name)` by \(item.principal): \(why)")
            return nil
        }
        return .taskRedriven(task: t, principal: item.principal, atMs: nowMs)
    }

    static func threadCPUNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    // MARK: Commands

    /// What a batch's commands ask of the queue, worked out before the commit: the items
    /// offered for its dispatches (none once a stop was requested), the attempts it
    /// cancels, and the dispatches refused at the coordinator.
    struct QueueEffects {
        var writes: TurnQueueWrites
        var refused: [(task: Int, attempt: Int, message: String)] = []
    }

    func queueEffects(of commands: [Command], acknowledged: [WorkItem]) -> QueueEffects {
        var e = QueueEffects(writes: TurnQueueWrites(nowMs: now()))
        e.writes.acknowledged = acknowledged
        for c in commands {
            switch c {
            case .dispatch(let task, let attempt, let agent, let key, _):
                // Workers elsewhere cannot ask the coordinator's access rules: a dispatch
                // the principal may not have is failed here and never offered.
                if remote != nil, let refusal = dispatchRefusal(task: task) {
                    e.refused.append((task, attempt, refusal))
                    continue
                }
                e.writes.offered.append(workItem(task: task, attempt: attempt, agent: agent, key: key))
            case .cancel(let task, let attempt):
                // Dispatched and abandoned in the same batch (a resume whose attempt timed
                // out at once): never start it. Found by `ezrun simulate` (clock:jump).
                e.writes.offered.removeAll { $0.task == task && $0.attempt == attempt }
                e.writes.cancelled.append(WorkItem(runID: runID, task: task, attempt: attempt, agent: -1, idempotencyKey: ""))
            case .setTimer, .requestApproval, .deadLetter, .finishRun:
                break
            }
        }
        // Stopping on a signal (a request that arrived after the `interrupted` record was
        // folded): the dispatch is journalled, the attempt stays open and `ezrun resume`
        // offers it again.
        if stopRequest.requests != 0 { e.writes.offered.removeAll() }
        return e
    }

    /// Carries out a committed batch's commands: the queue writes (unless the commit made
    /// them: `queueWritten`), timers, cancels, approval notices, then the offered attempts
    /// handed to the executor.
    func perform(_ commands: [Command], _ effects: QueueEffects, queueWritten: Bool) throws(RunnerError) {
        for r in effects.refused {
            deferred.append(.taskFailed(task: r.task, attempt: r.attempt, errorClass: "forbidden", message: r.message, costMicros: 0, tokens: 0,
                                        atMs: now(), retryAfterMs: nil))
        }
        for c in commands {
            switch c {
            case .setTimer(let id, let at):
                arm(id, atMs: at)
            case .cancel(let task, let attempt):
                if !queueWritten {
                    do { try ports.queue.cancel(run: runID, task: task, attempt: attempt) } catch { throw .store(error.description) }
                }
                executor?.cancel(task: task, attempt: attempt)
            case .requestApproval(let task, let reason, _):
                // Answered in the same batch (an approval waiting in the inbox on resume).
                guard run.state.tasks[task] == .awaitingApproval || run.state.pendingConflict[task] != nil else { continue }
                let why = switch reason {
                case .conflict(let o): "conflicting write to output `\(o)`"
                case .gate: ["approval gate", run.state.gateTimeoutNote(task)].compactMap { $0 }.joined(separator: "; ")
                }
                observer?.notice("waiting for approval of `\(plan.taskNames[task])` (\(why)): ezrun approve \(runID) \(plan.taskNames[task]) --as PRINCIPAL")
            case .dispatch, .deadLetter, .finishRun:
                break
            }
        }
        let offered = effects.writes.offered
        guard !offered.isEmpty else { return }
        if !queueWritten {
            do { try ports.queue.offer(offered, nowMs: effects.writes.nowMs) } catch {
                throw .store("run `\(runID)`: cannot offer work: \(error.description)")
            }
            remote?.notify()
        }
        do { try executor?.start(offered, runner: self) } catch { throw .store("run `\(runID)`: cannot claim work: \(error.description)") }
    }

    /// The values task `task` is rendered with now (inputs, its dependencies' outputs).
    public func renderValues(task: Int) -> RenderValues {
        scope.values(for: task, state: run.state)
    }

    /// Whether `principal` may have `task` dispatched; nil: yes.
    func dispatchRefusal(task: Int) -> String? {
        guard let p = config.principal, task < plan.taskJSON.count else { return nil }
        let d = access.canDispatch(p, task: plan.taskJSON[task], inputs: inputs)
        return d.allowed ? nil : "task `\(plan.taskNames[task])`: \(d.reason)"
    }
}
