// What the PostgreSQL backend does beyond the port contracts (those run in
// PortConformanceTests): migrations, lost connections, the fast path for killed workers,
// the run lease's session and epoch fence, wake-ups, and what its messages never show.
// Each test works in a schema of its own, dropped in tearDown; without `EZ_PG` the
// server tests skip.
import EzflowIR
import EzflowPorts
@testable import EzflowPostgres
import EzflowRuntime
import Foundation
import XCTest

final class PostgresBackendTests: XCTestCase {
    var made: [PostgresBackend] = []

    override func tearDown() {
        for b in made { try? b.dropSchema() }
        made = []
    }

    func conninfo() throws -> String {
        guard let c = Servers.postgres else { throw XCTSkip("EZ_PG not set") }
        return c
    }

    /// A backend in a fresh schema (dropped in tearDown), migrated unless told otherwise.
    func backend(schema: String? = nil, migrate: Bool = true) throws -> PostgresBackend {
        let name = schema ?? "ez_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let b = try PostgresBackend(conninfo: try conninfo(), schema: name)
        made.append(b)
        if migrate { try b.migrate() }
        return b
    }

    func newRun(_ id: String, ir: [UInt8] = [1, 2]) -> NewRun { NewRun(runID: id, workflow: "w", irHash: "h", ir: ir, seed: 7, createdMs: 10) }

    func record(_ seq: Int, run: String = "r") -> JournalRecord {
        let e: Event = seq == 0 ? .runStarted(runID: run, seed: 7, planHash: "h", tagLimits: [:], atMs: 0)
            : .agentHealth(agent: 0, healthy: seq % 2 == 0, atMs: Millis(seq))
        return JournalRecord(seq: seq, event: e, commands: [])
    }

    func item(_ task: Int) -> WorkItem { WorkItem(runID: "r", task: task, attempt: 1, agent: 0, idempotencyKey: "r/t\(task)") }

