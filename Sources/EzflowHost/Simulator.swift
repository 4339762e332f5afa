// `ezrun simulate`: seeded runs of a workflow against sim agents on a virtual clock,
// driven through the REAL runner (`Runner`: coordinator, group commit, resume, timers,
// inbox, approvals, budgets) on the in-memory ports, with infrastructure faults injected
// between its port calls and an oracle checking every run. The only place simulation
// time and randomness are created: the core gets its seed in `runStarted`, the sim agents
// and every fault kind draw from their own `SeededRandom` derived from the same run seed,
// and time is the `EventQueue`'s clock. Memory only; nothing touches the disk.
#if canImport(Glibc)
import EzflowUnits
import Glibc
#endif
import EzflowIR
import EzflowPorts
import EzflowRunner
import EzflowRuntime
import EzflowSim

/// Settings of a simulation. Every knob that changes the output is here, and the report
/// prints the ones a user can set.
public struct SimulationOptions: Sendable {
    /// The master seed; run `i` uses `SimulationOptions.runSeed(seed, i)`.
    public var seed: UInt64
    public var runs: Int
    /// Overrides the workflow's `selector` (nil: the workflow's, else `cheapest`).
    public var selector: SelectorName?
    public var breaker: CircuitBreaker
    /// How often sim agents are health-checked (only agents with down windows change).
    public var healthCheckEveryMs: Millis
    /// How long after `requestApproval` the simulated approver says yes.
    public var approvalDelayMs: Millis
    /// Keep each run's journal (records with their commands) in its result, for
    /// `--journal-dir` and tests.
    public var keepJournals: Bool
    /// Keep each run's journal as encoded JSON lines only (`SimRunResult.journalBytes`):
    /// what a memory backend holds; benchmarks use it.
    public var keepJournalBytes: Bool
    /// Check the invariants after every step.
    public var checkInvariants: Bool
    /// Bound on events per run (a run that needs more is reported as stuck).
    public var eventsMaxPerRun: Int?
    /// Measure the thread CPU time of every core step that dispatches (benchmarks).
    public var measureDispatchCPU: Bool = false
    /// Ceilings of the infrastructure faults (`runner:`, `store:`, `completion:`, `clock:`).
    public var infra = InfraFaultSpec()
    /// Planted runner bugs (tests of the oracle only).
    public var mutations = RunnerMutations.none
    /// Check every run with the oracle (replays each journal: about twice the core's work).
    public var oracle = true

    public init(seed: UInt64, runs: Int, selector: SelectorName? = nil, breaker: CircuitBreaker = CircuitBreaker(),
                healthCheckEveryMs: Millis = 5_000, approvalDelayMs: Millis = 1_000, keepJournals: Bool = false,
                keepJournalBytes: Bool = false, checkInvariants: Bool = true, eventsMaxPerRun: Int? = nil) {
        precondition(runs >= 1, "runs must be >= 1")
        self.seed = seed
        self.runs = runs
        self.selector = selector
        self.breaker = breaker
        self.healthCheckEveryMs = healthCheckEveryMs
        self.approvalDelayMs = approvalDelayMs
        self.keepJournals = keepJournals
        self.keepJournalBytes = keepJournalBytes
        self.checkInvariants = checkInvariants
        self.eventsMaxPerRun = eventsMaxPerRun
    }

    /// The seed of run `index`: SplitMix64 of the master seed advanced `index + 1` times.
    public static func runSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        var r = SeededRandom(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return r.next()
    }
}

/// A run that broke an invariant or that the core refused: the simulator's bug report.
public struct SimulationFailure: Error, Sendable, CustomStringConvertible {
    public var runIndex: Int
    public var runSeed: UInt64
    /// Events folded before the failure.
    public var step: Int
    public var atMs: Millis
    public var message: String
    /// Exit status, as TigerBeetle's VOPR: 127 the runner failed (an error that was not
    /// injected), 128 liveness (the run stalled), 129 correctness (the oracle).
    public var exitCode: Int32 = 129
    /// What the store had committed when the run failed (for `--journal-dir`).
    public var journal: [JournalRecord] = []
    public var description: String {
        "invariant violated in run \(runIndex) (run seed \(runSeed)) at step \(step), t=\(atMs) ms: \(message)"
    }
}

