// `ezrun simulate`: seeded runs of a workflow against sim agents on a virtual clock.
// The only place simulation time and randomness are created: the core gets its seed in
// `runStarted`, the sim driver draws from its own `SeededRandom` derived from the same
// run seed, and time is the `EventQueue`'s clock. Memory only; nothing touches the disk.
#if canImport(Glibc)
import Glibc
#endif
import EzflowIR
import EzflowRuntime

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
        let env = RunEnvironment(selector: makeSelector(), breaker: options.breaker)
        var loop = SimLoop(world: world, options: options, index: index, seed: seed, environment: env)
        let r = try loop.run()
        if selectorName == .learned { predictor.observe(history: r.history, plan: world.plan) }
        return r
    }
}

/// The event loop of one run: feeds the core, carries out its commands against sim
/// agents, checks invariants after every step.
struct SimLoop {
    let world: SimWorld
    let options: SimulationOptions
    let index: Int
    let seed: UInt64
    var plan: Plan { world.plan }
    var state: RunState
    var queue: EventQueue
    /// The sim driver's own stream (latencies, failures), independent of the core's.
    var driverRandom: SeededRandom
    var journal: [JournalRecord] = []
    var journalBytes: [UInt8] = []
    var steps = 0
    var finished: Verdict? = nil
    var deadLetters: [Int] = []
    var endMs: [Millis]
    var dispatches: [Int], failures: [Int], breakerOpens: [Int]
    var lastHealthy: [Bool]
    var dispatchCPU = CPUHistogram()

    init(world: SimWorld, options: SimulationOptions, index: Int, seed: UInt64, environment: RunEnvironment) {
        self.world = world
        self.options = options
        self.index = index
        self.seed = seed
        state = RunState(plan: world.plan, environment: environment)
        queue = EventQueue(capacity: 64)
        driverRandom = SeededRandom(seed: seed ^ 0x5349_4D5F_4452_4956) // "SIM_DRIV"
        endMs = Array(repeating: -1, count: world.plan.taskCount)
        dispatches = Array(repeating: 0, count: world.plan.agentNames.count)
        failures = dispatches
        breakerOpens = dispatches
        lastHealthy = Array(repeating: true, count: world.plan.agentNames.count)
    }

    func failure(_ message: String) -> SimulationFailure {
        SimulationFailure(runIndex: index, runSeed: seed, step: steps, atMs: queue.nowMs, message: message)
    }

    mutating func run() throws(SimulationFailure) -> SimRunResult {
        let eventsMax = options.eventsMaxPerRun ?? (plan.taskCount * 64 + 100_000)
        try feed(.runStarted(runID: "sim-\(index)", seed: seed, planHash: plan.hash, tagLimits: [:], atMs: 0))
        if !world.agentsWithWindows.isEmpty { queue.push(.healthCheck, atMs: 0) }
        while finished == nil {
            guard let (at, item) = queue.pop() else {
                throw failure("run stalled: no event pending and no verdict (\(state.runningCount) attempts running)")
            }
            switch item {
            case .timer(let id):
                try feed(.timerFired(id, atMs: at))
            case .approval(let task):
                try feed(.approvalGiven(task: task, principal: "sim", approved: true, atMs: at))
            case .completion(let t32, let a32, let error, let cost, let tokens):
                // A result of an attempt the core cancelled or timed out is dropped here.
                let task = Int(t32), attempt = Int(a32)
                guard case .running(let a, _) = state.tasks[task], a == attempt else { continue }
                if let error {
                    try feed(.taskFailed(task: task, attempt: attempt, errorClass: error.rawValue, message: "sim: \(error.rawValue)",
                                         costMicros: cost, tokens: tokens, atMs: at))
                } else {
                    try feed(success(task, attempt, cost: cost, tokens: tokens, at: at))
                }
            case .healthCheck:
                for a in world.agentsWithWindows {
                    let ok = world.models[a].isHealthy(atMs: at)
                    if ok != lastHealthy[a] {
                        lastHealthy[a] = ok
                        try feed(.agentHealth(agent: a, healthy: ok, atMs: at))
                    }
                }
                if finished == nil { queue.push(.healthCheck, atMs: at + max(1, options.healthCheckEveryMs)) }
            }
            if steps > eventsMax { throw failure("more than \(eventsMax) events: the run does not converge") }
        }
        return SimRunResult(index: index, seed: seed, verdict: finished!, makespanMs: queue.nowMs, costMicros: state.chargedMicros,
                            tokens: state.chargedTokens, deadLetters: deadLetters, criticalPath: criticalPath(),
                            dispatches: dispatches, failures: failures, breakerOpens: breakerOpens, steps: steps,
                            journal: journal, journalBytes: journalBytes, dispatchCPU: dispatchCPU, history: state.history)
    }

    /// The agent whose attempt `e` ends, if it ends one (for breaker statistics).
    func agentEnded(by e: Event) -> Int? {
        let task: Int, attempt: Int
        switch e {
        case .taskSucceeded(let t, let n, _, _, _, _), .taskFailed(let t, let n, _, _, _, _, _): (task, attempt) = (t, n)
        case .timerFired(.attemptTimeout(let t, let n), _): (task, attempt) = (t, n)
        default: return nil
        }
        if case .running(let n, let agent) = state.tasks[task], n == attempt, agent >= 0 { return agent }
        return nil
    }

