// The in-memory journal store and inbox: what `ezrun simulate` runs the real runner on,
// and the reference the conformance suite holds every other store to. Records are kept
// as values (no encoding on the hot path); a crashed runner loses nothing committed here,
// exactly like a process crash over SQLite.
import EzflowIR
import EzflowRuntime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `JournalStore` and `RunInbox` in memory. Thread-safe.
public final class MemoryStore: JournalStore, RunInbox {
    struct Run {
        var info: RunInfo
        var ir: [UInt8]
        var journal: [JournalRecord] = []
        /// `chain[seq]`: record seq's chain hash (`JournalChain`).
        var chain: [String] = []
        var meta: JSONValue? = .object([])
        var versions: [(fromSeq: Int, irHash: String, ir: [UInt8])] = []
        var logs: [AttemptLogRow] = []
    }
    struct State {
        var runs: [String: Run] = [:]
        var inbox: [InboxItem] = []
        var consumed: Set<Int64> = []
        var nextInboxID: Int64 = 1
        var audit: [AuditEntry] = []
    }
    private let state = Mutex(State())
    public let location: String

    public init(location: String = "memory") { self.location = location }

    func error(_ kind: StoreError.Kind, _ message: String) -> StoreError { StoreError(kind, path: location, message: message) }

    public func createRun(_ r: NewRun) throws(StoreError) {
        let taken = state.withLock { s -> Bool in
            if s.runs[r.runID] != nil { return true }
            s.runs[r.runID] = Run(info: RunInfo(runID: r.runID, workflow: r.workflow, irHash: r.irHash, seed: r.seed, status: .created,
                                                verdict: nil, createdMs: r.createdMs, updatedMs: r.createdMs, journalCount: 0,
                                                openAttempts: 0), ir: r.ir)
            if let m = r.meta { s.runs[r.runID]?.meta = m }
            return false
        }
        if taken { throw error(.conflict, "run `\(r.runID)` already exists") }
    }

    public func run(_ runID: String) throws(StoreError) -> RunInfo? { state.withLock { $0.runs[runID]?.info } }

    public func runs() throws(StoreError) -> [RunInfo] {
        state.withLock { $0.runs.values.map(\.info).sorted { ($0.createdMs, $0.runID) < ($1.createdMs, $1.runID) } }
    }

    public func ir(run runID: String) throws(StoreError) -> [UInt8]? { state.withLock { $0.runs[runID]?.ir } }

    public func journal(run runID: String, from seq: Int) throws(StoreError) -> [JournalRecord] {
        let (records, previous, stored): ([JournalRecord], String, ArraySlice<String>) = state.withLock { s in
            guard let r = s.runs[runID], seq < r.journal.count else { return ([], "", []) }
            let from = max(0, seq)
            return (Array(r.journal[from...]), from == 0 ? r.info.irHash : r.chain[from - 1], r.chain[from...])
        }
        // Recomputed outside the lock: the records are values, a concurrent append cannot change them.
        if let brk = JournalChain.firstBreak(seed: previous, zip(records, stored).map { ($0, $1) }) {
            throw StoreError.chainBroken(path: location, run: runID, brk)
        }
        return records
    }

    public func chainHash(run runID: String, seq: Int) throws(StoreError) -> String? {
        state.withLock { s in
            guard let r = s.runs[runID] else { return nil }
            if seq == -1 { return r.info.irHash }
            return seq >= 0 && seq < r.chain.count ? r.chain[seq] : nil
        }
    }

