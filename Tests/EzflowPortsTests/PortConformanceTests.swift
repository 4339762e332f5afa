// One conformance suite per port, run against every implementation: the contracts
// numbered in Sources/EzflowPorts/Ports.swift. PostgreSQL and Redis join these lists.
import EzflowIR
import EzflowPorts
import EzflowRuntime
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class PortConformanceTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "ezflow-ports-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Every `JournalStore` + `RunInbox` implementation, fresh.
    func stores() throws -> [(String, any JournalStore & RunInbox)] {
        [("memory", MemoryStore()), ("sqlite", try DurableStore(path: dir + "/\(UUID().uuidString).db"))]
    }

    func newRun(_ id: String) -> NewRun { NewRun(runID: id, workflow: "w", irHash: "h", ir: [1, 2], seed: 7, createdMs: 10) }

    /// Record `seq` of run `r`: the journal boundary wants `run_started` (naming the run)
    /// at seq 0 and only there.
    func record(_ seq: Int, at: Millis = 0) -> JournalRecord {
        let e: Event = seq == 0 ? .runStarted(runID: "r", seed: 7, planHash: "h", tagLimits: [:], atMs: at)
            : .agentHealth(agent: 0, healthy: seq % 2 == 0, atMs: at + Millis(seq))
        return JournalRecord(seq: seq, event: e, commands: [])
    }

    func append(_ s: any JournalStore, _ run: String, expected: Int, _ seqs: [Int], consumed: [Int64] = [],
                logs: [AttemptLogRow] = []) throws {
        try s.append(run: run, expectedSeq: expected, records: seqs.map { record($0) }, update: nil, logs: logs, consumedInbox: consumed)
    }

    func assertConflict(_ body: () throws -> Void, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), what, file: file, line: line) { e in
            XCTAssertEqual((e as? StoreError)?.kind, .conflict, "\(what): \(e)", file: file, line: line)
        }
    }

    // JournalStore 2: fenced by sequence; 3: reads back the committed prefix in order.
    func testAppendIsFencedBySequence() throws {
        for (name, s) in try stores() {
            try s.createRun(newRun("r"))
            assertConflict({ try s.createRun(self.newRun("r")) }, "\(name): duplicate run")
            try append(s, "r", expected: 0, [0, 1, 2])
            assertConflict({ try self.append(s, "r", expected: 2, [2]) }, "\(name): a stale writer's batch")
            assertConflict({ try self.append(s, "r", expected: 3, [4]) }, "\(name): a batch that skips a seq")
            assertConflict({ try self.append(s, "r", expected: 3, [3, 5]) }, "\(name): a batch with a gap")
            assertConflict({ try self.append(s, "r", expected: 1, [], logs: [self.log(1)]) }, "\(name): a stale writer's logs")
            XCTAssertEqual(try s.journal(run: "r", from: 0).map(\.seq), [0, 1, 2], name)
            try append(s, "r", expected: 3, [3, 4])
            XCTAssertEqual(try s.journal(run: "r", from: 0), (0...4).map { record($0) }, "\(name): records round-trip")
            XCTAssertEqual(try s.journal(run: "r", from: 3).map(\.seq), [3, 4], name)
            XCTAssertEqual(try s.run("r")?.journalCount, 5, name)
        }
    }

    func log(_ task: Int) -> AttemptLogRow {
        AttemptLogRow(task: task, attempt: 1, seq: 0, agent: 0, exitCode: 0, durationMs: 5, stdout: "out", stderr: "err")
    }

    // JournalStore 1 + RunInbox 1: logs and consumed requests go with the batch; a consumed
    // request is never handed out again; a refused batch consumes nothing.
    func testInboxIsConsumedWithTheBatch() throws {
        for (name, s) in try stores() {
            try s.createRun(newRun("r"))
            let a = try s.post(InboxItem(runID: "r", kind: .cancel, task: nil, principal: "ann", approved: false, refusal: nil,
                                         comment: "stop", createdMs: 1))
            let b = try s.post(InboxItem(runID: "r", kind: .approval, task: "deploy", principal: "bob", approved: true, refusal: nil,
                                         comment: "", createdMs: 2))
            XCTAssertEqual(try s.inbox(run: "r").map(\.id), [a, b], "\(name): oldest first")
            assertConflict({ try self.append(s, "r", expected: 5, [5], consumed: [a]) }, name)
            XCTAssertEqual(try s.inbox(run: "r").map(\.id), [a, b], "\(name): a refused batch consumes nothing")
            try append(s, "r", expected: 0, [0], consumed: [a], logs: [log(3)])
            XCTAssertEqual(try s.inbox(run: "r").map(\.id), [b], name)
            XCTAssertEqual(try s.inbox(run: "r").first?.principal, "bob", name)
            XCTAssertEqual(try s.logs(run: "r", task: 3).map(\.stdout), ["out"], name)
            XCTAssertEqual(try s.logs(run: "r", task: 4).count, 0, name)
        }
    }

    func testRunRowMetaVersionsAndAudit() throws {
        for (name, s) in try stores() {
            try s.createRun(newRun("r"))
            XCTAssertEqual(try s.ir(run: "r"), [1, 2], name)
            XCTAssertNil(try s.run("nope"), name)
            try s.update(run: "r", RunUpdate(status: .finished, verdict: .failed, updatedMs: 99))
            let info = try XCTUnwrap(try s.run("r"))
            XCTAssertEqual([info.status.rawValue, info.verdict?.rawValue], ["finished", "failed"], name)
            try s.setMeta(run: "r", .object([("inputs", .object([]))]))
            XCTAssertEqual(try s.meta(run: "r"), .object([("inputs", .object([]))]), name)
            try s.addVersion(run: "r", fromSeq: 4, irHash: "h2", ir: [9])
            XCTAssertEqual(try s.versions(run: "r").map(\.irHash), ["h2"], name)
            try s.audit(AuditEntry(runID: "r", principal: "p", action: "run", target: "w", allowed: true, reason: "ok", atMs: 1))
            XCTAssertEqual(try s.runs().map(\.runID), ["r"], name)
        }
    }

    // RunLease 1–3.
    func testRunLeaseHasOneHolderAndGrowingEpochs() throws {
        let leases: [(String, any RunLease)] = [("memory", MemoryRunLease(ttlMs: 1_000)), ("flock", FileRunLease(storePath: dir + "/l.db"))]
        for (name, l) in leases {
            let e1 = try l.acquire(run: "r", owner: "a", nowMs: 0)
            XCTAssertThrowsError(try l.acquire(run: "r", owner: "b", nowMs: 10), "\(name): a second holder")
            _ = try l.acquire(run: "other", owner: "b", nowMs: 10)
            l.release(run: "r", owner: "a")
            let e2 = try l.acquire(run: "r", owner: "b", nowMs: 20)
            XCTAssertGreaterThan(e2, e1, "\(name): epochs grow")
        }
        // A holder that never releases (a crashed runner) keeps a memory lease until it expires.
        let m = MemoryRunLease(ttlMs: 1_000)
        _ = try m.acquire(run: "r", owner: "dead", nowMs: 0)
        XCTAssertThrowsError(try m.acquire(run: "r", owner: "next", nowMs: 999))
        XCTAssertEqual(try m.acquire(run: "r", owner: "next", nowMs: 1_000), 2)
    }

    func item(_ task: Int, _ attempt: Int = 1) -> WorkItem {
        WorkItem(runID: "r", task: task, attempt: attempt, agent: 0, idempotencyKey: "r/t\(task)")
    }

    func done(_ i: WorkItem, by owner: String) -> WorkCompletion {
        WorkCompletion(item: i, owner: owner, outcome: .succeeded(outputs: .object([]), costMicros: 1, tokens: 0))
    }

    // WorkQueue 1–6 (memory today; the distributed backends join this list).
    func testWorkQueueLeasesAndFencing() throws {
        let queues: [(String, any WorkQueue)] = [("memory", MemoryWorkQueue())]
        for (name, q) in queues {
            try q.offer([item(0), item(1), item(2)], nowMs: 0)
            try q.offer([item(0)], nowMs: 0) // 1: idempotent
            let first = try q.claim(owner: "w1", max: 2, nowMs: 0, leaseMs: 100)
            XCTAssertEqual(first.map(\.item.task), [0, 1], "\(name): 2: offer order, at most max")
            XCTAssertEqual(first.map(\.expiresAtMs), [100, 100], name)
            XCTAssertFalse(try q.complete(done(item(0), by: "w2"), nowMs: 1), "\(name): 3: not the owner")
            XCTAssertTrue(try q.complete(done(item(0), by: "w1"), nowMs: 1), name)
            XCTAssertFalse(try q.complete(done(item(0), by: "w1"), nowMs: 2), "\(name): 3: a duplicate")
            try q.offer([item(0)], nowMs: 2)
            XCTAssertEqual(try q.claim(owner: "w3", max: 9, nowMs: 2, leaseMs: 100).map(\.item.task), [2], "\(name): a completed item is not re-offered")
            // 4: an expired lease goes back to the queue; its old owner is fenced off.
            XCTAssertEqual(try q.expire(nowMs: 100).map(\.task), [1], name)
            let again = try q.claim(owner: "w4", max: 9, nowMs: 101, leaseMs: 100)
            XCTAssertEqual(again.map(\.item.task), [1], name)
            XCTAssertEqual(again.first?.deliveries, 2, name)
            XCTAssertFalse(try q.complete(done(item(1), by: "w1"), nowMs: 102), "\(name): 4: the expired owner")
            // 5: a cancelled queued item is never claimed; a leased one may still complete.
            try q.offer([item(5)], nowMs: 103)
            try q.cancel(run: "r", task: 5, attempt: 1)
            try q.cancel(run: "r", task: 1, attempt: 1)
            XCTAssertEqual(try q.claim(owner: "w5", max: 9, nowMs: 104, leaseMs: 100).count, 0, name)
            XCTAssertTrue(try q.complete(done(item(1), by: "w4"), nowMs: 105), "\(name): 5: an abandoned attempt is charged")
            // 6: completions until acknowledged; a new reader gets the unacknowledged again.
            XCTAssertEqual(try q.completions(run: "r", reader: "c1").map(\.item.task), [0, 1], name)
            XCTAssertEqual(try q.completions(run: "r", reader: "c1").count, 0, "\(name): once per reader")
            try q.acknowledge(run: "r", [item(0)])
            XCTAssertEqual(try q.completions(run: "r", reader: "c2").map(\.item.task), [1], "\(name): 6: a resumed reader")
            XCTAssertEqual(try q.completions(run: "other", reader: "c3").count, 0, name)
        }
    }
}