/// One simulated run.
public struct SimRunResult: Sendable {
    public var index: Int
    public var seed: UInt64
    public var verdict: Verdict
    /// Virtual time from `runStarted` to `finishRun`.
    public var makespanMs: Millis
    public var costMicros: Int64
    public var tokens: Int64
    /// Dead-lettered task ids, in the order they were reported.
    public var deadLetters: [Int]
    /// The chain of tasks that ended last (root first): each task's latest-ending dependency.
    public var criticalPath: [Int]
    /// Attempts dispatched and failed per agent.
    public var dispatches: [Int]
    public var failures: [Int]
    /// Times an agent's breaker opened.
    public var breakerOpens: [Int]
    /// Events folded (journal length).
    public var steps: Int
    /// The journal (only with `keepJournals`).
    public var journal: [JournalRecord]
    /// The journal as JSON lines (only with `keepJournalBytes`).
    public var journalBytes: [UInt8]
    /// CPU time of the core steps that made dispatch decisions (with `measureDispatchCPU`).
    public var dispatchCPU: CPUHistogram
    /// The core's state at the end (attempt history, charges).
    public var history: [[AttemptRecord]]
    /// Runner crashes injected (each followed by a restart from the committed journal).
    public var crashes: Int = 0
    /// Journal appends failed on purpose.
    public var storeFailures: Int = 0
    /// Completions delivered twice, and those the queue or the runner refused.
    public var duplicates: Int = 0
    public var completionsRefused: Int = 0
}

/// Runs simulations of one world.
public struct Simulator: Sendable {
    public let world: SimWorld
    public let options: SimulationOptions
    /// The `learned` selector's model, refitted after every run from that run's attempts
    /// (only when the strategy is `learned`).
    public internal(set) var predictor = PerformancePredictor()

    public init(world: SimWorld, options: SimulationOptions) {
        self.world = world
        self.options = options
    }

    /// The strategy runs use.
    public var selectorName: SelectorName {
        options.selector ?? world.plan.selectorName.flatMap(SelectorName.init(rawValue:)) ?? .cheapest
    }

    /// The selector for the next run.
    public func makeSelector() -> any AgentSelector {
        switch selectorName {
        case .cheapest: CheapestSelector(profiles: world.profiles)
        case .fastest: FastestSelector(profiles: world.profiles)
        case .learned: LearnedSelector(predictor: predictor, profiles: world.profiles)
        case .auction: AuctionSelector(bidder: SimBidder(profiles: world.profiles))
        }
    }

    /// Runs all `options.runs` runs in order (the learned model carries from run to run).
    public mutating func runAll() throws(SimulationFailure) -> [SimRunResult] {
        var out: [SimRunResult] = []
        out.reserveCapacity(options.runs)
        for i in 0..<options.runs {
            let r = try runOne(index: i)
            out.append(r)
        }
        return out
    }

    /// Runs run `index` and feeds its attempts to the predictor.
    public mutating func runOne(index: Int) throws(SimulationFailure) -> SimRunResult {
        let seed = SimulationOptions.runSeed(options.seed, index)
        let env = RunEnvironment(selector: makeSelector(), breaker: options.breaker.withAgents(of: world.plan))
        let me = self
        let loop = SimRun(world: world, options: options, index: index, seed: seed, environment: env,
                          replayEnvironment: { RunEnvironment(selector: me.makeSelector(), breaker: me.options.breaker.withAgents(of: me.world.plan)) })
        let r = try loop.run()
        if selectorName == .learned { predictor.observe(history: r.history, plan: world.plan) }
        return r
    }
}

