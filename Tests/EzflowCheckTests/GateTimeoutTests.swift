import EzflowCheck
import EzflowCompiler
import EzflowIR
import EzflowTestSupport
import XCTest

/// An `approve` gate's `on_timeout`, `escalate_to` and `escalate_timeout`: lowered to the
/// IR, held by the IR validator, and counted by the deadline analysis as the runtime times
/// the gate out (the goldens E0506, E0507, W0106 show the diagnostics).
final class GateTimeoutTests: XCTestCase {
    static func source(_ gate: String, deadline: String = "5h") -> String {
        """
        agent sh { driver: exec, capabilities: ["shell"] }
        role dev { allow: [run], agents: [sh] }
        role releaser { inherits: [dev], allow: [approve] }
        role oncall { allow: [approve] }
        workflow w {
          deadline: \(deadline)
          task gate {
            approve: "Release?"
            approvers: [releaser]
            timeout: 4h
            \(gate)
          }
          task ship { role: dev, after: [gate], run: "./ship", timeout: 15m }
        }
        """
    }

    func gateIR(_ gate: String) throws -> JSONValue {
        let r = Compiler.build(root: "t.ezflow", files: ["t.ezflow": Self.source(gate, deadline: "8h")])
        let ir = try XCTUnwrap(r.ir, "\(r.check.diagnostics.map(\.message))")
        XCTAssertNoThrow(try EzflowIR.validate(ir))
        guard case .array(let tasks)? = try JSONParser.parse(ir)["tasks"], let t = tasks.first else { throw XCTSkip("no tasks") }
        return t
    }

    func testSettingsReachTheIR() throws {
        let t = try gateIR("on_timeout: escalate\n    escalate_to: [oncall]\n    escalate_timeout: 1h")
        XCTAssertEqual(t["on_timeout"], .string("escalate"))
        XCTAssertEqual(t["escalate_to"], .array([.string("oncall")]))
        XCTAssertEqual(t["escalate_timeout_ms"], .int(3_600_000))
        XCTAssertEqual(t["timeout_ms"], .int(14_400_000))
        // Written only when given: a gate without them keeps its earlier IR (and hash).
        let plain = try gateIR("")
        XCTAssertNil(plain["on_timeout"])
        XCTAssertNil(plain["escalate_to"])
        XCTAssertEqual(try gateIR("on_timeout: approve")["on_timeout"], .string("approve"))
    }

    /// The IR validator refuses what the checker refuses, for IR written by other tools.
    func testValidatorRefusesInconsistentSettings() throws {
        let r = Compiler.build(root: "t.ezflow", files: ["t.ezflow": Self.source("on_timeout: escalate\n    escalate_to: [oncall]", deadline: "9h")])
        let text = String(decoding: try XCTUnwrap(r.ir), as: UTF8.self)
        for (from, to, message) in [
            (#""on_timeout":"escalate""#, #""on_timeout":"reject""#, "`escalate_to` needs `on_timeout: escalate`"),
            (#""escalate_to":["oncall"],"#, "", "`on_timeout: escalate` needs `escalate_to` roles"),
            (#""escalate_to":["oncall"]"#, #""escalate_to":["nobody"]"#, "unknown role `nobody`"),
            (#""on_timeout":"escalate""#, #""on_timeout":"shrug""#, "shrug"),
        ] {
            XCTAssertTrue(text.contains(from), from)
            let bad = Array(text.replacingOccurrences(of: from, with: to).utf8)
            XCTAssertThrowsError(try EzflowIR.validate(bad), from) { e in
                XCTAssertTrue("\(e)".contains(message), "\(e)")
            }
        }
    }

    /// The critical path counts the gate at most its timeout, and an escalating gate its
    /// timeout and the escalation's (the same again without `escalate_timeout`).
    func testDeadlineCountsTheGateTimeouts() throws {
        func codes(_ gate: String, _ deadline: String) -> [String] {
            Compiler.check(root: "t.ezflow", files: ["t.ezflow": Self.source(gate, deadline: deadline)]).diagnostics.map(\.code).filter { $0 != "W0101" }
        }
        XCTAssertEqual(codes("", "255m"), [])
        XCTAssertEqual(codes("", "254m"), ["W0600"])
        let escalates = "on_timeout: escalate\n    escalate_to: [oncall]\n    escalate_timeout: 1h"
        XCTAssertEqual(codes(escalates, "315m"), [])
        XCTAssertEqual(codes(escalates, "314m"), ["W0600"])
        XCTAssertEqual(codes("on_timeout: escalate\n    escalate_to: [oncall]", "495m"), [])
        XCTAssertEqual(codes("on_timeout: escalate\n    escalate_to: [oncall]", "494m"), ["W0600"])
    }

    func testEscalationRolesMustApprove() throws {
        let r = Compiler.check(root: "t.ezflow", files: ["t.ezflow": Self.source("on_timeout: escalate\n    escalate_to: [dev]", deadline: "9h")])
        let errors = r.diagnostics.filter { $0.severity == .error }
        XCTAssertEqual(errors.map(\.code), ["E0504"])
        XCTAssertEqual(errors.first?.message, "role `dev` may not approve")
        XCTAssertEqual(errors.first?.primary.message, "named as an escalation role of `gate`")
    }

    func testSettingsBelongToGates() throws {
        let src = Self.source("").replacingOccurrences(of: "run: \"./ship\"", with: "run: \"./ship\", on_timeout: approve")
        let r = Compiler.check(root: "t.ezflow", files: ["t.ezflow": src])
        let errors = r.diagnostics.filter { $0.severity == .error }
        XCTAssertEqual(errors.map(\.code), ["E0203"])
        XCTAssertEqual(errors.first?.message, "`on_timeout` applies only to `approve` tasks")
    }
}
