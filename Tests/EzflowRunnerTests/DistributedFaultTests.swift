// Seeded fault schedules against a real distributed run: 4 `ezrun worker` processes, the
// run's own coordinator (`ezrun run --backend`) and a standby (`ezrun coordinator`), and,
// per seed, workers killed with -9 mid-task (and replaced), the coordinator killed with
// -9 or frozen with SIGSTOP past its run lease, and — where the test command owns the
// server — the Redis server killed with -9 and restarted. The oracle after each run:
// every task ended (the run succeeded), every task's result is journalled exactly once,
// the journal has no gap and replays byte for byte with its chain, and nothing is left
// queued or leased.
import EzflowTestSupport
import Foundation
import XCTest

final class DistributedFaultTests: XCTestCase {
    /// `layers` × `width` tasks, each depending on two of the layer before; each logs its
    /// start and end with its attempt and leaves a `sleep 300` in its group.
    static func workflow(layers: Int = 5, width: Int = 6) -> String {
        var s = """
            agent sh {
              driver: exec
              capabilities: ["shell"]
              concurrency: 16
            }
            workflow faulty {
              input dir: string
              agents: [sh]

            """
        for l in 0..<layers {
            for i in 0..<width {
                let after = l == 0 ? "" : "  after: [t\(l - 1)_\(i), t\(l - 1)_\((i + 1) % width)]"
                let sleep = "0.\((l * width + i) % 5 + 5)"
                s += "  task t\(l)_\(i) { env: { D: inputs.dir }  run: \"echo \\\"start $EZFLOW_TASK $EZFLOW_ATTEMPT\\\" >> \\\"$D/log\\\"; "
                    + "sleep 300 >/dev/null 2>&1 & sleep \(sleep); echo \\\"end $EZFLOW_TASK $EZFLOW_ATTEMPT\\\" >> \\\"$D/log\\\"\"  timeout: 60s\(after) }\n"
            }
        }
        return s + "}\n"
    }

    enum Fault: String { case killWorker, killCoordinator, freezeCoordinator, restartServer, idleTransaction }

    /// The faults of seed `seed`: each allowed one once, in a seeded order and with seeded
    /// delays (ms after the run started); the coordinator is either killed (odd seeds) or
    /// frozen (even ones), last, so the faults before it hit the coordinator that started.
    static func schedule(seed: UInt64, allowed: [Fault]) -> [(Fault, Int)] {
        var rng = SplitMix(seed)
        var out: [(Fault, Int)] = []
        var at = 300
        let coordinator: Fault = seed % 2 == 1 || !allowed.contains(.freezeCoordinator) ? .killCoordinator : .freezeCoordinator
        let others = allowed.filter { $0 != .killCoordinator && $0 != .freezeCoordinator }
        for f in others.shuffled(using: &rng) + [coordinator] {
            at += 300 + Int(rng.next() % 500)
            out.append((f, at))
        }
        return out
    }

