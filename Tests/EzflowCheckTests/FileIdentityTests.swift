import EzflowCheck
import EzflowCompiler
import EzflowDiagnostics
import EzflowTestSupport
import XCTest

/// Files are identified by path, not by load order; each file is parsed once per content.
final class FileIdentityTests: XCTestCase {
    static let shared = "agent sh { driver: exec capabilities: [] }\nretry twice { attempts: 2 }\n"
    static let files = [
        "root.ezflow": "import \"a.ezflow\" as a\nimport \"b.ezflow\" as b\nworkflow w { task t { run: \"x\" retry: a.again agent: b.sh } }\n",
        "a.ezflow": "import \"c.ezflow\" as c\nretry again { attempts: 3 }\n",
        "b.ezflow": "import \"c.ezflow\" as c\nagent sh { driver: exec capabilities: [] }\n",
        "c.ezflow": shared,
    ]

    func file(_ r: CompileResult, _ key: String) -> Int? { r.semantics.modules.first { $0.key == key }?.file }

    func testFileIdsComeFromPathsNotLoadOrder() {
        let fromRoot = Compiler.check(root: "root.ezflow", files: Self.files)
        let alone = Compiler.check(root: "c.ezflow", files: Self.files)
        let fromB = Compiler.check(root: "b.ezflow", files: Self.files)
        // `c` is loaded fourth, first and second: one id.
        XCTAssertEqual(fromRoot.semantics.modules.map(\.key), ["root.ezflow", "a.ezflow", "c.ezflow", "b.ezflow"])
        XCTAssertEqual(file(fromRoot, "c.ezflow"), SourceMap.id(forKey: "c.ezflow"))
        XCTAssertEqual(file(alone, "c.ezflow"), SourceMap.id(forKey: "c.ezflow"))
        XCTAssertEqual(file(fromB, "c.ezflow"), SourceMap.id(forKey: "c.ezflow"))
        XCTAssertNotEqual(file(fromRoot, "a.ezflow"), file(fromRoot, "b.ezflow"))
    }

    func testEachFileIsParsedOnceAndACacheReparsesOnlyWhatChanged() {
        let cache = ParseCache()
        let first = Compiler.check(root: "root.ezflow", files: Self.files, cache: cache)
        // `c` is imported by `a` and by `b`, and parsed once.
        XCTAssertEqual(cache.parses, 4)
        XCTAssertEqual(cache.hits, 0)
        let again = Compiler.check(root: "root.ezflow", files: Self.files, cache: cache)
        XCTAssertEqual(cache.parses, 4, "nothing changed, nothing is parsed again")
        XCTAssertEqual(cache.hits, 4)
        XCTAssertEqual(again.diagnostics, first.diagnostics)
        var edited = Self.files
        edited["b.ezflow"]! += "# a comment\n"
        _ = Compiler.check(root: "root.ezflow", files: edited, cache: cache)
        XCTAssertEqual(cache.parses, 5, "only the edited file is parsed again")
    }

    /// Diagnostics list files in load order (root first), whatever their ids are.
    func testDiagnosticsFollowLoadOrderNotIds() {
        // An imported file name whose id sorts before the root's, so id order would put it first.
        let lib = ["l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7"].map { "\($0).ezflow" }
            .first { SourceMap.id(forKey: $0) < SourceMap.id(forKey: "main.ezflow") }!
        let r = Compiler.check(root: "main.ezflow", files: [
            "main.ezflow": "import \"\(lib)\" as l\nworkflow w { input unused: string = \"x\" }\n",
            lib: "agent lonely { driver: exec }\n",
        ])
        let paths = r.diagnostics.map { r.sources[$0.primary.span.file].path }
        XCTAssertEqual(paths.first, "main.ezflow")
        XCTAssertEqual(paths.last, lib)
        XCTAssertEqual(paths, paths.sorted { $0 == "main.ezflow" && $1 != "main.ezflow" })
    }
}
