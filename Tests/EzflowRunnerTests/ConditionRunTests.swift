import EzflowRunner
import EzflowRuntime
import EzflowStore
import Foundation
import XCTest

/// Issue 13, conditions, end to end with the built `ezrun run` on exec agents: `when`
/// skips with reason `condition` and dependents cascade `upstream_skipped` (exit 0),
/// `run_on: failure` reacts to a failure and the run still fails (exit 1), `run_on: always`
/// cleans up after a failure and reads the status, `allow_failure` keeps the run green
/// while the task shows `failed (allowed)`, and every journal replays.
final class ConditionRunTests: XCTestCase {
    struct Outcome {
        var dir: String
        var status: Int32
        var output: String
        /// `status --json` task rows by name.
        var rows: [String: [String: Any]]
        var junit: String
        var summary: String
    }

    func run(_ source: String, _ id: String, inputs: [String] = []) throws -> Outcome {
        let dir = tempDir("cond")
        write(source, to: dir + "/flow.ezflow")
        let r = ezrun(["run", "flow.ezflow", "--run-id", id, "--junit", "junit.xml", "--summary-md", "summary.md"] + inputs, in: dir)
        let st = ezrun(["status", id, "--json"], in: dir)
        let doc = try JSONSerialization.jsonObject(with: Data(st.stdout.utf8)) as? [String: Any]
        var rows: [String: [String: Any]] = [:]
        for case let row as [String: Any] in doc?["tasks"] as? [Any] ?? [] { rows[row["name"] as? String ?? ""] = row }
        let replay = ezrun(["replay", id], in: dir)
        XCTAssertEqual(replay.status, 0, "the journal replays: \(replay.stdout)\(replay.stderr)")
        return Outcome(dir: dir, status: r.status, output: r.stdout + r.stderr, rows: rows,
                       junit: read(dir + "/junit.xml"), summary: read(dir + "/summary.md"))
    }

    func state(_ o: Outcome, _ task: String) -> String { o.rows[task]?["state"] as? String ?? "?" }
    func reason(_ o: Outcome, _ task: String) -> String? { o.rows[task]?["skip_reason"] as? String }

    static let agent = "agent sh { driver: exec, capabilities: [\"shell\"] }\n"

    func testWhenFalseSkipsByConditionAndItsDependentsCascade() throws {
        let src = Self.agent + """
        workflow ship {
          input env: string = "dev"
          task build { run: "echo built" }
          task deploy { after: [build], when: inputs.env == "prod", run: "echo deployed > deployed.txt" }
          task announce { after: [deploy], run: "echo announced > announced.txt" }
        }
        """
        let o = try run(src, "w1")
        XCTAssertEqual(o.status, 0, o.output)
        XCTAssertEqual(state(o, "deploy"), "skipped")
        XCTAssertEqual(reason(o, "deploy"), "condition")
        XCTAssertEqual(reason(o, "announce"), "upstream_skipped")
        XCTAssertFalse(FileManager.default.fileExists(atPath: o.dir + "/deployed.txt"))
        XCTAssertTrue(o.output.contains("skipped (condition): deploy"), o.output)
        XCTAssertTrue(o.junit.contains("failures=\"0\""), o.junit)
        XCTAssertTrue(o.junit.contains("<skipped message=\"condition: `when` was false\"/>"), o.junit)
        XCTAssertTrue(o.junit.contains("<skipped message=\"upstream_skipped: `deploy` was skipped\"/>"), o.junit)
        XCTAssertTrue(o.summary.contains("| deploy | skipped (condition) |"), o.summary)
        XCTAssertFalse(o.summary.contains("### Failures"), "a skip by condition is not a failure")

        let prod = try run(src, "w2", inputs: ["--input", "env=prod"])
        XCTAssertEqual(prod.status, 0, prod.output)
        XCTAssertEqual(read(prod.dir + "/deployed.txt"), "deployed\n")
        XCTAssertEqual(read(prod.dir + "/announced.txt"), "announced\n")
    }

    /// A condition over a finished task's output and status, both in `when`.
    func testWhenReadsOutputsAndStatuses() throws {
        let src = Self.agent + """
        workflow ship {
          task probe { run: "echo '{\\"ready\\": false}'", output ready: bool }
          task flaky { run: "exit 2", allow_failure: true }
          task go { when: probe.outputs.ready, run: "echo go > go.txt" }
          task fix { when: !probe.outputs.ready && flaky.status == status.failed, run: "echo fix > fix.txt" }
        }
        """
        let o = try run(src, "w3")
        XCTAssertEqual(o.status, 0, o.output)
        XCTAssertEqual(reason(o, "go"), "condition")
        XCTAssertEqual(read(o.dir + "/fix.txt"), "fix\n", "flaky.status reads `failed` though the failure is allowed")
    }

