import EzflowCompiler
import EzflowDiagnostics
import EzflowTestSupport
import XCTest

/// Every `Tests/Fixtures/check/CODE_name.ezflow` must render exactly its `.stderr`
/// and report CODE; every code in the catalogue must have such a fixture.
final class GoldenCheckTests: XCTestCase {
    static let dir = "Tests/Fixtures/check"

    func testFixturesMatchGoldenOutput() {
        let fixtures = Repo.files(in: Self.dir, ext: [".ezflow"]).filter { !$0.contains("/lib/") }
        XCTAssertFalse(fixtures.isEmpty, "no fixtures found in \(Self.dir)")
        for f in fixtures {
            let (text, result) = renderCheck(f)
            let name = (f as NSString).lastPathComponent
            let code = String(name.prefix { $0 != "_" })
            if code.first == "E" || code.first == "W" {
                XCTAssertTrue(result.diagnostics.contains { $0.code == code }, "\(f) does not report \(code):\n\(text)")
            }
            if let failure = compareGolden(actual: text, expectedPath: String(f.dropLast(".ezflow".count)) + ".stderr") {
                XCTFail(failure)
            }
        }
    }

    func testEveryCodeHasAFixture() {
        let names = Repo.files(in: Self.dir, ext: [".ezflow"]).map { ($0 as NSString).lastPathComponent }
        for entry in Catalogue.all {
            XCTAssertTrue(names.contains { $0.hasPrefix(entry.code + "_") }, "no fixture for \(entry.code) in \(Self.dir)")
        }
    }
}
