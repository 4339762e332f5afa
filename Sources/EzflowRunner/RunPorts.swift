// What a `Runner` is built from: the ports to the world (journal store, inbox, clock, run
// lease, work queue) and the executor that carries out claimed attempts. `ezrun run`
// builds them over SQLite, the system clock, a `flock` and in-process worker threads;
// `ezrun simulate` over memory, virtual time and simulated agents.
import EzflowAgents
import EzflowIR
import EzflowPorts
import EzflowRuntime
import EzflowStore
import Foundation

/// The world a `Runner` sees.
public struct RunPorts: Sendable {
    public var store: any JournalStore
    public var inbox: any RunInbox
    public var clock: any RunClock
    public var lease: any RunLease
    public var queue: any WorkQueue
    /// This coordinator's identity: the run lease owner and the queue reader.
    public var owner: String

    public init(store: any JournalStore, inbox: any RunInbox, clock: any RunClock, lease: any RunLease, queue: any WorkQueue,
                owner: String) {
        self.store = store
        self.inbox = inbox
        self.clock = clock
        self.lease = lease
        self.queue = queue
        self.owner = owner
    }
}

/// Who carries out the attempts the runner offers on its queue.
public protocol AttemptExecutor: AnyObject {
    /// Called right after the commit that dispatched `items` (already offered on the
    /// queue): claim them and start them. Completions go back through the queue.
    func start(_ items: [WorkItem], runner: Runner) throws(StoreError)
    /// The core gave up on an attempt (timeout, cancellation): stop it if it still runs.
    func cancel(task: Int, attempt: Int)
}

/// Deliberate bugs, switched on only by tests and the simulation's mutation check, to
/// show that the oracle notices a broken runner. Never set in a real run.
public struct RunnerMutations: Sendable, Equatable {
    /// Resume without re-arming timers (attempt timeouts, retry delays, deadlines).
    public var skipTimerRearm = false
    /// Fold every completion the queue hands over, duplicates and stale ones included.
    public var skipCompletionFence = false
    public init(skipTimerRearm: Bool = false, skipCompletionFence: Bool = false) {
        self.skipTimerRearm = skipTimerRearm
        self.skipCompletionFence = skipCompletionFence
    }
    public static let none = RunnerMutations()
}

extension RunPorts {
    /// The embedded default: one SQLite file, the system clock, a `flock` per run and an
    /// in-memory work queue whose workers are this process's threads (`LocalExecutor`).
    static func embedded(_ config: RunConfig, wake: Wakeup) throws(RunnerError) -> RunPorts {
        let store: DurableStore
        do { store = try DurableStore(path: config.storePath, options: StoreOptions(synchronous: config.synchronous)) } catch {
            throw .store(error.description)
        }
        let queue = MemoryWorkQueue(onComplete: { wake.signal() })
        return RunPorts(store: store, inbox: store, clock: SystemClock(), lease: FileRunLease(storePath: config.storePath),
                        queue: queue, owner: "\(getpid())")
    }
}

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
