import EzflowCLI
import EzflowTestSupport
import Foundation
import XCTest

/// The docs' command tables come from the same table as the parser: docs/CLI.md and the
/// README's tables are generated (EZFLOW_UPDATE_GOLDEN=1 rewrites them), and every
/// `ezc …`/`ezrun …` command line quoted in the docs names only flags its command has.
final class CLIDocsTests: XCTestCase {
    static let tools: [Tool] = [.ezc, .ezrun, .ezbench]
    var update: Bool { ProcessInfo.processInfo.environment["EZFLOW_UPDATE_GOLDEN"] == "1" }

    func testCLIReferenceIsGeneratedFromTheTable() throws {
        let expected = """
            # Command-line reference

            Generated from the one table of commands and flags (`Sources/EzflowCLI/Tools`) that also
            drives parsing, `--help`, `help CMD`, shell completions and the man pages; the tests fail
            when this file differs (`EZFLOW_UPDATE_GOLDEN=1 swift test --filter CLIDocsTests` rewrites it).


            """ + Self.tools.map(Markdown.reference).joined()
        let url = Repo.url("docs/CLI.md")
        if update { try Data(expected.utf8).write(to: url) }
        let actual = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        XCTAssertEqual(actual, expected, "docs/CLI.md is stale: EZFLOW_UPDATE_GOLDEN=1 swift test --filter CLIDocsTests\n" + lineDiff(expected: expected, actual: actual))
    }

    func testReadmeTablesAreGenerated() throws {
        let url = Repo.url("README.md")
        var text = try String(contentsOf: url, encoding: .utf8)
        for tool in [Tool.ezc, .ezrun] {
            let begin = "<!-- generated from the command table: \(tool.name) -->\n", end = "<!-- end of generated table -->"
            guard let b = text.range(of: begin), let e = text.range(of: end, range: b.upperBound..<text.endIndex) else {
                return XCTFail("README.md has no generated table of \(tool.name) (\(begin.dropLast()))")
            }
            let table = Markdown.commandTable(tool)
            if update { text.replaceSubrange(b.upperBound..<e.lowerBound, with: table) }
            else { XCTAssertEqual(String(text[b.upperBound..<e.lowerBound]), table, "README's \(tool.name) table is stale") }
        }
        if update { try Data(text.utf8).write(to: url) }
    }

    /// docs/RUNNING.md's exit code table and `ezrun --help` list the same statuses.
    func testRunningDocsListTheTablesExitCodes() throws {
        let text = try String(contentsOf: Repo.url("docs/RUNNING.md"), encoding: .utf8)
        guard let start = text.range(of: "## Exit codes\n") else { return XCTFail("docs/RUNNING.md has no Exit codes section") }
        let section = text[start.upperBound...].prefix { _ in true }.components(separatedBy: "\n## ")[0]
        let documented = section.split(separator: "\n").compactMap { line -> Int32? in
            guard line.hasPrefix("| ") else { return nil }
            return Int32(line.dropFirst(2).prefix { $0.isNumber })
        }
        XCTAssertEqual(documented, Tool.ezrun.exitCodes.map(\.code))
    }

    /// `ezrun run FILE --junit F`, in a code span or block: every `--flag` after a
    /// command's name must be one of that command's flags.
    func testDocsQuoteOnlyRealFlags() throws {
        let files = ["README.md"] + Repo.files(in: "docs", ext: ["md"])
        var problems: [String] = []
        var checked = 0
        for file in files where file != "docs/CLI.md" {
            let text = try String(contentsOf: Repo.url(file), encoding: .utf8)
            for (n, line) in Self.logicalLines(text) {
                for tool in [Tool.ezc, .ezrun] {
                    for problem in Self.unknownFlags(in: line, tool: tool, checked: &checked) {
                        problems.append("\(file):\(n): \(problem)")
                    }
                }
            }
        }
        XCTAssertEqual(problems, [], problems.joined(separator: "\n"))
        XCTAssertGreaterThan(checked, 30, "the scan found almost no command lines: is it still reading the docs?")
    }

    /// Lines with their 1-based numbers; in a fenced block, an indented line continues the
    /// one before it (a usage synopsis wrapped over several lines).
    static func logicalLines(_ text: String) -> [(Int, String)] {
        var out: [(Int, String)] = []
        var fenced = false
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("```") { fenced.toggle() }
            if fenced, line.first == " ", let last = out.popLast() { out.append((last.0, last.1 + " " + line)) }
            else { out.append((n + 1, String(line))) }
        }
        return out
    }

    static func unknownFlags(in line: String, tool: Tool, checked: inout Int) -> [String] {
        var out: [String] = []
        let words = line.split(whereSeparator: { " `|()[],;".contains($0) }).map(String.init)
        var i = 0
        while i < words.count {
            guard words[i] == tool.name, i + 1 < words.count, var command = tool.command(words[i + 1]) else { i += 1; continue }
            var path = [words[i + 1]]
            i += 2
            if !command.subcommands.isEmpty, i < words.count, let sub = command.subcommand(words[i]) {
                command = sub
                path.append(words[i])
                i += 1
            }
            while i < words.count, words[i] != tool.name {
                let w = words[i]
                if w.hasPrefix("--") && w.count > 2 {
                    let name = String(w.split(separator: "=", maxSplits: 1)[0]).trimmingCharacters(in: CharacterSet(charactersIn: ".…:"))
                    checked += 1
                    if name != "--help" && command.flag(name) == nil { out.append("`\(([tool.name] + path).joined(separator: " "))` has no `\(name)`") }
                }
                i += 1
            }
        }
        return out
    }
}
