// One conformance suite per port, run against every implementation: the contracts
// numbered in Sources/EzflowPorts/Ports.swift. Each test is one contract point; its body
// takes the implementation and runs once per entry of the port's list, and every
// assertion names the implementation. PostgreSQL and Redis join these lists.
import EzflowIR
@testable import EzflowPorts
@testable import EzflowPostgres
@testable import EzflowRedis
import EzflowRuntime
@testable import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class PortConformanceTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "ezflow-ports-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
        for b in redisBackends { XCTAssertNoThrow(try b.removeAllKeys(), "redis: removing the test's keys") }
        for b in postgres { try? b.dropSchema() }
        postgres = []
    }

    /// Backends of this test, each under its own prefix (the server is shared), emptied in tearDown.
    var redisBackends: [RedisBackend] = []

    /// A Redis backend under a fresh prefix, nil without `EZ_REDIS`.
    func redis() throws -> RedisBackend? {
        guard let url = Servers.redis else { return nil }
        let b = try RedisBackend(url: url, prefix: "ez_t_\(UUID().uuidString):")
        redisBackends.append(b)
        return b
    }

    /// The PostgreSQL backends made for this test, each in a schema of its own.
    var postgres: [PostgresBackend] = []

    /// A migrated backend in a fresh schema (dropped in tearDown), or nil without `EZ_PG`.
    func postgresBackend() throws -> PostgresBackend? {
        guard let conninfo = Servers.postgres else { return nil }
        let b = try PostgresBackend(conninfo: conninfo, schema: "ez_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))
        postgres.append(b)
        try b.migrate()
        return b
    }

    // MARK: Implementations, fresh for each test

    func stores() throws -> [(String, any JournalStore & RunInbox)] {
        var out: [(String, any JournalStore & RunInbox)] = [("memory", MemoryStore()), ("sqlite", try DurableStore(path: dir + "/\(UUID().uuidString).db"))]
        if let pg = try postgresBackend() { out.append(("postgres", pg.store())) }
        if let r = try redis() { out.append(("redis", r.store())) }
        return out
    }

    func leases() throws -> [(String, any RunLease)] {
        var out: [(String, any RunLease)] = [("memory", MemoryRunLease(ttlMs: 1_000)), ("flock", FileRunLease(storePath: dir + "/\(UUID().uuidString).db"))]
        if let pg = try postgresBackend() { out.append(("postgres", pg.lease())) }
        if let r = try redis() { out.append(("redis", r.lease(ttlMs: 1_000))) }
        return out
    }

    /// Each clock with a way to move the time under it (a manual clock's `advance`; the
    /// system clock moves by itself).
    func clocks() -> [(String, (clock: any RunClock, move: (Millis) -> Void))] {
        let manual = ManualClock(startMs: 1_000)
        return [("system", (SystemClock(), { _ in })), ("manual", (manual, { manual.advance(to: $0) }))]
    }

    func queues() throws -> [(String, any WorkQueue)] {
        var out: [(String, any WorkQueue)] = [("memory", MemoryWorkQueue()), ("sqlite", try SQLiteWorkQueue(path: dir + "/\(UUID().uuidString).db"))]
        if let pg = try postgresBackend() { out.append(("postgres", pg.queue())) }
        if let r = try redis() { out.append(("redis", r.queue())) }
        return out
    }

    /// Runs `body` once per implementation; an error thrown out of it names the implementation.
    func forEach<P>(_ impls: [(String, P)], _ body: (String, P) throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        for (name, p) in impls {
            do { try body(name, p) } catch { XCTFail("\(name): \(error)", file: file, line: line) }
        }
    }

    // MARK: JournalStore + RunInbox

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

    func log(_ task: Int) -> AttemptLogRow {
        AttemptLogRow(task: task, attempt: 1, seq: 0, agent: 0, exitCode: 0, durationMs: 5, stdout: "out", stderr: "err")
    }

    // JournalStore 2: fenced by sequence; 3: reads back the committed prefix in order.
    func testJournalStore2And3AppendIsFencedBySequence() throws { forEach(try stores(), appendIsFencedBySequence) }

    func appendIsFencedBySequence(_ name: String, _ s: any JournalStore & RunInbox) throws {
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

    // JournalStore 1 + RunInbox 1: logs and consumed requests go with the batch; a consumed
    // request is never handed out again; a refused batch consumes nothing.
    func testJournalStore1AndInbox1ConsumedWithTheBatch() throws { forEach(try stores(), inboxIsConsumedWithTheBatch) }

    func inboxIsConsumedWithTheBatch(_ name: String, _ s: any JournalStore & RunInbox) throws {
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

    /// Each store with a way to edit a stored record behind its back (as a person with
    /// the file would), keeping the record's stored hash.
    func tamperableStores() throws -> [(String, (store: any JournalStore & RunInbox, tamper: (String, JournalRecord) throws -> Void))] {
        let memory = MemoryStore()
        let path = dir + "/\(UUID().uuidString).db"
        let sqlite = try DurableStore(path: path)
        var out: [(String, (store: any JournalStore & RunInbox, tamper: (String, JournalRecord) throws -> Void))] = [
            ("memory", (memory, { run, r in memory.tamper(run: run, r) })),
            ("sqlite", (sqlite, { run, r in
                let event = String(decoding: Journal.eventBytes(r.event), as: UTF8.self).replacingOccurrences(of: "'", with: "''")
                try DurableStore.rawExec(path: path, sql: "UPDATE journal SET event = '\(event)' WHERE run_id = '\(run)' AND seq = \(r.seq)")
            })),
        ]
        if let pg = try postgresBackend() {
            out.append(("postgres", (pg.store(), { run, r in
                try pg.rawExec("UPDATE \"\(pg.schema)\".journal SET event = $3 WHERE run_id = $1 AND seq = $2",
                               [run, String(r.seq), String(decoding: Journal.eventBytes(r.event), as: UTF8.self)])
            })))
        }
        if let b = try redis() {
            let store = b.store()
            out.append(("redis", (store, { run, r in try store.tamper(run: run, r) })))
        }
        return out
    }

    // JournalStore 5: every record is chained to the one before it, the first to the IR
    // hash; the stored hashes are the same in every store; an edited record is found by
    // `journal` (by seq and kind), and a read from after it still works.
    func testJournalStore5RecordsAreHashChained() throws { forEach(try tamperableStores(), recordsAreHashChained) }

    func recordsAreHashChained(_ name: String, _ s: (store: any JournalStore & RunInbox, tamper: (String, JournalRecord) throws -> Void)) throws {
        try s.store.createRun(newRun("r"))
        XCTAssertEqual(try s.store.chainHash(run: "r", seq: -1), "h", "\(name): the head of an empty journal is the IR hash")
        XCTAssertNil(try s.store.chainHash(run: "r", seq: 0), name)
        try append(s.store, "r", expected: 0, [0, 1])
        try append(s.store, "r", expected: 2, [2, 3, 4])
        let records = (0...4).map { record($0) }
        let expected = JournalChain.hashes(after: "h", records)
        XCTAssertEqual(try (0...4).map { try s.store.chainHash(run: "r", seq: $0) }, expected, "\(name): one chain, whatever the batches")
        XCTAssertEqual(expected[0], JournalChain.link("h", Array(#"{"commands":[],"event":{"at_ms":0,"plan":"h","run":"r","seed":"7","tag_limits":{},"type":"run_started"},"seq":0}"#.utf8)),
                       "\(name): hash(0) = SHA-256(IR hash ‖ the record's canonical line)")
        XCTAssertEqual(try s.store.journal(run: "r", from: 0), records, name)

        var forged = record(2)
        forged.event = .agentHealth(agent: 0, healthy: false, atMs: 2)
        try s.tamper("r", forged)
        XCTAssertThrowsError(try s.store.journal(run: "r", from: 0), name) { e in
            let e = e as? StoreError
            XCTAssertEqual(e?.kind, .integrity, "\(name): \(String(describing: e))")
            XCTAssertEqual(e?.chainBreak, ChainBreak(seq: 2, event: forged.event), name)
            XCTAssertEqual(e?.message, "run `r`: journal record 2 (agent_health) does not match its chain hash: the store was edited", name)
        }
        XCTAssertThrowsError(try s.store.journal(run: "r", from: 1), "\(name): a read that covers the edit") { e in
            XCTAssertEqual((e as? StoreError)?.chainBreak?.seq, 2, name)
        }
        XCTAssertEqual(try s.store.journal(run: "r", from: 3), Array(records[3...]), "\(name): a read from after the edit starts at its stored hash")
        // A writer goes on from the stored chain: the edit stays visible.
        try append(s.store, "r", expected: 5, [5])
        XCTAssertEqual(try s.store.chainHash(run: "r", seq: 5), JournalChain.link(expected[4], JournalChain.recordBytes(record(5))), name)
    }

    func testJournalStoreRunRowMetaVersionsAndAudit() throws { forEach(try stores(), runRowMetaVersionsAndAudit) }

    func runRowMetaVersionsAndAudit(_ name: String, _ s: any JournalStore & RunInbox) throws {
        try s.createRun(newRun("r"))
        XCTAssertEqual(try s.ir(run: "r"), [1, 2], name)
        XCTAssertNil(try s.run("nope"), name)
        try s.update(run: "r", RunUpdate(status: .finished, verdict: .failed, updatedMs: 99))
        let info = try XCTUnwrap(try s.run("r"), name)
        XCTAssertEqual([info.status.rawValue, info.verdict?.rawValue], ["finished", "failed"], name)
        try s.setMeta(run: "r", .object([("inputs", .object([]))]))
        XCTAssertEqual(try s.meta(run: "r"), .object([("inputs", .object([]))]), name)
        try s.addVersion(run: "r", fromSeq: 4, irHash: "h2", ir: [9])
        XCTAssertEqual(try s.versions(run: "r").map(\.irHash), ["h2"], name)
        try s.audit(AuditEntry(runID: "r", principal: "p", action: "run", target: "w", allowed: true, reason: "ok", atMs: 1))
        XCTAssertEqual(try s.runs().map(\.runID), ["r"], name)
        // The meta is created with the row (a run never exists without its inputs), and a
        // refused create changes nothing.
        var withMeta = newRun("m")
        withMeta.meta = .object([("inputs", .object([("dir", .string("/tmp"))]))])
        try s.createRun(withMeta)
        XCTAssertEqual(try s.meta(run: "m"), withMeta.meta, name)
        var again = newRun("m")
        again.meta = .object([])
        XCTAssertThrowsError(try s.createRun(again), name)
        XCTAssertEqual(try s.meta(run: "m"), withMeta.meta, name)
    }

    // MARK: RunLease

    // RunLease 1–2: one holder; epochs grow.
    func testRunLease1And2OneHolderGrowingEpochs() throws { forEach(try leases(), oneHolderGrowingEpochs) }

    func oneHolderGrowingEpochs(_ name: String, _ l: any RunLease) throws {
        let e1 = try l.acquire(run: "r", owner: "a", nowMs: 0)
        XCTAssertThrowsError(try l.acquire(run: "r", owner: "b", nowMs: 10), "\(name): a second holder")
        _ = try l.acquire(run: "other", owner: "b", nowMs: 10)
        l.release(run: "r", owner: "a")
        let e2 = try l.acquire(run: "r", owner: "b", nowMs: 20)
        XCTAssertGreaterThan(e2, e1, "\(name): epochs grow")
    }

    // RunLease 3: a holder that never releases (a crashed runner) keeps a memory lease until
    // it expires. (A `flock` expires with its process: EzflowRunnerTests' kill -9 test.)
    func testRunLease3MemoryLeaseExpires() throws {
        let m = MemoryRunLease(ttlMs: 1_000)
        _ = try m.acquire(run: "r", owner: "dead", nowMs: 0)
        XCTAssertThrowsError(try m.acquire(run: "r", owner: "next", nowMs: 999))
        XCTAssertEqual(try m.acquire(run: "r", owner: "next", nowMs: 1_000), 2)
    }

    // MARK: RunClock

    // RunClock 1: never backwards, whatever the time under it does.
    func testRunClock1IsMonotonic() { forEach(clocks(), clockIsMonotonic) }

    func clockIsMonotonic(_ name: String, _ c: (clock: any RunClock, move: (Millis) -> Void)) throws {
        var last = c.clock.nowMs()
        for i in 0..<1_000 {
            // Forward, then back: a clock that follows the step back fails here.
            c.move(i % 2 == 0 ? last + 7 : last - 500)
            let now = c.clock.nowMs()
            XCTAssertGreaterThanOrEqual(now, last, "\(name): read \(i) went backwards")
            last = now
        }
    }

    // MARK: WorkQueue

    func item(_ task: Int, _ attempt: Int = 1, run: String = "r") -> WorkItem {
        WorkItem(runID: run, task: task, attempt: attempt, agent: task % 3, idempotencyKey: "\(run)/t\(task)")
    }

    func done(_ i: WorkItem, by owner: String, log: AttemptLogRow? = nil) -> WorkCompletion {
        WorkCompletion(item: i, owner: owner, outcome: .succeeded(outputs: .object([]), costMicros: 1, tokens: 0), log: log)
    }

    // WorkQueue 1: `offer` is idempotent per (run, task, attempt), whatever the item's state.
    func testWorkQueue1OfferIsIdempotent() throws { forEach(try queues(), offerIsIdempotent) }

    func offerIsIdempotent(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(0), item(1)], nowMs: 0)
        try q.offer([item(0), item(1, 2), item(1, run: "s")], nowMs: 0)
        let all = try q.claim(owner: "w", max: 9, nowMs: 0, leaseMs: 100)
        XCTAssertEqual(all.map(\.item), [item(0), item(1), item(1, 2), item(1, run: "s")], "\(name): queued once each")
        XCTAssertEqual(all.map(\.deliveries), [1, 1, 1, 1], name)
        try q.offer([item(0), item(1)], nowMs: 1)
        XCTAssertEqual(try q.claim(owner: "w", max: 9, nowMs: 1, leaseMs: 100).count, 0, "\(name): a leased item is not queued again")
        XCTAssertTrue(try q.complete(done(item(0), by: "w"), nowMs: 2), name)
        try q.acknowledge(run: "r", [item(0)])
        try q.offer([item(0)], nowMs: 3)
        XCTAssertEqual(try q.claim(owner: "w", max: 9, nowMs: 3, leaseMs: 100).count, 0, "\(name): a completed item is not queued again")
        XCTAssertFalse(try q.complete(done(item(0), by: "w"), nowMs: 4), name)
    }

    // WorkQueue 2: offer order, at most `max`, leased to the owner until now + lease.
    func testWorkQueue2ClaimInOfferOrder() throws { forEach(try queues(), claimInOfferOrder) }

    func claimInOfferOrder(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(7), item(2)], nowMs: 0)
        try q.offer([item(5, run: "s"), item(1)], nowMs: 0)
        XCTAssertEqual(try q.claim(owner: "w1", max: 0, nowMs: 10, leaseMs: 50).count, 0, "\(name): max 0")
        let first = try q.claim(owner: "w1", max: 3, nowMs: 10, leaseMs: 50)
        XCTAssertEqual(first, [item(7), item(2), item(5, run: "s")].map { Lease(item: $0, owner: "w1", expiresAtMs: 60, deliveries: 1) },
                       "\(name): offer order, at most max, leased until now + lease")
        XCTAssertEqual(try q.claim(owner: "w2", max: 3, nowMs: 20, leaseMs: 5), [Lease(item: item(1), owner: "w2", expiresAtMs: 25, deliveries: 1)],
                       name)
        XCTAssertEqual(try q.claim(owner: "w3", max: 3, nowMs: 30, leaseMs: 5).count, 0, "\(name): each item once")
    }

    // WorkQueue 3: `complete` only from the current owner of that attempt, once.
    func testWorkQueue3CompleteIsFenced() throws { forEach(try queues(), completeIsFenced) }

    // WorkQueue 3, a batch: each completion fenced on its own, one flag each, in order.
    func testWorkQueue3ABatchOfCompletionsIsFencedOneByOne() throws { forEach(try queues(), batchIsFenced) }

    func batchIsFenced(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(0), item(1), item(2)], nowMs: 0)
        XCTAssertEqual(try q.claim(owner: "w", max: 2, nowMs: 0, leaseMs: 100).count, 2, name)
        XCTAssertEqual(try q.complete([WorkCompletion](), nowMs: 1), [], name)
        let flags = try q.complete([done(item(0), by: "w"), done(item(1), by: "other"), done(item(2), by: "w"), done(item(1), by: "w"),
                                    done(item(0), by: "w")], nowMs: 1)
        XCTAssertEqual(flags, [true, false, false, true, false], "\(name): a stale owner, an unclaimed item and a duplicate refused")
        XCTAssertEqual(try q.completions(run: "r", reader: "c").map(\.item.task), [0, 1], "\(name): the accepted ones, once each")
    }

    func completeIsFenced(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(0), item(1)], nowMs: 0)
        XCTAssertEqual(try q.claim(owner: "w1", max: 1, nowMs: 0, leaseMs: 100).map(\.item), [item(0)], name)
        XCTAssertFalse(try q.complete(done(item(1), by: "w1"), nowMs: 1), "\(name): 3: an item still queued")
        XCTAssertFalse(try q.complete(done(item(9), by: "w1"), nowMs: 1), "\(name): 3: an item never offered")
        XCTAssertFalse(try q.complete(done(item(0, 2), by: "w1"), nowMs: 1), "\(name): 3: another attempt")
        XCTAssertFalse(try q.complete(done(item(0, run: "s"), by: "w1"), nowMs: 1), "\(name): 3: another run")
        XCTAssertFalse(try q.complete(done(item(0), by: "w2"), nowMs: 1), "\(name): 3: not the owner")
        XCTAssertTrue(try q.complete(done(item(0), by: "w1"), nowMs: 1), name)
        XCTAssertFalse(try q.complete(done(item(0), by: "w1"), nowMs: 2), "\(name): 3: a duplicate")
        XCTAssertEqual(try q.completions(run: "r", reader: "c").map(\.item), [item(0)], "\(name): refused completions change nothing")
    }

    // WorkQueue 4: `expire` puts every lease past its expiry back; the old owner is fenced off.
    func testWorkQueue4ExpireRequeuesAndFences() throws { forEach(try queues(), expireRequeuesAndFences) }

    func expireRequeuesAndFences(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(0), item(1), item(2)], nowMs: 0)
        _ = try q.claim(owner: "w1", max: 2, nowMs: 0, leaseMs: 100)
        _ = try q.claim(owner: "w2", max: 1, nowMs: 50, leaseMs: 100)
        XCTAssertEqual(try q.expire(nowMs: 99).count, 0, "\(name): 4: nothing is past its expiry")
        XCTAssertEqual(try q.expire(nowMs: 100), [item(0), item(1)], "\(name): 4: the expired leases, in offer order")
        XCTAssertEqual(try q.expire(nowMs: 100).count, 0, "\(name): 4: once")
        XCTAssertFalse(try q.complete(done(item(0), by: "w1"), nowMs: 101), "\(name): 4: the expired owner, before a new claim")
        let again = try q.claim(owner: "w3", max: 9, nowMs: 101, leaseMs: 100)
        XCTAssertEqual(again, [item(0), item(1)].map { Lease(item: $0, owner: "w3", expiresAtMs: 201, deliveries: 2) },
                       "\(name): 4: back in the queue, delivered a second time")
        XCTAssertFalse(try q.complete(done(item(1), by: "w1"), nowMs: 102), "\(name): 4: the expired owner, after a new claim")
        XCTAssertTrue(try q.complete(done(item(1), by: "w3"), nowMs: 102), name)
        XCTAssertTrue(try q.complete(done(item(2), by: "w2"), nowMs: 102), "\(name): a lease not yet expired is kept")
    }

    // WorkQueue 5: `cancel` drops a queued item; a leased one stays leased and may complete.
    func testWorkQueue5CancelDropsQueuedOnly() throws { forEach(try queues(), cancelDropsQueuedOnly) }

    func cancelDropsQueuedOnly(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(0), item(1), item(2)], nowMs: 0)
        XCTAssertEqual(try q.claim(owner: "w1", max: 2, nowMs: 0, leaseMs: 100).map(\.item), [item(0), item(1)], name)
        try q.cancel(run: "r", task: 2, attempt: 1)
        try q.cancel(run: "r", task: 0, attempt: 1)
        try q.cancel(run: "r", task: 1, attempt: 1)
        try q.cancel(run: "r", task: 9, attempt: 1)
        XCTAssertEqual(try q.claim(owner: "w2", max: 9, nowMs: 1, leaseMs: 100).count, 0, "\(name): 5: a cancelled queued item is dropped")
        XCTAssertTrue(try q.complete(done(item(0), by: "w1"), nowMs: 2), "\(name): 5: an abandoned attempt still completes (and is charged)")
        // A cancelled attempt whose lease runs out is never handed out again.
        XCTAssertEqual(try q.expire(nowMs: 100), [item(1)], name)
        XCTAssertEqual(try q.claim(owner: "w2", max: 9, nowMs: 101, leaseMs: 100).count, 0, "\(name): 5: no second life after expiry")
        XCTAssertEqual(try q.completions(run: "r", reader: "c").map(\.item), [item(0)], name)
    }

    // WorkQueue 6: completions until acknowledged, once per reader, all again for a new
    // reader; what was accepted comes back intact (outcome and log).
    func testWorkQueue6CompletionsUntilAcknowledged() throws { forEach(try queues(), completionsUntilAcknowledged) }

    func completionsUntilAcknowledged(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(0), item(1), item(2), item(0, run: "s")], nowMs: 0)
        _ = try q.claim(owner: "w", max: 9, nowMs: 0, leaseMs: 100)
        let failed = WorkCompletion(item: item(1), owner: "w",
                                    outcome: .failed(errorClass: "exit", message: "code 3 — \"bad\"\n", costMicros: 12, tokens: 40),
                                    log: AttemptLogRow(task: 1, attempt: 1, seq: 0, agent: 1, exitCode: nil, durationMs: 7, stdout: "", stderr: "é\u{1}"))
        let succeeded = WorkCompletion(item: item(0), owner: "w",
                                       outcome: .succeeded(outputs: .object([("b", .int(2)), ("a", .array([.string("x"), .null, .bool(true)]))]),
                                                           costMicros: 5, tokens: 9),
                                       log: log(0))
        XCTAssertTrue(try q.complete(failed, nowMs: 1), name)
        XCTAssertTrue(try q.complete(succeeded, nowMs: 2), name)
        XCTAssertTrue(try q.complete(done(item(0, run: "s"), by: "w"), nowMs: 2), name)
        XCTAssertEqual(try q.completions(run: "r", reader: "c1"), [failed, succeeded], "\(name): 6: intact, in acceptance order")
        XCTAssertEqual(try q.completions(run: "r", reader: "c1").count, 0, "\(name): 6: once per reader")
        XCTAssertTrue(try q.complete(done(item(2), by: "w"), nowMs: 3), name)
        XCTAssertEqual(try q.completions(run: "r", reader: "c1").map(\.item), [item(2)], "\(name): 6: only the new one")
        try q.acknowledge(run: "r", [item(1)])
        XCTAssertEqual(try q.completions(run: "r", reader: "c2"), [succeeded, done(item(2), by: "w")],
                       "\(name): 6: a resumed reader gets every unacknowledged one")
        try q.acknowledge(run: "r", [item(0), item(2)])
        XCTAssertEqual(try q.completions(run: "r", reader: "c3").count, 0, "\(name): 6: acknowledged ones are gone")
        XCTAssertEqual(try q.completions(run: "s", reader: "c1").map(\.item), [item(0, run: "s")], "\(name): 6: per run")
        XCTAssertEqual(try q.completions(run: "other", reader: "c1").count, 0, name)
    }

    // WorkQueue 1 and 2: queue, priority and payload come back unchanged; a claim takes
    // only the queues it names, lowest priority first, offer order within one.
    func testWorkQueue1And2QueuesPrioritiesAndPayloads() throws { forEach(try queues(), queuesPrioritiesAndPayloads) }

    func queuesPrioritiesAndPayloads(_ name: String, _ q: any WorkQueue) throws {
        func routed(_ task: Int, _ queue: String, _ priority: Int) -> WorkItem {
            var i = item(task)
            i.queue = queue
            i.priority = priority
            i.payload = Array("{\"task\":\(task),\"bytes\":\"\u{0}é\"}".utf8) + [0, 255]
            return i
        }
        let items = [routed(0, "agent.claude", 5), routed(1, "agent.gpt", 0), routed(2, "agent.claude", 0), routed(3, "agent.claude", 9),
                     routed(4, "agent.claude", 0)]
        try q.offer(items, nowMs: 0)
        let claude = try q.claim(owner: "w1", queues: ["agent.claude"], max: 3, nowMs: 1, leaseMs: 100)
        XCTAssertEqual(claude.map(\.item), [items[2], items[4], items[0]], "\(name): 2: its queue only, priority 0 first, then offer order")
        XCTAssertEqual(try q.claim(owner: "w2", queues: ["nobody"], max: 9, nowMs: 1, leaseMs: 100).count, 0, "\(name): 2: an unknown queue")
        let rest = try q.claim(owner: "w2", queues: ["agent.gpt", "agent.claude"], max: 9, nowMs: 2, leaseMs: 100)
        XCTAssertEqual(rest.map(\.item), [items[1], items[3]], "\(name): 1: payload, queue and priority intact")
    }

    // WorkQueue 4: an item delivered `maxDeliveries` times is not queued again on expiry:
    // its attempt ends as `worker_lost`, completed by the reaper.
    func testWorkQueue4AThirdLostLeaseEndsTheAttempt() throws { forEach(try queues(), thirdLostLeaseEndsTheAttempt) }

    func thirdLostLeaseEndsTheAttempt(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(0), item(1)], nowMs: 0)
        var now: Millis = 0
        for round in 1...WorkQueueLimits.maxDeliveries {
            let got = try q.claim(owner: "w\(round)", queues: [], max: 1, nowMs: now, leaseMs: 10)
            XCTAssertEqual(got.map(\.deliveries), [round], "\(name): delivery \(round)")
            now += 10
            XCTAssertEqual(try q.expire(nowMs: now), [item(0)], "\(name): round \(round)")
        }
        XCTAssertEqual(try q.claim(owner: "w9", max: 1, nowMs: now, leaseMs: 10).map(\.item), [item(1)], "\(name): 4: not queued a fourth time")
        let lost = try q.completions(run: "r", reader: "c")
        XCTAssertEqual(lost.map(\.item.task), [0], name)
        XCTAssertEqual(lost.first?.owner, WorkQueueLimits.reaper, name)
        guard case .failed(let cls, let message, _, _, _)? = lost.first?.outcome else { return XCTFail("\(name): not a failure") }
        XCTAssertEqual(cls, "worker_lost", name)
        XCTAssertTrue(message.contains("3 times"), "\(name): \(message)")
        XCTAssertFalse(try q.complete(done(item(0), by: "w3"), nowMs: now), "\(name): the last owner is fenced off")
    }

    // WorkQueue 7: `renew` extends every lease of one owner.
    func testWorkQueue7RenewExtendsTheOwnersLeases() throws { forEach(try queues(), renewExtendsTheOwnersLeases) }

    func renewExtendsTheOwnersLeases(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(0), item(1), item(2)], nowMs: 0)
        _ = try q.claim(owner: "w1", max: 2, nowMs: 0, leaseMs: 100)
        _ = try q.claim(owner: "w2", max: 1, nowMs: 0, leaseMs: 100)
        XCTAssertEqual(try q.renew(owner: "w1", nowMs: 90, leaseMs: 100), 2, "\(name): 7: both of its leases")
        XCTAssertEqual(try q.renew(owner: "w0", nowMs: 90, leaseMs: 100), 0, "\(name): 7: an owner with none")
        XCTAssertEqual(try q.expire(nowMs: 150), [item(2)], "\(name): 7: only the lease not renewed expired")
        XCTAssertEqual(try q.renew(owner: "w2", nowMs: 150, leaseMs: 100), 0, "\(name): 7: an expired lease is not renewed")
        XCTAssertTrue(try q.complete(done(item(1), by: "w1"), nowMs: 160), name)
        XCTAssertEqual(try q.renew(owner: "w1", nowMs: 170, leaseMs: 100), 1, "\(name): 7: a completed item is no lease")
    }

    // WorkQueue 8: `release` puts an owner's leases back, uncounted, and fences it off.
    func testWorkQueue8ReleasePutsLeasesBack() throws { forEach(try queues(), releasePutsLeasesBack) }

    func releasePutsLeasesBack(_ name: String, _ q: any WorkQueue) throws {
        try q.offer([item(0), item(1), item(2)], nowMs: 0)
        _ = try q.claim(owner: "w1", max: 2, nowMs: 0, leaseMs: 100)
        try q.release(owner: "w1")
        XCTAssertFalse(try q.complete(done(item(0), by: "w1"), nowMs: 1), "\(name): 8: the releasing owner is fenced off")
        let again = try q.claim(owner: "w2", max: 9, nowMs: 2, leaseMs: 100)
        XCTAssertEqual(again.map(\.item), [item(0), item(1), item(2)], "\(name): 8: back in offer order")
        XCTAssertEqual(again.map(\.deliveries), [1, 1, 1], "\(name): 8: the released delivery is not counted")
    }

    // WorkQueue 9: `depth` counts queued and leased items per queue, the busy owners and
    // every offer.
    func testWorkQueue9DepthCountsQueuedLeasedOwnersAndOffers() throws { forEach(try queues(), depthCounts) }

    func depthCounts(_ name: String, _ q: any WorkQueue) throws {
        XCTAssertEqual(try q.depth(), QueueDepth(), "\(name): empty")
        var items = (0..<5).map { item($0) }
        items[3].queue = "gpu"
        items[4].queue = "gpu"
        try q.offer(items, nowMs: 0)
        try q.offer([item(0)], nowMs: 0)
        _ = try q.claim(owner: "w1", queues: [WorkItem.defaultQueue], max: 2, nowMs: 0, leaseMs: 100)
        _ = try q.claim(owner: "w2", queues: ["gpu"], max: 1, nowMs: 0, leaseMs: 100)
        XCTAssertEqual(try q.depth(), QueueDepth(queued: ["default": 1, "gpu": 1], leased: ["default": 2, "gpu": 1], owners: 2, offered: 5),
                       "\(name): 9: a repeated offer is not counted")
        XCTAssertTrue(try q.complete(done(item(0), by: "w1"), nowMs: 1), name)
        try q.offer([item(5)], nowMs: 2)
        XCTAssertEqual(try q.depth(), QueueDepth(queued: ["default": 2, "gpu": 1], leased: ["default": 1, "gpu": 1], owners: 2, offered: 6),
                       "\(name): 9: a completed item leaves the counts, offers only grow")
    }

    // WorkQueue 10: `forget` ends a finished run's items and drops their payloads and completions.
    func testWorkQueue10ForgetEndsAFinishedRunsItems() throws { forEach(try queues(), forgetEndsARunsItems) }

    func forgetEndsARunsItems(_ name: String, _ q: any WorkQueue) throws {
        var items = (0..<4).map { item($0) }
        for i in items.indices { items[i].payload = Array("values of \(i)".utf8) }
        var other = item(9, run: "s")
        other.payload = Array("keep".utf8)
        try q.offer(items + [other], nowMs: 0)
        // 0 completed and read, 1 completed unread, 2 leased, 3 and s's item queued.
        let leased = try q.claim(owner: "w", max: 3, nowMs: 0, leaseMs: 100)
        XCTAssertEqual(leased.map(\.item.task), [0, 1, 2], name)
        XCTAssertTrue(try q.complete(done(items[0], by: "w"), nowMs: 1), name)
        _ = try q.completions(run: "r", reader: "c")
        XCTAssertTrue(try q.complete(done(items[1], by: "w"), nowMs: 1), name)
        XCTAssertEqual(try q.cancelled(owner: "w"), [], "\(name): 11: nothing cancelled yet")
        try q.forget(run: "r")
        XCTAssertEqual(try q.completions(run: "r", reader: "c2"), [], "\(name): 10: completions dropped")
        var told = items[2]
        told.payload = []
        XCTAssertEqual(try q.cancelled(owner: "w"), [told], "\(name): 10, 11: the leased item is cancelled, its worker told")
        XCTAssertEqual(try q.cancelled(owner: "w2"), [], "\(name): 11: per owner")
        let next = try q.claim(owner: "w2", max: 9, nowMs: 2, leaseMs: 100)
        XCTAssertEqual(next.map(\.item), [other], "\(name): 10: only the other run's item is claimed, with its payload")
        try q.offer([items[3]], nowMs: 3)
        XCTAssertEqual(try q.claim(owner: "w2", max: 9, nowMs: 3, leaseMs: 100), [], "\(name): 10: a re-offer stays a no-op")
        XCTAssertEqual(try q.depth(), QueueDepth(leased: ["default": 1], owners: 1, offered: 5), "\(name): 10: offers still counted, the cancelled lease not")
    }

    // WorkQueue 11: `cancelled(owner:)` tells a worker which of its attempts were cancelled.
    func testWorkQueue11CancelledTellsTheOwner() throws { forEach(try queues(), cancelledTellsTheOwner) }

    func cancelledTellsTheOwner(_ name: String, _ q: any WorkQueue) throws {
        try q.offer((0..<4).map { item($0) }, nowMs: 0)
        _ = try q.claim(owner: "w1", max: 3, nowMs: 0, leaseMs: 100)
        try q.cancel(run: "r", task: 2, attempt: 1)
        try q.cancel(run: "r", task: 0, attempt: 1)
        try q.cancel(run: "r", task: 3, attempt: 1)
        XCTAssertEqual(try q.cancelled(owner: "w1"), [item(0), item(2)], "\(name): 11: its cancelled leases, in offer order")
        XCTAssertEqual(try q.renew(owner: "w1", nowMs: 10, leaseMs: 100), 3, "\(name): 7: still its leases until they end")
        XCTAssertTrue(try q.complete(done(item(2), by: "w1"), nowMs: 20), "\(name): 5: a cancelled attempt may still complete")
        XCTAssertEqual(try q.cancelled(owner: "w1"), [item(0)], "\(name): 11: a completed one is no longer listed")
        XCTAssertEqual(try q.claim(owner: "w2", max: 9, nowMs: 20, leaseMs: 100), [], "\(name): 5: the cancelled queued item is gone")
    }

    // WorkQueue 12: the dead-letter feed keeps each (run, seq, task) once, in order, past `forget`.
    func testWorkQueue12TheDeadLetterFeedKeepsEachEntryOnce() throws { forEach(try queues(), deadLetterFeedKeepsEachEntryOnce) }

    func deadLetterFeedKeepsEachEntryOnce(_ name: String, _ q: any WorkQueue) throws {
        XCTAssertEqual(try q.deadLetters(run: nil), [], name)
        let lost = DeadLetterEntry(runID: "r", seq: 7, task: 2, taskName: "fetch", kind: .deadLettered, errorClass: "worker_lost",
                                   message: "it's \"quoted\" \\ é 日本\nsecond line", attempts: 3, atMs: 1_700_000_000_123)
        var stalled = lost
        (stalled.task, stalled.taskName, stalled.errorClass, stalled.message, stalled.attempts) = (5, "deploy", "no_agent", "", 0)
        var other = lost
        other.runID = "s"
        var redriven = lost
        (redriven.seq, redriven.kind, redriven.principal, redriven.atMs) = (9, .redriven, "ops", 1_700_000_005_000)
        // Re-driven and dead-lettered again by the same record: two entries, one key each.
        var again = lost
        again.seq = 9
        try q.deadLetter([lost, stalled])
        try q.deadLetter([other])
        try q.offer([item(0)], nowMs: 0)
        try q.forget(run: "r")
        // A resumed coordinator sends the run's entries again, then the new ones.
        try q.deadLetter([lost, stalled, redriven, again])
        try q.deadLetter([])
        XCTAssertEqual(try q.deadLetters(run: nil), [lost, stalled, other, redriven, again], "\(name): 12: each once, in the order first added, kept by forget")
        XCTAssertEqual(try q.deadLetters(run: "r"), [lost, stalled, redriven, again], "\(name): 12: one run's")
        XCTAssertEqual(try q.deadLetters(run: "nope"), [], name)
    }

    /// The stores that keep the feed beside their journal write a turn's entries in its
    /// append (all or nothing), and refuse queue items there unless they hold the queue.
    func testTurnStoreAppendCarriesTheDeadLetterFeed() throws {
        var pairs: [(String, any TurnStore, any WorkQueue, holdsQueue: Bool)] = []
        let sqlite = try DurableStore(path: dir + "/\(UUID().uuidString).db")
        pairs.append(("sqlite", sqlite, SQLiteWorkQueue(store: sqlite), false))
        if let pg = try postgresBackend() { pairs.append(("postgres", pg.store(), pg.queue(), true)) }
        if let r = try redis() { pairs.append(("redis", r.store(), r.queue(), false)) }
        for (name, store, queue, holdsQueue) in pairs {
            try store.createRun(newRun("r"))
            let entry = DeadLetterEntry(runID: "r", seq: 1, task: 0, taskName: "build", kind: .deadLettered, errorClass: "failed",
                                        message: "exit 1", attempts: 2, atMs: 5)
            var writes = TurnQueueWrites(nowMs: 5)
            writes.deadLetters = [entry]
            // Refused (the journal has no seq 0 yet): nothing is added.
            XCTAssertThrowsError(try store.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: [],
                                                  processes: ProcessChanges(), queue: writes), name)
            XCTAssertEqual(try queue.deadLetters(run: "r"), [], "\(name): a refused append adds nothing")
            try append(store, "r", expected: 0, [0])
            try store.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: [], processes: ProcessChanges(),
                             queue: writes)
            XCTAssertEqual(try queue.deadLetters(run: "r"), [entry], "\(name): the entry commits with its record")
            var offer = TurnQueueWrites(nowMs: 5)
            offer.offered = [item(0)]
            if !holdsQueue {
                XCTAssertThrowsError(try store.append(run: "r", expectedSeq: 2, records: [record(2)], update: nil, logs: [], consumedInbox: [],
                                                      processes: ProcessChanges(), queue: offer)) { e in
                    XCTAssertEqual((e as? StoreError)?.kind, .misuse, "\(name): \(e)")
                }
                XCTAssertEqual(try store.journal(run: "r", from: 0).count, 2, "\(name): nothing appended")
            }
        }
    }
}
