import EzflowCompiler
import EzflowIR
@testable import EzflowRuntime
import XCTest

/// `inner.ezflow`: a workflow with a root task and a `for_each` over an input.
let innerFile = """
agent v {
  driver: exec
  capabilities: ["shell"]
  concurrency: 1
  cost_per_call: $0.01
}

role ops {
  allow: [run]
  agents: [v]
}

workflow inner {
  input name: string
  input files: list[string] = ["a", "b"]
  output result: map[string] {
    on_conflict: merge
  }

  budget {
    money: $0.05
  }

  task one {
    role: ops
    agent: v
    run: "echo ${inputs.name}"
  }
  task two {
    role: ops
    agent: v
    after: [one]
    for_each: inputs.files
    env: { F: item }
    run: "echo"
    writes: [result]
    output result: map[string]
  }
}
"""

/// `main.ezflow`: calls `inner` with `with:` inputs between `pre` and `post`.
let mainFile = """
import "inner"

workflow main {
  input who: string = "x"
  agents: [inner.v]
  task pre {
    role: inner.ops
    agent: inner.v
    run: "echo pre"
  }
  task sub {
    role: inner.ops
    after: [pre]
    workflow: inner.inner
    with: { name: inputs.who, files: ["p", "q", "r"] }
    budget {
      money: $0.02
    }
  }
  task post {
    role: inner.ops
    agent: inner.v
    env: { R: "${len(keys(sub.outputs.result))}" }
    run: "echo"
  }
}
"""

/// Sub-workflows inlined into the plan, and `for_each` expanded at plan time.
final class NestingTests: XCTestCase {
    func nestedPlan(budget: String = "$0.02") throws -> Plan {
        try makePlan(files: ["main.ezflow": mainFile.replacingOccurrences(of: "$0.02", with: budget), "inner": innerFile])
    }

    func testSubWorkflowIsInlinedInTopologicalOrder() throws {
        let p = try nestedPlan()
        XCTAssertEqual(p.taskNames, ["pre", "sub.one", "sub.two[0]", "sub.two[1]", "sub.two[2]", "sub", "post"])
        func deps(_ t: Int) -> [Int] { Array(p.deps[p.depStart[t]..<p.depStart[t + 1]]) }
        XCTAssertEqual((0..<p.taskCount).map(deps), [[], [0], [1], [1], [1], [0, 1, 2, 3, 4], [5]])
        XCTAssertEqual(p.joinStart, [-1, -1, -1, -1, -1, 1, -1])
        XCTAssertEqual(p.agentNames, ["inner.v"], "the nested `v` is the root's `inner.v`")
        XCTAssertEqual(p.candidates[p.candidateStart[1]..<p.candidateStart[2]], [0])
        // Where each plan task comes from, for the runner's renderer.
        XCTAssertEqual(p.taskWorkflow, [0, 1, 1, 1, 1, 0, 0])
        XCTAssertEqual(p.taskIRIndex, [0, 0, 1, 1, 1, 1, 2])
        XCTAssertEqual(p.taskItemIndex, [-1, -1, 0, 1, 2, -1, -1])
        XCTAssertEqual(p.taskItem[3], .string("q"))
        XCTAssertEqual(p.taskJSON[2]["name"], .string("two"))
        XCTAssertEqual(p.workflowTask, [-1, 5])
        XCTAssertEqual(p.workflowParent, [-1, 0])
        XCTAssertEqual(p.nestedWorkflow(ofTask: 5), 1)
        XCTAssertEqual(Array(p.planTasks(workflow: 1, irTask: 1)), [2, 3, 4])
        XCTAssertEqual(Array(p.planTasks(workflow: 0, irTask: 1)), [5])
        XCTAssertEqual(p.workflowInputs[1].map(\.0), ["files", "name"])
        XCTAssertEqual(p.workflowInputs[1][1].1, .string("x"))
        // The nested output, its scope and budget.
        XCTAssertEqual(p.outputNames, ["sub.result"])
        XCTAssertEqual(p.outputLocalName, ["result"])
        XCTAssertEqual(p.outputWorkflow, [1])
        XCTAssertEqual(p.groupNames, ["sub"])
        XCTAssertEqual(p.groupTask, [5])
        XCTAssertEqual(p.groupBudgetMoneyMicros, [20_000], "the tighter of the task's $0.02 and inner's $0.05")
        XCTAssertEqual(p.taskBudgetScope, [-1, 0, 0, 0, 0, -1, -1])
        XCTAssertEqual(p.taskGroup, [-1, 0, 0, 0, 0, -1, -1])
    }

