// The embedded durable backend: one SQLite file (WAL) with, per run, the run row, the
// journal and the queue of dispatched-but-unfinished attempts. Journal records and queue
// updates are appended in one `BEGIN IMMEDIATE … COMMIT` transaction, so every event is
// on disk before its commands take effect. No clock inside: the shell passes times.
import CSQLite
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Foundation
import Synchronization

/// How `DurableStore` opens its file.
public struct StoreOptions: Sendable, Equatable {
    public enum Sync: String, Sendable, Equatable {
        /// fsync on every commit: a committed batch survives power loss (the default).
        case full
        /// WAL `NORMAL`: survives a process crash; the last commits may be lost on power loss.
        case normal
    }
    public var synchronous: Sync = .full
    /// How long a writer waits for another connection's lock before `busy`.
    public var busyTimeoutMs: Int = 5_000
    /// Create the file (and its directory) if missing.
    public var create = true
    public var readOnly = false
    public init(synchronous: Sync = .full, busyTimeoutMs: Int = 5_000, create: Bool = true, readOnly: Bool = false) {
        self.synchronous = synchronous
        self.busyTimeoutMs = busyTimeoutMs
        self.create = create
        self.readOnly = readOnly
    }
}

/// The SQLite store. One connection, owned by a `Mutex` (calls are serialized; open a
/// second `DurableStore` on the same file for a concurrent reader: WAL lets it read
/// while this one writes). Never crashes on a bad file: every failure is a `StoreError`.
public final class DurableStore: Sendable {
    /// The schema version this build writes (`PRAGMA user_version`).
    public static var schemaVersion: Int { Schema.current }
    /// `PRAGMA application_id` of an ezflow store ("ezfl").
    public static let applicationID: Int32 = 0x657A_666C
    /// `ezrun`'s default location, relative to the working directory.
    public static let defaultPath = ".ezflow/ezflow.db"

    /// The SQLite library version in use.
    public static var sqliteVersion: String { String(cString: sqlite3_libversion()) }

    public let path: String
    public let options: StoreOptions
    private let conn: Mutex<Connection?>