    /// Polls `body` until it returns non-nil or `seconds` pass (the server notices a
    /// dead session asynchronously).
    func eventually<T>(_ seconds: Double = 5, _ body: () throws -> T?) rethrows -> T? {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if let v = try body() { return v }
            usleep(20_000)
        }
        return try body()
    }

    func terminate(_ pid: Int32?, via b: PostgresBackend) throws {
        let pid = try XCTUnwrap(pid, "a connected session")
        XCTAssertEqual(try b.rawExec("SELECT pg_terminate_backend($1)", [String(pid)]).first?[0], "t")
        // Gone (and its locks with it) once the server lists it no more.
        let gone = try eventually { try b.rawExec("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [String(pid)]).isEmpty ? true : nil }
        XCTAssertEqual(gone, true, "session \(pid) ended")
    }

    // MARK: Schema

    func testMigrationsAreVersionedAndAnUnmigratedSchemaIsRefused() throws {
        let b = try backend(migrate: false)
        XCTAssertThrowsError(try b.store().run("r"), "a store before `ezrun db migrate`") { e in
            XCTAssertEqual((e as? StoreError)?.kind, .schema, "\(e)")
            XCTAssertTrue("\(e)".contains("ezrun db migrate"), "\(e)")
        }
        // Two processes migrating at once take turns under the advisory lock.
        let other = try PostgresBackend(conninfo: try conninfo(), schema: b.schema)
        let results = Shared<[Result<(from: Int, to: Int), StoreError>]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let r = Result { () throws(StoreError) in try (i == 0 ? b : other).migrate() }
            results.append(r)
        }
        let ranges = try results.value.map { try $0.get() }.map { [$0.from, $0.to] }.sorted { $0[0] < $1[0] }
        let v = PostgresBackend.schemaVersion
        XCTAssertEqual(ranges, [[0, v], [v, v]], "one migrates, the other finds it done")
        XCTAssertNil(try b.store().run("r"), "the migrated schema serves")
        XCTAssertThrowsError(try PostgresBackend(conninfo: try conninfo(), schema: "Bad-Name"), "a schema name spliced into SQL is checked")
    }

    // MARK: Values

    func testEveryByteAndCharacterRoundTrips() throws {
        let s = try backend().store()
        let bytes = (0...255).map { UInt8($0) } + [0, 92, 120, 255]
        var run = newRun("r", ir: bytes)
        run.meta = .object([("q", .string("it's \"quoted\" \\ é 日本 \u{1}"))])
        try s.createRun(run)
        XCTAssertEqual(try s.ir(run: "r"), bytes, "bytea: every byte value, 0 and 255 included")
        XCTAssertEqual(try s.meta(run: "r"), run.meta)
        try s.addVersion(run: "r", fromSeq: 3, irHash: "h2", ir: [0, 255])
        XCTAssertEqual(try s.versions(run: "r").map(\.ir), [[0, 255]])
        let log = AttemptLogRow(task: 1, attempt: 1, seq: 0, agent: 0, exitCode: nil, durationMs: 5, stdout: "ünï\u{7f}'", stderr: "\\x00")
        try s.append(run: "r", expectedSeq: 0, records: [record(0)], update: nil, logs: [log], consumedInbox: [])
        XCTAssertEqual(try s.logs(run: "r", task: nil), [log])
    }

    // MARK: Connections

    func testALostConnectionIsUnavailableAndTheNextCallReconnects() throws {
        let b = try backend()
        let s = b.store()
        try s.createRun(newRun("r"))
        try terminate(s.backendPID, via: b)
        XCTAssertThrowsError(try s.run("r"), "the call on the dead connection") { e in
            XCTAssertEqual((e as? StoreError)?.kind, .unavailable, "\(e)")
        }
        XCTAssertEqual(try s.run("r")?.runID, "r", "a new session on the next call")
        XCTAssertNotNil(s.backendPID)
    }

    func testMessagesNeverShowThePassword() {
        XCTAssertEqual(PG.redact("host=h  password = 'hunter2 x\\'y' user = 'a b' port=1"), "host=h user='a b' port=1",
                       "blanks around =, a quoted password with a blank and an escaped quote")
        for conninfo in ["host=127.0.0.1 port=1 user=u password=hunter2 connect_timeout=2", "host=127.0.0.1 port=1 password = hunter2",
                         "postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=2&password=hunter2"] {
            do {
                let b = try PostgresBackend(conninfo: conninfo)
                XCTAssertFalse(b.location.contains("hunter2"), b.location)
                XCTAssertThrowsError(try b.store().run("r")) { e in
                    XCTAssertEqual((e as? StoreError)?.kind, .unavailable, "\(e)")
                    XCTAssertFalse("\(e)".contains("hunter2"), "\(e)")
                    XCTAssertTrue("\(e)".contains("127.0.0.1"), "the message names the server: \(e)")
                }
            } catch { XCTFail("\(error)") }
        }
    }

    func testAURLNamesTheSchemaAndLibpqNeverSeesIt() throws {
        let b = try PostgresBackend(url: "postgresql://u:pw@db.example:5433/ez?sslmode=verify-full&schema=prod&sslrootcert=/ca.pem")
        XCTAssertEqual(b.schema, "prod")
        XCTAssertEqual(b.conninfo, "postgresql://u:pw@db.example:5433/ez?sslmode=verify-full&sslrootcert=/ca.pem")
        XCTAssertEqual(b.location, "postgresql postgresql://u@db.example:5433/ez (schema prod)", "no password, no query")
        let kv = try PostgresBackend(url: "host=h port=1 schema=s1 user=u")
        XCTAssertEqual([kv.schema, kv.conninfo], ["s1", "host=h port=1 user=u"])
        XCTAssertEqual(try PostgresBackend(url: "postgres://h/db").schema, "ezflow", "the default schema")
        XCTAssertThrowsError(try PostgresBackend(url: "postgres://h/db?schema=x;drop"), "a schema name is checked before any SQL")
    }

    // MARK: Queue

    func testConcurrentClaimsNeverHandOutAnItemTwice() throws {
        let b = try backend()
        try b.queue().offer((0..<200).map(item), nowMs: 0)
        let queues = [b.queue(), b.queue()]
        let claimed = Shared<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { w in
            while true {
                do {
                    let got = try queues[w].claim(owner: "w\(w)", max: 7, nowMs: 1, leaseMs: 1_000)
                    if got.isEmpty { return }
                    claimed.append(contentsOf: got.map(\.item.task))
                } catch { return XCTFail("\(error)") }
            }
        }
        XCTAssertEqual(claimed.value.sorted(), Array(0..<200), "every item once, over two connections")
    }

    func testAKilledWorkersLeasesComeBackBeforeTheyExpire() throws {
        let b = try backend()
        // The reaper trusts no free worker lock in a server's first 30 s (every lock is free
        // after a restart, and other tests restart the server): wait that out first.
        let up = Double(try b.rawExec("SELECT extract(epoch FROM now() - pg_postmaster_start_time())").first?[0] ?? "") ?? 0
        if up < 31 { usleep(UInt32((31 - up) * 1_000_000)) }
        let worker = b.queue(), reaper = b.queue()
        try worker.registerWorker(owner: "w1", nowMs: 0)
        XCTAssertThrowsError(try reaper.registerWorker(owner: "w1", nowMs: 0), "one live worker per id") { e in
            XCTAssertEqual((e as? StoreError)?.kind, .conflict, "\(e)")
        }
        try worker.offer([item(0), item(1), item(2)], nowMs: 0)
        XCTAssertEqual(try worker.claim(owner: "w1", max: 2, nowMs: 0, leaseMs: 30_000).count, 2)
        XCTAssertEqual(try reaper.expire(nowMs: 10), [], "a live worker keeps its leases")
        XCTAssertEqual(try worker.expire(nowMs: 10), [], "a worker never takes itself for dead")
        try terminate(worker.backendPID, via: b)
        let back = try eventually { () throws -> [WorkItem]? in
            let got = try reaper.expire(nowMs: 10)
            return got.isEmpty ? nil : got
        }
        XCTAssertEqual(back, [item(0), item(1)], "taken back at 10 ms, long before the 30 s expiry")
        let again = try reaper.claim(owner: "w2", max: 9, nowMs: 20, leaseMs: 1_000)
        XCTAssertEqual(again.map(\.item), [item(0), item(1), item(2)])
        XCTAssertEqual(again.map(\.deliveries), [2, 2, 1], "the lost delivery counts")
        XCTAssertFalse(try reaper.complete(WorkCompletion(item: item(0), owner: "w1", outcome: .succeeded(outputs: .null, costMicros: 0, tokens: 0)),
                                           nowMs: 30), "the dead worker is fenced off")
        // An owner that never registered is not taken for dead: only its expiry frees it.
        XCTAssertEqual(try reaper.expire(nowMs: 500), [])
        XCTAssertEqual(try reaper.expire(nowMs: 1_020), [item(0), item(1), item(2)])
    }

    // MARK: Run lease

    func testAStandbysProbeSeesWhetherARunsLeaseIsHeld() throws {
        let b = try backend(), other = try backend()
        let lease = b.lease()
        XCTAssertFalse(try b.runLeaseHeld("r"))
        _ = try lease.acquire(run: "r", owner: "coord-1", nowMs: 0)
        XCTAssertTrue(try b.runLeaseHeld("r"), "held by a session of this schema")
        XCTAssertFalse(try other.runLeaseHeld("r"), "another schema's run of the same id is not")
        XCTAssertTrue(lease.holds(run: "r"))
        try terminate(lease.backendPID(run: "r"), via: b)
        XCTAssertFalse(try b.runLeaseHeld("r"), "the holder's session died")
        XCTAssertNotNil(eventually(3) { lease.holds(run: "r") ? nil : true }, "and the holder knows within its keep-alive's second")
    }

    func testATerminatedLeaseSessionFreesTheRunAndFencesItsStore() throws {
        let b1 = try backend()
        let b2 = try PostgresBackend(conninfo: try conninfo(), schema: b1.schema)
        let (store1, store2) = (b1.store(), b2.store())
        let (lease1, lease2) = (b1.lease(), b2.lease())
        try store1.createRun(newRun("r"))
        let e1 = try lease1.acquire(run: "r", owner: "coord-1", nowMs: 0)
        try store1.append(run: "r", expectedSeq: 0, records: [record(0)], update: nil, logs: [], consumedInbox: [])
        XCTAssertThrowsError(try lease2.acquire(run: "r", owner: "coord-2", nowMs: 0), "held") { e in
            XCTAssertEqual((e as? LeaseError)?.holder, "coord-1", "the refusal names the holder")
        }
        try terminate(lease1.backendPID(run: "r"), via: b1)
        let e2 = eventually { try? lease2.acquire(run: "r", owner: "coord-2", nowMs: 0) }
        XCTAssertGreaterThan(try XCTUnwrap(e2, "the run is free once its session is gone"), e1)
        XCTAssertThrowsError(try store1.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: []),
                             "the old holder's append, though it is up to date") { e in
            XCTAssertEqual((e as? StoreError)?.kind, .conflict, "\(e)")
        }
        try store2.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: [])
        XCTAssertEqual(try store2.journal(run: "r", from: 0).map(\.seq), [0, 1])
    }

    func testAHolderWhoseSessionDiedStopsWritingEvenIfNobodyTookOver() throws {
        let b = try backend()
        let store = b.store(), lease = b.lease()
        try store.createRun(newRun("r"))
        _ = try lease.acquire(run: "r", owner: "coord-1", nowMs: 0)
        try store.append(run: "r", expectedSeq: 0, records: [record(0)], update: nil, logs: [], consumedInbox: [])
        try terminate(lease.backendPID(run: "r"), via: b)
        // At once, not only when the keep-alive notices (within a second); on the
        // one-statement path too (this store wrote the journal's head).
        XCTAssertThrowsError(try store.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: [])) { e in
            XCTAssertEqual((e as? StoreError)?.kind, .conflict, "\(e)")
            XCTAssertTrue("\(e)".contains("lost its lease"), "\(e)")
        }
        XCTAssertEqual(try store.journal(run: "r", from: 0).map(\.seq), [0], "nothing written")
        usleep(1_500_000)
        XCTAssertThrowsError(try store.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: []),
                             "still refused after the keep-alive gave the session up")
    }

    func testTwoStoresOfOneRunFenceEachOther() throws {
        let b = try backend()
        let (a, c) = (b.store(), b.store())
        try a.createRun(newRun("r"))
        try a.append(run: "r", expectedSeq: 0, records: [record(0)], update: nil, logs: [], consumedInbox: [])
        try a.append(run: "r", expectedSeq: 1, records: [record(1)], update: RunUpdate(status: .running, verdict: nil, updatedMs: 5), logs: [],
                     consumedInbox: [])
        try c.append(run: "r", expectedSeq: 2, records: [record(2)], update: nil, logs: [], consumedInbox: [])
        // `a` wrote seq 1 last and believes the next is 2: its one-statement append must
        // find out that `c` wrote it.
        XCTAssertThrowsError(try a.append(run: "r", expectedSeq: 2, records: [record(2)], update: nil, logs: [], consumedInbox: [])) { e in
            XCTAssertEqual((e as? StoreError)?.kind, .conflict, "\(e)")
            XCTAssertTrue("\(e)".contains("the journal has 3 records"), "\(e)")
        }
        try a.append(run: "r", expectedSeq: 3, records: [record(3)], update: nil, logs: [], consumedInbox: [])
        XCTAssertEqual(try c.journal(run: "r", from: 0), (0...3).map { record($0) }, "one chain, whoever wrote")
        XCTAssertEqual(try c.run("r")?.status, .running)
    }

    func testTheStoreNamesTheCoordinatorThatTookTheRunOver() throws {
        let b1 = try backend()
        let b2 = try PostgresBackend(conninfo: try conninfo(), schema: b1.schema)
        let store1 = b1.store(), lease1 = b1.lease(), lease2 = b2.lease()
        try store1.createRun(newRun("r"))
        _ = try lease1.acquire(run: "r", owner: "coord-1", nowMs: 0)
        // The epoch moves under a live holder (an operator's takeover, or a holder that
        // has not noticed its session died): the epoch check refuses the write.
        lease1.release(run: "r", owner: "coord-1")
        _ = try lease2.acquire(run: "r", owner: "coord-2", nowMs: 0)
        b1.book.held.withLock { $0["r"] = LeaseBook.Held(epoch: 1, owner: "coord-1") }
        XCTAssertThrowsError(try store1.append(run: "r", expectedSeq: 0, records: [record(0)], update: nil, logs: [], consumedInbox: [])) { e in
            XCTAssertEqual((e as? StoreError)?.kind, .conflict, "\(e)")
            XCTAssertTrue((e as? StoreError)?.message.contains("another coordinator took run `r` over") == true, "\(e)")
        }
        XCTAssertEqual(try store1.journal(run: "r", from: 0), [], "nothing written")
    }

    func testTheHolderAcquiringAgainGetsAGreaterEpochAndKeepsWriting() throws {
        let b = try backend()
        let store = b.store(), lease = b.lease()
        try store.createRun(newRun("r"))
        let e1 = try lease.acquire(run: "r", owner: "coord-1", nowMs: 0)
        try store.append(run: "r", expectedSeq: 0, records: [record(0)], update: nil, logs: [], consumedInbox: [])
        XCTAssertGreaterThan(try lease.acquire(run: "r", owner: "coord-1", nowMs: 10), e1)
        try store.append(run: "r", expectedSeq: 1, records: [record(1)], update: nil, logs: [], consumedInbox: [])
        XCTAssertThrowsError(try b.lease().acquire(run: "r", owner: "coord-2", nowMs: 10), "still one holder")
    }

    func testAFrozenHolderLosesItsRunAfterTheIdleTimeout() throws {
        let b = try backend()
        let frozen = b.lease(), next = b.lease()
        let e1 = try frozen.acquire(run: "r", owner: "coord-1", nowMs: 0)
        // A live holder that writes nothing keeps its run past the 5 s idle timeout.
        usleep(6_000_000)
        XCTAssertThrowsError(try next.acquire(run: "r", owner: "coord-2", nowMs: 0), "kept alive")
        frozen.freezeKeepAlive()
        usleep(2_000_000)
        XCTAssertThrowsError(try next.acquire(run: "r", owner: "coord-2", nowMs: 0), "idle 2 s: still held")
        let e2 = eventually(8) { try? next.acquire(run: "r", owner: "coord-2", nowMs: 0) }
        XCTAssertGreaterThan(try XCTUnwrap(e2, "the server ended the idle session (idle_session_timeout 5 s)"), e1)
    }

    func testRunsOfTwoSchemasHaveLeasesOfTheirOwn() throws {
        let (a, b) = (try backend().lease(), try backend().lease())
        XCTAssertEqual(try a.acquire(run: "r", owner: "x", nowMs: 0), 1)
        XCTAssertEqual(try b.acquire(run: "r", owner: "y", nowMs: 0), 1, "same run id, another schema")
    }

    // MARK: Wake-ups

    func testANotifyWakesAWaitingListener() throws {
        let b = try backend()
        let listener = b.listener()
        try listener.listen()
        XCTAssertFalse(try listener.wait(timeoutMs: 50), "nothing sent: the wait times out")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) {
            do { try b.notify("run r") } catch { XCTFail("\(error)") }
        }
        let start = Date()
        XCTAssertTrue(try listener.wait(timeoutMs: 10_000))
        XCTAssertLessThan(Date().timeIntervalSince(start), 3, "woken by the notify, not by the 10 s timeout")
        XCTAssertFalse(try listener.wait(timeoutMs: 20), "one notify, one wake-up")
        // A lost connection: said once, then a new session LISTENs again and reports a
        // wake-up (what was sent meanwhile is lost, so the caller looks).
        try terminate(listener.backendPID, via: b)
        XCTAssertThrowsError(try listener.wait(timeoutMs: 2_000)) { e in XCTAssertEqual((e as? StoreError)?.kind, .unavailable, "\(e)") }
        XCTAssertTrue(try listener.wait(timeoutMs: 2_000), "reconnected: look now")
        try b.notify()
        XCTAssertTrue(try listener.wait(timeoutMs: 5_000), "listening again")
    }
}

/// A value shared by concurrent test closures.
final class Shared<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var v: T
    init(_ v: T) { self.v = v }
    var value: T { lock.withLock { v } }
    func append<E>(_ e: E) where T == [E] { lock.withLock { v.append(e) } }
    func append<E>(contentsOf es: [E]) where T == [E] { lock.withLock { v.append(contentsOf: es) } }
}
