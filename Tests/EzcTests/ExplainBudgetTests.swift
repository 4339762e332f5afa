import EzflowTestSupport
import Foundation
import XCTest

/// `ezc check --explain-budget`: the proven bounds on stdout (golden), the diagnostics on
/// stderr, the exit code as for `check`.
final class ExplainBudgetTests: XCTestCase {
    let ezc = Repo.executable("ezc")
    static let dir = "Tests/Fixtures/budget"

    /// Each `Tests/Fixtures/budget/NAME.ezflow` prints exactly `NAME.stdout`.
    func testReportsMatchGoldens() {
        let fixtures = Repo.files(in: Self.dir, ext: [".ezflow"])
        XCTAssertFalse(fixtures.isEmpty)
        for f in fixtures {
            let r = runProcess(ezc, ["check", "--explain-budget", f], cwd: Repo.root)
            XCTAssertNotEqual(r.status, 2, r.stderr)
            if let failure = compareGolden(actual: r.stdout, expectedPath: String(f.dropLast(".ezflow".count)) + ".stdout") { XCTFail(failure) }
        }
    }

    /// The report changes no exit code: a worst case over a budget is a warning (0), a
    /// failure under `--deny-warnings` (1).
    func testExitCodesAreCheck() {
        let f = Self.dir + "/release.ezflow"
        let plain = runProcess(ezc, ["check", "--explain-budget", f], cwd: Repo.root)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stderr.contains("warning[W0601]"), plain.stderr)
        XCTAssertTrue(plain.stdout.hasPrefix("workflow `release`\n"), plain.stdout)
        let denied = runProcess(ezc, ["check", "--explain-budget", "--deny-warnings", f], cwd: Repo.root)
        XCTAssertEqual(denied.status, 1)
        XCTAssertEqual(denied.stdout, plain.stdout)
        let strict = runProcess(ezc, ["check", "--explain-budget", "Tests/Fixtures/check/E0601_strict.ezflow"], cwd: Repo.root)
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.stdout.contains("the workflow money: limit $50.00 (strict)\n    worst: $60.00 — over\n"), strict.stdout)
    }

    /// Without the flag nothing is printed on stdout.
    func testOnlyWithTheFlag() {
        let r = runProcess(ezc, ["check", Self.dir + "/release.ezflow"], cwd: Repo.root)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(runProcess(ezc, ["help", "check"]).stdout.contains("--explain-budget"))
    }
}
