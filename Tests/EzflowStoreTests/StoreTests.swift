import EzflowIR
import EzflowRuntime
import EzflowPorts
@testable import EzflowStore
import Foundation
import XCTest

final class StoreTests: XCTestCase {
    /// Drives the compiled snippet to the end, committing every step; returns the
    /// in-memory journal the core produced.
    @discardableResult
    func drive(_ run: inout DurableRun, loop: inout FakeLoop, stopAfter: Int = .max) throws -> [JournalRecord] {
        var memory: [JournalRecord] = []
        var steps = 0
        while steps < stopAfter, let e = loop.next() {
            let cs = try run.step(e)
            memory.append(run.pending.last!)
            try run.commit()
            loop.take(cs, now: run.state.nowMs)
            steps += 1
        }
        return memory
    }

    func startedRun(_ store: DurableStore, _ ir: [UInt8], _ plan: Plan, loop: inout FakeLoop, id: String = "run-1") throws -> (DurableRun, [JournalRecord]) {
        var run = try DurableRun.create(store: store, run: newRun(id, plan: plan, ir: ir), plan: plan)
        let cs = try run.step(.runStarted(runID: id, seed: 7, planHash: plan.hash, tagLimits: [:], atMs: 1_000))
        let first = run.pending
        try run.commit()
        loop.take(cs, now: 1_000)
        return (run, first)
    }

    func testRoundTripOfCoreJournal() throws {
        let (ir, plan) = try compiledSnippet()
        let dir = try tempDir(self)
        let path = dir + "/.ezflow/ezflow.db"
        let store = try DurableStore(path: path)
        var loop = FakeLoop()
        loop.failFirst = [plan.taskNames.firstIndex(of: "fetch")!, plan.taskNames.firstIndex(of: "right")!]
        loop.slow = [plan.taskNames.firstIndex(of: "left")!]
        var (run, memory) = try startedRun(store, ir, plan, loop: &loop)
        memory += try drive(&run, loop: &loop)
        XCTAssertEqual(run.state.verdict, .success)
        XCTAssertGreaterThan(memory.count, 10)
        store.close()

        let reopened = try DurableStore(path: path)
        let stored = try reopened.journal(run: "run-1")
        XCTAssertEqual(stored, memory)
        XCTAssertEqual(try reopened.journalLines(run: "run-1"), Journal.encode(memory))
        let replayed = try Replay.verify(plan: plan, journal: stored)
        XCTAssertEqual(replayed.verdict, .success)
        XCTAssertEqual(replayed.chargedMicros, run.state.chargedMicros)
        XCTAssertEqual(try reopened.openAttempts(run: "run-1"), [])
        XCTAssertEqual(try reopened.ir(run: "run-1"), ir)
        let info = try XCTUnwrap(try reopened.run("run-1"))
        XCTAssertEqual(info.status, .finished)
        XCTAssertEqual(info.verdict, .success)
        XCTAssertEqual(info.irHash, plan.hash)
        XCTAssertEqual(info.seed, 7)
        XCTAssertEqual(info.createdMs, 1_000)
        XCTAssertEqual(info.updatedMs, run.state.nowMs)
        XCTAssertEqual(info.journalCount, memory.count)
        XCTAssertEqual(try reopened.runs().map(\.runID), ["run-1"])
        XCTAssertEqual(try reopened.journal(run: "run-1", from: 5), Array(memory.dropFirst(5)))
        XCTAssertEqual(try reopened.integrityCheck(), ["ok"])
        XCTAssertEqual(try reopened.storedSchemaVersion(), DurableStore.schemaVersion)
        XCTAssertNil(try reopened.run("nope"))
        XCTAssertEqual(try reopened.journal(run: "nope"), [])
    }

    func testBatchIsAtomic() throws {
        let (ir, plan) = try compiledSnippet()
        let dir = try tempDir(self)
        let store = try DurableStore(path: dir + "/a.db")
        var loop = FakeLoop()
        var (run, _) = try startedRun(store, ir, plan, loop: &loop)
        // Build a 5-record batch without committing it.
        var batch: [JournalRecord] = []
        for _ in 0..<5 {
            guard let e = loop.next() else { break }
            loop.take(try run.step(e), now: run.state.nowMs)
            batch.append(run.pending.last!)
        }
        XCTAssertEqual(batch.count, 5)
        let before = try store.journal(run: "run-1")
        let openBefore = try store.openAttempts(run: "run-1")
        XCTAssertFalse(openBefore.isEmpty)

        // A failure after 2 of the 5 rows (and the queue changes) rolls everything back.
        _ = assertThrowsStore(.io) {
            try store.appendFailing(run: "run-1", records: batch, afterRecords: 2,
                                    failure: StoreError(.io, path: store.path, message: "injected failure"))
        }
        XCTAssertEqual(try store.journal(run: "run-1"), before)
        XCTAssertEqual(try store.openAttempts(run: "run-1"), openBefore)

        // A batch that does not continue the journal is refused as a whole.
        _ = assertThrowsStore(.conflict) { try store.append(run: "run-1", records: Array(batch.dropFirst())) }
        var gap = batch
        gap[3].seq += 1
        _ = assertThrowsStore(.conflict) { try store.append(run: "run-1", records: gap) }
        XCTAssertEqual(try store.journal(run: "run-1"), before)
        _ = assertThrowsStore(.notFound) { try store.append(run: "other", records: batch) }

        // The real commit: all five appear, with the queue matching the state.
        try run.commit()
        XCTAssertEqual(try store.journal(run: "run-1"), before + batch)
        let open = Set(try store.openAttempts(run: "run-1").map { [$0.task, $0.attempt] })
        XCTAssertEqual(open, runningAttempts(run.state))
        // Replaying the same batch again is a conflict (duplicate seq), nothing changes.
        _ = assertThrowsStore(.conflict) { try store.append(run: "run-1", records: batch) }
        XCTAssertEqual(try store.journal(run: "run-1").count, before.count + 5)
    }

