// The journal half of `PostgresStore`: append and read, with the hash chain. The chain
// hash of each record is computed here and stored in the record's own row (no extra
// write); reads recompute it from the stored bytes, so an edit that still decodes is
// found (DurableStore does the same over SQLite).
import EzflowIR
import EzflowPorts
import EzflowRuntime

/// Parameters of one statement, numbered as they are added.
struct SQLParams {
    var values: [String?] = []
    mutating func add(_ v: String?) -> String {
        values.append(v)
        return "$\(values.count)"
    }
}

/// An append's writes packed into statements of data-modifying CTEs ("parts"), each
/// statement under the protocol's 65,535 parameters: most appends are one statement; a
/// batch that dispatches thousands of attempts at once is several, in one transaction.
/// Every statement starts with the same `lead` parameters (`$1` is the run).
struct StatementPacker {
    static let maxParams = 65_535
    /// Rows of one part at most (a long VALUES list is cut).
    static let rowsPerPart = 2_000
    let lead: [String?]
    private var done: [(parts: [String], params: SQLParams)] = []
    private var parts: [String] = []
    private var params: SQLParams

    init(lead: [String?]) {
        self.lead = lead
        params = SQLParams(values: lead)
    }

    /// Adds parts writing `rows` (`perRow` parameters each, plus a few of the part's own),
    /// built by `build` from a slice at a time.
    mutating func add<Row>(_ rows: [Row], perRow: Int, _ build: (inout SQLParams, ArraySlice<Row>) -> String) {
        for start in stride(from: 0, to: rows.count, by: Self.rowsPerPart) {
            let slice = rows[start..<min(rows.count, start + Self.rowsPerPart)]
            if !parts.isEmpty && params.values.count + slice.count * perRow + 8 > Self.maxParams {
                done.append((parts, params))
                parts = []
                params = SQLParams(values: lead)
            }
            parts.append(build(&params, slice))
        }
    }

    /// One statement that runs `parts` (the data-modifying CTEs of `finish`).
    static func statement(_ parts: [String]) -> String {
        "WITH " + parts.enumerated().map { "w\($0.offset) AS (\($0.element))" }.joined(separator: ",\n") + "\nSELECT 1"
    }

    /// The statements, in order (none when nothing was added).
    func finish() -> [(parts: [String], params: SQLParams)] { parts.isEmpty ? done : done + [(parts, params)] }
}

