import EzflowDiagnostics
@testable import EzflowSyntax
import EzflowTestSupport
import Foundation
import XCTest

/// `ezc fmt`: golden layouts (Tests/Fixtures/fmt/<name>.ezflow -> <name>.formatted), and
/// over every parseable file of the repository: idempotence, an unchanged value
/// fingerprint (`TreeDump`, hence an unchanged IR hash) and an unchanged multiset of
/// comment texts.
final class FormatterTests: XCTestCase {
    // MARK: - helpers

    func parse(_ text: String) -> (SyntaxTree, SourceFile, [Diagnostic]) {
        let src = SourceFile(path: "t.ezflow", text: text)
        let (tree, diags) = Parser.parse(src, file: 0)
        return (tree, src, diags)
    }

    func fmt(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        let (tree, src, diags) = parse(text)
        XCTAssertEqual(diags.map(\.code), [], "input must parse", file: file, line: line)
        return Formatter.format(tree, source: src)
    }

    /// One-line check: `input` formats to `expected`, and `expected` is a fixed point.
    func check(_ input: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let out = fmt(input, file: file, line: line)
        XCTAssertEqual(out, expected, file: file, line: line)
        XCTAssertEqual(fmt(out, file: file, line: line), out, "not idempotent", file: file, line: line)
    }

    /// Checks the three invariants on one text; returns a failure description or nil.
    func invariants(_ text: String, name: String) -> String? {
        let (tree, src, diags) = parse(text)
        guard !diags.contains(where: { $0.severity == .error }) else { return nil }
        let out = Formatter.format(tree, source: src)
        let (tree2, src2, diags2) = parse(out)
        if let d = diags2.first {
            return "\(name): formatted text does not parse: \(d.code) \(d.message)\n\(out)"
        }
        if TreeDump.dump(tree) != TreeDump.dump(tree2) {
            return "\(name): fingerprint changed\n" + lineDiff(expected: TreeDump.dump(tree), actual: TreeDump.dump(tree2))
        }
        let c1 = Formatter.commentTexts(tree, src), c2 = Formatter.commentTexts(tree2, src2)
        if c1 != c2 {
            return "\(name): comments changed: lost \(c1.filter { !c2.contains($0) }), gained \(c2.filter { !c1.contains($0) })"
        }
        let again = Formatter.format(tree2, source: src2)
        if again != out { return "\(name): not idempotent\n" + lineDiff(expected: out, actual: again) }
        return nil
    }

    static var corpus: [String] {
        Repo.files(in: "examples", ext: [".ezflow"]) + Repo.files(in: "stdlib", ext: [".ezflow"])
            + Repo.files(in: "Tests/Fixtures/check", ext: [".ezflow"])
            + Repo.files(in: "Tests/Fixtures/fmt", ext: [".ezflow", ".formatted"])
    }

    func read(_ relative: String) throws -> String {
        try String(contentsOf: Repo.url(relative), encoding: .utf8)
    }

    /// The file's text, or nil when it is not UTF-8 (such fixtures do not parse anyway).
    func readIfText(_ relative: String) -> String? {
        guard let data = FileManager.default.contents(atPath: Repo.url(relative).path) else { return nil }
        return String(validating: data, as: UTF8.self)
    }

    // MARK: - golden fixtures

    func testGoldenFixtures() throws {
        let inputs = Repo.files(in: "Tests/Fixtures/fmt", ext: [".ezflow"])
        XCTAssertGreaterThanOrEqual(inputs.count, 5)
        for path in inputs {
            let source = SourceFile(path: path, bytes: Array(try read(path).utf8))
            guard case .formatted(let out) = Formatter.reformat(source) else {
                XCTFail("\(path): fmt refused it: \(Formatter.reformat(source))")
                continue
            }
            let expected = String(path.dropLast(".ezflow".count)) + ".formatted"
            if let failure = compareGolden(actual: out, expectedPath: expected) { XCTFail(failure) }
        }
    }

    // MARK: - invariants over every file

    func testCorpusIsIdempotentAndKeepsMeaningAndComments() {
        var checked = 0
        for path in Self.corpus {
            guard let text = readIfText(path) else { continue }
            if let failure = invariants(text, name: path) { XCTFail(failure) }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20)
    }

