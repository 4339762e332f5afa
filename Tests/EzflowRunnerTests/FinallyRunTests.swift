import EzflowRunner
import EzflowRuntime
import EzflowStore
import Foundation
import EzflowTestSupport
import XCTest

/// Issue 13, `finally`, end to end with the built `ezrun` on exec agents: the cleanup runs
/// after a success, after a failure (and reads `run.status` and `run.failures`), after
/// `ezrun cancel`, after the deadline, and after kill -9 + `ezrun resume`; a failing
/// finally task turns `success` into exit 1 (`allow_failure` opts out); every journal replays.
final class FinallyRunTests: XCTestCase {
    static func workflow(main: String, finally: String, extra: String = "") -> String {
        """
        agent sh { driver: exec, capabilities: ["shell"] }
        workflow ship {
          input broken: bool = false
        \(extra)
        \(main)
          finally {
        \(finally)
          }
        }
        """
    }

    /// Writes `run.status`, the failures and `build`'s output (or "none") to `status.txt`.
    static let report = """
            task report {
              timeout: 10s
              run: "echo ${run.status} [${join(run.failures, ",")}] ${build.outputs.v ?? "none"} > status.txt"
            }
        """

    static let main = """
          task build { run: "echo '{\\"v\\": \\"1\\"}'", output v: string }
          task deploy { after: [build], run: "test ${inputs.broken} = false" }
        """

    func testFinallyRunsAfterSuccessAndAfterFailureAndReadsTheRunStatus() throws {
        let dir = tempDir("finally")
        write(Self.workflow(main: Self.main, finally: Self.report), to: dir + "/f.ezflow")
        let ok = ezrun(["run", "f.ezflow", "--run-id", "s1"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(read(dir + "/status.txt"), "succeeded [] 1\n")
        assertReplays(dir, "s1")

        let bad = ezrun(["run", "f.ezflow", "--run-id", "s2", "--input", "broken=true", "--junit", "junit.xml"], in: dir)
        XCTAssertEqual(bad.status, 1, "a finally task never turns a failed run into a success: \(bad.stderr)")
        XCTAssertEqual(read(dir + "/status.txt"), "failed [deploy] 1\n")
        XCTAssertTrue(bad.stderr.contains("run finished: failed"), bad.stderr)
        assertReplays(dir, "s2")
    }

    func testAFailingFinallyTaskFailsASuccessfulRunUnlessAllowed() throws {
        let dir = tempDir("finally")
        let failing = "    task cleanup { timeout: 10s, run: \"exit 4\" }"
        write(Self.workflow(main: Self.main, finally: failing), to: dir + "/f.ezflow")
        let r = ezrun(["run", "f.ezflow", "--run-id", "x1"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        assertReplays(dir, "x1")

        let allowed = "    task cleanup { timeout: 10s, run: \"exit 4\", allow_failure: true }"
        write(Self.workflow(main: Self.main, finally: allowed), to: dir + "/g.ezflow")
        let a = ezrun(["run", "g.ezflow", "--run-id", "x2"], in: dir)
        XCTAssertEqual(a.status, 0, a.stderr)
    }

    func testFinallyRunsAfterACancel() throws {
        let dir = tempDir("finally")
        let main = """
              task build { run: "echo '{\\"v\\": \\"1\\"}'", output v: string }
              task deploy { after: [build], run: "touch started; sleep 30" }
            """
        write(Self.workflow(main: main, finally: Self.report), to: dir + "/f.ezflow")
        let p = try startUntilStarted(dir, "c1")
        XCTAssertEqual(ezrun(["cancel", "c1"], in: dir).status, 0)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        XCTAssertEqual(read(dir + "/status.txt"), "cancelled [] 1\n", "the cleanup ran after the cancel")
        assertReplays(dir, "c1")
    }

    func testFinallyRunsAfterTheDeadlineWhichDoesNotStopIt() throws {
        let dir = tempDir("finally")
        let main = """
              task build { run: "echo '{\\"v\\": \\"1\\"}'", output v: string }
              task deploy { after: [build], run: "sleep 30" }
            """
        let slowCleanup = """
                task report {
                  timeout: 10s
                  run: "sleep 1; echo ${run.status} > status.txt"
                }
            """
        write(Self.workflow(main: main, finally: slowCleanup, extra: "  deadline: 1s"), to: dir + "/f.ezflow")
        let r = ezrun(["run", "f.ezflow", "--run-id", "d1"], in: dir)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(read(dir + "/status.txt"), "deadline_exceeded\n", "the cleanup ran past the deadline")
        assertReplays(dir, "d1")
    }

    func testKillNineThenResumeRunsFinally() throws {
        let dir = tempDir("finally")
        let main = """
              task build { run: "echo '{\\"v\\": \\"1\\"}'", output v: string }
              task deploy { after: [build], run: "touch started; sleep 1" }
            """
        write(Self.workflow(main: main, finally: Self.report), to: dir + "/f.ezflow")
        let p = try startUntilStarted(dir, "k1")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/status.txt"), "finally does not run on a forced kill")
        let r = ezrun(["resume", "k1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(read(dir + "/status.txt"), "succeeded [] 1\n", "resume finished the run and then ran finally")
        assertReplays(dir, "k1")
    }
}

/// The exit-handler example (from Argo's `examples/exit-handlers.yaml`) for real.
final class ExitHandlerExampleTests: XCTestCase {
    func logs(_ dir: String, _ id: String) throws -> [String: String] {
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: id)
        var out: [String: String] = [:]
        for row in try store.logs(run: id) { out[run.state.plan.taskNames[row.task], default: ""] += row.stdout }
        return out
    }

    func testTheExitHandlerReportsTheFailureAndTheRunStaysFailed() throws {
        let dir = tempDir("example")
        let src = Repo.url("examples/exit_handler.ezflow").path
        let r = ezrun(["run", src, "--run-id", "eh1", "--junit", "junit.xml"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        let l = try logs(dir, "eh1")
        XCTAssertEqual(l["notify"], "send e-mail: exit_handlers failed. Failed steps: intentional_fail\n")
        XCTAssertEqual(l["cry"], "boohoo!\n")
        XCTAssertNil(l["celebrate"])
        XCTAssertTrue(read(dir + "/junit.xml").contains("<skipped message=\"condition: `when` was false\"/>"))
        XCTAssertEqual(ezrun(["replay", "eh1"], in: dir).status, 0)

        let ok = ezrun(["run", src, "--run-id", "eh2", "--input", "fail=false"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let m = try logs(dir, "eh2")
        XCTAssertEqual(m["notify"], "send e-mail: exit_handlers succeeded. Failed steps: \n")
        XCTAssertEqual(m["celebrate"], "hooray!\n")
        XCTAssertNil(m["cry"])
    }
}
