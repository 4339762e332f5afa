import EzflowRunner
import EzflowRuntime
import EzflowStore
import Foundation
import XCTest

/// Issue 11, "Fallbacks (`catch`) that work", end to end with the built `ezrun run`: the
/// fallback starts in the step the rule ends (not after a breaker's cool-down), the task
/// after the failed one reads the fallback's output under the failed task's name (before:
/// dead-lettered with "task 0 has no outputs"), a chain of fallbacks recovers the task, and
/// the run ends `success` with "recovered by fallback NAME" in the terminal, the Markdown
/// summary and JUnit (a passed test case).
final class FallbackRunTests: XCTestCase {
    /// `build` fails three times, 10 ms apart, on `builder`; `fallbacks` are the tasks
    /// from its `catch:` on, on agent `spare`.
    static func workflow(_ fallbacks: String) -> String {
        """
        agent builder { driver: exec, capabilities: ["build"] }
        agent spare { driver: exec, capabilities: ["spare"] }
        workflow ship {
          task build {
            agent: builder
            run: "echo registry down >&2; exit 1"
            output image: string
            retry { attempts: 3, backoff: fixed, delay: 10ms, on: [agent_error], catch: use_cached }
          }
        \(fallbacks)
          task deploy {
            agent: spare
            env: { IMAGE: build.outputs.image }
            run: "echo deploying $IMAGE"
          }
        }
        """
    }

    static let single = workflow("""
          task use_cached {
            agent: spare
            run: "echo '{\\"image\\": \\"app:cached\\"}'"
            output image: string
          }
        """)

    /// `use_cached` fails in turn (twice) and falls back on `minimal`.
    static let chain = workflow("""
          task use_cached {
            agent: spare
            run: "exit 1"
            output image: string
            retry { attempts: 2, backoff: fixed, delay: 10ms, on: [agent_error], catch: minimal }
          }
          task minimal {
            agent: spare
            run: "echo '{\\"image\\": \\"app:minimal\\"}'"
            output image: string
          }
        """)

