// The ports between the runner and the world. `Runner` holds only these protocols: it
// opens no database, reads no wall clock and takes no file lock itself. SQLite (plus a
// `flock` run lease) is one implementation, memory the second; the distributed backends
// add PostgreSQL and Redis behind the same contracts. Each contract is a numbered list,
// and `Tests/EzflowPortsTests` runs one conformance suite per port against every
// implementation.
import EzflowIR
import EzflowRuntime

/// Where a run's journal (the only truth of a run) and its companions live.
///
/// 1. `append` is all or nothing: the records, the logs, the consumed inbox ids and the
///    run-row update are stored together or not at all.
/// 2. `append` is fenced by sequence: `expectedSeq` must equal the number of records
///    stored, and the records must be numbered `expectedSeq, expectedSeq+1, …`;
///    otherwise it throws `conflict` and stores nothing (a stale writer cannot append).
/// 3. `journal(run:from:)` returns exactly the committed records from `from` on, in
///    order, with consecutive `seq`.
/// 4. A failure is a `StoreError`; after `unavailable` the caller may not assume either
///    outcome and must re-read the journal.
/// 5. The journal is hash-chained (`JournalChain`): `append` stores each record's hash,
///    hash(seq) = SHA-256(hash(seq-1) ‖ the record's canonical bytes), hash(-1) = the
///    run's IR hash, in the same transaction as the record (no extra write). `journal`
///    recomputes the chain from `from` (starting at the stored hash of `from - 1`) and
///    throws an `integrity` error with the first record that does not match
///    (`StoreError.chainBreak`); `chainHash(run:seq:)` is the stored hash of record `seq`
///    (-1: the IR hash), so `chainHash(run:seq: count - 1)` is the head an operator pins.
public protocol JournalStore: AnyObject, Sendable {
    /// The store's name in messages (a file path, a URL).
    var location: String { get }
    /// Creates the run row with its IR and meta, all or nothing; `conflict` if the id is taken.
    func createRun(_ run: NewRun) throws(StoreError)
    /// The run row, or nil.
    func run(_ runID: String) throws(StoreError) -> RunInfo?
    /// Every run row, oldest first.
    func runs() throws(StoreError) -> [RunInfo]
    /// The IR bytes the run was created with.
    func ir(run runID: String) throws(StoreError) -> [UInt8]?
    /// Committed records from `seq` on, their chain verified (point 5).
    func journal(run runID: String, from seq: Int) throws(StoreError) -> [JournalRecord]
    /// The stored chain hash of record `seq` (-1: the run's IR hash); nil if there is none.
    func chainHash(run runID: String, seq: Int) throws(StoreError) -> String?
    /// Appends a batch (see the contract above).
    func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                consumedInbox: [Int64]) throws(StoreError)
    /// Sets the run row's status on its own.
    func update(run runID: String, _ u: RunUpdate) throws(StoreError)
    func meta(run runID: String) throws(StoreError) -> JSONValue?
    func setMeta(run runID: String, _ meta: JSONValue) throws(StoreError)
    /// IR versions the run moved to (`plan_upgraded`), in order.
    func versions(run runID: String) throws(StoreError) -> [(fromSeq: Int, irHash: String, ir: [UInt8])]
    func addVersion(run runID: String, fromSeq: Int, irHash: String, ir: [UInt8]) throws(StoreError)
    /// Records an access decision.
    func audit(_ entry: AuditEntry) throws(StoreError)
    /// Attempt logs written with the journal (one task's when `task` is set), by seq.
    func logs(run runID: String, task: Int?) throws(StoreError) -> [AttemptLogRow]
    /// `append` that also records and forgets attempt processes, in the same transaction
    /// (no commit of its own: the process rows ride on the next group commit).
    func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                consumedInbox: [Int64], processes: ProcessChanges) throws(StoreError)
    /// The attempt processes recorded and not yet forgotten.
    func processes(run runID: String) throws(StoreError) -> [AttemptProcess]
}

