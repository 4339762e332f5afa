// `ezrun run` end to end with a dynamic fan-out (docs/RUNTIME.md, "Dynamic fan-out"):
// `for_each` over a task's output list with `max_items`, on real exec agents. Fewer items
// than the maximum leave slots unused; more fail the fan-out once, naming the list; an
// empty list succeeds with `[]`; a resumed run fans out over the journalled list.
import EzflowIR
import EzflowRunner
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class DynamicFanoutRunTests: XCTestCase {
    /// `list` prints `n` numbers; `lint` runs once per number (at most 5), one at a time
    /// (the agent's concurrency is 1), each after `pause` seconds; `summary` reads the
    /// aggregate in input order and its length.
    static func workflow(pause: String = "0") -> String {
        """
        agent sh {
          driver: exec
          capabilities: ["shell"]
          concurrency: 1
        }

        workflow lint_all {
          input n: int = 3

          task list {
            run: "echo \\"{\\\\\\"numbers\\\\\\": [$(seq -s, 1 ${inputs.n})]}\\""
            output numbers: list[int]
          }

          task lint {
            for_each: list.outputs.numbers
            max_items: 5
            run: "sleep \(pause); echo '{\\"report\\": \\"r${item}\\"}'"
            output report: string
          }

          task summary {
            env: { REPORTS: join(lint.outputs.report, ",") }
            run: "echo \\"reports=[$REPORTS] count=${len(lint.outputs.report)} status=${lint.status}\\""
          }
        }
        """
    }

    func states(_ dir: String, _ run: String) throws -> [String: String] {
        let r = ezrun(["status", run, "--json"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        var out: [String: String] = [:]
        for t in doc?["tasks"] as? [[String: Any]] ?? [] {
            out[t["name"] as! String] = (t["state"] as! String) + ((t["skip_reason"] as? String).map { " (\($0))" } ?? "")
        }
        return out
    }

    /// 3 items, at most 5: three instances run in the list's order, two slots are unused
    /// (one line in status), and `summary` reads the three reports in order.
    func testFewerItemsThanTheMaximumRunInOrderAndLeaveSlotsUnused() throws {
        let dir = tempDir("fanout")
        write(Self.workflow(), to: dir + "/lint.ezflow")
        let r = ezrun(["run", "lint.ezflow", "--run-id", "d3", "--input", "n=3"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let started = r.stderr.split(separator: "\n").filter { $0.hasPrefix("task lint[") }.map { String($0.prefix(12)) }
        XCTAssertEqual(started, ["task lint[0]", "task lint[1]", "task lint[2]"], r.stderr)
        XCTAssertTrue(r.stderr.contains("unused slots: lint[3], lint[4]"), r.stderr)
        XCTAssertEqual(try states(dir, "d3"), [
            "list": "succeeded", "lint[0]": "succeeded", "lint[1]": "succeeded", "lint[2]": "succeeded",
            "lint[3]": "skipped (unused_slot)", "lint[4]": "skipped (unused_slot)", "summary": "succeeded",
        ])
        XCTAssertTrue(ezrun(["logs", "d3", "summary"], in: dir).stdout.contains("reports=[r1,r2,r3] count=3 status=succeeded"))
        let status = ezrun(["status", "d3"], in: dir).stdout
        XCTAssertTrue(status.split(separator: "\n").contains { $0.hasPrefix("lint[3…4] ") && $0.contains(" 2 unused slots ") }, status)
        XCTAssertFalse(status.contains("lint[3] "), status)
        XCTAssertEqual(ezrun(["replay", "d3"], in: dir).status, 0)
    }

    /// 7 items, at most 5: one failure on the fan-out (class `fanout_overflow`, naming the
    /// list, its length and the maximum), no instance runs, `summary` is skipped, exit 1.
    func testMoreItemsThanTheMaximumFailTheFanOutOnce() throws {
        let dir = tempDir("fanout")
        write(Self.workflow(), to: dir + "/lint.ezflow")
        let r = ezrun(["run", "lint.ezflow", "--run-id", "d7", "--input", "n=7"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        let message = "`list.outputs.numbers` has 7 items, more than `max_items: 5` of `lint`"
        XCTAssertTrue(r.stderr.contains("lint[0] failed: fanout_overflow: " + message), r.stderr)
        XCTAssertFalse(r.stderr.contains("task lint["), "an instance was started:\n\(r.stderr)")
        let status = ezrun(["status", "d7"], in: dir).stdout
        XCTAssertTrue(status.contains("last error: fanout_overflow: " + message), status)
        XCTAssertTrue(status.split(separator: "\n").contains { $0.hasPrefix("lint[1…4] ") && $0.contains(" 4 unused slots ") }, status)
        let states = try states(dir, "d7")
        XCTAssertEqual(states["lint[0]"], "failed")
        XCTAssertEqual(states["summary"], "skipped (upstream_failed)")
        XCTAssertEqual(states.values.filter { $0 == "failed" }.count, 1, "\(states)")
        XCTAssertEqual(ezrun(["replay", "d7"], in: dir).status, 0)
    }

    /// An empty list: the fan-out succeeds with `[]` (not skipped: Airflow's #25200), and
    /// its dependent runs and reads the empty aggregate.
    func testAnEmptyListSucceedsAndTheDependentReadsAnEmptyList() throws {
        let dir = tempDir("fanout")
        write(Self.workflow(), to: dir + "/lint.ezflow")
        let r = ezrun(["run", "lint.ezflow", "--run-id", "d0", "--input", "n=0", "--junit", "junit.xml"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(ezrun(["logs", "d0", "summary"], in: dir).stdout.contains("reports=[] count=0 status=succeeded"))
        XCTAssertEqual(try states(dir, "d0")["summary"], "succeeded")
        // JUnit: one skipped case for the five unused slots, no failure.
        let junit = read(dir + "/junit.xml")
        XCTAssertTrue(junit.contains(#"name="lint[0…4] (5 unused slots)""#), junit)
        XCTAssertTrue(junit.contains(#"failures="0""#), junit)
        XCTAssertFalse(junit.contains(#"name="lint[1]""#), junit)
    }

    /// kill -9 while the instances run, then `ezrun resume`: the list is not computed again
    /// (its task ran once), every instance ends once, `summary` reads them all in order.
    func testResumeAfterKillNineFansOutOverTheJournalledList() throws {
        let dir = tempDir("fanout-kill")
        write(Self.workflow(pause: "0.6"), to: dir + "/lint.ezflow")
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = ["run", "lint.ezflow", "--run-id", "k1", "--input", "n=4"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Kill once the first instance has ended (the others are still to run), however
        // slow the machine: poll the store, at most 20 s.
        for _ in 0..<200 {
            Thread.sleep(forTimeInterval: 0.1)
            let r = ezrun(["status", "k1", "--json"], in: dir)
            if r.status == 0 && r.stdout.contains(#""name":"lint[0]","reruns":0,"state":"succeeded""#) { break }
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let before = try states(dir, "k1")
        XCTAssertEqual(before["list"], "succeeded", "killed before the list: \(before)")
        XCTAssertNotEqual(before["summary"], "succeeded", "killed after the run: \(before)")
        let r = ezrun(["resume", "k1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("task list started"), r.stderr)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "k1")
        XCTAssertEqual(run.dispatches[0], 1, "the list's task ran again")
        XCTAssertEqual(try states(dir, "k1"), [
            "list": "succeeded", "lint[0]": "succeeded", "lint[1]": "succeeded", "lint[2]": "succeeded", "lint[3]": "succeeded",
            "lint[4]": "skipped (unused_slot)", "summary": "succeeded",
        ])
        XCTAssertTrue(ezrun(["logs", "k1", "summary"], in: dir).stdout.contains("reports=[r1,r2,r3,r4] count=4"))
        let replay = ezrun(["replay", "k1"], in: dir)
        XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
    }

    /// examples/dynamic_fanout.ezflow (after Argo's loops-param-result.yaml) for real:
    /// eleven numbers, eleven instances, the report in the list's order; a list over the
    /// maximum fails; simulated (lists of drawn lengths, some over the maximum); replayed.
    func testTheLoopsParamResultExampleRunsAndSimulates() throws {
        let dir = tempDir("fanout-example")
        let example = Repo.url("examples/dynamic_fanout.ezflow").path
        let r = ezrun(["run", example, "--run-id", "ex"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "ex")
        XCTAssertEqual(run.state.outputs.first, .string("20,21,22,23,24,25,26,27,28,29,30"))
        XCTAssertEqual(run.plan.taskNames.filter { $0.hasPrefix("sleep[") }.count, 16)
        XCTAssertEqual(ezrun(["replay", "ex"], in: dir).status, 0)
        XCTAssertEqual(ezrun(["run", example, "--run-id", "over", "--input", "last=40"], in: dir).status, 1)
        let sim = ezrun(["simulate", example, "--seed", "2026", "--runs", "100",
                         "--faults", "runner:crash=0.1;completion:duplicate=0.2"], in: dir)
        XCTAssertTrue(sim.stdout.contains("oracle: 100/100 runs held"), sim.stdout + sim.stderr)
        XCTAssertTrue(sim.stdout.contains("all held"), sim.stdout)
        // Some lists overflow (exit 1 for the failed runs), most fit.
        XCTAssertEqual(sim.status, 1, sim.stdout + sim.stderr)
        XCTAssertTrue(sim.stdout.contains("failures by verdict: failed"), sim.stdout)
        let again = ezrun(["simulate", example, "--seed", "2026", "--runs", "100",
                           "--faults", "runner:crash=0.1;completion:duplicate=0.2"], in: dir)
        XCTAssertEqual(again.stdout, sim.stdout, "the same seed gave another simulation")
    }
}
