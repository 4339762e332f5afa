// `ezrun worker`: a process that carries out attempts for coordinators elsewhere. It
// claims up to its free slots from the backend's queue (its queues only), runs each
// attempt through the same drivers `ezrun run` uses, with the values the coordinator
// rendered at dispatch (`AttemptPayload`) and the run's IR read once per plan, and
// completes it on the queue, fenced by its lease. Secrets are resolved here, from this
// process's environment, and every result is redacted here before it leaves: the
// coordinator never sees a secret value, so it could not redact one.
//
// Leases: renewed every `leaseMs / 3` for everything in flight, so a live worker keeps
// its attempts however long they run; a killed or frozen worker's leases expire (or its
// backend notices the death sooner) and the coordinator's reaper queues them again.
// SIGTERM: stop claiming, end the attempts in flight, put their leases back, exit.
//
// Sources: a worker serves one backend, or two (`--backend P --fallback S`,
// docs/DISTRIBUTED.md, "Failover"): one claim loop over the list, the primary first, into
// one pool of `slots`. Each attempt is completed on the queue it came from and its run's
// IR read from that backend's store; each backend has its own outage (one that does not
// answer is retried with its own backoff while the others are served).
import Dispatch
import EzflowAgents
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Foundation
import Synchronization

/// Settings of `ezrun worker`.
public struct WorkerConfig: Sendable {
    /// This worker's lease owner: unique per process start.
    public var owner: String
    /// The queues it takes work from; empty: every queue.
    public var queues: [String] = []
    /// Attempts it runs at once.
    public var slots = 4
    public var leaseMs: Millis = 30_000
    /// How long it waits for work when the queue was empty (the backend's wake-up may end
    /// the wait sooner).
    public var pollMs: Int64 = 200
    /// Stop once the queues stayed empty this long (nil: never; for tests and batch jobs).
    public var idleExitMs: Int64?
    public var exec = ExecOptions()
    public var secrets = SecretConfig()
    /// Complete attempts of `sim` agents at once as successes without outputs (`ezrun
    /// worker --sim-agents`: a benchmark of the queue and the coordinator themselves);
    /// false: they fail with `config_error`, as in `ezrun run`.
    public var simAgents = false
    public init(owner: String) { self.owner = owner }
}

/// What a worker did, for its last line.
public struct WorkerSummary: Sendable {
    public var completed = 0
    /// Completions the queue refused: the lease had expired or the attempt was cancelled.
    public var refused = 0
    public var released = 0
}

/// What a worker's health probes read (`ezrun worker --health-port`): when its loop last
/// turned and when each backend last answered it, from the loop's own thread.
public final class WorkerHealth: Sendable {
    let loopAtMs = Atomic<Int64>(0)
    let backendAtMs: Mutex<[Int64]>
    public init(backends: Int = 1) { backendAtMs = Mutex(Array(repeating: 0, count: max(1, backends))) }

    func answered(_ source: Int, _ nowMs: Millis) { backendAtMs.withLock { $0[source] = nowMs } }

    /// Live: the loop turned within `staleMs` (it turns at least every poll interval).
    public func live(nowMs: Millis, staleMs: Millis) -> Bool { nowMs - loopAtMs.load(ordering: .relaxed) <= staleMs }
    /// Ready: a backend answered a claim or a renewal within `staleMs` (with a fallback,
    /// either: a worker serving one while the other is away is doing useful work).
    public func ready(nowMs: Millis, staleMs: Millis) -> Bool { readyBackends(nowMs: nowMs, staleMs: staleMs).contains(true) }
    /// Per backend, primary first: whether it answered within `staleMs`.
    public func readyBackends(nowMs: Millis, staleMs: Millis) -> [Bool] { backendAtMs.withLock { $0.map { nowMs - $0 <= staleMs } } }
}