extension JournalStore {
    /// A store of runs without OS processes (memory, simulation) keeps none.
    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64], processes: ProcessChanges) throws(StoreError) {
        try append(run: runID, expectedSeq: expectedSeq, records: records, update: update, logs: logs, consumedInbox: consumedInbox)
    }

    public func processes(run runID: String) throws(StoreError) -> [AttemptProcess] { [] }
}

/// How other processes (`ezrun approve`, `ezrun cancel`) reach a run's single writer.
///
/// 1. Every posted request is returned by `inbox(run:)`, oldest first, until a journal
///    `append` lists its id in `consumedInbox` (at least once; the writer dedupes).
/// 2. Requests are never lost: a post that returned an id is durable.
public protocol RunInbox: AnyObject, Sendable {
    func inbox(run runID: String) throws(StoreError) -> [InboxItem]
    func post(_ item: InboxItem) throws(StoreError) -> Int64
}

/// The run's clock: wall time in epoch milliseconds, as the runner sees it.
///
/// 1. `nowMs` never goes backwards for one clock instance (a wall clock that steps back
///    is held at its last value; a forward jump is passed on: deadlines are wall time).
public protocol RunClock: AnyObject, Sendable {
    func nowMs() -> Millis
}

/// Why the single-writer lease of a run was not granted.
public struct LeaseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var runID: String
    /// Who holds it (a pid, a worker id), when known.
    public var holder: String
    public var message: String
    public init(runID: String, holder: String, message: String) {
        self.runID = runID
        self.holder = holder
        self.message = message
    }
    public var description: String { message }
}

/// One writer per run.
///
/// 1. At most one owner holds a run's lease at a time.
/// 2. Each grant returns an epoch greater than every earlier grant of the same run.
/// 3. A holder that dies without releasing keeps the lease until it expires (a `flock`
///    expires with the process); then another owner may take it.
/// 4. `holds` turns false once the lease object knows the lease was lost (its session
///    ended, its key expired or was taken), so the holder stops at once instead of at
///    its next append; true while it cannot tell.
public protocol RunLease: AnyObject, Sendable {
    func acquire(run runID: String, owner: String, nowMs: Millis) throws(LeaseError) -> Int
    func release(run runID: String, owner: String)
    func holds(run runID: String) -> Bool
}

extension RunLease {
    /// A lease that is lost only with its process (a `flock`, memory).
    public func holds(run runID: String) -> Bool { true }
}

/// One attempt to carry out: what a `dispatch` command names.
public struct WorkItem: Sendable, Equatable, Hashable {
    public var runID: String
    public var task: Int
    public var attempt: Int
    /// -1: the shell's local executor.
    public var agent: Int
    public var idempotencyKey: String
    /// The queue (routing key, e.g. `agent.claude`) workers subscribe to.
    public var queue: String
    /// 0 is claimed first, 9 last; within a priority, offer order.
    public var priority: Int
    /// What a worker in another process needs to carry the attempt out (the rendered
    /// values, `AttemptPayload`), opaque to the queue; empty for this process's workers.
    public var payload: [UInt8]
    public init(runID: String, task: Int, attempt: Int, agent: Int, idempotencyKey: String, queue: String = WorkItem.defaultQueue,
                priority: Int = 0, payload: [UInt8] = []) {
        self.runID = runID
        self.task = task
        self.attempt = attempt
        self.agent = agent
        self.idempotencyKey = idempotencyKey
        self.queue = queue
        self.priority = priority
        self.payload = payload
    }

    /// The queue of a task that names none.
    public static let defaultQueue = "default"
}

