// A journal that cannot be edited quietly (issue 9 §4): a record's outputs, its cost, a
// timer's time, a deleted or reordered record, or other IR under the run, edited straight
// in the SQLite file, is found by `ezrun status`, `replay` and `resume` (exit 6, the first
// bad record named by seq, kind and task), and resume never feeds a forged output
// downstream. Before the chain, every one of these went unnoticed.
@testable import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class ChainTests: XCTestCase {
    /// `build` fails once (transient) and is retried after a timer, then succeeds with an
    /// output `deploy` reads after the approval: journal 0 run_started, 1 task_failed,
    /// 2 timer_fired, 3 task_succeeded.
    static let chained = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
        }
        role ci {
          allow: [run]
          agents: [sh]
        }
        role releaser {
          inherits: [ci]
          allow: [approve]
        }
        retry twice {
          attempts: 2
          backoff: fixed
          delay: 10ms
          on: [transient]
        }
        workflow chained {
          task build {
            role: ci
            run: "if [ \\"$EZFLOW_ATTEMPT\\" = 1 ]; then exit 75; fi; printf '{\\"artifact\\": \\"app-1.0\\"}'"
            output artifact: string
            retry: twice
          }
          task approve_deploy {
            role: ci
            after: [build]
            approve: "Deploy?"
            approvers: [releaser]
          }
          task deploy {
            role: ci
            after: [approve_deploy]
            env: { A: build.outputs.artifact }
            run: "echo deploying $A > deployed.txt"
          }
        }
        """

    /// A run of `chained` waiting for its approval, approved; its directory.
    func approvedRun(_ workflow: String = ChainTests.chained) throws -> String {
        let dir = tempDir("chain")
        write(workflow, to: dir + "/chained.ezflow")
        let r = ezrun(["run", "chained.ezflow", "--run-id", "c1", "--seed", "7", "--quiet", "--as", "carol:ci"], in: dir)
        XCTAssertEqual(r.status, 4, r.stderr)
        let a = ezrun(["approve", "c1", "approve_deploy", "--as", "rita:releaser", "--yes"], in: dir)
        XCTAssertEqual(a.status, 0, a.stderr)
        return dir
    }

    func db(_ dir: String) -> String { dir + "/.ezflow/ezflow.db" }

    static let prefix = "ezrun: ezflow store .ezflow/ezflow.db: integrity error: run `c1`: "
    /// What every integrity error tells the user to do next.
    static let advice = "; do not trust this run: restore the store from a backup (docs/RUNNING.md, \"A journal that cannot be edited quietly\")"

    /// Every command that reads the run refuses it with exit 6 and `message`, prints
    /// nothing on stdout, and nothing downstream of the forgery ran.
    func assertRefused(_ dir: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        for command in [["status", "c1"], ["status", "c1", "--json"], ["replay", "c1"], ["replay", "c1", "--db", ".ezflow/ezflow.db"],
                        ["resume", "c1", "--as", "carol:ci", "--quiet"], ["logs", "c1"], ["approve", "c1", "approve_deploy", "--as", "rita:releaser"]] {
            let r = ezrun(command, in: dir)
            XCTAssertEqual(r.status, 6, "\(command): \(r.stderr)", file: file, line: line)
            XCTAssertEqual(r.stderr, Self.prefix + message + Self.advice + "\n", "\(command)", file: file, line: line)
            XCTAssertEqual(r.stdout, "", "\(command)", file: file, line: line)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/deployed.txt"), "a forged run went on", file: file, line: line)
    }

    func testForgedOutputsAreRefusedAndNeverReachDeploy() throws {
        let dir = try approvedRun()
        try DurableStore.rawExec(path: db(dir), sql: """
            UPDATE journal SET event = json_set(event, '$.outputs', json('{"forged":"yes"}')) WHERE run_id = 'c1' AND seq = 3
            """)
        assertRefused(dir, "journal record 3 (task_succeeded of task `build`) does not match its chain hash: the store was edited")
    }

    func testForgedCostIsRefused() throws {
        let dir = try approvedRun()
        try DurableStore.rawExec(path: db(dir), sql: """
            UPDATE journal SET event = json_set(event, '$.cost_micros', 5000000) WHERE run_id = 'c1' AND seq = 1
            """)
        assertRefused(dir, "journal record 1 (task_failed of task `build`) does not match its chain hash: the store was edited")
    }

    func testForgedTimerTimeIsRefused() throws {
        let dir = try approvedRun()
        try DurableStore.rawExec(path: db(dir), sql: """
            UPDATE journal SET event = json_set(event, '$.at_ms', json_extract(event, '$.at_ms') + 3600000) WHERE run_id = 'c1' AND seq = 2
            """)
        assertRefused(dir, "journal record 2 (timer_fired of task `build`) does not match its chain hash: the store was edited")
    }

    func testDeletedRecordIsRefused() throws {
        let dir = try approvedRun()
        // Renumbered so no seq is missing: only the chain tells.
        try DurableStore.rawExec(path: db(dir), sql: """
            DELETE FROM journal WHERE run_id = 'c1' AND seq = 1;
            UPDATE journal SET seq = seq - 1 WHERE run_id = 'c1' AND seq > 1;
            """)
        assertRefused(dir, "journal record 1 (timer_fired of task `build`) does not match its chain hash: the store was edited")
    }

    func testReorderedRecordsAreRefused() throws {
        let dir = try approvedRun()
        try DurableStore.rawExec(path: db(dir), sql: """
            UPDATE journal SET seq = -1 WHERE run_id = 'c1' AND seq = 1;
            UPDATE journal SET seq = 1 WHERE run_id = 'c1' AND seq = 2;
            UPDATE journal SET seq = 2 WHERE run_id = 'c1' AND seq = -1;
            """)
        assertRefused(dir, "journal record 1 (timer_fired of task `build`) does not match its chain hash: the store was edited")
    }

    func testEditedIRIsRefused() throws {
        let dir = try approvedRun()
        let hash = try XCTUnwrap(try DurableStore(path: db(dir)).run("c1")?.irHash)
        try DurableStore.rawExec(path: db(dir), sql: """
            UPDATE run_data SET ir = CAST(replace(CAST(ir AS TEXT), 'deployed.txt', 'pwned.txt') AS BLOB) WHERE run_id = 'c1'
            """)
        assertRefused(dir, "the stored IR does not match its hash \(hash): the store was edited")
    }

    /// Other IR, with its own correct hash written into the run row: the chain's head is
    /// bound to the IR hash, so record 0 no longer matches.
    func testSwappedIRWithItsHashIsRefused() throws {
        let dir = try approvedRun()
        let other = try approvedRun(Self.chained.replacingOccurrences(of: "deployed.txt", with: "pwned.txt"))
        try DurableStore.rawExec(path: db(dir), sql: """
            ATTACH DATABASE '\(db(other))' AS o;
            UPDATE run_data SET ir = (SELECT ir FROM o.run_data WHERE run_id = 'c1') WHERE run_id = 'c1';
            UPDATE runs SET ir_hash = (SELECT ir_hash FROM o.runs WHERE run_id = 'c1') WHERE run_id = 'c1';
            """)
        assertRefused(dir, "journal record 0 (run_started) does not match its chain hash: the store was edited")
    }

    /// The limit: a dropped last record leaves a valid shorter chain. The head `status`
    /// prints changes, which an operator who pinned it sees.
    func testTruncationChangesThePinnedHead() throws {
        let dir = try approvedRun()
        let pinned = try XCTUnwrap(head(ezrun(["status", "c1", "--json"], in: dir).stdout))
        try DurableStore.rawExec(path: db(dir), sql: "DELETE FROM journal WHERE run_id = 'c1' AND seq = 3")
        let after = ezrun(["status", "c1", "--json"], in: dir)
        XCTAssertEqual(after.status, 0, after.stderr)
        XCTAssertNotEqual(head(after.stdout), pinned)
    }

    func head(_ json: String) -> String? {
        guard let r = json.range(of: #""chain_head":""#) else { return nil }
        return String(json[r.upperBound...].prefix { $0 != "\"" })
    }

    /// An untouched run: the head is printed (text and JSON, the same), replay verifies
    /// it, and resume carries the real output to `deploy`.
    func testUntouchedRunResumesToSuccess() throws {
        let dir = try approvedRun()
        let json = ezrun(["status", "c1", "--json"], in: dir)
        XCTAssertEqual(json.status, 0, json.stderr)
        let pinned = try XCTUnwrap(head(json.stdout))
        XCTAssertTrue(pinned.hasPrefix("sha256:") && pinned.count == 71, pinned)
        let text = ezrun(["status", "c1"], in: dir)
        XCTAssertTrue(text.stdout.contains("head      \(pinned)   (chain verified; pin it to detect a rewritten store)\n"), text.stdout)
        let replay = ezrun(["replay", "c1"], in: dir)
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertEqual(replay.stdout, "journal reproduced: 4 events, same commands; run still in progress\nchain verified from the IR hash; head \(pinned)\n")
        let resumed = ezrun(["resume", "c1", "--as", "carol:ci", "--quiet"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(read(dir + "/deployed.txt"), "deploying app-1.0\n")
        let done = ezrun(["replay", "c1", "--export", "c1.jsonl"], in: dir)
        XCTAssertEqual(done.status, 0, done.stderr)
        XCTAssertTrue(done.stdout.hasPrefix("journal reproduced: 7 events, same commands; run finished: success\n"), done.stdout)
    }

    /// An export carries each record's chain hash; a replay of the file checks it.
    func testExportedJournalCarriesTheChain() throws {
        let dir = try approvedRun()
        XCTAssertEqual(ezrun(["replay", "c1", "--export", "c1.jsonl"], in: dir).status, 0)
        let good = ezrun(["replay", "c1.jsonl", "--workflow", "chained.ezflow"], in: dir)
        XCTAssertEqual(good.status, 0, good.stderr)
        var lines = read(dir + "/c1.jsonl").split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix(#"{"chain":"sha256:"#) }, "\(lines)")
        lines[3] = lines[3].replacingOccurrences(of: #""artifact":"app-1.0""#, with: #""forged":"yes""#)
        write(lines.joined(separator: "\n") + "\n", to: dir + "/forged.jsonl")
        let bad = ezrun(["replay", "forged.jsonl", "--workflow", "chained.ezflow"], in: dir)
        XCTAssertEqual(bad.status, 6, bad.stderr)
        XCTAssertEqual(bad.stderr, "ezrun: forged.jsonl: journal record 3 (task_succeeded of task `build`) does not match its chain hash: the file was edited\n")
    }
}
