// What the Redis backend does beyond the port contracts (PortConformanceTests runs those
// for "redis"): the run lease's TTL and epoch fencing of journal appends, wake-ups,
// addresses that never show a password, the re-drive of work a dying client left in a
// stream's pending list, and (with EZ_REDIS_RESTART_CONF) a kill -9 of the server.
import EzflowIR
import EzflowPorts
@testable import EzflowRedis
import EzflowRuntime
import Foundation
import Synchronization
import XCTest

final class RedisBackendTests: XCTestCase {
    var backends: [RedisBackend] = []
    var prefix = ""

    override func setUpWithError() throws {
        guard Servers.redis != nil else { throw XCTSkip("EZ_REDIS not set") }
        prefix = "ez_t_\(UUID().uuidString):"
    }

    override func tearDown() {
        for b in backends { XCTAssertNoThrow(try b.removeAllKeys()) }
    }

    /// A backend on the test's prefix (a second call: another process on the same data).
    func backend(_ url: String? = nil) throws -> RedisBackend {
        let b = try RedisBackend(url: url ?? Servers.redis!, prefix: prefix)
        backends.append(b)
        return b
    }

    func record(_ seq: Int) -> JournalRecord {
        let e: Event = seq == 0 ? .runStarted(runID: "r", seed: 7, planHash: "h", tagLimits: [:], atMs: 0)
            : .agentHealth(agent: 0, healthy: true, atMs: Millis(seq))
        return JournalRecord(seq: seq, event: e, commands: [])
    }

    // A coordinator that stops renewing loses the run after the TTL; the next one gets a
    // higher epoch, and the old one's journal append is refused.
    func testALeaseThatIsNotRenewedIsTakenOverAndFencesTheOldHolder() throws {
        let a = try backend(), b = try backend()
        let leaseA = a.lease(ttlMs: 300), leaseB = b.lease(ttlMs: 300)
        let storeA = a.store(), storeB = b.store()
        try storeA.createRun(NewRun(runID: "r", workflow: "w", irHash: "h", ir: [1], seed: 7, createdMs: 0))
        let e1 = try leaseA.acquire(run: "r", owner: "coord-a", nowMs: 0)
        try storeA.append(run: "r", expectedSeq: 0, records: [record(0)], update: nil, logs: [], consumedInbox: [])
        usleep(600_000)
        XCTAssertThrowsError(try leaseB.acquire(run: "r", owner: "coord-b", nowMs: 0), "renewed every ttl/3: still held after 2 TTLs")
        leaseA.pauseRenewal()
        usleep(450_000)
        let e2 = try leaseB.acquire(run: "r", owner: "coord-b", nowMs: 0)
        XCTAssertGreaterThan(e2, e1)
        XCTAssertThrowsError(try storeA.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: [])) { e in
            XCTAssertEqual((e as? StoreError)?.kind, .conflict, "\(e)")
            XCTAssertTrue("\(e)".contains("taken over"), "\(e)")
        }
        try storeB.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: [])
        XCTAssertEqual(try storeA.journal(run: "r", from: 0).map(\.seq), [0, 1])
        leaseB.release(run: "r", owner: "coord-b")
        leaseA.release(run: "r", owner: "coord-a")
        XCTAssertEqual(try storeA.run("r")?.journalCount, 2)
    }

    // A notify wakes a waiting listener at once; without one the wait times out.
    func testNotifyWakesAWaitEarly() throws {
        let b = try backend()
        let listener = try b.listener()
        XCTAssertFalse(try listener.wait(timeoutMs: 100), "nothing sent")
        let start = Date()
        let sender = try backend()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { try? sender.notify() }
        XCTAssertTrue(try listener.wait(timeoutMs: 10_000))
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "woken by the notify, not by the timeout")
    }

    // The address in messages never carries the password, and a refused AUTH says so without it.
    func testAPasswordNeverShows() throws {
        let a = try RedisAddress("redis://ann:s3cr3t-pw@127.0.0.1:6390/2")
        XCTAssertEqual(a.location, "redis://ann@127.0.0.1:6390/2")
        XCTAssertEqual([a.user, a.password], ["ann", "s3cr3t-pw"])
        XCTAssertEqual(a.db, 2)
        let hostPort = Servers.redis!.replacingOccurrences(of: "redis://", with: "")
        XCTAssertThrowsError(try RedisBackend(url: "redis://:s3cr3t-pw@\(hostPort)")) { e in
            XCTAssertFalse("\(e)".contains("s3cr3t-pw"), "\(e)")
            XCTAssertTrue("\(e)".contains("authentication refused"), "\(e)")
        }
        XCTAssertThrowsError(try RedisAddress("redis://u:s3cr3t-pw@host:notaport")) { e in
            XCTAssertFalse("\(e)".contains("s3cr3t-pw"), "\(e)")
        }
    }

    func item(_ task: Int) -> WorkItem { WorkItem(runID: "r", task: task, attempt: 1, agent: 0, idempotencyKey: "r/t\(task)") }

    // A client that died between reading a stream entry and recording its lease (the
    // entry sits in the pending list, the item is still queued) does not lose the item:
    // `expire` takes the entry back after the idle backstop and the item is claimed again.
    func testAnEntryLeftPendingByADeadClientIsPutBack() throws {
        let b = try backend()
        let q = b.queue()
        q.orphanIdleMs.store(0, ordering: .relaxed)
        try q.offer([item(0), item(1)], nowMs: 0)
        let raw = b.connection()
        let stream = "\(prefix)wq:s:0:m:default"
        let read = try raw.checked("XREADGROUP", "GROUP", "ezflow", "dead-worker", "COUNT", "1", "STREAMS", stream, ">")
        XCTAssertEqual(read.array.first?.array.last?.array.count, 1, "the dead worker read one entry")
        XCTAssertEqual(try q.claim(owner: "w", max: 9, nowMs: 0, leaseMs: 100).map(\.item), [item(1)], "the read entry is not offered again by itself")
        XCTAssertEqual(try q.expire(nowMs: 1), [item(0)], "put back by the backstop")
        let again = try q.claim(owner: "w2", max: 9, nowMs: 2, leaseMs: 100)
        XCTAssertEqual(again.map(\.item), [item(0)])
        XCTAssertTrue(try q.complete(WorkCompletion(item: item(0), owner: "w2", outcome: .succeeded(outputs: .null, costMicros: 0, tokens: 0)), nowMs: 3))
        XCTAssertEqual(try raw.checked("XPENDING", stream, "ezflow").array.first?.int, 1, "only item 1's entry is still pending")
    }

    // A lease longer than the idle backstop stays with its owner: the backstop gives it back.
    func testALongLeaseSurvivesTheBackstop() throws {
        let b = try backend()
        let q = b.queue()
        q.orphanIdleMs.store(0, ordering: .relaxed)
        try q.offer([item(0)], nowMs: 0)
        _ = try q.claim(owner: "w", max: 1, nowMs: 0, leaseMs: 1_000_000)
        XCTAssertEqual(try q.expire(nowMs: 10).count, 0)
        XCTAssertTrue(try q.complete(WorkCompletion(item: item(0), owner: "w", outcome: .succeeded(outputs: .null, costMicros: 0, tokens: 0)), nowMs: 11),
                      "the PEL entry is the owner's again")
    }
}
