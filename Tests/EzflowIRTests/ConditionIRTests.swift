import EzflowCompiler
import EzflowIR
import EzflowTestSupport
import Foundation
import XCTest

/// The IR of conditions (docs/IR.md): `when` (a task's and its groups' and-ed), `run_on`,
/// `allow_failure`, `status_deps` and `{"ref": ["task", ID, "status"]}`, written only
/// when given; the golden validates with the same hash.
final class ConditionIRTests: XCTestCase {
    func testConditionsLowerToTheGolden() throws {
        let bytes = try XCTUnwrap(irBytes("Tests/Fixtures/check/clean_conditions.ezflow"))
        let doc = edit(try JSONParser.parse(bytes), [.key("source_map")], { _ in nil })
        let golden = "Tests/Fixtures/lower/conditions.ezir.json"
        if let f = compareGolden(actual: CanonicalJSON.pretty(doc), expectedPath: golden) { XCTFail(f) }
        let program = try EzflowIR.validate([UInt8](try Data(contentsOf: Repo.url(golden))))
        XCTAssertEqual(.string(program.hash), doc["hash"])
    }

    /// A main reader may not read the status of a task it does not depend on, and a
    /// `workflow` task takes no conditions: validation names the field.
    func testValidationRefusesConditionsWhereTheyCannotApply() throws {
        let bytes = try XCTUnwrap(irBytes("Tests/Fixtures/check/clean_conditions.ezflow"))
        let doc = edit(try JSONParser.parse(bytes), [.key("tasks"), .index(0), .key("status_deps")], { _ in .array([.int(3)]) })
        XCTAssertThrowsError(try EzflowIR.validate(CanonicalJSON.encode(doc))) { e in
            XCTAssertEqual("\(e)", "tasks[0].status_deps[0]: must be one of the task's deps")
        }
    }
}
