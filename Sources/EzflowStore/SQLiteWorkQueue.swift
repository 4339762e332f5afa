// The work queue in the store's SQLite file (schema version 3), so workers in other
// processes can claim a run's attempts. Every call is one `BEGIN IMMEDIATE` transaction
// (the write lock is taken up front, so a second process waits for the busy timeout
// instead of failing on a stale WAL snapshot), and a claim is one
// `UPDATE … WHERE id IN (SELECT … LIMIT ?) RETURNING …`: two workers never get the same
// item. Completions are fenced by (owner, leased state) in the UPDATE itself.
import CSQLite
import EzflowIR
import EzflowPorts
import EzflowRuntime

/// `WorkQueue` over a `DurableStore`'s file: the contract of `WorkQueue`, durable, and
/// shared by every process that opens the same file.
public final class SQLiteWorkQueue: WorkQueue {
    /// The store whose connection (and lock) this queue uses.
    public let store: DurableStore

    /// A queue on `store`'s connection (the coordinator's process).
    public init(store: DurableStore) { self.store = store }

    /// A queue on its own connection to `path` (a worker process), opened and migrated
    /// like the store.
    public convenience init(path: String, options: StoreOptions = StoreOptions()) throws(StoreError) {
        self.init(store: try DurableStore(path: path, options: options))
    }

    enum State: Int64 { case queued = 0, leased = 1, completed = 2 }