extension PostgresStore {
    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64]) throws(StoreError) {
        try append(run: runID, expectedSeq: expectedSeq, records: records, update: update, logs: logs, consumedInbox: consumedInbox,
                   processes: ProcessChanges())
    }

    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64], processes: ProcessChanges) throws(StoreError) {
        try append(run: runID, expectedSeq: expectedSeq, records: records, update: update, logs: logs, consumedInbox: consumedInbox,
                   processes: processes, queue: TurnQueueWrites(nowMs: 0))
    }

    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64], processes: ProcessChanges, queue: TurnQueueWrites) throws(StoreError) {
        guard !records.isEmpty || update != nil || !logs.isEmpty || !consumedInbox.isEmpty || !processes.isEmpty || !queue.isEmpty else { return }
        if let why = JournalBoundary.sequenceViolation(run: runID, expectedSeq: expectedSeq, records) { throw error(.conflict, why) }
        if let why = JournalBoundary.identityViolation(run: runID, records) { throw error(.conflict, why) }
        let held = book[runID]
        if let held, held.lost {
            throw error(.conflict, "run `\(runID)`: this process lost its lease of the run (its session to the server ended)")
        }
        // Encode outside the lock.
        let batch = Batch(rows: records.map { (seq: $0.seq, event: Journal.eventBytes($0.event), commands: Journal.commandBytes($0.commands)) },
                          ops: QueueOp.net(QueueOp.derived(from: records)), logs: logs, consumedInbox: consumedInbox, update: update,
                          processes: processes, queue: queue)
        let cached = heads.withLock { $0[runID] }
        do throws(StoreError) {
            var head: Head? = nil
            if let cached, cached.next == expectedSeq {
                head = try conn.with { s throws(StoreError) in
                    try self.appendInOneStatement(s, runID: runID, expectedSeq: expectedSeq, head: cached.chain, held: held, batch)
                }
            }
            if head == nil {
                head = try conn.with { s throws(StoreError) in try self.appendChecked(s, runID: runID, expectedSeq: expectedSeq, held: held, batch) }
            }
            heads.withLock { $0[runID] = head }
        } catch {
            heads.withLock { $0[runID] = nil }
            throw error
        }
    }

    /// The journal's next seq and the chain hash of its last record (the IR hash when empty).
    struct Head: Sendable {
        var next: Int
        var chain: String
    }

    /// One append's writes, encoded.
    struct Batch: Sendable {
        var rows: [(seq: Int, event: [UInt8], commands: [UInt8])]
        var ops: [QueueOp]
        var logs: [AttemptLogRow]
        var consumedInbox: [Int64]
        var update: RunUpdate?
        var processes: ProcessChanges
        /// The coordinator's turn: completions acknowledged, attempts cancelled and offered.
        var queue: TurnQueueWrites
    }

    /// The lease checks, as SQL over `$1` run, `$2` lease session pid, `$3` lock key:
    /// the session must still hold its advisory lock (a 64-bit key is classid:objid,
    /// objsubid 1), and the lease row is shared-locked so a takeover's epoch bump waits
    /// for this commit.
    static let leaseColumns = """
        (SELECT epoch FROM leases l WHERE l.run_id = $1 FOR SHARE) AS epoch,
        $2::integer IS NULL OR EXISTS (
            SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = $2::integer AND granted AND objsubid = 1
            AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($3, 0)) AS alive
        """

    /// The fast path, when this store wrote the run's last record: checks and writes in
    /// ONE autocommit statement (one round trip instead of four). The check fails the
    /// whole statement (a division by zero, so nothing is written, and the wake-up is
    /// not sent: NOTIFY is delivered at commit); then nil, and the caller takes the
    /// checked path, which says what was wrong. Nil too when the writes need more than
    /// one statement.
    func appendInOneStatement(_ s: PGSession, runID: String, expectedSeq: Int, head: String, held: LeaseBook.Held?,
                              _ b: Batch) throws(StoreError) -> Head? {
        var packer = StatementPacker(lead: [runID, held?.pid.map { String($0) }, held?.key ?? "", PG.int(expectedSeq), held.map { String($0.epoch) }])
        let chain = writeParts(&packer, chain: head, b)
        let statements = packer.finish()
        guard statements.count <= 1 else { return nil }
        let parts = statements.first?.parts ?? []
        let ctes = (["""
            head AS (SELECT coalesce((SELECT max(seq) + 1 FROM journal WHERE run_id = $1), 0) AS next, \(Self.leaseColumns)
                     FROM runs r WHERE r.run_id = $1 FOR UPDATE OF r)
            """, """
            ok AS (SELECT 1 FROM head WHERE next = $4::integer AND ($2::integer IS NULL OR (alive AND epoch = $5::bigint)))
            """] + parts.enumerated().map { "w\($0.offset) AS (\($0.element))" }).joined(separator: ",\n")
        // The channel is made of the schema's name, which is checked (letters, digits, `_`).
        let wake = b.queue.offered.isEmpty ? "" : ", pg_notify('\(offersChannel)', '')"
        do throws(StoreError) {
            // Data-modifying CTEs not read by the main query run after it: the check (and
            // the row lock) come first.
            try s.exec("WITH \(ctes)\nSELECT 1 / (SELECT count(*)::integer FROM ok)\(wake)", statements.first?.params.values ?? packer.lead)
        } catch where error.code == PGFailure.divisionByZero {
            return nil
        } catch where error.kind == .conflict {
            throw self.error(.conflict, "run `\(runID)`: another writer appended seq \(expectedSeq) first")
        }
        return Head(next: expectedSeq + b.rows.count, chain: chain)
    }

    /// The checked path: lock the run row and read the head in one statement, check in
    /// Swift (precise refusals), write in as few statements as the parameter limit allows
    /// (one, but for a batch that dispatches thousands of attempts), wake the workers,
    /// commit.
    func appendChecked(_ s: PGSession, runID: String, expectedSeq: Int, held: LeaseBook.Held?, _ b: Batch) throws(StoreError) -> Head {
        try s.transaction { () throws(StoreError) -> Head in
            let head = try s.exec("""
                SELECT r.ir_hash, j.seq, j.chain, \(Self.leaseColumns)
                FROM runs r LEFT JOIN LATERAL (SELECT seq, chain FROM journal WHERE run_id = $1 ORDER BY seq DESC LIMIT 1) j ON true
                WHERE r.run_id = $1 FOR UPDATE OF r
                """, [runID, held?.pid.map { String($0) }, held?.key ?? ""])
            guard let h = head.first else { throw self.error(.notFound, "no run `\(runID)`") }
            if let held, !h.bool(4) {
                self.book.held.withLock { b in if b[runID]?.epoch == held.epoch { b[runID]?.lost = true } }
                throw self.error(.conflict, "run `\(runID)`: this process lost its lease of the run (its session to the server ended)")
            }
            if let held, h.optionalInt(3) != Int64(held.epoch) {
                throw self.error(.conflict, "another coordinator took run `\(runID)` over (lease epoch \(h.int(3)), this process holds \(held.epoch))")
            }
            let next = h[1] == nil ? 0 : Int(h.int(1)) + 1
            guard next == expectedSeq else {
                throw self.error(.conflict, "run `\(runID)`: the writer expects seq \(expectedSeq), the journal has \(next) records")
            }
            let last = h[1] == nil ? h.text(0) : h.text(2)
            var packer = StatementPacker(lead: [runID])
            let chain = writeParts(&packer, chain: last, b)
            for st in packer.finish() {
                do throws(StoreError) { try s.exec(StatementPacker.statement(st.parts), st.params.values) } catch where error.kind == .conflict {
                    // A writer that waited on the run row saw the journal's head as it was
                    // before the other writer committed; the primary key refuses the seq.
                    throw self.error(.conflict, "run `\(runID)`: another writer appended seq \(expectedSeq) first")
                }
            }
            if !b.queue.offered.isEmpty { _ = try s.exec("SELECT pg_notify($1, '')", [offersChannel]) }
            return Head(next: expectedSeq + b.rows.count, chain: chain)
        }
    }

    /// The batch's writes as data-modifying statements (one CTE each, `$1` the run) in
    /// `packer`, and the chain hash of its last record (`chain` when it has none). Long
    /// lists are cut into parts of at most `StatementPacker.rowsPerPart` rows.
    func writeParts(_ packer: inout StatementPacker, chain start: String, _ b: Batch) -> String {
        var chain = start
        var journalRows: [(seq: Int, event: String, commands: String, chain: String)] = []
        for r in b.rows {
            // The chain hash goes in the record's own row: no extra write.
            chain = JournalChain.link(chain, JournalChain.recordBytes(seq: r.seq, event: r.event, commands: r.commands))
            journalRows.append((r.seq, String(decoding: r.event, as: UTF8.self), String(decoding: r.commands, as: UTF8.self), chain))
        }
        packer.add(journalRows, perRow: 4) { p, rows in
            "INSERT INTO journal(run_id, seq, event, commands, chain) VALUES "
                + rows.map { "($1, \(p.add(PG.int($0.seq))), \(p.add($0.event)), \(p.add($0.commands)), \(p.add($0.chain)))" }.joined(separator: ", ")
        }
        var opened: [OpenAttempt] = [], closed: [(task: Int, attempt: Int)] = []
        for op in b.ops {
            switch op {
            case .open(let a): opened.append(a)
            case .close(let t, let a): closed.append((t, a))
            }
        }
        packer.add(opened, perRow: 5) { p, rows in
            "INSERT INTO attempts(run_id, task, attempt, agent, idempotency_key, dispatched_seq) VALUES "
                + rows.map { a in
                    "($1, \(p.add(PG.int(a.task))), \(p.add(PG.int(a.attempt))), \(p.add(PG.int(a.agent))), \(p.add(a.idempotencyKey)), \(p.add(PG.int(a.dispatchedSeq))))"
                }.joined(separator: ", ")
                + """

                ON CONFLICT (run_id, task, attempt) DO UPDATE SET agent = excluded.agent,
                    idempotency_key = excluded.idempotency_key, dispatched_seq = excluded.dispatched_seq
                """
        }
        packer.add(closed, perRow: 2) { p, rows in
            "DELETE FROM attempts WHERE run_id = $1 AND (task, attempt) IN (VALUES \(Self.keyList(&p, rows)))"
        }
        // One row per key: ON CONFLICT cannot touch a row twice in one statement.
        var lastLog: [[Int]: AttemptLogRow] = [:]
        for l in b.logs { lastLog[[l.task, l.attempt, l.seq]] = l }
        packer.add(lastLog.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { lastLog[$0]! }, perRow: 8) { p, rows in
            "INSERT INTO logs(run_id, task, attempt, seq, agent, exit_code, duration_ms, stdout, stderr) VALUES "
                + rows.map { l in
                    "($1, \(p.add(PG.int(l.task))), \(p.add(PG.int(l.attempt))), \(p.add(PG.int(l.seq))), \(p.add(PG.int(l.agent))), "
                        + "\(p.add(l.exitCode.map { String($0) }))::integer, \(p.add(PG.int(l.durationMs))), \(p.add(l.stdout)), \(p.add(l.stderr)))"
                }.joined(separator: ", ")
                + """

                ON CONFLICT (run_id, task, attempt, seq) DO UPDATE SET agent = excluded.agent, exit_code = excluded.exit_code,
                    duration_ms = excluded.duration_ms, stdout = excluded.stdout, stderr = excluded.stderr
                """
        }
        if !b.consumedInbox.isEmpty {
            packer.add([b.consumedInbox], perRow: 1) { p, ids in
                "DELETE FROM inbox WHERE run_id = $1 AND id = ANY(\(p.add(PG.textArray(ids[0].map { String($0) })))::bigint[])"
            }
        }
        if let u = b.update {
            packer.add([u], perRow: 3) { p, u in
                "UPDATE runs SET status = \(p.add(u[0].status.rawValue)), verdict = \(p.add(u[0].verdict?.rawValue)), "
                    + "updated_ms = \(p.add(PG.int(u[0].updatedMs))) WHERE run_id = $1"
            }
        }
        let started = b.processes.started.filter { !b.processes.ended.contains($0) }
        packer.add(started, perRow: 5) { p, rows in
            "INSERT INTO processes(run_id, task, attempt, pid, pgid, start_ticks) VALUES "
                + rows.map { a in
                    "($1, \(p.add(PG.int(a.task))), \(p.add(PG.int(a.attempt))), \(p.add(PG.int(a.pid))), \(p.add(PG.int(a.pgid))), "
                        + "\(p.add(PG.int(Int64(bitPattern: a.startTicks)))))"
                }.joined(separator: ", ")
                + "\nON CONFLICT (run_id, task, attempt, pid) DO UPDATE SET pgid = excluded.pgid, start_ticks = excluded.start_ticks"
        }
        packer.add(b.processes.ended, perRow: 3) { p, rows in
            "DELETE FROM processes WHERE run_id = $1 AND (task, attempt, pid) IN (VALUES "
                + rows.map { "(\(p.add(PG.int($0.task)))::integer, \(p.add(PG.int($0.attempt)))::integer, \(p.add(PG.int($0.pid)))::integer)" }
                    .joined(separator: ", ") + ")"
        }
        writeQueueParts(&packer, b.queue)
        return chain
    }

    /// The coordinator's queue writes (`TurnQueueWrites`), as `PostgresWorkQueue` makes
    /// them one by one: consumed completions deleted with their read marks, cancelled
    /// attempts flagged, new attempts inserted (a re-offer of a known attempt is a no-op).
    func writeQueueParts(_ packer: inout StatementPacker, _ q: TurnQueueWrites) {
        let acked = q.acknowledged.map { (task: $0.task, attempt: $0.attempt) }
        packer.add(acked, perRow: 2) { p, rows in
            "DELETE FROM completions WHERE run_id = $1 AND (task, attempt) IN (VALUES \(Self.keyList(&p, rows)))"
        }
        packer.add(acked, perRow: 2) { p, rows in
            "DELETE FROM completion_reads WHERE run_id = $1 AND (task, attempt) IN (VALUES \(Self.keyList(&p, rows)))"
        }
        packer.add(q.cancelled.map { (task: $0.task, attempt: $0.attempt) }, perRow: 2) { p, rows in
            "UPDATE tasks SET cancelled = true WHERE run_id = $1 AND (task, attempt) IN (VALUES \(Self.keyList(&p, rows)))"
        }
        // Stamped on the server's clock as the row is written (a claim measures the wait
        // on the same clock): not when the turn decided, before its encoding and commit.
        packer.add(q.offered, perRow: 7) { p, rows in
            "INSERT INTO tasks(run_id, task, attempt, agent, idempotency_key, queue, priority, offered_ms, payload) VALUES "
                + rows.map { i in
                    "($1, \(p.add(PG.int(i.task))), \(p.add(PG.int(i.attempt))), \(p.add(PG.int(i.agent))), \(p.add(i.idempotencyKey)), "
                        + "\(p.add(i.queue)), \(p.add(PG.int(i.priority))), \(PG.serverMs), \(p.add(PG.bytea(i.payload)))::bytea)"
                }.joined(separator: ", ")
                + "\nON CONFLICT (run_id, task, attempt) DO NOTHING"
        }
        packer.add(q.deadLetters, perRow: 10) { p, rows in Self.deadLetterInsert(&p, rows) }
    }

    /// Entries of the dead-letter feed, each once (contract point 12).
    static func deadLetterInsert(_ p: inout SQLParams, _ rows: ArraySlice<DeadLetterEntry>) -> String {
        "INSERT INTO dead_letters(run_id, seq, task, task_name, kind, error_class, message, attempts, at_ms, principal) VALUES "
            + rows.map { e in
                "(\(p.add(e.runID)), \(p.add(PG.int(e.seq)))::integer, \(p.add(PG.int(e.task)))::integer, \(p.add(e.taskName)), "
                    + "\(p.add(e.kind.rawValue)), \(p.add(e.errorClass)), \(p.add(e.message)), \(p.add(PG.int(e.attempts)))::integer, "
                    + "\(p.add(PG.int(e.atMs)))::bigint, \(p.add(e.principal)))"
            }.joined(separator: ", ")
            + "\nON CONFLICT (run_id, seq, task, kind) DO NOTHING"
    }

    /// `(task, attempt)` pairs as a VALUES list of integers.
    static func keyList(_ p: inout SQLParams, _ rows: ArraySlice<(task: Int, attempt: Int)>) -> String {
        rows.map { "(\(p.add(PG.int($0.task)))::integer, \(p.add(PG.int($0.attempt)))::integer)" }.joined(separator: ", ")
    }

    public func journal(run runID: String, from seq: Int) throws(StoreError) -> [JournalRecord] {
        let from = max(0, seq)
        // The record before `from` (or the IR hash) comes in the same read: the chain is
        // checked from it.
        let rows = try conn.with { s throws(StoreError) in
            try s.exec("""
                SELECT -1, NULL, NULL, ir_hash FROM runs WHERE run_id = $1 AND $2::integer = 0
                UNION ALL
                SELECT seq, event, commands, chain FROM journal WHERE run_id = $1 AND seq >= $2::integer - 1
                ORDER BY 1
                """, [runID, PG.int(from)]).rows
        }
        var raw = rows[...]
        var previous: String?
        if let f = raw.first, Int(f.int(0)) == from - 1 {
            previous = f[3]
            raw = raw.dropFirst()
        }
        if from > 0 && previous == nil, let f = raw.first {
            throw error(.corrupt, "run `\(runID)` journal: record \(from - 1) is missing (the next stored is \(f.int(0)))")
        }
        var records: [JournalRecord] = []
        records.reserveCapacity(raw.count)
        for r in raw {
            let s = Int(r.int(0))
            let expected = from + records.count
            guard s == expected else { throw error(.corrupt, "run `\(runID)` journal: record \(expected) is missing (the next stored is \(s))") }
            do throws(DecodeError) {
                records.append(JournalRecord(seq: s, event: try Self.decodeEvent(Array(r.text(1).utf8)),
                                             commands: try Self.decodeCommands(Array(r.text(2).utf8))))
            } catch {
                throw self.error(.corrupt, "run `\(runID)` journal seq \(s): \(error.message)")
            }
        }
        if let why = JournalBoundary.identityViolation(run: runID, records) { throw error(.corrupt, why) }
        var chain = previous ?? ""
        for (i, r) in raw.enumerated() {
            chain = JournalChain.link(chain, JournalChain.recordBytes(seq: records[i].seq, event: Array(r.text(1).utf8), commands: Array(r.text(2).utf8)))
            guard r[3] == chain else { throw StoreError.chainBroken(path: location, run: runID, ChainBreak(seq: records[i].seq, event: records[i].event)) }
        }
        return records
    }

    public func chainHash(run runID: String, seq: Int) throws(StoreError) -> String? {
        try conn.with { s throws(StoreError) in
            let rows = seq < 0 ? try s.exec("SELECT ir_hash FROM runs WHERE run_id = $1", [runID])
                : try s.exec("SELECT chain FROM journal WHERE run_id = $1 AND seq = $2", [runID, PG.int(seq)])
            return rows.first?[0] ?? nil
        }
    }

    struct DecodeError: Error { var message: String }

    static func decodeEvent(_ bytes: [UInt8]) throws(DecodeError) -> Event {
        do throws(JournalError) { return try Journal.event(from: bytes) } catch { throw DecodeError(message: error.message) }
    }

    static func decodeCommands(_ bytes: [UInt8]) throws(DecodeError) -> [Command] {
        do throws(JournalError) { return try Journal.commands(from: bytes) } catch { throw DecodeError(message: error.message) }
    }
}