/// One backend a worker serves, opened: its queue, its store (where the runs' IR is
/// read) and its wake-up.
public struct WorkerSource: Sendable {
    public var queue: any WorkQueue
    public var store: any JournalStore
    /// Waits up to the given milliseconds for work (the backend's wake-up may end it sooner).
    public var waitForWork: @Sendable (Int64) -> Void
    /// Wakes the coordinators after a completion.
    public var notify: @Sendable () -> Void
    /// The time leases on this backend are stamped with (`BackendClock`: the server's).
    public var clock: any RunClock
    public init(queue: any WorkQueue, store: any JournalStore, waitForWork: @escaping @Sendable (Int64) -> Void,
                notify: @escaping @Sendable () -> Void = {}, clock: any RunClock = SystemClock()) {
        self.queue = queue
        self.store = store
        self.waitForWork = waitForWork
        self.notify = notify
        self.clock = clock
    }
}

/// One backend a worker serves, as messages name it and how to open it: opened on the
/// loop's first turn and again after a failed open, so a worker with a fallback starts
/// (and serves the other) while one of them cannot be reached.
public struct WorkerBackend: Sendable {
    public var location: String
    public var open: @Sendable () throws(StoreError) -> WorkerSource
    public init(location: String, open: @escaping @Sendable () throws(StoreError) -> WorkerSource) {
        self.location = location
        self.open = open
    }
}

public final class Worker: @unchecked Sendable {
    /// An attempt in flight: its backend (an index in `sources`) and its identity there.
    struct Key: Hashable { var source: Int; var run: String; var task: Int; var attempt: Int }
    struct RunKey: Hashable { var source: Int; var run: String }
    struct Loaded { var planHash: String; var drivers: DriverSet; var writer: JournalWriter }

    /// The backends served, the primary first, and those opened so far.
    let backends: [WorkerBackend]
    let opened: Mutex<[WorkerSource?]>
    let clock: any RunClock
    public let config: WorkerConfig
    public let stopRequest = StopRequest(wake: nil)
    let tokens = Mutex<[Key: CancelToken]>([:])
    let summary = Mutex(WorkerSummary())
    let handedBack = DispatchSemaphore(value: 0)
    /// The drivers of each run, built from its IR once per plan version (at most
    /// `runsCached` runs; then it starts afresh).
    static let runsCached = 64
    let loaded = Mutex<[RunKey: Loaded]>([:])
    let workers = WorkerPool()
    public let health: WorkerHealth
    /// Offer → claim waits of the attempts this worker claimed (`/metrics`).
    public let claimLatency = ClaimLatency()
    /// Completions handed back and refused so far (for `/metrics`).
    public var counts: WorkerSummary { summary.withLock { $0 } }
    /// Lines for the operator (claims, refusals); called from worker threads.
    public var log: @Sendable (String) -> Void = { _ in }

    /// Backends as the metrics name them, primary first.
    public var locations: [String] { backends.map(\.location) }
    /// Results waiting to be handed back, with their backend: one thread hands back
    /// everything waiting for a backend in one `complete` call (one transaction), so
    /// results that end together cost one commit.
    let outbox = Mutex<[(source: Int, completion: WorkCompletion)]>([])
    let outboxReady = DispatchSemaphore(value: 0)
    let outboxDone = DispatchSemaphore(value: 0)
    let serving = Atomic<Bool>(false)

    /// A worker of one backend, already open.
    public convenience init(queue: any WorkQueue, store: any JournalStore, clock: any RunClock, config: WorkerConfig,
                            waitForWork: @escaping @Sendable (Int64) -> Void, notify: @escaping @Sendable () -> Void = {}) {
        let source = WorkerSource(queue: queue, store: store, waitForWork: waitForWork, notify: notify)
        self.init(backends: [WorkerBackend(location: store.location) { source }], clock: clock, config: config)
    }

    /// A worker of `backends` (one or more, the primary first).
    public init(backends: [WorkerBackend], clock: any RunClock, config: WorkerConfig) {
        precondition(!backends.isEmpty, "a worker serves at least one backend")
        self.backends = backends
        self.opened = Mutex(Array(repeating: nil, count: backends.count))
        self.clock = clock
        self.config = config
        self.health = WorkerHealth(backends: backends.count)
    }

    /// Backend `i`, opened; nil until the loop opened it (an attempt only comes from one).
    func source(_ i: Int) -> WorkerSource? { opened.withLock { $0[i] } }