/// One simulated run: the real `Runner` on memory ports and virtual time, simulated
/// workers (the agents' models) completing its attempts on the queue, a simulated
/// approver answering through the inbox, and the infrastructure faults of the options.
/// A crash throws the runner away; a new one resumes from what the store committed.
final class SimRun: RunObserver, AttemptExecutor {
    let world: SimWorld
    let options: SimulationOptions
    let index: Int
    let seed: UInt64
    var plan: Plan { world.plan }
    let runID: String
    let store = MemoryStore()
    let queue = MemoryWorkQueue()
    let lease: MemoryRunLease
    let clock = ManualClock()
    let faults: FaultSwitch
    let environment: RunEnvironment
    let replayEnvironment: () -> RunEnvironment
    var runner: Runner?
    var events = EventQueue(capacity: 64)
    /// How far the wall clock is ahead of virtual time (`clock:jump`).
    var clockOffsetMs: Millis = 0
    /// The sim agents' own stream (latencies, failures), independent of the core's.
    var driverRandom: SeededRandom
    var steps = 0
    var deadLetters: [Int] = []
    var endMs: [Millis]
    var dispatches: [Int], failures: [Int], breakerOpens: [Int]
    var lastHealthy: [Bool]
    var dispatchCPU = CPUHistogram()
    var duplicates = 0
    var queueRefused = 0
    var restarts = 0
    /// (task, attempt) of every dispatch seen: a resumed runner offers its attempts in
    /// flight again, which admits nothing (the breaker was asked when they first went out).
    var offered = Set<Int64>()
    /// Attempts a simulated worker is running, by task (the oracle: at most one live).
    var live: [Int: Int] = [:]
    /// The agent of each attempt in flight, and whether its breaker was open, noted before
    /// the core folds the attempt's end.
    var ending: (agent: Int, wasOpen: Bool)?
    var failure: SimulationFailure?
    static let workerID = "sim-workers"

    init(world: SimWorld, options: SimulationOptions, index: Int, seed: UInt64, environment: RunEnvironment,
         replayEnvironment: @escaping () -> RunEnvironment) {
        self.world = world
        self.options = options
        self.index = index
        self.seed = seed
        self.environment = environment
        self.replayEnvironment = replayEnvironment
        runID = "sim-\(index)"
        var streams = FaultStreams(runSeed: seed)
        faults = FaultSwitch(rates: options.infra.swarm(&streams.swarm), streams: streams)
        lease = MemoryRunLease(ttlMs: 1_000)
        driverRandom = SeededRandom(seed: seed ^ 0x5349_4D5F_4452_4956) // "SIM_DRIV"
        endMs = Array(repeating: -1, count: world.plan.taskCount)
        dispatches = Array(repeating: 0, count: world.plan.agentNames.count)
        failures = dispatches
        breakerOpens = dispatches
        lastHealthy = Array(repeating: true, count: world.plan.agentNames.count)
    }

    func fail(_ message: String, code: Int32) -> SimulationFailure {
        let journal = (try? store.journal(run: runID, from: 0)) ?? []
        return SimulationFailure(runIndex: index, runSeed: seed, step: steps, atMs: events.nowMs, message: message, exitCode: code,
                                 journal: journal)
    }

    var ports: RunPorts {
        let faulty = FaultyStore(base: store, faults: faults)
        return RunPorts(store: faulty, inbox: faulty, clock: clock, lease: lease, queue: FaultyQueue(base: queue, faults: faults),
                        owner: "sim-coordinator-\(restarts)")
    }

    var config: RunConfig {
        var c = RunConfig()
        c.selector = nil
        c.waitForApproval = true
        c.inboxPollMs = 0
        return c
    }

    // MARK: The loop