    struct SplitMix: RandomNumberGenerator {
        var s: UInt64
        init(_ seed: UInt64) { s = seed }
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func spawn(_ args: [String], in dir: String, log: String) throws -> Process {
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
        let h = FileHandle(forWritingAtPath: log)
        h?.seekToEndOfFile()
        p.standardError = h
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    func testSeededFaultSchedulesWithFourWorkers() throws {
        let env = ProcessInfo.processInfo.environment
        let seeds: [UInt64] = env["EZFLOW_DIST_SEEDS"].map { $0.split(separator: ",").compactMap { UInt64($0) } } ?? [1, 2]
        for seed in seeds {
            var backends: [(String, String, [Fault])] = [("sqlite", "sqlite:\(tempDir("distf"))/q.db", [.killWorker, .killCoordinator])]
            if let pg = DistributedBackends.postgresURL(fresh: true) {
                let restart: [Fault] = env["EZ_PG_DATA"].map { $0.isEmpty ? [] : [.restartServer] } ?? []
                backends.append(("postgres", pg, [.killWorker, .killCoordinator, .freezeCoordinator, .idleTransaction] + restart))
            }
            if let r = DistributedBackends.redisURL(fresh: true) {
                // Restarting the server is only for a server the test command owns.
                let restart: [Fault] = env["EZ_REDIS_RESTART_CONF"].map { $0.isEmpty ? [] : [.restartServer] } ?? []
                backends.append(("redis", r, [.killWorker, .killCoordinator, .freezeCoordinator] + restart))
            }
            for (name, url, allowed) in backends {
                try runSchedule(name: name, url: url, seed: seed, faults: Self.schedule(seed: seed, allowed: allowed))
            }
        }
    }

    func runSchedule(name: String, url: String, seed: UInt64, faults: [(Fault, Int)]) throws {
        let what = "\(name) seed \(seed) \(faults.map { "\($0.0.rawValue)@\($0.1)ms" })"
        let dir = tempDir("distf-\(name)")
        write(Self.workflow(), to: dir + "/f.ezflow")
        let db = DistributedBackends.statusStore(url)
        var workers = try (0..<4).map { i in try spawn(["worker", "--backend", url, "--slots", "2", "--lease", "2s"], in: dir, log: dir + "/w\(i).err") }
        let standby = try spawn(["coordinator", "--backend", url, "--poll", "200ms"], in: dir, log: dir + "/standby.err")
        let run = try spawn(["run", "f.ezflow", "--backend", url, "--run-id", "rf", "--input", "dir=\(dir)", "--no-progress", "--quiet"], in: dir,
                            log: dir + "/run.err")
        let start = Date()
        var rng = SplitMix(seed ^ 0xFA17)
        for (fault, atMs) in faults {
            while Date().timeIntervalSince(start) * 1000 < Double(atMs) { usleep(10_000) }
            // A fault after the end proves nothing: the workflow must outlast the schedule.
            let now = ezrun(["status", "rf", "--json", "--db", db], in: dir).stdout
            XCTAssertFalse(now.contains("\"status\":\"finished\""), "\(what): the run ended before \(fault.rawValue)")
            switch fault {
            case .killWorker:
                let k = Int(rng.next() % UInt64(workers.count))
                kill(workers[k].processIdentifier, SIGKILL)
                workers[k].waitUntilExit()
                workers[k] = try spawn(["worker", "--backend", url, "--slots", "2", "--lease", "2s"], in: dir, log: dir + "/w\(k).err")
            case .killCoordinator:
                if run.isRunning { kill(run.processIdentifier, SIGKILL) }
            case .freezeCoordinator:
                // Frozen past its 5 s run lease: the standby adopts the run; woken, the
                // old coordinator's next append is refused and it stops.
                if run.isRunning {
                    kill(run.processIdentifier, SIGSTOP)
                    usleep(7_000_000)
                    kill(run.processIdentifier, SIGCONT)
                }
            case .restartServer:
                if name == "redis" { try RedisServerControl.restart() } else { PostgresServerControl.restartImmediately() }
            case .idleTransaction:
                // A session idle in a transaction that holds row locks on the queue for 4 s
                // (a stuck client, a long report): claims skip the rows, nothing waits on it.
                PostgresServerControl.holdLocks(url: url, seconds: 4)
            }
        }
        // The run ends, by its own coordinator or the standby.
        let end = Date().addingTimeInterval(120)
        var finished = false
        while Date() < end {
            let s = ezrun(["status", "rf", "--json", "--db", db], in: dir)
            if s.stdout.contains("\"status\":\"finished\"") { finished = true; break }
            usleep(200_000)
        }
        for w in workers { w.terminate() }
        standby.terminate()
        if run.isRunning { run.terminate() }
        for w in workers { w.waitUntilExit() }
        standby.waitUntilExit()
        run.waitUntilExit()
        let logs = (["run.err", "standby.err"] + (0..<4).map { "w\($0).err" }).map { "== \($0)\n" + read(dir + "/" + $0) }.joined(separator: "\n")
        XCTAssertTrue(finished, "\(what): the run did not finish\n\(logs)")
        let status = ezrun(["status", "rf", "--json", "--db", db], in: dir)
        XCTAssertTrue(status.stdout.contains("\"verdict\":\"success\""), "\(what): \(status.stdout)\(status.stderr)\n\(logs)")
        // Every task's result journalled exactly once; no gap; the chain and the commands replay.
        let export = dir + "/journal.jsonl"
        let replay = ezrun(["replay", "rf", "--db", db, "--export", export], in: dir)
        XCTAssertEqual(replay.status, 0, "\(what): \(replay.stdout)\(replay.stderr)")
        var succeeded: [Int: Int] = [:]
        var seqs: [Int] = []
        for line in read(export).split(separator: "\n") {
            guard let doc = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let event = doc["event"] as? [String: Any] else { continue }
            if let seq = doc["seq"] as? Int { seqs.append(seq) }
            if event["type"] as? String == "task_succeeded", let t = event["task"] as? Int { succeeded[t, default: 0] += 1 }
        }
        XCTAssertEqual(seqs, Array(0..<seqs.count), "\(what): journal sequence numbers without a gap")
        XCTAssertEqual(succeeded.count, 30, "\(what): every task succeeded: \(succeeded)")
        XCTAssertEqual(succeeded.values.filter { $0 != 1 }.count, 0, "\(what): a result journalled twice: \(succeeded)")
        // Nothing left queued or leased.
        let hint = ezrun(["scale-hint", "--backend", url, "--window", "0s", "--json"], in: dir)
        XCTAssertTrue(hint.stdout.contains("\"backlog\":0"), "\(what): \(hint.stdout)\(hint.stderr)")
        XCTAssertEqual(liveProcesses(marker: "D=\(dir)", within: 10), [], "\(what): task processes left behind")
    }
}

/// The Redis server `scripts/test.sh` started (`EZ_REDIS_RESTART_CONF`): killed with -9
/// and started again from its config, as a crash and a restart of the machine would.
enum RedisServerControl {
    static func restart() throws {
        let env = ProcessInfo.processInfo.environment
        guard let conf = env["EZ_REDIS_RESTART_CONF"], let addr = env["EZ_REDIS"] else { return }
        let port = addr.split(separator: ":").last.map(String.init) ?? "6379"
        let info = runProcess(URL(fileURLWithPath: "/usr/bin/redis-cli"), ["-p", port, "info", "server"], timeout: 10).stdout
        guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("process_id:") }),
              let pid = Int32(line.dropFirst("process_id:".count)) else { return }
        kill(pid, SIGKILL)
        while kill(pid, 0) == 0 { usleep(10_000) }
        // posix_spawn with every descriptor of ours close-on-exec: the daemonized server
        // would otherwise hold the test runner's pipes (and a build lock) for its lifetime.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) }
        }
        let server = "/usr/bin/redis-server"
        var child: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(server), strdup(conf), nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&child, server, nil, nil, argv, environ) == 0 else { return }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        for _ in 0..<100 {
            if runProcess(URL(fileURLWithPath: "/usr/bin/redis-cli"), ["-p", port, "ping"], timeout: 5).stdout.contains("PONG") { return }
            usleep(50_000)
        }
    }
}