    /// Backend `i`, opened now if it was not (an `unavailable` open is an outage like any).
    func openSource(_ i: Int) throws(StoreError) -> WorkerSource {
        if let s = source(i) { return s }
        let s = try backends[i].open()
        opened.withLock { $0[i] = s }
        return s
    }

    public var inFlight: Int { tokens.withLock { $0.count } }

    /// One backend's side of the loop: when it was last renewed, and its outage.
    struct Served {
        var lastRenew: Millis
        var outage = Outage()
        /// While away: not asked again before this (the outage's backoff).
        var retryAt: ContinuousClock.Instant?
    }

    /// Claims and runs attempts until a stop request (or `idleExitMs` without work).
    public func serve() throws(RunnerError) -> WorkerSummary {
        serving.store(true, ordering: .relaxed)
        Thread.detachNewThread { [self] in handBack() }
        defer {
            serving.store(false, ordering: .relaxed)
            outboxReady.signal()
            outboxDone.wait()
        }
        var served = backends.map { _ in Served(lastRenew: clock.nowMs()) }
        var idleSince = clock.nowMs()
        while stopRequest.requests == 0 {
            let claimed = try turn(&served, &idleSince)
            // Not while a backend is away: its queue may hold work it cannot show yet.
            if let idle = config.idleExitMs, inFlight == 0, served.allSatisfy({ $0.retryAt == nil }), clock.nowMs() - idleSince >= idle { break }
            if served.allSatisfy({ $0.retryAt != nil }) {
                // Every backend is away: back off (the shortest of their waits).
                let ms = served.map(\.outage.delayMs).min() ?? 100
                if let s = source(0) { s.waitForWork(ms) } else { usleep(UInt32(ms) * 1_000) }
            } else if claimed == 0 || inFlight >= config.slots {
                // A free slot or new work ends the wait; the renewals are due within it (of
                // the backends that answer: one away is renewed once it is back, and its
                // overdue renewal must not turn the wait into a spin).
                let now = clock.nowMs()
                let renewIn = served.filter { $0.retryAt == nil }.map { config.leaseMs / 3 - (now - $0.lastRenew) }.min() ?? config.pollMs
                let wait = min(config.pollMs, max(1, renewIn))
                if inFlight >= config.slots {
                    _ = handedBack.wait(timeout: .now() + .milliseconds(Int(wait)))
                } else {
                    // The wake-up of the first backend that answers (the others are polled).
                    let awake = served.indices.first { served[$0].retryAt == nil } ?? 0
                    if let s = source(awake) { s.waitForWork(wait) } else { usleep(UInt32(wait) * 1_000) }
                }
            }
        }
        return try stop()
    }

    /// One turn of the loop: for each backend in turn (the primary first), claim into the
    /// free slots and renew when due. A backend that does not answer (restarted, cut off)
    /// is left for its backoff while the attempts go on, and the others are served;
    /// its leases are renewed once it answers. Returns how many attempts were claimed.
    func turn(_ served: inout [Served], _ idleSince: inout Millis) throws(RunnerError) -> Int {
        health.loopAtMs.store(clock.nowMs(), ordering: .relaxed)
        var claimed = 0
        for i in backends.indices {
            if let at = served[i].retryAt, ContinuousClock.now < at { continue }
            let log = backends.count == 1 ? self.log : { [log, name = backends[i].location] in log("\(name): \($0)") }
            do {
                claimed += try turn(source: i, &served[i])
            } catch {
                guard error.kind == .unavailable || error.kind == .busy else { throw .store(error.description) }
                served[i].outage.bear(error.description, log: log)
                served[i].retryAt = .now + .milliseconds(served[i].outage.delayMs)
                continue
            }
            served[i].outage.over(log: log)
            served[i].retryAt = nil
        }
        if claimed > 0 || inFlight > 0 { idleSince = clock.nowMs() }
        return claimed
    }

