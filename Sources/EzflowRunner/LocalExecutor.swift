// The embedded runner's workers: threads of this process that claim the attempts the
// coordinator offered on its in-memory queue, run them through the drivers and complete
// them on the queue (fenced by owner), which wakes the coordinator. An attempt is handed
// back only once its process group is gone (`Subprocess`), so `awaitIdle` means no task
// process is left; the processes started and gone are reported for the next commit.
import Dispatch
import EzflowAgents
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Synchronization

final class LocalExecutor: AttemptExecutor, Sendable {
    struct Key: Hashable { var task: Int; var attempt: Int }
    let queue: any WorkQueue
    let clock: any RunClock
    let owner: String
    let drivers: DriverSet
    let workers = WorkerPool()
    let tokens = Mutex<[Key: CancelToken]>([:])
    let processes = Mutex(ProcessChanges())
    /// Signalled whenever an attempt is handed back (`awaitIdle`).
    let handedBack = DispatchSemaphore(value: 0)
    let graceMs: Int64
    /// Local workers die with the process, so their leases never need to expire.
    static let leaseMs: Millis = Millis.max / 4

    /// Where `file` outputs are stored and their attempts' working directories made.
    let files: FileStore

    init(queue: any WorkQueue, clock: any RunClock, owner: String, drivers: DriverSet, files: FileStore) {
        self.files = files
        self.queue = queue
        self.clock = clock
        self.owner = owner
        self.drivers = drivers
        graceMs = drivers.exec.options.killGraceMs
    }

    var inFlight: Int { tokens.withLock { $0.count } }

    func stopAll(force: Bool) {
        for t in tokens.withLock({ Array($0.values) }) { if force { t.kill() } else { t.cancel() } }
    }

    func awaitIdle(timeoutMs: Int64) -> Bool {
        let end = DispatchTime.now() + .milliseconds(Int(min(timeoutMs, 3_600_000)))
        while inFlight > 0 {
            if handedBack.wait(timeout: end) == .timedOut { return inFlight == 0 }
        }
        return true
    }

    func takeProcessChanges() -> ProcessChanges {
        processes.withLock { p in
            defer { p = ProcessChanges() }
            return p
        }
    }

    func endSurvivors(_ recorded: [AttemptProcess]) -> Int {
        var ended = 0
        for p in recorded where ProcessTable.endSurvivor(SpawnedProcess(pid: p.pid, pgid: p.pgid, startTicks: p.startTicks), graceMs: graceMs) {
            ended += 1
        }
        processes.withLock { $0.merge(ProcessChanges(ended: recorded)) }
        return ended
    }

    func start(_ items: [WorkItem], runner: Runner) throws(StoreError) {
        let leases = try queue.claim(owner: owner, max: items.count, nowMs: clock.nowMs(), leaseMs: Self.leaseMs)
        for lease in leases { begin(lease.item, runner: runner) }
    }

    func cancel(task: Int, attempt: Int) {
        tokens.withLock { $0[Key(task: task, attempt: attempt)] }?.cancel()
    }

