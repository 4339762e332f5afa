// The journal store and inbox in PostgreSQL, with DurableStore's semantics (the same
// codec, hash chain and record checks). An append locks the run row `FOR UPDATE` (writers
// of one run take turns) in the statement that reads the journal's head, the run's lease
// epoch and whether the lease session still holds its lock; every write then goes in ONE
// statement of data-modifying CTEs. When this store wrote the head itself, checks and
// writes are a single autocommit statement (one round trip); otherwise, or when that
// check fails, BEGIN, read and check, write, COMMIT. The epoch check fences a coordinator
// whose lease session died while another took the run over: the sequence check alone
// would let it write if it happened to be up to date.
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Synchronization

/// `JournalStore` and `RunInbox` over one connection.
public final class PostgresStore: TurnStore, RunInbox {
    public var location: String { conn.location }
    let conn: PGConnection
    let book: LeaseBook
    /// The journal head this store last wrote, per run: an append that continues it
    /// takes the one-statement path.
    let heads = Mutex<[String: Head]>([:])

    /// The channel the workers wait on for offers (a turn's commit notifies it).
    let offersChannel: String

    init(backend: PostgresBackend) {
        conn = backend.connection()
        book = backend.book
        offersChannel = PostgresListener.channel(.offers, schema: backend.schema)
    }

    /// Closes the connection for good (later calls are `.misuse`).
    public func close() { conn.close() }

    /// The server process of this store's connection (tests end it), nil when not connected.
    var backendPID: Int32? { conn.backendPID }

    func error(_ kind: StoreError.Kind, _ message: String) -> StoreError { StoreError(kind, path: location, message: message) }

    // MARK: Runs

    public func createRun(_ r: NewRun) throws(StoreError) {
        let meta = r.meta.map { String(decoding: CanonicalJSON.encode($0), as: UTF8.self) } ?? "{}"
        let inserted = try conn.with { s throws(StoreError) in
            try s.exec("""
                INSERT INTO runs(run_id, workflow, ir_hash, seed, status, verdict, created_ms, updated_ms, ir, meta)
                VALUES ($1, $2, $3, $4, $5, NULL, $6, $6, $7, $8) ON CONFLICT (run_id) DO NOTHING
                """, [r.runID, r.workflow, r.irHash, PG.int(Int64(bitPattern: r.seed)), RunStatus.created.rawValue, PG.int(r.createdMs),
                      PG.bytea(r.ir), meta]).affected
        }
        if inserted == 0 { throw error(.conflict, "run `\(r.runID)` already exists") }
    }

    private static let runColumns = """
        r.run_id, r.workflow, r.ir_hash, r.seed, r.status, r.verdict, r.created_ms, r.updated_ms,
        coalesce((SELECT max(seq) + 1 FROM journal j WHERE j.run_id = r.run_id), 0),
        (SELECT count(*) FROM attempts a WHERE a.run_id = r.run_id)
        """

    private func runInfo(_ row: [String?]) throws(StoreError) -> RunInfo {
        guard let status = RunStatus(rawValue: row.text(4)) else {
            throw error(.corrupt, "run `\(row.text(0))`: unknown status `\(row.text(4))`")
        }
        var verdict: Verdict?
        if let v = row[5] {
            guard let parsed = Verdict(rawValue: v) else { throw error(.corrupt, "run `\(row.text(0))`: unknown verdict `\(v)`") }
            verdict = parsed
        }
        return RunInfo(runID: row.text(0), workflow: row.text(1), irHash: row.text(2), seed: UInt64(bitPattern: row.int(3)), status: status,
                       verdict: verdict, createdMs: row.int(6), updatedMs: row.int(7), journalCount: Int(row.int(8)),
                       openAttempts: Int(row.int(9)))
    }

    public func run(_ runID: String) throws(StoreError) -> RunInfo? {
        let rows = try conn.with { s throws(StoreError) in try s.exec("SELECT \(Self.runColumns) FROM runs r WHERE r.run_id = $1", [runID]) }
        return try rows.first.map { row throws(StoreError) in try runInfo(row) }
    }

    public func runs() throws(StoreError) -> [RunInfo] {
        let rows = try conn.with { s throws(StoreError) in try s.exec("SELECT \(Self.runColumns) FROM runs r ORDER BY r.created_ms, r.run_id") }
        var out: [RunInfo] = []
        for row in rows.rows { out.append(try runInfo(row)) }
        return out
    }

    public func ir(run runID: String) throws(StoreError) -> [UInt8]? {
        try conn.with { s throws(StoreError) in try s.exec("SELECT ir FROM runs WHERE run_id = $1", [runID]).first?.bytes(0) }
    }

    public func update(run runID: String, _ u: RunUpdate) throws(StoreError) {
        let n = try conn.with { s throws(StoreError) in
            try s.exec("UPDATE runs SET status = $2, verdict = $3, updated_ms = $4 WHERE run_id = $1",
                       [runID, u.status.rawValue, u.verdict?.rawValue, PG.int(u.updatedMs)]).affected
        }
        if n == 0 { throw error(.notFound, "no run `\(runID)`") }
    }

