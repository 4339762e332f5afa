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

    /// `ezc check -` reads the workflow from standard input and names it `<stdin>`.
    func testDashReadsStandardInput() throws {
        let broken = Data("agent a { driver: exec, capabilities: [\"shell\"] }\nworkflow w {\n  task t { run: \"x\", timout: 1m }\n}\n".utf8)
        let r = runProcess(ezc, ["check", "-"], stdin: broken, cwd: Repo.root)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("error[E0203]: unknown attribute `timout` for `task`\n --> <stdin>:3:22\n"), r.stderr)
        let clean = try Data(contentsOf: Repo.url("examples/ci_pipeline.ezflow"))
        let ok = runProcess(ezc, ["check", "-"], stdin: clean, cwd: Repo.root)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stderr, "")
        // Alongside files, in the order given; JSON output names it the same way.
        let json = runProcess(ezc, ["check", "--format", "json", "examples/ci_pipeline.ezflow", "-"], stdin: broken, cwd: Repo.root)
        XCTAssertEqual(json.status, 1, json.stderr)
        XCTAssertTrue(json.stdout.contains("\"<stdin>\""), json.stdout)
    }

    /// One unreadable file among several is an I/O error (exit 2), and the others are
    /// still checked and reported.
    func testMissingFileAmongSeveralStillChecksTheOthers() {
        let broken = Data("agent a { driver: exec, capabilities: [\"shell\"] }\nworkflow w {\n  task t { run: \"x\", timout: 1m }\n}\n".utf8)
        let r = runProcess(ezc, ["check", "no/such.ezflow", "Tests/Fixtures/check/E0203_unknown_attribute.ezflow",
                                 "examples/ci_pipeline.ezflow", "-"], stdin: broken, cwd: Repo.root)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.hasPrefix("ezc: error: cannot read `no/such.ezflow`: no such file\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains(" --> Tests/Fixtures/check/E0203_unknown_attribute.ezflow:7:5\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains(" --> <stdin>:3:22\n"), r.stderr)
        XCTAssertTrue(r.stderr.hasSuffix("error: 2 errors emitted\n"), r.stderr)
        // The files that exist check clean: still 2, since one could not be read.
        let clean = runProcess(ezc, ["check", "examples/ci_pipeline.ezflow", "no/such.ezflow"], cwd: Repo.root)
        XCTAssertEqual(clean.status, 2, clean.stderr)
        XCTAssertEqual(clean.stderr, "ezc: error: cannot read `no/such.ezflow`: no such file\n")
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
