// The values that cross the ports between the runner and the world: run rows, journal
// batches' companions (attempt logs, consumed inbox requests), inbox requests, audit
// entries, and the one error type every store implementation throws.
import EzflowIR
import EzflowRuntime

/// A run's lifecycle as stored.
public enum RunStatus: String, Sendable, Equatable {
    /// Created; no event journaled yet.
    case created
    /// Started (running or draining).
    case running
    /// Paused: only approvals are pending (`finishRun(.waitingForApproval)`).
    case waiting
    /// Finished with a final verdict.
    case finished
    /// Stopped by SIGINT/SIGTERM to `ezrun` with its attempts ended and left open in the
    /// journal; `ezrun resume` continues it (the next commit sets `running` again).
    case interrupted

    /// The status a core phase maps to.
    public init(_ phase: RunPhase) {
        switch phase {
        case .notStarted: self = .created
        case .running, .draining: self = .running
        case .finished(.waitingForApproval): self = .waiting
        case .finished: self = .finished
        }
    }
}

/// What `createRun` stores about a new run.
public struct NewRun: Sendable, Equatable {
    public var runID: String
    public var workflow: String
    /// The IR `hash`, checked again on resume.
    public var irHash: String
    /// The IR bytes the run executes (so a resume runs exactly this program).
    public var ir: [UInt8]
    public var seed: UInt64
    /// The shell's clock.
    public var createdMs: Millis
    /// The run's settings (inputs, principal), stored with the row: a run never exists
    /// without them (a crash between two writes left runs whose inputs were lost).
    public var meta: JSONValue?

    public init(runID: String, workflow: String, irHash: String, ir: [UInt8], seed: UInt64, createdMs: Millis, meta: JSONValue? = nil) {
        self.runID = runID
        self.workflow = workflow
        self.irHash = irHash
        self.ir = ir
        self.seed = seed
        self.createdMs = createdMs
        self.meta = meta
    }
}

/// A run row (without the IR bytes; see `DurableStore.ir(run:)`).
public struct RunInfo: Sendable, Equatable {
    public var runID: String
    public var workflow: String
    public var irHash: String
    public var seed: UInt64
    public var status: RunStatus
    public var verdict: Verdict?
    public var createdMs: Millis
    public var updatedMs: Millis
    /// Journal records stored (the next record's `seq`).
    public var journalCount: Int
    /// Attempts dispatched and not finished.
    public var openAttempts: Int

    public init(runID: String, workflow: String, irHash: String, seed: UInt64, status: RunStatus, verdict: Verdict?, createdMs: Millis,
                updatedMs: Millis, journalCount: Int, openAttempts: Int) {
        self.runID = runID
        self.workflow = workflow
        self.irHash = irHash
        self.seed = seed
        self.status = status
        self.verdict = verdict
        self.createdMs = createdMs
        self.updatedMs = updatedMs
        self.journalCount = journalCount
        self.openAttempts = openAttempts
    }
}

/// A change of the run row written with a batch.
public struct RunUpdate: Sendable, Equatable {
    public var status: RunStatus
    public var verdict: Verdict?
    public var updatedMs: Millis
    public init(status: RunStatus, verdict: Verdict?, updatedMs: Millis) {
        self.status = status
        self.verdict = verdict
        self.updatedMs = updatedMs
    }
}

/// An ended attempt's captured output, written with the completion's journal record.
public struct AttemptLogRow: Sendable, Equatable {
    public var task: Int
    public var attempt: Int
    /// The journal seq of the completion event.
    public var seq: Int
    public var agent: Int
    public var exitCode: Int32?
    public var durationMs: Int64
    /// Redacted before they reach the store.
    public var stdout: String
    public var stderr: String

