import EzflowDiagnostics
import Foundation
import XCTest

final class CatalogueTests: XCTestCase {
    /// docs/codes.txt is the published list; the catalogue must match it code for code,
    /// with the same severity and title, in both directions.
    func testCatalogueMatchesCodesTxt() throws {
        let text = try String(contentsOf: Repo.root.appendingPathComponent("docs/codes.txt"), encoding: .utf8)
        var listed: [String: (severity: String, title: String)] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.allSatisfy(\.isWhitespace) {
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            XCTAssertEqual(fields.count, 3, "malformed line in codes.txt: \(line)")
            guard fields.count == 3 else { continue }
            let code = String(fields[0])
            XCTAssertNil(listed[code], "\(code) listed twice in codes.txt")
            listed[code] = (String(fields[1]), fields[2].trimmingCharacters(in: .whitespaces))
        }
        XCTAssertFalse(listed.isEmpty)

        for (code, doc) in listed.sorted(by: { $0.key < $1.key }) {
            guard let entry = Catalogue.entries[code] else {
                XCTFail("\(code) is in docs/codes.txt but has no catalogue entry")
                continue
            }
            XCTAssertEqual(entry.severity.rawValue, doc.severity, code)
            XCTAssertEqual(entry.title, doc.title, code)
        }
        for code in Catalogue.entries.keys.sorted() where listed[code] == nil {
            XCTFail("\(code) has a catalogue entry but is not in docs/codes.txt")
        }
    }

    /// docs/DIAGNOSTICS.md, which editors link to, is the catalogue as markdown.
    func testDiagnosticsReferenceIsGenerated() throws {
        let url = Repo.root.appendingPathComponent("docs/DIAGNOSTICS.md")
        let expected = Catalogue.markdown()
        if ProcessInfo.processInfo.environment["EZFLOW_UPDATE_GOLDEN"] == "1" { try Data(expected.utf8).write(to: url) }
        let actual = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        XCTAssertEqual(actual, expected, "docs/DIAGNOSTICS.md is stale: EZFLOW_UPDATE_GOLDEN=1 swift test --filter CatalogueTests")
        XCTAssertTrue(actual.contains("<a id=\"E0200\"></a>\n\n## E0200: cannot find name in scope\n"))
    }

    func testEntriesAreSortedAndIndexed() {
        let codes = Catalogue.all.map(\.code)
        XCTAssertEqual(codes, codes.sorted())
        XCTAssertEqual(Set(codes).count, codes.count)
        XCTAssertEqual(Catalogue.entries.count, codes.count)
        for e in Catalogue.all {
            XCTAssertNotNil(e.code.wholeMatch(of: /[EW]0[0-9]{3}/), e.code)
            XCTAssertEqual(e.severity, e.code.hasPrefix("E") ? .error : .warning, e.code)
        }
    }

    func testExplainIsCaseInsensitive() throws {
        let text = try XCTUnwrap(Catalogue.explain("e0400"))
        XCTAssertTrue(text.hasPrefix("E0400: dependency cycle\n\nTasks depend on each other in a loop."))
        XCTAssertTrue(text.hasSuffix("\n"))
        XCTAssertFalse(text.hasSuffix("\n\n"))
        XCTAssertEqual(Catalogue.explain("E0400"), text)
        XCTAssertEqual(Catalogue.explain(" w0100\n"), Catalogue.explain("W0100"))
        XCTAssertNil(Catalogue.explain("E9999"))
        XCTAssertNil(Catalogue.explain(""))
        XCTAssertEqual(Catalogue.entry("w0600")?.code, "W0600")
    }

