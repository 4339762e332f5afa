// The dead-letter feed's table in the store's file (schema 7): written by the
// coordinator's journal append (`TurnStore`, feed only: the queue's items go to
// `SQLiteWorkQueue` after the commit) and by `SQLiteWorkQueue.deadLetter`.
import EzflowPorts
import EzflowRuntime

extension DurableStore: TurnStore {
    /// `append` with the turn's dead-letter entries in the same transaction; a turn that
    /// acknowledges, cancels or offers is refused (those are `SQLiteWorkQueue`'s).
    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64], processes: ProcessChanges, queue: TurnQueueWrites) throws(StoreError) {
        guard queue.acknowledged.isEmpty && queue.cancelled.isEmpty && queue.offered.isEmpty else {
            throw StoreError(.misuse, path: path, message: "this store writes only the dead-letter feed with its journal, not the queue's items")
        }
        if let first = records.first, first.seq != expectedSeq {
            throw StoreError(.conflict, path: path, message: "run `\(runID)`: batch starts at seq \(first.seq), expected \(expectedSeq)")
        }
        try append(run: runID, records: records, queue: QueueOp.derived(from: records), update: update, logs: logs, consumedInbox: consumedInbox,
                   expectedSeq: expectedSeq, processes: processes, deadLetters: queue.deadLetters)
    }

    /// Each entry once per (run, seq, task, kind), inside the caller's transaction.
    static func insertDeadLetters(_ c: Connection, _ entries: [DeadLetterEntry]) throws(StoreError) {
        for e in entries {
            try c.run("""
                INSERT INTO dead_letters(run_id, seq, task, task_name, kind, error_class, message, attempts, at_ms, principal)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                ON CONFLICT(run_id, seq, task, kind) DO NOTHING
                """) { st in
                st.bind(1, e.runID); st.bind(2, e.seq); st.bind(3, e.task); st.bind(4, e.taskName); st.bind(5, e.kind.rawValue)
                st.bind(6, e.errorClass); st.bind(7, e.message); st.bind(8, e.attempts); st.bind(9, e.atMs); st.bind(10, e.principal)
            }
        }
    }
}
