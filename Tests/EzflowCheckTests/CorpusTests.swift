import EzflowCompiler
import EzflowTestSupport
import XCTest

/// Every example and stdlib module checks clean: no errors and no warnings.
final class CorpusTests: XCTestCase {
    func testExamplesAndStdlibCheckClean() {
        let files = Repo.files(in: "examples", ext: [".ezflow"]) + Repo.files(in: "stdlib", ext: [".ezflow"])
        XCTAssertGreaterThanOrEqual(files.count, 9)
        for f in files {
            let (text, result) = renderCheck(f)
            XCTAssertTrue(result.diagnostics.isEmpty, "\(f) is not clean:\n\(text)")
        }
    }
}
