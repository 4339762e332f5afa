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
/// turned and when the backend last answered it, from the loop's own thread.
public final class WorkerHealth: Sendable {
    let loopAtMs = Atomic<Int64>(0)
    let backendAtMs = Atomic<Int64>(0)
    public init() {}

    /// Live: the loop turned within `staleMs` (it turns at least every poll interval).
    public func live(nowMs: Millis, staleMs: Millis) -> Bool { nowMs - loopAtMs.load(ordering: .relaxed) <= staleMs }
    /// Ready: the backend answered a claim or a renewal within `staleMs`.
    public func ready(nowMs: Millis, staleMs: Millis) -> Bool { nowMs - backendAtMs.load(ordering: .relaxed) <= staleMs }
}

public final class Worker: @unchecked Sendable {
    struct Key: Hashable { var run: String; var task: Int; var attempt: Int }
    struct Loaded { var planHash: String; var drivers: DriverSet; var writer: JournalWriter }

    let queue: any WorkQueue
    let store: any JournalStore
    let clock: any RunClock
    public let config: WorkerConfig
    /// Ends the wait for work early (the backend's wake-up); nil: sleep `pollMs`.
    let waitForWork: (Int64) -> Void
    public let stopRequest = StopRequest(wake: nil)
    let tokens = Mutex<[Key: CancelToken]>([:])
    let summary = Mutex(WorkerSummary())
    let handedBack = DispatchSemaphore(value: 0)
    /// The drivers of each run, built from its IR once per plan version (at most
    /// `runsCached` runs; then it starts afresh).
    static let runsCached = 64
    let loaded = Mutex<[String: Loaded]>([:])
    let workers = WorkerPool()
    public let health = WorkerHealth()
    /// Offer → claim waits of the attempts this worker claimed (`/metrics`).
    public let claimLatency = ClaimLatency()
    /// Completions handed back and refused so far (for `/metrics`).
    public var counts: WorkerSummary { summary.withLock { $0 } }
    /// Lines for the operator (claims, refusals); called from worker threads.
    public var log: @Sendable (String) -> Void = { _ in }

    /// Wakes the coordinators after a completion (the backend's notify).
    let notify: @Sendable () -> Void
    /// Results waiting to be handed back: one thread hands back everything waiting in one
    /// `complete` call (one transaction), so results that end together cost one commit.
    let outbox = Mutex<[WorkCompletion]>([])
    let outboxReady = DispatchSemaphore(value: 0)
    let outboxDone = DispatchSemaphore(value: 0)
    let serving = Atomic<Bool>(false)

    public init(queue: any WorkQueue, store: any JournalStore, clock: any RunClock, config: WorkerConfig,
                waitForWork: @escaping (Int64) -> Void, notify: @escaping @Sendable () -> Void = {}) {
        self.notify = notify
        self.queue = queue
        self.store = store
        self.clock = clock
        self.config = config
        self.waitForWork = waitForWork
    }

    public var inFlight: Int { tokens.withLock { $0.count } }

    /// Claims and runs attempts until a stop request (or `idleExitMs` without work).
    public func serve() throws(RunnerError) -> WorkerSummary {
        serving.store(true, ordering: .relaxed)
        Thread.detachNewThread { [self] in handBack() }
        defer {
            serving.store(false, ordering: .relaxed)
            outboxReady.signal()
            outboxDone.wait()
        }
        var lastRenew = clock.nowMs()
        var idleSince = clock.nowMs()
        var outage = Outage()
        while stopRequest.requests == 0 {
            do { try turn(&lastRenew, &idleSince) } catch {
                // The backend is away (restarted, cut off): keep the attempts running and
                // try again, backing off; their leases are renewed once it answers.
                guard error.kind == .unavailable || error.kind == .busy else { throw .store(error.description) }
                outage.bear(error.description, log: log)
                waitForWork(outage.delayMs)
                continue
            }
            outage.over(log: log)
            if let idle = config.idleExitMs, inFlight == 0, clock.nowMs() - idleSince >= idle { break }
        }
        return try stop()
    }

