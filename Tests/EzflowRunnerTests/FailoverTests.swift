// `--backend PRIMARY --fallback SECONDARY` (docs/DISTRIBUTED.md, "Failover"): a new run
// goes to the fallback while the primary cannot be reached and journals the switch; a
// run in progress stays on its backend and waits for it; workers and standbys serve
// both. Real processes; the outage test stops and starts the real PostgreSQL server.
import EzflowTestSupport
import Foundation
import XCTest

final class FailoverTests: XCTestCase {
    /// `a` → `b`, `c`; each task logs `start RUN TASK` to `$D/log`.
    static let small = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
          concurrency: 8
        }
        workflow small {
          input dir: string
          agents: [sh]
          task a { env: { D: inputs.dir }  run: "echo \\"start $EZFLOW_RUN_ID a\\" >> \\"$D/log\\"; sleep 0.2"  timeout: 60s }
          task b { env: { D: inputs.dir }  run: "echo \\"start $EZFLOW_RUN_ID b\\" >> \\"$D/log\\""  timeout: 60s  after: [a] }
          task c { env: { D: inputs.dir }  run: "echo \\"start $EZFLOW_RUN_ID c\\" >> \\"$D/log\\""  timeout: 60s  after: [a] }
        }
        """

    /// A primary URL with a password, on a port nothing listens on.
    static func deadPrimary() -> String { "postgresql://ezflow:s3cr3t-pw@127.0.0.1:\(closedPort())/ezflow?namespace=ezfo" }

    func spawn(_ args: [String], in dir: String, log: String, env: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: log)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// The journal of `run` in `db` as (seq, event type, event) in order, through `ezrun replay --export`.
    func journal(_ run: String, db: String, in dir: String) -> [(Int, String, [String: Any])] {
        let export = dir + "/\(run).jsonl"
        let r = ezrun(["replay", run, "--db", db, "--export", export], in: dir)
        XCTAssertEqual(r.status, 0, "\(run) replays: \(r.stdout)\(r.stderr)")
        return read(export).split(separator: "\n").compactMap { line in
            guard let doc = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let seq = doc["seq"] as? Int, let event = doc["event"] as? [String: Any], let type = event["type"] as? String else { return nil }
            return (seq, type, event)
        }
    }

    func stop(_ p: Process) {
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
    }

    /// No server needed: the primary is a PostgreSQL URL on a port nothing listens on, the
    /// fallback a SQLite file. The run goes to the fallback, says so once, journals
    /// `backend_fallback` right after `run_started` (the primary without its password), and a
    /// worker serving both runs it while the primary stays away. The password is never printed.
    func testANewRunGoesToTheFallbackWhileThePrimaryIsUnreachable() throws {
        let dir = tempDir("failover")
        write(Self.small, to: dir + "/f.ezflow")
        let primary = Self.deadPrimary(), fallback = "sqlite:\(dir)/s.db"
        let worker = try spawn(["worker", "--backend", primary, "--fallback", fallback, "--slots", "2", "--health-port", "0"], in: dir,
                               log: dir + "/w.err")
        // The fallback from the environment, as the primary may be: no URL in argv.
        let run = runProcess(Repo.executable("ezrun"), ["run", "f.ezflow", "--run-id", "r1", "--input", "dir=\(dir)", "--no-progress",
                                                                     "--log", dir + "/run.log"],
                             cwd: URL(fileURLWithPath: dir), timeout: 60,
                             environment: ProcessInfo.processInfo.environment.merging(["EZFLOW_BACKEND": primary, "EZFLOW_FALLBACK": fallback]) { $1 })
        // Ready while the fallback answers; the metrics say which backend does.
        let port = DistributedRunTests.port(in: read(dir + "/w.err"))
        let metrics = (try? httpGet(port: port, path: "/metrics")) ?? ""
        XCTAssertTrue(metrics.contains("ezflow_worker_backend_ready{backend=\"primary\"} 0\n"), metrics)
        XCTAssertTrue(metrics.contains("ezflow_worker_backend_ready{backend=\"fallback\"} 1\n"), metrics)
        XCTAssertTrue(((try? httpGet(port: port, path: "/readyz")) ?? "").hasPrefix("HTTP/1.1 200"), "ready while the fallback answers")
        stop(worker)
        let workerLog = read(dir + "/w.err")
        XCTAssertEqual(run.status, 0, "\(run.stderr)\n\(workerLog)")
        XCTAssertEqual(run.stdout, "r1\n")
        let shown = redactedURL(primary)
        let said = run.stderr.split(separator: "\n").filter { $0.hasPrefix("ezrun: primary backend") }
        XCTAssertEqual(said.count, 1, run.stderr)
        XCTAssertTrue(said.first?.hasPrefix("ezrun: primary backend \(shown) unreachable (cannot connect: ") ?? false, run.stderr)
        XCTAssertTrue(said.first?.hasSuffix("; run r1 runs on fallback \(fallback)") ?? false, run.stderr)
        XCTAssertTrue(run.stderr.contains("journal \(fallback)"), run.stderr)
        XCTAssertTrue(workerLog.contains("\(shown): the backend does not answer"), workerLog)
        XCTAssertTrue(workerLog.contains("claimed r1 task 0 attempt 1"), workerLog)
        for t in ["a", "b", "c"] { XCTAssertEqual(read(dir + "/log").components(separatedBy: "start r1 \(t)\n").count - 1, 1, "\(t) ran once") }
        // The journal: the switch right after run_started, then the tasks; it replays.
        let j = journal("r1", db: dir + "/s.db", in: dir)
        XCTAssertEqual(j.prefix(2).map(\.1), ["run_started", "backend_fallback"])
        XCTAssertEqual(j.filter { $0.1 == "backend_fallback" }.count, 1)
        XCTAssertEqual(j.dropFirst().first?.2["primary"] as? String, shown)
        XCTAssertTrue((j.dropFirst().first?.2["reason"] as? String ?? "").hasPrefix("cannot connect: "), "\(j.dropFirst().first?.2 ?? [:])")
        XCTAssertEqual(j.filter { $0.1 == "task_succeeded" }.count, 3)
        // The JSON log line of the record, and the run's progress line.
        let switched = read(dir + "/run.log").split(separator: "\n").filter { $0.contains("run on the fallback backend") }
        XCTAssertEqual(switched.count, 1, read(dir + "/run.log"))
        XCTAssertTrue(switched.first?.contains("\"primary\":\"\(shown)\"") ?? false, "\(switched)")
        XCTAssertTrue(run.stderr.contains("run on the fallback backend: the primary \(shown) was unreachable (cannot connect: "), run.stderr)
        // `resume` finds the run on the fallback while the primary is away.
        let resumed = ezrun(["resume", "r1", "--backend", primary, "--fallback", fallback], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("run r1 has already finished (success)"), resumed.stderr)
        // A run on neither while the primary is away is most likely the primary's: it waits for it.
        let elsewhere = ezrun(["resume", "r-of-the-primary", "--backend", primary, "--fallback", fallback], in: dir)
        XCTAssertEqual(elsewhere.status, 5, elsewhere.stderr)
        XCTAssertTrue(elsewhere.stderr.contains("run `r-of-the-primary` is not on the fallback, and the primary backend \(shown) cannot be reached"),
                      elsewhere.stderr)
        for text in [run.stdout, run.stderr, workerLog, read(dir + "/run.log"), resumed.stderr, elsewhere.stderr, read(dir + "/r1.jsonl")] {
            XCTAssertFalse(text.contains("s3cr3t"), "the password was printed: \(text)")
        }
    }

    /// A primary that answers keeps the run: no event, nothing on the fallback (which is
    /// not even opened by `ezrun run`). A primary that answers and refuses (here, a file
    /// that is not a database; with PostgreSQL, a schema never migrated) is an error as
    /// without --fallback: a misconfiguration is not an outage.
    func testAReachablePrimaryKeepsItsRunsAndAMisconfiguredOneIsAnError() throws {
        var primaries = [("sqlite", { (dir: String) in "sqlite:\(dir)/p.db" })]
        let pg = ProcessInfo.processInfo.environment["EZ_PG"].map { !$0.isEmpty } ?? false
        if pg {
            primaries.append(("postgres", { _ in DistributedBackends.postgresURL(fresh: true)! }))
        }
        for (name, make) in primaries {
            let dir = tempDir("failover-up")
            write(Self.small, to: dir + "/f.ezflow")
            let primary = make(dir), fallback = "sqlite:\(dir)/s.db"
            let worker = try spawn(["worker", "--backend", primary, "--fallback", fallback, "--slots", "2"], in: dir, log: dir + "/w.err")
            let run = ezrun(["run", "f.ezflow", "--backend", primary, "--fallback", fallback, "--run-id", "r2", "--input", "dir=\(dir)",
                             "--no-progress"], in: dir)
            stop(worker)
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)\n\(read(dir + "/w.err"))")
            XCTAssertFalse(run.stderr.contains("unreachable"), "\(name): \(run.stderr)")
            let j = journal("r2", db: DistributedBackends.statusStore(primary), in: dir)
            XCTAssertEqual(j.filter { $0.1 == "backend_fallback" }.count, 0, "\(name)")
            XCTAssertEqual(j.filter { $0.1 == "task_succeeded" }.count, 3, "\(name)")
            let onFallback = ezrun(["runs", "--db", dir + "/s.db", "--json"], in: dir)
            XCTAssertFalse(onFallback.stdout.contains("r2"), "\(name): nothing on the fallback: \(onFallback.stdout)")
            XCTAssertEqual(ezrun(["status", "r2", "--db", dir + "/s.db"], in: dir).status, 2, "\(name): r2 is not on the fallback")
        }
        let dir = tempDir("failover-bad")
        write(Self.small, to: dir + "/f.ezflow")
        write(String(repeating: "not a database ", count: 20), to: dir + "/p.db")
        var misconfigured = ["sqlite:\(dir)/p.db"]
        if pg, let url = DistributedBackends.postgresURL(fresh: true) {
            misconfigured.append(url.replacingOccurrences(of: #"namespace=\w+"#, with: "namespace=ez_never_migrated", options: .regularExpression))
        }
        for primary in misconfigured {
            let r = ezrun(["run", "f.ezflow", "--backend", primary, "--fallback", "sqlite:\(dir)/s.db", "--input", "dir=\(dir)"], in: dir,
                          timeout: 20)
            XCTAssertEqual(r.status, 5, "\(primary): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("fallback"), "\(primary): not an outage: \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/s.db"), "\(primary): the fallback was not touched")
        }
    }

    /// Usage errors (exit 2) and both backends unreachable (exit 5, one message naming
    /// both, no password).
    func testFallbackUsageAndBothBackendsUnreachable() throws {
        let dir = tempDir("failover-usage")
        write(Self.small, to: dir + "/f.ezflow")
        let s = "sqlite:\(dir)/s.db"
        let input = ["--input", "dir=\(dir)"]
        for (args, says) in [(["run", "f.ezflow", "--fallback", s] + input, "--fallback needs --backend"),
                             (["worker", "--fallback", s], "--fallback needs --backend"),
                             (["run", "f.ezflow", "--backend", s, "--fallback", s] + input, "--fallback names the same backend as --backend"),
                             (["coordinator", "--backend", s, "--fallback", "mysql://h/db"], "--fallback takes sqlite:PATH")] {
            let r = ezrun(args, in: dir)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(says), "\(args): \(r.stderr)")
        }
        let primary = Self.deadPrimary(), fallback = "redis://:other-pw@127.0.0.1:\(closedPort())"
        let r = ezrun(["run", "f.ezflow", "--backend", primary, "--fallback", fallback, "--input", "dir=\(dir)"], in: dir)
        XCTAssertEqual(r.status, 5, r.stderr)
        XCTAssertTrue(r.stderr.contains("cannot reach the primary backend \(redactedURL(primary))"), r.stderr)
        XCTAssertTrue(r.stderr.contains("nor the fallback"), r.stderr)
        XCTAssertFalse(r.stderr.contains("s3cr3t") || r.stderr.contains("other-pw"), r.stderr)
    }

    /// A primary that accepts the connection and never answers (a hung server, a black-holed
    /// route) cannot hold the choice: libpq's connect_timeout (10 s, set by ezflow) ends the
    /// wait and the run goes to the fallback.
    func testAPrimaryThatNeverAnswersDoesNotHangTheChoice() throws {
        let dir = tempDir("failover-hang")
        write(Self.small, to: dir + "/f.ezflow")
        // Listening, never accepting: the kernel completes the handshake, nobody answers.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(listen(fd, 16), 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        let primary = "postgresql://ezflow@127.0.0.1:\(port)/ezflow", fallback = "sqlite:\(dir)/s.db"
        let started = Date()
        // No worker: the run is created and waits for one; it is stopped once the switch is said.
        let run = try spawn(["run", "f.ezflow", "--backend", primary, "--fallback", fallback, "--run-id", "r3", "--input", "dir=\(dir)",
                             "--no-progress"], in: dir, log: dir + "/run.err")
        let end = Date().addingTimeInterval(40)
        while !read(dir + "/run.err").contains("runs on fallback") && run.isRunning && Date() < end { usleep(50_000) }
        let waited = Date().timeIntervalSince(started)
        stop(run)
        XCTAssertTrue(read(dir + "/run.err").contains("run r3 runs on fallback \(fallback)"), read(dir + "/run.err"))
        XCTAssertLessThan(waited, 30, "the choice waited \(Int(waited)) s")
        XCTAssertEqual(journal("r3", db: dir + "/s.db", in: dir).prefix(2).map(\.1), ["run_started", "backend_fallback"])
    }

    /// With servers (PostgreSQL the primary, Redis or else SQLite the fallback): two workers
    /// and a standby serve both. Run A starts on PostgreSQL; PostgreSQL is stopped under it
    /// (`pg_ctl stop -m immediate`); run B, started meanwhile, goes to the fallback and
    /// finishes there while PostgreSQL is down; PostgreSQL comes back and A finishes (adopted
    /// by the standby, its coordinator having lost its session). Nothing is lost or run
    /// twice: every task of each run has exactly one `task_succeeded`, each run lives on one
    /// backend only, the journals replay, no task process is left.
    func testThePrimaryGoesDownMidRunAndComesBack() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["EZ_PG_DATA"] != nil, env["EZ_PG_BIN"] != nil, let primary = DistributedBackends.postgresURL(fresh: true) else {
            throw XCTSkip("needs EZ_PG, EZ_PG_DATA and EZ_PG_BIN (scripts/test.sh exports them)")
        }
        let dir = tempDir("failover-outage")
        let fallback = DistributedBackends.redisURL(fresh: true) ?? "sqlite:\(dir)/s.db"
        write(DistributedFaultTests.workflow(layers: 4, width: 3), to: dir + "/a.ezflow")
        write(Self.small, to: dir + "/b.ezflow")
        let both = ["--backend", primary, "--fallback", fallback]
        let workers = try (0..<2).map { i in try spawn(["worker"] + both + ["--slots", "3", "--lease", "3s"], in: dir, log: dir + "/w\(i).err") }
        let standby = try spawn(["coordinator"] + both + ["--poll", "200ms"], in: dir, log: dir + "/standby.err")
        var restarted = false
        defer { if !restarted { PostgresServerControl.start() } }
        let runA = try spawn(["run", "a.ezflow", "--run-id", "ra", "--input", "dir=\(dir)", "--no-progress"] + both, in: dir, log: dir + "/a.err")
        let aStarted = Date().addingTimeInterval(30)
        while read(dir + "/log").split(separator: "\n").count < 3 && Date() < aStarted { usleep(20_000) }
        XCTAssertGreaterThanOrEqual(read(dir + "/log").split(separator: "\n").count, 3, "A started: \(read(dir + "/a.err"))")
        // The outage must land mid-run: A is not finished when the server stops.
        let before = ezrun(["status", "ra", "--json", "--db", primary], in: dir).stdout
        XCTAssertTrue(before.contains("\"status\":\"running\""), "A runs when the primary goes down: \(before)")
        PostgresServerControl.stop()
        let b = ezrun(["run", "b.ezflow", "--run-id", "rb", "--input", "dir=\(dir)", "--no-progress"] + both, in: dir, timeout: 90)
        PostgresServerControl.start()
        restarted = true
        XCTAssertEqual(b.status, 0, "B finished on the fallback while the primary was down: \(b.stderr)")
        XCTAssertTrue(b.stderr.contains("unreachable") && b.stderr.contains("run rb runs on fallback"), b.stderr)
        // A ends, by its own coordinator or the standby.
        let end = Date().addingTimeInterval(120)
        var finished = false
        while Date() < end {
            if ezrun(["status", "ra", "--json", "--db", primary], in: dir).stdout.contains("\"status\":\"finished\"") { finished = true; break }
            usleep(200_000)
        }
        for p in workers + [standby, runA] { stop(p) }
        let logs = (["a.err", "standby.err", "w0.err", "w1.err"]).map { "== \($0)\n" + read(dir + "/" + $0) }.joined(separator: "\n")
        XCTAssertTrue(finished, "A finished once the primary was back\n\(logs)")
        let fb = DistributedBackends.statusStore(fallback)
        for (run, db, tasks) in [("ra", primary, 12), ("rb", fb, 3)] {
            let status = ezrun(["status", run, "--json", "--db", db], in: dir)
            XCTAssertTrue(status.stdout.contains("\"verdict\":\"success\""), "\(run): \(status.stdout)\(status.stderr)\n\(logs)")
            let j = journal(run, db: db, in: dir)
            XCTAssertEqual(j.map(\.0), Array(0..<j.count), "\(run): no gap")
            var succeeded: [Int: Int] = [:]
            for (_, type, e) in j where type == "task_succeeded" { succeeded[e["task"] as? Int ?? -1, default: 0] += 1 }
            XCTAssertEqual(succeeded.count, tasks, "\(run): every task succeeded: \(succeeded)")
            XCTAssertEqual(succeeded.values.filter { $0 != 1 }.count, 0, "\(run): a result journalled twice: \(succeeded)")
            XCTAssertEqual(j.filter { $0.1 == "backend_fallback" }.count, run == "rb" ? 1 : 0, "\(run)")
        }
        XCTAssertEqual(journal("rb", db: fb, in: dir).prefix(2).map(\.1), ["run_started", "backend_fallback"])
        // Each run on one backend only.
        XCTAssertEqual(ezrun(["status", "rb", "--db", primary], in: dir).status, 2, "B is not on the primary")
        XCTAssertEqual(ezrun(["status", "ra", "--db", fb], in: dir).status, 2, "A is not on the fallback")
        XCTAssertEqual(liveProcesses(marker: "D=\(dir)", within: 10), [], "task processes left behind")
    }
}

/// A URL with the password of its user part as `***`, as ezflow prints it (the tests do
/// not link EzflowBackends).
func redactedURL(_ url: String) -> String {
    guard let scheme = url.range(of: "://"), let at = url.range(of: "@"), let colon = url[scheme.upperBound..<at.lowerBound].firstIndex(of: ":") else {
        return url
    }
    return String(url[..<colon]) + ":***" + String(url[at.lowerBound...])
}

extension PostgresServerControl {
    /// `pg_ctl stop -m immediate`: the server gone, every session cut.
    static func stop() {
        let env = ProcessInfo.processInfo.environment
        guard let data = env["EZ_PG_DATA"], let bin = env["EZ_PG_BIN"] else { return }
        XCTAssertEqual(spawnAndWait(["/bin/su", "postgres", "-s", "/bin/sh", "-c", "\(bin)/pg_ctl -D \(data) stop -m immediate -w"]), 0, "pg_ctl stop")
    }

    /// `pg_ctl start` with the options the server last ran with (its port, socket
    /// directory and listen address, from `postmaster.opts`: `start` does not read them as
    /// `restart` does), waiting until it accepts connections.
    static func start() {
        let env = ProcessInfo.processInfo.environment
        guard let data = env["EZ_PG_DATA"], let bin = env["EZ_PG_BIN"] else { return }
        // `/usr/lib/postgresql/15/bin/postgres "-D" "/tmp/…/data" "-p" "54330" …`: all but the program.
        let opts = read(data + "/postmaster.opts").trimmingCharacters(in: .whitespacesAndNewlines)
        let rest = opts.firstIndex(of: " ").map { String(opts[opts.index(after: $0)...]) } ?? ""
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) }
        }
        XCTAssertEqual(spawnAndWait(["/bin/su", "postgres", "-s", "/bin/sh", "-c", "\(bin)/pg_ctl -D \(data) start -w -l \(data)/../pg.log -o '\(rest)'"]), 0,
                       "pg_ctl start")
    }
}
