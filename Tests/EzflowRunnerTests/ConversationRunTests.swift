// `ezrun run` end to end against a loopback chat server: a second prompt task carries the
// first one's conversation forward, answers in declared outputs, and its retry rule
// retries a reply that does not match them (`output_error`).
import EzflowIR
@testable import EzflowRunner
import EzflowStore
import EzflowTestSupport
import Foundation
import Synchronization
import XCTest

final class ConversationRunTests: XCTestCase {
    func testConversationCarriesForwardAndOutputErrorIsRetried() throws {
        let structuredCalls = Mutex(0)
        let server = try LoopbackServer { req in
            let schema = req.json?["response_format"]
            var content = "Faster start-up; new --dry-run flag."
            if schema != nil {
                let n = structuredCalls.withLock { $0 += 1; return $0 }
                content = n == 1 ? #"{\"verdict\": \"maybe\"}"# : #"{\"verdict\": \"APPROVE\", \"reason\": \"clear\"}"#
            }
            return .json(200, #"{"choices":[{"message":{"role":"assistant","content":"\#(content)"}}],"usage":{"prompt_tokens":40,"completion_tokens":10,"total_tokens":50}}"#)
        }
        defer { server.stop() }
        let dir = tempDir("conv")
        write("""
            agent model { driver: llm, capabilities: ["llm"], model: "tiny-1", url: "\(server.base)/v1" }
            enum Verdict { APPROVE, REQUEST_CHANGES }
            workflow notes {
              input version: string = "1.4.0"
              task draft {
                system: "You write release notes for ${inputs.version}."
                prompt: "Draft the note."
                temperature: 0.5
                max_tokens: 500 tokens
              }
              task review {
                system: "You review release notes."
                messages: draft.outputs.messages
                prompt: "Is it ready?"
                stop: ["END"]
                max_tokens: 200 tokens
                retry { attempts: 2, on: [output_error] }
                output verdict: Verdict
                output reason: string?
              }
            }
            """, to: dir + "/notes.ezflow")
        let r = ezrun(["run", "notes.ezflow", "--run-id", "c1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)

        XCTAssertEqual(server.requests.count, 3)
        let first = try XCTUnwrap(server.requests.first?.json)
        XCTAssertEqual(first["temperature"], .float(0.5))
        XCTAssertNil(first["response_format"])
        // The review sends its own system prompt, draft's prompt and answer (not draft's
        // system prompt), then its own prompt.
        let review = try XCTUnwrap(server.requests.last?.json)
        XCTAssertEqual(review["messages"], .array([
            Self.message("system", "You review release notes."), Self.message("user", "Draft the note."),
            Self.message("assistant", "Faster start-up; new --dry-run flag."), Self.message("user", "Is it ready?"),
        ]))
        XCTAssertEqual(review["stop"], .array([.string("END")]))
        XCTAssertEqual(review["response_format"]?["json_schema"]?["strict"], .bool(true))

        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "c1")
        let t = try XCTUnwrap(run.plan.taskNames.firstIndex(of: "review"))
        XCTAssertEqual(run.state.history[t].map(\.errorClass), ["output_error", nil])
        XCTAssertEqual(run.state.history[t].first?.message,
                       #"task `review`: output `verdict` should be an enum APPROVE|REQUEST_CHANGES, got "maybe""#)
        XCTAssertEqual(run.state.taskOutputs[t]?["verdict"], .string("APPROVE"))
        XCTAssertEqual(run.state.taskOutputs[t]?["reason"], .string("clear"))
        XCTAssertEqual(run.state.taskOutputs[t]?["messages"]?.array?.count, 4)
    }

    static func message(_ role: String, _ content: String) -> JSONValue {
        .object([("content", .string(content)), ("role", .string(role))])
    }
}