    public func offer(_ items: [WorkItem], nowMs: Millis) throws(StoreError) {
        guard !items.isEmpty else { return }
        try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                for i in items {
                    try c.run("""
                        INSERT INTO work_items(run_id, task, attempt, agent, idempotency_key, queue, priority, payload)
                        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                        ON CONFLICT(run_id, task, attempt) DO NOTHING
                        """) { st in
                        st.bind(1, i.runID); st.bind(2, i.task); st.bind(3, i.attempt); st.bind(4, i.agent); st.bind(5, i.idempotencyKey)
                        st.bind(6, i.queue); st.bind(7, i.priority); st.bind(8, blob: i.payload)
                    }
                }
            }
        }
    }

    public func claim(owner: String, queues: [String], max: Int, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> [Lease] {
        // SQLite reads a negative LIMIT as "no limit".
        guard max > 0 else { return [] }
        let until = nowMs + leaseMs
        // The queues as one JSON array parameter: `IN (SELECT value FROM json_each(?))`.
        let filter = queues.isEmpty ? "" : "AND queue IN (SELECT value FROM json_each(?4))"
        let list = String(decoding: CanonicalJSON.encode(.array(queues.map { .string($0) })), as: UTF8.self)
        let rows: [(Int, Int64, Lease)] = try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                var out: [(Int, Int64, Lease)] = []
                try c.query("""
                    UPDATE work_items SET state = 1, owner = ?1, lease_until = ?2, deliveries = deliveries + 1
                    WHERE id IN (SELECT id FROM work_items WHERE state = 0 AND cancelled = 0 \(filter) ORDER BY priority, id LIMIT ?3)
                    RETURNING id, \(Self.itemColumns), deliveries
                    """, { st in st.bind(1, owner); st.bind(2, until); st.bind(3, max); if !queues.isEmpty { st.bind(4, list) } }) { st in
                    let item = Self.item(st, from: 1)
                    out.append((item.priority, st.int(0), Lease(item: item, owner: owner, expiresAtMs: until, deliveries: Int(st.int(9)))))
                }
                return out
            }
        }
        // RETURNING gives no order; offer order is the row id.
        return rows.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
    }

    public func complete(_ completion: WorkCompletion, nowMs: Millis) throws(StoreError) -> Bool {
        try complete([completion], nowMs: nowMs)[0]
    }

    /// In one transaction: one commit for the batch.
    public func complete(_ completions: [WorkCompletion], nowMs: Millis) throws(StoreError) -> [Bool] {
        guard !completions.isEmpty else { return [] }
        return try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) -> [Bool] in
                var out: [Bool] = []
                for completion in completions { out.append(try Self.complete(completion, on: c)) }
                return out
            }
        }
    }

    static func complete(_ completion: WorkCompletion, on c: Connection) throws(StoreError) -> Bool {
        let i = completion.item
        let outcome = Self.outcomeBytes(completion)
        let fenced = try c.scalarInt("""
            UPDATE work_items SET state = 2, owner = NULL, lease_until = NULL
            WHERE run_id = ?1 AND task = ?2 AND attempt = ?3 AND state = 1 AND owner = ?4 RETURNING id
            """) { st in st.bind(1, i.runID); st.bind(2, i.task); st.bind(3, i.attempt); st.bind(4, completion.owner) }
        guard fenced != nil else { return false }
        try Self.insert(completion, outcome: outcome, into: c)
        return true
    }

    public func expire(nowMs: Millis) throws(StoreError) -> [WorkItem] {
        let rows: [(Int64, WorkItem)] = try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                var out: [(Int64, WorkItem)] = []
                var lost: [(WorkItem, Int)] = []
                try c.query("""
                    UPDATE work_items SET state = CASE WHEN deliveries >= ?2 THEN 2 ELSE 0 END, owner = NULL, lease_until = NULL
                    WHERE state = 1 AND lease_until <= ?1
                    RETURNING id, \(Self.itemColumns), deliveries
                    """, { $0.bind(1, nowMs); $0.bind(2, WorkQueueLimits.maxDeliveries) }) { st in
                    let item = Self.item(st, from: 1)
                    out.append((st.int(0), item))
                    if st.int(9) >= WorkQueueLimits.maxDeliveries { lost.append((item, Int(st.int(9)))) }
                }
                for (item, n) in lost {
                    let l = WorkQueueLimits.lost(item, deliveries: n)
                    try Self.insert(l, outcome: Self.outcomeBytes(l), into: c)
                }
                return out
            }
        }
        return rows.sorted { $0.0 < $1.0 }.map(\.1)
    }

    public func renew(owner: String, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> Int {
        try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) -> Int in
                var n = 0
                try c.query("UPDATE work_items SET lease_until = ?2 WHERE state = 1 AND owner = ?1 RETURNING id", { st in
                    st.bind(1, owner); st.bind(2, nowMs + leaseMs)
                }) { _ in n += 1 }
                return n
            }
        }
    }

    public func release(owner: String) throws(StoreError) {
        try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                try c.run("""
                    UPDATE work_items SET state = 0, owner = NULL, lease_until = NULL, deliveries = deliveries - 1
                    WHERE state = 1 AND owner = ?1
                    """) { $0.bind(1, owner) }
            }
        }
    }

    public func cancel(run runID: String, task: Int, attempt: Int) throws(StoreError) {
        try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                let bind = { (st: Statement) in st.bind(1, runID); st.bind(2, task); st.bind(3, attempt) }
                try c.run("DELETE FROM work_items WHERE run_id = ?1 AND task = ?2 AND attempt = ?3 AND state = 0", bind)
                try c.run("UPDATE work_items SET cancelled = 1 WHERE run_id = ?1 AND task = ?2 AND attempt = ?3", bind)
            }
        }
    }

    public func forget(run runID: String) throws(StoreError) {
        try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                let bind = { (st: Statement) in st.bind(1, runID) }
                // Rows stay (ids count the offers; a re-offer stays a no-op): only their payloads go.
                try c.run("""
                    UPDATE work_items SET state = CASE state WHEN 0 THEN 2 ELSE state END,
                        cancelled = CASE state WHEN 1 THEN 1 ELSE cancelled END, payload = x'' WHERE run_id = ?1
                    """, bind)
                try c.run("DELETE FROM work_completions WHERE run_id = ?1", bind)
                try c.run("DELETE FROM work_reads WHERE run_id = ?1", bind)
            }
        }
    }

    public func deadLetter(_ entries: [DeadLetterEntry]) throws(StoreError) {
        guard !entries.isEmpty else { return }
        try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in try DurableStore.insertDeadLetters(c, entries) }
        }
    }

    public func deadLetters(run runID: String?) throws(StoreError) -> [DeadLetterEntry] {
        try store.with { c throws(StoreError) in
            var out: [DeadLetterEntry] = []
            try c.query("""
                SELECT run_id, seq, task, task_name, kind, error_class, message, attempts, at_ms, principal FROM dead_letters
                WHERE ?1 IS NULL OR run_id = ?1 ORDER BY id
                """, { st in if let runID { st.bind(1, runID) } }) { st in
                out.append(DeadLetterEntry(runID: st.text(0), seq: Int(st.int(1)), task: Int(st.int(2)), taskName: st.text(3),
                                           kind: DeadLetterEntry.Kind(rawValue: st.text(4)) ?? .deadLettered, errorClass: st.text(5),
                                           message: st.text(6), attempts: Int(st.int(7)), atMs: st.int(8), principal: st.text(9)))
            }
            return out
        }
    }

    public func cancelled(owner: String) throws(StoreError) -> [WorkItem] {
        try store.with { c throws(StoreError) in
            var out: [WorkItem] = []
            try c.query("SELECT \(Self.itemColumns) FROM work_items WHERE state = 1 AND owner = ?1 AND cancelled = 1 ORDER BY id",
                        { $0.bind(1, owner) }) { st in out.append(Self.item(st, from: 0)) }
            return out
        }
    }

    public func completions(run runID: String, reader: String) throws(StoreError) -> [WorkCompletion] {
        let rows: [StoredCompletion] = try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                var out: [StoredCompletion] = []
                try c.query("""
                    SELECT \(StoredCompletion.columns) FROM work_completions w
                    WHERE run_id = ?1 AND NOT EXISTS (SELECT 1 FROM work_reads r WHERE r.run_id = w.run_id AND r.task = w.task
                                                      AND r.attempt = w.attempt AND r.reader = ?2)
                    ORDER BY id
                    """, { st in st.bind(1, runID); st.bind(2, reader) }) { st in out.append(StoredCompletion(st)) }
                for r in out {
                    try c.run("INSERT INTO work_reads(run_id, task, attempt, reader) VALUES (?1, ?2, ?3, ?4)") { st in
                        st.bind(1, runID); st.bind(2, r.task); st.bind(3, r.attempt); st.bind(4, reader)
                    }
                }
                return out
            }
        }
        var out: [WorkCompletion] = []
        out.reserveCapacity(rows.count)
        for r in rows { out.append(try r.completion(runID: runID, path: store.path)) }
        return out
    }

    public func acknowledge(run runID: String, _ items: [WorkItem]) throws(StoreError) {
        guard !items.isEmpty else { return }
        try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) in
                for i in items {
                    let bind = { (st: Statement) in st.bind(1, runID); st.bind(2, i.task); st.bind(3, i.attempt) }
                    try c.run("DELETE FROM work_completions WHERE run_id = ?1 AND task = ?2 AND attempt = ?3", bind)
                    try c.run("DELETE FROM work_reads WHERE run_id = ?1 AND task = ?2 AND attempt = ?3", bind)
                }
            }
        }
    }

    public func depth() throws(StoreError) -> QueueDepth {
        try store.with { c throws(StoreError) in
            try c.transaction { () throws(StoreError) -> QueueDepth in
                var d = QueueDepth()
                try c.query("SELECT queue, state, count(*) FROM work_items WHERE state < 2 AND cancelled = 0 GROUP BY queue, state", { _ in }) { st in
                    if st.int(1) == 0 { d.queued[st.text(0)] = Int(st.int(2)) } else { d.leased[st.text(0)] = Int(st.int(2)) }
                }
                d.owners = Int(try c.scalarInt("SELECT count(DISTINCT owner) FROM work_items WHERE state = 1 AND cancelled = 0") ?? 0)
                // Rows stay after completion, so the largest id counts the offers (a cancelled
                // queued item's row is deleted: it is off the count if it was the last one).
                d.offered = try c.scalarInt("SELECT max(id) FROM work_items") ?? 0
                return d
            }
        }
    }

    static let itemColumns = "run_id, task, attempt, agent, idempotency_key, queue, priority, payload"

    /// The item in columns `from…from+7` (`itemColumns`).
    static func item(_ st: Statement, from i: Int32) -> WorkItem {
        WorkItem(runID: st.text(i), task: Int(st.int(i + 1)), attempt: Int(st.int(i + 2)), agent: Int(st.int(i + 3)),
                 idempotencyKey: st.text(i + 4), queue: st.text(i + 5), priority: Int(st.int(i + 6)), payload: st.bytes(i + 7))
    }

    /// A completion's outcome as stored: the journal event it becomes, at time 0.
    static func outcomeBytes(_ w: WorkCompletion) -> [UInt8] {
        DurableStore.encodeEvent(w.outcome.event(task: w.item.task, attempt: w.item.attempt, atMs: 0))
    }

    static func insert(_ w: WorkCompletion, outcome: [UInt8], into c: Connection) throws(StoreError) {
        try c.run("""
            INSERT INTO work_completions(run_id, task, attempt, agent, idempotency_key, owner, outcome, log_task, log_attempt,
                                         log_seq, log_agent, log_exit_code, log_duration_ms, log_stdout, log_stderr)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
            """) { st in
            let i = w.item
            st.bind(1, i.runID); st.bind(2, i.task); st.bind(3, i.attempt); st.bind(4, i.agent); st.bind(5, i.idempotencyKey)
            st.bind(6, w.owner); st.bind(7, text: outcome)
            guard let l = w.log else { return }
            st.bind(8, l.task); st.bind(9, l.attempt); st.bind(10, l.seq); st.bind(11, l.agent)
            if let e = l.exitCode { st.bind(12, Int64(e)) }
            st.bind(13, l.durationMs); st.bind(14, l.stdout); st.bind(15, l.stderr)
        }
    }
}

