import EzflowCompiler
import EzflowIR
import EzflowTestSupport
import Foundation
import XCTest

/// The IR of loops (docs/IR.md "Loops"): the body unrolled into `TASK[iteration=N]`, one
/// `loop` task after them; the validator refuses a `loop` object that does not fit them.
final class LoopIRTests: XCTestCase {
    func testTheBodyIsUnrolledAndTheLoopTaskFollowsIt() throws {
        let bytes = try XCTUnwrap(irBytes("Tests/Fixtures/check/clean_loop.ezflow"))
        let doc = try JSONParser.parse(bytes)
        guard case .array(let tasks)? = doc["tasks"] else { return XCTFail("no tasks") }
        XCTAssertEqual(tasks.map { $0["name"] }, ["draft[iteration=1]", "review[iteration=1]", "draft[iteration=2]", "review[iteration=2]",
                                                   "draft[iteration=3]", "review[iteration=3]", "revise", "publish"].map { .string($0) })
        // Iteration 2 waits for iteration 1 and runs only while `until` did not hold.
        XCTAssertEqual(tasks[2]["deps"], .array([.int(0), .int(1)]))
        XCTAssertEqual(tasks[2]["when"], .object([("args", .array([.object([("ref", .array([.string("task"), .int(1), .string("outputs"), .string("approved")]))])])),
                                                  ("op", .string("!"))]))
        // `previous.review.outputs.comments`: null in iteration 1, iteration 1's review in 2.
        XCTAssertEqual(first(tasks[0]["env"]?["NOTES"]?["args"]), .object([("null", .null)]))
        XCTAssertEqual(first(tasks[2]["env"]?["NOTES"]?["args"]), .object([("ref", .array([.string("task"), .int(1), .string("outputs"), .string("comments")]))]))
        XCTAssertEqual(tasks[6]["action"], .string("loop"))
        XCTAssertEqual(tasks[6]["loop"]?["iterations"], .array([[0, 1], [2, 3], [4, 5]].map { .array($0.map { .int(Int64($0)) }) }))
        // After the loop: read through the loop task, the last iteration.
        XCTAssertEqual(tasks[7]["deps"], .array([.int(6)]))
        XCTAssertEqual(element(tasks[7]["template"], 1), .object([("ref", .array([.string("task"), .int(6), .string("outputs"), .string("draft"), .string("stdout")]))]))
    }

    func testValidationRefusesALoopThatDoesNotFitItsInstances() throws {
        let bytes = try XCTUnwrap(irBytes("Tests/Fixtures/check/clean_loop.ezflow"))
        let doc = try JSONParser.parse(bytes)
        for (path, value, message) in [
            ([PathStep.key("max")], JSONValue.int(2), "tasks[6].loop.iterations: expected 2 iterations, found 3"),
            ([.key("max")], .int(101), "tasks[6].loop.max: must be <= 100, found 101"),
            ([.key("until")], .array([]), "tasks[6].loop.until: expected 3 conditions, found 0"),
            ([.key("on_exhausted")], .string("retry"), "tasks[6].loop.on_exhausted"),
            ([.key("iterations"), .index(0)], .array([.int(0), .int(7)]), "tasks[6].loop.iterations[0]: every instance must be among the loop task's deps"),
        ] {
            let bad = edit(doc, [.key("tasks"), .index(6), .key("loop")] + path, { _ in value })
            XCTAssertThrowsError(try EzflowIR.validate(CanonicalJSON.encode(bad)), "\(path)") { e in
                XCTAssertTrue("\(e)".hasPrefix(message), "\(e)")
            }
        }
        let moved = edit(doc, [.key("tasks"), .index(7), .key("loop")], { _ in element(doc["tasks"], 6)?["loop"] })
        XCTAssertThrowsError(try EzflowIR.validate(CanonicalJSON.encode(moved))) { e in
            XCTAssertEqual("\(e)", "tasks[7].loop: only a `loop` task has `loop`")
        }
    }
}

private func element(_ v: JSONValue?, _ i: Int) -> JSONValue? {
    guard case .array(let xs)? = v, i < xs.count else { return nil }
    return xs[i]
}

private func first(_ v: JSONValue?) -> JSONValue? { element(v, 0) }
