import EzflowTestSupport
import Foundation
import XCTest

/// `ezc check --explain-retry`: per task, its attempts, delays and the classes its rule
/// retries on stdout (golden), diagnostics on stderr, the exit code as for `check`.
final class ExplainRetryTests: XCTestCase {
    let ezc = Repo.executable("ezc")
    static let dir = "Tests/Fixtures/retry"

    /// Each `Tests/Fixtures/retry/NAME.ezflow` prints exactly `NAME.stdout`.
    func testReportsMatchGoldens() {
        let fixtures = Repo.files(in: Self.dir, ext: [".ezflow"])
        XCTAssertFalse(fixtures.isEmpty)
        for f in fixtures {
            let r = runProcess(ezc, ["check", "--explain-retry", f], cwd: Repo.root)
            XCTAssertEqual(r.status, 0, r.stderr)
            if let failure = compareGolden(actual: r.stdout, expectedPath: String(f.dropLast(".ezflow".count)) + ".stdout") { XCTFail(failure) }
        }
        XCTAssertTrue(runProcess(ezc, ["help", "check"]).stdout.contains("--explain-retry"))
    }
}
