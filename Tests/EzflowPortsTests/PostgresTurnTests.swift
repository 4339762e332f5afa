// The coordinator's turn on PostgreSQL (`TurnStore`): the journal append carries the
// turn's acknowledgements, cancels and offers and its wake-up, all in one transaction:
// an append that is refused leaves the queue as it was, and a batch that dispatches
// thousands of attempts at once still commits as one.
import EzflowIR
import EzflowPorts
@testable import EzflowPostgres
import EzflowRuntime
import Foundation
import XCTest

extension PostgresBackendTests {
    func dispatching(_ seq: Int, tasks: Range<Int>) -> JournalRecord {
        JournalRecord(seq: seq, event: record(seq).event,
                      commands: tasks.map { .dispatch(task: $0, attempt: 1, agent: 0, idempotencyKey: "r/t\($0)") })
    }

    func turn(ack: [Int] = [], cancel: [Int] = [], offer: [Int] = [], deadLetter: [Int] = []) -> TurnQueueWrites {
        var w = TurnQueueWrites(nowMs: 100)
        w.acknowledged = ack.map(item)
        w.cancelled = cancel.map(item)
        w.offered = offer.map(item)
        w.deadLetters = deadLetter.map { DeadLetterEntry(runID: "r", seq: 1, task: $0, taskName: "t\($0)", kind: .deadLettered, errorClass: "failed",
                                                         message: "exit 1", attempts: 2, atMs: 5) }
        return w
    }

    func count(_ b: PostgresBackend, _ table: String) throws -> Int {
        Int(try b.rawExec("SELECT count(*) FROM \(table)").first?[0] ?? "") ?? -1
    }

    func testATurnCommitsItsAcknowledgementsCancelsOffersAndWakeUpWithItsRecords() throws {
        let b = try backend()
        let store = b.store(), queue = b.queue(), listener = b.listener()
        try listener.listen()
        try store.createRun(newRun("r"))
        try store.append(run: "r", expectedSeq: 0, records: [dispatching(0, tasks: 0..<2)], update: nil, logs: [], consumedInbox: [])
        try queue.offer([item(0), item(1)], nowMs: 0)
        let leases = try queue.claim(owner: "w", max: 2, nowMs: 1, leaseMs: 30_000)
        XCTAssertEqual(leases.count, 2)
        XCTAssertTrue(try queue.complete(WorkCompletion(item: item(0), owner: "w", outcome: .succeeded(outputs: .object([]), costMicros: 0, tokens: 0)),
                                         nowMs: 5))
        XCTAssertEqual(try queue.completions(run: "r", reader: "coord").map(\.item.task), [0])
        _ = try listener.wait(timeoutMs: 20)  // drop any wake-up so far

        // Task 0 succeeded: the turn journals it, dispatches 2 and 3, and cancels 1.
        let folded = JournalRecord(seq: 1, event: .taskSucceeded(task: 0, attempt: 1, outputs: .object([]), costMicros: 0, tokens: 0, atMs: 5),
                                   commands: [.dispatch(task: 2, attempt: 1, agent: 0, idempotencyKey: "r/t2"),
                                              .dispatch(task: 3, attempt: 1, agent: 0, idempotencyKey: "r/t3"), .cancel(task: 1, attempt: 1)])
        try store.append(run: "r", expectedSeq: 1, records: [folded], update: RunUpdate(status: .running, verdict: nil, updatedMs: 5), logs: [],
                         consumedInbox: [], processes: ProcessChanges(), queue: turn(ack: [0], cancel: [1], offer: [2, 3], deadLetter: [4]))
        XCTAssertEqual(try count(b, "completions"), 0, "the folded completion is consumed")
        XCTAssertEqual(try count(b, "completion_reads"), 0)
        XCTAssertEqual(try b.rawExec("SELECT task FROM tasks WHERE cancelled ORDER BY task").map { $0[0] }, ["1"])
        // Stamped on the server's clock as the rows were written (not the turn's 100).
        XCTAssertEqual(try b.rawExec("""
            SELECT task, abs(offered_ms - (extract(epoch FROM clock_timestamp()) * 1000)::bigint) < 60000 FROM tasks WHERE task >= 2 ORDER BY task
            """).map { $0.map { $0 ?? "" } }, [["2", "t"], ["3", "t"]])
        XCTAssertEqual(try b.rawExec("SELECT task FROM attempts ORDER BY task").map { $0[0] }, ["2", "3"], "0 ended, 1 cancelled, 2 and 3 open")
        XCTAssertEqual(try b.rawExec("SELECT run_id, seq, task_name, kind, error_class, attempts FROM dead_letters").map { $0.map { $0 ?? "" } },
                       [["r", "1", "t4", "dead_lettered", "failed", "2"]], "the dead-letter feed's entry commits with its record")
        XCTAssertTrue(try listener.wait(timeoutMs: 5_000), "the workers are woken by the commit")
        let claimed = try queue.claim(owner: "w2", max: 5, nowMs: 10, leaseMs: 30_000)
        XCTAssertEqual(claimed.map(\.item.task).sorted(), [2, 3])
        for l in claimed { XCTAssertTrue((0..<60_000).contains(l.waitedMs ?? -1), "the wait, on the server's clock: \(String(describing: l.waitedMs))") }
        XCTAssertEqual(try store.journal(run: "r", from: 0).count, 2)
    }