    /// One turn of the loop: claim into the free slots, renew when due, wait for work.
    func turn(_ lastRenew: inout Millis, _ idleSince: inout Millis) throws(StoreError) {
        let now = clock.nowMs()
        health.loopAtMs.store(now, ordering: .relaxed)
        let free = config.slots - inFlight
        var leases: [Lease] = []
        if free > 0 {
            leases = try queue.claim(owner: config.owner, queues: config.queues, max: free, nowMs: now, leaseMs: config.leaseMs)
            health.backendAtMs.store(now, ordering: .relaxed)
        }
        // The claim's time, not each attempt's start: the first attempt of a run loads its
        // IR, which the others of the batch would otherwise count as waiting.
        let claimedAt = leases.isEmpty ? now : clock.nowMs()
        for l in leases { begin(l, claimedAtMs: claimedAt) }
        if now - lastRenew >= config.leaseMs / 3 {
            lastRenew = now
            _ = try queue.renew(owner: config.owner, nowMs: now, leaseMs: config.leaseMs)
            health.backendAtMs.store(now, ordering: .relaxed)
        }
        if !leases.isEmpty || inFlight > 0 { idleSince = now }
        if leases.isEmpty || inFlight >= config.slots {
            // A free slot or new work ends the wait; the renewal is due within it.
            let wait = min(config.pollMs, max(1, config.leaseMs / 3 - (clock.nowMs() - lastRenew)))
            if inFlight >= config.slots { _ = handedBack.wait(timeout: .now() + .milliseconds(Int(wait))) } else { waitForWork(wait) }
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
        do { try queue.release(owner: config.owner) } catch { throw .store("cannot put this worker's leases back: \(error.description)") }
        return summary.withLock { s in
            s.released += held
            return s
        }
    }

    func begin(_ lease: Lease, claimedAtMs: Millis) {
        let item = lease.item
        let key = Key(run: item.runID, task: item.task, attempt: item.attempt)
        let token = CancelToken()
        tokens.withLock { $0[key] = token }
        let decoded: (values: RenderValues, planHash: String, offeredMs: Millis?)
        do throws(AttemptPayload.Invalid) { decoded = try AttemptPayload.decode(item.payload) } catch {
            return finish(item, nil, .failed(ErrorClass.configError, "the attempt's payload cannot be read: \(error.message)"))
        }
        if let at = decoded.offeredMs { claimLatency.observe(ms: claimedAtMs - at) }
        let run: Loaded
        do { run = try drivers(run: item.runID, planHash: decoded.planHash) } catch {
            if case .store(let why) = error {
                // The backend did not answer (a restart): not the task's fault. The lease
                // is left to expire and the attempt comes back, to this worker or another.
                log("cannot read run `\(item.runID)` for task \(item.task) attempt \(item.attempt) (\(why)); leaving it to its lease")
                tokens.withLock { _ = $0.removeValue(forKey: key) }
                handedBack.signal()
                return
            }
            return finish(item, nil, .failed(ErrorClass.configError, "run `\(item.runID)`: \(error.description)"))
        }
        log("claimed \(item.runID) task \(item.task) attempt \(item.attempt) (delivery \(lease.deliveries))")
        let drivers = run.drivers
        if config.simAgents, drivers.isSim(agent: item.agent) {
            var done = DriverResult.failed("", "")
            done.outcome = .success(outputs: .object([]))
            return finish(item, run, done)
        }
        if drivers.isExec(agent: item.agent), drivers.exec.isSynchronous(task: item.task) {
            switch drivers.exec.prepare(task: item.task, attempt: item.attempt, agent: item.agent, idempotencyKey: item.idempotencyKey,
                                        runID: item.runID, values: decoded.values, workingDirectory: nil) {
            case .failed(let r): finish(item, run, r)
            case .ready(let p):
                workers.submit { [self] in finish(item, run, drivers.exec.runPrepared(p, cancel: token) { _ in }) }
            }
            return
        }
        Task.detached { [self] in
            let r = await drivers.run(task: item.task, attempt: item.attempt, agent: item.agent, key: item.idempotencyKey, runID: item.runID,
                                      values: decoded.values, cancel: token)
            finish(item, run, r)
        }
    }

    /// The drivers of run `runID` at plan `planHash`, built from the store's IR.
    func drivers(run runID: String, planHash: String) throws(RunnerError) -> Loaded {
        if let l = loaded.withLock({ $0[runID] }), l.planHash == planHash { return l }
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
            cache[runID] = l
        }
        return l
    }

    /// Redacts the result with this worker's redactor (it alone saw the secret values) and
    /// hands it to the queue.
    func finish(_ item: WorkItem, _ run: Loaded?, _ r: DriverResult) {
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
            tokens.withLock { _ = $0.removeValue(forKey: Key(run: item.runID, task: item.task, attempt: item.attempt)) }
            handedBack.signal()
            return
        }
        outbox.withLock { $0.append(WorkCompletion(item: item, owner: config.owner, outcome: outcome, log: attemptLog)) }
        outboxReady.signal()
    }

    /// The hand-back thread: everything in the outbox in one `complete` call, until the
    /// loop stopped and the outbox is empty. The attempts stay in flight (their slots
    /// taken) until their result is handed back.
    func handBack() {
        while true {
            _ = outboxReady.wait(timeout: .now() + .milliseconds(100))
            let batch = outbox.withLock { o in
                let b = o
                o.removeAll()
                return b
            }
            if batch.isEmpty {
                if !serving.load(ordering: .relaxed) { break }
                continue
            }
            var accepted = [Bool](repeating: false, count: batch.count)
            // A backend that is away for a moment (a restart) gets the results a few more
            // times: `complete` is fenced, so a retry of one that was committed refuses, harmlessly.
            for wait in [0, 200, 1_000, 3_000, 8_000] as [UInt32] {
                if wait > 0 { usleep(wait * 1_000) }
                do {
                    accepted = try queue.complete(batch, nowMs: clock.nowMs())
                    break
                } catch where error.kind == .unavailable || error.kind == .busy {
                    continue
                } catch {
                    break
                }
            }
            if accepted.contains(true) { notify() }
            for (c, ok) in zip(batch, accepted) {
                let item = c.item
                summary.withLock { if ok { $0.completed += 1 } else { $0.refused += 1 } }
                // Refused or not handed back: the attempt runs again elsewhere once its lease
                // expires (delivery is at least once).
                if !ok { log("\(item.runID) task \(item.task) attempt \(item.attempt): the result was not taken (the lease expired, the attempt was cancelled, or the backend did not answer)") }
                tokens.withLock { _ = $0.removeValue(forKey: Key(run: item.runID, task: item.task, attempt: item.attempt)) }
                handedBack.signal()
            }
        }
        outboxDone.signal()
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