    func run(_ source: String, _ id: String) throws -> (dir: String, status: Int32, stdout: String, journal: [JournalRecord], logs: [String: String]) {
        let dir = tempDir("fallback")
        write(source, to: dir + "/ship.ezflow")
        let t0 = Date()
        let r = ezrun(["run", "ship.ezflow", "--run-id", id, "--junit", "junit.xml", "--summary", "summary.json",
                       "--summary-md", "summary.md"], in: dir)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10, "no wait of seconds anywhere in this run")
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: id)
        var logs: [String: String] = [:]
        for row in try store.logs(run: id) { logs[run.state.plan.taskNames[row.task], default: ""] += row.stdout }
        return (dir, r.status, r.stdout + r.stderr, try store.journal(run: id), logs)
    }

    /// The journal record of `task`'s last failure carries the dispatch of `fallback`.
    func assertDispatchedWithTheLastFailure(_ journal: [JournalRecord], task: Int, fallback: Int,
                                            file: StaticString = #filePath, line: UInt = #line) {
        let last = journal.last { r in
            if case .taskFailed(task, _, _, _, _, _, _, _) = r.event { return true }
            return false
        }
        let dispatched = last?.commands.contains { c in
            if case .dispatch(fallback, 1, _, _, _) = c { return true }
            return false
        }
        XCTAssertEqual(dispatched, true, "the fallback is dispatched in the step the rule ends", file: file, line: line)
    }

    func testTheFallbackStartsAtOnceAndTheTaskAfterReadsItsOutput() throws {
        let r = try run(Self.single, "f1")
        XCTAssertEqual(r.status, 0, r.stdout)
        // ids: build 0, use_cached 1, deploy 2
        assertDispatchedWithTheLastFailure(r.journal, task: 0, fallback: 1)
        let failedAt = r.journal.compactMap { rec -> Int64? in
            if case .taskFailed(0, 3, _, _, _, _, let at, _) = rec.event { return at }
            return nil
        }.first
        let startedAt = r.journal.first { rec in rec.commands.contains { if case .dispatch(1, _, _, _, _) = $0 { true } else { false } } }?.event.atMs
        XCTAssertNotNil(failedAt)
        XCTAssertEqual(failedAt, startedAt, "the fallback starts when the rule is exhausted, not after a cool-down")
        XCTAssertEqual(r.logs["deploy"], "deploying app:cached\n")
        XCTAssertTrue(r.stdout.contains("task build recovered by fallback use_cached\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("run finished: success"), r.stdout)

        let junit = read(r.dir + "/junit.xml")
        XCTAssertTrue(junit.contains(#"failures="0""#), junit)
        XCTAssertFalse(junit.contains("<failure"), junit)
        let build = try XCTUnwrap(junit.range(of: #"name="build""#).map { String(junit[$0.lowerBound...]) })
        let testcase = String(build[..<build.range(of: "</testcase>")!.lowerBound])
        XCTAssertTrue(testcase.contains("<system-out>"), testcase)
        XCTAssertTrue(testcase.contains("recovered by fallback use_cached"), testcase)
        let md = read(r.dir + "/summary.md")
        XCTAssertTrue(md.contains(#"| build | failed, recovered by fallback use\_cached |"#), md)
        XCTAssertFalse(md.contains("### Failures"), md)
        XCTAssertTrue(read(r.dir + "/summary.json").contains(#""recovered_by":"use_cached""#))
    }

    /// The issue's case with one agent: five outages (exit 75, `transient`) 10 ms apart
    /// open `builder`'s breaker (5 failures, 30 s cool-down) as the rule ends; the fallback,
    /// on that same agent, starts in that step, not 30 s later.
    func testAnOpenBreakerDoesNotHoldTheFallback() throws {
        let source = """
            agent builder { driver: exec, capabilities: ["build"] }
            workflow ship {
              task build {
                agent: builder
                run: "echo registry down >&2; exit 75"
                output image: string
                retry { attempts: 5, backoff: fixed, delay: 10ms, on: [transient], catch: use_cached }
              }
              task use_cached {
                agent: builder
                run: "echo '{\\"image\\": \\"app:cached\\"}'"
                output image: string
              }
            }
            """
        let r = try run(source, "b1")
        XCTAssertEqual(r.status, 0, r.stdout)
        let classes = r.journal.compactMap { rec -> String? in
            if case .taskFailed(0, _, let cls, _, _, _, _, _) = rec.event { return cls }
            return nil
        }
        XCTAssertEqual(classes, ["transient", "transient", "transient", "transient", "transient"])
        assertDispatchedWithTheLastFailure(r.journal, task: 0, fallback: 1)
        let health = try StoredRun.load(store: try DurableStore(path: r.dir + "/.ezflow/ezflow.db"), runID: "b1").state.agentHealth[0]
        if case .open = health.breaker {} else { XCTFail("the outages opened the breaker: \(health.breaker)") }
        XCTAssertTrue(r.stdout.contains("task build recovered by fallback use_cached\n"), r.stdout)
    }

    func testAChainOfFallbacksRecoversTheTask() throws {
        let r = try run(Self.chain, "c1")
        XCTAssertEqual(r.status, 0, r.stdout)
        // ids: build 0, use_cached 1, minimal 2, deploy 3
        assertDispatchedWithTheLastFailure(r.journal, task: 0, fallback: 1)
        assertDispatchedWithTheLastFailure(r.journal, task: 1, fallback: 2)
        XCTAssertEqual(r.logs["deploy"], "deploying app:minimal\n")
        XCTAssertTrue(r.stdout.contains("task build recovered by fallback minimal\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("task use_cached recovered by fallback minimal\n"), r.stdout)
        let md = read(r.dir + "/summary.md")
        XCTAssertTrue(md.contains("| build | failed, recovered by fallback minimal |"), md)
        XCTAssertFalse(read(r.dir + "/junit.xml").contains("<failure"))
    }

    func testAFailedFallbackFailsTheRun() throws {
        let r = try run(Self.workflow("""
              task use_cached {
                agent: spare
                run: "exit 1"
                output image: string
              }
            """), "x1")
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertFalse(r.stdout.contains("recovered"), r.stdout)
        XCTAssertNil(r.logs["deploy"])
        XCTAssertTrue(read(r.dir + "/junit.xml").contains("<failure"))
    }
}