    /// Claims from backend `i` into the free slots and renews its leases when due.
    func turn(source i: Int, _ served: inout Served) throws(StoreError) -> Int {
        let opened = try openSource(i)
        let queue = opened.queue
        // This machine's time paces the loop; the backend's stamps the leases, so a reaper
        // on another machine judges them on the same clock.
        let now = clock.nowMs()
        let stamp = opened.clock.nowMs()
        let free = config.slots - inFlight
        var leases: [Lease] = []
        if free > 0 {
            leases = try queue.claim(owner: config.owner, queues: config.queues, max: free, nowMs: stamp, leaseMs: config.leaseMs)
            health.answered(i, now)
        }
        // The claim's time, not each attempt's start: the first attempt of a run loads its
        // IR, which the others of the batch would otherwise count as waiting.
        let claimedAt = leases.isEmpty ? stamp : opened.clock.nowMs()
        for l in leases { begin(l, source: i, claimedAtMs: claimedAt) }
        if now - served.lastRenew >= config.leaseMs / 3 {
            served.lastRenew = now
            _ = try queue.renew(owner: config.owner, nowMs: stamp, leaseMs: config.leaseMs)
            health.answered(i, now)
            stopCancelled(try queue.cancelled(owner: config.owner), source: i)
        }
        return leases.count
    }

    /// Stops the attempts their coordinator cancelled (a timeout, a cancelled run, a
    /// deadline or a budget stop, a run that ended): asked with each renewal, so an
    /// abandoned attempt stops within a third of the lease instead of at its own timeout.
    /// What it reports is still handed back (and charged by the core).
    func stopCancelled(_ items: [WorkItem], source: Int) {
        for item in items {
            let key = Key(source: source, run: item.runID, task: item.task, attempt: item.attempt)
            guard let token = tokens.withLock({ $0[key] }), !token.isCancelled else { continue }
            token.cancel()
            log("\(item.runID) task \(item.task) attempt \(item.attempt) was cancelled by its coordinator; stopping it")
        }
    }

    /// Ends what still runs (SIGTERM to its groups, then SIGKILL after the grace, or at
    /// once on a second request) and puts its leases back.
    func stop() throws(RunnerError) -> WorkerSummary {
        let force = stopRequest.requests > 1
        for t in tokens.withLock({ Array($0.values) }) { if force { t.kill() } else { t.cancel() } }
        let deadline = DispatchTime.now() + .milliseconds(Int(2 * max(0, config.exec.killGraceMs) + 3_000))
        while inFlight > 0, handedBack.wait(timeout: deadline) != .timedOut {}
        // Attempts that did not end within the wait are put back too (their processes are
        // being killed): counted with those ended by the stop.
        let held = inFlight
        // Every backend's leases are put back, even when one of them does not answer (its
        // leases then expire): the first failure is reported once all were tried.
        var failure: StoreError?
        for i in backends.indices {
            guard let s = source(i) else { continue }  // never opened: it holds none
            do { try s.queue.release(owner: config.owner) } catch { failure = failure ?? error }
        }
        if let failure { throw .store("cannot put this worker's leases back: \(failure.description)") }
        return summary.withLock { s in
            s.released += held
            return s
        }
    }

