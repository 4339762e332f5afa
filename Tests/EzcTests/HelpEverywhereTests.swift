import EzflowCLI
import EzflowTestSupport
import Foundation
import XCTest

/// Walks every command and subcommand of the three tools, from the one table, through the
/// built binaries: `-h`, `--help` and `help CMD` print that command's own help and exit 0;
/// an unknown flag gets one line naming it, that command's usage and exit 2.
final class HelpEverywhereTests: XCTestCase {
    static let tools: [Tool] = [.ezc, .ezrun, .ezbench]

    func binary(_ tool: Tool) -> URL { tool.name == "ezc" ? ezcBinary() : Repo.executable(tool.name) }

    func testEveryCommandAnswersHelpThreeWays() {
        var walked = 0
        for tool in Self.tools {
            for path in tool.paths {
                let summary = tool.command(at: path)!.summary
                let head = ([tool.name] + path).joined(separator: " ")
                var texts: [String] = []
                for args in [path + ["--help"], path + ["-h"], ["help"] + path] {
                    let r = runProcess(binary(tool), args, timeout: 20)
                    XCTAssertEqual(r.status, 0, "\(tool.name) \(args.joined(separator: " ")): \(r.stderr)")
                    XCTAssertEqual(r.stderr, "", "\(tool.name) \(args.joined(separator: " "))")
                    XCTAssertTrue(r.stdout.hasPrefix("\(head): \(summary)\n\nusage: \(head)"), "\(tool.name) \(args): \(r.stdout.prefix(300))")
                    XCTAssertTrue(r.stdout.contains("  -h, --help"), "\(args)")
                    texts.append(r.stdout)
                }
                XCTAssertEqual(Set(texts).count, 1, "\(head): the three ways print different help")
                walked += 1
            }
        }
        // ezc 9 (with help, completions, version, lsp), ezrun 21 (dlq and its 3, worker, coordinator, scale-hint, db and its 1), ezbench 11 (with lsp):
        // a table that lost a command fails here.
        XCTAssertEqual(walked, 43)
    }

    func testToolsAnswerHelpAndVersion() {
        for tool in Self.tools {
            for args in [["--help"], ["-h"], ["help"]] {
                let r = runProcess(binary(tool), args)
                XCTAssertEqual(r.status, 0)
                XCTAssertTrue(r.stdout.hasPrefix("\(tool.name) \(ezflowVersion): \(tool.summary)\n"), r.stdout)
                for c in tool.commands { XCTAssertTrue(r.stdout.contains("\n  \(c.name) "), "\(tool.name) help lacks \(c.name)") }
            }
            for args in [["--version"], ["version"]] {
                let r = runProcess(binary(tool), args)
                XCTAssertEqual(r.status, 0)
                XCTAssertEqual(r.stdout, "\(tool.name) \(ezflowVersion)\n")
            }
            // Bare: a usage error (what to type next), on standard error.
            let bare = runProcess(binary(tool), [])
            XCTAssertEqual(bare.status, 2)
            XCTAssertEqual(bare.stdout, "")
            XCTAssertEqual(bare.stderr, "\(tool.name): missing command\nusage: \(tool.name) COMMAND [OPTIONS] [ARGUMENTS]\nrun `\(tool.name) --help` for the commands\n")
        }
    }

    func testAnUnknownFlagIsNamedWithTheRightUsage() {
        for tool in Self.tools {
            for path in tool.paths where tool.command(at: path)!.subcommands.isEmpty {
                let c = tool.command(at: path)!
                let args = path + c.arguments.filter { !$0.optional }.map { _ in "x" } + ["--no-such-flag"]
                let r = runProcess(binary(tool), args)
                let head = ([tool.name] + path).joined(separator: " ")
                XCTAssertEqual(r.status, 2, "\(head)")
                XCTAssertEqual(r.stdout, "", "\(head)")
                let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
                XCTAssertEqual(lines.first.map(String.init), "\(head): unknown option `--no-such-flag`", "\(head): \(r.stderr)")
                XCTAssertTrue(lines.count > 1 && lines[1].hasPrefix("usage: \(head)"), "\(head): \(r.stderr)")
                XCTAssertTrue(r.stderr.hasSuffix("run `\(head) --help` for more\n"), r.stderr)
            }
        }
    }

    func testTypos() {
        let r = runEzc(["chek", "a.ezflow"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("ezc: unknown command `chek` (did you mean `check`?)\n"), r.stderr)
        let f = runEzc(["check", "--formt", "json", "a.ezflow"])
        XCTAssertTrue(f.stderr.hasPrefix("ezc check: unknown option `--formt` (did you mean `--format`?)\n"), f.stderr)
        let v = runEzc(["check", "--format", "xml", "a.ezflow"])
        XCTAssertEqual(v.status, 2)
        XCTAssertTrue(v.stderr.hasPrefix("ezc check: `--format` takes text, json, sarif or github, not `xml`\n"), v.stderr)
        let d = runProcess(Repo.executable("ezrun"), ["dlq", "lsit"])
        XCTAssertTrue(d.stderr.hasPrefix("ezrun dlq: unknown subcommand `lsit` (did you mean `list`?)\n"), d.stderr)
        let h = runProcess(Repo.executable("ezrun"), ["help", "stauts"])
        XCTAssertEqual(h.status, 2)
        XCTAssertTrue(h.stderr.hasPrefix("ezrun help: no command `stauts` (did you mean `status`?)\n"), h.stderr)
    }
}
