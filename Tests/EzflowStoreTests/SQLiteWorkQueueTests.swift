// What the SQLite work queue adds to the WorkQueue contract (which PortConformanceTests
// checks): it lives in the store's file, survives a reopen, is shared by connections of
// other processes, and arrives in old files by migration.
import EzflowIR
import EzflowPorts
import EzflowRuntime
@testable import EzflowStore
import Foundation
import Synchronization
import XCTest

final class SQLiteWorkQueueTests: XCTestCase {
    static func item(_ task: Int, run: String = "r") -> WorkItem {
        WorkItem(runID: run, task: task, attempt: 1, agent: 0, idempotencyKey: "\(run)/t\(task)")
    }

    static func done(_ i: WorkItem, by owner: String) -> WorkCompletion {
        WorkCompletion(item: i, owner: owner, outcome: .succeeded(outputs: .int(Int64(i.task)), costMicros: 1, tokens: 2))
    }

    /// Two connections to one file (two worker processes), two threads on each, claiming
    /// small batches at once: every item is claimed exactly once, and every completion
    /// reaches the coordinator's connection.
    func testTwoConnectionsClaimEachItemOnce() throws {
        let path = try tempDir(self) + "/q.db"
        let coordinator = try SQLiteWorkQueue(path: path)
        let workers = [try SQLiteWorkQueue(path: path), try SQLiteWorkQueue(path: path)]
        let all = (0..<400).map { Self.item($0) }
        for batch in stride(from: 0, to: all.count, by: 50) { try coordinator.offer(Array(all[batch..<batch + 50]), nowMs: 0) }
        struct Seen { var leases: [Lease] = []; var errors: [String] = [] }
        let seen = Mutex(Seen())
        let ready = Atomic<Int>(0)
        let threads = (0..<4).map { n in
            Thread {
                let q = workers[n % 2], owner = "w\(n)"
                // Start together, so the claims really overlap.
                ready.add(1, ordering: .sequentiallyConsistent)
                while ready.load(ordering: .sequentiallyConsistent) < 4 { usleep(100) }
                do {
                    // At most ~100 per thread: SQLite's busy handler is not fair (below), and
                    // under load one connection could take everything; capped, the other
                    // must claim the rest, concurrently with it.
                    var mine = 0
                    while mine < 100 {
                        let got = try q.claim(owner: owner, max: 1 + n, nowMs: 1, leaseMs: 60_000)
                        if got.isEmpty { break }
                        mine += got.count
                        usleep(2_000) // the work, outside the database lock (see below)
                        for l in got {
                            if try !q.complete(Self.done(l.item, by: owner), nowMs: 2) {
                                seen.withLock { $0.errors.append("\(owner): completion of task \(l.item.task) refused") }
                            }
                        }
                        seen.withLock { $0.leases += got }
                    }
                } catch { seen.withLock { $0.errors.append("\(owner): \(error)") } }
                ready.add(1, ordering: .sequentiallyConsistent)
            }
        }
        threads.forEach { $0.start() }
        while ready.load(ordering: .sequentiallyConsistent) < 8 { usleep(1_000) }
        let result = seen.withLock { $0 }
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.leases.map(\.item.task).sorted(), Array(0..<400), "each item claimed exactly once")
        // SQLite's busy handler is not fair: without the pause for "work", one connection
        // whose threads take turns keeps the write lock and the other starves (measured:
        // 400 to 0) until the queue is empty or its busy timeout runs out.
        let perOwner = Dictionary(grouping: result.leases, by: \.owner).mapValues(\.count)
        XCTAssertTrue(perOwner.keys.contains { ["w0", "w2"].contains($0) } && perOwner.keys.contains { ["w1", "w3"].contains($0) },
                      "both connections got work: \(perOwner)")
        XCTAssertEqual(result.leases.map(\.deliveries), Array(repeating: 1, count: 400))
        let completions = try coordinator.completions(run: "r", reader: "c")
        XCTAssertEqual(completions.map(\.item.task).sorted(), Array(0..<400))
        XCTAssertEqual(completions.first { $0.item.task == 7 }?.outcome, .succeeded(outputs: .int(7), costMicros: 1, tokens: 2))
    }

    /// The queue shares the store's file and connection with the journal, and what it
    /// accepted is still there after both are closed and reopened.
    func testQueueLivesInTheStoreFileAcrossReopen() throws {
        let path = try tempDir(self) + "/s.db"
        let store = try DurableStore(path: path)
        let q = SQLiteWorkQueue(store: store)
        try store.createRun(NewRun(runID: "r", workflow: "w", irHash: "h", ir: [1], seed: 1, createdMs: 0))
        try store.append(run: "r", expectedSeq: 0,
                         records: [JournalRecord(seq: 0, event: .runStarted(runID: "r", seed: 1, planHash: "h", tagLimits: [:], atMs: 0), commands: [])],
                         update: nil, logs: [], consumedInbox: [])
        try q.offer([Self.item(0), Self.item(1), Self.item(2)], nowMs: 0)
        _ = try q.claim(owner: "w", max: 2, nowMs: 0, leaseMs: 100)
        XCTAssertTrue(try q.complete(Self.done(Self.item(0), by: "w"), nowMs: 1))
        store.close()

        let reopened = try SQLiteWorkQueue(path: path)
        XCTAssertEqual(try reopened.store.journal(run: "r", from: 0).count, 1)
        XCTAssertEqual(try reopened.completions(run: "r", reader: "c").map(\.item), [Self.item(0)], "an accepted completion survives")
        XCTAssertTrue(try reopened.complete(Self.done(Self.item(1), by: "w"), nowMs: 2), "a lease survives")
        XCTAssertEqual(try reopened.claim(owner: "x", max: 9, nowMs: 3, leaseMs: 100).map(\.item), [Self.item(2)], "the queue survives")
        try reopened.store.deleteRun("r")
        XCTAssertEqual(try reopened.completions(run: "r", reader: "new").count, 0, "deleting a run deletes its queue")
        XCTAssertEqual(try reopened.expire(nowMs: 1_000).count, 0)
    }

    /// A version-2 file (before the queue) is migrated and keeps its runs; a stored
    /// outcome that does not decode is a `corrupt` error naming the run, not a crash.
    func testVersion2FileGetsTheQueueAndBadRowsAreCorrupt() throws {
        let path = try tempDir(self) + "/v2.db"
        try DurableStore.rawExec(path: path, sql: Schema.migrations[0] + Schema.migrations[1] + """
            PRAGMA application_id=\(DurableStore.applicationID); PRAGMA user_version=2;
            INSERT INTO runs VALUES ('old', 'wf', 'sha256:ab', 7, 'finished', 'success', 1, 2);
            """)
        let q = try SQLiteWorkQueue(path: path)
        XCTAssertEqual(try q.store.storedSchemaVersion(), DurableStore.schemaVersion)
        XCTAssertEqual(try q.store.run("old")?.verdict, .success)
        try q.offer([Self.item(0)], nowMs: 0)
        _ = try q.claim(owner: "w", max: 1, nowMs: 0, leaseMs: 100)
        XCTAssertTrue(try q.complete(Self.done(Self.item(0), by: "w"), nowMs: 1))
        let notAnEnd = String(decoding: DurableStore.encodeEvent(.resumed(atMs: 0)), as: UTF8.self)
        for (bad, why) in [(notAnEnd, "the outcome is not a task's end"), ("{", "event:")] {
            try DurableStore.rawExec(path: path, sql: "UPDATE work_completions SET outcome = '\(bad)'")
            let e = assertThrowsStore(.corrupt) { _ = try q.completions(run: "r", reader: "c\(bad.count)") }
            XCTAssertTrue(e?.message.hasPrefix("run `r` work completion of task 0 attempt 1: \(why)") ?? false, e?.message ?? "")
        }
    }
}