    func begin(_ lease: Lease, source: Int, claimedAtMs: Millis) {
        let item = lease.item
        let key = Key(source: source, run: item.runID, task: item.task, attempt: item.attempt)
        let token = CancelToken()
        tokens.withLock { $0[key] = token }
        let decoded: (values: RenderValues, planHash: String, offeredMs: Millis?)
        do throws(AttemptPayload.Invalid) { decoded = try AttemptPayload.decode(item.payload) } catch {
            return finish(item, source, nil, .failed(ErrorClass.configError, "the attempt's payload cannot be read: \(error.message)"))
        }
        // The backend's own measure where it has one (PostgreSQL: offer row written → claim,
        // both on the server's clock), else the coordinator's stamp to this worker's claim.
        if let waited = lease.waitedMs ?? decoded.offeredMs.map({ claimedAtMs - $0 }) { claimLatency.observe(ms: waited) }
        let run: Loaded
        do { run = try drivers(run: item.runID, planHash: decoded.planHash, source: source) } catch {
            if case .store(let why) = error {
                // The backend did not answer (a restart): not the task's fault. The lease
                // is left to expire and the attempt comes back, to this worker or another.
                log("cannot read run `\(item.runID)` for task \(item.task) attempt \(item.attempt) (\(why)); leaving it to its lease")
                tokens.withLock { _ = $0.removeValue(forKey: key) }
                handedBack.signal()
                return
            }
            return finish(item, source, nil, .failed(ErrorClass.configError, "run `\(item.runID)`: \(error.description)"))
        }
        log("claimed \(item.runID) task \(item.task) attempt \(item.attempt) (delivery \(lease.deliveries))")
        let drivers = run.drivers
        if config.simAgents, drivers.isSim(agent: item.agent) {
            var done = DriverResult.failed("", "")
            done.outcome = .success(outputs: .object([]))
            return finish(item, source, run, done)
        }
        if drivers.isExec(agent: item.agent), drivers.exec.isSynchronous(task: item.task) {
            switch drivers.exec.prepare(task: item.task, attempt: item.attempt, agent: item.agent, idempotencyKey: item.idempotencyKey,
                                        runID: item.runID, values: decoded.values, workingDirectory: nil) {
            case .failed(let r): finish(item, source, run, r)
            case .ready(let p):
                workers.submit { [self] in finish(item, source, run, drivers.exec.runPrepared(p, cancel: token) { _ in }) }
            }
            return
        }
        Task.detached { [self] in
            let r = await drivers.run(task: item.task, attempt: item.attempt, agent: item.agent, key: item.idempotencyKey, runID: item.runID,
                                      values: decoded.values, cancel: token)
            finish(item, source, run, r)
        }
    }

    /// The drivers of run `runID` at plan `planHash`, built from the IR in the store of
    /// backend `source` (the run's).
    func drivers(run runID: String, planHash: String, source: Int) throws(RunnerError) -> Loaded {
        let runKey = RunKey(source: source, run: runID)
        if let l = loaded.withLock({ $0[runKey] }), l.planHash == planHash { return l }
        guard let store = self.source(source)?.store else { throw .store("backend \(backends[source].location) is not open") }
        let versions = try RunVersions.load(store: store, runID: runID)
        guard let plan = versions.plans.last(where: { $0.hash == planHash }) else {
            throw .invalid("the store has no version \(planHash) of its workflow")
        }
        let scope = PlanScope(plan: plan, rootInputs: versions.inputs, files: nil)
        let drivers = DriverSet(document: scope.driverDocument, redactor: Redactor(), secretConfig: config.secrets, exec: config.exec)
        let l = Loaded(planHash: planHash, drivers: drivers, writer: JournalWriter(redactor: drivers.redactor))
        loaded.withLock { cache in
            // A long-lived worker serves many runs: keep the drivers of the latest few.
            if cache.count >= Self.runsCached { cache.removeAll() }
            cache[runKey] = l
        }
        return l
    }

    /// Redacts the result with this worker's redactor (it alone saw the secret values) and
    /// hands it to the queue.
    func finish(_ item: WorkItem, _ source: Int, _ run: Loaded?, _ r: DriverResult) {
        let key = Key(source: source, run: item.runID, task: item.task, attempt: item.attempt)
        let raw: Event = switch r.outcome {
        case .success(let o): .taskSucceeded(task: item.task, attempt: item.attempt, outputs: o, costMicros: r.costMicros, tokens: r.tokens, atMs: 0)
        case .failure(let c, let m): .taskFailed(task: item.task, attempt: item.attempt, errorClass: c, message: m, costMicros: r.costMicros,
                                                 tokens: r.tokens, atMs: 0, retryAfterMs: r.retryAfterMs)
        }
        let writer = run?.writer ?? JournalWriter(redactor: Redactor())
        let outcome: WorkOutcome
        switch writer.redact(raw) {
        case .taskSucceeded(_, _, let o, let c, let k, _): outcome = .succeeded(outputs: o, costMicros: c, tokens: k)
        case .taskFailed(_, _, let e, let m, let c, let k, _, let wait): outcome = .failed(errorClass: e, message: m, costMicros: c, tokens: k, retryAfterMs: wait)
        default: preconditionFailure("a driver result is a task's end")
        }
        let attemptLog: AttemptLogRow? = r.pid != nil || !r.stdout.isEmpty || !r.stderr.isEmpty
            ? writer.redact(AttemptLogRow(task: item.task, attempt: item.attempt, seq: -1, agent: item.agent, exitCode: r.exitCode,
                                          durationMs: r.durationMs, stdout: r.stdout, stderr: r.stderr), seq: -1)
            : nil
        if stopRequest.requests > 0, case .failure = r.outcome {
            // Ended by this worker's own stop (SIGTERM): not the attempt's result. Its lease
            // is put back by `stop`, uncounted, and another worker runs it.
            summary.withLock { $0.released += 1 }
            tokens.withLock { _ = $0.removeValue(forKey: key) }
            handedBack.signal()
            return
        }
        outbox.withLock { $0.append((source, WorkCompletion(item: item, owner: config.owner, outcome: outcome, log: attemptLog))) }
        outboxReady.signal()
    }

