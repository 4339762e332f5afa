import EzflowHost
import EzflowRuntime
import EzflowSim
import EzflowTestSupport
import Foundation
import XCTest

/// `ezrun simulate` models each llm call's tokens (drawn from the seed) within the cap the
/// core put on its dispatch, so a token budget is never overshot and the report shows use.
final class SimTokenTests: XCTestCase {
    /// Three prompt tasks at once under 10k tokens; the sim's llm agents draw 1000–3000
    /// tokens a call, more than a task's 1k `max_tokens` and more than what is left late.
    static let source = """
        agent model {
          driver: llm
          capabilities: ["llm"]
          model: "tiny-1"
          url: "http://127.0.0.1:9/v1"
          concurrency: 3
        }
        workflow w {
          budget { tokens: 10k tokens }
          task a {
            agent: model
            prompt: "Summarise the report."
            max_tokens: 4k tokens
            retry {
              attempts: 3
              on: [transient, agent_error]
            }
          }
          task b {
            agent: model
            prompt: "List the risks."
            max_tokens: 4k tokens
          }
          task c {
            agent: model
            prompt: "Draft a reply."
            max_tokens: 1k tokens
          }
        }
        """

    func testEveryCallStaysWithinItsCapAndTheBudgetHoldsOverSeeds() throws {
        var capped = 0
        for seed in UInt64(1)...40 {
            var sim = try simulator(Self.source, seed: seed, runs: 5, faults: "agent=model:fail=0.2", keepJournals: true)
            for r in try sim.runAll() {
                XCTAssertLessThanOrEqual(r.tokens, 10_000, "seed \(seed) run \(r.index): over the token budget")
                XCTAssertGreaterThan(r.tokens, 0, "seed \(seed) run \(r.index): no token use modelled")
                XCTAssertNotEqual(r.verdict, .budgetExceeded, "seed \(seed) run \(r.index)")
                // Every attempt's tokens are within the cap journalled on its dispatch.
                var caps: [String: Int64] = [:]
                for rec in r.journal {
                    switch rec.event {
                    case .taskSucceeded(let t, let a, _, _, let k, _), .taskFailed(let t, let a, _, _, _, let k, _, _):
                        let cap = try XCTUnwrap(caps["\(t)/\(a)"], "no cap on the dispatch of \(t)/\(a)")
                        XCTAssertLessThanOrEqual(k, cap, "seed \(seed): attempt \(a) of task \(t)")
                        if k == cap { capped += 1 }
                    default: break
                    }
                    for case .dispatch(let t, let a, _, _, let cap?) in rec.commands { caps["\(t)/\(a)"] = cap }
                }
            }
        }
        XCTAssertGreaterThan(capped, 0, "some draws were cut to their cap (task c's 1k is below every draw)")
    }

    func testTheReportShowsTokenUse() throws {
        let input = try simInput(Self.source)
        var sim = try simulator(Self.source, seed: 7, runs: 20)
        let runs = try sim.runAll()
        let report = SimReport(workflow: "w", options: SimulationOptions(seed: 7, runs: 20), selector: .cheapest, faultsSpec: nil,
                               runs: runs, plan: input.plan).render(command: "ezrun simulate main.ezflow --seed 7 --runs 20")
        let line = try XCTUnwrap(report.split(separator: "\n").first { $0.hasPrefix("tokens: ") })
        let sorted = runs.map(\.tokens).sorted()
        XCTAssertEqual(String(line), "tokens: p50 \(sorted[9]) tokens  p95 \(sorted[18]) tokens  max \(sorted[19]) tokens  "
                       + "(budget 10k tokens, runs over it: 0)")
        XCTAssertFalse([sorted[9], sorted[18], sorted[19]].contains { $0 % 1000 == 0 }, "seed 7 prints no `k` figure")
    }
}
