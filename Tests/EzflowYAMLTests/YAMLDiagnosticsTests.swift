import EzflowCompiler
import EzflowDiagnostics
import EzflowSyntax
import EzflowTestSupport
import EzflowYAML
import Foundation
import XCTest

/// The YAML surface reports what the text surface reports, at YAML positions; broken
/// YAML gives diagnostics and never a crash.
final class YAMLDiagnosticsTests: XCTestCase {
    static let dir = "Tests/Fixtures/yaml"

    /// Every `Tests/Fixtures/yaml/CODE_name.ezflow.yaml` renders exactly its `.stderr`
    /// and reports CODE.
    func testFixturesMatchGoldenOutput() {
        let fixtures = Repo.files(in: Self.dir, ext: [".ezflow.yaml"])
        XCTAssertGreaterThanOrEqual(fixtures.count, 7)
        for f in fixtures {
            let (text, result) = renderCheck(f)
            let name = (f as NSString).lastPathComponent
            let code = String(name.prefix { $0 != "_" })
            XCTAssertTrue(result.diagnostics.contains { $0.code == code }, "\(f) does not report \(code):\n\(text)")
            let golden = String(f.dropLast(".ezflow.yaml".count)) + ".stderr"
            if let failure = compareGolden(actual: text, expectedPath: golden) { XCTFail(failure) }
        }
    }

    /// The same mistake through both surfaces: same codes and messages; the YAML one
    /// at the YAML line:column of the unknown name.
    func testUnknownTaskInAfterMatchesTextSurface() {
        let (yamlOut, y) = renderCheck("\(Self.dir)/E0200_unknown_after.ezflow.yaml")
        let (_, t) = renderCheck("\(Self.dir)/E0200_unknown_after.ezflow")
        XCTAssertEqual(y.diagnostics.map(\.code), t.diagnostics.map(\.code))
        XCTAssertEqual(y.diagnostics.map(\.message), t.diagnostics.map(\.message))
        XCTAssertEqual(y.diagnostics.map(\.help), t.diagnostics.map(\.help))
        XCTAssertTrue(yamlOut.contains("E0200_unknown_after.ezflow.yaml:13:13"), yamlOut)
    }