    public init(task: Int, attempt: Int, seq: Int, agent: Int, exitCode: Int32?, durationMs: Int64, stdout: String, stderr: String) {
        self.task = task
        self.attempt = attempt
        self.seq = seq
        self.agent = agent
        self.exitCode = exitCode
        self.durationMs = durationMs
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// An attempt's OS process (its group leader), recorded with the next commit after the
/// spawn so that a resume can end a survivor it can prove is that attempt: the same pid
/// with the same start time (a pid alone may have been reused).
public struct AttemptProcess: Sendable, Equatable, Hashable {
    public var task: Int
    public var attempt: Int
    public var pid: Int32
    public var pgid: Int32
    /// Field 22 of /proc/PID/stat: clock ticks after boot.
    public var startTicks: UInt64
    public init(task: Int, attempt: Int, pid: Int32, pgid: Int32, startTicks: UInt64) {
        self.task = task
        self.attempt = attempt
        self.pid = pid
        self.pgid = pgid
        self.startTicks = startTicks
    }
}

/// Attempt processes to record (started) and to forget (their group is gone), written
/// with a journal append. A process started and gone between two commits is neither.
public struct ProcessChanges: Sendable, Equatable {
    public var started: [AttemptProcess] = []
    public var ended: [AttemptProcess] = []
    public init(started: [AttemptProcess] = [], ended: [AttemptProcess] = []) {
        self.started = started
        self.ended = ended
    }
    public var isEmpty: Bool { started.isEmpty && ended.isEmpty }

    /// Adds `other`; a process both started and ended since the last commit drops out.
    public mutating func merge(_ other: ProcessChanges) {
        started += other.started
        for p in other.ended {
            if let i = started.firstIndex(of: p) { started.remove(at: i) } else { ended.append(p) }
        }
    }
}

/// A request for a run's writer: an approval answer, a cancellation, or the re-drive of a
/// dead-lettered task (`ezrun dlq retry`).
public struct InboxItem: Sendable, Equatable {
    public enum Kind: String, Sendable { case approval, cancel, redrive }
    public var id: Int64
    public var runID: String
    public var kind: Kind
    /// Task name (approvals, re-drives).
    public var task: String?
    public var principal: String
    public var approved: Bool
    /// Non-nil when the access check refused the request; the writer journals the refusal.
    public var refusal: String?
    public var comment: String
    public var createdMs: Millis

    public init(id: Int64 = 0, runID: String, kind: Kind, task: String?, principal: String, approved: Bool, refusal: String?,
                comment: String, createdMs: Millis) {
        self.id = id
        self.runID = runID
        self.kind = kind
        self.task = task
        self.principal = principal
        self.approved = approved
        self.refusal = refusal
        self.comment = comment
        self.createdMs = createdMs
    }
}

/// One access decision.
public struct AuditEntry: Sendable, Equatable {
    public var runID: String?
    public var principal: String
    public var action: String
    public var target: String
    public var allowed: Bool
    public var reason: String
    public var atMs: Millis

    public init(runID: String?, principal: String, action: String, target: String, allowed: Bool, reason: String, atMs: Millis) {
        self.runID = runID
        self.principal = principal
        self.action = action
        self.target = target
        self.allowed = allowed
        self.reason = reason
        self.atMs = atMs
    }
}

/// A store failure. `path` is the database file; `code` is SQLite's extended result
/// code (0 when the error did not come from SQLite).
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The database is locked by another connection past the busy timeout.
        case busy
        /// Not a database, a malformed page, or a journal row that does not decode.
        case corrupt
        /// Cannot open, read, write or sync the file; disk full; read-only.
        case io
        /// The schema is newer than this build, or the file is not an ezflow store.
        case schema
        /// A constraint: duplicate run, a journal batch that does not continue the run's sequence.
        case conflict
        /// No such run.
        case notFound = "not_found"
        /// The store was closed, or SQLite was misused.
        case misuse
        /// The store could not be reached or refused the write (a lost connection, an
        /// injected fault): nothing may be assumed about the write; resume to find out.
        case unavailable
        /// A stored record (or the IR under a run) does not match the journal's hash chain:
        /// the file was edited outside ezflow (`JournalChain`).
        case integrity
    }

    public var kind: Kind
    public var path: String
    public var code: Int32
    public var message: String
    /// For `integrity`: the first record that does not match its chain hash (callers that
    /// know the plan re-render `message` with the task's name: `named(taskName:)`).
    public var chainBreak: ChainBreak?

    /// What the user can do about it; nil: the kind's usual advice (`advice`).
    public var nextStep: String?

    public init(_ kind: Kind, path: String, code: Int32 = 0, message: String, nextStep: String? = nil) {
        self.kind = kind
        self.path = path
        self.code = code
        self.message = message
        self.nextStep = nextStep
    }

    /// One line: the store, what went wrong, what to do next. No SQL and no SQLite code
    /// (`code` is kept for callers, never shown).
    public var description: String {
        "ezflow store \(path): \(kind == .notFound ? "not found" : kind.rawValue) error: \(message); \(nextStep ?? advice)"
    }

    /// The usual next step for an error of this kind.
    public var advice: String {
        switch kind {
        case .busy: "another ezrun (or another program) holds it: wait for it to finish, or use another store (--db PATH or EZFLOW_DB)"
        case .corrupt: "the store is damaged: restore it from a backup, or start afresh with another store (--db PATH or EZFLOW_DB)"
        case .io: "check the disk and the file's permissions, then run the command again"
        case .schema: "use a store this ezrun wrote (--db PATH or EZFLOW_DB)"
        case .conflict: "another ezrun may be writing this run: see `ezrun status RUN`, then run the command again"
        case .notFound: "`ezrun runs` lists the runs in this store"
        case .misuse: "this is a bug in ezrun: please report it with the command you ran"
        case .unavailable: "nothing may be assumed about the last write: `ezrun resume RUN` finds out and continues"
        case .integrity: "do not trust this run: restore the store from a backup (docs/RUNNING.md, \"A journal that cannot be edited quietly\")"
        }
    }

