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
import Synchronization

/// The world a `Runner` sees.
public struct RunPorts: Sendable {
    public var store: any JournalStore
    public var inbox: any RunInbox
    public var clock: any RunClock
    public var lease: any RunLease
    public var queue: any WorkQueue
    /// This coordinator's identity: the run lease owner and the queue reader.
    public var owner: String
    /// The store is a `TurnStore` whose tables hold `queue` (one PostgreSQL backend): a
    /// turn's acknowledgements, cancels and offers commit in its journal append.
    public var queueInStore = false

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
    /// Attempts started and not yet handed back (their process groups may be alive).
    var inFlight: Int { get }
    /// Stops every attempt in flight (`force`: SIGKILL at once, no grace period).
    func stopAll(force: Bool)
    /// Waits until nothing is in flight, at most `timeoutMs`; whether that was reached.
    func awaitIdle(timeoutMs: Int64) -> Bool
    /// Attempt processes started and ended since the last call (for the next commit).
    func takeProcessChanges() -> ProcessChanges
    /// Ends the recorded processes of a crashed runner that are provably still those
    /// attempts (same pid and start time), whole groups; returns how many it ended.
    func endSurvivors(_ processes: [AttemptProcess]) -> Int
}

extension AttemptExecutor {
    /// Executors without OS processes (simulated workers) have nothing to wait for or end.
    public var inFlight: Int { 0 }
    public func stopAll(force: Bool) {}
    public func awaitIdle(timeoutMs: Int64) -> Bool { true }
    public func takeProcessChanges() -> ProcessChanges { ProcessChanges() }
    public func endSurvivors(_ processes: [AttemptProcess]) -> Int { 0 }
}

/// What `ezrun` does on SIGINT/SIGTERM (`--on-signal`).
public enum SignalPolicy: String, Sendable {
    /// End the attempts in flight (SIGTERM to their groups, grace, SIGKILL) (default).
    case stop
    /// Let the attempts in flight finish and journal them; start nothing new.
    case drain
}

/// A stop asked of a running `Runner` from another thread (ezrun's signal thread).
/// The first request stops (or drains) the run; each further one escalates: drain →
/// stop → SIGKILL at once.
public final class StopRequest: Sendable {
    private let count = Atomic<Int>(0)
    private let signalNumber = Atomic<Int32>(0)
    let wake: Wakeup?

    init(wake: Wakeup?) { self.wake = wake }

    public func request(signal: Int32) {
        _ = signalNumber.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
        count.add(1, ordering: .releasing)
        wake?.signal()
    }

    /// How many requests arrived (0: none).
    public var requests: Int { count.load(ordering: .acquiring) }
    /// The first request's signal.
    public var signal: Int32 { signalNumber.load(ordering: .relaxed) }
}

/// Deliberate bugs, switched on only by tests and the simulation's mutation check, to
/// show that the oracle notices a broken runner. Never set in a real run.
public struct RunnerMutations: Sendable, Equatable {
    /// Resume without re-arming timers (attempt timeouts, retry delays, deadlines).
    public var skipTimerRearm = false
    /// Fold every completion the queue hands over, duplicates and stale ones included.
    public var skipCompletionFence = false
    /// Resume without sending the journal's dead-letter entries to the feed again.
    public var skipDeadLetterResend = false
    public init(skipTimerRearm: Bool = false, skipCompletionFence: Bool = false, skipDeadLetterResend: Bool = false) {
        self.skipTimerRearm = skipTimerRearm
        self.skipCompletionFence = skipCompletionFence
        self.skipDeadLetterResend = skipDeadLetterResend
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
    /// What SIGINT/SIGTERM to `ezrun` does to the attempts in flight.
    public var onSignal = SignalPolicy.stop
    public var secrets = SecretConfig()
    /// `--breaker-failures` / `--breaker-cool-down`: every agent's breaker settings, over
    /// its own `breaker_failures` / `breaker_cool_down` (nil: the agent's, else 5 and 30 s).
    public var breakerFailures: Int?
    public var breakerCoolDownMs: Int64?
    public init() {}
}