    func run() throws(SimulationFailure) -> SimRunResult {
        let eventsMax = options.eventsMaxPerRun ?? (plan.taskCount * 64 + 100_000)
        if !world.agentsWithWindows.isEmpty { events.push(.healthCheck, atMs: 0) }
        var verdict: Verdict? = nil
        try boot(first: true)
        while verdict == nil {
            if let f = failure { throw f }
            if let r = runner {
                do {
                    if case .stopped(let o) = try r.turn() { verdict = o.verdict; break }
                } catch {
                    guard faults.crashed else { throw fail("the runner failed: \(error)", code: 127) }
                    try crash()
                    continue
                }
                if let f = failure { throw f }
                if !r.isIdle { continue }
            }
            maybeJumpClock()
            guard let next = nextWake() else {
                throw fail("run stalled: nothing pending and no verdict (\(Units.counted(runner?.run.state.runningCount ?? -1, "attempt")) running)", code: 128)
            }
            deliver(events.popDue(until: next))
            clock.advance(to: next + clockOffsetMs)
            if runner == nil { try boot(first: false) }
            if steps > eventsMax { throw fail("more than \(eventsMax) events: the run does not converge", code: 128) }
        }
        let state = runner!.run.state
        var journal: [JournalRecord] = []
        do { journal = try store.journal(run: runID, from: 0) } catch { throw fail("cannot read the journal: \(error)", code: 127) }
        if options.oracle, let m = SimOracle.check(journal: journal, finalState: state, plan: plan, verdict: verdict!,
                                                    replayEnvironment: replayEnvironment()) {
            throw fail("oracle: \(m)", code: 129)
        }
        if options.oracle {
            let feed: [DeadLetterEntry]
            do { feed = try queue.deadLetters(run: runID) } catch { throw fail("cannot read the dead-letter feed: \(error)", code: 127) }
            if let m = SimOracle.deadLetterFeed(feed, journal: journal, plan: plan, runID: runID) { throw fail("oracle: \(m)", code: 129) }
        }
        return SimRunResult(index: index, seed: seed, verdict: verdict!, makespanMs: events.nowMs, costMicros: state.chargedMicros,
                            tokens: state.chargedTokens, deadLetters: deadLetters, criticalPath: criticalPath(),
                            dispatches: dispatches, failures: failures, breakerOpens: breakerOpens, steps: steps,
                            journal: options.keepJournals ? journal : [],
                            journalBytes: options.keepJournalBytes ? Journal.encode(journal) : [], dispatchCPU: dispatchCPU,
                            history: state.history, crashes: faults.crashes, storeFailures: faults.storeFailures,
                            duplicates: duplicates, completionsRefused: queueRefused + (runner?.completionsRefused ?? 0))
    }

    /// Starts (or, after a crash, resumes) a runner once the old one's lease has expired.
    func boot(first: Bool) throws(SimulationFailure) {
        if let until = lease.heldUntil(run: runID), until > clock.nowMs() { return } // wait for the lease to expire
        faults.crashed = false
        do {
            let r = first
                ? try Runner.attach(plan: plan, runID: runID, seed: seed, config: config, ports: ports, environment: environment)
                : try Runner.reattach(runID: runID, plan: plan, config: config, ports: ports, environment: replayEnvironment(),
                                      mutations: options.mutations)
            r.mutations = options.mutations
            r.observer = self
            r.executor = self
            runner = r
        } catch {
            guard faults.crashed else { throw fail("the runner failed to \(first ? "start" : "resume"): \(error)", code: 127) }
            if first, (try? store.run(runID)) == nil { faults.crashed = false; return try boot(first: true) }
            try crash()
        }
    }

    /// The runner died: drop it (its lease lingers until it expires, as a killed
    /// process's would until the kernel noticed) and restart when the lease is free.
    func crash() throws(SimulationFailure) {
        runner = nil
        restarts += 1
        ending = nil
        if restarts > faults.crashesMax * 2 + 4 { throw fail("the runner cannot restart (\(restarts) restarts)", code: 128) }
        // Wake at the lease's expiry if nothing else is pending before it.
        if let until = lease.heldUntil(run: runID), until - clockOffsetMs > events.nowMs, events.nextAtMs.map({ $0 > until - clockOffsetMs }) ?? true {
            events.push(.healthCheck, atMs: until - clockOffsetMs)
        }
        if lease.heldUntil(run: runID) == nil || lease.heldUntil(run: runID)! <= clock.nowMs() {
            try boot(first: (try? store.run(runID)) == nil)
        }
    }

    /// The next virtual time anything happens: a world event or a runner timer.
    func nextWake() -> Millis? {
        var next = events.nextAtMs
        if let t = runner?.nextTimerAtMs {
            let v = max(t - clockOffsetMs, events.nowMs)
            next = min(next ?? v, v)
        }
        return next
    }

    func maybeJumpClock() {
        let j = faults.rates.clockJumpMs
        guard j > 0, clockOffsetMs == 0, SimDraw.unit(&faults.streams.clock) < 0.05 else { return }
        clockOffsetMs = 1 + Millis(SimDraw.unit(&faults.streams.clock) * Double(j))
    }

