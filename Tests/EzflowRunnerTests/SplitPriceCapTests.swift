// Input and output prices per 1k tokens (per model on the agent) under money budgets: the
// real LLMDriver charges what the greedy server reports at the split prices, and the
// core's reservation (the prompt's bound at the input price, the answer's cap at the output
// price) keeps every run within its money budget. Uses TokenCapTests' server and runner.
import EzflowIR
import EzflowRuntime
import Foundation
import XCTest

extension TokenCapTests {
    /// `tasks` prompt tasks on agent `model` (model `tiny-1`, priced by its `prices`
    /// entry; odd tasks ask for `tiny-2`, priced by the agent's input/output prices).
    static func splitPriceWorkflow(base: String, money: String, tasks: Int, maxTokens: String, parallel: Int) -> String {
        workflow(base: base, budget: "money: \(money)", tasks: tasks, maxTokens: maxTokens, parallel: parallel,
                 agentPrice: """
                    cost_per_call: $0.001
                      cost_per_1k_input_tokens: $0.001
                      cost_per_1k_output_tokens: $0.004
                      prices: { "tiny-1": { input: $0.002, output: $0.008 } }
                    """,
                 taskExtra: { $0 % 2 == 1 ? "model: \"tiny-2\"" : "" })
    }

    /// One attempt is charged its reported prompt and completion at its model's prices:
    /// `tiny-1`: $0.001 + 60 × $0.002/1k + 3,000 × $0.008/1k = 1000 + 120 + 24000 µ$;
    /// `tiny-2`: $0.001 + 60 × $0.001/1k + 3,000 × $0.004/1k = 1000 + 60 + 12000 µ$.
    func testSplitPricesAreChargedPerModel() throws {
        let server = try Self.greedyServer()
        defer { server.stop() }
        let out = try run(Self.splitPriceWorkflow(base: server.base, money: "$1", tasks: 2, maxTokens: "3k tokens", parallel: 1))
        XCTAssertEqual(out.verdict, .success)
        XCTAssertEqual(out.state.history.flatMap { $0 }.map(\.costMicros), [25_120, 13_060])
        XCTAssertEqual(server.requests.map { $0.json?["model"] }, [.string("tiny-1"), .string("tiny-2")])
    }

    /// A money budget caps the answer at the output price once the prompt's bound is paid
    /// at the input price: $0.02 − $0.001 per call − 60 bytes of prompt at $0.002/1k (one
    /// whole thousand) leaves ⌊17000 / 8000⌋ = 2 thousand answer tokens.
    func testMoneyBudgetCapsTheAnswerAtTheOutputPrice() throws {
        let server = try Self.greedyServer()
        defer { server.stop() }
        let out = try run(Self.splitPriceWorkflow(base: server.base, money: "$0.02", tasks: 1, maxTokens: "1 tokens", parallel: 1),
                          uncapped: true)
        XCTAssertEqual(out.verdict, .success)
        XCTAssertEqual(server.requests.map { $0.json?["max_tokens"] }, [.int(2_000)])
        XCTAssertEqual(out.state.chargedTokens, 2_060)
        // $0.001 + 60 × $0.002/1k + 2,000 × $0.008/1k.
        XCTAssertEqual(out.state.chargedMicros, 17_120)
    }

    /// Six tasks, three at a time, under $0.05, against a server that uses every cap: across
    /// 50 seeds and three `max_tokens` the money charged never exceeds the budget.
    func testConcurrentSplitPricedTasksNeverOverspendAcrossSeeds() throws {
        let server = try Self.greedyServer()
        defer { server.stop() }
        for seed in UInt64(1)...50 {
            let maxTokens = ["1k tokens", "2k tokens", "3k tokens"][Int(seed % 3)]
            let out = try run(Self.splitPriceWorkflow(base: server.base, money: "$0.05", tasks: 6, maxTokens: maxTokens, parallel: 3),
                              seed: seed)
            XCTAssertLessThanOrEqual(out.state.chargedMicros, 50_000, "seed \(seed), max_tokens \(maxTokens)")
            XCTAssertGreaterThan(out.state.chargedMicros, 0, "seed \(seed)")
        }
    }
}
