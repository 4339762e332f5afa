// Attempt processes ride on a journal append: written and forgotten in the same
// transaction as the records, never on their own commit, and never when the append is
// refused.
import EzflowIR
import EzflowRuntime
import EzflowPorts
@testable import EzflowStore
import Foundation
import XCTest

final class AttemptProcessTests: XCTestCase {
    func testProcessRowsAreWrittenAndForgottenWithTheAppend() throws {
        let (ir, plan) = try compiledSnippet()
        let store = try DurableStore(path: try tempDir(self) + "/p.db")
        var run = try DurableRun.create(store: store, run: newRun("run-1", plan: plan, ir: ir), plan: plan)
        _ = try run.step(.runStarted(runID: "run-1", seed: 7, planHash: plan.hash, tagLimits: [:], atMs: 1_000))
        let a = AttemptProcess(task: 0, attempt: 1, pid: 4242, pgid: 4242, startTicks: 123_456_789)
        let b = AttemptProcess(task: 1, attempt: 2, pid: 4243, pgid: 4243, startTicks: UInt64(Int64.max) + 7)
        try run.commit(processes: ProcessChanges(started: [a, b]))
        XCTAssertEqual(try store.processes(run: "run-1"), [a, b])

        // A stale writer (wrong expected seq) is refused: no process row changes either.
        XCTAssertThrowsError(try store.append(run: "run-1", expectedSeq: 0, records: [], update: nil, logs: [], consumedInbox: [],
                                              processes: ProcessChanges(ended: [a])))
        XCTAssertEqual(try store.processes(run: "run-1"), [a, b])

        // Only process changes: one append with no record (no commit per task: the runner
        // batches them with its next commit).
        try run.commit(processes: ProcessChanges(ended: [a]))
        XCTAssertEqual(try store.processes(run: "run-1"), [b])
        XCTAssertEqual(try store.journal(run: "run-1").count, 1)
        try store.deleteRun("run-1")
        XCTAssertEqual(try store.processes(run: "run-1"), [])
    }

    func testStartedAndEndedBetweenTwoCommitsIsNeverWritten() {
        let a = AttemptProcess(task: 0, attempt: 1, pid: 10, pgid: 10, startTicks: 1)
        let b = AttemptProcess(task: 1, attempt: 1, pid: 11, pgid: 11, startTicks: 2)
        var changes = ProcessChanges(started: [a])
        changes.merge(ProcessChanges(started: [b], ended: [a]))
        XCTAssertEqual(changes, ProcessChanges(started: [b]))
        changes.merge(ProcessChanges(ended: [AttemptProcess(task: 2, attempt: 1, pid: 12, pgid: 12, startTicks: 3)]))
        XCTAssertEqual(changes.ended.map(\.pid), [12], "a process recorded by an earlier commit is forgotten")
    }
}
