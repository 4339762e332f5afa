// `ezrun dlq list|show|retry` end to end: the built binary, real subprocesses, a real
// SQLite file. A task that fails until a marker file exists is dead-lettered, its
// dependent skipped; once the file is there, `dlq retry` re-drives it and the run ends
// in success, journalled as new attempts that replay.
import EzflowIR
import EzflowPorts
import EzflowRunner
import EzflowRuntime
import EzflowStore
import Foundation
import XCTest

final class DLQTests: XCTestCase {
    static let workflow = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
        }
        role ci {
          allow: [run]
          agents: [sh]
        }
        role viewer {
          allow: []
        }
        workflow fix {
          task prepare {
            role: ci
            run: "echo ready"
          }
          task flaky {
            role: ci
            after: [prepare]
            run: "if [ -f marker ]; then echo fixed; else echo 'no marker yet' >&2; exit 1; fi"
            retry {
              attempts: 2
              backoff: fixed
              delay: 10ms
              on: [agent_error]
            }
          }
          task publish {
            role: ci
            after: [flaky]
            run: "echo published"
          }
        }
        """

    func deadLettered(_ runID: String) -> String {
        let dir = tempDir("dlq")
        write(Self.workflow, to: dir + "/fix.ezflow")
        let r = ezrun(["run", "fix.ezflow", "--run-id", runID, "--seed", "3"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("skipped (upstream_failed): publish"), r.stderr)
        return dir
    }

    func testListShowAndRetryToSuccess() throws {
        let dir = deadLettered("d1")
        let list = ezrun(["dlq", "list"], in: dir)
        XCTAssertEqual(list.status, 0, list.stderr)
        let lines = list.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "RUN\tTASK\tCLASS\tATTEMPTS\tENDED\tMESSAGE")
        XCTAssertEqual(lines.count, 2, list.stdout)
        XCTAssertTrue(lines.last?.hasPrefix("d1\tflaky\tagent_error\t2\t2") ?? false, list.stdout)
        XCTAssertTrue(lines.last?.hasSuffix("\ttask `flaky`: exit code 1: no marker yet") ?? false, list.stdout)
        let json = try JSONParser.parse(Array(ezrun(["dlq", "list", "--run", "d1", "--json"], in: dir).stdout.utf8))
        guard case .array(let rows)? = json["dead_letters"], let row = rows.first, rows.count == 1 else { return XCTFail("\(json)") }
        XCTAssertEqual(row["run_id"], .string("d1"))
        XCTAssertEqual(row["task"], .string("flaky"))
        XCTAssertEqual(row["class"], .string("agent_error"))
        XCTAssertEqual(row["attempts"], .int(2))

        let show = ezrun(["dlq", "show", "d1", "flaky"], in: dir)
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.hasPrefix("task flaky of run d1: dead_lettered, 2 attempts\n  attempt 1 on sh: agent_error, "), show.stdout)
        XCTAssertEqual(show.stdout.components(separatedBy: "    task `flaky`: exit code 1: no marker yet\n").count, 3, show.stdout)

        // Fixed: the re-drive (a fresh rule) succeeds at once and `publish` runs.
        FileManager.default.createFile(atPath: dir + "/marker", contents: nil)
        let retry = ezrun(["dlq", "retry", "d1", "flaky"], in: dir)
        XCTAssertEqual(retry.status, 0, retry.stderr)
        XCTAssertTrue(retry.stderr.contains("ezrun: re-driving `flaky` of run d1"), retry.stderr)
        XCTAssertTrue(retry.stderr.contains("task flaky started (attempt 1/2 after a re-drive, sh)"), retry.stderr)
        XCTAssertTrue(retry.stderr.contains("run finished: success"), retry.stderr)

        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: "d1")  // replays the journal, re-drive included
        XCTAssertEqual(run.info.status, .finished)
        XCTAssertEqual(run.info.verdict, .success)
        XCTAssertEqual(run.state.tasks, [.succeeded, .succeeded, .succeeded])
        XCTAssertEqual(run.state.history[1].map(\.attempt), [1, 2, 3])
        XCTAssertEqual(run.state.history[1].map(\.errorClass), ["agent_error", "agent_error", nil])
        let events = try store.journal(run: "d1").map(\.event.typeName)
        XCTAssertEqual(events.filter { $0 == "task_redriven" }.count, 1)
        XCTAssertEqual(try store.logs(run: "d1", task: 1).map(\.attempt), [1, 2, 3])
        // The store file's dead-letter feed (table dead_letters): the dead letter, then its
        // re-drive, each written in the append of its record.
        let feed = try SQLiteWorkQueue(store: store).deadLetters(run: "d1")
        XCTAssertEqual(feed.map(\.kind), [.deadLettered, .redriven])
        XCTAssertEqual(feed.map(\.taskName), ["flaky", "flaky"])
        XCTAssertEqual(feed.map(\.errorClass), ["agent_error", "agent_error"])
        XCTAssertEqual(feed.map(\.attempts), [2, 2])
        XCTAssertEqual(feed.first?.message, "task `flaky`: exit code 1: no marker yet")
        XCTAssertEqual(feed.last?.principal, ProcessInfo.processInfo.environment["USER"] ?? "local")
        let replay = ezrun(["replay", "d1"], in: dir)
        XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
        XCTAssertTrue(replay.stdout.contains("run finished: success"), replay.stdout)

        XCTAssertEqual(ezrun(["dlq", "list"], in: dir).stdout, "no dead-lettered tasks\n")
        let again = ezrun(["dlq", "show", "d1", "flaky"], in: dir).stdout
        XCTAssertTrue(again.contains("  re-driven by "), again)
        XCTAssertTrue(again.hasSuffix("  attempt 3 on sh: succeeded, " + (again.components(separatedBy: "attempt 3 on sh: succeeded, ").last ?? "")))
        let twice = ezrun(["dlq", "retry", "d1", "flaky"], in: dir)
        XCTAssertEqual(twice.status, 2)
        XCTAssertEqual(twice.stderr, "ezrun: cannot re-drive `flaky` of run d1: task `flaky` is succeeded, not dead-lettered\n")
    }

    func testRetryNeedsRunPermissionAndNoResumeLeavesItToResume() throws {
        let dir = deadLettered("d2")
        FileManager.default.createFile(atPath: dir + "/marker", contents: nil)
        let refused = ezrun(["dlq", "retry", "d2", "flaky", "--as", "vic:viewer"], in: dir)
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stderr, "ezrun: access refused: no role of `vic` (viewer) allows `run`\n")
        let posted = ezrun(["dlq", "retry", "d2", "flaky", "--as", "carol:ci", "--no-resume"], in: dir)
        XCTAssertEqual(posted.status, 0, posted.stderr)
        XCTAssertEqual(posted.stdout, "re-drive of `flaky` of run d2 posted; continue with: ezrun resume d2\n")
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        XCTAssertEqual(try StoredRun.load(store: store, runID: "d2").state.tasks[1], .deadLettered, "only the writer appends")
        let resumed = ezrun(["resume", "d2", "--as", "carol:ci"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("flaky re-driven by carol: a fresh retry rule"), resumed.stderr)
        let audit = try store.auditLog().map { "\($0.principal) \($0.action) \($0.target) \($0.allowed)" }
        XCTAssertEqual(audit, ["vic redrive flaky false", "carol redrive flaky true", "carol resume fix true"])
        guard case .taskRedriven(1, "carol", _)? = try store.journal(run: "d2").first(where: { $0.event.typeName == "task_redriven" })?.event else {
            return XCTFail("no re-drive journalled")
        }
    }

    func testARunPastItsDeadlineIsNotRedriven() throws {
        let dir = tempDir("dlq")
        write(Self.workflow.replacingOccurrences(of: "workflow fix {", with: "workflow fix {\n  deadline: 1s"), to: dir + "/fix.ezflow")
        XCTAssertEqual(ezrun(["run", "fix.ezflow", "--run-id", "d3"], in: dir).status, 1)
        usleep(1_100_000)
        let r = ezrun(["dlq", "retry", "d3", "flaky"], in: dir)
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "ezrun: cannot re-drive `flaky` of run d3: the run is past the run's deadline\n")
        XCTAssertEqual(ezrun(["dlq", "show", "d3", "nope"], in: dir).stderr, "ezrun: run `d3` has no task `nope`\n")
    }
}