/// One entry of a backend's dead-letter feed (`WorkQueue.deadLetter`): a task the run's
/// retry rules, fallbacks and catches gave up on, or its re-drive by an operator. The
/// journal's `dead_letter` command and `task_redriven` event are the truth; the feed is
/// a copy an operator reads without replaying runs (a PostgreSQL table, a Redis stream).
public struct DeadLetterEntry: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable {
        case deadLettered = "dead_lettered"
        case redriven
    }
    public var runID: String
    /// The journal record that dead-lettered (or re-drove) the task.
    public var seq: Int
    public var task: Int
    public var taskName: String
    public var kind: Kind
    /// The last attempt's error class and message (a re-drive repeats the dead letter's).
    public var errorClass: String
    public var message: String
    /// Attempts the task made so far.
    public var attempts: Int
    public var atMs: Millis
    /// Who re-drove the task (empty for a dead letter).
    public var principal: String
    public init(runID: String, seq: Int, task: Int, taskName: String, kind: Kind, errorClass: String, message: String,
                attempts: Int, atMs: Millis, principal: String = "") {
        self.runID = runID
        self.seq = seq
        self.task = task
        self.taskName = taskName
        self.kind = kind
        self.errorClass = errorClass
        self.message = message
        self.attempts = attempts
        self.atMs = atMs
        self.principal = principal
    }
}

/// A claimed item: `owner` may work on it until `expiresAtMs`.
public struct Lease: Sendable, Equatable {
    public var item: WorkItem
    public var owner: String
    public var expiresAtMs: Millis
    /// How many times the item was claimed (1 on the first claim).
    public var deliveries: Int
    /// How long the item waited between its offer and this claim, measured by the backend
    /// on its own clock (nil where it does not: the worker uses the payload's stamp).
    public var waitedMs: Millis?
    public init(item: WorkItem, owner: String, expiresAtMs: Millis, deliveries: Int, waitedMs: Millis? = nil) {
        self.item = item
        self.owner = owner
        self.expiresAtMs = expiresAtMs
        self.deliveries = deliveries
        self.waitedMs = waitedMs
    }

    /// The lease itself: the wait is a measurement, not part of what was granted.
    public static func == (a: Lease, b: Lease) -> Bool {
        a.item == b.item && a.owner == b.owner && a.expiresAtMs == b.expiresAtMs && a.deliveries == b.deliveries
    }
}

/// What an attempt came to, without a time: the coordinator stamps it when it folds it.
public enum WorkOutcome: Sendable, Equatable {
    case succeeded(outputs: JSONValue, costMicros: Int64, tokens: Int64)
    /// `retryAfterMs`: the server's wait before another attempt (`Event.taskFailed`).
    case failed(errorClass: String, message: String, costMicros: Int64, tokens: Int64, retryAfterMs: Int64? = nil)

    /// The journal event for attempt `attempt` of `task`.
    public func event(task: Int, attempt: Int, atMs: Millis) -> Event {
        switch self {
        case .succeeded(let o, let c, let k): .taskSucceeded(task: task, attempt: attempt, outputs: o, costMicros: c, tokens: k, atMs: atMs)
        case .failed(let e, let m, let c, let k, let wait):
            .taskFailed(task: task, attempt: attempt, errorClass: e, message: m, costMicros: c, tokens: k, atMs: atMs, retryAfterMs: wait)
        }
    }
}

/// A finished attempt handed back by the lease holder.
public struct WorkCompletion: Sendable, Equatable {
    public var item: WorkItem
    public var owner: String
    public var outcome: WorkOutcome
    /// The attempt's captured output (raw: the journal writer redacts it).
    public var log: AttemptLogRow?
    public init(item: WorkItem, owner: String, outcome: WorkOutcome, log: AttemptLogRow? = nil) {
        self.item = item
        self.owner = owner
        self.outcome = outcome
        self.log = log
    }
}

