import EzflowCompiler
import EzflowIR
import EzflowTestSupport
import Foundation
import XCTest

/// The IR of compensation (docs/IR.md): `compensate` (the undo's id) on the compensated
/// task, `compensation: true` on the undo, written only when given; validation refuses
/// what the checker's E0980–E0987 refuse, naming the field.
final class CompensationIRTests: XCTestCase {
    func saga() throws -> JSONValue { try JSONParser.parse(try XCTUnwrap(irBytes("examples/saga.ezflow"))) }

    func refused(_ doc: JSONValue, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try EzflowIR.validate(CanonicalJSON.encode(doc)), file: file, line: line) { e in
            XCTAssertEqual("\(e)", message, file: file, line: line)
        }
    }

    func testTheSagaLowersEachUndoBesideItsTaskAndValidates() throws {
        let doc = try saga()
        XCTAssertNoThrow(try EzflowIR.validate(CanonicalJSON.encode(doc)))
        guard case .array(let tasks)? = doc["tasks"] else { return XCTFail("no tasks") }
        var undoOf: [String: String] = [:]
        for t in tasks {
            guard case .int(let c)? = t["compensate"], case .string(let n)? = t["name"], case .string(let u)? = tasks[Int(c)]["name"] else { continue }
            XCTAssertEqual(tasks[Int(c)]["compensation"], .bool(true))
            XCTAssertEqual(tasks[Int(c)]["deps"], .array([t["id"]!]), "an undo waits for its task alone")
            undoOf[n] = u
        }
        XCTAssertEqual(undoOf, ["reserve_hotel": "cancel_hotel", "reserve_flight": "cancel_flight", "take_payment": "refund_payment"])
    }

    func testValidationRefusesBrokenCompensation() throws {
        let doc = try saga()
        // reserve_hotel (0) is undone by cancel_hotel (4); confirm_hotel (7) is a main task.
        refused(edit(doc, [.key("tasks"), .index(4), .key("compensation")], { _ in nil }),
                "tasks[0].compensate: task 4 is not marked `compensation: true`")
        refused(edit(doc, [.key("tasks"), .index(7), .key("deps")], { _ in .array([.int(0), .int(4), .int(5)]) }),
                "tasks[7].deps: task 7 depends on undo 4: an undo runs only after a failure")
        refused(edit(doc, [.key("tasks"), .index(4), .key("timeout_ms")], { _ in .null }),
                "tasks[4].timeout_ms: an undo needs a timeout: nothing else stops it")
        refused(edit(doc, [.key("tasks"), .index(4), .key("run_on")], { _ in .string("always") }),
                "tasks[4].run_on: an undo takes no `run_on`")
        refused(edit(doc, [.key("tasks"), .index(3), .key("compensate")], { _ in .int(4) }),
                "tasks[3].compensate: task 4 already undoes task 0")
        refused(edit(doc, [.key("tasks"), .index(5), .key("compensation")], { _ in .bool(true) }),
                "tasks[5].compensation: no task names this one in `compensate`")
    }
}
