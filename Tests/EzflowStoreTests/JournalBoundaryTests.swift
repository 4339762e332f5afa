import EzflowIR
import EzflowPorts
import EzflowRuntime
@testable import EzflowStore
import Foundation
import XCTest

/// The journal boundary in both directions: a batch must continue this run's journal
/// (sequence and run id), and what is read back must be that journal without a hole.
final class JournalBoundaryTests: XCTestCase {
    func started(_ store: DurableStore, id: String = "run-1") throws -> Plan {
        let (ir, plan) = try compiledSnippet()
        try store.createRun(newRun(id, plan: plan, ir: ir))
        return plan
    }

    func start(_ id: String, _ plan: Plan) -> Event { .runStarted(runID: id, seed: 7, planHash: plan.hash, tagLimits: [:], atMs: 1_000) }

    func testABatchMustBelongToThisRun() throws {
        let store = try DurableStore(path: try tempDir(self) + "/a.db")
        let plan = try started(store)
        let other = assertThrowsStore(.conflict) {
            try store.append(run: "run-1", records: [JournalRecord(seq: 0, event: self.start("run-2", plan), commands: [])])
        }
        XCTAssertEqual(other?.message, "run `run-1`: record 0 starts run `run-2`, not this one")
        let headless = assertThrowsStore(.conflict) {
            try store.append(run: "run-1", records: [JournalRecord(seq: 0, event: .resumed(atMs: 1), commands: [])])
        }
        XCTAssertEqual(headless?.message, "run `run-1`: record 0 is `resumed`; a journal starts with `run_started` at seq 0 and has it nowhere else")
        XCTAssertEqual(try store.journal(run: "run-1"), [])

        try store.append(run: "run-1", records: [JournalRecord(seq: 0, event: start("run-1", plan), commands: [])])
        let restart = assertThrowsStore(.conflict) {
            try store.append(run: "run-1", records: [JournalRecord(seq: 1, event: self.start("run-1", plan), commands: [])])
        }
        XCTAssertEqual(restart?.message, "run `run-1`: record 1 is `run_started`; a journal starts with `run_started` at seq 0 and has it nowhere else")
        XCTAssertEqual(try store.journal(run: "run-1").count, 1)
    }

    /// Both `JournalStore`s refuse the same foreign and misplaced starts, with the same words.
    func testEveryJournalStoreHoldsTheIdentityBoundary() throws {
        let (ir, plan) = try compiledSnippet()
        let stores: [any JournalStore] = [try DurableStore(path: try tempDir(self) + "/a.db"), MemoryStore()]
        for store in stores {
            try store.createRun(newRun("run-1", plan: plan, ir: ir))
            for (seq, event, why) in [
                (0, start("run-2", plan), "record 0 starts run `run-2`, not this one"),
                (0, Event.resumed(atMs: 1), "record 0 is `resumed`; a journal starts with `run_started` at seq 0 and has it nowhere else"),
            ] {
                let e = assertThrowsStore(.conflict) {
                    try store.append(run: "run-1", expectedSeq: 0, records: [JournalRecord(seq: seq, event: event, commands: [])],
                                     update: nil, logs: [], consumedInbox: [])
                }
                XCTAssertEqual(e?.message, "run `run-1`: " + why, store.location)
            }
            XCTAssertEqual(try store.journal(run: "run-1", from: 0), [], store.location)
        }
    }

    /// Rows edited behind the store's back: a missing seq, a start of another run. Each is
    /// a `corrupt` error naming the run and the record, never a shorter journal.
    func testReadingRefusesAGapAndAForeignStart() throws {
        let path = try tempDir(self) + "/a.db"
        let store = try DurableStore(path: path)
        let plan = try started(store)
        var records = [JournalRecord(seq: 0, event: start("run-1", plan), commands: [])]
        for i in 1...4 { records.append(JournalRecord(seq: i, event: .timerFired(.wake, atMs: 1_000 + Int64(i)), commands: [])) }
        try store.append(run: "run-1", records: records)
        XCTAssertEqual(try store.journal(run: "run-1"), records)

        try DurableStore.rawExec(path: path, sql: "DELETE FROM journal WHERE run_id = 'run-1' AND seq = 2")
        let gap = assertThrowsStore(.corrupt) { _ = try store.journal(run: "run-1") }
        XCTAssertEqual(gap?.message, "run `run-1` journal: record 2 is missing (the next stored is 3)")
        let tail = assertThrowsStore(.corrupt) { _ = try store.journal(run: "run-1", from: 1) }
        XCTAssertEqual(tail?.message, "run `run-1` journal: record 2 is missing (the next stored is 3)")
        // A read past the gap cannot check the chain from its start: the gap is named too.
        let past = assertThrowsStore(.corrupt) { _ = try store.journal(run: "run-1", from: 3) }
        XCTAssertEqual(past?.message, "run `run-1` journal: record 2 is missing (the next stored is 3)")

        try DurableStore.rawExec(path: path, sql: "DELETE FROM journal WHERE run_id = 'run-1' AND seq > 0")
        try DurableStore.rawExec(path: path, sql: "UPDATE journal SET event = replace(event, '\"run-1\"', '\"run-9\"') WHERE run_id = 'run-1'")
        let foreign = assertThrowsStore(.corrupt) { _ = try store.journal(run: "run-1") }
        XCTAssertEqual(foreign?.message, "run `run-1`: record 0 starts run `run-9`, not this one")
    }
}