    /// The hand-back thread: everything in the outbox for one backend in one `complete`
    /// call, until the loop stopped and the outbox is empty. The attempts stay in flight
    /// (their slots taken) until their result is handed back.
    func handBack() {
        while true {
            _ = outboxReady.wait(timeout: .now() + .milliseconds(100))
            let waiting = outbox.withLock { o in
                let b = o
                o.removeAll()
                return b
            }
            if waiting.isEmpty {
                if !serving.load(ordering: .relaxed) { break }
                continue
            }
            for i in backends.indices {
                let batch = waiting.filter { $0.source == i }.map(\.completion)
                guard !batch.isEmpty else { continue }
                guard let opened = source(i) else { preconditionFailure("an attempt comes from a backend the loop opened") }
                hand(batch, to: opened, source: i)
            }
        }
        outboxDone.signal()
    }

    /// Hands `batch` to backend `source`'s queue, retrying while it is away for a moment
    /// (a restart): `complete` is fenced, so a retry of one that was committed refuses,
    /// harmlessly.
    func hand(_ batch: [WorkCompletion], to opened: WorkerSource, source: Int) {
        var accepted = [Bool](repeating: false, count: batch.count)
        var away = false
        for wait in [0, 200, 1_000, 3_000, 8_000] as [UInt32] {
            if wait > 0 { usleep(wait * 1_000) }
            do {
                accepted = try opened.queue.complete(batch, nowMs: opened.clock.nowMs())
                away = false
                break
            } catch where error.kind == .unavailable || error.kind == .busy {
                away = true
                continue
            } catch {
                break
            }
        }
        if away, serving.load(ordering: .relaxed) {
            // Still away: the results wait in the outbox (their attempts keep their slots
            // and their leases, which this worker renews) and are handed back when it
            // answers, instead of being dropped for the attempt to time out.
            outbox.withLock { o in o.append(contentsOf: batch.map { (source, $0) }) }
            return
        }
        if accepted.contains(true) { opened.notify() }
        for (c, ok) in zip(batch, accepted) {
            let item = c.item
            summary.withLock { if ok { $0.completed += 1 } else { $0.refused += 1 } }
            // Refused or not handed back: the attempt runs again elsewhere once its lease
            // expires (delivery is at least once).
            if !ok { log("\(item.runID) task \(item.task) attempt \(item.attempt): the result was not taken (the lease expired, the attempt was cancelled, or the backend did not answer)") }
            tokens.withLock { _ = $0.removeValue(forKey: Key(source: source, run: item.runID, task: item.task, attempt: item.attempt)) }
            handedBack.signal()
        }
    }
}

/// A backend that stopped answering, as the worker bears it: one line when it starts and
/// one when it is over, and waits that double from 100 ms to 5 s in between.
struct Outage {
    var since: ContinuousClock.Instant?
    var delayMs: Int64 = 100

    mutating func bear(_ why: String, log: (String) -> Void) {
        if since == nil {
            since = .now
            log("the backend does not answer (\(why)); retrying, the attempts in flight go on")
        } else {
            delayMs = min(5_000, delayMs * 2)
        }
    }

    mutating func over(log: (String) -> Void) {
        guard let s = since else { return }
        log("the backend answers again after \(Int((ContinuousClock.now - s).components.seconds)) s")
        since = nil
        delayMs = 100
    }
}