    func testNestedTasksRunAndTheJoinSucceeds() throws {
        var h = Harness(try nestedPlan(budget: "$1"))
        func out(_ k: String) -> JSONValue { .object([("result", .object([(k, .int(1))]))]) }
        XCTAssertEqual(try h.start(), ["dispatch pre#1@inner.v"])
        XCTAssertEqual(try h.ok("pre", at: 1), ["dispatch sub.one#1@inner.v"])
        XCTAssertEqual(try h.ok("sub.one", at: 2), ["dispatch sub.two[0]#1@inner.v"])
        XCTAssertEqual(try h.ok("sub.two[0]", at: 3, outputs: out("p")), ["dispatch sub.two[1]#1@inner.v"])
        XCTAssertEqual(try h.ok("sub.two[1]", at: 4, outputs: out("q")), ["dispatch sub.two[2]#1@inner.v"])
        XCTAssertEqual(h.state("sub"), "waiting")
        XCTAssertEqual(try h.ok("sub.two[2]", at: 5, outputs: out("r")), ["dispatch post#1@inner.v"])
        XCTAssertEqual(h.state("sub"), "succeeded")
        XCTAssertEqual(h.run.state.transitions[h.id("sub")].map(\.to), [.ready, .succeeded])
        XCTAssertEqual(h.run.state.outputs[0], .object([("p", .int(1)), ("q", .int(1)), ("r", .int(1))]))
        XCTAssertEqual(try h.ok("post", at: 6), ["finish success"])
        XCTAssertNoThrow(try Replay.verify(plan: h.plan, journal: h.run.records))
    }

    func testANestedFailureFailsTheJoinAndSkipsItsDependents() throws {
        var h = Harness(try nestedPlan(budget: "$1"))
        XCTAssertEqual(try h.start(), ["dispatch pre#1@inner.v"])
        XCTAssertEqual(try h.ok("pre", at: 1), ["dispatch sub.one#1@inner.v"])
        XCTAssertEqual(try h.fail("sub.one", at: 2), ["dead sub.one [transient]", "finish failed"])
        XCTAssertEqual(h.state("sub.two[1]"), "skipped")
        XCTAssertEqual(h.state("sub"), "failed")
        XCTAssertEqual(h.state("post"), "skipped")
    }

    func testTheWorkflowTaskBudgetCoversItsNestedTasks() throws {
        var h = Harness(try nestedPlan())
        XCTAssertEqual(try h.start(), ["dispatch pre#1@inner.v"])
        XCTAssertEqual(try h.ok("pre", at: 1, cost: 10_000), ["dispatch sub.one#1@inner.v"], "pre is outside `sub`")
        XCTAssertEqual(try h.ok("sub.one", at: 2, cost: 10_000), ["dispatch sub.two[0]#1@inner.v"])
        XCTAssertEqual(try h.ok("sub.two[0]", at: 3, cost: 10_000), ["finish budget_exceeded"])
        XCTAssertEqual(h.run.state.refusedTask, h.id("sub.two[1]"))
        XCTAssertEqual(h.run.state.refusedGroup, 0)
        XCTAssertEqual(h.run.state.groupChargedMicros, [20_000])
    }

    /// A `catch: task` on the workflow task: when the nested workflow fails, the
    /// fallback stands in for the join and its dependents run.
    func testAFailedJoinIsRescuedByItsFallback() throws {
        let main = mainFile.replacingOccurrences(of: "$0.02", with: "$1")
            .replacingOccurrences(of: "    workflow: inner.inner\n", with: "    workflow: inner.inner\n    retry {\n      attempts: 1\n      catch: rescue\n    }\n")
            + "" 
        let withRescue = main.replacingOccurrences(of: "  task post {", with: """
          task rescue {
            role: inner.ops
            agent: inner.v
            run: "echo rescue"
            output result: map[string]
          }
          task post {
        """)
        var h = Harness(try makePlan(files: ["main.ezflow": withRescue, "inner": innerFile]))
        XCTAssertEqual(h.plan.catchTask[h.id("sub")], h.id("rescue"))
        XCTAssertEqual(try h.start(), ["dispatch pre#1@inner.v"])
        XCTAssertEqual(try h.ok("pre", at: 1), ["dispatch sub.one#1@inner.v"])
        XCTAssertEqual(try h.fail("sub.one", at: 2), ["dead sub.one [transient]", "dispatch rescue#1@inner.v"])
        XCTAssertEqual(h.state("sub"), "failed")
        let result = JSONValue.object([("result", .object([("from", .string("rescue"))]))])
        XCTAssertEqual(try h.ok("rescue", at: 3, outputs: result), ["dispatch post#1@inner.v"])
        XCTAssertEqual(h.run.state.readOutputs(ofTask: h.id("sub")), result, "`sub.outputs.result` reads the fallback's")
        XCTAssertEqual(try h.ok("post", at: 4), ["finish success"], "the rescued workflow task stands for its nested failure")
        XCTAssertNoThrow(try Replay.verify(plan: h.plan, journal: h.run.records))
    }

