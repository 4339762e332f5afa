import EzflowCLI
import XCTest

/// The grammar every command shares (EzflowCLI/Parser.swift), on a small table.
final class CommandLineParserTests: XCTestCase {
    let tool = Tool(
        name: "t", version: "9", summary: "a test tool",
        commands: [
            CommandSpec("go", "go somewhere",
                        arguments: [Argument("FILE", "files", variadic: true, complete: .file)],
                        flags: [Flag("--output", short: "-o", value: "OUT", "out"), Flag("--quiet", "hush"),
                                Flag.choice("--mode", value: "M", ["a", "b"], "mode"), Flag("--tag", value: "T", "tag", repeatable: true)]),
            CommandSpec("one", "exactly one", arguments: [Argument("X", "x"), Argument("Y", "y", optional: true)]),
        ],
        exitCodes: [ExitCode(0, "ok")])

    func invoke(_ argv: [String]) -> Invocation? {
        if case .invoke(let inv) = tool.parse(argv) { return inv }
        return nil
    }

    func error(_ argv: [String]) -> String? {
        if case .output(let text, true, 2) = tool.parse(argv) { return String(text.split(separator: "\n")[0]) }
        return nil
    }

    func testFlagForms() {
        let inv = invoke(["go", "--output=x.json", "-o", "y.json", "--quiet", "--tag", "a", "--tag=b", "f1", "-", "--", "--not-a-flag"])
        XCTAssertEqual(inv?.value("--output"), "y.json")
        XCTAssertEqual(inv?.all("--tag"), ["a", "b"])
        XCTAssertEqual(inv?.positional, ["f1", "-", "--not-a-flag"])
        XCTAssertTrue(inv?.has("--quiet") ?? false)
        XCTAssertFalse(inv?.has("--mode") ?? true)
    }

    func testErrorsNameWhatIsWrong() {
        XCTAssertEqual(error(["go", "--output"]), "t go: `--output` needs a value (OUT)")
        XCTAssertEqual(error(["go", "--quiet=yes", "f"]), "t go: `--quiet` takes no value")
        XCTAssertEqual(error(["go", "--mode", "c", "f"]), "t go: `--mode` takes a or b, not `c`")
        XCTAssertEqual(error(["go"]), "t go: missing FILE")
        XCTAssertEqual(error(["one"]), "t one: missing X")
        XCTAssertEqual(error(["one", "a", "b", "c"]), "t one: unexpected argument `c`")
        XCTAssertEqual(error(["go", "-x", "f"]), "t go: unknown option `-x`")
        XCTAssertEqual(error(["gp"]), "t: unknown command `gp` (did you mean `go`?)")
        XCTAssertEqual(error(["--frob"]), "t: unknown option `--frob`")
        XCTAssertEqual(error(["completions", "tcsh"]), "t completions: SHELL is bash, zsh or fish, not `tcsh`")
    }

    func testHelpWinsAnywhereButInAValue() {
        guard case .output(let text, false, 0) = tool.parse(["go", "f", "--help"]) else { return XCTFail() }
        XCTAssertTrue(text.hasPrefix("t go: go somewhere\n\nusage: t go [OPTIONS] FILE...\n"), text)
        // After `-o`, `--help` is the file name asked for.
        XCTAssertEqual(invoke(["go", "-o", "--help", "f"])?.value("--output"), "--help")
    }

    func testHelpTextListsEveryFlagOnce() {
        guard case .output(let text, _, _) = tool.parse(["help", "go"]) else { return XCTFail() }
        XCTAssertEqual(text, """
            t go: go somewhere

            usage: t go [OPTIONS] FILE...

            arguments:
              FILE...  files

            options:
              -o, --output OUT  out
                  --quiet       hush
                  --mode M      mode: a or b
                  --tag T       tag (repeatable)
              -h, --help        print this help

            exit status:
              0  ok

            """)
    }
}