    public func meta(run runID: String) throws(StoreError) -> JSONValue? {
        let text = try conn.with { s throws(StoreError) in try s.exec("SELECT meta FROM runs WHERE run_id = $1", [runID]).first?.text(0) }
        guard let text else { return nil }
        do { return try JSONParser.parse(Array(text.utf8)) } catch {
            throw self.error(.corrupt, "run `\(runID)`: metadata is not JSON: \(error.description)")
        }
    }

    public func setMeta(run runID: String, _ meta: JSONValue) throws(StoreError) {
        let text = String(decoding: CanonicalJSON.encode(meta), as: UTF8.self)
        try conn.with { s throws(StoreError) in _ = try s.exec("UPDATE runs SET meta = $2 WHERE run_id = $1", [runID, text]) }
    }

    public func versions(run runID: String) throws(StoreError) -> [(fromSeq: Int, irHash: String, ir: [UInt8])] {
        let rows = try conn.with { s throws(StoreError) in
            try s.exec("SELECT from_seq, ir_hash, ir FROM versions WHERE run_id = $1 ORDER BY from_seq", [runID])
        }
        return rows.rows.map { (Int($0.int(0)), $0.text(1), $0.bytes(2)) }
    }

    /// A row at or past `fromSeq` is a leftover of a crash before its `plan_upgraded`
    /// event: replaced (as DurableStore does).
    public func addVersion(run runID: String, fromSeq: Int, irHash: String, ir: [UInt8]) throws(StoreError) {
        try conn.with { s throws(StoreError) in
            _ = try s.exec("""
                WITH gone AS (DELETE FROM versions WHERE run_id = $1 AND from_seq >= $2)
                INSERT INTO versions(run_id, from_seq, ir_hash, ir) VALUES ($1, $2, $3, $4)
                ON CONFLICT (run_id, from_seq) DO UPDATE SET ir_hash = excluded.ir_hash, ir = excluded.ir
                """, [runID, PG.int(fromSeq), irHash, PG.bytea(ir)])
        }
    }

    public func audit(_ e: AuditEntry) throws(StoreError) {
        try conn.with { s throws(StoreError) in
            _ = try s.exec("""
                INSERT INTO audit(run_id, principal, action, target, allowed, reason, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
                """, [e.runID, e.principal, e.action, e.target, PG.bool(e.allowed), e.reason, PG.int(e.atMs)])
        }
    }

    public func logs(run runID: String, task: Int?) throws(StoreError) -> [AttemptLogRow] {
        let rows = try conn.with { s throws(StoreError) in
            try s.exec("""
                SELECT task, attempt, seq, agent, exit_code, duration_ms, stdout, stderr FROM logs
                WHERE run_id = $1 AND ($2::integer IS NULL OR task = $2) ORDER BY seq, task, attempt
                """, [runID, task.map { String($0) }])
        }
        return rows.rows.map {
            AttemptLogRow(task: Int($0.int(0)), attempt: Int($0.int(1)), seq: Int($0.int(2)), agent: Int($0.int(3)),
                          exitCode: $0.optionalInt(4).map { Int32(truncatingIfNeeded: $0) }, durationMs: $0.int(5),
                          stdout: $0.text(6), stderr: $0.text(7))
        }
    }

    public func processes(run runID: String) throws(StoreError) -> [AttemptProcess] {
        let rows = try conn.with { s throws(StoreError) in
            try s.exec("SELECT task, attempt, pid, pgid, start_ticks FROM processes WHERE run_id = $1 ORDER BY task, attempt, pid", [runID])
        }
        return rows.rows.map {
            AttemptProcess(task: Int($0.int(0)), attempt: Int($0.int(1)), pid: Int32(truncatingIfNeeded: $0.int(2)),
                           pgid: Int32(truncatingIfNeeded: $0.int(3)), startTicks: UInt64(bitPattern: $0.int(4)))
        }
    }

    // MARK: Inbox

    public func post(_ item: InboxItem) throws(StoreError) -> Int64 {
        // The run row is checked in the same statement: a request for no run is refused.
        let rows = try conn.with { s throws(StoreError) in
            try s.exec("""
                INSERT INTO inbox(run_id, kind, task, principal, approved, refusal, comment, created_ms)
                SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM runs WHERE run_id = $1) RETURNING id
                """, [item.runID, item.kind.rawValue, item.task, item.principal, PG.bool(item.approved), item.refusal, item.comment,
                      PG.int(item.createdMs)])
        }
        guard let id = rows.first?.optionalInt(0) else { throw error(.notFound, "no run `\(item.runID)`") }
        return id
    }

    public func inbox(run runID: String) throws(StoreError) -> [InboxItem] {
        let rows = try conn.with { s throws(StoreError) in
            try s.exec("""
                SELECT id, kind, task, principal, approved, refusal, comment, created_ms FROM inbox WHERE run_id = $1 ORDER BY id
                """, [runID])
        }
        var out: [InboxItem] = []
        for r in rows.rows {
            guard let kind = InboxItem.Kind(rawValue: r.text(1)) else { throw error(.corrupt, "run `\(runID)`: unknown inbox kind `\(r.text(1))`") }
            out.append(InboxItem(id: r.int(0), runID: runID, kind: kind, task: r[2], principal: r.text(3), approved: r.bool(4),
                                 refusal: r[5], comment: r.text(6), createdMs: r.int(7)))
        }
        return out
    }
}
