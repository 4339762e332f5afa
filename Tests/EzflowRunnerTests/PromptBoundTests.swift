// The core's prompt bound and the llm driver's are one computation: for a task with a
// system prompt, a carried conversation and declared outputs (a schema), what the core
// reserves at dispatch is exactly what the driver measures in the request it sends.
import EzflowAgents
import EzflowIR
@testable import EzflowRunner
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

extension TokenCapTests {
    /// Bills one token per byte of the input (`messages` and the schema) and the whole
    /// `max_tokens`; answers the declared outputs when a schema is sent.
    static func inputServer() throws -> LoopbackServer {
        try LoopbackServer { req in
            let json = req.json
            let schema = json?["response_format"]?["json_schema"]?["schema"]
            let prompt = CanonicalJSON.encode(json?["messages"] ?? .null).count + (schema.map { CanonicalJSON.encode($0).count } ?? 0)
            let completion: Int64 = if case .int(let m)? = json?["max_tokens"] { m } else { 1 }
            let content = schema == nil ? "A first draft." : #"{\"verdict\": \"APPROVE\"}"#
            return .json(200, #"{"choices":[{"message":{"role":"assistant","content":"\#(content)"}}],"usage":{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(Int64(prompt) + completion)}}"#)
        }
    }

    func testCoreAndDriverBoundTheSameInput() throws {
        let server = try Self.inputServer()
        defer { server.stop() }
        let out = try run("""
            agent model { driver: llm, capabilities: ["llm"], model: "tiny-1", url: "\(server.base)/v1" }
            enum Verdict { APPROVE, REQUEST_CHANGES }
            workflow w {
              input topic: string = "something"
              budget { tokens: 10k tokens }
              task draft {
                prompt: "Draft a note about ${inputs.topic}."
                max_tokens: 300 tokens
              }
              task review {
                system: "You review notes about ${inputs.topic}."
                messages: draft.outputs.messages
                prompt: "Is it ready?"
                max_tokens: 200 tokens
                output verdict: Verdict
              }
            }
            """)
        XCTAssertEqual(out.verdict, .success)
        let review = try XCTUnwrap(out.state.plan.taskNames.firstIndex(of: "review"))
        let sent = try XCTUnwrap(server.requests.last?.json)
        let measured = Int64(CanonicalJSON.encode(sent["messages"] ?? .null).count
                             + CanonicalJSON.encode(sent["response_format"]?["json_schema"]?["schema"] ?? .null).count)
        // The system prompt and draft's conversation (its prompt and answer) are in it.
        XCTAssertEqual(sent["messages"]?.array?.count, 4)
        XCTAssertEqual(out.state.llmPromptBound(review), measured)
        // So the core reserved bound + 200 and the driver sent all 200 of them.
        XCTAssertEqual(sent["max_tokens"], .int(200))
        XCTAssertEqual(out.state.history[review].first?.tokens, measured + 200)
        XCTAssertEqual(out.state.taskOutputs[review]?["verdict"], .string("APPROVE"))
    }
}
