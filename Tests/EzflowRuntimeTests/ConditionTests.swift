import EzflowIR
@testable import EzflowRuntime
import XCTest

/// Task outputs in `RunState` and conditions decided by the core (`RunState.evaluate`,
/// `decide`) on states built by stepping real events through `Core.step`. Expressions are
/// the compiler's: each is a task's `env` entry, a one-part template `"${…}"` unwrapped.
final class ConditionTests: XCTestCase {
    static let tasks = """
      input env: string = "prod"
      input min: int = 3
      task build {
        agent: w
        run: "b"
        output score: int
        output image: string
      }
      task check {
        agent: v
        run: "c"
        output ok: bool
      }
      task deploy {
        agent: w
        env: { GO: "${build.outputs.score >= inputs.min && len(inputs.env) == 4}", LATE: "${check.outputs.ok}", IMG: build.outputs.image }
        run: "d"
      }
    """

    /// The IR expression of `task`'s env entry `key` (a lone `${…}` unwrapped).
    func expr(_ p: Plan, _ task: String, _ key: String) throws -> JSONValue {
        let t = try XCTUnwrap(p.taskNames.firstIndex(of: task))
        let e = try XCTUnwrap(p.taskJSON[t]["env"]?[key], "no env \(key) on \(task)")
        if case .array(let parts)? = e["template"], parts.count == 1 { return parts[0] }
        return e
    }

    func built(score: Int64) -> JSONValue { .object([("score", .int(score)), ("image", .string("app:1"))]) }

    func testAConditionOverInputsAndAFinishedTasksOutputs() throws {
        let p = try makePlan(workflow(Self.tasks))
        let go = try expr(p, "deploy", "GO"), late = try expr(p, "deploy", "LATE"), img = try expr(p, "deploy", "IMG")
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch build#1@w", "dispatch check#1@v"])
        let deploy = h.id("deploy")
        // Nothing finished: the answer names the task it waits for.
        XCTAssertEqual(h.run.state.decide(go, for: deploy), .notYet(task: h.id("build")))
        XCTAssertEqual(try h.ok("build", at: 5, outputs: built(score: 5)), [])
        let s = h.run.state
        XCTAssertEqual(s.taskOutputs[h.id("build")], built(score: 5), "folded by Core.step")
        XCTAssertEqual(s.decide(go, for: deploy), .yes)
        XCTAssertEqual(s.evaluate(img, for: deploy), .value(.string("app:1")))
        XCTAssertEqual(s.decide(late, for: deploy), .notYet(task: h.id("check")), "check is still running")
        // Other run inputs: `len("staging") == 4` is false.
        XCTAssertEqual(s.decide(go, for: deploy, rootInputs: ["env": .string("staging"), "min": .int(3)]), .no)
        XCTAssertEqual(s.decide(img, for: deploy), .invalid("a condition must be a bool, found string"))

        var low = Harness(p)
        try low.start()
        try low.ok("build", at: 5, outputs: built(score: 2))
        XCTAssertEqual(low.run.state.decide(go, for: deploy), .no, "2 < inputs.min")
    }

    func testOutputsOfATaskThatEndedWithoutSuccessNeverCome() throws {
        let p = try makePlan(workflow(Self.tasks))
        var h = Harness(p)
        try h.start()
        try h.ok("check", at: 3, outputs: .object([("ok", .bool(true))]))
        XCTAssertEqual(h.run.state.decide(try expr(p, "deploy", "LATE"), for: h.id("deploy")), .yes)
        XCTAssertEqual(try h.fail("build", 1, "fatal", at: 4), ["dead build [fatal]", "finish failed"])
        XCTAssertEqual(h.run.state.decide(try expr(p, "deploy", "GO"), for: h.id("deploy")),
                       .invalid("task `build` ended dead_lettered: it has no outputs"))
        XCTAssertNil(h.run.state.readOutputs(ofTask: h.id("build")))
    }

    func testReplayReproducesTaskOutputs() throws {
        let p = try makePlan(workflow(Self.tasks))
        var h = Harness(p)
        try h.start()
        try h.ok("build", at: 5, outputs: built(score: 5))
        try h.ok("check", at: 6, outputs: .object([("ok", .bool(false))]))
        try h.ok("deploy", at: 7)
        let replayed = try Replay.verify(plan: p, journal: try Journal.decode(Journal.encode(h.run.records)))
        XCTAssertEqual(replayed.taskOutputs, h.run.state.taskOutputs)
        XCTAssertEqual(replayed.taskOutputs, [built(score: 5), .object([("ok", .bool(false))]), nil])
        XCTAssertEqual(replayed.readOutputs(ofTask: h.id("deploy")), .object([]), "an empty outputs object is not stored, yet reads back")
        XCTAssertEqual(replayed.decide(try expr(p, "deploy", "LATE"), for: h.id("deploy")), .no)
    }