/// A `work_completions` row as read, decoded outside the connection's lock.
struct StoredCompletion: Sendable {
    static let columns = """
        task, attempt, agent, idempotency_key, owner, outcome, log_task, log_attempt, log_seq, log_agent, log_exit_code,
        log_duration_ms, log_stdout, log_stderr
        """
    var task: Int
    var attempt: Int
    var agent: Int
    var key: String
    var owner: String
    var outcome: [UInt8]
    var log: AttemptLogRow?

    init(_ st: Statement) {
        task = Int(st.int(0))
        attempt = Int(st.int(1))
        agent = Int(st.int(2))
        key = st.text(3)
        owner = st.text(4)
        outcome = st.bytes(5)
        log = st.isNull(6) ? nil
            : AttemptLogRow(task: Int(st.int(6)), attempt: Int(st.int(7)), seq: Int(st.int(8)), agent: Int(st.int(9)),
                            exitCode: st.isNull(10) ? nil : Int32(truncatingIfNeeded: st.int(10)), durationMs: st.int(11),
                            stdout: st.text(12), stderr: st.text(13))
    }

    /// Decodes the outcome with the journal codec; anything but a task's end is `corrupt`.
    func completion(runID: String, path: String) throws(StoreError) -> WorkCompletion {
        let what = "run `\(runID)` work completion of task \(task) attempt \(attempt)"
        let event: Event
        do throws(DurableStore.DecodeError) { event = try DurableStore.decodeEvent(outcome) } catch {
            throw StoreError(.corrupt, path: path, message: "\(what): \(error.message)")
        }
        let result: WorkOutcome
        if case .taskSucceeded(_, _, let o, let cost, let tokens, _) = event {
            result = .succeeded(outputs: o, costMicros: cost, tokens: tokens)
        } else if case .taskFailed(_, _, let e, let m, let cost, let tokens, _, let wait) = event {
            result = .failed(errorClass: e, message: m, costMicros: cost, tokens: tokens, retryAfterMs: wait)
        } else {
            throw StoreError(.corrupt, path: path, message: "\(what): the outcome is not a task's end")
        }
        let item = WorkItem(runID: runID, task: task, attempt: attempt, agent: agent, idempotencyKey: key)
        return WorkCompletion(item: item, owner: owner, outcome: result, log: log)
    }
}
