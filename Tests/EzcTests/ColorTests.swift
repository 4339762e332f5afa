// `ezc` colour as a user at a terminal sees it: the built binary on a pseudo-terminal and on
// a pipe, with each of --color, NO_COLOR (empty or not) and TERM=dumb. The same decision
// as ezrun's (`TerminalColor`; TerminalTests in EzflowRunnerTests).
import EzflowTestSupport
import Foundation
import XCTest

final class ColorTests: XCTestCase {
    /// An unclosed `{`: one error, which every command that reads the file reports.
    static let broken = "agent sh { driver: exec, capabilities: [\"shell\"] }\nworkflow w {\n  task a { run: \"true\" \n"

    let red = "\u{1B}[1;31merror"

    func onTerminal(_ args: [String], _ env: [String: String], in dir: TempDir) -> String {
        let r = runInTerminal(ezcBinary(), args, cwd: dir.url, environment: terminalEnvironment(env))
        return String(decoding: r.output, as: UTF8.self)
    }

    func testCheckAndBuildColourByFlagNoColorAndTerm() {
        let dir = TempDir()
        defer { dir.remove() }
        dir.write("w.ezflow", Self.broken)
        let cases: [([String], [String: String], Bool, String)] = [
            ([], ["TERM": "xterm"], true, "auto on a terminal"),
            ([], ["TERM": "xterm", "NO_COLOR": ""], true, "NO_COLOR set but empty does not count (no-color.org)"),
            ([], ["TERM": "xterm", "NO_COLOR": "1"], false, "NO_COLOR non-empty"),
            ([], ["TERM": "dumb"], false, "TERM=dumb"),
            (["--color", "never"], ["TERM": "xterm"], false, "--color never"),
            (["--color", "always"], ["TERM": "xterm", "NO_COLOR": "1"], true, "--color always wins over NO_COLOR"),
            (["--color", "always"], ["TERM": "dumb"], true, "--color always wins over TERM=dumb"),
        ]
        for command in [["check", "w.ezflow"], ["build", "w.ezflow", "-o", "w.ezir"]] {
            for (flags, env, coloured, why) in cases {
                let text = onTerminal(command + flags, env, in: dir)
                XCTAssertTrue(text.contains("E0105"), "\(command) \(why): \(text.debugDescription)")
                XCTAssertEqual(text.contains(red), coloured, "\(command) \(why): \(text.debugDescription)")
                XCTAssertEqual(text.contains("\u{1B}"), coloured, "\(command) \(why): no escape at all when plain")
            }
            // A pipe is not a terminal: plain unless `always`.
            let piped = runProcess(ezcBinary(), command, cwd: dir.url, environment: terminalEnvironment(["TERM": "xterm"]))
            XCTAssertFalse(piped.stderr.contains("\u{1B}"), piped.stderr.debugDescription)
            XCTAssertTrue(piped.stderr.contains("error: 1 error emitted"), "one error, not `1 errors`: \(piped.stderr)")
            let forced = runProcess(ezcBinary(), command + ["--color", "always"], cwd: dir.url, environment: terminalEnvironment())
            XCTAssertTrue(forced.stderr.contains(red), forced.stderr.debugDescription)
        }
    }

    /// `fmt` and `graph` take no --color; they colour as `auto`, with the same rules.
    func testFmtAndGraphColourAsAuto() {
        let dir = TempDir()
        defer { dir.remove() }
        dir.write("w.ezflow", Self.broken)
        for command in [["fmt", "w.ezflow"], ["graph", "w.ezflow"]] {
            XCTAssertTrue(onTerminal(command, ["TERM": "xterm", "NO_COLOR": ""], in: dir).contains(red), "\(command)")
            XCTAssertFalse(onTerminal(command, ["TERM": "xterm", "NO_COLOR": "yes"], in: dir).contains("\u{1B}"), "\(command)")
            XCTAssertFalse(onTerminal(command, ["TERM": "dumb"], in: dir).contains("\u{1B}"), "\(command)")
        }
    }
}
