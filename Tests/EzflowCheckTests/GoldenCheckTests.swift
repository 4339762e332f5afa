import EzflowCompiler
import EzflowDiagnostics
import EzflowSyntax
import EzflowTestSupport
import XCTest

/// Every `Tests/Fixtures/check/CODE_name.ezflow` must render exactly its `.stderr`
/// and report CODE (a `clean_name.ezflow` reports nothing: valid code that once drew
/// errors); every code in the catalogue must have such a fixture.
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
            } else {
                XCTAssertEqual(code, "clean", "\(f): a fixture is named CODE_name or clean_name")
                XCTAssertTrue(result.diagnostics.isEmpty, "\(f) must check clean:\n\(text)")
            }
            if let failure = compareGolden(actual: text, expectedPath: String(f.dropLast(".ezflow".count)) + ".stderr") {
                XCTFail(failure)
            }
        }
    }

    /// Codes whose input cannot be a checked-in file; each has a generated test below.
    static let generated = ["E0107"]

    func testFileOverTheSizeLimitIsRefused() {
        let big = [UInt8](repeating: UInt8(ascii: "#"), count: Parser.fileBytesMax + 1)
        let result = Compiler.check(root: "big.ezflow", bytes: ["big.ezflow": big])
        XCTAssertEqual(result.diagnostics.map(\.code), ["E0107"])
        XCTAssertEqual(TextRenderer().render(result.diagnostics, sources: result.sources), """
            error[E0107]: file is too large (67108865 bytes)
             --> big.ezflow:1:1
              |
            1 |
              | ^
              |
              = note: ezc reads files of at most 67108864 bytes
              = help: split the workflow into modules and `import` them


            """)
    }

    func testEveryCodeHasAFixture() {
        let names = Repo.files(in: Self.dir, ext: [".ezflow"]).map { ($0 as NSString).lastPathComponent }
        for entry in Catalogue.all where !Self.generated.contains(entry.code) {
            XCTAssertTrue(names.contains { $0.hasPrefix(entry.code + "_") }, "no fixture for \(entry.code) in \(Self.dir)")
        }
    }
}
