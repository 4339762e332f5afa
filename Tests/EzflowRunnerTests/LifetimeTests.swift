// No task outlives its run: every way an attempt ends (deadline, timeout, cancel, SIGINT
// and SIGTERM to ezrun, kill -9 of ezrun) ends its whole process tree — grandchildren
// started with `&` included, found through the marker in their environment — and a run
// stopped by a signal resumes to success.
import EzflowPorts
import EzflowRuntime
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class LifetimeTests: XCTestCase {
    /// One workflow: `first` runs `script` (with `M` = the marker and `D` = the test
    /// directory in its environment), `second` runs after it. `extra`: workflow attributes.
    static func workflow(_ script: String, extra: String = "", taskExtra: String = "") -> String {
        """
        agent sh {
          driver: exec
          capabilities: ["shell"]
        }
        workflow life {
          input mark: string
          input dir: string
        \(extra)
          task first {
            env: { M: inputs.mark, D: inputs.dir }
        \(taskExtra)
            run: "\(script)"
          }
          task second {
            after: [first]
            env: { M: inputs.mark, D: inputs.dir }
            run: "echo second >> \\"$D/ran\\""
          }
        }

        """
    }

    /// Starts `touch $D/started`, leaves a grandchild behind, then sleeps.
    static let longTask = "echo first >> \\\"$D/ran\\\"; sleep 300 & touch \\\"$D/started\\\"; sleep 301"

    struct Setup {
        var dir: String
        var mark: String
        var args: [String]
    }

    func setup(_ text: String, runID: String) -> Setup {
        let dir = tempDir("life")
        write(text, to: dir + "/life.ezflow")
        let mark = "M=\(UUID().uuidString)"
        return Setup(dir: dir, mark: mark, args: ["run", "life.ezflow", "--run-id", runID, "--db", "life.db", "--input",
                                                  "mark=\(mark.dropFirst(2))", "--input", "dir=\(dir)"])
    }

    /// Starts `ezrun args` (with `env` added to the environment) and waits for the task's
    /// `started` marker.
    func start(_ s: Setup, _ args: [String], env: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: s.dir)
        if !env.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
        p.standardError = FileHandle.nullDevice
        try p.run()
        let end = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: s.dir + "/started") && Date() < end { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: s.dir + "/started"), "the task never started")
        return p
    }

    /// Runs `ezrun` without its guard until the task started and its process was recorded
    /// (the next group commit, at most one inbox poll later), then kills it with -9.
    func killNineWithoutGuard(_ s: Setup, env: [String: String] = [:]) throws {
        let p = try start(s, s.args, env: env.merging(["EZFLOW_GUARD": ""]) { $1 })
        usleep(600_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    func status(_ s: Setup, _ runID: String) throws -> RunInfo? {
        let store = try DurableStore(path: s.dir + "/life.db")
        defer { store.close() }
        return try store.run(runID)
    }

    func journal(_ s: Setup, _ runID: String) throws -> [JournalRecord] {
        let store = try DurableStore(path: s.dir + "/life.db")
        defer { store.close() }
        return try store.journal(run: runID, from: 0)
    }

    /// Watches the store while `ezrun` runs: the task processes alive at the first moment
    /// the run is seen journalled as over (its status leaves `running`); nil if `ezrun`
    /// exited before the poll saw it. The old order left a whole grace period (2 s) in
    /// which the run was over and its task alive, so a poll every few ms cannot miss it.
    func aliveWhenJournalledOver(_ s: Setup, _ runID: String, while p: Process) throws -> [String]? {
        let store = try DurableStore(path: s.dir + "/life.db")
        defer { store.close() }
        while p.isRunning {
            if let st = try? store.run(runID), st.status != .running { return liveProcesses(marker: s.mark) }
            usleep(2_000)
        }
        return nil
    }

    /// The order the issue asks for: the trees of the attempts in flight are gone before
    /// the journal says the run is over (a task that ignores SIGTERM holds the grace).
    func testTheTreeIsGoneBeforeTheDeadlineIsJournalled() throws {
        let script = "trap '' TERM; sleep 300 & touch \\\"$D/started\\\"; sleep 301"
        let s = setup(Self.workflow(script, extra: "  deadline: 1s"), runID: "do")
        let p = try start(s, s.args)
        XCTAssertEqual(try aliveWhenJournalledOver(s, "do", while: p) ?? [], [], "the run was journalled over while its task still ran")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 3)
        XCTAssertEqual(try status(s, "do")?.verdict, .deadlineExceeded)
    }

    func testTheTreeIsGoneBeforeTheCancelIsJournalled() throws {
        let script = "trap '' TERM; sleep 300 & touch \\\"$D/started\\\"; sleep 301"
        let s = setup(Self.workflow(script), runID: "co")
        let p = try start(s, s.args)
        XCTAssertEqual(ezrun(["cancel", "co", "--db", "life.db"], in: s.dir).status, 0)
        XCTAssertEqual(try aliveWhenJournalledOver(s, "co", while: p) ?? [], [], "the run was journalled over while its task still ran")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
    }

    func testDeadlineEndsTheWholeTreeBeforeEzrunExits() {
        let s = setup(Self.workflow(Self.longTask, extra: "  deadline: 1s"), runID: "dl")
        let r = ezrun(s.args, in: s.dir)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(liveProcesses(marker: s.mark), [], "the deadline left task processes behind")
    }

    /// An `ezrun` installed without its `ezguard` says so instead of silently losing the
    /// kill -9 guarantee.
    func testAMissingGuardIsAWarningNotSilence() throws {
        let dir = tempDir("noguard")
        try FileManager.default.copyItem(atPath: Repo.executable("ezrun").path, toPath: dir + "/ezrun")
        write(Self.workflow("true"), to: dir + "/w.ezflow")
        let r = runProcess(URL(fileURLWithPath: dir + "/ezrun"), ["run", "w.ezflow", "--input", "mark=x", "--input", "dir=\(dir)", "--quiet"],
                           cwd: URL(fileURLWithPath: dir), timeout: 60)
        XCTAssertTrue(r.stderr.hasPrefix("ezrun: warning: cannot start ezguard (it belongs next to the ezrun binary; "), r.stderr)
    }

    func testTimeoutEndsATreeThatIgnoresSIGTERMAfterTheGrace() {
        let script = "trap '' TERM; sleep 300 & sleep 301"
        let s = setup(Self.workflow(script, taskExtra: "    timeout: 500ms"), runID: "to")
        let t0 = Date()
        let r = ezrun(s.args, in: s.dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("timed out"), r.stderr)
        // SIGTERM at 0.5 s is ignored; SIGKILL after the 2 s grace.
        XCTAssertGreaterThan(Date().timeIntervalSince(t0), 2.4)
        XCTAssertEqual(liveProcesses(marker: s.mark), [], "the timeout left task processes behind")
    }

    func testCancelEndsTheWholeTreeBeforeEzrunExits() throws {
        let s = setup(Self.workflow(Self.longTask), runID: "cx")
        let p = try start(s, s.args)
        let c = ezrun(["cancel", "cx", "--db", "life.db"], in: s.dir)
        XCTAssertEqual(c.status, 0, c.stderr)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        XCTAssertEqual(liveProcesses(marker: s.mark), [], "the cancel left task processes behind")
    }

    func testKillNineOfEzrunTakesItsTasksAlong() throws {
        let script = "trap '' TERM; sleep 300 & touch \\\"$D/started\\\"; sleep 301"
        let s = setup(Self.workflow(script), runID: "k9")
        let p = try start(s, s.args)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        // The guard reads EOF: SIGTERM to the group (ignored here), 2 s grace, SIGKILL.
        XCTAssertEqual(liveProcesses(marker: s.mark, within: 4), [], "tasks outlived their kill -9'd runner")
    }

    /// The second line of defence: a task of an ezrun without its guard survives kill -9;
    /// the resume finds it by its recorded pid and start time and ends its group first.
    func testResumeEndsASurvivorItCanProveIsTheAttempt() throws {
        let s = setup(Self.workflow(Self.longTask), runID: "sv")
        try killNineWithoutGuard(s)
        XCTAssertNotEqual(liveProcesses(marker: s.mark), [], "without the guard the task survives (the old behaviour)")
        let store = try DurableStore(path: s.dir + "/life.db")
        XCTAssertEqual(try store.processes(run: "sv").count, 1)
        store.close()
        // The resume ends the survivor before dispatching `first` again; kill that one too.
        try? FileManager.default.removeItem(atPath: s.dir + "/started")
        let q = try start(s, ["resume", "sv", "--db", "life.db"])
        XCTAssertEqual(read(s.dir + "/ran"), "first\nfirst\n")
        q.interrupt()
        q.waitUntilExit()
        XCTAssertEqual(q.terminationStatus, 130)
        XCTAssertEqual(liveProcesses(marker: s.mark), [], "the resume left the crashed runner's task running")
    }

    /// A task granted a secret is resolved and spawned on the async path: its process is
    /// recorded all the same, so the resume's second line of defence covers it too.
    func testATaskWithASecretIsRecordedAndEndedByResume() throws {
        let text = Self.workflow(Self.longTask, taskExtra: "    role: builder")
            .replacingOccurrences(of: "workflow life {", with: """
            secret tok {
              provider: env
              key: "EZ_LIFE_TOK"
            }
            role builder {
              allow: [run]
              agents: [sh]
              secrets: [tok]
            }
            workflow life {
            """)
            .replacingOccurrences(of: "env: { M: inputs.mark, D: inputs.dir }\n    role: builder", with: "env: { M: inputs.mark, D: inputs.dir, T: secrets.tok }\n    role: builder")
        let s = setup(text, runID: "sc")
        XCTAssertTrue(text.contains("T: secrets.tok"), text)
        try killNineWithoutGuard(s, env: ["EZ_LIFE_TOK": "t0k"])
        let store = try DurableStore(path: s.dir + "/life.db")
        XCTAssertEqual(try store.processes(run: "sc").count, 1, "the secret task's process is not in the store")
        store.close()
        let old = liveProcesses(marker: s.mark)
        XCTAssertFalse(old.isEmpty, "without the guard the task survives")
        // Resume: the survivor must be gone by the time `first` has started again.
        try? FileManager.default.removeItem(atPath: s.dir + "/started")
        let q = try start(s, ["resume", "sc", "--db", "life.db"], env: ["EZ_LIFE_TOK": "t0k"])
        func pid(_ line: String) -> Substring { line.prefix { $0 != " " } }
        let oldPids = Set(old.map(pid))
        let survivors = liveProcesses(marker: s.mark).filter { oldPids.contains(pid($0)) }
        q.interrupt()
        q.waitUntilExit()
        XCTAssertEqual(read(s.dir + "/ran"), "first\nfirst\n")
        XCTAssertEqual(survivors, [], "the resume left the crashed runner's secret task running")
        XCTAssertEqual(liveProcesses(marker: s.mark), [])
    }

    func testSIGINTEndsTasksInFlightAndResumeFinishes() throws {
        let s = setup(Self.workflow(Self.longTask.replacingOccurrences(of: "sleep 301", with: "sleep 1")), runID: "si")
        let p = try start(s, s.args)
        p.interrupt()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 130)
        XCTAssertEqual(liveProcesses(marker: s.mark), [], "SIGINT left task processes behind")
        XCTAssertEqual(try status(s, "si")?.status, .interrupted)
        let stop = try journal(s, "si").last
        XCTAssertEqual(stop?.event, .interrupted(signal: "SIGINT", drain: false, atMs: stop?.event.atMs ?? 0),
                       "the interruption is journalled")
        let r = ezrun(["resume", "si", "--db", "life.db"], in: s.dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(read(s.dir + "/ran"), "first\nfirst\nsecond\n", "the ended attempt runs again, then the rest")
        XCTAssertEqual(try status(s, "si")?.verdict, .success)
    }

    /// A task that ignores SIGTERM would hold `ezrun` for the 2 s grace; a second SIGINT
    /// kills it at once.
    func testSecondSIGINTKillsAtOnce() throws {
        let script = "trap '' TERM; sleep 300 & touch \\\"$D/started\\\"; sleep 301"
        let s = setup(Self.workflow(script), runID: "s2")
        let p = try start(s, s.args)
        p.interrupt()
        usleep(300_000)
        XCTAssertTrue(p.isRunning, "the first SIGINT waits for the grace period")
        let t0 = Date()
        p.interrupt()
        p.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.2)
        XCTAssertEqual(p.terminationStatus, 130)
        XCTAssertEqual(liveProcesses(marker: s.mark), [])
    }

    func testSIGTERMWithDrainLetsTasksInFlightFinish() throws {
        let script = Self.longTask.replacingOccurrences(of: "sleep 301", with: "sleep 1; echo done >> \\\"$D/ran\\\"")
        let s = setup(Self.workflow(script), runID: "dr")
        let p = try start(s, s.args + ["--on-signal", "drain"])
        p.terminate()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 143)
        XCTAssertEqual(read(s.dir + "/ran"), "first\ndone\n", "the attempt in flight finished; nothing new started")
        // Journalled when the signal came, then the drained result; nothing dispatched after.
        let records = try journal(s, "dr")
        let stop = try XCTUnwrap(records.firstIndex { $0.event.kind == .interrupted }, "no interruption in the journal")
        XCTAssertEqual(records[stop].event, .interrupted(signal: "SIGTERM", drain: true, atMs: records[stop].event.atMs))
        XCTAssertEqual(records[(stop + 1)...].map(\.event.kind), [.taskSucceeded])
        XCTAssertEqual(records[stop...].flatMap(\.commands).filter { $0.kind == .dispatch }.count, 0)
        XCTAssertEqual(liveProcesses(marker: s.mark), [])
        let r = ezrun(["resume", "dr", "--db", "life.db"], in: s.dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(read(s.dir + "/ran"), "first\ndone\nsecond\n", "the drained task is not run again")
        XCTAssertEqual(try journal(s, "dr").filter { $0.event.kind == .resumed }.count, 1)
    }
}