    /// Comments everywhere: every corpus file with an own-line comment before each line and
    /// an end-of-line comment after each line still formats safely, idempotently and with
    /// all its comments.
    func testCommentsInsertedEverywhereSurvive() {
        for path in Self.corpus where path.hasSuffix(".ezflow") {
            guard let text = readIfText(path) else { continue }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            var mutated = ""
            for (i, l) in lines.enumerated() {
                mutated += "# own \(i)\n" + l + (l.trimmingCharacters(in: .whitespaces).isEmpty ? "" : " # end \(i)") + "\n"
            }
            if let failure = invariants(mutated, name: path + " (with comments)") { XCTFail(failure) }
        }
    }

    func testExamplesAndStdlibAreAlreadyFormatted() throws {
        for path in Repo.files(in: "examples", ext: [".ezflow"]) + Repo.files(in: "stdlib", ext: [".ezflow"]) {
            let text = try read(path)
            XCTAssertEqual(fmt(text), text, "\(path) is not formatted; run `ezc fmt \(path)`")
        }
    }

    // MARK: - rules, one line each

    func testLiteralsPrintInCanonicalForm() {
        check("workflow w { a: 5400000ms, b: 0.5s, c: 48h, d: 0ms, e: 1_500ms }",
              "workflow w {\n  a: 90m\n  b: 500ms\n  c: 2d\n  d: 0s\n  e: 1500ms\n}\n")
        check("workflow w { a: $2.5, b: $10.00, c: $0.000001, d: $0.120 }",
              "workflow w {\n  a: $2.50\n  b: $10\n  c: $0.000001\n  d: $0.12\n}\n")
        check("workflow w { a: 200_000 tokens, b: 2000k tokens, c: 1.5k tokens }",
              "workflow w {\n  a: 200k tokens\n  b: 2M tokens\n  c: 1500 tokens\n}\n")
        check("workflow w { a: 0.10, b: 2.0, c: 0.000001, d: 1_0.5 }",
              "workflow w {\n  a: 0.1\n  b: 2.0\n  c: 0.000001\n  d: 10.5\n}\n")
    }

    func testFloatTextRoundTrips() {
        for d in [0.1, 1e-7, 1e16, 1e22, 123.456, 5e-324, 1.7976931348623157e308, 0.0] {
            let s = FormatPrinter.floatText(d)
            XCTAssertFalse(s.contains("e"), s)
            XCTAssertEqual(Double(s), d, s)
        }
    }

