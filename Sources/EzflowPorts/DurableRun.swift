// The shell's side of durability: step the pure core, buffer the records, commit them
// (with the queue changes and the run status) in one transaction, and only then let
// the commands take effect. Resume = read the journal, `Replay.verify` it, list the
// open attempts.
//
// It talks to any `JournalStore`: SQLite for `ezrun run`, memory for `ezrun simulate`.
import EzflowIR
import EzflowRuntime

/// Why a run cannot be resumed.
public enum ResumeError: Error, Sendable, CustomStringConvertible {
    case store(StoreError)
    /// No such run in the store.
    case notFound(runID: String, path: String)
    /// The plan given is not the program the run was started with.
    case planMismatch(runID: String, stored: String, given: String)
    /// The stored journal does not replay with this code.
    case determinism(DeterminismViolation)

    public var description: String {
        switch self {
        case .store(let e): e.description
        case .notFound(let r, let p): "ezflow store \(p): no run `\(r)`"
        case .planMismatch(let r, let s, let g): "run `\(r)` was started with IR \(s), not \(g); refusing to resume"
        case .determinism(let v): v.description
        }
    }
}

/// A run whose journal lives in a `JournalStore`.
///
/// `step` folds an event and returns its commands, which must not take effect before
/// `commit` returns; `commit` writes every pending record in one transaction. Commit
/// after each step (the strict rule), or after several steps when the caller holds the
/// commands of all of them until the commit (group commit).
public struct DurableRun: Sendable {
    public let store: any JournalStore
    public let runID: String
    public private(set) var state: RunState
    /// Records stepped but not yet committed.
    public private(set) var pending: [JournalRecord] = []

    /// Creates the run row (status `created`); then `step(.runStarted(…))` and `commit`.
    public static func create(store: any JournalStore, run: NewRun, plan: Plan, environment: RunEnvironment = RunEnvironment())
        throws(StoreError) -> DurableRun
    {
        try store.createRun(run)
        return DurableRun(store: store, runID: run.runID, state: RunState(plan: plan, environment: environment))
    }

    /// Reopens a stored run: checks the plan hash, replays the journal with
    /// `Replay.verify`, and returns the run with the attempts that were in flight.
    /// The caller then steps `.resumed(atMs:)`, which re-dispatches them with the same
    /// idempotency keys.
    public static func resume(store: any JournalStore, runID: String, plan: Plan, environment: RunEnvironment = RunEnvironment())
        throws(ResumeError) -> (run: DurableRun, openAttempts: [OpenAttempt], journal: [JournalRecord])
    {
        try resume(store: store, runID: runID, plans: [plan], environment: environment)
    }

    /// `resume` for a run that moved to other IR versions (`plan_upgraded` records):
    /// `plans[0]` is the IR the run started with, then each version in order.
    public static func resume(store: any JournalStore, runID: String, plans: [Plan], environment: RunEnvironment = RunEnvironment())
        throws(ResumeError) -> (run: DurableRun, openAttempts: [OpenAttempt], journal: [JournalRecord])
    {
        let plan = plans[0]
        let info: RunInfo?
        let journal: [JournalRecord]
        let open: [OpenAttempt]
        do throws(StoreError) {
            info = try store.run(runID)
            journal = try store.journal(run: runID, from: 0)
        } catch { throw .store(error) }
        open = OpenAttempt.open(in: journal)
        guard let info else { throw .notFound(runID: runID, path: store.location) }
        guard info.irHash == plan.hash else { throw .planMismatch(runID: runID, stored: info.irHash, given: plan.hash) }
        let state: RunState
        do { state = try Replay.verify(plans: plans, journal: journal, environment: environment) } catch { throw .determinism(error) }
        let run = DurableRun(store: store, runID: runID, state: state)
        return (run, open, journal)
    }

    /// Folds `event`; its commands take effect only after the next `commit`.
    public mutating func step(_ event: Event) throws(TransitionError) -> [Command] {
        let seq = state.seq
        let commands = try Core.step(&state, event)
        pending.append(JournalRecord(seq: seq, event: event, commands: commands))
        return commands
    }

    /// Moves the run to `newPlan` (state migrated by task name) and steps its
    /// `planUpgraded` event; the commands take effect after the next `commit`. Record the
    /// new IR with `DurableStore.addVersion` (at `state.seq` before this) first.
    public mutating func upgrade(to newPlan: Plan, atMs: Millis) throws(MigrationError) -> [Command] {
        let (next, record) = try state.upgraded(to: newPlan, atMs: atMs)
        state = next
        pending.append(record)
        return record.commands
    }

    /// Writes the pending records, their queue changes and the run row (status, verdict,
    /// `updated_ms`) in one transaction. `updatedMs` defaults to the last event's time. On
    /// failure nothing was written and the records stay pending.
    ///
    /// `queue`: the turn's queue writes, made in the same transaction; only for a store
    /// that is a `TurnStore` over the run's queue (the caller knows).
    public mutating func commit(updatedMs: Millis? = nil, logs: [AttemptLogRow] = [], consumedInbox: [Int64] = [],
                                processes: ProcessChanges = ProcessChanges(), queue: TurnQueueWrites? = nil) throws(StoreError) {
        let writesQueue = queue.map { !$0.isEmpty } ?? false
        guard !pending.isEmpty || !logs.isEmpty || !consumedInbox.isEmpty || !processes.isEmpty || writesQueue else { return }
        let status = RunStatus(state.phase)
        let verdict = state.verdict
        let update = RunUpdate(status: status, verdict: verdict, updatedMs: updatedMs ?? state.nowMs)
        let expectedSeq = pending.first?.seq ?? state.seq
        if let queue, writesQueue {
            guard let turns = store as? any TurnStore else {
                throw StoreError(.misuse, path: store.location, message: "this store cannot write a turn's queue changes with its journal")
            }
            try turns.append(run: runID, expectedSeq: expectedSeq, records: pending, update: update, logs: logs, consumedInbox: consumedInbox,
                             processes: processes, queue: queue)
        } else {
            try store.append(run: runID, expectedSeq: expectedSeq, records: pending, update: update, logs: logs, consumedInbox: consumedInbox,
                             processes: processes)
        }
        pending.removeAll(keepingCapacity: true)
    }
}
