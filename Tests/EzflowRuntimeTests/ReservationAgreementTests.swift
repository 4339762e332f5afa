import EzflowCompiler
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import XCTest

/// The numbers in `ezc check`'s budget notes are the ones the runtime reserves: for every
/// task of several workflows, the checker's per-attempt figures equal what the compiled
/// plan's `worstCostMicros`/`worstTokens` give on its candidate agents.
final class ReservationAgreementTests: XCTestCase {
    static let agents = """
        agent per_second { driver: exec, capabilities: ["shell"], cost_per_call: $0.01, cost_per_second: $0.0007 }
        agent per_token { driver: llm, capabilities: ["llm"], cost_per_call: $0.002, cost_per_1k_tokens: $0.03 }
        agent cheap_llm { driver: llm, capabilities: ["llm"], cost_per_1k_tokens: $0.001 }
        agent backup { driver: llm, capabilities: ["llm", "backup"], cost_per_call: $0.5 }

        """

    /// Timeouts and token caps off the round numbers, where rounding up and down differ.
    static let snippets = [
        """
        workflow odd {
          budget { money: $100, tokens: 1000k tokens }
          task slow { run: "make", agent: per_second, timeout: 90500ms, retry { attempts: 3 } }
          task chat { prompt: "hi", agent: per_token, max_tokens: 1500 tokens, timeout: 1s }
          task any { prompt: "hi", max_tokens: 2001 tokens, timeout: 61s }
          task capped { prompt: "hi", max_cost: $0.25, max_tokens: 999 tokens }
          task untimed { run: "true" }
          task rescued {
            prompt: "hi"
            max_tokens: 12345 tokens
            timeout: 2500ms
            retry { attempts: 2, catch: backup }
          }
        }
        """,
        """
        workflow fan {
          budget { money: $5 }
          task cells {
            for_each: ["a", "b", "c"]
            prompt: "cell ${item}"
            agent: per_token
            max_tokens: 4096 tokens
          }
          task sum { run: "sum", agent: per_second, timeout: 59999ms, after: [cells] }
        }
        """,
    ]

    func testCheckerFiguresEqualThePlansReservations() throws {
        var sources = Self.snippets.map { ("main.ezflow", Self.agents + $0) }
        for name in ["ci_pipeline", "fanout_data_job", "llm_code_review", "multi_agent_feature"] {
            sources.append(("\(name).ezflow", try String(contentsOf: Repo.url("examples/\(name).ezflow"), encoding: .utf8)))
        }
        var compared = 0
        for (path, text) in sources {
            let r = Compiler.build(root: path, files: [path: text])
            let bytes = try XCTUnwrap(r.ir, "\(path): \(r.check.diagnostics.map(\.message)) \(r.failure ?? "")")
            let checked = try XCTUnwrap(r.check.workflows.first)
            guard let plan = try? Plan(try EzflowIR.validate(bytes)) else { continue }
            for t in 0..<plan.taskCount where plan.taskWorkflow[t] == 0 && !plan.isJoin(t) {
                // IR ids need not be the checker's: match by name (`cells[2]` is `cells`).
                let base = String(plan.taskNames[t].prefix { $0 != "[" })
                let task = try XCTUnwrap(checked.tasks.first { $0.name.text == base }, plan.taskNames[t])
                let mine = checked.reservations[task.id]
                let pool = Array(plan.candidates[plan.candidateStart[t]..<plan.candidateStart[t + 1]])
                let figures = (pool.isEmpty ? [-1] : pool).map { plan.worstCostMicros(task: t, agent: $0) }
                let name = "\(path): \(plan.taskNames[t])"
                if let worst = mine.moneyWorstMicros { XCTAssertEqual(worst, figures.max(), name) }
                XCTAssertEqual(mine.moneyFirstMicros, figures.min(), name)
                XCTAssertEqual(mine.tokens, plan.worstTokens(task: t), name)
                if plan.catchAgent[t] >= 0 {
                    XCTAssertEqual(mine.catchAgentMicros, plan.worstCostMicros(task: t, agent: plan.catchAgent[t]), name)
                }
                compared += 1
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 20)
    }

    /// Rounding: the reservation counts whole seconds and whole thousands, rounded up.
    func testRoundingIsUpward() throws {
        let r = Compiler.build(root: "main.ezflow", files: ["main.ezflow": Self.agents + Self.snippets[0]])
        let checked = try XCTUnwrap(r.check.workflows.first)
        let byName = Dictionary(uniqueKeysWithValues: checked.tasks.map { ($0.name.text, checked.reservations[$0.id]) })
        XCTAssertEqual(byName["slow"]?.moneyWorstMicros, 10_000 + 700 * 91)   // 90.5s → 91s
        XCTAssertEqual(byName["chat"]?.moneyWorstMicros, 2_000 + 30_000 * 2)  // 1.5k tokens → 2k
        XCTAssertEqual(byName["capped"]?.moneyWorstMicros, 250_000)
        // Billed per second with no timeout: the reservation ($0.01) does not bound it.
        XCTAssertNil(byName["untimed"]?.moneyWorstMicros)
        XCTAssertEqual(byName["untimed"]?.moneyFirstMicros, 10_000)
        XCTAssertEqual(byName["rescued"]?.catchAgentMicros, 500_000)
    }
}
