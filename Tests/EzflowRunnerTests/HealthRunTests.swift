// Real health checks end to end with the built `ezrun run`: an http agent's `health` URL
// answers 503 then 200, an exec agent's `health_command` fails then succeeds; in each case
// the task goes to the agent only once it is healthy, and `agent_health` is journalled on
// each change only.
import EzflowIR
import EzflowRunner
import EzflowRuntime
import EzflowStore
import EzflowTestSupport
import Foundation
import Synchronization
import XCTest

final class HealthRunTests: XCTestCase {
    /// The run's journal: `run_started`'s unhealthy agents, the `agent_health` events, and
    /// the run's start and the first attempt's start.
    func journal(_ dir: String) throws -> (unhealthy: [Int], health: [Bool], waitedMs: Int64, verdict: Verdict?) {
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let records = try store.journal(run: "r")
        var unhealthy: [Int] = [], health: [Bool] = [], start: Int64 = 0
        for r in records {
            switch r.event {
            case .runStarted(_, _, _, _, let at, let down, _): unhealthy = down; start = at
            case .agentHealth(_, let ok, _): health.append(ok)
            default: break
            }
        }
        let run = try StoredRun.load(store: store, runID: "r")
        let first = run.state.history[0].first?.startedAtMs ?? 0
        return (unhealthy, health, first - start, run.state.verdict)
    }

    func testAnHTTPAgentGetsWorkOnceItsHealthURLAnswers2xx() throws {
        final class Count: Sendable { let n = Mutex(0) }
        let probes = Count()
        let server = try LoopbackServer { req in
            if req.target.hasPrefix("/health") {
                let n = probes.n.withLock { $0 += 1; return $0 }
                return n <= 2 ? .json(503, #"{"status":"starting"}"#) : .json(200, #"{"status":"ok"}"#)
            }
            return .json(200, #"{"id": 7}"#)
        }
        defer { server.stop() }
        let dir = tempDir("health")
        write("""
            agent hook {
              driver: http
              capabilities: ["notify"]
              url: "\(server.base)/hooks"
              health: "\(server.base)/health"
              health_interval: 200ms
            }
            workflow w {
              deadline: 1m
              task publish {
                call: "publish"
                output id: int
              }
            }
            """, to: dir + "/w.ezflow")
        let r = ezrun(["run", "w.ezflow", "--run-id", "r"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try journal(dir)
        XCTAssertEqual(j.unhealthy, [0], "the first check (503) before anything was dispatched")
        XCTAssertEqual(j.health, [true], "journalled on change only: the second 503 adds nothing")
        XCTAssertGreaterThanOrEqual(j.waitedMs, 300, "no work before two more checks, 200 ms apart")
        XCTAssertEqual(j.verdict, .success)
        XCTAssertGreaterThanOrEqual(probes.n.withLock { $0 }, 3)
    }

    func testAnExecAgentGetsWorkOnceItsHealthCommandExitsZero() throws {
        let dir = tempDir("health")
        // Fails its first two runs, then succeeds: a plain command line, run without a shell.
        write("n=$(cat \(dir)/count 2>/dev/null || echo 0); echo $((n+1)) > \(dir)/count; [ \"$n\" -ge 2 ]\n", to: dir + "/health.sh")
        write("""
            agent sh {
              driver: exec
              capabilities: ["shell"]
              health_command: "/bin/sh \(dir)/health.sh"
              health_interval: 200ms
            }
            workflow w {
              task build {
                run: "echo built"
              }
            }
            """, to: dir + "/w.ezflow")
        let r = ezrun(["run", "w.ezflow", "--run-id", "r"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try journal(dir)
        XCTAssertEqual(j.unhealthy, [0])
        XCTAssertEqual(j.health, [true])
        XCTAssertGreaterThanOrEqual(j.waitedMs, 300)
        XCTAssertEqual(j.verdict, .success)
        XCTAssertGreaterThanOrEqual(Int(read(dir + "/count").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 3)
    }

    /// A health attribute the agent's driver never probes is refused, not dropped.
    func testAHealthCheckOnTheWrongDriverIsRefused() {
        let dir = tempDir("health")
        write("""
            agent sh {
              driver: exec
              capabilities: ["shell"]
              health: "http://127.0.0.1:1/health"
            }
            workflow w {
              task build { run: "echo" }
            }
            """, to: dir + "/w.ezflow")
        let r = ezrun(["run", "w.ezflow"], in: dir)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("`health` applies only to `http` and `llm` agents"), r.stderr)
    }
}