    mutating func feed(_ e: Event) throws(SimulationFailure) {
        let ended = agentEnded(by: e)
        var wasOpen = false
        if let a = ended, case .open = state.agentHealth[a].breaker { wasOpen = true }
        let commands: [Command]
        let seq = state.seq
        if options.measureDispatchCPU {
            let t0 = CPUHistogram.threadCPUNanos()
            do { commands = try Core.step(&state, e) } catch { throw failure("core refused \(e): \(error)") }
            let t1 = CPUHistogram.threadCPUNanos()
            if commands.contains(where: { if case .dispatch = $0 { true } else { false } }) { dispatchCPU.add(t1 - t0) }
        } else {
            do { commands = try Core.step(&state, e) } catch { throw failure("core refused \(e): \(error)") }
        }
        if options.keepJournals { journal.append(JournalRecord(seq: seq, event: e, commands: commands)) }
        if options.keepJournalBytes { Journal.append(JournalRecord(seq: seq, event: e, commands: commands), to: &journalBytes) }
        steps += 1
        switch e {
        case .taskSucceeded(let t, _, _, _, _, let at): endMs[t] = at
        case .taskFailed(let t, _, _, _, _, _, let at):
            endMs[t] = at
            if let a = ended { failures[a] += 1 }
        case .timerFired(.attemptTimeout(let t, _), let at):
            if let a = ended {
                failures[a] += 1
                endMs[t] = at
            }
        default: break
        }
        if let a = ended, !wasOpen, case .open = state.agentHealth[a].breaker { breakerOpens[a] += 1 }
        for c in commands { try carryOut(c) }
        if options.checkInvariants { try checkInvariants(after: e) }
    }

    mutating func carryOut(_ c: Command) throws(SimulationFailure) {
        let now = queue.nowMs
        switch c {
        case .dispatch(let task, let attempt, let agent, _):
            if options.checkInvariants {
                guard case .running(let a, let g) = state.tasks[task], a == attempt, g == agent else {
                    throw failure("dispatch of task \(task) attempt \(attempt) but the task is \(state.tasks[task])")
                }
            }
            guard agent >= 0 else {
                // The shell's local executor: tasks without agents finish at once (sub-workflow
                // tasks are joins inside the core and are never dispatched).
                queue.push(.completion(task: Int32(task), attempt: Int32(attempt), error: nil, costMicros: 0, tokens: 0), atMs: now + 1)
                return
            }
            if options.checkInvariants {
                // Bulkhead: loads only grow by dispatches, so checking here checks always.
                if state.agentLoad[agent] > plan.agentConcurrency[agent] {
                    throw failure("agent \(plan.agentNames[agent]) has \(state.agentLoad[agent]) attempts running, its concurrency is \(plan.agentConcurrency[agent])")
                }
                let h = state.agentHealth[agent]
                if case .open(let until) = h.breaker, now < until {
                    throw failure("task \(task) dispatched to agent \(plan.agentNames[agent]) whose breaker is open until \(until)")
                }
                if !h.healthy { throw failure("task \(task) dispatched to unhealthy agent \(plan.agentNames[agent])") }
            }
            dispatches[agent] += 1
            var o = world.models[agent].sample(startMs: now, &driverRandom)
            if let p = world.taskFail[task], SimDraw.unit(&driverRandom) < p { o.error = world.taskFailClass[task] }
            let timeout = plan.timeoutMs[task]
            let hangs = o.error == .timeout || (timeout > 0 && o.latencyMs >= timeout)
            if hangs && timeout > 0 { return } // the core's attempt timer ends it
            queue.push(.completion(task: Int32(task), attempt: Int32(attempt), error: o.error, costMicros: o.costMicros, tokens: o.tokens),
                       atMs: now + o.latencyMs)
        case .setTimer(let id, let at):
            queue.push(.timer(id), atMs: at)
        case .cancel:
            break // the pending completion, if any, is dropped when it pops
        case .requestApproval(let task, _):
            queue.push(.approval(task: task), atMs: now + options.approvalDelayMs)
        case .deadLetter(let task, _):
            deadLetters.append(task)
        case .finishRun(let v):
            if v != .waitingForApproval { finished = v }
        }
    }

    /// A success writing a placeholder value to each workflow output the task writes
    /// (`"sim:<task>"`; `{"<task>": "sim:<task>"}` for `merge` outputs).
    func success(_ task: Int, _ attempt: Int, cost: Int64, tokens: Int64, at: Millis) -> Event {
        var members: [(String, JSONValue)] = []
        for k in plan.writeStart[task]..<plan.writeStart[task + 1] {
            let o = plan.writes[k], value = JSONValue.string("sim:\(plan.taskNames[task])")
            // A merged output gets an object keyed by the writer, so parallel writers merge.
            // Keyed by the output's name in the task's own workflow (nested outputs are
            // `<workflow task>.<name>` in the plan, `<name>` in a result).
            members.append((plan.outputLocalName[o], plan.onConflict[o] == .merge ? .object([(plan.taskNames[task], value)]) : value))
        }
        return .taskSucceeded(task: task, attempt: attempt, outputs: .object(members), costMicros: cost, tokens: tokens, atMs: at)
    }

    /// Invariants after every step: the clock and the run's parallelism (bulkheads,
    /// breakers and health are checked at each dispatch).
    func checkInvariants(after e: Event) throws(SimulationFailure) {
        guard state.nowMs == e.atMs else { throw failure("core time \(state.nowMs) differs from the event's \(e.atMs)") }
        if plan.maxParallel >= 0, state.runningCount > plan.maxParallel {
            throw failure("\(state.runningCount) attempts running, max_parallel is \(plan.maxParallel)")
        }
    }

    /// The chain of tasks that ended last: start from the latest-ending task (lowest id on
    /// ties) and follow, at each step, the dependency that ended latest.
    func criticalPath() -> [Int] {
        var last = -1
        for t in 0..<plan.taskCount where endMs[t] >= 0 && (last < 0 || endMs[t] > endMs[last]) { last = t }
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
