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
        XCTAssertFalse(try b.runLeaseHeld("r"), "a standby's probe: nobody holds it")
        let e1 = try leaseA.acquire(run: "r", owner: "coord-a", nowMs: 0)
        XCTAssertTrue(try b.runLeaseHeld("r"), "a standby's probe: held")
        try storeA.append(run: "r", expectedSeq: 0, records: [record(0)], update: nil, logs: [], consumedInbox: [])
        usleep(600_000)
        XCTAssertThrowsError(try leaseB.acquire(run: "r", owner: "coord-b", nowMs: 0), "renewed every ttl/3: still held after 2 TTLs")
        leaseA.pauseRenewal()
        usleep(450_000)
        XCTAssertFalse(try b.runLeaseHeld("r"), "a standby's probe: expired")
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

    // A holder whose renewal finds its key taken (it was frozen past the TTL and another
    // took the run) knows it at its next renewal: `holds` turns false.
    func testAHolderThatFindsItsLeaseTakenKnowsIt() throws {
        let a = try backend(), b = try backend()
        let leaseA = a.lease(ttlMs: 300), leaseB = b.lease(ttlMs: 300)
        _ = try leaseA.acquire(run: "r", owner: "coord-a", nowMs: 0)
        usleep(400_000)
        XCTAssertTrue(leaseA.holds(run: "r"), "renewed")
        // Another coordinator's grant, as after an expiry while `a` was frozen.
        _ = try a.admin.read("DEL", prefix + "lease:r")
        _ = try leaseB.acquire(run: "r", owner: "coord-b", nowMs: 0)
        usleep(300_000)
        XCTAssertFalse(leaseA.holds(run: "r"), "its renewal was refused")
        XCTAssertTrue(leaseB.holds(run: "r"))
        XCTAssertTrue(try a.runLeaseHeld("r"))
        leaseB.release(run: "r", owner: "coord-b")
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
        XCTAssertEqual(try q.expire(nowMs: 4).count, 0)
        let consumers = try raw.checked("XINFO", "CONSUMERS", stream, "ezflow").array.map { $0.array.count > 1 ? $0.array[1].text : nil }
        XCTAssertEqual(consumers, ["w"], "idle consumers with nothing pending are forgotten, the one holding item 1 is kept")
    }

    // Workers in several processes claiming at once never get the same item, and every
    // item is handed out (each claim is one script on the server).
    func testConcurrentClaimsNeverShareAnItem() throws {
        let b = try backend()
        try b.queue().offer((0..<60).map(item), nowMs: 0)
        let queues = (0..<4).map { _ in b.queue() }
        let got = Mutex<[WorkItem]>([])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { w in
            while true {
                do {
                    let l = try queues[w].claim(owner: "w\(w)", max: 2, nowMs: 0, leaseMs: 100)
                    if l.isEmpty { return }
                    got.withLock { $0 += l.map(\.item) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                    return
                }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let items = got.withLock { $0 }
        XCTAssertEqual(items.count, 60)
        XCTAssertEqual(Set(items.map(\.task)), Set(0..<60))
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

    /// Waits until a server answers PING at `address` (a restart loads the AOF first).
    func waitForServer(_ address: RedisAddress, seconds: Double = 15) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let r = try? RedisConnection(address: address, timeoutMs: 1_000).command("PING"), r == .status("PONG") { return }
            usleep(100_000)
        }
        XCTFail("no server answered at \(address.location) within \(seconds) s")
    }

    /// Marks every descriptor above stderr close-on-exec, so a server started from here
    /// holds none of ours (a build lock held by a wrapper, the runner's pipes).
    func closeOnExec() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) }
        }
    }

    func redisServerPath() throws -> String {
        for p in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        throw XCTSkip("redis-server not installed")
    }

    // A server that could lose queued work (no AOF) or evict keys is refused at open,
    // saying which setting to change. Runs its own throwaway servers, never the shared one.
    func testAServerThatCouldLoseWorkIsRefused() throws {
        let server = try redisServerPath()
        for (settings, named) in [(["--appendonly", "no"], "appendonly"), (["--appendonly", "yes", "--maxmemory-policy", "allkeys-lru"], "maxmemory-policy")] {
            let port = Int.random(in: 40_000..<50_000)
            let dir = NSTemporaryDirectory() + "ezflow-redis-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: server)
            proc.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--dir", dir, "--daemonize", "no"] + settings
            proc.standardOutput = FileHandle.nullDevice
            closeOnExec()
            try proc.run()
            defer { proc.terminate(); proc.waitUntilExit() }
            try waitForServer(try RedisAddress("127.0.0.1:\(port)"))
            XCTAssertThrowsError(try RedisBackend(url: "127.0.0.1:\(port)", prefix: prefix), named) { e in
                XCTAssertEqual((e as? StoreError)?.kind, .schema, "\(e)")
                XCTAssertTrue("\(e)".contains("`\(named) "), "\(e)")
            }
        }
    }

    // kill -9 of the server, then a restart from its config: nothing offered, leased,
    // completed, journaled, posted or leased as a run is lost; the lost connection is
    // `unavailable` and the next call reconnects. Needs EZ_REDIS_RESTART_CONF, the config
    // file of the server at EZ_REDIS (checked against the server's own `config_file`
    // before anything is killed).
    func testNothingIsLostWhenTheServerIsKilled() throws {
        guard let conf = Servers.value("EZ_REDIS_RESTART_CONF") else { throw XCTSkip("EZ_REDIS_RESTART_CONF not set") }
        let server = try redisServerPath()
        let b = try backend()
        let store = b.store(), q = b.queue(), lease = b.lease(ttlMs: 60_000)
        let raw = b.connection()
        let info = String(decoding: try raw.checked("INFO", "server").bytes ?? [], as: UTF8.self)
        func infoField(_ name: String) -> String? {
            info.split(whereSeparator: \.isNewline).first { $0.hasPrefix(name + ":") }.map { String($0.dropFirst(name.count + 1)) }
        }
        let configFile = try XCTUnwrap(infoField("config_file"))
        guard URL(fileURLWithPath: configFile).standardizedFileURL == URL(fileURLWithPath: conf).standardizedFileURL else {
            return XCTFail("EZ_REDIS runs with \(configFile), not EZ_REDIS_RESTART_CONF \(conf): not killing it")
        }
        let pid = try XCTUnwrap(infoField("process_id").flatMap { Int32($0) })

        try store.createRun(NewRun(runID: "r", workflow: "w", irHash: "h", ir: [1, 2], seed: 7, createdMs: 0))
        let epoch = try lease.acquire(run: "r", owner: "coord", nowMs: 0)
        try store.append(run: "r", expectedSeq: 0, records: [record(0), record(1)], update: nil, logs: [], consumedInbox: [])
        let posted = try store.post(InboxItem(runID: "r", kind: .cancel, task: nil, principal: "ann", approved: false, refusal: nil, comment: "", createdMs: 1))
        try q.offer((0..<5).map(item), nowMs: 0)
        XCTAssertEqual(try q.claim(owner: "w1", max: 2, nowMs: 0, leaseMs: 1_000_000).map(\.item), [item(0), item(1)])
        XCTAssertTrue(try q.complete(WorkCompletion(item: item(0), owner: "w1", outcome: .succeeded(outputs: .null, costMicros: 1, tokens: 0)), nowMs: 1))

        XCTAssertEqual(kill(pid, SIGKILL), 0)
        var gone = false
        for _ in 0..<100 where !gone {
            gone = kill(pid, 0) != 0
            if !gone { usleep(50_000) }
        }
        XCTAssertTrue(gone, "the server died")
        XCTAssertThrowsError(try store.run("r"), "the server is down") { e in
            XCTAssertEqual((e as? StoreError)?.kind, .unavailable, "\(e)")
        }
        // posix_spawn + waitpid, not Process, and every descriptor of ours close-on-exec:
        // the daemonized server would otherwise keep them open for its lifetime (the
        // test runner's pipes, a build lock held by a wrapper), and wait on us forever.
        closeOnExec()
        var pidOut: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(server), strdup(conf), nil]
        defer { argv.forEach { free($0) } }
        XCTAssertEqual(posix_spawn(&pidOut, server, nil, nil, argv, environ), 0, "redis-server started")
        var status: Int32 = 0
        waitpid(pidOut, &status, 0)
        try waitForServer(b.address)

        XCTAssertEqual(try store.journal(run: "r", from: 0), [record(0), record(1)], "the journal")
        XCTAssertEqual(try store.run("r")?.journalCount, 2)
        XCTAssertEqual(try store.inbox(run: "r").map(\.id), [posted], "the inbox")
        // A write is never retried by itself: the first one on a connection the restart
        // cut says so, the next one reconnects.
        XCTAssertThrowsError(try q.completions(run: "r", reader: "probe"), "a write on a cut connection") { e in
            XCTAssertEqual((e as? StoreError)?.kind, .unavailable, "\(e)")
        }
        XCTAssertEqual(try q.completions(run: "r", reader: "c").map(\.item), [item(0)], "the completion")
        XCTAssertEqual(try q.claim(owner: "w2", max: 9, nowMs: 2, leaseMs: 100).map(\.item), [item(2), item(3), item(4)], "the queued items, in order")
        XCTAssertTrue(try q.complete(WorkCompletion(item: item(1), owner: "w1", outcome: .succeeded(outputs: .null, costMicros: 1, tokens: 0)), nowMs: 3),
                      "the lease, still w1's")
        XCTAssertThrowsError(try b.lease(ttlMs: 60_000).acquire(run: "r", owner: "other", nowMs: 0), "the run lease")
        try store.append(run: "r", expectedSeq: 2, records: [record(2)], update: nil, logs: [], consumedInbox: [posted])
        lease.release(run: "r", owner: "coord")
        XCTAssertGreaterThan(try b.lease(ttlMs: 60_000).acquire(run: "r", owner: "other", nowMs: 0), epoch, "the epoch counter")
    }
}
