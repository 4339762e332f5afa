// Issue 11, "more than one rule per task (by error class)", end to end with the built
// `ezrun run`: a failure goes to the first rule that retries its class, each rule counts
// its own failures and waits its own delays, and a rule that ends ends the task's retries
// whatever the other rules have left.
import EzflowRunner
import EzflowRuntime
import EzflowStore
import Foundation
import XCTest

final class RetryRulesRunTests: XCTestCase {
    /// `step.sh` times out on its first two runs, exits 1 on the third and succeeds after
    /// (a counter file, so the sequence is the same every time).
    static let script = """
        n=$(cat step.count 2>/dev/null || echo 0); n=$((n+1)); echo $n > step.count
        case $n in
          1|2) sleep 5 ;;
          3) echo "flaky ($n)" >&2; exit 1 ;;
          *) echo ok ;;
        esac
        """

    static func workflow(_ rules: String) -> String {
        """
        agent sh { driver: exec, capabilities: ["shell"] }
        workflow steps {
          task step {
            agent: sh
            timeout: 300ms
            run: "sh step.sh"
        \(rules)
          }
        }
        """
    }

    static let twoRules = workflow("""
            retry { on: [timeout], attempts: 3, backoff: fixed, delay: 10ms }
            retry { on: [agent_error], attempts: 2, backoff: fixed, delay: 40ms }
        """)

    func run(_ source: String, _ id: String) throws -> (status: Int32, output: String, classes: [String?], delays: [Int64]) {
        let dir = tempDir("rules")
        write(source, to: dir + "/steps.ezflow")
        write(Self.script, to: dir + "/step.sh")
        let r = ezrun(["run", "steps.ezflow", "--run-id", id], in: dir)
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: id)
        // Each retry's wait: its timer's due time less the time of the failure that set it
        // (a `task_failed`, or the attempt's timeout timer firing).
        var delays: [Int64] = []
        for rec in try store.journal(run: id) {
            for c in rec.commands {
                if case .setTimer(.retryDue, let due) = c { delays.append(due - rec.event.atMs) }
            }
        }
        return (r.status, r.stdout + r.stderr, run.state.history[0].map(\.errorClass), delays)
    }

    /// Two timeouts go to the timeout rule (3 attempts), the exit 1 to the agent_error
    /// rule (2 attempts), each with its own delay; the fourth attempt succeeds. One rule
    /// for both classes with 3 attempts dead-letters the task at the third failure.
    func testEachRuleCountsItsOwnFailuresAndWaitsItsOwnDelay() throws {
        let two = try run(Self.twoRules, "two")
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertEqual(two.classes, ["timeout", "timeout", "agent_error", nil])
        XCTAssertEqual(two.delays, [10, 10, 40])

        let one = try run(Self.workflow("""
                retry { on: [timeout, agent_error], attempts: 3, backoff: fixed, delay: 10ms }
            """), "one")
        XCTAssertEqual(one.status, 1, one.output)
        XCTAssertEqual(one.classes, ["timeout", "timeout", "agent_error"])
    }

    /// The agent_error rule allows one try: the exit 1 ends the retries although the
    /// timeout rule has one left, and the task is dead-lettered with its three attempts.
    func testARuleThatEndsEndsTheTask() throws {
        let r = try run(Self.workflow("""
                retry { on: [timeout], attempts: 4, backoff: fixed, delay: 10ms }
                retry { on: [agent_error], attempts: 1 }
            """), "ends")
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertEqual(r.classes, ["timeout", "timeout", "agent_error"])
        XCTAssertEqual(r.delays, [10, 10])
        XCTAssertTrue(r.output.contains("step"), r.output)
    }

    /// `factor` is the base of exponential backoff in a real run: 100 ms, then × 3.
    func testTheBackoffFactorIsWhatTheRunWaits() throws {
        let r = try run("""
            agent sh { driver: exec, capabilities: ["shell"] }
            workflow steps {
              task step {
                agent: sh
                run: "exit 1"
                retry { on: [agent_error], attempts: 4, backoff: exponential, delay: 100ms, factor: 3 }
              }
            }
            """, "factor")
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertEqual(r.classes, ["agent_error", "agent_error", "agent_error", "agent_error"])
        XCTAssertEqual(r.delays, [100, 300, 900])
    }
}
