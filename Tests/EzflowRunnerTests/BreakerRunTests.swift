// Retries and breakers as declared, end to end with the built `ezrun run`: a rule without
// `on:` retries a script's non-zero exit after its own delay (the script's failure is not
// an agent outage, so no breaker stretches it), the breaker counts each outage once and
// takes its threshold and cool-down from the agent or from `ezrun run`'s flags.
import EzflowRunner
import EzflowRuntime
import EzflowStore
import Foundation
import XCTest

final class BreakerRunTests: XCTestCase {
    /// Before: no retry at all (`on` left out retried nothing), and with a retry the
    /// failing script opened its agent's breaker, stretching a 100 ms delay to 30 s.
    func testAFailingScriptIsRetriedAfterItsDelayNotACoolDown() throws {
        let dir = tempDir("brk")
        write("""
            agent sh {
              driver: exec
              capabilities: ["shell"]
              breaker_failures: 1
            }
            workflow w {
              task flaky {
                run: "if [ \\"\\$EZFLOW_ATTEMPT\\" -lt 3 ]; then echo no >&2; exit 1; fi; echo ok"
                retry {
                  attempts: 3
                  delay: 100ms
                }
              }
            }
            """, to: dir + "/w.ezflow")
        let t0 = Date()
        let r = ezrun(["run", "w.ezflow", "--run-id", "r"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 15)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "r")
        let h = run.state.history[0]
        XCTAssertEqual(h.map(\.errorClass), ["agent_error", "agent_error", nil])
        for k in 1..<h.count {
            let gap = h[k].startedAtMs - h[k - 1].endedAtMs
            XCTAssertGreaterThanOrEqual(gap, 100, "the rule's delay")
            XCTAssertLessThan(gap, 2_000, "no breaker cool-down: a script's exit code is not an outage")
        }
        XCTAssertEqual(run.state.agentHealth[0].breaker, .closed)
    }

    /// Three independent tasks on one agent, each failing with exit 75 (`transient`): two
    /// outages open a breaker of `breaker_failures: 2`, and the third task waits its 2 s
    /// cool-down. `--breaker-failures 3` overrides it: the breaker stays closed after
    /// two (each counted once; before, two counted four times) and the third goes at once.
    func testTheAgentsBreakerSettingsAndTheRunFlagsOverridingThem() throws {
        let source = """
            agent sh {
              driver: exec
              capabilities: ["shell"]
              breaker_failures: 2
              breaker_cool_down: 2s
            }
            workflow w {
              task a { run: "exit 75" }
              task b { run: "exit 75" }
              task c { run: "echo ok" }
            }
            """
        func gapBeforeC(_ flags: [String]) throws -> (Int64, BreakerState) {
            let dir = tempDir("brk")
            write(source, to: dir + "/w.ezflow")
            let r = ezrun(["run", "w.ezflow", "--run-id", "r"] + flags, in: dir)
            XCTAssertEqual(r.status, 1, r.stderr)
            let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "r")
            let ends = run.state.history[0...1].compactMap { $0.last?.endedAtMs }
            XCTAssertEqual(run.state.history[0].last?.errorClass, "transient")
            let c = try XCTUnwrap(run.state.history[2].first)
            XCTAssertNil(c.errorClass)
            return (c.startedAtMs - (ends.max() ?? 0), run.state.agentHealth[0].breaker)
        }
        let (held, _) = try gapBeforeC([])
        XCTAssertGreaterThanOrEqual(held, 2_000, "the agent's own threshold and cool-down")
        let (free, state) = try gapBeforeC(["--breaker-failures", "3"])
        XCTAssertLessThan(free, 1_000, "two outages under a threshold of 3: closed")
        XCTAssertEqual(state, .closed)
        let (short, _) = try gapBeforeC(["--breaker-cool-down", "0s"])
        XCTAssertLessThan(short, 1_000, "no cool-down")
        let bad = ezrun(["run", "w.ezflow", "--breaker-failures", "0"], in: tempDir("brk"))
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--breaker-failures needs an integer in 1…1000, not `0`"), bad.stderr)
    }

    /// A retry the open breaker holds says so: the terminal names the breaker and the
    /// cool-down, not only the 10 ms backoff that is not the wait (before: "retrying in
    /// 10ms", then nothing for the cool-down).
    func testARetryHeldByAnOpenBreakerSaysSo() throws {
        let dir = tempDir("brk")
        write("""
            agent builder { driver: exec, capabilities: ["build"], breaker_failures: 2, breaker_cool_down: 300ms }
            workflow w {
              task build {
                agent: builder
                run: "echo registry down >&2; exit 75"
                retry { attempts: 3, backoff: fixed, delay: 10ms, on: [transient] }
              }
            }
            """, to: dir + "/w.ezflow")
        let r = ezrun(["run", "w.ezflow", "--run-id", "r"], in: dir)
        let out = r.stdout + r.stderr
        XCTAssertEqual(r.status, 1, out)
        XCTAssertTrue(out.contains("failed (attempt 1/3, builder): transient: task `build`: exit code 75 (temporary failure): registry down, retrying in 10ms\n"), out)
        XCTAssertTrue(out.contains("failed (attempt 2/3, builder): transient: task `build`: exit code 75 (temporary failure): registry down, retrying in 10ms; agent builder's breaker is open (2 outages in a row): not before the cool-down ends in 300ms\n"), out)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "r")
        let h = run.state.history[0]
        XCTAssertGreaterThanOrEqual(h[2].startedAtMs - h[1].endedAtMs, 300, "the retry waited for the cool-down")
    }
}
