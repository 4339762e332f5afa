// The real runner under simulated infrastructure faults: thousands of seeded runs of the
// examples with crashes, failed writes, duplicate and late completions and clock jumps,
// every one checked by the oracle; planted runner bugs the oracle must catch within
// 1,000 seeds; and the seeds that found real bugs, kept as regression tests.
import EzflowHost
import EzflowPorts
import EzflowRunner
import EzflowRuntime
import EzflowSim
import EzflowTestSupport
import Foundation
import XCTest

final class SimFaultTests: XCTestCase {
    static let allFaults = "runner:crash=0.1;store:fail=0.05;completion:duplicate=0.2,delay=x5;clock:jump=600000"

    func simulator(example: String, seed: UInt64, runs: Int, faults: String, mutations: RunnerMutations = .none,
                   keepJournals: Bool = false) throws -> Simulator {
        let input = try SimInput.load(path: Repo.url("examples/" + example).path)
        let (infra, rest) = try InfraFaultSpec.split(spec: faults)
        let world = try SimWorld(program: input.program, plan: input.plan, scenario: SimScenario(), faults: try SimFault.parse(spec: rest))
        var options = SimulationOptions(seed: seed, runs: runs, keepJournals: keepJournals)
        options.infra = infra
        options.mutations = mutations
        return Simulator(world: world, options: options)
    }

    /// 3,000 runs over three examples: faults are injected (nonzero counts) and every run
    /// holds the oracle.
    func testFaultSweepHoldsTheOracle() throws {
        for (example, agentFaults) in [("ci_pipeline.ezflow", ";agent=runner_small:fail=0.2"), ("stdlib_pipeline.ezflow", ""),
                                       ("fanout_data_job.ezflow", "")] {
            var sim = try simulator(example: example, seed: 7, runs: 1_000, faults: Self.allFaults + agentFaults)
            let results: [SimRunResult]
            do { results = try sim.runAll() } catch {
                return XCTFail("\(example): \(error)")
            }
            XCTAssertEqual(results.count, 1_000)
            XCTAssertGreaterThan(results.reduce(0) { $0 + $1.crashes }, 100, example)
            XCTAssertGreaterThan(results.reduce(0) { $0 + $1.storeFailures }, 5, example)
            XCTAssertGreaterThan(results.reduce(0) { $0 + $1.duplicates }, 5, example)
        }
    }

    /// The acceptance command, through the CLI.
    func testSimulateCommandReportsCrashesAndTheOracle() throws {
        let r = runProcess(Repo.executable("ezrun"), ["simulate", Repo.url("examples/ci_pipeline.ezflow").path, "--seed", "7", "--runs", "2000",
                                                      "--faults", "runner:crash=0.05;store:fail=0.01;completion:duplicate=0.05,delay=x3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let crashes = r.stdout.split(separator: "\n").first { $0.hasPrefix("crashes injected: ") }
        let n = crashes.flatMap { Int($0.dropFirst("crashes injected: ".count).prefix { $0.isNumber }) } ?? 0
        XCTAssertGreaterThan(n, 0, r.stdout)
        XCTAssertTrue(r.stdout.contains("\noracle: 2000/2000 runs held\n"), r.stdout)
    }

    /// Same seed and faults: the same journals, byte for byte.
    func testFaultyRunsAreDeterministic() throws {
        var a = try simulator(example: "ci_pipeline.ezflow", seed: 3, runs: 50, faults: Self.allFaults, keepJournals: true)
        var b = try simulator(example: "ci_pipeline.ezflow", seed: 3, runs: 50, faults: Self.allFaults, keepJournals: true)
        let ra = try a.runAll(), rb = try b.runAll()
        XCTAssertEqual(ra.map { Journal.encode($0.journal) }, rb.map { Journal.encode($0.journal) })
        XCTAssertGreaterThan(ra.reduce(0) { $0 + $1.crashes }, 0)
    }

    /// The first of 1,000 seeds at which `mutations` breaks a run, or nil.
    func firstFailure(_ mutations: RunnerMutations, faults: String) throws -> (Int, SimulationFailure)? {
        var sim = try simulator(example: "ci_pipeline.ezflow", seed: 1, runs: 1_000, faults: faults, mutations: mutations)
        for i in 0..<1_000 {
            do { _ = try sim.runOne(index: i) } catch { return (i, error) }
        }
        return nil
    }

    /// A runner that resumes without re-arming its timers: a retry delay set before a
    /// crash never fires and the run stalls (liveness, exit 128).
    func testOracleCatchesResumeWithoutTimers() throws {
        let faults = "runner:crash=0.1;agent=runner_small:fail=0.5,class=transient;agent=runner_large:fail=0.5,class=transient"
        XCTAssertNil(try firstFailure(.none, faults: faults), "the unmutated runner holds")
        let found = try XCTUnwrap(try firstFailure(RunnerMutations(skipTimerRearm: true), faults: faults), "the planted bug went unnoticed")
        XCTAssertLessThan(found.0, 1_000)
        XCTAssertEqual(found.1.exitCode, 128, found.1.description)
        print("skipTimerRearm caught at seed index \(found.0): \(found.1.message)")
    }

    /// A runner that folds every completion it is handed: a completion redelivered after a
    /// crash (read and committed, not yet acknowledged) reaches the core a second time,
    /// which refuses it (the runner fails, exit 127).
    func testOracleCatchesAnUnfencedCompletion() throws {
        let faults = "runner:crash=0.1;completion:duplicate=0.2"
        XCTAssertNil(try firstFailure(.none, faults: faults), "the unmutated runner holds")
        let found = try XCTUnwrap(try firstFailure(RunnerMutations(skipCompletionFence: true), faults: faults),
                                  "the planted bug went unnoticed")
        XCTAssertEqual(found.1.exitCode, 127, found.1.description)
        print("skipCompletionFence caught at seed index \(found.0): \(found.1.message)")
    }

    /// A runner that does not send the journal's dead letters to the feed again when it
    /// resumes: an entry whose write a crash or a store failure cut off after its commit
    /// is missing from the feed for good (the oracle, exit 129).
    func testOracleCatchesADeadLetterLostBetweenCommitAndFeed() throws {
        let faults = "runner:crash=0.1;store:fail=0.05;agent=runner_small:fail=0.5;agent=runner_large:fail=0.5"
        XCTAssertNil(try firstFailure(.none, faults: faults), "the unmutated runner holds")
        let found = try XCTUnwrap(try firstFailure(RunnerMutations(skipDeadLetterResend: true), faults: faults),
                                  "the planted bug went unnoticed")
        XCTAssertEqual(found.1.exitCode, 129, found.1.description)
        XCTAssertTrue(found.1.message.contains("the dead-letter feed holds"), found.1.message)
        print("skipDeadLetterResend caught at seed index \(found.0): \(found.1.message)")
    }

    /// Seeds that found runner bugs (each failed before its fix):
    /// run 77: a cancel committed just before a crash was never carried out after resume;
    /// run 289: an attempt re-dispatched and timed out in the same batch was still started;
    /// both: a resumed runner armed a timer twice and journalled it firing twice.
    func testRegressionSeeds() throws {
        var sim = try simulator(example: "stdlib_pipeline.ezflow", seed: 11, runs: 500, faults: Self.allFaults)
        for i in [77, 289] { XCTAssertNoThrow(try sim.runOne(index: i), "run \(i)") }
    }
}
