import EzflowCompiler
import EzflowDiagnostics
import EzflowTestSupport
import Foundation
import XCTest

/// Every ```` ```ezflow ```` block of README.md and docs/*.md is checked, so the docs
/// cannot drift from the compiler. The info string says what the block must do:
///
/// - ```` ```ezflow ````: checks clean (no error, no warning);
/// - ```` ```ezflow expect-error E0301 ```` (or `expect-warning W0104`): reports that
///   code and no other;
/// - `file=NAME.ezflow` names the file in the output (default `example.ezflow`).
///
/// A ```` ```text ```` block right after an `expect-…` block that starts with `error[` or
/// `warning[` is the output a reader is promised: it must equal what `ezc check`
/// prints for the block (without the summary line). Any other word in the info
/// string is a mistake, so a misspelt marker cannot make a block pass unchecked.
final class DocsExampleTests: XCTestCase {
    struct Block {
        var file: String
        var line: Int
        var info: [String]
        var text: String
        /// The output block that follows, if any.
        var output: String?
    }

    static var documents: [String] { ["README.md"] + Repo.files(in: "docs", ext: [".md"]) }

    /// The fenced blocks of a Markdown text whose language is `ezflow`.
    static func blocks(of path: String, _ markdown: String) -> [Block] {
        let lines = markdown.components(separatedBy: "\n")
        var fences: [(line: Int, info: [String], body: String)] = []
        var i = 0
        // A fence may be indented (inside a list item); its lines lose that indentation.
        func fence(_ line: String) -> (indent: Int, rest: Substring)? {
            let indent = line.prefix { $0 == " " }.count
            let rest = line.dropFirst(indent)
            return rest.hasPrefix("```") ? (indent, rest.dropFirst(3)) : nil
        }
        while i < lines.count {
            guard let open = fence(lines[i]) else { i += 1; continue }
            let info = open.rest.split(separator: " ").map(String.init)
            var body: [String] = []
            var j = i + 1
            while j < lines.count, fence(lines[j]) == nil {
                body.append(String(lines[j].dropFirst(min(open.indent, lines[j].prefix { $0 == " " }.count))))
                j += 1
            }
            fences.append((i + 1, info, body.joined(separator: "\n") + "\n"))
            i = j + 1
        }
        var out: [Block] = []
        for (k, f) in fences.enumerated() where f.info.first == "ezflow" {
            var b = Block(file: path, line: f.line, info: Array(f.info.dropFirst()), text: f.body)
            if k + 1 < fences.count, fences[k + 1].info.first == "text",
               fences[k + 1].body.hasPrefix("error[") || fences[k + 1].body.hasPrefix("warning[") {
                b.output = fences[k + 1].body
            }
            out.append(b)
        }
        return out
    }

    /// What the info string asks for: the one expected code (nil: clean) and the file name.
    static func expectation(_ info: [String]) -> (code: String?, file: String, bad: [String]) {
        var code: String?, file = "example.ezflow", bad: [String] = []
        var i = 0
        while i < info.count {
            let w = info[i]
            if (w == "expect-error" || w == "expect-warning"), i + 1 < info.count,
               let entry = Catalogue.all.first(where: { $0.code == info[i + 1] }),
               (w == "expect-error") == (entry.code.first == "E") {
                code = entry.code
                i += 2
                continue
            }
            if w.hasPrefix("file="), w.hasSuffix(".ezflow") { file = String(w.dropFirst(5)) } else { bad.append(w) }
            i += 1
        }
        return (code, file, bad)
    }

    func testEveryEzflowBlockInTheDocsChecksAsMarked() throws {
        var checked = 0
        for doc in Self.documents {
            let markdown = try String(contentsOf: Repo.url(doc), encoding: .utf8)
            for b in Self.blocks(of: doc, markdown) {
                let at = "\(b.file):\(b.line)"
                let want = Self.expectation(b.info)
                XCTAssertEqual(want.bad, [], "\(at): unknown words in the info string (expect-error E…, expect-warning W…, file=NAME.ezflow)")
                let result = Compiler.check(root: want.file, files: [want.file: b.text], stdlibRoot: Repo.url("stdlib").path)
                let rendered = TextRenderer(color: false).render(result.diagnostics, sources: result.sources)
                let codes = Set(result.diagnostics.map(\.code))
                if let code = want.code {
                    XCTAssertEqual(codes, [code], "\(at): the block is marked to report exactly \(code):\n\(rendered)")
                } else {
                    XCTAssertEqual(codes, [], "\(at): the block must check clean (or be marked expect-error CODE):\n\(rendered)")
                }
                if let shown = b.output {
                    XCTAssertNotNil(want.code, "\(at): an output block follows a block that is not marked expect-…")
                    XCTAssertEqual(shown.trimmingCharacters(in: .newlines), rendered.trimmingCharacters(in: .newlines),
                                   "\(at): the output shown after the block is not what `ezc check` prints")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 4, "the examples of README.md and docs/DRIVERS.md were not found")
    }

    /// The marker grammar itself: a marker naming an unknown code, or an error code under
    /// `expect-warning`, is refused rather than read as "clean".
    func testMarkersAreRead() {
        XCTAssertEqual(Self.expectation(["expect-error", "E0301"]).code, "E0301")
        XCTAssertEqual(Self.expectation(["expect-warning", "W0104", "file=ci.ezflow"]).file, "ci.ezflow")
        XCTAssertEqual(Self.expectation(["expect-error", "E9999"]).bad, ["expect-error", "E9999"])
        XCTAssertEqual(Self.expectation(["expect-warning", "E0301"]).bad, ["expect-warning", "E0301"])
        XCTAssertEqual(Self.expectation(["expect_error"]).bad, ["expect_error"])
        let md = "x\n```ezflow expect-error E0301\nworkflow w {}\n```\n\n```text\nerror[E0301]: x\n```\n"
        let b = Self.blocks(of: "t.md", md)
        XCTAssertEqual(b.count, 1)
        XCTAssertEqual(b.first?.line, 2)
        XCTAssertEqual(b.first?.output, "error[E0301]: x\n")
        let indented = Self.blocks(of: "t.md", "- item:\n\n  ```ezflow\n  workflow w {\n    task t {}\n  }\n  ```\n")
        XCTAssertEqual(indented.map(\.text), ["workflow w {\n  task t {}\n}\n"])
    }
}
