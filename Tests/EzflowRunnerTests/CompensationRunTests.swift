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
        assertReplays(dir, "f1")

        try FileManager.default.removeItem(atPath: dir + "/log.txt")
        let ok = ezrun(["run", "f.ezflow", "--run-id", "s1"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(lines(dir), ["a", "b", "c", "fin succeeded "], "a successful run runs no compensation")
        let s = ezrun(["status", "s1"], in: dir)
        XCTAssertTrue(s.stdout.contains("undo_a  skipped (not needed)"), s.stdout)
        assertReplays(dir, "s1")
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
        XCTAssertTrue(json.stdout.contains("\"compensates\":\"b\""), json.stdout)
        XCTAssertTrue(read(dir + "/junit.xml").contains("type=\"compensation_incomplete\""), read(dir + "/junit.xml"))
        XCTAssertTrue(read(dir + "/summary.json").contains("\"compensation_incomplete\":[\"undo_b\"]"), read(dir + "/summary.json"))
        assertReplays(dir, "i1")
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
        assertReplays(dir, "c1")
    }

    func testTheDeadlineDoesNotStopAnUndo() throws {
        let dir = tempDir("comp")
        write(Self.workflow(c: "sleep 30", undoA: "sleep 1.5; echo undo_a ${a.outputs.id} >> log.txt", extra: "  deadline: 1s"),
              to: dir + "/f.ezflow")
        let r = ezrun(["run", "f.ezflow", "--run-id", "d1"], in: dir)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(lines(dir), ["a", "b", "undo_b", "undo_a A1", "fin deadline_exceeded "], "the undo ran past the deadline")
        assertReplays(dir, "d1")
    }

    /// A fan-out is compensated per instance through a nested workflow: each instance's
    /// undo reads that instance's output, latest completion first; the workflow task does
    /// not wait for its undos.
    func testEachInstanceOfANestedWorkflowFanOutIsUndone() throws {
        let dir = tempDir("comp")
        write(#"""
            agent sh { driver: exec, capabilities: ["shell"] }
            workflow room {
              input n: string
              task reserve { run: "echo reserve ${inputs.n} >> log.txt; echo '{\"id\": \"R${inputs.n}\"}'", output id: string, compensate: cancel }
              task cancel { timeout: 10s, run: "echo cancel ${reserve.outputs.id} >> log.txt" }
            }
            """#, to: dir + "/room.ezflow")
        write(#"""
            import "./room"
            agent sh { driver: exec, capabilities: ["shell"], concurrency: 1 }
            workflow trip {
              input broken: bool = false
              task rooms { for_each: ["1", "2"], workflow: room.room, with: { n: item } }
              task pay { after: [rooms], run: "echo pay >> log.txt; test ${inputs.broken} = false" }
            }
            """#, to: dir + "/f.ezflow")
        let ok = ezrun(["run", "f.ezflow", "--run-id", "n1"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(lines(dir), ["reserve 1", "reserve 2", "pay"])
        try FileManager.default.removeItem(atPath: dir + "/log.txt")
        let bad = ezrun(["run", "f.ezflow", "--run-id", "n2", "--input", "broken=true"], in: dir)
        XCTAssertEqual(bad.status, 1, bad.stderr)
        XCTAssertEqual(lines(dir), ["reserve 1", "reserve 2", "pay", "cancel R2", "cancel R1"])
        assertReplays(dir, "n2")
    }

    func testKillNineDuringCompensationThenResumeFinishesItWithoutRerunningFinishedUndos() throws {
        let dir = tempDir("comp")
        write(Self.workflow(undoA: "echo undo_a-start >> log.txt; touch started; sleep 2; echo undo_a ${a.outputs.id} >> log.txt"),
              to: dir + "/f.ezflow")
        let p = try startUntilStarted(dir, "k1", ["--input", "broken=true"])
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(lines(dir), ["a", "b", "c", "undo_b", "undo_a-start"], "killed while undo_a ran")
        let r = ezrun(["resume", "k1"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(lines(dir), ["a", "b", "c", "undo_b", "undo_a-start", "undo_a-start", "undo_a A1", "fin failed c"],
                       "resume ran the interrupted undo again, not the finished one, then finally")
        assertReplays(dir, "k1")
    }

    /// An attempt run again by `ezrun resume` has its whole `timeout` again: resumed later
    /// than the timeout after its first start, an undo used to time out at once (and the
    /// run ended compensation_incomplete with the booking never cancelled).
    func testAnUndoResumedAfterItsTimeoutRunsWithAFreshTimeout() throws {
        let dir = tempDir("comp")
        write(Self.workflow(undoA: "echo undo_a-start >> log.txt; touch started; sleep 1; echo undo_a ${a.outputs.id} >> log.txt")
                .replacingOccurrences(of: "task undo_a { timeout: 20s", with: "task undo_a { timeout: 2s"), to: dir + "/f.ezflow")
        let p = try startUntilStarted(dir, "k2", ["--input", "broken=true"])
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        sleep(3)  // past undo_a's 2s timeout, counted from its first start
        let r = ezrun(["resume", "k2"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(lines(dir), ["a", "b", "c", "undo_b", "undo_a-start", "undo_a-start", "undo_a A1", "fin failed c"],
                       "the resumed undo ran to its end")
        let status = ezrun(["status", "k2"], in: dir)
        XCTAssertFalse(status.stdout.contains("compensation_incomplete"), status.stdout)
        assertReplays(dir, "k2")
    }
}

/// The saga example (from cdk-patterns/serverless `the-saga-stepfunction`) for real and
/// simulated: the payment fails by default, so the flight and the hotel are cancelled, in
/// that order (the payment, which failed, is not refunded); a failed flight reservation
/// cancels only the hotel; a failed confirmation refunds the payment too; a success
/// undoes nothing.
final class SagaExampleTests: XCTestCase {
    /// Each task's stdout, by task name, and the order the undos started in.
    func logs(_ dir: String, _ id: String) throws -> (out: [String: String], order: [String]) {
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: id)
        var out: [String: String] = [:]
        for row in try store.logs(run: id) { out[run.state.plan.taskNames[row.task], default: ""] += row.stdout }
        // When each undo first started, by the journal's sequence number.
        let plan = run.state.plan
        let started = (0..<plan.taskCount).compactMap { t -> (Int, String)? in
            guard plan.kind(t) == .compensation,
                  let r = run.state.transitions[t].first(where: { if case .running = $0.to { true } else { false } }) else { return nil }
            return (r.seq, plan.taskNames[t])
        }
        return (out, started.sorted { $0.0 < $1.0 }.map(\.1))
    }

    func testThePaymentFailsAndTheReservationsAreUndoneLatestFirst() throws {
        let dir = tempDir("saga")
        let src = Repo.url("examples/saga.ezflow").path
        let r = ezrun(["run", src, "--run-id", "sg1"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        let l = try logs(dir, "sg1")
        XCTAssertEqual(l.order, ["cancel_flight", "cancel_hotel"])
        XCTAssertTrue(r.stderr.contains("task cancel_flight started (attempt 1/3, lambda, undoing reserve_flight)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("skipped (not needed): refund_payment"), r.stderr)
        XCTAssertEqual(l.out["cancel_flight"], "cancelled FLIGHT#trip-1\n")
        XCTAssertEqual(l.out["cancel_hotel"], "cancelled HOTEL#trip-1\n")
        XCTAssertEqual(l.out["sorry"], "Sorry, We Couldn't make the booking: take_payment\n")
        XCTAssertNil(l.out["booked"])
        XCTAssertEqual(ezrun(["replay", "sg1"], in: dir).status, 0)

        let f = ezrun(["run", src, "--run-id", "sg2", "--input", "run_type=failFlightsReservation"], in: dir)
        XCTAssertEqual(f.status, 1, f.stderr)
        XCTAssertEqual(try logs(dir, "sg2").order, ["cancel_hotel"])

        let c = ezrun(["run", src, "--run-id", "sg3", "--input", "run_type=failHotelConfirmation"], in: dir)
        XCTAssertEqual(c.status, 1, c.stderr)
        XCTAssertEqual(try logs(dir, "sg3").order, ["refund_payment", "cancel_flight", "cancel_hotel"])

        let ok = ezrun(["run", src, "--run-id", "sg4", "--input", "run_type=success"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let m = try logs(dir, "sg4")
        XCTAssertEqual(m.order, [], "a successful run undoes nothing")
        XCTAssertEqual(m.out["booked"], "We have made your booking!\n")
    }

    func testSimulatedWithThePaymentAlwaysFailingAndCrashesEveryRunFailsAndTheOracleHolds() {
        let src = Repo.url("examples/saga.ezflow").path
        let r = runProcess(Repo.executable("ezrun"), ["simulate", src, "--seed", "13", "--runs", "40",
                                                      "--faults", "task=take_payment:fail=1;runner:crash=0.05"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stdout.contains("success: 0/40"), r.stdout)
        XCTAssertTrue(r.stdout.contains("failures by verdict: failed 40"), r.stdout)
        XCTAssertTrue(r.stdout.contains("compensation: 40 runs undid tasks (80 undos), 0 compensation_incomplete"), r.stdout)
        XCTAssertTrue(r.stdout.contains("oracle: 40/40 runs held"), r.stdout)
        XCTAssertTrue(r.stdout.contains("invariants: checked after each of"), r.stdout)
        // The main graph's path: a `finally` task or an undo waits for none of its tasks and
        // was reported as the whole critical path.
        let path = r.stdout.split(separator: "\n").first { $0.hasPrefix("critical path") }.map(String.init) ?? ""
        XCTAssertTrue(path.contains("reserve_hotel 40") && path.contains("take_payment 40"), path)
        XCTAssertFalse(path.contains("sorry") || path.contains("cancel_hotel"), path)
    }
}
