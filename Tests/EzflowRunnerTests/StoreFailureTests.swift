// A damaged store as `ezrun` users meet it: every command that reads the journal stops
// with exit 5 and a message naming the store, the run and the record; nothing traps.
import EzflowIR
@testable import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class StoreFailureTests: XCTestCase {
    /// A finished `hello` run in a fresh directory, then `sql` run on its store.
    func damagedRun(_ sql: String) throws -> String {
        let dir = tempDir("store")
        write(RunCLITests.hello, to: dir + "/hello.ezflow")
        let r = ezrun(["run", "hello.ezflow", "--run-id", "r1", "--seed", "7", "--quiet"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        try DurableStore.rawExec(path: dir + "/.ezflow/ezflow.db", sql: sql)
        return dir
    }

    func testACorruptJournalRowIsExitFiveWithTheRecordNamed() throws {
        let dir = try damagedRun("UPDATE journal SET event = '{\"type\":' WHERE run_id = 'r1' AND seq = 1")
        for command in [["status", "r1"], ["status", "r1", "--json"], ["logs", "r1"], ["approve", "r1", "greet", "--as", "ana:ops"]] {
            let r = ezrun(command, in: dir)
            XCTAssertEqual(r.status, 5, "\(command): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("ezrun: ezflow store .ezflow/ezflow.db: corrupt error: run `r1` journal seq 1: event:"),
                          "\(command): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
            XCTAssertEqual(r.stdout, "", "\(command)")
        }
        // `resume` refuses too (the runner decides its exit status: see Runner.resume).
        let resumed = ezrun(["resume", "r1"], in: dir)
        XCTAssertNotEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("corrupt error: run `r1` journal seq 1"), resumed.stderr)
    }

    func testAMissingJournalRowIsExitFiveNotAShorterRun() throws {
        let dir = try damagedRun("DELETE FROM journal WHERE run_id = 'r1' AND seq = 1")
        for command in [["status", "r1"], ["logs", "r1"]] {
            let r = ezrun(command, in: dir)
            XCTAssertEqual(r.status, 5, "\(command): \(r.stderr)")
            XCTAssertEqual(r.stderr, "ezrun: ezflow store .ezflow/ezflow.db: corrupt error: run `r1` journal: record 1 is missing (the next stored is 2); "
                           + "the store is damaged: restore it from a backup, or start afresh with another store (--db PATH or EZFLOW_DB)\n",
                           "\(command)")
        }
    }

    func testAnUnknownRunIsStillInvalidInput() throws {
        let dir = try damagedRun("SELECT 1")
        let r = ezrun(["status", "nope"], in: dir)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.stderr, "ezrun: .ezflow/ezflow.db: no run `nope` (latest: r1)\n")
    }
}