    /// Opens (creating and migrating if needed) the store at `path`.
    public init(path: String = DurableStore.defaultPath, options: StoreOptions = StoreOptions()) throws(StoreError) {
        self.path = path
        self.options = options
        if options.create && !options.readOnly {
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty && !FileManager.default.fileExists(atPath: dir) {
                do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                    throw StoreError(.io, path: path, message: "cannot create directory \(dir): \(error.localizedDescription)")
                }
            }
        }
        let flags = options.readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0))
        let c = try Connection(path: path, flags: flags)
        do throws(StoreError) {
            // SQLite opens a file this user may not write read-only without a word; a
            // writer says so now, before it takes locks or starts anything.
            if !options.readOnly && sqlite3_db_readonly(c.db, "main") == 1 { throw StoreError.sqlite(SQLITE_READONLY, path: path, readOnly: false) }
            sqlite3_busy_timeout(c.db, Int32(clamping: options.busyTimeoutMs))
            try Schema.prepare(c, options: options)
        } catch {
            c.close()
            throw error
        }
        conn = Mutex(c)
    }

    /// Opens an existing store for a command that only reads it (`ezrun runs`, `status`,
    /// `logs`): read-only, so another user's store can be inspected (without write access
    /// to the file or its directory); read-write only to upgrade a store an older ezrun
    /// wrote, when this user may. A missing file is `notFound`, never created.
    public static func reading(path: String, busyTimeoutMs: Int = 5_000) throws(StoreError) -> DurableStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.notFound, path: path, message: "no store at \(path)", nextStep: "pass --db PATH or set EZFLOW_DB")
        }
        do {
            return try DurableStore(path: path, options: StoreOptions(busyTimeoutMs: busyTimeoutMs, create: false, readOnly: true))
        } catch where error.kind == .schema && error.code == Schema.olderVersionCode && FileManager.default.isWritableFile(atPath: path) {
            return try DurableStore(path: path, options: StoreOptions(busyTimeoutMs: busyTimeoutMs, create: false))
        }
    }

    /// Closes the connection; later calls fail with `misuse`. Also done on deinit.
    public func close() {
        conn.withLock { c in
            c?.close()
            c = nil
        }
    }

    func with<R: Sendable>(_ body: (Connection) throws(StoreError) -> R) throws(StoreError) -> R {
        let r: Result<R, StoreError> = conn.withLock { c in
            guard let c else { return .failure(StoreError(.misuse, path: path, message: "the store is closed")) }
            do throws(StoreError) { return .success(try body(c)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    // MARK: Writes

    /// Creates a run row; `conflict` if the id is taken.
    public func createRun(_ r: NewRun) throws(StoreError) {
        try with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                if try c.scalarInt("SELECT 1 FROM runs WHERE run_id = ?1", { $0.bind(1, r.runID) }) != nil {
                    throw StoreError(.conflict, path: path, message: "run `\(r.runID)` already exists")
                }
                try c.run("""
                    INSERT INTO runs(run_id, workflow, ir_hash, seed, status, verdict, created_ms, updated_ms)
                    VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?6)
                    """) { st in
                    st.bind(1, r.runID); st.bind(2, r.workflow); st.bind(3, r.irHash)
                    st.bind(4, Int64(bitPattern: r.seed)); st.bind(5, RunStatus.created.rawValue); st.bind(6, r.createdMs)
                }
                try c.run("INSERT INTO run_data(run_id, ir) VALUES (?1, ?2)") { st in st.bind(1, r.runID); st.bind(2, blob: r.ir) }
                if let meta = r.meta {
                    let text = String(decoding: CanonicalJSON.encode(meta), as: UTF8.self)
                    try c.run("UPDATE run_data SET meta = ?2 WHERE run_id = ?1") { st in st.bind(1, r.runID); st.bind(2, text) }
                }
            }
        }
    }

    /// Appends `records` (which must continue the run's journal: the first `seq` is the
    /// number of records stored) with the queue changes and the run-row update, all in
    /// ONE transaction: either everything is durable (per `synchronous`) when this
    /// returns, or nothing was written. Carry out the records' commands only afterwards.
    public func append(run runID: String, records: [JournalRecord], queue: [QueueOp], update: RunUpdate? = nil,
                       logs: [AttemptLogRow] = [], consumedInbox: [Int64] = [], expectedSeq: Int? = nil,
                       processes: ProcessChanges = ProcessChanges(), deadLetters: [DeadLetterEntry] = []) throws(StoreError) {
        guard !records.isEmpty || !queue.isEmpty || update != nil || !logs.isEmpty || !consumedInbox.isEmpty || !processes.isEmpty
            || !deadLetters.isEmpty else { return }
        try checkRunIdentity(runID, records)
        // Encode outside the lock.
        var rows: [(seq: Int, event: [UInt8], commands: [UInt8])] = []
        rows.reserveCapacity(records.count)
        for r in records { rows.append((r.seq, Self.encodeEvent(r.event), Self.encodeCommands(r.commands))) }
        let net = QueueOp.net(queue)
        try with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                try self.appendLocked(c, runID: runID, rows: rows, queue: net, update: update, expectedSeq: expectedSeq)
                try self.appendExtrasLocked(c, runID: runID, logs: logs, consumedInbox: consumedInbox)
                try self.appendProcessesLocked(c, runID: runID, processes)
                try Self.insertDeadLetters(c, deadLetters)
            }
        }
    }

    /// `append` with the queue changes derived from the records (`QueueOp.derived`).
    public func append(run runID: String, records: [JournalRecord], update: RunUpdate? = nil, logs: [AttemptLogRow] = [],
                       consumedInbox: [Int64] = []) throws(StoreError) {
        try append(run: runID, records: records, queue: QueueOp.derived(from: records), update: update, logs: logs,
                   consumedInbox: consumedInbox)
    }

    /// The run-id half of the journal boundary (`appendLocked` checks the sequence):
    /// `JournalBoundary`, refused before anything is written.
    func checkRunIdentity(_ runID: String, _ records: [JournalRecord]) throws(StoreError) {
        if let why = JournalBoundary.identityViolation(run: runID, records) { throw StoreError(.conflict, path: path, message: why) }
    }

    /// A test hook: runs `append`'s writes inside the transaction, then throws `failure`
    /// after `afterRecords` journal rows, so the transaction must roll back.
    func appendFailing(run runID: String, records: [JournalRecord], afterRecords: Int, failure: StoreError) throws(StoreError) {
        let rows = records.map { ($0.seq, Self.encodeEvent($0.event), Self.encodeCommands($0.commands)) }
        let net = QueueOp.net(QueueOp.derived(from: records))
        try with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                try self.appendLocked(c, runID: runID, rows: Array(rows.prefix(afterRecords)), queue: net, update: nil)
                throw failure
            }
        }
    }

    private func appendLocked(_ c: Connection, runID: String, rows: [(seq: Int, event: [UInt8], commands: [UInt8])],
                              queue: [QueueOp], update: RunUpdate?, expectedSeq: Int? = nil) throws(StoreError) {
        guard try c.scalarInt("SELECT 1 FROM runs WHERE run_id = ?1", { $0.bind(1, runID) }) != nil else {
            throw StoreError(.notFound, path: path, message: "no run `\(runID)`")
        }
        // A writer that fell behind (a stale holder) is fenced even when it only writes logs.
        if rows.isEmpty, let expectedSeq {
            let next = try c.scalarInt("SELECT seq FROM journal WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1", { $0.bind(1, runID) }).map { Int($0) + 1 } ?? 0
            guard next == expectedSeq else {
                throw StoreError(.conflict, path: path, message: "run `\(runID)`: the writer expects seq \(expectedSeq), the journal has \(next) records")
            }
        }
        var chain = ""
        if let first = rows.first {
            let (next, previous) = try lastLink(c, runID: runID)
            guard first.seq == next else {
                throw StoreError(.conflict, path: path, message: "run `\(runID)`: batch starts at seq \(first.seq), the journal has \(next) records")
            }
            for (i, r) in rows.enumerated() where r.seq != first.seq + i {
                throw StoreError(.conflict, path: path, message: "run `\(runID)`: batch is not contiguous at seq \(r.seq)")
            }
            chain = previous
        }
        for r in rows {
            // The chain hash goes in the record's own row: no extra write, no extra sync.
            chain = JournalChain.link(chain, JournalChain.recordBytes(seq: r.seq, event: r.event, commands: r.commands))
            try c.run("INSERT INTO journal(run_id, seq, event, commands, chain) VALUES (?1, ?2, ?3, ?4, ?5)") { st in
                st.bind(1, runID); st.bind(2, r.seq); st.bind(3, text: r.event); st.bind(4, text: r.commands); st.bind(5, chain)
            }
        }
        for op in queue {
            switch op {
            case .open(let a):
                try c.run("""
                    INSERT OR REPLACE INTO attempts(run_id, task, attempt, agent, idempotency_key, dispatched_seq)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                    """) { st in
                    st.bind(1, runID); st.bind(2, a.task); st.bind(3, a.attempt); st.bind(4, a.agent)
                    st.bind(5, a.idempotencyKey); st.bind(6, a.dispatchedSeq)
                }
            case .close(let t, let a):
                try c.run("DELETE FROM attempts WHERE run_id = ?1 AND task = ?2 AND attempt = ?3") { st in
                    st.bind(1, runID); st.bind(2, t); st.bind(3, a)
                }
            }
        }
        if let u = update {
            try c.run("UPDATE runs SET status = ?2, verdict = ?3, updated_ms = ?4 WHERE run_id = ?1") { st in
                st.bind(1, runID); st.bind(2, u.status.rawValue); st.bind(3, u.verdict?.rawValue); st.bind(4, u.updatedMs)
            }
        }
    }

    /// The next seq of the run's journal and the hash the next record chains to (the IR
    /// hash for an empty journal).
    private func lastLink(_ c: Connection, runID: String) throws(StoreError) -> (next: Int, chain: String) {
        var last: (Int, String?)? = nil
        try c.query("SELECT seq, chain FROM journal WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1", { $0.bind(1, runID) }) { st in
            last = (Int(st.int(0)), st.optionalText(1))
        }
        if let (seq, chain) = last { return (seq + 1, chain ?? "") }
        return (0, try c.scalarText("SELECT ir_hash FROM runs WHERE run_id = ?1", { $0.bind(1, runID) }) ?? "")
    }

    /// Sets a run's status, verdict and update time on its own.
    public func update(run runID: String, _ u: RunUpdate) throws(StoreError) {
        try append(run: runID, records: [], queue: [], update: u)
    }

    /// Deletes a run with its journal and queue.
    public func deleteRun(_ runID: String) throws(StoreError) {
        try with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                for t in ["journal", "attempts", "attempt_processes", "logs", "inbox", "audit", "run_versions", "run_data", "runs", "work_items",
                          "work_completions", "work_reads"] {
                    try c.run("DELETE FROM \(t) WHERE run_id = ?1") { $0.bind(1, runID) }
                }
            }
        }
    }

    // MARK: Reads

    private static let runColumns = """
        r.run_id, r.workflow, r.ir_hash, r.seed, r.status, r.verdict, r.created_ms, r.updated_ms,
        (SELECT count(*) FROM journal j WHERE j.run_id = r.run_id),
        (SELECT count(*) FROM attempts a WHERE a.run_id = r.run_id)
        """

    private func runInfo(_ st: Statement) throws(StoreError) -> RunInfo {
        let statusText = st.text(4)
        guard let status = RunStatus(rawValue: statusText) else {
            throw StoreError(.corrupt, path: path, message: "run `\(st.text(0))`: unknown status `\(statusText)`")
        }
        var verdict: Verdict?
        if let v = st.optionalText(5) {
            guard let parsed = Verdict(rawValue: v) else { throw StoreError(.corrupt, path: path, message: "run `\(st.text(0))`: unknown verdict `\(v)`") }
            verdict = parsed
        }
        return RunInfo(runID: st.text(0), workflow: st.text(1), irHash: st.text(2), seed: UInt64(bitPattern: st.int(3)),
                       status: status, verdict: verdict, createdMs: st.int(6), updatedMs: st.int(7),
                       journalCount: Int(st.int(8)), openAttempts: Int(st.int(9)))
    }

    /// Every run, oldest first (by creation time, then id).
    public func runs() throws(StoreError) -> [RunInfo] {
        try with { c throws(StoreError) in
            var out: [RunInfo] = []
            try c.query("SELECT \(Self.runColumns) FROM runs r ORDER BY r.created_ms, r.run_id") { st throws(StoreError) in out.append(try self.runInfo(st)) }
            return out
        }
    }

    /// One run's status, or nil.
    public func run(_ runID: String) throws(StoreError) -> RunInfo? {
        try with { c throws(StoreError) in
            var out: RunInfo?
            try c.query("SELECT \(Self.runColumns) FROM runs r WHERE r.run_id = ?1", { $0.bind(1, runID) }) { st throws(StoreError) in
                out = try self.runInfo(st)
            }
            return out
        }
    }

    /// The IR bytes a run executes, or nil if there is no such run.
    public func ir(run runID: String) throws(StoreError) -> [UInt8]? {
        try with { c throws(StoreError) in
            var out: [UInt8]?
            try c.query("SELECT ir FROM run_data WHERE run_id = ?1", { $0.bind(1, runID) }) { st in out = st.bytes(0) }
            return out
        }
    }

    /// The run's journal from `seq` on, in order (feed it to `Replay.verify` on resume).
    /// A row that does not decode, a missing seq, or a start record of another run (or at
    /// another place than seq 0) is a `corrupt` error naming the run and seq: a journal is
    /// never returned with a hole in it.
    public func journal(run runID: String, from seq: Int = 0) throws(StoreError) -> [JournalRecord] {
        let from = max(0, seq)
        let (raw, previous): ([(Int, [UInt8], [UInt8], String?)], String?) = try with { c throws(StoreError) in
            var out: [(Int, [UInt8], [UInt8], String?)] = []
            try c.query("SELECT seq, event, commands, chain FROM journal WHERE run_id = ?1 AND seq >= ?2 ORDER BY seq", { st in
                st.bind(1, runID); st.bind(2, from)
            }) { st in out.append((Int(st.int(0)), st.bytes(1), st.bytes(2), st.optionalText(3))) }
            return (out, try self.chainHashLocked(c, runID: runID, seq: from - 1))
        }
        if from > 0 && previous == nil && !raw.isEmpty {
            // The chain cannot be checked from a record whose predecessor is gone.
            throw StoreError(.corrupt, path: path, message: "run `\(runID)` journal: record \(from - 1) is missing (the next stored is \(raw[0].0))")
        }
        var records: [JournalRecord] = []
        records.reserveCapacity(raw.count)
        for (s, e, cs, _) in raw {
            // Rows come back in seq order; each must be the one after the previous.
            let expected = from + records.count
            guard s == expected else {
                throw StoreError(.corrupt, path: path, message: "run `\(runID)` journal: record \(expected) is missing (the next stored is \(s))")
            }
            do throws(DecodeError) {
                records.append(JournalRecord(seq: s, event: try Self.decodeEvent(e), commands: try Self.decodeCommands(cs)))
            } catch {
                throw StoreError(.corrupt, path: path, message: "run `\(runID)` journal seq \(s): \(error.message)")
            }
        }
        do { try checkRunIdentity(runID, records) } catch {
            throw StoreError(.corrupt, path: path, message: error.message)
        }
        // The stored bytes are hashed as they are: an edit that still decodes breaks the chain.
        var chain = previous ?? ""
        for (i, (s, e, cs, stored)) in raw.enumerated() {
            chain = JournalChain.link(chain, JournalChain.recordBytes(seq: s, event: e, commands: cs))
            guard stored == chain else { throw StoreError.chainBroken(path: path, run: runID, ChainBreak(seq: s, event: records[i].event)) }
        }
        return records
    }

    public func chainHash(run runID: String, seq: Int) throws(StoreError) -> String? {
        try with { c throws(StoreError) in try self.chainHashLocked(c, runID: runID, seq: seq) }
    }

    private func chainHashLocked(_ c: Connection, runID: String, seq: Int) throws(StoreError) -> String? {
        if seq < 0 { return try c.scalarText("SELECT ir_hash FROM runs WHERE run_id = ?1", { $0.bind(1, runID) }) }
        return try c.scalarText("SELECT chain FROM journal WHERE run_id = ?1 AND seq = ?2", { $0.bind(1, runID); $0.bind(2, seq) })
    }

    /// The run's journal as canonical JSON lines (the `Journal.encode` format).
    public func journalLines(run runID: String) throws(StoreError) -> [UInt8] {
        Journal.encode(try journal(run: runID))
    }

    /// Attempts dispatched and not finished, by task then attempt.
    public func openAttempts(run runID: String) throws(StoreError) -> [OpenAttempt] {
        try with { c throws(StoreError) in
            var out: [OpenAttempt] = []
            try c.query("""
                SELECT task, attempt, agent, idempotency_key, dispatched_seq FROM attempts
                WHERE run_id = ?1 ORDER BY task, attempt
                """, { $0.bind(1, runID) }) { st in
                out.append(OpenAttempt(task: Int(st.int(0)), attempt: Int(st.int(1)), agent: Int(st.int(2)),
                                       idempotencyKey: st.text(3), dispatchedSeq: Int(st.int(4))))
            }
            return out
        }
    }

    /// `PRAGMA integrity_check`: `["ok"]` for a sound file, else SQLite's findings.
    public func integrityCheck() throws(StoreError) -> [String] {
        try with { c throws(StoreError) in
            var out: [String] = []
            try c.query("PRAGMA integrity_check") { st in out.append(st.text(0)) }
            return out
        }
    }

    /// Copies the WAL into the main file (`PRAGMA wal_checkpoint(TRUNCATE)`).
    public func checkpoint() throws(StoreError) {
        try with { c throws(StoreError) in try c.exec("PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    /// The file's `user_version`.
    public func storedSchemaVersion() throws(StoreError) -> Int {
        try with { c throws(StoreError) in Int(try c.scalarInt("PRAGMA user_version") ?? 0) }
    }

    /// Runs raw SQL on `path` through a fresh connection, outside schema checks (tests:
    /// forging versions and foreign files).
    static func rawExec(path: String, sql: String) throws(StoreError) {
        let c = try Connection(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        defer { c.close() }
        try c.exec(sql)
    }

    // MARK: Encoding

    static func encodeEvent(_ e: Event) -> [UInt8] { Journal.eventBytes(e) }

    static func encodeCommands(_ cs: [Command]) -> [UInt8] { Journal.commandBytes(cs) }

    struct DecodeError: Error { var message: String }

    static func decodeEvent(_ bytes: [UInt8]) throws(DecodeError) -> Event {
        do throws(JournalError) { return try Journal.event(from: bytes) } catch { throw DecodeError(message: error.message) }
    }

    static func decodeCommands(_ bytes: [UInt8]) throws(DecodeError) -> [Command] {
        do throws(JournalError) { return try Journal.commands(from: bytes) } catch { throw DecodeError(message: error.message) }
    }
}

extension DurableStore: JournalStore, RunInbox {
    public var location: String { path }

    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64]) throws(StoreError) {
        if let first = records.first, first.seq != expectedSeq {
            throw StoreError(.conflict, path: path, message: "run `\(runID)`: batch starts at seq \(first.seq), expected \(expectedSeq)")
        }
        try append(run: runID, expectedSeq: expectedSeq, records: records, update: update, logs: logs, consumedInbox: consumedInbox,
                   processes: ProcessChanges())
    }

    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64], processes: ProcessChanges) throws(StoreError) {
        if let first = records.first, first.seq != expectedSeq {
            throw StoreError(.conflict, path: path, message: "run `\(runID)`: batch starts at seq \(first.seq), expected \(expectedSeq)")
        }
        try append(run: runID, records: records, queue: QueueOp.derived(from: records), update: update, logs: logs,
                   consumedInbox: consumedInbox, expectedSeq: expectedSeq, processes: processes)
    }
}
