import EzflowAttributes
import EzflowCompiler
import EzflowIR
import EzflowTestSupport
import XCTest

/// The attribute table is the one declaration of every attribute: these tests walk it, so
/// a new attribute is covered by adding its row.
final class AttributeTableTests: XCTestCase {
    /// docs/ATTRIBUTES.md is generated from the table (EZFLOW_UPDATE_GOLDEN=1 rewrites it).
    func testReferenceDocMatchesTable() {
        if let failure = compareGolden(actual: AttributeTable.reference(), expectedPath: "docs/ATTRIBUTES.md") { XCTFail(failure) }
    }

    /// For each attribute with a range: a value just outside it is E0306 (E0602 for
    /// `attempts` below 1) at the value, and the bound itself builds and reaches the IR.
    func testEveryRangeIsCheckedAndValidValuesReachTheIR() throws {
        var walked = 0
        for (_, facts) in AttributeTable.blocks {
            for f in facts where f.min != nil || f.max != nil {
                for bad in [f.min.map { $0 - 1 }, f.max.map { $0 + 1 }].compactMap({ $0 }) {
                    let src = Self.file(f, f.text(bad))
                    let r = Compiler.build(root: "t.ezflow", files: ["t.ezflow": src])
                    let codes = r.check.diagnostics.filter { $0.severity == .error }.map(\.code)
                    let want = f.name == "attempts" && bad < 1 ? "E0602" : "E0306"
                    XCTAssertEqual(codes, [want], "\(f.block).\(f.name): \(f.text(bad))\n\(src)")
                    XCTAssertNil(r.ir, "\(f.block).\(f.name): \(f.text(bad)) built")
                }
                for good in [f.min, f.max].compactMap({ $0 }) {
                    let src = Self.file(f, f.text(good))
                    let r = Compiler.build(root: "t.ezflow", files: ["t.ezflow": src])
                    let ir = try XCTUnwrap(r.ir, "\(f.block).\(f.name): \(f.text(good)) did not build: \(r.check.diagnostics.map(\.message)) \(r.failure ?? "")\n\(src)")
                    let doc = try JSONParser.parse(ir)
                    XCTAssertEqual(Self.irValue(f, doc), .int(good), "\(f.block).\(f.name) = \(f.text(good)) in the IR")
                    XCTAssertNoThrow(try EzflowIR.validate(ir), "\(f.block).\(f.name)")
                }
                walked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(walked, 19)
    }

    /// `-5s`, `-1` and unit values are folded, never dropped: a negative is a range error
    /// where the range forbids it, and a value that is not a constant is E0307.
    func testNumericAttributesMustBeConstants() {
        for (_, facts) in AttributeTable.blocks {
            for f in facts where f.needsConstant {
                let r = Compiler.check(root: "t.ezflow", files: ["t.ezflow": Self.file(f, "inputs.x", input: true)])
                let codes = r.diagnostics.filter { $0.severity == .error }.map(\.code)
                // Inputs are visible in tasks only; elsewhere the reference itself is refused.
                XCTAssertTrue(codes == ["E0307"] || (f.block != "task" && !codes.isEmpty && !codes.contains("E0307")),
                              "\(f.block).\(f.name): \(codes)")
                if f.block == "task" { XCTAssertEqual(codes, ["E0307"], "\(f.block).\(f.name)") }
            }
        }
    }

    /// No numeric attribute is unbounded below: a negative count, cost, duration or limit
    /// is refused by the range check (issue 10: `max_parallel: -4` and `timeout: -3m` were
    /// dropped before ranges were read from the table).
    func testEveryNumericAttributeHasALowerBound() {
        for (_, facts) in AttributeTable.blocks {
            for f in facts where f.needsConstant { XCTAssertNotNil(f.min, "\(f.block).\(f.name) has no minimum") }
        }
    }

    /// Lists of strings the plan is built from (`needs`, `tags`, `capabilities`) must be
    /// written out: a reference in them was dropped without a word (`needs: [item.os]`
    /// compiled to `needs: []`). Now E0307, like a numeric attribute.
    func testStringListAttributesMustBeConstants() {
        var walked = 0
        for (_, facts) in AttributeTable.blocks {
            for f in facts where f.value == .strings {
                let src = Self.file(f, "[\"a\", inputs.x]", input: true).replacingOccurrences(of: "input x: int", with: "input x: string")
                let codes = Compiler.check(root: "t.ezflow", files: ["t.ezflow": src]).diagnostics.filter { $0.severity == .error }.map(\.code)
                XCTAssertTrue(codes.contains("E0307") || (f.block == "agent" && !codes.isEmpty), "\(f.block).\(f.name): \(codes)\n\(src)")
                walked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(walked, 3)
    }

    /// A group's `priority` is honoured: tasks inside that give none take the innermost one.
    func testGroupPriorityReachesItsTasks() throws {
        let src = """
        agent a { driver: sim, capabilities: ["x"] }
        workflow w {
          group outer {
            priority: 3
            group inner {
              priority: 7
              task deep { run: "x" }
              task own { run: "x", priority: 1 }
            }
            task shallow { run: "x" }
          }
          task loose { run: "x" }
        }
        """
        let r = Compiler.build(root: "t.ezflow", files: ["t.ezflow": src])
        let doc = try JSONParser.parse(try XCTUnwrap(r.ir, "\(r.check.diagnostics.map(\.message))"))
        guard case .array(let tasks)? = doc["tasks"] else { return XCTFail("no tasks") }
        var byName: [String: JSONValue] = [:]
        for t in tasks { if case .string(let n)? = t["name"] { byName[n] = t["priority"] } }
        XCTAssertEqual(byName, ["deep": .int(7), "own": .int(1), "shallow": .int(3), "loose": .int(0)])
    }

    /// Every IR key the table names is written by lowering for a file that sets it.
    func testIRKeysOfTheTableAreWritten() throws {
        let src = try String(contentsOf: Repo.url("examples/multi_agent_feature.ezflow"), encoding: .utf8)
        let r = Compiler.build(root: "m.ezflow", files: ["m.ezflow": src])
        let doc = try JSONParser.parse(try XCTUnwrap(r.ir))
        guard case .array(let tasks)? = doc["tasks"], case .object(let task)? = tasks.first else { return XCTFail("no tasks") }
        let keys = Set(task.map(\.0))
        // Written only when set (absent = the default), so earlier IR keeps its hash.
        let optional: Set<String> = ["self_approval", "system", "messages", "temperature_ppm", "stop", "on_timeout", "escalate_to",
                                     "escalate_timeout_ms", "when", "run_on", "allow_failure", "max_items", "compensate"]
        let required = AttributeTable.irKeys("task").subtracting(optional)
        XCTAssertTrue(required.isSubset(of: keys), "missing: \(required.subtracting(keys))")
        guard case .object(let wf) = doc else { return XCTFail() }
        XCTAssertTrue(AttributeTable.irKeys("workflow").isSubset(of: Set(wf.map(\.0))))
    }

    // MARK: - helpers

    /// A smallest file that sets `f` to `value` in a block of its kind.
    static func file(_ f: AttrFact, _ value: String, input: Bool = false) -> String {
        let attr = "\(f.name): \(value)"
        let inp = input ? "  input x: \(typeName(f.value))\n" : ""
        let task = "  task t { run: \"x\" }\n"
        let agent = "agent a { driver: sim, capabilities: [\"x\"] }\n"
        switch f.block {
        case "workflow": return agent + "workflow w {\n\(inp)  \(attr)\n\(task)}\n"
        case "task":
            // An attribute of one action (`temperature`: `prompt`) on a task of that action.
            let action = f.action ?? "run"
            // A gate's settings need a gate that escalates (E0204, E0507 otherwise).
            let gate = action == "approve" ? "    approvers: [r]\n    timeout: 1s\n    on_timeout: escalate\n    escalate_to: [r]\n" : ""
            let role = action == "approve" ? "role r { allow: [approve] }\n" : ""
            // `max_items` bounds a `for_each` over a task's output list.
            let source = f.name == "max_items" ? "  task s {\n    run: \"x\"\n    output xs: list[string]\n  }\n" : ""
            let fanOut = f.name == "max_items" ? "    for_each: s.outputs.xs\n" : ""
            return role + agent + "workflow w {\n\(inp)\(source)  task t {\n    \(action): \"x\"\n\(gate)\(fanOut)    \(attr)\n  }\n}\n"
        case "group": return agent + "workflow w {\n\(inp)  group g {\n    \(attr)\n  \(task)  }\n}\n"
        case "agent":
            // `health_interval` paces a health check, which a `sim` agent has none of.
            let driver = f.name == "health_interval" ? "exec\n  health_command: \"true\"" : "sim"
            return "agent a {\n  driver: \(driver)\n  capabilities: [\"x\"]\n  \(attr)\n}\nworkflow w {\n\(inp)\(task)}\n"
        case "retry":
            let attempts = f.name == "attempts" ? "" : "      attempts: 2\n"
            return agent + "workflow w {\n\(inp)  task t {\n    run: \"x\"\n    retry {\n\(attempts)      \(attr)\n    }\n  }\n}\n"
        case "budget": return agent + "workflow w {\n\(inp)  budget {\n    \(attr)\n  }\n\(task)}\n"
        case "repeat":
            let until = f.name == "until" ? "" : "      until: t.outputs.ok\n"
            return agent + "workflow w {\n\(inp)  group g {\n    repeat {\n      \(attr)\n\(until)    }\n"
                + "    task t {\n      run: \"x\"\n      output ok: bool\n    }\n  }\n}\n"
        default: return "# no template for `\(f.block)`\n"
        }
    }

    static func typeName(_ v: AttrValue) -> String {
        switch v {
        case .duration: "duration"
        case .money: "money"
        case .tokens: "tokens"
        case .float: "float"
        default: "int"
        }
    }

    /// Where the value of `f` lands in the IR of `file(f, ...)`.
    static func irValue(_ f: AttrFact, _ doc: JSONValue) -> JSONValue? {
        let task: JSONValue? = if case .array(let ts)? = doc["tasks"] { ts.first { $0["name"] == .string("t") } ?? ts.first } else { nil }
        switch f.block {
        case "workflow": return doc[f.irKey!]
        case "task": return task?[f.irKey!]
        case "group": return task?["priority"]
        case "agent": if case .array(let as_)? = doc["agents"] { return as_.first?[f.irKey!] } else { return nil }
        case "retry": return task?["retry"]?[f.irKey!]
        case "budget": return doc["budget"]?[f.irKey!]
        case "repeat":
            // The loop task's `loop` object (`loop.max` → `max`).
            guard case .array(let ts)? = doc["tasks"], let l = ts.first(where: { $0["action"] == .string("loop") }) else { return nil }
            return l["loop"]?[String(f.irKey!.dropFirst("loop.".count))]
        default: return nil
        }
    }
}