    /// What the world does at this instant.
    func deliver(_ items: [SimItem]) {
        for item in items {
            switch item {
            case .completion(let work, let outcome):
                live[work.task] = live[work.task] == work.attempt ? nil : live[work.task]
                let c = WorkCompletion(item: work, owner: Self.workerID, outcome: outcome)
                if (try? queue.complete(c, nowMs: events.nowMs)) != true { queueRefused += 1 }
            case .approval(let task):
                _ = try? store.post(InboxItem(runID: runID, kind: .approval, task: plan.taskNames[task], principal: "sim", approved: true,
                                              refusal: nil, comment: "", createdMs: events.nowMs))
            case .healthCheck:
                healthCheck()
            }
        }
    }

    func healthCheck() {
        let at = events.nowMs
        guard !world.agentsWithWindows.isEmpty else { return }
        for a in world.agentsWithWindows {
            let ok = world.models[a].isHealthy(atMs: at)
            if ok != lastHealthy[a], let r = runner {
                lastHealthy[a] = ok
                r.post(.agentHealth(agent: a, healthy: ok, atMs: max(at + clockOffsetMs, r.run.state.nowMs)))
            }
        }
        events.push(.healthCheck, atMs: at + max(1, options.healthCheckEveryMs))
    }

    // MARK: Executor: simulated workers

    func start(_ items: [WorkItem], runner: Runner) throws(StoreError) {
        let now = events.nowMs
        let leases = try queue.claim(owner: Self.workerID, max: items.count, nowMs: now, leaseMs: Millis.max / 4)
        // The attempt's token cap, as the core journalled it on the dispatch just committed.
        for l in leases { begin(l.item, now: now, tokenCap: runner.run.state.tokenCap(l.item.task)) }
    }

    func cancel(task: Int, attempt: Int) {
        if live[task] == attempt { live[task] = nil }
    }

    func begin(_ item: WorkItem, now: Millis, tokenCap: Int64? = nil) {
        let task = item.task, attempt = item.attempt, agent = item.agent
        if let other = live[task], other != attempt, failure == nil {
            failure = fail("oracle: task `\(plan.taskNames[task])` has two live attempts (\(other) and \(attempt))", code: 129)
        }
        live[task] = attempt
        guard agent >= 0 else {
            // The shell's local executor: tasks without agents finish at once.
            schedule(item, .succeeded(outputs: successOutputs(task, attempt: attempt), costMicros: 0, tokens: 0), at: now + 1)
            return
        }
        dispatches[agent] += 1
        var o = world.models[agent].sample(startMs: now, tokenCap: tokenCap, &driverRandom)
        if let p = world.taskFail[task], SimDraw.unit(&driverRandom) < p { o.error = world.taskFailClass[task] }
        let timeout = plan.timeoutMs[task]
        let hangs = o.error == .timeout || (timeout > 0 && o.latencyMs >= timeout)
        if hangs && timeout > 0 { return } // the core's attempt timer ends it
        var latency = o.latencyMs
        if faults.rates.late > 0, SimDraw.unit(&faults.streams.completion) < faults.rates.late {
            latency = Millis(Double(latency) * faults.rates.delayFactor)
        }
        let outcome: WorkOutcome = if let e = o.error {
            .failed(errorClass: e.rawValue, message: "sim: \(e.rawValue)", costMicros: o.costMicros, tokens: o.tokens)
        } else {
            .succeeded(outputs: successOutputs(task, attempt: attempt), costMicros: o.costMicros, tokens: o.tokens)
        }
        schedule(item, outcome, at: now + latency)
    }

    func schedule(_ item: WorkItem, _ outcome: WorkOutcome, at: Millis) {
        events.push(.completion(item, outcome), atMs: at)
        if faults.rates.duplicate > 0, SimDraw.unit(&faults.streams.completion) < faults.rates.duplicate {
            duplicates += 1
            events.push(.completion(item, outcome), atMs: at + 1 + Millis(SimDraw.unit(&faults.streams.completion) * 100))
        }
    }

