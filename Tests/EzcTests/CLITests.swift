import EzflowTestSupport
import Foundation
import XCTest

/// Runs the built `ezc` and asserts what a user sees: exit code, stdout, stderr.
final class CLITests: XCTestCase {
    let ezc = Repo.executable("ezc")

    func testCleanExampleExitsZero() {
        let r = runProcess(ezc, ["check", "examples/ci_pipeline.ezflow"], cwd: Repo.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
    }

    func testMissingFileIsUsageError() {
        let r = runProcess(ezc, ["check", "no/such.ezflow"], cwd: Repo.root)
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.hasPrefix("ezc: error: cannot read `no/such.ezflow`: no such file"), r.stderr)
    }

    func testUnknownCommandIsUsageError() {
        let r = runProcess(ezc, ["frobnicate"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("unknown command `frobnicate`"))
    }

    func testExplainPrintsTheLongText() {
        let r = runProcess(ezc, ["explain", "e0400"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.hasPrefix("E0400"), r.stdout)
        XCTAssertEqual(runProcess(ezc, ["explain", "E9999"]).status, 2)
    }
}