    /// A test hook: replaces a stored record as an edit of the store would, keeping its hash.
    func tamper(run runID: String, _ record: JournalRecord) {
        state.withLock { s in s.runs[runID]?.journal[record.seq] = record }
    }

    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64]) throws(StoreError) {
        let encoded = records.map(JournalChain.recordBytes)  // outside the lock
        let failure: StoreError? = state.withLock { s in
            guard let count = s.runs[runID]?.journal.count else { return error(.notFound, "no run `\(runID)`") }
            guard expectedSeq == count else {
                return error(.conflict, "run `\(runID)`: batch expects seq \(expectedSeq), the journal has \(count) records")
            }
            for (i, r) in records.enumerated() where r.seq != expectedSeq + i {
                return error(.conflict, "run `\(runID)`: batch is not contiguous at seq \(r.seq)")
            }
            if let why = JournalBoundary.identityViolation(run: runID, records) { return error(.conflict, why) }
            var h = count == 0 ? s.runs[runID]!.info.irHash : s.runs[runID]!.chain[count - 1]
            for b in encoded {
                h = JournalChain.link(h, b)
                s.runs[runID]!.chain.append(h)
            }
            // Mutated in place: copying the run out of the dictionary would copy its journal
            // on every append (quadratic in the run's length).
            s.runs[runID]!.journal += records
            s.runs[runID]!.logs += logs
            s.runs[runID]!.info.journalCount = count + records.count
            if let u = update {
                s.runs[runID]!.info.status = u.status
                s.runs[runID]!.info.verdict = u.verdict
                s.runs[runID]!.info.updatedMs = u.updatedMs
            }
            s.consumed.formUnion(consumedInbox)
            return nil
        }
        if let failure { throw failure }
    }

    public func update(run runID: String, _ u: RunUpdate) throws(StoreError) {
        let found = state.withLock { s -> Bool in
            guard s.runs[runID] != nil else { return false }
            s.runs[runID]!.info.status = u.status
            s.runs[runID]!.info.verdict = u.verdict
            s.runs[runID]!.info.updatedMs = u.updatedMs
            return true
        }
        if !found { throw error(.notFound, "no run `\(runID)`") }
    }

    public func meta(run runID: String) throws(StoreError) -> JSONValue? { state.withLock { $0.runs[runID]?.meta } }

    public func setMeta(run runID: String, _ meta: JSONValue) throws(StoreError) {
        state.withLock { s in s.runs[runID]?.meta = meta }
    }

    public func versions(run runID: String) throws(StoreError) -> [(fromSeq: Int, irHash: String, ir: [UInt8])] {
        state.withLock { $0.runs[runID]?.versions ?? [] }
    }

    public func addVersion(run runID: String, fromSeq: Int, irHash: String, ir: [UInt8]) throws(StoreError) {
        state.withLock { s in
            s.runs[runID]?.versions.removeAll { $0.fromSeq >= fromSeq }
            s.runs[runID]?.versions.append((fromSeq, irHash, ir))
        }
    }

    public func audit(_ entry: AuditEntry) throws(StoreError) { state.withLock { $0.audit.append(entry) } }

    /// Access decisions, oldest first.
    public func auditLog() -> [AuditEntry] { state.withLock { $0.audit } }

    public func logs(run runID: String, task: Int?) throws(StoreError) -> [AttemptLogRow] {
        state.withLock { s in (s.runs[runID]?.logs ?? []).filter { task == nil || $0.task == task } }
    }

    public func inbox(run runID: String) throws(StoreError) -> [InboxItem] {
        state.withLock { s in s.inbox.filter { $0.runID == runID && !s.consumed.contains($0.id) } }
    }

    public func post(_ item: InboxItem) throws(StoreError) -> Int64 {
        state.withLock { s in
            var i = item
            i.id = s.nextInboxID
            s.nextInboxID += 1
            s.inbox.append(i)
            return i.id
        }
    }
}

/// A run lease in memory with a time to live: a holder that never releases (a crashed
/// runner) keeps it until `ttlMs` after it was taken or last renewed.
public final class MemoryRunLease: RunLease {
    struct Held { var owner: String; var untilMs: Millis; var epoch: Int }
    private let held = Mutex<[String: Held]>([:])
    private let epochs = Mutex<[String: Int]>([:])
    public let ttlMs: Millis

    public init(ttlMs: Millis = 30_000) { self.ttlMs = ttlMs }

    public func acquire(run runID: String, owner: String, nowMs: Millis) throws(LeaseError) -> Int {
        let result: Result<Int, LeaseError> = held.withLock { h in
            if let cur = h[runID], cur.owner != owner, cur.untilMs > nowMs {
                return .failure(LeaseError(runID: runID, holder: cur.owner,
                                           message: "run `\(runID)` is being run by \(cur.owner) until \(cur.untilMs)"))
            }
            let epoch = epochs.withLock { e -> Int in
                e[runID, default: 0] += 1
                return e[runID]!
            }
            h[runID] = Held(owner: owner, untilMs: nowMs + ttlMs, epoch: epoch)
            return .success(epoch)
        }
        return try result.get()
    }

    public func release(run runID: String, owner: String) {
        held.withLock { h in if h[runID]?.owner == owner { h[runID] = nil } }
    }

    /// When the current holder's lease ends (nil: free).
    public func heldUntil(run runID: String) -> Millis? { held.withLock { $0[runID]?.untilMs } }
}

/// Wall time from the system clock, held so it never runs backwards.
public final class SystemClock: RunClock {
    private let last = Mutex<Millis>(0)
    public init() {}
    public func nowMs() -> Millis {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let t = Millis(ts.tv_sec) * 1000 + Millis(ts.tv_nsec) / 1_000_000
        return last.withLock { l in
            l = max(l, t)
            return l
        }
    }
}

/// Virtual time: moves only when told to (simulations, tests).
public final class ManualClock: RunClock {
    private let now = Mutex<Millis>(0)
    public init(startMs: Millis = 0) { now.withLock { $0 = startMs } }
    public func nowMs() -> Millis { now.withLock { $0 } }
    /// Moves the clock to `t` (never backwards).
    public func advance(to t: Millis) { now.withLock { $0 = max($0, t) } }
}
