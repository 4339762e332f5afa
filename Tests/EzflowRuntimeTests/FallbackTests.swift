import EzflowIR
import EzflowRuntime
import XCTest

/// Issue 11, "Fallbacks (`catch`) that work", at the core: the fallback is dispatched in
/// the step its task's rule ends (the failed agent's breaker does not hold it), the tasks
/// after the failed task read the fallback's outputs under the failed task's name, and a
/// chain of fallbacks (a fallback with its own retry rule and `catch`) recovers the task.
final class FallbackTests: XCTestCase {
    /// `a` (on `v`) falls back on `plan_b` (on `x`); `c` reads `a.outputs.image`.
    static let pair = workflow("""
      task a {
        agent: v
        run: "echo"
        output image: string
        retry { attempts: 1, catch: plan_b }
      }
      task plan_b {
        agent: x
        run: "echo"
        output image: string
      }
      task c {
        agent: v
        env: { IMAGE: a.outputs.image }
        run: "echo"
      }
    """)

    func testTheFallbackIsDispatchedInTheStepTheRuleEndsThoughTheBreakerOpened() throws {
        // One failure opens `v`'s breaker for 30 s: the fallback runs on `x`, at once.
        let breaker = CircuitBreaker(failuresToOpen: 1, coolDownMs: 30_000)
        var h = Harness(try makePlan(Self.pair), environment: RunEnvironment(breaker: breaker))
        XCTAssertEqual(try h.start(), ["dispatch a#1@v"])
        XCTAssertEqual(try h.fail("a", 1, "transient", at: 5), ["dispatch plan_b#1@x"])
        guard case .open = h.run.state.agentHealth[h.plan.agentNames.firstIndex(of: "v")!].breaker else {
            return XCTFail("the failure should have opened v's breaker")
        }
        XCTAssertEqual(h.state("a"), "failed")
        XCTAssertEqual(h.state("plan_b"), "running(attempt: 1, agent: 2)")
    }

    func testDependentsReadTheFallbacksOutputsUnderTheFailedTasksName() throws {
        var h = Harness(try makePlan(Self.pair))
        try h.start()
        try h.fail("a", 1, "fatal", at: 5)
        XCTAssertNil(h.run.state.readOutputs(ofTask: h.id("a")), "not recovered yet")
        let image = JSONValue.object([("image", .string("app:cached"))])
        XCTAssertEqual(try h.ok("plan_b", at: 9, outputs: image), ["dispatch c#1@v"])
        XCTAssertEqual(h.run.state.recoveredBy(h.id("a")), h.id("plan_b"))
        XCTAssertEqual(h.run.state.readOutputs(ofTask: h.id("a")), image)
        let ref = JSONValue.object([("ref", .array([.string("task"), .int(0), .string("outputs"), .string("image")]))])
        XCTAssertEqual(h.run.state.evaluate(ref, for: h.id("c")), .value(.string("app:cached")))
        XCTAssertEqual(h.run.state.dependencyOutputs(ofTask: h.id("c"))[0], image)
        XCTAssertEqual(try h.ok("c", at: 12), ["finish success"])
    }

    func testAFailedFallbackLeavesNothingToRead() throws {
        var h = Harness(try makePlan(Self.pair))
        try h.start()
        try h.fail("a", 1, "fatal", at: 5)
        XCTAssertEqual(try h.fail("plan_b", 1, "fatal", at: 6), ["dead plan_b [fatal]", "finish failed"])
        XCTAssertEqual(h.state("c"), "skipped")
        XCTAssertNil(h.run.state.recoveredBy(h.id("a")))
        XCTAssertNil(h.run.state.readOutputs(ofTask: h.id("a")))
    }

    /// `a` → `b` (two attempts, then `catch: c`) → `c`: the second fallback recovers `a`.
    static let chain = workflow("""
      task a {
        agent: v
        run: "echo"
        output image: string
        retry { attempts: 1, catch: b }
      }
      task b {
        agent: x
        run: "echo"
        output image: string
        retry { attempts: 2, backoff: fixed, delay: 10ms, on: [transient], catch: c }
      }
      task c {
        agent: w
        run: "echo"
        output image: string
      }
      task d {
        agent: v
        env: { IMAGE: a.outputs.image }
        run: "echo"
      }
    """)

    func testAChainOfFallbacksRecoversTheTask() throws {
        var h = Harness(try makePlan(Self.chain))
        XCTAssertEqual(try h.start(), ["dispatch a#1@v"])
        XCTAssertEqual(try h.fail("a", 1, "fatal", at: 5), ["dispatch b#1@x"])
        XCTAssertEqual(try h.fail("b", 1, "transient", at: 6), ["timer retry/\(h.id("b"))/2@16"])
        XCTAssertEqual(try h.timer(.retryDue(task: h.id("b"), attempt: 2), at: 16), ["dispatch b#2@x"])
        XCTAssertEqual(try h.fail("b", 2, "transient", at: 17), ["dispatch c#1@w"])
        let image = JSONValue.object([("image", .string("app:minimal"))])
        XCTAssertEqual(try h.ok("c", at: 20, outputs: image), ["dispatch d#1@v"])
        XCTAssertEqual(h.run.state.recoveredBy(h.id("a")), h.id("c"))
        XCTAssertEqual(h.run.state.recoveredBy(h.id("b")), h.id("c"))
        XCTAssertEqual(h.run.state.readOutputs(ofTask: h.id("a")), image)
        XCTAssertEqual(try h.ok("d", at: 21), ["finish success"])
        XCTAssertEqual(h.state("a"), "failed")
        XCTAssertEqual(h.state("b"), "failed")
    }

    func testAChainWhoseLastFallbackFailsFailsTheRun() throws {
        var h = Harness(try makePlan(Self.chain))
        try h.start()
        try h.fail("a", 1, "fatal", at: 5)
        XCTAssertEqual(try h.fail("b", 1, "fatal", at: 6), ["dispatch c#1@w"])
        XCTAssertEqual(try h.fail("c", 1, "fatal", at: 7), ["dead c [fatal]", "finish failed"])
        XCTAssertEqual(h.state("d"), "skipped")
    }
}
