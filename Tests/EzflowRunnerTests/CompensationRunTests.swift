import EzflowRunner
import EzflowRuntime
import EzflowStore
import Foundation
import EzflowTestSupport
import XCTest

/// Issue 13, compensation (saga), end to end with the built `ezrun` on exec agents that
/// append to `log.txt`, so the order of undos is observable: A → B → C failing undoes B
/// then A, exit 1; a successful run undoes nothing; a failing undo is retried by its own
/// rule, then the others still run and the run is `compensation_incomplete`; `ezrun
/// cancel` and the deadline lead to compensation, then `finally`, neither stops an undo;
/// kill -9 during compensation, then `ezrun resume`, finishes it without running a finished
/// undo again. Every journal replays.
final class CompensationRunTests: XCTestCase {
    /// a → b → c; a and b are undone by undo_a / undo_b; `fin` logs the run's status and failures.
    static func workflow(c: String = "echo c >> log.txt; test ${inputs.broken} = false", undoA: String = "echo undo_a ${a.outputs.id} >> log.txt",
                         undoB: String = "echo undo_b >> log.txt", undoBRetry: String = "", extra: String = "") -> String {
        """
        agent sh { driver: exec, capabilities: ["shell"] }
        workflow trip {
          input broken: bool = false
        \(extra)
          task a { run: "echo a >> log.txt; echo '{\\"id\\": \\"A1\\"}'", output id: string, compensate: undo_a }
          task b { after: [a], run: "echo b >> log.txt", compensate: undo_b }
          task c { after: [b], run: "\(c)" }
          task undo_a { timeout: 20s, run: "\(undoA)" }
          task undo_b { timeout: 20s, run: "\(undoB)" \(undoBRetry) }
          finally {
            task fin { timeout: 10s, run: "echo fin ${run.status} ${join(run.failures, \",\")} >> log.txt" }
          }
        }
        """
    }

    func lines(_ dir: String) -> [String] { read(dir + "/log.txt").split(separator: "\n").map(String.init) }

    func replays(_ dir: String, _ id: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = ezrun(["replay", id], in: dir)
        XCTAssertEqual(r.status, 0, "the journal replays: \(r.stdout)\(r.stderr)", file: file, line: line)
    }

    /// `ezrun run f.ezflow` in the background, until `started` exists.
    func startUntilStarted(_ dir: String, _ id: String) throws -> Process {
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = ["run", "f.ezflow", "--run-id", id, "--quiet"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardError = FileHandle.nullDevice
        try p.run()
        let until = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: dir + "/started") && Date() < until { usleep(10_000) }
        return p
    }

