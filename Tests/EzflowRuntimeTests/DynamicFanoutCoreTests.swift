import EzflowIR
import EzflowRuntime
import XCTest

/// The core's side of a dynamic fan-out (DynamicFanout.swift): slots decided from the
/// source's outputs when their gate opens, whatever those outputs are.
final class DynamicFanoutCoreTests: XCTestCase {
    static let tasks = """
      task src {
        agent: v
        run: "list"
        output xs: list[string]
      }
      task each {
        agent: v
        for_each: src.outputs.xs
        max_items: 3
        run: "each ${item}"
        output y: string
      }
      task after_all {
        agent: v
        run_on: always
        after: [each]
        run: "after ${each.status}"
      }
    """

    func states(_ h: Harness) -> [String] {
        h.run.state.plan.taskNames.indices.map { h.run.state.skipReason[$0]?.rawValue ?? h.run.state.tasks[$0].name }
    }

    /// Slots wait on the source; each used slot reads its own item, in order.
    func testUsedSlotsReadTheirItemsInOrder() throws {
        var h = Harness(try makePlan(workflow(Self.tasks)))
        XCTAssertEqual(try h.start(), ["dispatch src#1@v"])
        XCTAssertNil(h.run.state.item(ofTask: h.id("each[0]")), "no item before the source ran")
        XCTAssertEqual(try h.ok("src", at: 5, outputs: .object([("xs", .array([.string("a"), .string("b")]))])), ["dispatch each[0]#1@v"])
        XCTAssertEqual(h.run.state.item(ofTask: h.id("each[1]")), .string("b"))
        XCTAssertEqual(states(h), ["succeeded", "running", "ready", "unused_slot", "waiting"])
        try h.ok("each[0]", at: 6, outputs: .object([("y", .string("A"))]))
        XCTAssertEqual(try h.ok("each[1]", at: 7, outputs: .object([("y", .string("B"))])), ["dispatch after_all#1@v"])
        let read = h.run.state.evaluate(.object([("ref", .array([.string("task"), .int(1), .string("outputs"), .string("y")]))]),
                                        for: h.id("after_all"))
        XCTAssertEqual(read, .value(.array([.string("A"), .string("B")])), "unused slots are left out of the aggregate")
    }

    /// A source output that is no list: one `fanout_error` on slot 0 (no attempt), the
    /// other slots unused; a dependent that runs always reads `each.status` = failed.
    func testAListWithNoValueFailsSlotZeroOnce() throws {
        var h = Harness(try makePlan(workflow(Self.tasks)))
        try h.start()
        XCTAssertEqual(try h.ok("src", at: 5, outputs: .object([("xs", .string("oops"))])), ["dispatch after_all#1@v"])
        XCTAssertEqual(states(h), ["succeeded", "failed", "unused_slot", "unused_slot", "running"])
        XCTAssertEqual(h.run.state.history[1].map(\.errorClass), ["fanout_error"])
        XCTAssertEqual(h.run.state.history[1].first?.message, "`src.outputs.xs` is not a list (found string)")
        XCTAssertEqual(h.run.state.dependencyStatuses(ofTask: h.id("after_all"))[1], "failed")
        XCTAssertEqual(try h.ok("after_all", at: 6), ["finish failed"])
    }

    /// A source that failed: its slots are skipped as any dependent (`upstream_failed`),
    /// none is an unused slot, and `each.status` reads skipped.
    func testAFailedSourceSkipsTheSlots() throws {
        var h = Harness(try makePlan(workflow(Self.tasks)))
        try h.start()
        XCTAssertEqual(try h.fail("src", 1, "fatal", at: 5), ["dead src [fatal]", "dispatch after_all#1@v"])
        XCTAssertEqual(states(h), ["dead_lettered", "upstream_failed", "upstream_failed", "upstream_failed", "running"])
        XCTAssertEqual(h.run.state.dependencyStatuses(ofTask: h.id("after_all"))[1], "skipped")
    }

    /// An empty list: every slot unused, the fan-out reads `succeeded` with `[]`.
    func testAnEmptyListSucceeds() throws {
        var h = Harness(try makePlan(workflow(Self.tasks)))
        try h.start()
        XCTAssertEqual(try h.ok("src", at: 5, outputs: .object([("xs", .array([]))])), ["dispatch after_all#1@v"])
        XCTAssertEqual(h.run.state.dependencyStatuses(ofTask: h.id("after_all"))[1], "succeeded")
        XCTAssertEqual(h.run.state.dependencyOutputs(ofTask: h.id("after_all"))[1], .array([]))
        XCTAssertEqual(try h.ok("after_all", at: 6), ["finish success"])
    }
}