    func testResumeReplaysAndListsOpenAttempts() throws {
        let (ir, plan) = try compiledSnippet()
        let dir = try tempDir(self)
        let path = dir + "/r.db"
        var loop = FakeLoop()
        loop.slow = [plan.taskNames.firstIndex(of: "left")!]
        var expectedState: RunState
        do {
            let store = try DurableStore(path: path)
            var (run, _) = try startedRun(store, ir, plan, loop: &loop)
            // Run until fetch succeeded and its dependents are in flight, then "crash".
            try drive(&run, loop: &loop, stopAfter: 2)
            XCTAssertFalse(runningAttempts(run.state).isEmpty)
            expectedState = run.state
            store.close()
        }
        let store = try DurableStore(path: path)
        XCTAssertEqual(try store.run("run-1")?.status, .running)
        var (run, open, _) = try DurableRun.resume(store: store, runID: "run-1", plan: plan)
        XCTAssertEqual(run.state.tasks, expectedState.tasks)
        XCTAssertEqual(run.state.seq, expectedState.seq)
        XCTAssertEqual(run.state.rng, expectedState.rng)
        XCTAssertEqual(Set(open.map { [$0.task, $0.attempt] }), runningAttempts(expectedState))
        for a in open { XCTAssertEqual(a.idempotencyKey, "run-1/\(plan.taskNames[a.task])") }

        // The resumed event re-dispatches exactly the open attempts, same keys.
        let cs = try run.step(.resumed(atMs: run.state.nowMs + 10_000))
        let redispatched = cs.compactMap { c -> OpenAttempt? in
            if case .dispatch(let t, let a, let g, let k, _) = c { return OpenAttempt(task: t, attempt: a, agent: g, idempotencyKey: k, dispatchedSeq: run.state.seq - 1) }
            return nil
        }
        XCTAssertEqual(Set(redispatched.map { [$0.task, $0.attempt, $0.agent] }), Set(open.map { [$0.task, $0.attempt, $0.agent] }))
        XCTAssertEqual(Set(redispatched.map(\.idempotencyKey)), Set(open.map(\.idempotencyKey)))
        try run.commit()
        var fresh = FakeLoop()
        fresh.take(cs, now: run.state.nowMs)
        try drive(&run, loop: &fresh)
        XCTAssertEqual(run.state.verdict, .success)
        let journal = try store.journal(run: "run-1")
        XCTAssertEqual(try Replay.verify(plan: plan, journal: journal).verdict, .success)
        XCTAssertEqual(try store.openAttempts(run: "run-1"), [])

        // A different program is refused.
        var other = plan
        other.hash = "sha256:other"
        XCTAssertThrowsError(try DurableRun.resume(store: store, runID: "run-1", plan: other)) { e in
            guard case ResumeError.planMismatch = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try DurableRun.resume(store: store, runID: "ghost", plan: plan)) { e in
            guard case ResumeError.notFound = e else { return XCTFail("\(e)") }
        }
    }