    /// Every explanation follows one layout: a paragraph with the rule and its reason,
    /// then an erroneous and a corrected example, in plain text that fits a terminal.
    func testExplanationLayout() throws {
        for e in Catalogue.all {
            let text = try XCTUnwrap(Catalogue.explain(e.code))
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            for line in lines {
                XCTAssertLessThanOrEqual(line.count, 80, "\(e.code): line too long: \(line)")
                XCTAssertFalse(line.hasSuffix(" "), "\(e.code): trailing space: \(line)")
                XCTAssertFalse(line.contains("\t"), "\(e.code): tab in: \(line)")
            }
            let bad = try XCTUnwrap(
                lines.firstIndex { $0.hasPrefix("Erroneous example") && $0.hasSuffix(":") }, "\(e.code)")
            let good = try XCTUnwrap(
                lines.firstIndex { $0.hasPrefix("Corrected example") && $0.hasSuffix(":") }, "\(e.code)")
            XCTAssertLessThan(bad, good, e.code)
            XCTAssertFalse(example(after: bad, in: lines).isEmpty, "\(e.code): empty erroneous example")
            XCTAssertFalse(example(after: good, in: lines).isEmpty, "\(e.code): empty corrected example")

            XCTAssertFalse(e.summary.isEmpty, e.code)
            XCTAssertFalse(e.summary.contains("\n"), e.code)
            XCTAssertTrue(e.summary.hasSuffix("."), "\(e.code): summary should be whole sentences")
        }
    }

    /// Examples are ezflow, so their brackets, strings and interpolations must nest
    /// properly, except in the examples of the errors that are about exactly that.
    func testExamplesAreBalanced() throws {
        let unbalancedOnPurpose: Set<String> = ["E0101", "E0105"]
        for e in Catalogue.all {
            let lines = e.explanation.split(separator: "\n", omittingEmptySubsequences: false)
            for (i, line) in lines.enumerated() where line.hasSuffix("example:") || line.hasSuffix("):") {
                let erroneous = line.hasPrefix("Erroneous")
                if erroneous && unbalancedOnPurpose.contains(e.code) { continue }
                let code = example(after: i, in: lines)
                XCTAssertNil(Self.imbalance(code), "\(e.code), \(line)\n\(code)")
            }
        }
    }

    /// The indented block that follows line `index` (skipping blank lines).
    private func example(after index: Int, in lines: [Substring]) -> String {
        var block: [Substring] = []
        for line in lines[(index + 1)...] {
            if line.isEmpty { block.append(line); continue }
            guard line.hasPrefix("    ") else { break }
            block.append(line.dropFirst(4))
        }
        return block.joined(separator: "\n").trimmingCharacters(in: .newlines)
    }

    /// Nil when every bracket, string and `${...}` closes in order; otherwise what went wrong.
    static func imbalance(_ code: String) -> String? {
        enum Frame { case bracket(Character), string(triple: Bool), interpolation }
        var stack: [Frame] = []
        let chars = Array(code)
        var i = 0
        func at(_ s: String) -> Bool { chars[i...].starts(with: s) }
        while i < chars.count {
            let c = chars[i]
            switch stack.last {
            case .string(let triple)?:
                if c == "\\" { i += 2; continue }
                if at("${") { stack.append(.interpolation); i += 2; continue }
                if triple && at("\"\"\"") { stack.removeLast(); i += 3; continue }
                if !triple && c == "\n" { return "string not closed on its line" }
                if !triple && c == "\"" { stack.removeLast() }
            default:
                if c == "#" {
                    while i < chars.count && chars[i] != "\n" { i += 1 }
                    continue
                }
                if at("\"\"\"") { stack.append(.string(triple: true)); i += 3; continue }
                if c == "\"" { stack.append(.string(triple: false)) }
                if "([{".contains(c) { stack.append(.bracket(c)) }
                if ")]}".contains(c) {
                    let want: Character = c == ")" ? "(" : c == "]" ? "[" : "{"
                    switch stack.popLast() {
                    case .bracket(want)?: break
                    case .interpolation? where c == "}": break
                    default: return "unmatched `\(c)`"
                    }
                }
            }
            i += 1
        }
        return stack.isEmpty ? nil : "\(stack.count) unclosed"
    }

    func testImbalanceChecker() {
        XCTAssertNil(Self.imbalance("task a { run: \"x ${join(l, \" \")} }\" } # }"))
        XCTAssertNotNil(Self.imbalance("task a { run: \"x\""))
        XCTAssertNotNil(Self.imbalance("a: [1, 2)"))
        XCTAssertNotNil(Self.imbalance("a: \"open\nb: 1"))
    }
}
