import EzflowDiagnostics
@testable import EzflowSyntax
import EzflowTestSupport
import Foundation
import XCTest

/// The parser's promise "every loop consumes a token" is checked, not just written down:
/// every loop's condition runs `LoopProgress.evaluate`, which asserts in debug builds
/// (these tests) when an iteration consumed nothing.
final class LoopProgressTests: XCTestCase {
    func testTheCheckNeedsATokenPerIteration() {
        var p = LoopProgress()
        XCTAssertTrue(p.check(0), "the first iteration has nothing to compare with")
        XCTAssertTrue(p.check(1))
        XCTAssertTrue(p.check(5))
        XCTAssertFalse(p.check(5), "an iteration that consumed no token is a stall")
    }

    /// Reads the parser's sources: every `while` either evaluates the progress check in its
    /// condition or says, in a `// loop-progress:` comment, why it cannot stall.
    func testEveryParserLoopChecksProgress() throws {
        var loops = 0
        for file in ["Sources/EzflowSyntax/Parser.swift", "Sources/EzflowSyntax/ParseExpr.swift"] {
            let text = try String(contentsOf: Repo.url(file), encoding: .utf8)
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.split(separator: "//", maxSplits: 1).first.map(String.init) ?? ""
                guard code.range(of: #"(^|[\s}])while\b"#, options: .regularExpression) != nil else { continue }
                loops += 1
                XCTAssertTrue(code.contains(".evaluate(consumed)") || line.contains("// loop-progress:"),
                              "\(file):\(i + 1): a loop without a progress check: \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        XCTAssertGreaterThan(loops, 15, "the scan found too few loops to be reading the parser")
    }

    /// Token soups built from every kind of token, parsed in-process so that a stalled
    /// loop trips the assertion here (the garbage tests of `ezc` run a separate process).
    func testSeededTokenSoupsParseWithoutStalling() {
        let pieces = ["workflow", "task", "agent", "input", "output", "enum", "type", "import", "as", "x", "{", "}", "[", "]",
                      "(", ")", ":", ",", ";", ".", "?", "=", "!", "-", "+", "*", "<", "==", "&&", "||", "\"s\"", "\"${\"",
                      "\"\"\"", "${", "1", "1.5", "$2", "5s", "10k tokens", "true", "null", "#", "@", "\u{7F}", "\n", " "]
        var rng = SoupRandom(seed: 18)
        for _ in 0..<400 {
            var text = ""
            for _ in 0..<Int(rng.next() % 120) { text += pieces[Int(rng.next() % UInt64(pieces.count))] + " " }
            let (tree, _) = Parser.parse(SourceFile(path: "soup.ezflow", text: text), file: 0)
            XCTAssertEqual(tree.file, 0)
        }
    }
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants), so the soups are the
/// same on every run; the high bits are the good ones.
struct SoupRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
    }
}
