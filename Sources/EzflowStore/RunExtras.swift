// What a real run keeps beside its journal (schema version 2): attempt logs, the inbox
// through which other processes reach a run's single writer, the access audit, and the
// run's metadata (inputs, principal). The journal stays the only source of truth for the
// run's state; these tables are for people and for the shell.
import CSQLite
import EzflowIR
import EzflowPorts
import EzflowRuntime

extension DurableStore {
    func appendExtrasLocked(_ c: Connection, runID: String, logs: [AttemptLogRow], consumedInbox: [Int64]) throws(StoreError) {
        for l in logs {
            try c.run("""
                INSERT OR REPLACE INTO logs(run_id, task, attempt, seq, agent, exit_code, duration_ms, stdout, stderr)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                """) { st in
                st.bind(1, runID); st.bind(2, l.task); st.bind(3, l.attempt); st.bind(4, l.seq); st.bind(5, l.agent)
                if let e = l.exitCode { st.bind(6, Int64(e)) } else { st.bindNull(6) }
                st.bind(7, l.durationMs); st.bind(8, l.stdout); st.bind(9, l.stderr)
            }
        }
        for id in consumedInbox {
            try c.run("UPDATE inbox SET consumed = 1 WHERE id = ?1 AND run_id = ?2") { st in st.bind(1, id); st.bind(2, runID) }
        }
    }

    func appendProcessesLocked(_ c: Connection, runID: String, _ p: ProcessChanges) throws(StoreError) {
        for a in p.started {
            try c.run("""
                INSERT OR REPLACE INTO attempt_processes(run_id, task, attempt, pid, pgid, start_ticks) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                """) { st in
                st.bind(1, runID); st.bind(2, a.task); st.bind(3, a.attempt); st.bind(4, Int64(a.pid)); st.bind(5, Int64(a.pgid))
                st.bind(6, Int64(bitPattern: a.startTicks))
            }
        }
        for a in p.ended {
            try c.run("DELETE FROM attempt_processes WHERE run_id = ?1 AND task = ?2 AND attempt = ?3 AND pid = ?4") { st in
                st.bind(1, runID); st.bind(2, a.task); st.bind(3, a.attempt); st.bind(4, Int64(a.pid))
            }
        }
    }

    /// The attempt processes recorded for a run and not yet forgotten, by task and attempt.
    public func processes(run runID: String) throws(StoreError) -> [AttemptProcess] {
        try with { c throws(StoreError) in
            var out: [AttemptProcess] = []
            try c.query("""
                SELECT task, attempt, pid, pgid, start_ticks FROM attempt_processes WHERE run_id = ?1 ORDER BY task, attempt, pid
                """, { $0.bind(1, runID) }) { st in
                out.append(AttemptProcess(task: Int(st.int(0)), attempt: Int(st.int(1)), pid: Int32(truncatingIfNeeded: st.int(2)),
                                          pgid: Int32(truncatingIfNeeded: st.int(3)), startTicks: UInt64(bitPattern: st.int(4))))
            }
            return out
        }
    }

    /// The run's metadata object (inputs, principal, options), `{}` when none was set.
    public func meta(run runID: String) throws(StoreError) -> JSONValue? {
        let text: String? = try with { c throws(StoreError) in
            var out: String?
            try c.query("SELECT meta FROM run_data WHERE run_id = ?1", { $0.bind(1, runID) }) { st in out = st.text(0) }
            return out
        }
        guard let text else { return nil }
        do { return try JSONParser.parse(Array(text.utf8)) } catch {
            throw StoreError(.corrupt, path: path, message: "run `\(runID)`: metadata is not JSON: \(error.description)")
        }
    }

    /// Replaces the run's metadata.
    public func setMeta(run runID: String, _ meta: JSONValue) throws(StoreError) {
        let text = String(decoding: CanonicalJSON.encode(meta), as: UTF8.self)
        try with { c throws(StoreError) in
            try c.run("UPDATE run_data SET meta = ?2 WHERE run_id = ?1") { st in st.bind(1, runID); st.bind(2, text) }
        }
    }

    /// Attempt logs of a run (optionally one task), by task, attempt and seq.
    public func logs(run runID: String, task: Int? = nil) throws(StoreError) -> [AttemptLogRow] {
        try with { c throws(StoreError) in
            var out: [AttemptLogRow] = []
            try c.query("""
                SELECT task, attempt, seq, agent, exit_code, duration_ms, stdout, stderr FROM logs
                WHERE run_id = ?1 AND (?2 IS NULL OR task = ?2) ORDER BY seq, task, attempt
                """, { st in st.bind(1, runID); if let task { st.bind(2, task) } else { st.bindNull(2) } }) { st in
                out.append(AttemptLogRow(task: Int(st.int(0)), attempt: Int(st.int(1)), seq: Int(st.int(2)), agent: Int(st.int(3)),
                                         exitCode: st.isNull(4) ? nil : Int32(truncatingIfNeeded: st.int(4)),
                                         durationMs: st.int(5), stdout: st.text(6), stderr: st.text(7)))
            }
            return out
        }
    }