    func testStringEscapes() {
        check(#"workflow w { s: "a\tb \"q\" \\ \$X ${inputs.x} $" }"#,
              "workflow w {\n  s: \"a\\tb \\\"q\\\" \\\\ \\$X ${inputs.x} \\$\"\n}\n")
        check(#"workflow w { s: "${ inputs.a +1 }" }"#, "workflow w {\n  s: \"${inputs.a + 1}\"\n}\n")
    }

    func testMultiLineStringsBecomeBlocks() {
        check(#"workflow w { task t { prompt: "one\ntwo ${inputs.x}\n" } }"#,
              "workflow w {\n  task t {\n    prompt: \"\"\"\n      one\n      two ${inputs.x}\n      \"\"\"\n  }\n}\n")
        // Every line indented: the dedent rule would eat the indentation, so it stays escaped.
        check(#"workflow w { s: "  a\n  b" }"#, "workflow w {\n  s: \"  a\\n  b\"\n}\n")
    }

    /// The `"""` printer and the parser's `dedent` agree on every text of a small alphabet.
    func testTripleQuotedBlocksReadBackExactly() {
        let alphabet = ["\n", " ", "a", "\"", "\\", "$", "\t"]
        var texts: [String] = [""]
        for _ in 0..<4 { texts = texts.flatMap { t in alphabet.map { t + $0 } } }
        var blocks = 0
        for t in texts where t.contains("\n") {
            let parts: [StringPart] = [.text(t)]
            let s = FormatPrinter.tripleQuoted(parts, indent: 2)
            if FormatPrinter.readsBack(s, as: parts) { blocks += 1 }
            // Whatever form is chosen must read back.
            var printer = FormatPrinter(tree: SyntaxTree(file: 0, imports: [], items: [], comments: []),
                                        source: SourceFile(path: "", text: ""))
            let lit = printer.expr(Expr(.string(parts), Span(file: 0, start: 0, end: 0)), indent: 2, column: 4)
            XCTAssertTrue(FormatPrinter.readsBack(lit, as: parts), "\(t.debugDescription) -> \(lit)")
        }
        XCTAssertGreaterThan(blocks, 500, "most multi-line texts should print as blocks")
    }

    func testMinimalParentheses() {
        check("workflow w { a: (1 + 2) * 3, b: 1 + (2 * 3), c: 1 - (2 - 3), d: (1 - 2) - 3 }",
              "workflow w {\n  a: (1 + 2) * 3\n  b: 1 + 2 * 3\n  c: 1 - (2 - 3)\n  d: 1 - 2 - 3\n}\n")
        check("workflow w { a: (x == y) == z, b: !(x && y), c: -(-x), d: (-x).y, e: (x ?? y) ?? z }",
              "workflow w {\n  a: (x == y) == z\n  b: !(x && y)\n  c: - -x\n  d: (-x).y\n  e: x ?? y ?? z\n}\n")
    }

    func testBlocksAreMultiLineAndListsBreakPastTheWidth() {
        check("agent a { driver: exec, capabilities: [\"shell\"] }",
              "agent a {\n  driver: exec\n  capabilities: [\"shell\"]\n}\n")
        let long = (1...12).map { "\"item_\($0)\"" }.joined(separator: ", ")
        let out = fmt("workflow w { tags: [\(long)] }")
        XCTAssertTrue(out.contains("  tags: [\n    \"item_1\",\n"), out)
        XCTAssertTrue(out.contains("    \"item_12\",\n  ]\n"), out)
        check("enum E { a, b, }", "enum E { a, b }\n")
        check("type R { a: string, b: list[int]? }", "type R {\n  a: string\n  b: list[int]?\n}\n")
    }

    func testImportsFirstAndBlankLines() {
        check("error a\nimport \"std/retry\"\nerror b\n\n\n\nerror c",
              "import \"std/retry\"\n\nerror a\n\nerror b\n\nerror c\n")
        check("workflow w {\n  a: 1\n\n\n  b: 2\n  c: 3\n  task t { run: \"x\" }\n  d: 4\n}",
              "workflow w {\n  a: 1\n\n  b: 2\n  c: 3\n\n  task t {\n    run: \"x\"\n  }\n\n  d: 4\n}\n")
    }

    /// A unit belongs to its number on the same line only, so `time: 30m` followed by
    /// `tokens: ...` on the next line needs no separator to stay two members.
    func testNumberBeforeTokensKeyNeedsNoSeparator() {
        check("workflow w { budget { time: 30m, tokens: 5k tokens } }",
              "workflow w {\n  budget {\n    time: 30m\n    tokens: 5k tokens\n  }\n}\n")
        check("workflow w { budget { money: $5, time: 1h\n tokens: 200k tokens } }",
              "workflow w {\n  budget {\n    money: $5\n    time: 1h\n    tokens: 200k tokens\n  }\n}\n")
    }

    func testCommentPlacement() {
        check("# head\n\nagent a { # open\n  # lead\n  driver: exec # trail\n  # end\n} # after\n",
              "# head\n\nagent a { # open\n  # lead\n  driver: exec # trail\n  # end\n} # after\n")
        check("workflow w { xs: [1, # one\n 2] }", "workflow w {\n  xs: [\n    1, # one\n    2,\n  ]\n}\n")
        check("workflow w { x: a && # why\n b }", "workflow w {\n  # why\n  x: a && b\n}\n")
    }

    func testSyntaxErrorsAreNeverFormatted() {
        let src = SourceFile(path: "bad.ezflow", text: "workflow w { task t { run: } }")
        guard case .syntaxErrors(let d) = Formatter.reformat(src) else { return XCTFail("formatted a broken file") }
        XCTAssertFalse(d.isEmpty)
    }

    /// Trees from the YAML surface have spans into another text and no comments: the
    /// printer relies on values only.
    func testTreeWithoutSourcePositions() {
        let z = Span(file: 0, start: 0, end: 0)
        var agent = Block(kind: Name("agent", z), name: Name("a", z), span: z)
        agent.hasBody = true
        agent.members = [
            .attribute(Attribute(key: Name("driver", z), value: Expr(.name("exec"), z), span: z)),
            .attribute(Attribute(key: Name("cost_per_call", z), value: Expr(.money(1_500_000), z), span: z)),
            .attribute(Attribute(key: Name("run", z), value: Expr(.string([.text("a\nb\n")]), z), span: z)),
        ]
        let tree = SyntaxTree(file: 0, imports: [], items: [agent], comments: [])
        let out = Formatter.format(tree, source: SourceFile(path: "a.ezflow.yaml", text: "agent:\n\n\n  a: {}\n"))
        XCTAssertEqual(out, "agent a {\n  driver: exec\n  cost_per_call: $1.50\n  run: \"\"\"\n    a\n    b\n    \"\"\"\n}\n")
    }
}
