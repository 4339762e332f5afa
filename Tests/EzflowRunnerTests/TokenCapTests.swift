// Zero overshoot (issue 16): every `llm` attempt carries the token cap the core decided at
// dispatch; the real LLMDriver sends it as `max_tokens` after the prompt's bound, against a
// loopback server that uses all of it (or ignores it).
import EzflowAgents
import EzflowCompiler
import EzflowIR
import EzflowPorts
@testable import EzflowRunner
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

final class TokenCapTests: XCTestCase {
    /// A chat completion server that bills the worst a sound prompt bound allows (one token
    /// per byte of the `messages` JSON) and the whole `max_tokens` it is sent, or
    /// `uncapped` completion tokens when none is sent or `ignoreCap`.
    static func greedyServer(uncapped: Int64 = 50_000, ignoreCap: Bool = false) throws -> LoopbackServer {
        try LoopbackServer { req in
            let json = req.json
            let prompt = Int64(CanonicalJSON.encode(json?["messages"] ?? .null).count)
            var completion = uncapped
            if !ignoreCap, case .int(let m)? = json?["max_tokens"] { completion = m }
            return .json(200, #"{"choices":[{"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(prompt + completion)}}"#)
        }
    }

    /// `tasks` prompt tasks (`after` the previous one when `chain`) on one llm agent. No
    /// `maxTokens`: `ezc check` refuses that under a budget (E0608), so the source says
    /// 1 token and `run(uncapped:)` sets `max_tokens` to null in the IR, as an IR that never
    /// went through the check would be: the runtime must hold the budget on its own.
    static func workflow(base: String, budget: String, tasks: Int, maxTokens: String?, chain: Bool = false,
                         parallel: Int? = nil, agentPrice: String = "", prompt: String = "Say something short, number ",
                         taskExtra: (Int) -> String = { _ in "" }) -> String {
        var body = ""
        for i in 0..<tasks {
            body += """
                  task t\(i) {
                    agent: model
                    prompt: "\(prompt)\(i)."
                    max_tokens: \(maxTokens ?? "1 tokens")
                    \(chain && i > 0 ? "after: [t\(i - 1)]" : "")
                    \(taskExtra(i))
                  }

                """
        }
        return """
            agent model {
              driver: llm
              capabilities: ["llm"]
              model: "tiny-1"
              url: "\(base)/v1"
              concurrency: \(parallel ?? 1)
              \(agentPrice)
            }
            workflow w {
              input topic: string = "something"
              \(parallel.map { "max_parallel: \($0)" } ?? "")
              budget { \(budget) }
            \(body)
            }
            """
    }

    /// Runs `source` in process on SQLite with the real drivers; `uncapped`: the tasks'
    /// `max_tokens` null in the IR.
    func run(_ source: String, seed: UInt64 = 1, uncapped: Bool = false) throws -> RunOutcome {
        try Self.run(source, seed: seed, uncapped: uncapped)
    }

    static func run(_ source: String, seed: UInt64 = 1, uncapped: Bool = false) throws -> RunOutcome {
        let built = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source])
        var bytes = try XCTUnwrap(built.ir, "\(built.failure ?? "") \(built.check.diagnostics.map(\.message))")
        if uncapped, case .object(var doc) = try JSONParser.parse(bytes), let k = doc.firstIndex(where: { $0.0 == "tasks" }),
           case .array(let tasks) = doc[k].1 {
            doc[k].1 = .array(tasks.map { t in
                guard case .object(let m) = t else { return t }
                return .object(m.map { $0.0 == "max_tokens" ? ($0.0, .null) : $0 })
            })
            if let h = doc.firstIndex(where: { $0.0 == "hash" }) { doc[h].1 = .string(IRDocument.hash(of: doc)) }
            bytes = CanonicalJSON.encode(.object(doc))
        }
        let program = try validate(bytes)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ezcap-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = RunConfig()
        config.storePath = dir + "/ezflow.db"
        let runner = try Runner.start(program: program, irBytes: bytes, inputs: ["topic": .string("something")], runID: "cap", seed: seed, config: config)
        defer { runner.releaseLease() }
        return try runner.execute()
    }

    /// Before: no `max_tokens` was sent, the server answered 50,000 tokens and the run ended
    /// at 5× its 10k budget. Now the attempt's cap is the whole budget, the driver sends
    /// it less the prompt's bound, and the run spends exactly its budget.
    func testUncappedTaskUnderATokenBudgetIsCappedByTheBudget() throws {
        let server = try Self.greedyServer()
        defer { server.stop() }
        let out = try run(Self.workflow(base: server.base, budget: "tokens: 10k tokens", tasks: 1, maxTokens: nil), uncapped: true)
        XCTAssertEqual(out.verdict, .success)
        XCTAssertEqual(out.state.chargedTokens, 10_000)
        let sent = try XCTUnwrap(server.requests.first?.json)
        let bound = Int64(CanonicalJSON.encode(sent["messages"] ?? .null).count)
        XCTAssertEqual(sent["max_tokens"], .int(10_000 - bound))
    }

    /// Before: three 4k tasks under 10k, the third was refused with tokens left. Now each
    /// reserves its prompt's bound (60 bytes) plus its 4k `max_tokens`, the third gets what
    /// is left (1,880 tokens in all) and the run succeeds at exactly its budget.
    func testThirdTaskGetsTheRemainder() throws {
        let server = try Self.greedyServer()
        defer { server.stop() }
        let out = try run(Self.workflow(base: server.base, budget: "tokens: 10k tokens", tasks: 3, maxTokens: "4k tokens", chain: true))
        XCTAssertEqual(out.verdict, .success)
        XCTAssertEqual(out.state.history.flatMap { $0 }.map(\.tokens), [4_060, 4_060, 1_880])
        XCTAssertEqual(out.state.chargedTokens, 10_000)
        // docs/DRIVERS.md's worked example: each prompt's `messages` JSON is 60 bytes.
        XCTAssertEqual(server.requests.map { $0.json?["max_tokens"] }, [.int(4_000), .int(4_000), .int(1_820)])
    }

    /// A server that ignores the cap is charged what it reports; the attempt fails
    /// `cap_exceeded` and says the agent broke the cap; the run stops on the budget.
    func testServerBreakingTheCapIsChargedAndFails() throws {
        let server = try Self.greedyServer(ignoreCap: true)
        defer { server.stop() }
        let out = try run(Self.workflow(base: server.base, budget: "tokens: 10k tokens", tasks: 1, maxTokens: "4k tokens"))
        XCTAssertEqual(out.verdict, .budgetExceeded)
        let a = try XCTUnwrap(out.state.history[0].first)
        XCTAssertEqual(a.errorClass, "cap_exceeded")
        XCTAssertTrue(a.message.contains("agent `model` broke the token cap"), a.message)
        XCTAssertGreaterThan(a.tokens, 50_000)
        XCTAssertEqual(out.state.chargedTokens, a.tokens)
    }

    /// A budget with less room than the prompt's bound: the core measures the prompt before
    /// dispatching, sends nothing and stops the run on the budget. `max_tokens` is the
    /// answer's cap, whatever the prompt's size.
    func testPromptLargerThanTheRoomStopsOnTheBudget() throws {
        let server = try Self.greedyServer()
        defer { server.stop() }
        // An interpolated prompt: the check cannot count it (docs/BUDGETS.md), the driver can.
        let out = try run(Self.workflow(base: server.base, budget: "tokens: 50 tokens", tasks: 1, maxTokens: nil,
                                        prompt: "Say ${inputs.topic} short, number "), uncapped: true)
        XCTAssertEqual(out.verdict, .budgetExceeded)
        XCTAssertEqual(out.state.history[0], [])
        XCTAssertEqual(out.state.chargedTokens, 0)
        XCTAssertTrue(server.requests.isEmpty)
        let own = try run(Self.workflow(base: server.base, budget: "tokens: 10k tokens", tasks: 1, maxTokens: "50 tokens"))
        XCTAssertEqual(own.verdict, .success)
        let sent = try XCTUnwrap(server.requests.first?.json)
        XCTAssertEqual(sent["max_tokens"], .int(50))
        XCTAssertEqual(own.state.chargedTokens, Int64(CanonicalJSON.encode(sent["messages"] ?? .null).count) + 50)
    }

    /// A money budget over an agent that prices tokens caps them too: $0.05 at $0.01 per
    /// 1k tokens (and $0.001 per call) leaves 4 whole thousands.
    func testMoneyBudgetCapsTokens() throws {
        let server = try Self.greedyServer()
        defer { server.stop() }
        let out = try run(Self.workflow(base: server.base, budget: "money: $0.05", tasks: 1, maxTokens: nil,
                                        agentPrice: "cost_per_call: $0.001\n  cost_per_1k_tokens: $0.01"), uncapped: true)
        XCTAssertEqual(out.verdict, .success)
        XCTAssertEqual(out.state.chargedTokens, 4_000)
        XCTAssertLessThanOrEqual(out.state.chargedMicros, 50_000)
    }

    /// Six tasks, three at a time, under one 10k budget, against a server that uses every
    /// cap it is sent: across 100 seeds the run never charges more than its budget.
    func testConcurrentTasksNeverOvershootAcrossSeeds() throws {
        let server = try Self.greedyServer()
        defer { server.stop() }
        for seed in UInt64(1)...100 {
            let maxTokens = seed % 2 == 0 ? "3k tokens" : nil
            let out = try run(Self.workflow(base: server.base, budget: "tokens: 10k tokens", tasks: 6, maxTokens: maxTokens, parallel: 3),
                              seed: seed, uncapped: maxTokens == nil)
            XCTAssertLessThanOrEqual(out.state.chargedTokens, 10_000, "seed \(seed)")
            XCTAssertGreaterThan(out.state.chargedTokens, 0, "seed \(seed)")
        }
    }
}