    func testRunOnFailureReactsAndTheRunStillFails() throws {
        let src = Self.agent + """
        workflow ship {
          input broken: bool = true
          task deploy { run: "test ${inputs.broken} = false" }
          task smoke { after: [deploy], run: "echo smoke" }
          task rollback { run_on: failure, after: [deploy], run: "echo rolled back > rollback.txt" }
        }
        """
        let o = try run(src, "f1")
        XCTAssertEqual(o.status, 1, "the handler reacts; the failure still fails the run: \(o.output)")
        XCTAssertEqual(read(o.dir + "/rollback.txt"), "rolled back\n")
        XCTAssertEqual(state(o, "rollback"), "succeeded")
        XCTAssertEqual(reason(o, "smoke"), "upstream_failed")
        XCTAssertTrue(o.junit.contains("<skipped message=\"upstream_failed: `deploy` failed\"/>"), o.junit)

        let fine = try run(src, "f2", inputs: ["--input", "broken=false"])
        XCTAssertEqual(fine.status, 0, fine.output)
        XCTAssertEqual(reason(fine, "rollback"), "condition")
        XCTAssertFalse(FileManager.default.fileExists(atPath: fine.dir + "/rollback.txt"))
    }

    func testAlwaysCleansUpAfterAFailureAndReadsTheStatus() throws {
        let src = Self.agent + """
        workflow ship {
          task build { run: "echo '{\\"image\\": \\"app:1\\"}'", output image: string }
          task test { after: [build], run: "exit 1" }
          task cleanup {
            run_on: always
            after: [test]
            run: "echo ${test.status} ${build.outputs.image ?? \"none\"} > cleanup.txt"
          }
        }
        """
        let o = try run(src, "a1")
        XCTAssertEqual(o.status, 1, o.output)
        XCTAssertEqual(read(o.dir + "/cleanup.txt"), "failed app:1\n")
    }

    func testAllowFailureKeepsTheRunGreenAndShowsTheFailure() throws {
        let src = Self.agent + """
        workflow ship {
          task lint { run: "echo lint errors >&2; exit 3", allow_failure: true, output count: int }
          task build { after: [lint], run: "echo n=${lint.outputs.count ?? -1} > build.txt" }
        }
        """
        let o = try run(src, "l1")
        XCTAssertEqual(o.status, 0, o.output)
        XCTAssertEqual(o.rows["lint"]?["allowed_failure"] as? Bool, true)
        XCTAssertEqual(read(o.dir + "/build.txt"), "n=-1\n", "a missing output reads as null")
        let text = ezrun(["status", "l1"], in: o.dir).stdout
        XCTAssertTrue(text.contains("lint   failed (allowed)"), text)
        XCTAssertTrue(o.junit.contains("failures=\"0\""), o.junit)
        XCTAssertTrue(o.junit.contains("<skipped message=\"failed (allowed): agent_error\"/>"), o.junit)
        XCTAssertTrue(o.summary.contains("| lint | failed (allowed) |"), o.summary)
    }

    /// The issue's measured failure: an exit handler written as `catch:` replaces the
    /// failed task, so the run ends `success` (exit 0) though the deploy failed. A
    /// `run_on: failure` handler runs the same cleanup and the run ends `failed`.
    func testCompensateThenFailEndsFailedWithTheCleanupRun() throws {
        let caught = Self.agent + """
        workflow ship {
          task deploy { run: "exit 1", retry { attempts: 1, catch: undo } }
          task undo { run: "echo undone > undo.txt" }
        }
        """
        let before = try run(caught, "c1")
        XCTAssertEqual(before.status, 0, "`catch` recovers: the run ends success (the issue's report)")
        XCTAssertEqual(read(before.dir + "/undo.txt"), "undone\n")

        let handled = Self.agent + """
        workflow ship {
          task deploy { run: "exit 1" }
          task undo { run_on: failure, after: [deploy], run: "echo undone > undo.txt" }
        }
        """
        let after = try run(handled, "c2")
        XCTAssertEqual(after.status, 1, after.output)
        XCTAssertEqual(read(after.dir + "/undo.txt"), "undone\n")
        XCTAssertTrue(after.output.contains("run finished: failed"), after.output)
    }
}