    func testSchemaVersionsAndBadFiles() throws {
        let dir = try tempDir(self)
        // A newer schema is refused with a message naming the file.
        let newer = dir + "/newer.db"
        try DurableStore(path: newer).close()
        try DurableStore.rawExec(path: newer, sql: "PRAGMA user_version=\(DurableStore.schemaVersion + 1)")
        let e = assertThrowsStore(.schema) { _ = try DurableStore(path: newer) }
        XCTAssertTrue(e?.description.contains(newer) ?? false, e?.description ?? "")
        XCTAssertTrue(e?.message.contains("newer") ?? false)

        // An old (version 0, empty) file is migrated.
        let empty = dir + "/empty.db"
        try DurableStore.rawExec(path: empty, sql: "PRAGMA user_version=0")
        XCTAssertEqual(try DurableStore(path: empty).storedSchemaVersion(), DurableStore.schemaVersion)

        // A version-1 file (the first release: the IR inside `runs`) keeps its runs: the
        // IR moves to `run_data`, the journal stays, and the run can be appended to.
        let v1 = dir + "/v1.db"
        try DurableStore.rawExec(path: v1, sql: Schema.migrations[0] + """
            PRAGMA application_id=\(DurableStore.applicationID); PRAGMA user_version=1;
            INSERT INTO runs VALUES ('old', 'wf', 'sha256:ab', x'7b7d', 7, 'finished', 'success', 1, 2);
            INSERT INTO journal VALUES ('old', 0, '{}', '[]');
            """)
        let migrated = try DurableStore(path: v1)
        XCTAssertEqual(try migrated.storedSchemaVersion(), DurableStore.schemaVersion)
        XCTAssertEqual(try migrated.ir(run: "old"), Array("{}".utf8))
        XCTAssertEqual(try migrated.run("old")?.verdict, .success)
        XCTAssertEqual(try migrated.run("old")?.journalCount, 1)
        XCTAssertEqual(try migrated.meta(run: "old"), .object([]))

        // Someone else's SQLite file is not taken over.
        let foreign = dir + "/foreign.db"
        try DurableStore.rawExec(path: foreign, sql: "CREATE TABLE t(x)")
        let f = assertThrowsStore(.schema) { _ = try DurableStore(path: foreign) }
        XCTAssertTrue(f?.message.contains("not an ezflow store") ?? false)

        // Garbage is `corrupt`, not a crash.
        let garbage = dir + "/garbage.db"
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: garbage))
        let g = assertThrowsStore(.corrupt) { _ = try DurableStore(path: garbage) }
        XCTAssertTrue(g?.description.contains(garbage) ?? false)

        // A missing directory without create, and an unwritable location, are I/O errors.
        _ = assertThrowsStore(.io) { _ = try DurableStore(path: dir + "/missing/x.db", options: StoreOptions(create: false)) }
        _ = assertThrowsStore(.io) { _ = try DurableStore(path: "/proc/ezflow-store-test/x.db") }

        // A closed store answers `misuse`.
        let s = try DurableStore(path: dir + "/closed.db")
        s.close()
        _ = assertThrowsStore(.misuse) { _ = try s.runs() }
    }

    func testRunsListAndStatus() throws {
        let (ir, plan) = try compiledSnippet()
        let dir = try tempDir(self)
        let store = try DurableStore(path: dir + "/l.db", options: StoreOptions(synchronous: .normal))
        try store.createRun(newRun("b", plan: plan, ir: ir, seed: UInt64.max, at: 20))
        try store.createRun(newRun("a", plan: plan, ir: ir, at: 10))
        _ = assertThrowsStore(.conflict) { try store.createRun(newRun("a", plan: plan, ir: ir)) }
        XCTAssertEqual(try store.runs().map(\.runID), ["a", "b"])
        XCTAssertEqual(try store.run("b")?.seed, UInt64.max)
        XCTAssertEqual(try store.run("a")?.status, .created)
        try store.update(run: "a", RunUpdate(status: .waiting, verdict: .waitingForApproval, updatedMs: 99))
        let a = try XCTUnwrap(try store.run("a"))
        XCTAssertEqual(a.status, .waiting)
        XCTAssertEqual(a.verdict, .waitingForApproval)
        XCTAssertEqual(a.updatedMs, 99)
        XCTAssertEqual(a.createdMs, 10)
        try store.deleteRun("a")
        XCTAssertEqual(try store.runs().map(\.runID), ["b"])
    }

    func testConcurrentReaderWhileWriting() throws {
        let (ir, plan) = try compiledSnippet()
        let dir = try tempDir(self)
        let path = dir + "/c.db"
        let writer = try DurableStore(path: path, options: StoreOptions(synchronous: .normal))
        try writer.createRun(newRun("w", plan: plan, ir: ir))
        let reader = try DurableStore(path: path)
        let total = 400
        let done = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        DispatchQueue.global().async {
            defer { done.signal() }
            do {
                for i in 0..<total {
                    // Any well-formed records will do after the start: cancel requests carry no task.
                    let e: Event = i == 0 ? .runStarted(runID: "w", seed: 7, planHash: plan.hash, tagLimits: [:], atMs: 0)
                        : .cancelRequested(reason: "r\(i)", atMs: Int64(i))
                    let r = JournalRecord(seq: i, event: e, commands: [])
                    try writer.append(run: "w", records: [r])
                }
            } catch { failure.withLock { $0 = "\(error)" } }
        }
        var last = 0
        var reads = 0
        while done.wait(timeout: .now()) == .timedOut {
            let j = try reader.journal(run: "w")
            XCTAssertEqual(j.map(\.seq), Array(0..<j.count), "a reader sees a prefix")
            XCTAssertGreaterThanOrEqual(j.count, last)
            last = j.count
            reads += 1
        }
        XCTAssertNil(failure.withLock { $0 })
        XCTAssertEqual(try reader.journal(run: "w").count, total)
        XCTAssertGreaterThan(reads, 1)
    }
}

import Synchronization
