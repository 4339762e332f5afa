// Runs whose attempts are carried out by `ezrun worker` processes, coordinated by
// `ezrun run --backend URL` or, after that one is killed, by `ezrun coordinator`: real
// processes, real kill -9, one test body per backend (sqlite here; PostgreSQL and Redis
// when the test command started their servers).
import EzflowTestSupport
import Foundation
import XCTest

final class DistributedRunTests: XCTestCase {
    /// A backend URL per backend that can run here, fresh for `dir`.
    func backends(_ dir: String) -> [(String, String)] {
        var out = [("sqlite", "sqlite:\(dir)/q.db")]
        if let pg = DistributedBackends.postgresURL(fresh: true) { out.append(("postgres", pg)) }
        if let redis = DistributedBackends.redisURL(fresh: true) { out.append(("redis", redis)) }
        return out
    }

    /// `a` (long, so a worker can be killed under it) → `b`, `c` → `d`; each task logs
    /// `start TASK ATTEMPT PID` and `end …` to `$D/log` and leaves `sleep 300` in its group.
    static let workflow = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
          concurrency: 8
        }
        workflow fan {
          input dir: string
          agents: [sh]
          task a { env: { D: inputs.dir }  run: "echo \\"start a $EZFLOW_ATTEMPT $$\\" >> \\"$D/log\\"; sleep 300 >/dev/null 2>&1 & sleep 2; echo \\"end a\\" >> \\"$D/log\\""  timeout: 60s }
          task b { env: { D: inputs.dir }  run: "echo \\"start b\\" >> \\"$D/log\\"; sleep 0.2"  timeout: 60s  after: [a] }
          task c { env: { D: inputs.dir }  run: "echo \\"start c\\" >> \\"$D/log\\"; sleep 0.2"  timeout: 60s  after: [a] }
          task d { env: { D: inputs.dir }  run: "echo \\"start d\\" >> \\"$D/log\\"; echo '{\\"n\\": 4}'"  timeout: 60s  after: [b, c]  output n: int }
        }
        """

    /// The port of the `health on http://HOST:PORT/healthz` line.
    static func port(in log: String) -> UInt16 {
        let line = log.split(separator: "\n").first { $0.contains("/healthz") } ?? ""
        guard let r = line.range(of: "http://") else { return 0 }
        let hostPort = line[r.upperBound...].prefix { $0 != "/" }
        return UInt16(hostPort.split(separator: ":").last ?? "") ?? 0
    }

    func spawn(_ args: [String], in dir: String, log: String) throws -> Process {
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: log)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    func waitFor(_ what: String, seconds: Double = 30, _ cond: () -> Bool) {
        let end = Date().addingTimeInterval(seconds)
        while !cond() && Date() < end { usleep(20_000) }
        XCTAssertTrue(cond(), "timed out waiting for \(what)")
    }

    func lines(_ path: String, _ prefix: String) -> [String] {
        read(path).split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    /// Two workers; the one running `a` is killed with -9 under it. Its lease expires, the
    /// coordinator's reaper queues the attempt again, the other worker runs it (same
    /// attempt, second delivery), and the run ends as if nothing happened: every task's
    /// result journalled once, the killed worker's task processes gone, the journal replays.
    func testAKilledWorkersAttemptRunsAgainOnAnotherWorker() throws {
        for (name, url) in backends(tempDir("dist")) {
            let dir = tempDir("dist-\(name)")
            write(Self.workflow, to: dir + "/f.ezflow")
            let w1 = try spawn(["worker", "--backend", url, "--slots", "1", "--lease", "2s"], in: dir, log: dir + "/w1.err")
            let run = try spawn(["run", "f.ezflow", "--backend", url, "--run-id", "r1", "--input", "dir=\(dir)", "--no-progress"], in: dir,
                                log: dir + "/run.err")
            waitFor("\(name): a started") { !lines(dir + "/log", "start a").isEmpty }
            let w2 = try spawn(["worker", "--backend", url, "--slots", "2", "--lease", "2s", "--idle-exit", "3s"], in: dir, log: dir + "/w2.err")
            kill(w1.processIdentifier, SIGKILL)
            w1.waitUntilExit()
            run.waitUntilExit()
            w2.waitUntilExit()
            XCTAssertEqual(run.terminationStatus, 0, "\(name): \(read(dir + "/run.err"))\n\(read(dir + "/w2.err"))")
            let starts = lines(dir + "/log", "start a")
            XCTAssertEqual(starts.count, 2, "\(name): a ran on the killed worker, then again: \(starts)")
            XCTAssertEqual(starts.map { $0.split(separator: " ")[2] }, ["1", "1"], "\(name): the same attempt, delivered twice")
            XCTAssertEqual(lines(dir + "/log", "end a").count, 1, "\(name): the killed worker's attempt never finished")
            for t in ["b", "c", "d"] { XCTAssertEqual(lines(dir + "/log", "start \(t)").count, 1, "\(name): \(t) ran once") }
            XCTAssertTrue(read(dir + "/w2.err").contains("task 0 attempt 1 (delivery 2)"), "\(name): \(read(dir + "/w2.err"))")
            XCTAssertEqual(liveProcesses(marker: "D=\(dir)", within: 5), [], "\(name): the killed worker's task processes are gone")
            let status = ezrun(["status", "r1", "--json", "--db", DistributedBackends.statusStore(url)], in: dir)
            XCTAssertTrue(status.stdout.contains("\"verdict\":\"success\""), "\(name): \(status.stdout)\(status.stderr)")
            assertReplays(dir, "r1", store: DistributedBackends.statusStore(url))
        }
    }

    /// A task that kills its worker (`kill -9 $PPID`) kills the next two as well: its third
    /// lost lease ends the attempt as `worker_lost`, which a retry rule without `on:` does
    /// not retry, so it is dead-lettered (with its journal event and an entry in the
    /// backend's dead-letter feed: a table, a stream) instead of killing workers for ever;
    /// the other task is unharmed. Re-driven once its cause is gone, it succeeds, and the
    /// feed says who re-drove it (each entry once, though the resume sends them again).
    func testATaskThatKillsThreeWorkersIsDeadLettered() throws {
        let flow = """
            agent sh {
              driver: exec
              capabilities: ["shell"]
              concurrency: 4
            }
            role ops {
              allow: [run]
            }
            retry five {
              attempts: 5
              backoff: fixed
              delay: 100ms
            }
            workflow poison {
              input dir: string
              agents: [sh]
              task ok { env: { D: inputs.dir }  run: "echo ok >> \\"$D/log\\""  timeout: 60s }
              task poison { env: { D: inputs.dir }  run: "echo start >> \\"$D/log\\"; test -e \\"$D/cured\\" || kill -9 $PPID; sleep 0.1"  timeout: 60s  retry: five }
            }
            """
        for (name, url) in backends(tempDir("dist")) {
            let dir = tempDir("dist-\(name)")
            write(flow, to: dir + "/f.ezflow")
            let run = try spawn(["run", "f.ezflow", "--backend", url, "--run-id", "p1", "--input", "dir=\(dir)", "--no-progress"], in: dir,
                                log: dir + "/run.err")
            var killed = 0
            for i in 1...4 where run.isRunning {
                let w = try spawn(["worker", "--backend", url, "--slots", "1", "--lease", "2s", "--idle-exit", "3s"], in: dir, log: dir + "/w\(i).err")
                w.waitUntilExit()
                if w.terminationReason == .uncaughtSignal && w.terminationStatus == SIGKILL { killed += 1 }
            }
            run.waitUntilExit()
            XCTAssertEqual(killed, 3, "\(name): three workers killed, then no more")
            XCTAssertEqual(lines(dir + "/log", "start").count, 3, "\(name): one attempt, delivered three times")
            XCTAssertEqual(lines(dir + "/log", "ok").count, 1, "\(name)")
            XCTAssertEqual(run.terminationStatus, 1, "\(name): the run failed: \(read(dir + "/run.err"))")
            XCTAssertTrue(read(dir + "/run.err").contains("poison dead-lettered after 1 attempt"), "\(name): \(read(dir + "/run.err"))")
            let dlq = ezrun(["dlq", "list", "--db", DistributedBackends.statusStore(url)], in: dir)
            XCTAssertTrue(dlq.stdout.contains("p1\tpoison\tworker_lost\t1\t"), "\(name): \(dlq.stdout)\(dlq.stderr)")
            XCTAssertEqual(liveProcesses(marker: "D=\(dir)", within: 5), [], "\(name): the killed workers' task processes are gone")
            assertReplays(dir, "p1", store: DistributedBackends.statusStore(url))
            XCTAssertEqual(DistributedBackends.deadLetterFeed(url), ["p1 dead_lettered poison worker_lost 1 -"], "\(name)")

            write("", to: dir + "/cured")
            let retry = ezrun(["dlq", "retry", "p1", "poison", "--db", url, "--as", "ops:ops"], in: dir)
            XCTAssertEqual(retry.status, 0, "\(name): \(retry.stdout)\(retry.stderr)")
            if name == "sqlite" {
                // `sqlite:FILE` is a file: the re-drive resumes the finished run in this
                // process, which runs the attempt itself.
                XCTAssertTrue(retry.stderr.contains("run finished: success"), "\(name): \(retry.stderr)")
            } else {
                XCTAssertTrue(retry.stdout.hasSuffix("posted; continue with: ezrun resume p1 --backend \(url)\n"), "\(name): \(retry.stdout)")
                // `--db` naming a server is that backend (it never was a file path).
                let resume = try spawn(["resume", "p1", "--no-progress", "--db", url], in: dir, log: dir + "/resume.err")
                let w = try spawn(["worker", "--backend", url, "--slots", "1", "--idle-exit", "3s"], in: dir, log: dir + "/w5.err")
                resume.waitUntilExit()
                w.waitUntilExit()
                XCTAssertEqual(resume.terminationStatus, 0, "\(name): the re-driven task succeeded: \(read(dir + "/resume.err"))")
            }
            XCTAssertEqual(DistributedBackends.deadLetterFeed(url), ["p1 dead_lettered poison worker_lost 1 -", "p1 redriven poison worker_lost 1 ops"],
                           "\(name): each entry once, in order")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(":") }, [], "\(name): no file named like the URL")
        }
    }

    /// `ezrun cancel` of a run whose attempt runs on a worker: the run ends cancelled at
    /// once, and the worker, told with its next renewal, stops the attempt's processes
    /// long before the task's own 10-minute timeout.
    func testACancelledRunsAttemptIsStoppedOnItsWorker() throws {
        let flow = """
            agent sh {
              driver: exec
              capabilities: ["shell"]
              concurrency: 2
            }
            workflow long {
              input dir: string
              agents: [sh]
              task long { env: { D: inputs.dir }  run: "echo start >> \\"$D/log\\"; sleep 300"  timeout: 600s }
            }
            """
        for (name, url) in backends(tempDir("dist")) {
            let dir = tempDir("dist-cancel-\(name)")
            write(flow, to: dir + "/f.ezflow")
            let w = try spawn(["worker", "--backend", url, "--lease", "3s", "--idle-exit", "3s"], in: dir, log: dir + "/w.err")
            let run = try spawn(["run", "f.ezflow", "--backend", url, "--run-id", "c1", "--input", "dir=\(dir)", "--no-progress"], in: dir,
                                log: dir + "/run.err")
            waitFor("\(name): long started") { !lines(dir + "/log", "start").isEmpty }
            let cancel = ezrun(["cancel", "c1", "--db", DistributedBackends.statusStore(url)], in: dir)
            XCTAssertEqual(cancel.status, 0, "\(name): \(cancel.stderr)")
            run.waitUntilExit()
            let ended = Date()
            XCTAssertTrue(read(dir + "/run.err").contains("cancel"), "\(name): \(read(dir + "/run.err"))")
            XCTAssertEqual(liveProcesses(marker: "D=\(dir)", within: 15), [], "\(name): the attempt's processes were stopped on the worker")
            XCTAssertLessThan(Date().timeIntervalSince(ended), 15, "\(name)")
            w.waitUntilExit()
            XCTAssertTrue(read(dir + "/w.err").contains("c1 task 0 attempt 1 was cancelled by its coordinator; stopping it"), "\(name): \(read(dir + "/w.err"))")
            XCTAssertEqual(w.terminationStatus, 0, "\(name): \(read(dir + "/w.err"))")
        }
    }

    /// A coordinator frozen (SIGSTOP) past its run lease loses the run to a standby; woken,
    /// it says so (not "resume"), exits 5 and writes nothing, and the standby finishes
    /// the run. Not on sqlite: a frozen process keeps its `flock`, so nobody adopts.
    func testAFrozenCoordinatorWokenAfterAnAdoptionSaysSo() throws {
        for (name, url) in backends(tempDir("dist")) where !url.hasPrefix("sqlite:") {
            let dir = tempDir("dist-frozen-\(name)")
            write(Self.workflow, to: dir + "/f.ezflow")
            let w = try spawn(["worker", "--backend", url, "--idle-exit", "6s"], in: dir, log: dir + "/w.err")
            let run = try spawn(["run", "f.ezflow", "--backend", url, "--run-id", "z1", "--input", "dir=\(dir)", "--no-progress"], in: dir,
                                log: dir + "/run.err")
            waitFor("\(name): a started") { !lines(dir + "/log", "start a").isEmpty }
            kill(run.processIdentifier, SIGSTOP)
            let standby = try spawn(["coordinator", "--backend", url, "--poll", "200ms"], in: dir, log: dir + "/c.err")
            waitFor("\(name): adopted", seconds: 20) { read(dir + "/c.err").contains("adopted run z1") }
            kill(run.processIdentifier, SIGCONT)
            run.waitUntilExit()
            waitFor("\(name): the standby finished the run", seconds: 30) { read(dir + "/c.err").contains("run z1: success") }
            kill(standby.processIdentifier, SIGTERM)
            standby.waitUntilExit()
            w.waitUntilExit()
            XCTAssertEqual(run.terminationStatus, 5, "\(name): \(read(dir + "/run.err"))")
            let err = read(dir + "/run.err")
            XCTAssertTrue(err.contains("ezrun: run z1 was adopted by another coordinator while this one could not reach the backend"), "\(name): \(err)")
            XCTAssertTrue(err.contains("ezrun status z1 --db "), "\(name): \(err)")
            XCTAssertFalse(err.contains("ezrun resume"), "\(name): no advice to resume a run that goes on elsewhere: \(err)")
            for t in ["b", "c", "d"] { XCTAssertEqual(lines(dir + "/log", "start \(t)").count, 1, "\(name): \(t) ran once") }
            assertReplays(dir, "z1", store: DistributedBackends.statusStore(url))
        }
    }

    /// SIGTERM to a worker (a Kubernetes scale-down) ends its attempt and puts it back,
    /// uncounted: another worker runs the same attempt and the run succeeds.
    func testAWorkerStoppedWithSIGTERMPutsItsAttemptsBack() throws {
        for (name, url) in backends(tempDir("dist")) {
            let dir = tempDir("dist-term-\(name)")
            write(Self.workflow, to: dir + "/f.ezflow")
            let w1 = try spawn(["worker", "--backend", url, "--slots", "1"], in: dir, log: dir + "/w1.err")
            let run = try spawn(["run", "f.ezflow", "--backend", url, "--run-id", "r5", "--input", "dir=\(dir)", "--no-progress"], in: dir,
                                log: dir + "/run.err")
            waitFor("\(name): a started") { !lines(dir + "/log", "start a").isEmpty }
            w1.terminate()
            w1.waitUntilExit()
            XCTAssertEqual(w1.terminationStatus, 0, "\(name): \(read(dir + "/w1.err"))")
            XCTAssertTrue(read(dir + "/w1.err").contains("1 put back"), "\(name): \(read(dir + "/w1.err"))")
            let w2 = try spawn(["worker", "--backend", url, "--idle-exit", "3s"], in: dir, log: dir + "/w2.err")
            run.waitUntilExit()
            w2.waitUntilExit()
            XCTAssertEqual(run.terminationStatus, 0, "\(name): \(read(dir + "/run.err"))")
            XCTAssertTrue(read(dir + "/w2.err").contains("task 0 attempt 1 (delivery 1)"), "\(name): uncounted: \(read(dir + "/w2.err"))")
            XCTAssertEqual(lines(dir + "/log", "start a").count, 2, name)
            XCTAssertEqual(liveProcesses(marker: "D=\(dir)", within: 5), [], "\(name): the stopped attempt's processes are gone")
        }
    }

    /// The coordinator (`ezrun run --backend`) is killed with -9 while `a` runs on a
    /// worker; `ezrun coordinator` adopts the run once its lease is free and drives it to
    /// the end; the worker's completion of `a` is folded once, nothing runs twice.
    func testACoordinatorAdoptsARunWhoseCoordinatorWasKilled() throws {
        for (name, url) in backends(tempDir("dist")) {
            let dir = tempDir("dist-\(name)")
            write(Self.workflow, to: dir + "/f.ezflow")
            let w = try spawn(["worker", "--backend", url, "--slots", "2", "--lease", "5s"], in: dir, log: dir + "/w.err")
            let run = try spawn(["run", "f.ezflow", "--backend", url, "--run-id", "r2", "--input", "dir=\(dir)", "--no-progress"], in: dir,
                                log: dir + "/run.err")
            waitFor("\(name): a started") { !lines(dir + "/log", "start a").isEmpty }
            kill(run.processIdentifier, SIGKILL)
            run.waitUntilExit()
            let standby = try spawn(["coordinator", "--backend", url, "--poll", "200ms"], in: dir, log: dir + "/c.err")
            waitFor("\(name): the adopted run finished", seconds: 40) { read(dir + "/c.err").contains("run r2: success") }
            standby.terminate()
            w.terminate()
            standby.waitUntilExit()
            w.waitUntilExit()
            XCTAssertTrue(read(dir + "/c.err").contains("adopted run r2"), "\(name): \(read(dir + "/c.err"))")
            for t in ["a", "b", "c", "d"] { XCTAssertEqual(lines(dir + "/log", "start \(t)").count, 1, "\(name): \(t) ran once: \(read(dir + "/log"))") }
            let status = ezrun(["status", "r2", "--json", "--db", DistributedBackends.statusStore(url)], in: dir)
            XCTAssertTrue(status.stdout.contains("\"verdict\":\"success\""), "\(name): \(status.stdout)\(status.stderr)")
            assertReplays(dir, "r2", store: DistributedBackends.statusStore(url))
        }
    }

    /// An agent's `queue` routes its attempts: a worker subscribed to `agent.gpu` takes
    /// only the gpu agent's tasks, one subscribed to `default` only the others; and a
    /// task's `priority` orders the claims of one queue (9 first).
    func testAgentsQueuesRouteTheirAttemptsToTheWorkersSubscribed() throws {
        let flow = """
            agent cpu {
              driver: exec
              capabilities: ["shell"]
              concurrency: 8
            }
            agent gpu {
              driver: exec
              capabilities: ["shell", "gpu"]
              concurrency: 8
              queue: "agent.gpu"
            }
            workflow routed {
              input dir: string
              agents: [cpu, gpu]
              task prep { env: { D: inputs.dir }  run: "echo prep >> \\"$D/log\\""  timeout: 60s }
              task low { env: { D: inputs.dir }  run: "echo low >> \\"$D/order\\""  timeout: 60s  after: [prep]  needs: ["gpu"]  priority: 1 }
              task high { env: { D: inputs.dir }  run: "echo high >> \\"$D/order\\""  timeout: 60s  after: [prep]  needs: ["gpu"]  priority: 8 }
            }
            """
        for (name, url) in backends(tempDir("dist")) {
            let dir = tempDir("dist-\(name)")
            write(flow, to: dir + "/f.ezflow")
            let run = try spawn(["run", "f.ezflow", "--backend", url, "--run-id", "r3", "--input", "dir=\(dir)", "--no-progress"], in: dir,
                                log: dir + "/run.err")
            // The gpu worker starts once both gpu attempts wait in its queue, so its one
            // slot takes them in priority order.
            let cpu = try spawn(["worker", "--backend", url, "--queue", "default", "--idle-exit", "6s"], in: dir, log: dir + "/cpu.err")
            waitFor("\(name): prep ran") { read(dir + "/cpu.err").contains("task 0 attempt 1") }
            usleep(1_500_000)
            XCTAssertFalse(read(dir + "/cpu.err").contains("task 1 "), "\(name): the default queue's worker took a gpu task")
            let gpu = try spawn(["worker", "--backend", url, "--queue", "agent.gpu", "--slots", "1", "--idle-exit", "3s"], in: dir, log: dir + "/gpu.err")
            run.waitUntilExit()
            cpu.waitUntilExit()
            gpu.waitUntilExit()
            XCTAssertEqual(run.terminationStatus, 0, "\(name): \(read(dir + "/run.err"))")
            XCTAssertEqual(read(dir + "/order"), "high\nlow\n", "\(name): priority 8 before 1")
            XCTAssertFalse(read(dir + "/gpu.err").contains("task 0 "), "\(name): \(read(dir + "/gpu.err"))")
            XCTAssertTrue(read(dir + "/gpu.err").contains("task 1 ") && read(dir + "/gpu.err").contains("task 2 "), "\(name): \(read(dir + "/gpu.err"))")
            // The run ended: the values its attempts carried are gone from the queue.
            XCTAssertEqual(DistributedBackends.payloadsKept(url), 0, "\(name): a finished run's payloads are dropped")
        }
    }

    /// Ten attempts wait and no worker runs: `ezrun scale-hint` wants 3 workers of 4 slots
    /// (2 under `--max 2`); the worker started then serves its health probes and metrics,
    /// and the hint falls to 0 once the queue is drained.
    func testScaleHintReadsTheQueueAndAWorkerAnswersItsProbes() throws {
        var flow = """
            agent sh {
              driver: exec
              capabilities: ["shell"]
              concurrency: 16
            }
            workflow wide {
              agents: [sh]

            """
        for i in 0..<10 { flow += "  task t\(i) { run: \"true\"  timeout: 60s }\n" }
        flow += "}\n"
        for (name, url) in backends(tempDir("dist")) {
            let dir = tempDir("dist-\(name)")
            write(flow, to: dir + "/f.ezflow")
            let run = try spawn(["run", "f.ezflow", "--backend", url, "--run-id", "r4", "--no-progress"], in: dir, log: dir + "/run.err")
            waitFor("\(name): 10 queued") { ezrun(["scale-hint", "--backend", url, "--window", "0s", "--quiet"], in: dir).stdout == "3\n" }
            let json = ezrun(["scale-hint", "--backend", url, "--window", "0s", "--json"], in: dir)
            XCTAssertTrue(json.stdout.contains("\"backlog\":10") && json.stdout.contains("\"desired\":3"), "\(name): \(json.stdout)\(json.stderr)")
            XCTAssertEqual(ezrun(["scale-hint", "--backend", url, "--window", "0s", "--max", "2", "--quiet"], in: dir).stdout, "2\n", name)
            XCTAssertEqual(ezrun(["scale-hint", "--backend", url, "--window", "0s", "--queue", "gpu", "--quiet"], in: dir).stdout, "0\n",
                           "\(name): another queue is empty")
            // A standby coordinator serves the same hint to an autoscaler (KEDA's metrics-api scaler).
            let c = try spawn(["coordinator", "--backend", url, "--health-port", "0", "--poll", "100ms"], in: dir, log: dir + "/c.err")
            waitFor("\(name): the coordinator's port") { read(dir + "/c.err").contains("/scale-hint") }
            let cport = Self.port(in: read(dir + "/c.err"))
            waitFor("\(name): a hint") { ((try? httpGet(port: cport, path: "/scale-hint")) ?? "").contains("\"desired\":3") }
            XCTAssertTrue(try httpGet(port: cport, path: "/healthz").hasPrefix("HTTP/1.1 200"), name)
            XCTAssertTrue(try httpGet(port: cport, path: "/metrics").contains("ezflow_scale_hint_desired 3\n"), name)
            c.terminate()
            c.waitUntilExit()
            let w = try spawn(["worker", "--backend", url, "--health-port", "0", "--idle-exit", "4s"], in: dir, log: dir + "/w.err")
            waitFor("\(name): the health port") { read(dir + "/w.err").contains("/healthz") }
            let port = Self.port(in: read(dir + "/w.err"))
            XCTAssertTrue(try httpGet(port: port, path: "/healthz").hasPrefix("HTTP/1.1 200"), "\(name): \(read(dir + "/w.err"))")
            // Ready once the backend answered its first claim.
            waitFor("\(name): ready") { ((try? httpGet(port: port, path: "/readyz")) ?? "").hasPrefix("HTTP/1.1 200") }
            XCTAssertTrue(try httpGet(port: port, path: "/metrics").contains("ezflow_worker_slots 4\n"), name)
            XCTAssertTrue(try httpGet(port: port, path: "/nope").hasPrefix("HTTP/1.1 404"), name)
            run.waitUntilExit()
            XCTAssertEqual(run.terminationStatus, 0, "\(name): \(read(dir + "/run.err"))")
            XCTAssertTrue(try httpGet(port: port, path: "/metrics").contains("ezflow_worker_completed_total 10\n"), name)
            XCTAssertEqual(ezrun(["scale-hint", "--backend", url, "--window", "0s", "--quiet"], in: dir).stdout, "0\n", "\(name): drained")
            w.waitUntilExit()
        }
    }

    /// A password in a backend URL (user part, `password=`, `sslpassword=`, with an `@` in
    /// it) never reaches any output, whatever fails; and `$EZFLOW_BACKEND` keeps it out of argv.
    func testAPasswordInABackendURLIsNeverPrinted() throws {
        let dir = tempDir("dist-secret")
        write(Self.workflow, to: dir + "/f.ezflow")
        let urls = ["postgres://ezflow:s3cr@t-pw@127.0.0.1:1/db?sslpassword=ssl-pw&password=query-pw",
                    "postgresql://ezflow:s3cr@t-pw@127.0.0.1:1/db", "redis://:s3cr@t-pw@127.0.0.1:1", "redis://s3cretpw@127.0.0.1:1",
                    "redis://:s3cretpw@127.0.0.1:notaport", "postgresql://u:s3cr/t?pw@127.0.0.1:1/db", "postgresql://:s3cretpw@127.0.0.1:1/db",
                    "postgres://:s3cretpw@/postgres?host=/nonexistent"]
        for url in urls {
            for args in [["status", "r", "--db", url], ["runs", "--db", url], ["run", "f.ezflow", "--backend", url, "--input", "dir=x"],
                         ["worker", "--backend", url], ["scale-hint", "--backend", url], ["db", "migrate", "--backend", url]] {
                let r = ezrun(args, in: dir, timeout: 30)
                XCTAssertNotEqual(r.status, 0, "\(args)")
                for secret in ["s3cr", "t-pw", "ssl-pw", "query-pw"] {
                    XCTAssertFalse((r.stdout + r.stderr).contains(secret), "\(args) printed `\(secret)`: \(r.stderr)")
                }
            }
            let viaEnv = runProcess(Repo.executable("ezrun"), ["scale-hint"], cwd: URL(fileURLWithPath: dir), timeout: 30,
                                    environment: ProcessInfo.processInfo.environment.merging(["EZFLOW_BACKEND": url]) { $1 })
            // Read: refused as written (two `@`: exit 2) or unreachable (exit 5), named redacted.
            XCTAssertTrue([2, 5].contains(viaEnv.status), "$EZFLOW_BACKEND is read: \(viaEnv.status) \(viaEnv.stderr)")
            XCTAssertTrue(viaEnv.stderr.contains("127.0.0.1:") || !url.contains("127.0.0.1"), viaEnv.stderr)
            XCTAssertFalse(viaEnv.stderr.contains("s3cr"), viaEnv.stderr)
        }
        // A URL ezflow cannot use as written is a usage error (exit 2), whichever command.
        for (url, says) in [("redis://127.0.0.1:1?namespace=bad-name", "namespace= takes"), ("postgresql://u:pw@127.0.0.1:1/db?namespace=Bad", "not a schema name"),
                            ("redis://127.0.0.1:port", "is not a port"), ("sqlite://x.db", "not sqlite://"),
                            ("postgresql://u:pw@127.0.0.1:notaport/db", "`notaport` is not a port"),
                            ("postgresql://u:pw@127.0.0.1/db?port=0", "`0` is not a port"), ("redis://127.0.0.1:99999", "`99999` is not a port"),
                            ("postgresql://u:pw@127.0.0.1:1/db?sslmode=bogus", "sslmode `bogus` is not one of disable, allow"),
                            ("postgresql://u:pw@127.0.0.1:1/db?connect_timeout=abc", "connect_timeout `abc` is not a whole number"), ("postgresql://u:pw@h%/db", "libpq cannot read this connection string; fix the URL"),
                            ("postgresql://127.0.0.1:1/db?bogus=1", "libpq cannot read this connection string: invalid URI query parameter: \"bogus\"")] {
            for args in [["worker", "--backend", url], ["run", "f.ezflow", "--backend", url, "--input", "dir=x"], ["status", "r", "--db", url]] {
                let r = ezrun(args, in: dir, timeout: 30)
                XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains(says) && !r.stderr.contains("pw@"), "\(args): \(r.stderr)")
            }
        }
        let bad = ezrun(["worker", "--backend", "mysql://h/db"], in: dir)
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--backend takes sqlite:PATH, postgres://HOST/DB"), bad.stderr)
    }
}

/// Backend URLs for the tests, from the servers `scripts/test.sh` starts.
enum DistributedBackends {
    /// `EZ_PG` (a key=value conninfo) as a backend URL with a schema of its own, migrated.
    static func postgresURL(fresh: Bool) -> String? {
        guard let c = ProcessInfo.processInfo.environment["EZ_PG"], !c.isEmpty else { return nil }
        var kv: [String: String] = [:]
        for p in c.split(separator: " ") {
            let parts = p.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { kv[parts[0]] = parts[1] }
        }
        let url = "postgresql://\(kv["user"] ?? "postgres")@\(kv["host"] ?? "127.0.0.1"):\(kv["port"] ?? "5432")/\(kv["dbname"] ?? "postgres")"
            + "?namespace=\(namespace())"
        let r = runProcess(Repo.executable("ezrun"), ["db", "migrate", "--backend", url], timeout: 60)
        guard r.status == 0 else { XCTFail("ezrun db migrate: \(r.stderr)"); return nil }
        return url
    }

    /// `EZ_REDIS` (host:port) as a backend URL with a namespace of its own.
    static func redisURL(fresh: Bool) -> String? {
        guard let r = ProcessInfo.processInfo.environment["EZ_REDIS"], !r.isEmpty else { return nil }
        return "redis://\(r)?namespace=\(namespace())"
    }

    /// How many work items on `url`'s queue still carry a payload, read behind the ports'
    /// back (sqlite: the file; PostgreSQL: psql; Redis: redis-cli); nil if unreadable.
    static func payloadsKept(_ url: String) -> Int? {
        let namespace = url.components(separatedBy: "namespace=").last ?? ""
        let r: (status: Int32, stdout: String, stderr: String)
        if url.hasPrefix("sqlite:") {
            r = runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                           ["python3", "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM work_items WHERE length(payload) > 0').fetchone()[0])",
                            statusStore(url)], timeout: 30)
        } else if url.hasPrefix("postgresql:") {
            let conn = String(url[..<(url.firstIndex(of: "?") ?? url.endIndex)])
            r = runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["psql", "-Atq", conn, "-c", "SELECT count(*) FROM \(namespace).tasks WHERE length(payload) > 0"],
                           timeout: 30)
        } else {
            let hostPort = url.dropFirst("redis://".count).prefix { $0 != "?" }.split(separator: ":")
            let script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do local p = redis.call('HGET', k, 'payload') "
                + "if p and #p > 0 then n = n + 1 end end return n"
            r = runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["redis-cli", "-h", String(hostPort[0]), "-p", String(hostPort[1]), "EVAL", script, "0",
                                                                  "\(namespace):wq:i:*"], timeout: 30)
        }
        guard r.status == 0 else { XCTFail("reading \(url): \(r.stderr)"); return nil }
        return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "(integer) ", with: ""))
    }

    /// The backend's dead-letter feed as `run kind task class attempts principal` lines,
    /// read behind the ports' back (SQL, a Redis stream).
    static func deadLetterFeed(_ url: String) -> [String]? {
        let namespace = url.components(separatedBy: "namespace=").last ?? ""
        let columns = "run_id || ' ' || kind || ' ' || task_name || ' ' || error_class || ' ' || attempts || ' ' || "
            + "CASE principal WHEN '' THEN '-' ELSE principal END"
        let r: (status: Int32, stdout: String, stderr: String)
        if url.hasPrefix("sqlite:") {
            r = runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                           ["python3", "-c", "import sqlite3,sys; [print(r[0]) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]",
                            statusStore(url), "SELECT \(columns) FROM dead_letters ORDER BY id"], timeout: 30)
        } else if url.hasPrefix("postgresql:") {
            let conn = String(url[..<(url.firstIndex(of: "?") ?? url.endIndex)])
            r = runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["psql", "-Atq", conn, "-c", "SELECT \(columns) FROM \(namespace).dead_letters ORDER BY id"],
                           timeout: 30)
        } else {
            let hostPort = url.dropFirst("redis://".count).prefix { $0 != "?" }.split(separator: ":")
            let script = "local out = {} for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do local f = {} "
                + "for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end "
                + "if f.principal == '' then f.principal = '-' end "
                + "table.insert(out, f.run .. ' ' .. f.kind .. ' ' .. f.task_name .. ' ' .. f.class .. ' ' .. f.attempts .. ' ' .. f.principal) end return out"
            r = runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["redis-cli", "-h", String(hostPort[0]), "-p", String(hostPort[1]), "EVAL", script, "1",
                                                                  "\(namespace):dlq"], timeout: 30)
        }
        guard r.status == 0 else { XCTFail("reading \(url): \(r.stderr)"); return nil }
        return r.stdout.split(separator: "\n").map(String.init)
    }

    static func namespace() -> String { "ez_t_" + UUID().uuidString.prefix(12).replacingOccurrences(of: "-", with: "").lowercased() }
    /// What `ezrun status --db` takes for the run's store.
    static func statusStore(_ url: String) -> String { url.hasPrefix("sqlite:") ? String(url.dropFirst("sqlite:".count)) : url }
}