    func testAFailureUndoesWhatSucceededInReverseOrderAndASuccessUndoesNothing() throws {
        let dir = tempDir("comp")
        write(Self.workflow(), to: dir + "/f.ezflow")
        let bad = ezrun(["run", "f.ezflow", "--run-id", "f1", "--input", "broken=true", "--junit", "junit.xml"], in: dir)
        XCTAssertEqual(bad.status, 1, "compensation never turns a failed run into a success: \(bad.stderr)")
        XCTAssertEqual(lines(dir), ["a", "b", "c", "undo_b", "undo_a A1", "fin failed c"],
                       "b's undo, then a's (which reads a's output), then finally")
        XCTAssertTrue(bad.stderr.contains("run finished: failed"), bad.stderr)
        XCTAssertFalse(bad.stderr.contains("compensation_incomplete"), bad.stderr)
        let status = ezrun(["status", "f1"], in: dir)
        XCTAssertTrue(status.stdout.contains("undo_b  succeeded"), status.stdout)
        replays(dir, "f1")

        try FileManager.default.removeItem(atPath: dir + "/log.txt")
        let ok = ezrun(["run", "f.ezflow", "--run-id", "s1"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(lines(dir), ["a", "b", "c", "fin succeeded "], "a successful run runs no compensation")
        let s = ezrun(["status", "s1"], in: dir)
        XCTAssertTrue(s.stdout.contains("undo_a  skipped (not needed)"), s.stdout)
        replays(dir, "s1")
    }

    func testAFailingUndoIsRetriedThenTheOthersRunAndTheRunIsCompensationIncomplete() throws {
        let dir = tempDir("comp")
        write(Self.workflow(undoB: "echo undo_b-try >> log.txt; exit 3",
                            undoBRetry: "\n    retry { attempts: 2, backoff: fixed, delay: 10ms }"), to: dir + "/f.ezflow")
        let r = ezrun(["run", "f.ezflow", "--run-id", "i1", "--input", "broken=true", "--junit", "junit.xml", "--summary", "summary.json"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(lines(dir), ["a", "b", "c", "undo_b-try", "undo_b-try", "undo_a A1", "fin failed c,undo_b"],
                       "undo_b retried by its rule, then undo_a still ran; finally sees the failed undo in run.failures")
        XCTAssertTrue(r.stderr.contains("compensation_incomplete: `undo_b` (undo of `b`) failed"), r.stderr)
        let status = ezrun(["status", "i1"], in: dir)
        XCTAssertTrue(status.stdout.contains("status    finished (failed)"), status.stdout)
        XCTAssertTrue(status.stdout.contains("compensation_incomplete: `undo_b` (undo of `b`) failed"), status.stdout)
        let json = ezrun(["status", "i1", "--json"], in: dir)
        XCTAssertTrue(json.stdout.contains("\"compensation_incomplete\":[\"undo_b\"]"), json.stdout)
        XCTAssertTrue(read(dir + "/junit.xml").contains("type=\"compensation_incomplete\""), read(dir + "/junit.xml"))
        XCTAssertTrue(read(dir + "/summary.json").contains("\"compensation_incomplete\":[\"undo_b\"]"), read(dir + "/summary.json"))
        replays(dir, "i1")
    }

    func testACancelLeadsToCompensationThenFinallyAndASecondCancelDoesNotStopIt() throws {
        let dir = tempDir("comp")
        write(Self.workflow(c: "touch started; sleep 30", undoA: "sleep 1; echo undo_a ${a.outputs.id} >> log.txt"), to: dir + "/f.ezflow")
        let p = try startUntilStarted(dir, "c1")
        XCTAssertEqual(ezrun(["cancel", "c1"], in: dir).status, 0)
        // The second cancel lands while undo_a sleeps (or before): it stops nothing.
        usleep(300_000)
        XCTAssertEqual(ezrun(["cancel", "c1"], in: dir).status, 0)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        XCTAssertEqual(lines(dir), ["a", "b", "undo_b", "undo_a A1", "fin cancelled "], "undos after the cancel, then finally")
        replays(dir, "c1")
    }

    func testTheDeadlineDoesNotStopAnUndo() throws {
        let dir = tempDir("comp")
        write(Self.workflow(c: "sleep 30", undoA: "sleep 1.5; echo undo_a ${a.outputs.id} >> log.txt", extra: "  deadline: 1s"),
              to: dir + "/f.ezflow")
        let r = ezrun(["run", "f.ezflow", "--run-id", "d1"], in: dir)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(lines(dir), ["a", "b", "undo_b", "undo_a A1", "fin deadline_exceeded "], "the undo ran past the deadline")
        replays(dir, "d1")
    }

    func testKillNineDuringCompensationThenResumeFinishesItWithoutRerunningFinishedUndos() throws {
        let dir = tempDir("comp")
        write(Self.workflow(undoA: "echo undo_a-start >> log.txt; touch started; sleep 2; echo undo_a ${a.outputs.id} >> log.txt"),
              to: dir + "/f.ezflow")
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = ["run", "f.ezflow", "--run-id", "k1", "--quiet", "--input", "broken=true"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardError = FileHandle.nullDevice
        try p.run()
        let until = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: dir + "/started") && Date() < until { usleep(10_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(lines(dir), ["a", "b", "c", "undo_b", "undo_a-start"], "killed while undo_a ran")
        let r = ezrun(["resume", "k1"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(lines(dir), ["a", "b", "c", "undo_b", "undo_a-start", "undo_a-start", "undo_a A1", "fin failed c"],
                       "resume ran the interrupted undo again, not the finished one, then finally")
        replays(dir, "k1")
    }
}