    /// Posts a request to a run's writer; returns its id.
    @discardableResult
    public func post(_ item: InboxItem) throws(StoreError) -> Int64 {
        try with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) -> Int64 in
                guard try c.scalarInt("SELECT 1 FROM runs WHERE run_id = ?1", { $0.bind(1, item.runID) }) != nil else {
                    throw StoreError(.notFound, path: path, message: "no run `\(item.runID)`")
                }
                try c.run("""
                    INSERT INTO inbox(run_id, kind, task, principal, approved, refusal, comment, created_ms)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                    """) { st in
                    st.bind(1, item.runID); st.bind(2, item.kind.rawValue); st.bind(3, item.task); st.bind(4, item.principal)
                    st.bind(5, item.approved ? 1 : 0); st.bind(6, item.refusal); st.bind(7, item.comment); st.bind(8, item.createdMs)
                }
                return sqlite3_last_insert_rowid(c.db)
            }
        }
    }

    /// Requests not yet consumed, oldest first.
    public func inbox(run runID: String) throws(StoreError) -> [InboxItem] {
        try with { c throws(StoreError) in
            var out: [InboxItem] = []
            try c.query("""
                SELECT id, kind, task, principal, approved, refusal, comment, created_ms FROM inbox
                WHERE run_id = ?1 AND consumed = 0 ORDER BY id
                """, { $0.bind(1, runID) }) { st throws(StoreError) in
                guard let kind = InboxItem.Kind(rawValue: st.text(1)) else {
                    throw StoreError(.corrupt, path: path, message: "run `\(runID)`: unknown inbox kind `\(st.text(1))`")
                }
                out.append(InboxItem(id: st.int(0), runID: runID, kind: kind, task: st.optionalText(2), principal: st.text(3),
                                     approved: st.int(4) != 0, refusal: st.optionalText(5), comment: st.text(6), createdMs: st.int(7)))
            }
            return out
        }
    }

    /// Records an access decision.
    public func audit(_ e: AuditEntry) throws(StoreError) {
        try with { c throws(StoreError) in
            try c.run("""
                INSERT INTO audit(run_id, principal, action, target, allowed, reason, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """) { st in
                st.bind(1, e.runID); st.bind(2, e.principal); st.bind(3, e.action); st.bind(4, e.target)
                st.bind(5, e.allowed ? 1 : 0); st.bind(6, e.reason); st.bind(7, e.atMs)
            }
        }
    }

    /// Access decisions, oldest first (all runs when `runID` is nil).
    public func auditLog(run runID: String? = nil) throws(StoreError) -> [AuditEntry] {
        try with { c throws(StoreError) in
            var out: [AuditEntry] = []
            try c.query("""
                SELECT run_id, principal, action, target, allowed, reason, at_ms FROM audit
                WHERE ?1 IS NULL OR run_id = ?1 ORDER BY id
                """, { $0.bind(1, runID) }) { st in
                out.append(AuditEntry(runID: st.optionalText(0), principal: st.text(1), action: st.text(2), target: st.text(3),
                                      allowed: st.int(4) != 0, reason: st.text(5), atMs: st.int(6)))
            }
            return out
        }
    }

    /// Records that the run continues on another IR from journal seq `fromSeq` (the seq
    /// its `plan_upgraded` event will have). A row at or past the journal's end without
    /// that event is a leftover of a crash and is replaced.
    public func addVersion(run runID: String, fromSeq: Int, irHash: String, ir: [UInt8]) throws(StoreError) {
        try with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                try c.run("DELETE FROM run_versions WHERE run_id = ?1 AND from_seq >= ?2") { st in st.bind(1, runID); st.bind(2, fromSeq) }
                try c.run("INSERT INTO run_versions(run_id, from_seq, ir_hash, ir) VALUES (?1, ?2, ?3, ?4)") { st in
                    st.bind(1, runID); st.bind(2, fromSeq); st.bind(3, irHash); st.bind(4, blob: ir)
                }
            }
        }
    }

    /// The IR versions a run moved to, in order: (seq of the upgrade, hash, IR bytes).
    public func versions(run runID: String) throws(StoreError) -> [(fromSeq: Int, irHash: String, ir: [UInt8])] {
        try with { c throws(StoreError) in
            var out: [(fromSeq: Int, irHash: String, ir: [UInt8])] = []
            try c.query("SELECT from_seq, ir_hash, ir FROM run_versions WHERE run_id = ?1 ORDER BY from_seq", { $0.bind(1, runID) }) { st in
                out.append((Int(st.int(0)), st.text(1), st.bytes(2)))
            }
            return out
        }
    }
}