    func check(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> [Diagnostic] {
        check(bytes: Array(yaml.utf8), file: file, line: line)
    }

    func check(bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [Diagnostic] {
        let r = Compiler.check(root: "t.ezflow.yaml", bytes: ["t.ezflow.yaml": bytes], stdlibRoot: Repo.url("stdlib").path)
        // Every diagnostic points inside the file.
        for d in r.diagnostics {
            XCTAssertLessThanOrEqual(d.primary.span.end, bytes.count, "\(d.message)", file: file, line: line)
        }
        return r.diagnostics
    }

    func testMalformedYAMLGivesDiagnostics() {
        let cases: [(String, String)] = [
            ("workflow w:\n  task a:\n    run: \"x\"\n   timeout: 1m\n", "E0104"),             // bad indentation
            ("workflow w:\n  task a:\n    after: [b, c\n  task b:\n    run: \"x\"\n", "E0104"), // unclosed flow sequence
            ("workflow w:\n\ttask a:\n", "E0104"),                                           // tab
            ("workflow w:\n  task a: &x {run: \"x\"}\n  task b: *x\n", "E0104"),               // anchor + alias
            ("- a\n- b\n", "E0104"),                                                        // top level not a mapping
            ("workflow w:\n  task a:\n    run: !shell \"x\"\n", "E0104"),                     // tag
            ("workflow w: {}\n---\nworkflow v: {}\n", "E0104"),                              // two documents
            ("workflow w:\n  task a b c:\n    run: \"x\"\n", "E0104"),                        // key with three words
            ("workflow w:\n  task a:\n    run: make all\n", "E0104"),                         // unquoted command
            ("workflow w:\n  input x:\n    default: 1\n", "E0104"),                           // input without type
            ("workflow w:\n  task a:\n    run: \"bad \\\\q escape\"\n", "E0102"),              // ezflow escape error
            ("workflow w:\n  task a:\n    run: \"${inputs.x\"\n", "E0105"),                   // unclosed interpolation
            ("workflow w:\n  task a:\n    run: \"a ${} b\"\n", "E0104"),                    // empty interpolation
            ("workflow w:\n  task a:\n    run: \"${inputs.x y}\"\n", "E0104"),              // junk in interpolation
            ("workflow w:\n  task a:\n    timeout: 10 minutes\n", "E0104"),                // junk after a plain value
            ("workflow w:\n  task a:\n    timeout: 10x\n", "E0103"),                       // ezflow literal error
            ("workflow w:\n  task a:\n    timeout:\n", "E0104"),                           // empty value
            ("workflow w:\n  enum E: {a: 1}\n", "E0104"),                                  // enum not a sequence
            ("import: [{path: x, alias: y}]\n", "E0104"),                                  // bad import key
            ("workflow w:\n  as: 1\n", "E0104"),                                           // reserved word
            ("deadline: 2h\n", "E0202"),                                                   // attribute at top level
            ("workflow w:\n  deadline: 1h\n  deadline: 2h\n", "E0205"),                    // duplicate key, via the checker
            ("workflow w:\n  input x: {type: int, type: string}\n", "E0205"),              // duplicate `type:`
            ("\"unterminated\n", "E0104"),
            ("{[}]:\n", "E0104"),
        ]
        for (src, code) in cases {
            let ds = check(src)
            XCTAssertTrue(ds.contains { $0.code == code }, "\(src.debugDescription): expected \(code), got \(ds.map { "\($0.code) \($0.message)" })")
        }
    }

    func testBinaryGarbageAndDeepNestingNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let n = Int.random(in: 0..<400, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let ds = check(bytes: bytes)
            if firstInvalid(bytes) { XCTAssertTrue(ds.contains { $0.code == "E0108" }) }
        }
        // Printable garbage made of YAML and ezflow punctuation.
        let alphabet = Array("ab: -[]{},&*!|>'\"#%@`\n  \t${}.?$1m".utf8)
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0..<120, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            _ = check(bytes: bytes)
        }
        XCTAssertTrue(check(String(repeating: "[", count: 5000)).contains { $0.code == "E0106" || $0.code == "E0104" })
        XCTAssertTrue(check("workflow w:\n  task a:\n    env: " + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "\n")
            .contains { $0.code == "E0106" })
        XCTAssertTrue(check("workflow w:\n  task a:\n    priority: " + String(repeating: "(", count: 300) + "1" + String(repeating: ")", count: 300) + "\n")
            .contains { $0.code == "E0106" })
        XCTAssertTrue(check(bytes: [0xFF, 0xFE, 0x00]).contains { $0.code == "E0108" })
        XCTAssertTrue(check("\u{0}\u{1}: x\n").contains { $0.code == "E0104" })
        XCTAssertTrue(check("").isEmpty)
        XCTAssertTrue(check("# only a comment\n").isEmpty)
    }

    func firstInvalid(_ b: [UInt8]) -> Bool { String(validatingUTF8: b.map { CChar(bitPattern: $0) } + [0]) == nil && !b.contains(0) }

    /// Positions in a file with multi-byte characters: libyaml counts characters,
    /// spans are bytes.
    func testPositionsAfterMultibyteCharacters() {
        let src = "# héllo wörld ✓\nworkflow w:\n  description: \"ünïcödé ✓\"\n  task a:\n    run: \"é ${inputs.nope}\"\n"
        let ds = check(src)
        let d = ds.first { $0.code == "E0200" }
        XCTAssertNotNil(d, "\(ds.map(\.message))")
        if let d {
            let s = SourceFile(path: "t", text: src)
            XCTAssertEqual(s.text(d.primary.span), "nope")
            XCTAssertEqual(s.position(of: d.primary.span.start).line, 5)
        }
    }

    /// An escaped YAML string cannot be mapped byte for byte: its expression points at
    /// the scalar's start instead.
    func testEscapedStringsPointAtTheScalarStart() {
        let src = "workflow w:\n  task a:\n    run: \"a\\tb ${inputs.nope}\"\n"
        let d = check(src).first { $0.code == "E0200" }
        XCTAssertNotNil(d)
        if let d {
            let s = SourceFile(path: "t", text: src)
            let p = s.position(of: d.primary.span.start)
            XCTAssertEqual(p.line, 3)
            XCTAssertEqual(p.column, 10)
        }
    }
}