    /// A success writing a placeholder value to each workflow output the task writes
    /// (`"sim:<task>"`; `{"<task>": "sim:<task>"}` for `merge` outputs).
    func successOutputs(_ task: Int, attempt: Int) -> JSONValue {
        var members: [(String, JSONValue)] = []
        for k in plan.writeStart[task]..<plan.writeStart[task + 1] {
            let o = plan.writes[k], value = JSONValue.string("sim:\(plan.taskNames[task])")
            // A merged output gets an object keyed by the writer, so parallel writers merge.
            // Keyed by the output's name in the task's own workflow (nested outputs are
            // `<workflow task>.<name>` in the plan, `<name>` in a result).
            members.append((plan.outputLocalName[o], plan.onConflict[o] == .merge ? .object([(plan.taskNames[task], value)]) : value))
        }
        for (name, v) in loopInstanceOutputs(task) where !members.contains(where: { $0.0 == name }) { members.append((name, v)) }
        // A `file` output is a synthetic record: a digest of the task's and output's names,
        // no file read or written, so a simulated journal is the same on every machine.
        if task < plan.taskJSON.count, let declared = OutputSchema.declared(task: plan.taskJSON[task], types: plan.types(ofTask: task)) {
            for f in declared where f.type.holdsFile {
                let r = FileRecord.synthetic(task: plan.taskNames[task], output: f.name).json
                members.removeAll { $0.0 == f.name }
                members.append((f.name, { if case .list = f.type { .array([r]) } else { r } }()))
            }
        }
        // A list a dynamic fan-out reads: its length drawn from the seed (SimFanout).
        for (name, list) in SimFanout.lists(plan: plan, task: task, seed: seed, attempt: attempt) {
            members.removeAll { $0.0 == name }
            members.append((name, list))
        }
        return .object(members)
    }

    // MARK: Observer: statistics and per-step invariants

    func committed(_ records: [JournalRecord], logs: [AttemptLogRow], state: RunState) {}
    func tick(state: RunState) {}
    func notice(_ message: String) {}

    func assigned(seconds: [Double]) {
        guard options.measureDispatchCPU else { return }
        for s in seconds { dispatchCPU.add(Int64(s * 1e9)) }
    }

    func willFold(_ e: Event, state: RunState) {
        ending = nil
        let task: Int, attempt: Int
        switch e {
        case .taskSucceeded(let t, let n, _, _, _, _), .taskFailed(let t, let n, _, _, _, _, _, _): (task, attempt) = (t, n)
        case .timerFired(.attemptTimeout(let t, let n), _): (task, attempt) = (t, n)
        case .runStarted, .timerFired, .approvalGiven, .agentHealth, .approvalRefused, .cancelRequested, .resumed, .planUpgraded, .interrupted, .taskRedriven, .backendFallback: return
        }
        if case .running(let n, let agent) = state.tasks[task], n == attempt, agent >= 0 {
            let open = if case .open = state.agentHealth[agent].breaker { true } else { false }
            ending = (agent, open)
        }
    }

    func didFold(_ r: JournalRecord, state: RunState) {
        steps += 1
        let ended = ending
        ending = nil
        switch r.event {
        case .taskSucceeded(let t, _, _, _, _, let at): endMs[t] = at
        case .taskFailed(let t, _, _, _, _, _, let at, _):
            endMs[t] = at
            if let a = ended?.agent { failures[a] += 1 }
        case .timerFired(.attemptTimeout(let t, _), let at):
            if let a = ended?.agent {
                failures[a] += 1
                endMs[t] = at
            }
        case .runStarted, .timerFired, .approvalGiven, .agentHealth, .approvalRefused, .cancelRequested, .resumed, .planUpgraded, .interrupted, .taskRedriven, .backendFallback: break
        }
        if let e = ended, !e.wasOpen, case .open = state.agentHealth[e.agent].breaker { breakerOpens[e.agent] += 1 }
        for c in r.commands { note(c, state: state) }
        if options.checkInvariants, failure == nil {
            if plan.maxParallel >= 0, state.runningCount > plan.maxParallel {
                failure = fail("\(Units.counted(state.runningCount, "attempt")) running, max_parallel is \(plan.maxParallel)", code: 129)
            }
        }
    }

