import EzflowDiagnostics
@testable import EzflowSyntax
import XCTest

final class ParserTests: XCTestCase {
    func parse(_ text: String) -> (SyntaxTree, [Diagnostic]) {
        Parser.parse(SourceFile(path: "t.ezflow", text: text), file: 0)
    }

    func testUnitLiteralsAreExact() {
        let (tree, diags) = parse("workflow w { a: 1.5h, b: $2.50, c: 200k tokens, d: 250ms, e: 2M tokens, f: $0.000001 }")
        XCTAssertEqual(diags.map(\.code), [])
        let values = tree.items[0].attributes.map { a -> String in
            switch a.value.kind {
            case .duration(let ms): "\(ms)ms"
            case .money(let m): "\(m)µ$"
            case .tokens(let t): "\(t)tok"
            default: "?"
            }
        }
        XCTAssertEqual(values, ["5400000ms", "2500000µ$", "200000tok", "250ms", "2000000tok", "1µ$"])
    }

    func testOneTypoGivesOneDiagnostic() {
        let (tree, diags) = parse("""
            workflow w {
              task a { run: "x" timeout 10m }
              task b { run: "y" }
            }
            """)
        XCTAssertEqual(diags.map(\.code), ["E0104"])
        XCTAssertEqual(tree.items[0].blocks.map { $0.name?.text }, ["a", "b"])
    }

    func testDeepNestingIsBounded() {
        let text = "workflow w { x: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + " }"
        let (_, diags) = parse(text)
        XCTAssertEqual(diags.map(\.code), ["E0106"])
    }

    func testInterpolationSpansPointIntoTheFile() {
        let (tree, diags) = parse(#"workflow w { run: "a ${inputs.x} b" }"#)
        XCTAssertTrue(diags.isEmpty)
        guard case .string(let parts) = tree.items[0].attributes[0].value.kind, case .interpolation(let e) = parts[1] else {
            return XCTFail("no interpolation")
        }
        XCTAssertEqual(e.span.start, 23)
        XCTAssertEqual(e.path?.map(\.text), ["inputs", "x"])
    }

    func testGarbageIsCappedAndNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let (_, diags) = Parser.parse(SourceFile(path: "g", bytes: bytes), file: 0)
        XCTAssertFalse(diags.isEmpty)
        XCTAssertLessThanOrEqual(diags.count, Parser.errorsMax + 5)
    }
}
