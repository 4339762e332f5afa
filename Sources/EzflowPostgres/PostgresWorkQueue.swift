// The work queue in PostgreSQL (DISTRIBUTED-NOTES.md §2 "Claim", "Complete", "Reap").
// Each call is one statement where it can be: a claim is a MATERIALIZED CTE with
// `FOR UPDATE SKIP LOCKED` (without MATERIALIZED the planner may update more rows than the
// LIMIT), a completion is the owner-fenced UPDATE and the completion INSERT in one
// statement, and expiry is one guarded UPDATE (never select-then-update: a reaper that
// updates by id alone can overwrite a completion that landed in between).
//
// Killed workers: `registerWorker` takes a session advisory lock on the worker's id on
// this queue's connection; the server drops it when the worker's process or connection
// dies, and `expire` takes back the leases of every registered owner whose lock it can
// take, before their expiry.
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Synchronization

/// `WorkQueue` over one connection to a `PostgresBackend`.
public final class PostgresWorkQueue: WorkQueue {
    public var location: String { conn.location }
    let conn: PGConnection
    private let workerPrefix: String
    private let registered: Registry
    /// The coordinators' wake-up channel, notified by `complete` itself.
    private let resultsChannel: String

    /// The workers registered on this connection: their locks are taken again after a
    /// reconnect, and this queue's own `expire` never takes them for dead.
    final class Registry: Sendable {
        let owners = Mutex<Set<String>>([])
        var all: [String] { owners.withLock { $0.sorted() } }
    }