    func testAPlanUpgradeCarriesOutputsByTaskName() throws {
        let v1 = try makePlan(workflow(Self.tasks))
        let v2 = try makePlan(workflow("""
          task first {
            agent: x
            run: "f"
          }
        """ + Self.tasks))
        var h = Harness(v1)
        try h.start()
        try h.ok("build", at: 5, outputs: built(score: 5))
        let oldID = h.id("build")
        _ = try h.run.upgrade(to: v2, atMs: 6)
        XCTAssertNotEqual(h.id("build"), oldID, "the ids should shift in this test")
        XCTAssertEqual(h.run.state.readOutputs(ofTask: h.id("build")), built(score: 5))
        XCTAssertNil(h.run.state.taskOutputs[h.id("first")])
        XCTAssertEqual(h.run.state.decide(try expr(v2, "deploy", "GO"), for: h.id("deploy")), .yes)
        let replayed = try Replay.verify(plans: [v1, v2], journal: h.run.records)
        XCTAssertEqual(replayed.taskOutputs, h.run.state.taskOutputs)
    }

    /// A sub-workflow reads as its nested outputs, a fan-out as the list of its instances'.
    func testJoinsAndFanOutsReadAsTheirScopesSay() throws {
        var n = Harness(try makePlan(files: ["main.ezflow": mainFile.replacingOccurrences(of: "$0.02", with: "$1"), "inner": innerFile]))
        let r = try expr(n.plan, "post", "R")
        func out(_ k: String) -> JSONValue { .object([("result", .object([(k, .int(1))]))]) }
        try n.start()
        try n.ok("pre", at: 1)
        try n.ok("sub.one", at: 2)
        XCTAssertEqual(n.run.state.evaluate(r, for: n.id("post")), .notYet(task: n.id("sub")))
        try n.ok("sub.two[0]", at: 3, outputs: out("p"))
        try n.ok("sub.two[1]", at: 4, outputs: out("q"))
        try n.ok("sub.two[2]", at: 5, outputs: out("r"))
        XCTAssertEqual(n.run.state.evaluate(r, for: n.id("post")), .value(.int(3)))
        // Inside the sub-workflow, `inputs.name` is the join's `with: { name: inputs.who }`.
        let name: JSONValue = .object([("ref", .array([.string("inputs"), .string("name")]))])
        XCTAssertEqual(n.run.state.evaluate(name, for: n.id("sub.one")), .value(.string("x")))

        let p = try makePlan(NestingTests.fanOut)
        let sum = try expr(p, "sum", "N")
        var f = Harness(p)
        try f.start()
        try f.ok("each[0]", at: 1, outputs: .object([("n", .string("1"))]))
        XCTAssertEqual(f.run.state.evaluate(sum, for: f.id("sum")), .notYet(task: f.id("each[1]")))
        try f.ok("each[1]", at: 2, outputs: .object([("n", .string("2"))]))
        XCTAssertEqual(f.run.state.evaluate(sum, for: f.id("sum")), .value(.string("1,2")))
        XCTAssertEqual(f.run.state.evaluate(.object([("item", .array([]))]), for: f.id("lit[1]")), .value(.string("v")))
    }

    func testAnApprovalHasNoOutputsAndEveryNodeHasItsKind() throws {
        let p = try makePlan(workflow("""
          task gate {
            role: ops
            approve: "ship?"
            approvers: [ops]
          }
          task after_gate {
            agent: v
            after: [gate]
            run: "echo"
            retry {
              attempts: 1
              catch: rescue
            }
          }
          task rescue {
            agent: v
            run: "echo"
          }
        """))
        XCTAssertEqual(p.taskNames, ["gate", "rescue", "after_gate"])
        XCTAssertEqual(p.nodeKind, [.approval, .fallback, .task])
        XCTAssertEqual(try makePlan(files: ["main.ezflow": mainFile, "inner": innerFile]).nodeKind,
                       [.task, .task, .task, .task, .task, .join, .task])
        var h = Harness(p)
        try h.start()
        try h.approval("gate", true, at: 1)
        XCTAssertEqual(h.state("gate"), "succeeded")
        XCTAssertNil(h.run.state.readOutputs(ofTask: h.id("gate")))
        let read: JSONValue = .object([("ref", .array([.string("task"), .int(0), .string("outputs"), .string("x")]))])
        XCTAssertEqual(h.run.state.evaluate(read, for: h.id("after_gate")), .invalid("task `gate` has no outputs (it has not succeeded)"))
    }
}