/// The work queue between the coordinator (the run's single writer) and the workers.
///
/// 1. `offer` is idempotent per (run, task, attempt): an item already queued, leased or
///    completed is left as it is (a resumed coordinator offers its running attempts again).
///    The item's queue, priority and payload come back unchanged from `claim`.
/// 2. `claim` hands out queued items of the given queues (none given: every queue),
///    lowest `priority` first and in offer order within a priority, at most `max`, each
///    leased to `owner` until `nowMs + leaseMs`.
/// 3. `complete` is fenced: it is accepted only from the current lease owner of that
///    attempt, once; anything else (a stale owner, an expired lease re-claimed by someone
///    else, a duplicate) returns false and changes nothing.
/// 4. `expire` puts every lease past its expiry back in the queue (deliveries + 1 at the
///    next claim); the old owner's completion is refused from then on. An item already
///    delivered `WorkQueueLimits.maxDeliveries` times is not put back: it is completed as
///    failed, class `worker_lost`, owner `WorkQueueLimits.reaper` (a task that kills its
///    workers goes to the journal, and the run's retry rules decide). `expire` returns the
///    items it put back or completed, in offer order.
/// 5. `cancel` drops a queued item; a leased one stays leased (its holder is told through
///    its own channel) and may still complete, so an abandoned attempt is charged.
/// 6. Accepted completions are handed to the coordinator by `completions(run:reader:)`
///    until it `acknowledge`s them after its journal commit; a new `reader` (a resumed
///    coordinator) gets every unacknowledged one again. Nothing accepted is ever lost.
/// 7. `renew` extends every lease `owner` holds to `nowMs + leaseMs` (one call per worker
///    heartbeat) and returns how many it holds; a lease already expired and re-queued is
///    not renewed.
/// 8. `release` puts every lease `owner` holds back in the queue at once (a worker that
///    stops on SIGTERM): the delivery is not counted, and the owner's completion of
///    those items is refused from then on.
/// 9. `depth` counts what is queued and leased now (per queue), the distinct lease
///    owners, and `offered`: how many items were ever offered (a number that only grows),
///    so two samples give the arrivals and completions in between (`ezrun scale-hint`).
/// 10. `forget` is for a run that has ended: its queued items end (never claimed), its
///    leased ones are cancelled (5: their workers find out through 11), and the payloads
///    and completions of all its items are dropped. What stays of an item is small and
///    keeps `offer` idempotent and `offered` counting; other runs' items are untouched.
/// 11. `cancelled(owner:)` lists the items leased to `owner` whose attempt was cancelled
///    (5, 10), in offer order: its worker stops them (it asks with each renewal).
/// 12. `deadLetter` adds entries to the queue's dead-letter feed, each once per (run, seq,
///    task, kind): a coordinator whose store cannot carry them in its append (`TurnStore`)
///    sends them after its commit, and every coordinator sends a run's again on resume.
///    `deadLetters(run:)` lists the feed (one run's, or every run's) in the order the
///    entries were first added. `forget` keeps them: the feed outlives the run.
public protocol WorkQueue: AnyObject, Sendable {
    func offer(_ items: [WorkItem], nowMs: Millis) throws(StoreError)
    func claim(owner: String, queues: [String], max: Int, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> [Lease]
    func complete(_ completion: WorkCompletion, nowMs: Millis) throws(StoreError) -> Bool
    /// Several completions, each fenced as by `complete` (one accepted flag each, in
    /// order); a backend may write them in one transaction (one commit, one wake-up).
    func complete(_ completions: [WorkCompletion], nowMs: Millis) throws(StoreError) -> [Bool]
    func expire(nowMs: Millis) throws(StoreError) -> [WorkItem]
    func cancel(run runID: String, task: Int, attempt: Int) throws(StoreError)
    func completions(run runID: String, reader: String) throws(StoreError) -> [WorkCompletion]
    func acknowledge(run runID: String, _ items: [WorkItem]) throws(StoreError)
    func renew(owner: String, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> Int
    func release(owner: String) throws(StoreError)
    func depth() throws(StoreError) -> QueueDepth
    func forget(run runID: String) throws(StoreError)
    func cancelled(owner: String) throws(StoreError) -> [WorkItem]
    func deadLetter(_ entries: [DeadLetterEntry]) throws(StoreError)
    func deadLetters(run runID: String?) throws(StoreError) -> [DeadLetterEntry]
}

/// What a queue holds at one moment (`WorkQueue.depth`).
public struct QueueDepth: Sendable, Equatable {
    /// Per queue name: items waiting for a worker and items leased to one.
    public var queued: [String: Int]
    public var leased: [String: Int]
    /// Distinct owners holding a lease not cancelled (the workers busy now).
    public var owners: Int
    /// Items ever offered (grows by one per accepted offer).
    public var offered: Int64
    public init(queued: [String: Int] = [:], leased: [String: Int] = [:], owners: Int = 0, offered: Int64 = 0) {
        self.queued = queued
        self.leased = leased
        self.owners = owners
        self.offered = offered
    }
    public var totalQueued: Int { queued.values.reduce(0, +) }
    public var totalLeased: Int { leased.values.reduce(0, +) }
}

extension WorkQueue {
    /// One `complete` after the other.
    public func complete(_ completions: [WorkCompletion], nowMs: Millis) throws(StoreError) -> [Bool] {
        var out: [Bool] = []
        out.reserveCapacity(completions.count)
        for c in completions { out.append(try complete(c, nowMs: nowMs)) }
        return out
    }

    /// Claims from every queue.
    public func claim(owner: String, max: Int, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> [Lease] {
        try claim(owner: owner, queues: [], max: max, nowMs: nowMs, leaseMs: leaseMs)
    }
}

/// The limits every `WorkQueue` applies alike.
public enum WorkQueueLimits {
    /// Deliveries after which an expired lease ends the attempt (`worker_lost`) instead of
    /// queueing it again: a task that killed three workers will kill a fourth.
    public static let maxDeliveries = 3
    /// The owner of the completions `expire` writes.
    public static let reaper = "ezflow:reaper"
    /// The error class of an attempt whose workers died `maxDeliveries` times.
    public static let workerLost = "worker_lost"

    /// The completion `expire` writes for an item delivered `maxDeliveries` times.
    public static func lost(_ item: WorkItem, deliveries: Int) -> WorkCompletion {
        WorkCompletion(item: item, owner: reaper,
                       outcome: .failed(errorClass: workerLost,
                                        message: "the attempt's worker stopped answering \(deliveries) times (killed, frozen or cut off); not queued again",
                                        costMicros: 0, tokens: 0))
    }
}

/// The queue writes of one coordinator turn, in the order they are made: the completions
/// it folded are acknowledged, the attempts it abandoned cancelled, the ones it
/// dispatched offered (and the workers woken).
public struct TurnQueueWrites: Sendable, Equatable {
    public var acknowledged: [WorkItem] = []
    public var cancelled: [WorkItem] = []
    public var offered: [WorkItem] = []
    /// Entries for the dead-letter feed (contract point 12).
    public var deadLetters: [DeadLetterEntry] = []
    /// The offer time the queue keeps with each offered item (PostgreSQL stamps the
    /// server's time instead, as the row is written).
    public var nowMs: Millis
    public init(nowMs: Millis) { self.nowMs = nowMs }
    public var isEmpty: Bool { acknowledged.isEmpty && cancelled.isEmpty && offered.isEmpty && deadLetters.isEmpty }
}

/// A store whose journal append can carry the turn's queue writes in the same transaction
/// (PostgreSQL, where the queue is tables beside the journal): a coordinator's whole turn
/// then commits or not, instead of four steps a crash may split (each idempotent, so a
/// split turn is replayed, not lost — but it costs four commits and a resume's rework).
/// Redis and SQLite stores carry the dead-letter feed only (`TurnQueueWrites.deadLetters`,
/// kept beside their journal): given acknowledgements, cancels or offers they refuse the
/// append (`misuse`), for those go to their queue after the commit.
public protocol TurnStore: JournalStore {
    /// `append`, then `queue`'s writes and one wake-up of the workers, in one transaction.
    func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                consumedInbox: [Int64], processes: ProcessChanges, queue: TurnQueueWrites) throws(StoreError)
}