    func note(_ c: Command, state: RunState) {
        switch c {
        case .dispatch(let task, let attempt, let agent, _, _):
            let admitted = offered.insert(Int64(task) << 32 | Int64(attempt)).inserted
            guard options.checkInvariants, agent >= 0, failure == nil else { return }
            // Bulkhead: loads only grow by dispatches, so checking here checks always.
            if state.agentLoad[agent] > plan.agentConcurrency[agent] {
                failure = fail("agent \(plan.agentNames[agent]) has \(Units.counted(state.agentLoad[agent], "attempt")) running, its concurrency is \(plan.agentConcurrency[agent])", code: 129)
            }
            let h = state.agentHealth[agent]
            guard admitted else { return }
            if case .open(let until) = h.breaker, state.nowMs < until {
                failure = fail("task `\(plan.taskNames[task])` dispatched to agent \(plan.agentNames[agent]) whose breaker is open until \(until)", code: 129)
            }
            if !h.healthy { failure = fail("task `\(plan.taskNames[task])` dispatched to unhealthy agent \(plan.agentNames[agent])", code: 129) }
        case .requestApproval(let task, _, _):
            events.push(.approval(task: task), atMs: events.nowMs + options.approvalDelayMs)
        case .deadLetter(let task, _):
            deadLetters.append(task)
        case .setTimer, .cancel, .finishRun:
            break
        }
    }

    /// The main graph's chain of tasks that ended last: start from the latest-ending task
    /// (lowest id on ties) and follow, at each step, the dependency that ended latest.
    /// `finally` tasks and undos run after the main graph, waiting for none of its tasks:
    /// one of them would be the whole path (as `ezc graph`, the main graph only).
    func criticalPath() -> [Int] {
        var last = -1
        for t in 0..<plan.taskCount where endMs[t] >= 0 && !plan.isFinally[t] && plan.kind(t) != .compensation
            && (last < 0 || endMs[t] > endMs[last]) { last = t }
        guard last >= 0 else { return [] }
        var path = [last]
        var t = last
        while true {
            var best = -1
            for k in plan.depStart[t]..<plan.depStart[t + 1] {
                let d = plan.deps[k]
                if endMs[d] >= 0 && (best < 0 || endMs[d] > endMs[best] || (endMs[d] == endMs[best] && d < best)) { best = d }
            }
            if best < 0 { break }
            path.append(best)
            t = best
        }
        return path.reversed()
    }
}

/// A histogram of CPU times with 100 ns buckets up to 10 ms (beyond: one overflow
/// bucket holding the maximum), so millions of samples cost 800 KB, not a sorted array.
public struct CPUHistogram: Sendable {
    public static let bucketNanos: Int64 = 100
    public static let bucketsMax = 100_000
    private var buckets: [Int64] = []
    public private(set) var count: Int64 = 0
    public private(set) var maxNanos: Int64 = 0
    public private(set) var totalNanos: Int64 = 0

    public init() {}

    public mutating func add(_ nanos: Int64) {
        if buckets.isEmpty { buckets = Array(repeating: 0, count: CPUHistogram.bucketsMax + 1) }
        buckets[Int(min(max(nanos, 0) / CPUHistogram.bucketNanos, Int64(CPUHistogram.bucketsMax)))] += 1
        count += 1
        totalNanos += nanos
        maxNanos = max(maxNanos, nanos)
    }

    public mutating func merge(_ other: CPUHistogram) {
        guard other.count > 0 else { return }
        if buckets.isEmpty { buckets = Array(repeating: 0, count: CPUHistogram.bucketsMax + 1) }
        for i in other.buckets.indices { buckets[i] += other.buckets[i] }
        count += other.count
        totalNanos += other.totalNanos
        maxNanos = max(maxNanos, other.maxNanos)
    }

    /// The upper edge of the bucket holding the p-th percentile (p in 0…100).
    public func percentileNanos(_ p: Double) -> Int64 {
        guard count > 0 else { return 0 }
        let target = Int64((p / 100 * Double(count)).rounded(.up))
        var seen: Int64 = 0
        for (i, c) in buckets.enumerated() {
            seen += c
            if seen >= max(target, 1) { return i == CPUHistogram.bucketsMax ? maxNanos : Int64(i + 1) * CPUHistogram.bucketNanos }
        }
        return maxNanos
    }

    /// This thread's CPU time (CLOCK_THREAD_CPUTIME_ID), nanoseconds.
    public static func threadCPUNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
