import EzflowHost
import EzflowRuntime
import EzflowSim
import EzflowTestSupport
import Foundation
import XCTest

final class SimulateTests: XCTestCase {
    func tempDir(_ name: String) -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("ezsim-\(ProcessInfo.processInfo.processIdentifier)-\(name)")
        try? FileManager.default.removeItem(at: u)
        return u
    }

    func files(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            out[f] = try Data(contentsOf: dir.appendingPathComponent(f))
        }
        return out
    }

    /// The CLI twice with the same seed: identical report bytes and journals; another seed
    /// gives another report.
    func testSameSeedSameBytes() throws {
        let exe = ezrunExecutable()
        let example = Repo.url("examples/multi_agent_feature.ezflow").path
        let faults = "agent=coder:fail=0.3,latency=x2;task=review:fail=0.2"
        let d1 = tempDir("a"), d2 = tempDir("b")
        defer { try? FileManager.default.removeItem(at: d1); try? FileManager.default.removeItem(at: d2) }
        let args = ["simulate", example, "--seed", "42", "--runs", "25", "--faults", faults]
        let r1 = runProcess(exe, args + ["--journal-dir", d1.path])
        let r2 = runProcess(exe, args + ["--journal-dir", d2.path])
        XCTAssertEqual(r1.stderr, "")
        XCTAssertTrue([0, 1].contains(r1.status), "exit \(r1.status): \(r1.stderr)")
        XCTAssertEqual(r1.status, r2.status)
        XCTAssertEqual(Array(r1.stdout.utf8), Array(r2.stdout.utf8))
        XCTAssertTrue(r1.stdout.contains("seed: 42  runs: 25"), r1.stdout)
        XCTAssertTrue(r1.stdout.contains("reproduce: ezrun simulate"), r1.stdout)
        let j1 = try files(d1), j2 = try files(d2)
        XCTAssertEqual(j1.count, 25)
        XCTAssertEqual(j1, j2)
        // Each journal replays through the core to the same commands.
        let input = try SimInput.load(path: example)
        XCTAssertNotNil(input.plan)
        // A different seed: a different report.
        let r3 = runProcess(exe, ["simulate", example, "--seed", "43", "--runs", "25", "--faults", faults])
        XCTAssertNotEqual(r1.stdout, r3.stdout)
    }

    /// Sub-workflows (inlined) and `for_each` (expanded) run in the simulator: the
    /// nested tasks are dispatched to the nested workflow's agents, the join never is,
    /// the same seed gives the same journals, and every journal replays.
    func testNestedAndForEachWorkflowsSimulate() throws {
        for (example, nested) in [("examples/stdlib_pipeline.ezflow", ["btr.build", "btr.test", "btr.review", "btr"]),
                                  ("examples/fanout_data_job.ezflow", ["process[0]", "process[1]", "process[2]"])] {
            let input = try SimInput.load(path: Repo.url(example).path)
            for name in nested { XCTAssertNotNil(input.plan.taskNames.firstIndex(of: name), "\(example): \(name) in \(input.plan.taskNames)") }
            func runs() throws -> [SimRunResult] {
                let world = try SimWorld(program: input.program, plan: input.plan, scenario: SimScenario(), faults: [])
                var sim = Simulator(world: world, options: SimulationOptions(seed: 5, runs: 10, keepJournals: true))
                return try sim.runAll()
            }
            let a = try runs(), b = try runs()
            XCTAssertEqual(a.map { Journal.encode($0.journal) }, b.map { Journal.encode($0.journal) })
            for r in a {
                XCTAssertEqual(r.verdict, .success, "\(example) run \(r.index)")
                for rec in r.journal {
                    for c in rec.commands {
                        if case .dispatch(let t, _, _, _, _) = c { XCTAssertLessThan(input.plan.joinStart[t], 0, "a join was dispatched") }
                    }
                }
                let world = try SimWorld(program: input.program, plan: input.plan, scenario: SimScenario(), faults: [])
                let env = RunEnvironment(selector: CheapestSelector(profiles: world.profiles), breaker: CircuitBreaker())
                XCTAssertEqual(try Replay.verify(plan: input.plan, journal: r.journal, environment: env).verdict, .success)
            }
        }
    }

    func testJournalsReplay() throws {
        var sim = try simulator(pair + "workflow main {\n  selector: auction\n" + tasks(8, extra: retrying) + "}\n",
                                seed: 99, runs: 3, faults: "agent=a:fail=0.5", keepJournals: true)
        for r in try sim.runAll() {
            let bytes = Journal.encode(r.journal)
            let decoded = try Journal.decode(bytes)
            XCTAssertEqual(decoded, r.journal)
            let env = RunEnvironment(selector: AuctionSelector(bidder: SimBidder(profiles: sim.world.profiles)), breaker: CircuitBreaker())
            let state = try Replay.verify(plan: sim.world.plan, journal: decoded, environment: env)
            XCTAssertEqual(state.verdict, r.verdict)
        }
    }

    func testCLIErrorsAndExitCodes() throws {
        let exe = ezrunExecutable()
        let example = Repo.url("examples/ci_pipeline.ezflow").path
        let missing = runProcess(exe, ["simulate", "/nonexistent.ezflow", "--seed", "1"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stdout, "")
        let badFaults = runProcess(exe, ["simulate", example, "--seed", "1", "--faults", "agent=nobody:fail=1"])
        XCTAssertEqual(badFaults.status, 2)
        XCTAssertTrue(badFaults.stderr.contains("unknown agent `nobody`"), badFaults.stderr)
        let noSeed = runProcess(exe, ["simulate", example])
        XCTAssertEqual(noSeed.status, 2)
        let garbage = tempDir("garbage.ezir")
        try Data("{not json".utf8).write(to: garbage)
        defer { try? FileManager.default.removeItem(at: garbage) }
        let bad = runProcess(exe, ["simulate", garbage.path, "--seed", "1"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("invalid IR"), bad.stderr)
        // Every test fails → exit 1 and the dead letters are counted.
        let failing = runProcess(exe, ["simulate", example, "--seed", "1", "--runs", "5", "--faults", "task=build:fail=1"])
        XCTAssertEqual(failing.status, 1, failing.stderr)
        XCTAssertTrue(failing.stdout.contains("success: 0/5 (0.0%)"), failing.stdout)
        XCTAssertTrue(failing.stdout.contains("dead letters: 5 (build 5)"), failing.stdout)
    }

    func testFaultSpecParsing() throws {
        let f = try SimFault.parse(spec: "agent=coder:fail=0.3,latency=x2;task=deploy:fail=1,class=transient; agent=x:down=5-10")
        XCTAssertEqual(f, [
            SimFault(target: .agent("coder"), fail: 0.3, latencyFactor: 2),
            SimFault(target: .task("deploy"), fail: 1, failClass: .transient),
            SimFault(target: .agent("x"), down: 5...10),
        ])
        XCTAssertEqual(try SimFault.parse(spec: ""), [])
        for bad in ["agent=a", "agent=a:fail=2", "robot=a:fail=1", "agent=a:latency=2", "task=t:latency=x2",
                    "agent=a:speed=1", "agent=:fail=1", "agent=a:down=9-1", "agent=a:class=oops"] {
            XCTAssertThrowsError(try SimFault.parse(spec: bad), bad)
        }
    }

    func testFaultsAreApplied() throws {
        let wf = pair + "workflow main {\n  selector: cheapest\n" + tasks(4) + "}\n"
        // A task that always fails, without a retry: every run dead-letters it.
        var failing = try simulator(wf, seed: 1, runs: 10, faults: "task=t2:fail=1")
        let fr = try failing.runAll()
        XCTAssertTrue(fr.allSatisfy { $0.verdict == .failed && $0.deadLetters.map { failing.world.plan.taskNames[$0] } == ["t2"] })
        // Latency ×10 on both agents: every makespan grows about tenfold.
        var base = try simulator(wf, seed: 1, runs: 20)
        var slow = try simulator(wf, seed: 1, runs: 20, faults: "agent=a:latency=x10;agent=b:latency=x10")
        let b = try base.runAll().map(\.makespanMs), s = try slow.runAll().map(\.makespanMs)
        for (x, y) in zip(b, s) { XCTAssertGreaterThan(y, x * 5) }
        // fail= on an agent: its failures show up in the run's counts.
        var flaky = try simulator(wf, seed: 1, runs: 20, faults: "agent=a:fail=0.5,class=transient")
        let runs = try flaky.runAll()
        let failures = runs.reduce(0) { $0 + $1.failures[0] }, sent = runs.reduce(0) { $0 + $1.dispatches[0] }
        XCTAssertGreaterThan(failures, sent / 4)
        XCTAssertLessThan(failures, sent * 3 / 4)
        XCTAssertTrue(runs.flatMap { $0.history.flatMap { $0 } }.compactMap(\.errorClass).allSatisfy { $0 == "transient" })
    }

    func testScenarioFile() throws {
        let s = try SimScenario.parse(Array("""
            {"agents": {"a": {"latency_ms": 5000, "p95_ms": 20000, "fail": 0.2, "failures": {"timeout": 0.1},
                              "cost_per_call_micros": 7, "down": [[1, 2]]}},
             "faults": "task=t0:fail=1"}
            """.utf8))
        var m = SimAgentModel(latencyMedianMs: 100)
        s.apply(to: &m, agent: "a")
        XCTAssertEqual(m.latencyMeanMs, 5000, accuracy: 1e-6)
        XCTAssertEqual(m.failure, [.transient: 0.1, .agentError: 0.1, .timeout: 0.1])
        XCTAssertEqual(m.costPerCallMicros, 7)
        XCTAssertEqual(m.downWindows, [1...2])
        XCTAssertEqual(s.faults, [SimFault(target: .task("t0"), fail: 1)])
        // p95 / mean fits the lognormal: check by sampling.
        var r = SeededRandom(seed: 3)
        var xs = (0..<20_000).map { _ in m.sample(startMs: 100, &r).latencyMs }
        xs.sort()
        XCTAssertEqual(Double(xs[19_000]), 20_000, accuracy: 2_000)
        XCTAssertThrowsError(try SimScenario.parse(Array(#"{"agents": {"a": {"colour": 1}}}"#.utf8)))
        XCTAssertThrowsError(try SimScenario.parse(Array(#"{"agents": {"a": {"fail": 3}}}"#.utf8)))
        let input = try simInput(pair + "workflow main {\n" + tasks(1) + "}\n")
        var unknown = SimScenario()
        unknown.agents["zed"] = .init()
        XCTAssertThrowsError(try SimWorld(program: input.program, plan: input.plan, scenario: unknown, faults: []))
    }

    func testDeadlineViolationExitsWith3() throws {
        let wf = pair + "workflow main {\n  deadline: 1m\n" + tasks(3) + "}\n"
        var sim = try simulator(wf, seed: 1, runs: 5, faults: "agent=a:latency=x1000;agent=b:latency=x1000")
        let runs = try sim.runAll()
        let report = SimReport(workflow: "main.ezflow", options: sim.options, selector: sim.selectorName, faultsSpec: nil,
                               runs: runs, plan: sim.world.plan)
        XCTAssertEqual(runs.map(\.verdict), Array(repeating: .deadlineExceeded, count: 5))
        XCTAssertEqual(runs.map(\.makespanMs), Array(repeating: 60_000, count: 5))
        XCTAssertEqual(report.exitCode, 3)
        XCTAssertEqual(SimReport.percentile([1, 2, 3, 4], 50), 2)
        XCTAssertEqual(SimReport.percentile([1, 2, 3, 4], 95), 4)
        XCTAssertEqual(SimReport.dollars(1_234_567), "$1.23")
        XCTAssertEqual(SimReport.dollars(2_204), "$0.0022")
        XCTAssertEqual(SimReport.seconds(61_005), "61.005s")
        XCTAssertEqual(SimReport.percent(1, 3), "33.3%")
    }

    /// The report says `1 task`, `1 run`, `1 step`… and money by the one rule.
    func testReportCountsAndMoney() throws {
        let wf = pair + "workflow main {\n  budget { money: $10 }\n" + tasks(1) + "}\n"
        var sim = try simulator(wf, seed: 1, runs: 1)
        let runs = try sim.runAll()
        let text = SimReport(workflow: "main.ezflow", options: sim.options, selector: sim.selectorName, faultsSpec: nil,
                             runs: runs, plan: sim.world.plan).render(command: "ezrun simulate main.ezflow --seed 1 --runs 1")
        XCTAssertTrue(text.contains("(plan sha256:") && text.contains("…, 1 task, 2 agents)"), text)
        XCTAssertTrue(text.contains(" over 1 run (memory only"), text)
        XCTAssertTrue(text.contains("(budget $10.00)"), text)
        XCTAssertFalse(text.contains("1 tasks") || text.contains("1 runs") || text.contains("1 steps"), text)
    }
}
