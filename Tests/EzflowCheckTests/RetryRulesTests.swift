import EzflowCheck
import EzflowCompiler
import EzflowIR
import EzflowTestSupport
import XCTest

/// Several `retry` rules on one task (issue 11): every rule reaches the IR and the plan
/// (before: the second block was dropped without a word), the proofs count every rule's
/// retries, and the validator holds `retry_more` to its shape.
final class RetryRulesTests: XCTestCase {
    static func source(_ rules: String, deadline: String = "") -> String {
        """
        agent sh { driver: exec, capabilities: ["shell"] }
        workflow w {
          \(deadline)
          task t {
            run: "make"
            timeout: 10m
        \(rules)
          }
          task spare { run: "make spare" }
        }
        """
    }

    static let two = """
            retry { on: [timeout], attempts: 3, backoff: fixed, delay: 1m }
            retry { on: [agent_error], attempts: 2, delay: 30s, catch: spare }
        """

    func task0(_ doc: JSONValue) throws -> JSONValue {
        guard case .array(let tasks)? = doc["tasks"], let t = tasks.first else { throw XCTSkip("no tasks") }
        return t
    }

    func build(_ src: String) throws -> (json: JSONValue, program: IRProgram) {
        let r = Compiler.build(root: "t.ezflow", files: ["t.ezflow": src])
        let ir = try XCTUnwrap(r.ir, "\(r.check.diagnostics.map(\.message))")
        return (try JSONParser.parse(ir), try EzflowIR.validate(ir))
    }

    /// The first rule is `retry` (with the task's one fallback, though the second rule
    /// names it), the second `retry_more[0]`, and the validator reads both back.
    func testEveryRuleReachesTheIRAndThePlan() throws {
        let (json, program) = try build(Self.source(Self.two))
        let t = try task0(json)
        XCTAssertEqual(t["retry"]?["on"], .array([.string("timeout")]))
        XCTAssertEqual(t["retry"]?["catch"], .object([("task", .int(1))]))
        XCTAssertEqual(t["retry_more"], .array([.object([
            ("attempts", .int(2)), ("backoff", .string("fixed")), ("catch", .null), ("delay_ms", .int(30_000)),
            ("jitter", .string("none")), ("max_delay_ms", .null), ("on", .array([.string("agent_error")])),
        ])]))
        XCTAssertEqual(program.workflow.tasks[0].retryMore.map(\.on), [["agent_error"]])
        XCTAssertEqual(program.workflow.tasks[0].retry?.catchTask, 1)
        // One rule writes no `retry_more`: earlier IR keeps its hash.
        let (single, _) = try build(Self.source("    retry { attempts: 3 }"))
        XCTAssertNil(try task0(single)["retry_more"])
    }

    /// The deadline proof counts 3 + 2 - 1 attempts of 10m and both rules' waits
    /// (2 × 1m + 30s): 42m30s, past a 40m deadline (W0600); the first rule alone (32m) fits.
    func testTheDeadlineProofCountsEveryRule() throws {
        let r = Compiler.check(root: "t.ezflow", files: ["t.ezflow": Self.source(Self.two, deadline: "deadline: 40m")])
        let w0600 = r.diagnostics.filter { $0.code == "W0600" }
        XCTAssertEqual(w0600.count, 1, "\(r.diagnostics.map(\.message))")
        XCTAssertTrue(w0600.first?.message.contains("42m30s") ?? false, "\(w0600.map(\.message))")
        let one = Compiler.check(root: "t.ezflow", files: ["t.ezflow": Self.source("""
                retry { on: [timeout], attempts: 3, backoff: fixed, delay: 1m }
            """, deadline: "deadline: 40m")])
        XCTAssertEqual(one.diagnostics.filter { $0.code == "W0600" }.count, 0, "\(one.diagnostics.map(\.message))")
    }

    /// `retry_more` needs a first rule, may not be empty, and carries no `catch`.
    func testTheValidatorHoldsRetryMoreToItsShape() throws {
        let r = Compiler.build(root: "t.ezflow", files: ["t.ezflow": Self.source(Self.two)])
        let doc = try JSONParser.parse(try XCTUnwrap(r.ir))
        func refused(_ change: (inout [(String, JSONValue)]) -> Void) -> String {
            guard case .object(var top) = doc, let ti = top.firstIndex(where: { $0.0 == "tasks" }),
                  case .array(var tasks) = top[ti].1, case .object(var t) = tasks[0] else { return "no task" }
            change(&t)
            tasks[0] = .object(t)
            top[ti].1 = .array(tasks)
            top.removeAll { ["ezir", "hash", "source_map"].contains($0.0) }
            let bytes = IRDocument.assemble(content: top, sourceMap: .null).bytes
            do { _ = try EzflowIR.validate(bytes); return "accepted" } catch { return error.description }
        }
        func set(_ k: String, _ v: JSONValue, in t: inout [(String, JSONValue)]) {
            if let i = t.firstIndex(where: { $0.0 == k }) { t[i].1 = v } else { t.append((k, v)) }
        }
        XCTAssertEqual(refused { set("retry", .null, in: &$0) }, "tasks[0].retry_more: further rules need a first one in `retry`")
        XCTAssertEqual(refused { set("retry_more", .array([]), in: &$0) }, "tasks[0].retry_more: must not be empty (leave it out)")
        XCTAssertEqual(refused { t in
            guard case .array(let more)? = t.first(where: { $0.0 == "retry_more" })?.1, case .object(var m) = more[0] else { return }
            m = m.map { $0.0 == "catch" ? ("catch", .object([("task", .int(1))])) : $0 }
            set("retry_more", .array([.object(m)]), in: &t)
        }, "tasks[0].retry_more[0].catch: must be null: the task's fallback is on `retry`")
    }
}