    static let fanOut = workflow("""
      input files: list[string] = ["a", "b"]
      task each {
        agent: v
        for_each: inputs.files
        env: { F: item }
        run: "echo"
        output n: string
      }
      task lit {
        agent: v
        for_each: ["u", "v"]
        env: { F: item }
        run: "echo"
      }
      task sum {
        agent: v
        after: [each, lit]
        env: { N: join(each.outputs.n, ",") }
        run: "echo"
      }
    """)

    func testForEachExpandsOverDefaultsAndRunInputs() throws {
        let p = try makePlan(Self.fanOut)
        XCTAssertEqual(p.taskNames, ["each[0]", "each[1]", "lit[0]", "lit[1]", "sum"])
        XCTAssertEqual(p.deps[p.depStart[4]..<p.depStart[5]], [0, 1, 2, 3])
        XCTAssertEqual(p.taskItem.map { $0 ?? .null }, [.string("a"), .string("b"), .string("u"), .string("v"), .null])
        XCTAssertEqual(Array(p.planTasks(workflow: 0, irTask: 0)), [0, 1])
        let q = try makePlan(files: ["main.ezflow": Self.fanOut], inputs: ["files": .array([.string("x"), .string("y"), .string("z")])])
        XCTAssertEqual(q.taskNames, ["each[0]", "each[1]", "each[2]", "lit[0]", "lit[1]", "sum"])
        XCTAssertEqual(q.taskItem[2], .string("z"))
        let empty = try makePlan(files: ["main.ezflow": Self.fanOut], inputs: ["files": .array([])])
        XCTAssertEqual(empty.taskNames, ["lit[0]", "lit[1]", "sum"])
        XCTAssertEqual(empty.planTasks(workflow: 0, irTask: 0).count, 0)
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch each[0]#1@v"])
        XCTAssertEqual(try h.ok("each[0]", at: 1), ["dispatch each[1]#1@v"])
        XCTAssertEqual(try h.ok("each[1]", at: 2), ["dispatch lit[0]#1@v"])
        XCTAssertEqual(try h.ok("lit[0]", at: 3), ["dispatch lit[1]#1@v"])
        XCTAssertEqual(try h.ok("lit[1]", at: 4), ["dispatch sum#1@v"])
        XCTAssertEqual(try h.ok("sum", at: 5), ["finish success"])
    }

    func testForEachOverTaskOutputsIsRefusedAtPlanTime() throws {
        let source = workflow("""
          input files: list[string] = ["a"]
          task pre {
            agent: v
            run: "echo"
            output items: list[string]
          }
          task fan {
            agent: v
            for_each: FAN
            env: { F: item }
            run: "echo"
          }
        """)
        // `ezc check` refuses it without `max_items` (E0970), so only hand-written IR reaches the plan.
        let refused = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source.replacingOccurrences(of: "FAN", with: "pre.outputs.items")])
        XCTAssertEqual(refused.check.diagnostics.filter { $0.severity == .error }.map(\.code), ["E0970"])
        let r = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source.replacingOccurrences(of: "FAN", with: "inputs.files")])
        guard case .object(var members) = try JSONParser.parse(try XCTUnwrap(r.ir, "\(r.check.diagnostics.map(\.message))")),
              let ti = members.firstIndex(where: { $0.0 == "tasks" }), case .array(var tasks) = members[ti].1,
              case .object(var fan) = tasks[1], let fi = fan.firstIndex(where: { $0.0 == "for_each" }) else { return XCTFail("unexpected IR") }
        fan[fi].1 = .object([("ref", .array([.string("task"), .int(0), .string("outputs"), .string("items")]))])
        if let di = fan.firstIndex(where: { $0.0 == "deps" }) { fan[di].1 = .array([.int(0)]) }
        tasks[1] = .object(fan)
        members[ti].1 = .array(tasks)
        let content = members.filter { !["ezir", "hash", "source_map"].contains($0.0) }
        let sourceMap = members.first { $0.0 == "source_map" }?.1 ?? .null
        let program = try EzflowIR.validate(IRDocument.assemble(content: content, sourceMap: sourceMap).bytes)
        XCTAssertThrowsError(try Plan(program)) { e in
            let err = e as! PlanError
            XCTAssertEqual(err.path, "tasks[1].for_each")
            XCTAssertTrue(err.message.contains("only known at run time"), err.message)
        }
        // A required list input without a value: named.
        let r2 = Compiler.build(root: "main.ezflow", files: ["main.ezflow": workflow("""
          input files: list[string]
          task fan {
            agent: v
            for_each: inputs.files
            env: { F: item }
            run: "echo"
          }
        """)])
        let p2 = try EzflowIR.validate(try XCTUnwrap(r2.ir, "\(r2.check.diagnostics.map(\.message))"))
        XCTAssertThrowsError(try Plan(p2)) { e in
            XCTAssertEqual((e as! PlanError).description, "tasks[0].for_each: input `files` has no value when the plan is built: pass it in `Plan(_:inputs:)`")
        }
        XCTAssertEqual(try Plan(p2, inputs: ["files": .array([.string("a")])]).taskNames, ["fan[0]"])
    }
}