    init(backend: PostgresBackend) {
        let registry = Registry()
        let prefix = backend.lockName("worker:")
        registered = registry
        workerPrefix = prefix
        resultsChannel = PostgresListener.channel(.results, schema: backend.schema)
        conn = backend.connection { s throws(StoreError) in
            // After a reconnect. Best effort: if a reaper found the owner dead meanwhile,
            // its leases were already taken back (and its row deleted: put back).
            for o in registry.all {
                try s.exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [prefix + o])
                try s.exec("INSERT INTO workers(owner, registered_ms) VALUES ($1, 0) ON CONFLICT (owner) DO NOTHING", [o])
            }
        }
    }

    /// Closes the connection for good (a registered worker's lock goes with it).
    public func close() { conn.close() }

    /// The server process of this queue's connection (tests end it), nil when not connected.
    public var backendPID: Int32? { conn.backendPID }

    /// Declares `owner` a live worker while this queue's connection lives: when the
    /// connection ends (the process died), any `expire` takes its leases back at once.
    /// `conflict` when another live connection registered the same id (ids are random
    /// per process start).
    public func registerWorker(owner: String, nowMs: Millis) throws(StoreError) {
        if registered.owners.withLock({ $0.contains(owner) }) { return }
        try conn.with { s throws(StoreError) in
            guard try s.exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [workerPrefix + owner]).first?.bool(0) == true else {
                throw StoreError(.conflict, path: s.location, message: "worker `\(owner)` is registered by another live process",
                                 nextStep: "give each worker process its own id")
            }
            try s.exec("""
                INSERT INTO workers(owner, registered_ms) VALUES ($1, $2) ON CONFLICT (owner) DO UPDATE SET registered_ms = excluded.registered_ms
                """, [owner, PG.int(nowMs)])
        }
        registered.owners.withLock { _ = $0.insert(owner) }
    }

    static let itemColumns = "run_id, task, attempt, agent, idempotency_key, queue, priority, payload"

    /// The item in columns `from…from+7` (`itemColumns`).
    static func item(_ r: [String?], from i: Int) -> WorkItem {
        WorkItem(runID: r.text(i), task: Int(r.int(i + 1)), attempt: Int(r.int(i + 2)), agent: Int(r.int(i + 3)), idempotencyKey: r.text(i + 4),
                 queue: r.text(i + 5), priority: Int(r.int(i + 6)), payload: r.bytes(i + 7))
    }

    public func offer(_ items: [WorkItem], nowMs: Millis) throws(StoreError) {
        guard !items.isEmpty else { return }
        // 9 parameters a row: chunks stay under the protocol's 65,535; one chunk is one
        // statement (atomic without a BEGIN … COMMIT round trip each side).
        try conn.with { s throws(StoreError) in
            try s.transaction(if: items.count > 5_000) { () throws(StoreError) in
                for start in stride(from: 0, to: items.count, by: 5_000) {
                    let chunk = items[start..<min(items.count, start + 5_000)]
                    var params: [String?] = []
                    params.reserveCapacity(chunk.count * 9)
                    for i in chunk {
                        params += [i.runID, PG.int(i.task), PG.int(i.attempt), PG.int(i.agent), i.idempotencyKey, i.queue, PG.int(i.priority),
                                   PG.bytea(i.payload)]
                    }
                    try s.exec("""
                        INSERT INTO tasks(run_id, task, attempt, agent, idempotency_key, queue, priority, payload, offered_ms)
                        VALUES \(PG.values(rows: chunk.count, columns: 8, last: PG.serverMs))
                        ON CONFLICT (run_id, task, attempt) DO NOTHING
                        """, params)
                }
            }
        }
    }

    public func claim(owner: String, queues: [String], max: Int, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> [Lease] {
        guard max > 0 else { return [] }
        let until = nowMs + leaseMs
        let filter = queues.isEmpty ? "" : "AND queue = ANY($4::text[])"
        var params: [String?] = [owner, PG.int(until), PG.int(max)]
        if !queues.isEmpty { params.append(PG.textArray(queues)) }
        let rows = try conn.with { s throws(StoreError) in
            try s.exec("""
                WITH c AS MATERIALIZED (
                    SELECT id FROM tasks WHERE state = 0 AND NOT cancelled \(filter)
                    ORDER BY priority, id LIMIT $3 FOR UPDATE SKIP LOCKED)
                UPDATE tasks t SET state = 1, lease_owner = $1, lease_until = $2, deliveries = t.deliveries + 1
                FROM c WHERE t.id = c.id
                RETURNING t.id, t.run_id, t.task, t.attempt, t.agent, t.idempotency_key, t.queue, t.priority, t.payload, t.deliveries,
                    \(PG.serverMs) - t.offered_ms
                """, params).rows
        }
        // RETURNING gives no order: priority, then offer order.
        return rows.map { r in (r.int(0), Self.item(r, from: 1), Int(r.int(9)), r.optionalInt(10)) }
            .sorted { ($0.1.priority, $0.0) < ($1.1.priority, $1.0) }
            .map { Lease(item: $0.1, owner: owner, expiresAtMs: until, deliveries: $0.2, waitedMs: $0.3) }
    }

    /// The coordinators are woken by the statement (`pg_notify`, delivered at its commit):
    /// one round trip and one transaction per result, not two.
    public func complete(_ completion: WorkCompletion, nowMs: Millis) throws(StoreError) -> Bool {
        try complete([completion], nowMs: nowMs)[0]
    }

    /// One statement per `maxBatch` completions: one round trip, one commit (one WAL
    /// flush) and one wake-up for a worker's batch of results. Each is fenced as alone:
    /// the UPDATE takes a leased row only from its owner, once; in input order, the first
    /// accepted completion of an attempt is the one (a later duplicate is refused).
    public func complete(_ completions: [WorkCompletion], nowMs: Millis) throws(StoreError) -> [Bool] {
        guard !completions.isEmpty else { return [] }
        return try conn.with { s throws(StoreError) in
            try s.transaction(if: completions.count > Self.maxBatch) { () throws(StoreError) -> [Bool] in
                var accepted = Set<[String]>()
                for start in stride(from: 0, to: completions.count, by: Self.maxBatch) {
                    let chunk = Array(completions[start..<min(completions.count, start + Self.maxBatch)])
                    for r in try completeBatch(chunk, on: s) { accepted.insert(r) }
                }
                var taken = Set<[String]>()
                return completions.map { c in
                    let key = [c.item.runID, String(c.item.task), String(c.item.attempt)]
                    return accepted.contains(key + [c.owner]) && taken.insert(key).inserted
                }
            }
        }
    }

    /// Completions per statement (16 parameters each, under the protocol's 65,535).
    static let maxBatch = 2_000

    /// The (run, task, attempt, owner) of each completion of `batch` accepted.
    func completeBatch(_ batch: [WorkCompletion], on s: PGSession) throws(StoreError) -> [[String]] {
        var p: [String?] = [resultsChannel]
        var rows: [String] = []
        for c in batch {
            let i = c.item, l = c.log
            let first = p.count + 1
            p += [i.runID, PG.int(i.task), PG.int(i.attempt), c.owner, PG.int(i.agent), i.idempotencyKey, Self.outcomeText(c),
                  l.map { String($0.task) }, l.map { String($0.attempt) }, l.map { String($0.seq) }, l.map { String($0.agent) },
                  l?.exitCode.map { String($0) }, l.map { String($0.durationMs) }, l?.stdout, l?.stderr]
            let types = ["text", "integer", "integer", "text", "integer", "text", "text", "integer", "integer", "integer", "integer", "integer",
                         "bigint", "text", "text"]
            rows.append("(" + types.enumerated().map { "$\(first + $0.offset)::\($0.element)" }.joined(separator: ", ") + ")")
        }
        return try s.exec("""
            WITH i(run_id, task, attempt, owner, agent, idempotency_key, outcome, log_task, log_attempt, log_seq, log_agent, log_exit_code,
                   log_duration_ms, log_stdout, log_stderr) AS (VALUES \(rows.joined(separator: ", "))),
            f AS (
                UPDATE tasks t SET state = 2, lease_owner = NULL, lease_until = NULL FROM i
                WHERE t.run_id = i.run_id AND t.task = i.task AND t.attempt = i.attempt AND t.state = 1 AND t.lease_owner = i.owner
                RETURNING t.run_id, t.task, t.attempt, i.owner),
            ins AS (
                INSERT INTO completions(run_id, task, attempt, agent, idempotency_key, owner, outcome, log_task, log_attempt, log_seq,
                                        log_agent, log_exit_code, log_duration_ms, log_stdout, log_stderr)
                SELECT DISTINCT ON (i.run_id, i.task, i.attempt) i.run_id, i.task, i.attempt, i.agent, i.idempotency_key, i.owner, i.outcome,
                       i.log_task, i.log_attempt, i.log_seq, i.log_agent, i.log_exit_code, i.log_duration_ms, i.log_stdout, i.log_stderr
                FROM f JOIN i ON i.run_id = f.run_id AND i.task = f.task AND i.attempt = f.attempt AND i.owner = f.owner
                ON CONFLICT (run_id, task, attempt) DO NOTHING
                RETURNING run_id, task, attempt, owner)
            SELECT run_id, task, attempt, owner, pg_notify($1, '') FROM ins
            """, p).rows.map { [$0.text(0), $0.text(1), $0.text(2), $0.text(3)] }
    }

    public func depth() throws(StoreError) -> QueueDepth {
        try conn.with { s throws(StoreError) -> QueueDepth in
            var d = QueueDepth()
            // One snapshot: the counts, the busy owners and the offers (task rows stay
            // after completion, and a cancelled item is marked, not deleted, so the rows
            // count every offer; not the largest id: a repeated offer takes one too).
            let rows = try s.exec("""
                SELECT 'q', queue, count(*) FROM tasks WHERE state = 0 AND NOT cancelled GROUP BY queue
                UNION ALL SELECT 'l', queue, count(*) FROM tasks WHERE state = 1 AND NOT cancelled GROUP BY queue
                UNION ALL SELECT 'o', '', count(DISTINCT lease_owner) FROM tasks WHERE state = 1 AND NOT cancelled
                UNION ALL SELECT 'n', '', count(*) FROM tasks
                """).rows
            for r in rows {
                switch r.text(0) {
                case "q": d.queued[r.text(1)] = Int(r.int(2))
                case "l": d.leased[r.text(1)] = Int(r.int(2))
                case "o": d.owners = Int(r.int(2))
                default: d.offered = r.int(2)
                }
            }
            return d
        }
    }

    public func expire(nowMs: Millis) throws(StoreError) -> [WorkItem] {
        let own = registered.all
        let rows: [[String?]] = try conn.with { s throws(StoreError) in
            // Registered owners with leases whose lock is free are dead: taken and given
            // back at once (the OFFSET 0 keeps the lock call after the cheap filters).
            // Not in the first 30 s after the server started: a restart frees every lock,
            // and the live workers take theirs back only once they reconnect (their
            // leases still expire as usual).
            let dead = try s.exec("""
                SELECT owner, pg_advisory_unlock(k) FROM (
                    SELECT w.owner, hashtextextended($1 || w.owner, 0) AS k FROM workers w
                    WHERE NOT (w.owner = ANY($2::text[])) AND EXISTS (SELECT 1 FROM tasks t WHERE t.state = 1 AND t.lease_owner = w.owner)
                      AND pg_postmaster_start_time() < now() - interval '30 seconds'
                    OFFSET 0) c
                WHERE pg_try_advisory_lock(k)
                """, [workerPrefix, PG.textArray(own)]).rows.map { $0.text(0) }
            return try s.transaction { () throws(StoreError) -> [[String?]] in
                let back = try s.exec("""
                    UPDATE tasks SET state = CASE WHEN deliveries >= $2 THEN 2 ELSE 0 END, lease_owner = NULL, lease_until = NULL
                    WHERE state = 1 AND (lease_until <= $1 OR lease_owner = ANY($3::text[]))
                    RETURNING id, \(Self.itemColumns), deliveries
                    """, [PG.int(nowMs), PG.int(WorkQueueLimits.maxDeliveries), PG.textArray(dead)]).rows
                let lost = back.filter { $0.int(9) >= Int64(WorkQueueLimits.maxDeliveries) }
                    .map { WorkQueueLimits.lost(Self.item($0, from: 1), deliveries: Int($0.int(9))) }
                if !lost.isEmpty { try Self.insert(lost, into: s) }
                if !dead.isEmpty { try s.exec("DELETE FROM workers WHERE owner = ANY($1::text[])", [PG.textArray(dead)]) }
                return back
            }
        }
        return rows.sorted { $0.int(0) < $1.int(0) }.map { Self.item($0, from: 1) }
    }

    public func renew(owner: String, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> Int {
        try conn.with { s throws(StoreError) in
            try s.exec("UPDATE tasks SET lease_until = $2 WHERE state = 1 AND lease_owner = $1", [owner, PG.int(nowMs + leaseMs)]).affected
        }
    }

    public func release(owner: String) throws(StoreError) {
        try conn.with { s throws(StoreError) in
            _ = try s.exec("""
                UPDATE tasks SET state = 0, lease_owner = NULL, lease_until = NULL, deliveries = deliveries - 1
                WHERE state = 1 AND lease_owner = $1
                """, [owner])
        }
    }

    /// A queued item is marked and never claimed (a later `offer` of it stays a no-op);
    /// a leased one keeps its lease and may still complete.
    public func cancel(run runID: String, task: Int, attempt: Int) throws(StoreError) {
        try conn.with { s throws(StoreError) in
            _ = try s.exec("UPDATE tasks SET cancelled = true WHERE run_id = $1 AND task = $2 AND attempt = $3",
                           [runID, PG.int(task), PG.int(attempt)])
        }
    }

    public func forget(run runID: String) throws(StoreError) {
        try conn.with { s throws(StoreError) in
            // Rows stay (they count the offers and keep a re-offer a no-op): only their payloads go.
            _ = try s.exec("""
                WITH t AS (UPDATE tasks SET state = CASE state WHEN 0 THEN 2 ELSE state END, cancelled = cancelled OR state = 1, payload = ''
                           WHERE run_id = $1),
                c AS (DELETE FROM completions WHERE run_id = $1)
                DELETE FROM completion_reads WHERE run_id = $1
                """, [runID])
        }
    }

    public func deadLetter(_ entries: [DeadLetterEntry]) throws(StoreError) {
        guard !entries.isEmpty else { return }
        var packer = StatementPacker(lead: [])
        packer.add(entries, perRow: 10) { p, rows in PostgresStore.deadLetterInsert(&p, rows) }
        try conn.with { s throws(StoreError) in
            try s.transaction { () throws(StoreError) in
                for st in packer.finish() { _ = try s.exec(StatementPacker.statement(st.parts), st.params.values) }
            }
        }
    }

    public func deadLetters(run runID: String?) throws(StoreError) -> [DeadLetterEntry] {
        try conn.with { s throws(StoreError) in
            try s.exec("""
                SELECT run_id, seq, task, task_name, kind, error_class, message, attempts, at_ms, principal FROM dead_letters
                WHERE $1::text IS NULL OR run_id = $1 ORDER BY id
                """, [runID]).rows.map { r in
                DeadLetterEntry(runID: r.text(0), seq: Int(r.int(1)), task: Int(r.int(2)), taskName: r.text(3),
                                kind: DeadLetterEntry.Kind(rawValue: r.text(4)) ?? .deadLettered, errorClass: r.text(5), message: r.text(6),
                                attempts: Int(r.int(7)), atMs: r.int(8), principal: r.text(9))
            }
        }
    }

    public func cancelled(owner: String) throws(StoreError) -> [WorkItem] {
        try conn.with { s throws(StoreError) in
            try s.exec("SELECT \(Self.itemColumns) FROM tasks WHERE state = 1 AND lease_owner = $1 AND cancelled ORDER BY id", [owner])
                .rows.map { Self.item($0, from: 0) }
        }
    }

    public func completions(run runID: String, reader: String) throws(StoreError) -> [WorkCompletion] {
        // Read and marked in one statement.
        let rows = try conn.with { s throws(StoreError) in
            try s.exec("""
                WITH c AS (
                    SELECT id, task, attempt, agent, idempotency_key, owner, outcome, log_task, log_attempt, log_seq, log_agent,
                           log_exit_code, log_duration_ms, log_stdout, log_stderr
                    FROM completions w WHERE run_id = $1 AND NOT EXISTS (
                        SELECT 1 FROM completion_reads r WHERE r.run_id = w.run_id AND r.task = w.task AND r.attempt = w.attempt AND r.reader = $2)),
                m AS (INSERT INTO completion_reads(run_id, task, attempt, reader) SELECT $1, task, attempt, $2 FROM c ON CONFLICT DO NOTHING)
                SELECT * FROM c ORDER BY id
                """, [runID, reader]).rows
        }
        var out: [WorkCompletion] = []
        out.reserveCapacity(rows.count)
        for r in rows { out.append(try completion(r, runID: runID)) }
        return out
    }

    public func acknowledge(run runID: String, _ items: [WorkItem]) throws(StoreError) {
        guard !items.isEmpty else { return }
        var p = SQLParams()
        let run = p.add(runID)
        let keys = items.map { "(\(p.add(PG.int($0.task)))::integer, \(p.add(PG.int($0.attempt)))::integer)" }.joined(separator: ", ")
        try conn.with { s throws(StoreError) in
            _ = try s.exec("""
                WITH a AS (DELETE FROM completions WHERE run_id = \(run) AND (task, attempt) IN (VALUES \(keys)))
                DELETE FROM completion_reads WHERE run_id = \(run) AND (task, attempt) IN (VALUES \(keys))
                """, p.values)
        }
    }

    /// A completion's outcome as stored: the journal event it becomes, at time 0.
    static func outcomeText(_ w: WorkCompletion) -> String {
        String(decoding: Journal.eventBytes(w.outcome.event(task: w.item.task, attempt: w.item.attempt, atMs: 0)), as: UTF8.self)
    }

    /// The reaper's completions, one statement.
    static func insert(_ ws: [WorkCompletion], into s: PGSession) throws(StoreError) {
        var params: [String?] = []
        for w in ws {
            let i = w.item
            params += [i.runID, PG.int(i.task), PG.int(i.attempt), PG.int(i.agent), i.idempotencyKey, w.owner, outcomeText(w)]
        }
        try s.exec("""
            INSERT INTO completions(run_id, task, attempt, agent, idempotency_key, owner, outcome)
            VALUES \(PG.values(rows: ws.count, columns: 7)) ON CONFLICT (run_id, task, attempt) DO NOTHING
            """, params)
    }

    /// Decodes a stored completion with the journal codec; anything but a task's end is `corrupt`.
    func completion(_ r: [String?], runID: String) throws(StoreError) -> WorkCompletion {
        let task = Int(r.int(1)), attempt = Int(r.int(2))
        let what = "run `\(runID)` work completion of task \(task) attempt \(attempt)"
        let event: Event
        do throws(PostgresStore.DecodeError) { event = try PostgresStore.decodeEvent(Array(r.text(6).utf8)) } catch {
            throw StoreError(.corrupt, path: location, message: "\(what): \(error.message)")
        }
        let outcome: WorkOutcome
        if case .taskSucceeded(_, _, let o, let cost, let tokens, _) = event {
            outcome = .succeeded(outputs: o, costMicros: cost, tokens: tokens)
        } else if case .taskFailed(_, _, let e, let m, let cost, let tokens, _, let wait) = event {
            outcome = .failed(errorClass: e, message: m, costMicros: cost, tokens: tokens, retryAfterMs: wait)
        } else {
            throw StoreError(.corrupt, path: location, message: "\(what): the outcome is not a task's end")
        }
        let log = r[7] == nil ? nil
            : AttemptLogRow(task: Int(r.int(7)), attempt: Int(r.int(8)), seq: Int(r.int(9)), agent: Int(r.int(10)),
                            exitCode: r.optionalInt(11).map { Int32(truncatingIfNeeded: $0) }, durationMs: r.int(12),
                            stdout: r.text(13), stderr: r.text(14))
        let item = WorkItem(runID: runID, task: task, attempt: attempt, agent: Int(r.int(3)), idempotencyKey: r.text(4))
        return WorkCompletion(item: item, owner: r.text(5), outcome: outcome, log: log)
    }
}