    func begin(_ item: WorkItem, runner: Runner) {
        if let refusal = runner.dispatchRefusal(task: item.task) {
            finish(item, .failed("forbidden", refusal))
            return
        }
        let token = CancelToken()
        tokens.withLock { $0[Key(task: item.task, attempt: item.attempt)] = token }
        let values = runner.renderValues(task: item.task)
        let drivers = self.drivers, runID = runner.runID
        let artifacts = ArtifactAttempt(item: item, drivers: drivers, files: files, runID: runID)
        if let why = artifacts.failure {
            finish(item, why)
            return
        }
        if drivers.isExec(agent: item.agent), drivers.exec.isSynchronous(task: item.task) {
            // The common case (a subprocess, no secret to fetch): render here, then spawn
            // and wait on a pooled thread — no async hops between completion and journal.
            switch drivers.exec.prepare(task: item.task, attempt: item.attempt, agent: item.agent, idempotencyKey: item.idempotencyKey,
                                        runID: runID, values: values, workingDirectory: artifacts.workDir) {
            case .failed(let r):
                finish(item, artifacts.stored(r))
            case .ready(let p):
                let exec = drivers.exec
                workers.submit { [self] in
                    let spawned = SpawnRecord(item)
                    let r = exec.runPrepared(p, cancel: token) { spawned.started($0, in: self.processes) }
                    spawned.ended(in: processes)
                    finish(item, artifacts.stored(r))
                }
            }
            return
        }
        // Attempts that await something first (a secret, an HTTP or LLM call): their
        // processes, if any, are recorded the same way.
        Task.detached { [self] in
            let spawned = SpawnRecord(item)
            let r = await drivers.run(task: item.task, attempt: item.attempt, agent: item.agent, key: item.idempotencyKey, runID: runID,
                                      values: values, cancel: token, started: { spawned.started($0, in: self.processes) },
                                      workingDirectory: artifacts.workDir)
            spawned.ended(in: processes)
            finish(item, artifacts.stored(r))
        }
    }

    /// Hands the result to the queue.
    func finish(_ item: WorkItem, _ r: DriverResult) {
        let outcome: WorkOutcome = switch r.outcome {
        case .success(let o): .succeeded(outputs: o, costMicros: r.costMicros, tokens: r.tokens)
        case .failure(let c, let m): .failed(errorClass: c, message: m, costMicros: r.costMicros, tokens: r.tokens, retryAfterMs: r.retryAfterMs)
        }
        let log: AttemptLogRow? = r.pid != nil || !r.stdout.isEmpty || !r.stderr.isEmpty
            ? AttemptLogRow(task: item.task, attempt: item.attempt, seq: -1, agent: item.agent, exitCode: r.exitCode,
                            durationMs: r.durationMs, stdout: r.stdout, stderr: r.stderr)
            : nil
        // A refused completion (the attempt is no longer this worker's) is dropped: the
        // coordinator moved on without it. The in-memory queue cannot fail; a queue that
        // can is a backend with workers of their own, not these threads.
        do { _ = try queue.complete(WorkCompletion(item: item, owner: owner, outcome: outcome, log: log), nowMs: clock.nowMs()) } catch {
            preconditionFailure("the embedded work queue failed: \(error)")
        }
        // Out of flight only once the completion is on the queue (`Runner.honourStop`).
        tokens.withLock { _ = $0.removeValue(forKey: Key(task: item.task, attempt: item.attempt)) }
        handedBack.signal()
    }
}

/// The process an attempt spawned, reported to the next commit when it starts and again
/// when the attempt is over (its group gone), so `ezrun resume` can end a survivor.
final class SpawnRecord: Sendable {
    let item: WorkItem
    let process = Mutex<AttemptProcess?>(nil)

    init(_ item: WorkItem) { self.item = item }

    func started(_ s: SpawnedProcess, in changes: borrowing Mutex<ProcessChanges>) {
        let a = AttemptProcess(task: item.task, attempt: item.attempt, pid: s.pid, pgid: s.pgid, startTicks: s.startTicks)
        process.withLock { $0 = a }
        changes.withLock { $0.started.append(a) }
    }

    func ended(in changes: borrowing Mutex<ProcessChanges>) {
        guard let a = process.withLock({ $0 }) else { return }
        changes.withLock { $0.merge(ProcessChanges(ended: [a])) }
    }
}

extension Runner {
    /// Carries out attempts on this process's threads.
    func useLocalWorkers(_ wake: Wakeup) {
        self.wakeSource = wake
        stopRequest = StopRequest(wake: wake)
        executor = LocalExecutor(queue: ports.queue, clock: ports.clock, owner: ports.owner, drivers: drivers,
                                 files: FileStore(storePath: config.storePath))
    }
}