/// The PostgreSQL cluster `scripts/test.sh` started (`EZ_PG_DATA`, `EZ_PG_BIN`).
enum PostgresServerControl {
    /// `pg_ctl restart -m immediate`: every session cut, as a crash of the server would.
    static func restartImmediately() {
        let env = ProcessInfo.processInfo.environment
        guard let data = env["EZ_PG_DATA"], let bin = env["EZ_PG_BIN"] else { return }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) }
        }
        XCTAssertEqual(spawnAndWait(["/bin/su", "postgres", "-s", "/bin/sh", "-c", "\(bin)/pg_ctl -D \(data) restart -m immediate -w -l \(data)/../pg.log"]),
                       0, "pg_ctl restart")
    }

    /// Runs `argv` with its standard streams on /dev/null (no pipe a restarted server could
    /// keep open) and returns its exit status, or -1 after 60 s.
    static func spawnAndWait(_ argv: [String]) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in 0...2 { posix_spawn_file_actions_addopen(&actions, Int32(fd), "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        let args: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { args.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, args, environ) == 0 else { return -1 }
        var status: Int32 = 0
        let end = Date().addingTimeInterval(60)
        while Date() < end {
            if waitpid(pid, &status, WNOHANG) == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1 }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        return -1
    }

    /// A `psql` session that locks one queued and one leased row of the run's queue, then
    /// sits idle in its transaction for `seconds`, in the background.
    static func holdLocks(url: String, seconds: Int) {
        guard let q = url.range(of: "?namespace=") else { return }
        let schema = String(url[q.upperBound...]), conn = String(url[..<q.lowerBound])
        let sql = "BEGIN; SELECT id FROM \(schema).tasks ORDER BY id DESC LIMIT 2 FOR UPDATE;"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "(echo '\(sql)'; sleep \(seconds); echo 'COMMIT;') | psql -q '\(conn)' >/dev/null 2>&1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { XCTFail("psql: \(error)") }
    }
}