    func testARefusedTurnLeavesTheQueueAsItWas() throws {
        let b = try backend()
        let (a, other) = (b.store(), b.store())
        let queue = b.queue()
        try a.createRun(newRun("r"))
        try a.append(run: "r", expectedSeq: 0, records: [dispatching(0, tasks: 0..<1)], update: nil, logs: [], consumedInbox: [])
        try queue.offer([item(0)], nowMs: 0)
        _ = try queue.claim(owner: "w", max: 1, nowMs: 1, leaseMs: 30_000)
        XCTAssertTrue(try queue.complete(WorkCompletion(item: item(0), owner: "w", outcome: .succeeded(outputs: .object([]), costMicros: 0, tokens: 0)),
                                         nowMs: 5))
        // Another writer appends seq 1 first: `a` (which wrote seq 0, so it tries its
        // one-statement path) and then a store that never wrote (the checked path) are
        // both refused, and neither acknowledges, cancels or offers anything.
        try other.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: [])
        let refused = JournalRecord(seq: 1, event: .taskSucceeded(task: 0, attempt: 1, outputs: .object([]), costMicros: 0, tokens: 0, atMs: 5),
                                    commands: [.dispatch(task: 1, attempt: 1, agent: 0, idempotencyKey: "r/t1")])
        for store in [a, b.store()] {
            XCTAssertThrowsError(try store.append(run: "r", expectedSeq: 1, records: [refused], update: nil, logs: [], consumedInbox: [],
                                                  processes: ProcessChanges(), queue: turn(ack: [0], cancel: [0], offer: [1], deadLetter: [0]))) { e in
                XCTAssertEqual((e as? StoreError)?.kind, .conflict, "\(e)")
            }
            XCTAssertEqual(try count(b, "completions"), 1, "the completion waits for the coordinator that journals it")
            XCTAssertEqual(try b.rawExec("SELECT task, cancelled FROM tasks ORDER BY task").map { $0.map { $0 ?? "" } }, [["0", "f"]], "nothing offered or cancelled")
            XCTAssertEqual(try count(b, "dead_letters"), 0, "nothing added to the dead-letter feed")
        }
    }

    func testABatchThatDispatchesThousandsOfAttemptsCommitsAsOne() throws {
        let b = try backend()
        let store = b.store(), queue = b.queue()
        try store.createRun(newRun("r"))
        try store.append(run: "r", expectedSeq: 0, records: [record(0)], update: nil, logs: [], consumedInbox: [])
        // 12,000 dispatches: about 130,000 parameters, twice what one statement may carry.
        let n = 12_000
        try store.append(run: "r", expectedSeq: 1, records: [dispatching(1, tasks: 0..<n)], update: RunUpdate(status: .running, verdict: nil, updatedMs: 1),
                         logs: [], consumedInbox: [], processes: ProcessChanges(), queue: turn(offer: Array(0..<n)))
        XCTAssertEqual(try count(b, "attempts"), n)
        XCTAssertEqual(try count(b, "tasks"), n)
        XCTAssertEqual(try store.journal(run: "r", from: 0).last?.commands.count, n)
        // The head is still known: the next append takes the one-statement path and fits.
        try store.append(run: "r", expectedSeq: 2, records: [record(2)], update: nil, logs: [], consumedInbox: [], processes: ProcessChanges(),
                         queue: turn(cancel: [0]))
        XCTAssertEqual(try b.rawExec("SELECT count(*) FROM tasks WHERE cancelled").first?[0], "1")
        XCTAssertEqual(try queue.claim(owner: "w", max: 50, nowMs: 2, leaseMs: 30_000).count, 50)
    }
}
