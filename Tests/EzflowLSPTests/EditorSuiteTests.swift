import EzflowTestSupport
import Foundation
import XCTest

/// The editor suites written in Python, run by pytest in the venv that scripts/test.sh
/// makes (EZFLOW_EDITOR_PYTHON): `Tests/Editors/lsp` drives the built `ezc lsp` with an
/// independent client (pytest-lsp on pygls), `Tests/Editors/grammar` tokenizes with a
/// TextMate engine (textmate-grammar-python). A failure shows pytest's own report.
final class EditorSuiteTests: XCTestCase {
    func pytest(_ dir: String) throws {
        guard let python = ProcessInfo.processInfo.environment["EZFLOW_EDITOR_PYTHON"], !python.isEmpty else {
            throw XCTSkip("EZFLOW_EDITOR_PYTHON is not set: run `bash scripts/test.sh`, which installs pytest-lsp and a TextMate engine")
        }
        var env = ProcessInfo.processInfo.environment
        env["EZC"] = Repo.executable("ezc").path
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        let r = runProcess(URL(fileURLWithPath: python), ["-m", "pytest", "-q", "-p", "no:cacheprovider", Repo.url(dir).path],
                           cwd: Repo.root, timeout: 600, environment: env)
        XCTAssertEqual(r.status, 0, "pytest \(dir) failed:\n\(r.stdout)\n\(r.stderr)")
        // pytest's exit 5 (no tests collected) is a failure above; the summary names a count.
        XCTAssertTrue(r.stdout.contains(" passed"), "pytest \(dir) ran no test:\n\(r.stdout)")
    }

    func testLanguageClientSuite() throws { try pytest("Tests/Editors/lsp") }

    func testGrammarSuite() throws { try pytest("Tests/Editors/grammar") }
}