    /// A chain break in run `runID` at `brk`: the store names the record by seq and kind.
    public static func chainBroken(path: String, run runID: String, _ brk: ChainBreak) -> StoreError {
        var e = StoreError(.integrity, path: path, message: "run `\(runID)`: " + brk.message { _ in nil })
        e.chainBreak = brk
        return e
    }

    /// This error with its chain break's record named by task (`taskName`: index → name).
    public func named(run runID: String, taskName: (Int) -> String?) -> StoreError {
        guard let brk = chainBreak else { return self }
        var e = self
        e.message = "run `\(runID)`: " + brk.message(taskName: taskName)
        return e
    }
}


/// A dispatched attempt that has not finished: on resume it is dispatched again with
/// the same idempotency key.
public struct OpenAttempt: Sendable, Equatable, Hashable {
    public var task: Int
    public var attempt: Int
    /// -1: the shell's local executor.
    public var agent: Int
    public var idempotencyKey: String
    /// The journal record whose commands dispatched it.
    public var dispatchedSeq: Int

    public init(task: Int, attempt: Int, agent: Int, idempotencyKey: String, dispatchedSeq: Int) {
        self.task = task
        self.attempt = attempt
        self.agent = agent
        self.idempotencyKey = idempotencyKey
        self.dispatchedSeq = dispatchedSeq
    }
}

/// A change to the queue of open attempts.
public enum QueueOp: Sendable, Equatable {
    /// Insert (or replace: a resume re-dispatches the same attempt).
    case open(OpenAttempt)
    /// The attempt ended (result, cancel, timeout).
    case close(task: Int, attempt: Int)

    /// The queue changes a journal record implies: its event closes the attempt it
    /// reports on (`taskSucceeded`/`taskFailed`); its `cancel` commands close, its
    /// `dispatch` commands open. In order.
    public static func derived(from r: JournalRecord) -> [QueueOp] {
        var ops: [QueueOp] = []
        switch r.event {
        case .taskSucceeded(let t, let a, _, _, _, _), .taskFailed(let t, let a, _, _, _, _, _, _):
            ops.append(.close(task: t, attempt: a))
        case .runStarted, .timerFired, .approvalGiven, .approvalRefused, .agentHealth, .cancelRequested, .resumed, .planUpgraded,
             .interrupted, .taskRedriven, .backendFallback:
            break  // a timeout closes its attempt through the `cancel` command it causes
        }
        for c in r.commands {
            switch c {
            case .dispatch(let t, let a, let g, let key, _):
                ops.append(.open(OpenAttempt(task: t, attempt: a, agent: g, idempotencyKey: key, dispatchedSeq: r.seq)))
            case .cancel(let t, let a):
                ops.append(.close(task: t, attempt: a))
            case .setTimer, .requestApproval, .deadLetter, .finishRun:
                break
            }
        }
        return ops
    }

    public static func derived(from records: [JournalRecord]) -> [QueueOp] { records.flatMap { derived(from: $0) } }

    /// The last change per attempt, in the order those last changes came (an attempt
    /// opened and closed in one batch is one close): what a store writes, since one
    /// statement may not touch a row twice. Order between attempts does not matter.
    public static func net(_ ops: [QueueOp]) -> [QueueOp] {
        guard ops.count > 1 else { return ops }
        struct Key: Hashable { var t: Int, a: Int }
        var last: [Key: Int] = [:]
        for (i, op) in ops.enumerated() {
            switch op {
            case .open(let a): last[Key(t: a.task, a: a.attempt)] = i
            case .close(let t, let a): last[Key(t: t, a: a)] = i
            }
        }
        return last.values.sorted().map { ops[$0] }
    }
}

extension OpenAttempt {
    /// The attempts a journal leaves open (dispatched, not ended), by task then attempt.
    public static func open(in journal: [JournalRecord]) -> [OpenAttempt] {
        struct Key: Hashable { var task: Int; var attempt: Int }
        var open: [Key: OpenAttempt] = [:]
        for op in QueueOp.derived(from: journal) {
            switch op {
            case .open(let a): open[Key(task: a.task, attempt: a.attempt)] = a
            case .close(let t, let a): open[Key(task: t, attempt: a)] = nil
            }
        }
        return open.values.sorted { ($0.task, $0.attempt) < ($1.task, $1.attempt) }
    }
}
