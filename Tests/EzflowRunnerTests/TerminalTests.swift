// `ezrun run` on a real pseudo-terminal: the live status line ticks while a task says
// nothing, carries a progress bar, is erased before each ordinary line and at the end; on a
// pipe or with TERM=dumb no escape code is written; colour follows --color, NO_COLOR, TERM.
import EzflowTestSupport
import Foundation
import XCTest

final class TerminalTests: XCTestCase {
    /// One task that sleeps 3 s and prints nothing; a price, so money shows.
    static let nap = """
        agent sh { driver: exec, capabilities: ["shell"], cost_per_call: $0.002204 }
        workflow nap {
          task nap { run: "sleep 3" }
        }
        """

    /// Two tasks, the second fails (dead-lettered: no retry): red words to look for.
    static let failing = """
        agent sh { driver: exec, capabilities: ["shell"] }
        workflow broken {
          task ok { run: "true" }
          task bad { run: "exit 3" }
        }
        """

    func runOnTerminal(_ source: String, _ extra: [String] = [], env: [String: String] = ["TERM": "xterm-256color"],
                       columns: UInt16 = 120) -> (status: Int32, text: String) {
        let dir = tempDir("tty")
        write(source, to: dir + "/w.ezflow")
        let r = runInTerminal(Repo.executable("ezrun"), ["run", "w.ezflow", "--run-id", "r1"] + extra,
                              cwd: URL(fileURLWithPath: dir), environment: terminalEnvironment(env), columns: columns)
        return (r.status, String(decoding: r.output, as: UTF8.self))
    }

    /// The status lines drawn: every piece after a carriage return that starts with the bar.
    func statusLines(_ text: String) -> [String] {
        text.unicodeScalars.split { $0 == "\r" || $0 == "\n" }.map { String(String.UnicodeScalarView($0)) }
            .map { $0.hasPrefix("\u{1B}[K") ? String($0.dropFirst(3)) : $0 }
            .filter { $0.range(of: #"^\[[=> ]{18}\] "#, options: .regularExpression) != nil }
    }

    func testTheStatusLineTicksWhileATaskSaysNothing() throws {
        let r = runOnTerminal(Self.nap)
        XCTAssertEqual(r.status, 0, r.text)
        let lines = statusLines(r.text)
        // While `nap` sleeps: the bar empty, 0/1, the seconds counting up.
        let seconds = lines.compactMap { l -> Int? in
            guard l.hasPrefix("[>"), let m = l.range(of: #"\] 0/1 (\d+)s \| "#, options: .regularExpression) else { return nil }
            return Int(l[m].dropFirst(6).prefix { $0.isNumber })
        }
        XCTAssertGreaterThanOrEqual(seconds.count, 3, "redrawn at least 3 times during the sleep:\n\(r.text.debugDescription)")
        XCTAssertEqual(seconds, seconds.sorted(), "the elapsed time never goes back")
        XCTAssertGreaterThanOrEqual(Set(seconds).count, 3, "0s, 1s, 2s…: \(seconds)")
        XCTAssertTrue(lines.contains { $0.contains("1 running") && $0.contains("| nap") }, r.text.debugDescription)
        // The bar is full once the task is done; money by the one rule.
        XCTAssertTrue(lines.contains { $0.hasPrefix("[==================] 1/1 ") && $0.contains("$0.0022") }, r.text.debugDescription)
        XCTAssertTrue(r.text.contains("run r1 started: 1 task\r\n"), r.text.debugDescription)
        XCTAssertTrue(r.text.contains("(1 task, journal"), r.text.debugDescription)
        XCTAssertTrue(r.text.contains("$0.0022, 0 tokens"), r.text.debugDescription)
        // Every ordinary line starts on a clean line: after the erase or a newline, never
        // glued to a status line.
        for marker in ["[1/1] nap ", "run finished: "] {
            var from = r.text.startIndex
            while let m = r.text.range(of: marker, range: from..<r.text.endIndex) {
                let before = r.text[r.text.startIndex..<m.lowerBound]
                XCTAssertTrue(before.hasSuffix("\r\u{1B}[K") || before.unicodeScalars.last == "\n", "`\(marker)` after: \(before.suffix(60).debugDescription)")
                from = m.upperBound
            }
        }
        // The end: the status line erased, nothing after it but the erase.
        let tail = r.text.components(separatedBy: "run finished: ").last ?? ""
        XCTAssertTrue(tail.unicodeScalars.suffix(4).elementsEqual("\r\u{1B}[K".unicodeScalars), "erased at the end: \(tail.debugDescription)")
    }

    func testNoTerminalNoStatusLineNoEscapes() {
        let dir = tempDir("pipe")
        write(Self.nap, to: dir + "/w.ezflow")
        let r = runProcess(Repo.executable("ezrun"), ["run", "w.ezflow", "--run-id", "r1"], cwd: URL(fileURLWithPath: dir),
                           environment: terminalEnvironment(["TERM": "xterm-256color"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("\u{1B}"), r.stderr.debugDescription)
        XCTAssertFalse(r.stderr.contains("\r"), r.stderr.debugDescription)
        XCTAssertFalse(r.stderr.contains("] 0/1 "), r.stderr)
        XCTAssertEqual(r.stderr, """
            ezrun: run r1 of nap (1 task, journal .ezflow/ezflow.db)
            run r1 started: 1 task
            task nap started (attempt 1, sh)
            [1/1] nap succeeded in 3.0s (attempt 1, sh)
            run finished: success in 3.0s, $0.0022, 0 tokens

            """)
        // `status` prints money by the same rule.
        let st = runProcess(Repo.executable("ezrun"), ["status", "r1"], cwd: URL(fileURLWithPath: dir))
        XCTAssertTrue(st.stdout.contains("charged $0.0022, 0 tokens\n"), st.stdout)
    }

    /// TERM=dumb: a terminal that cannot redraw: no status line, no colour, no escape at all.
    func testDumbTerminalGetsPlainLines() {
        let r = runOnTerminal(Self.failing, env: ["TERM": "dumb"])
        XCTAssertEqual(r.status, 1, r.text)
        XCTAssertFalse(r.text.contains("\u{1B}"), r.text.debugDescription)
        XCTAssertTrue(r.text.contains("[2/2] bad dead-lettered after 1 attempt (last on sh)"), r.text.debugDescription)
        // `--color always` still colours (the flag wins), without a status line.
        let forced = runOnTerminal(Self.failing, ["--color", "always"], env: ["TERM": "dumb"])
        XCTAssertTrue(forced.text.contains("bad \u{1B}[31mdead-lettered\u{1B}[0m"), forced.text.debugDescription)
        XCTAssertFalse(forced.text.contains("\u{1B}[K"), forced.text.debugDescription)
    }

    /// NO_COLOR disables colour only when non-empty; --color never keeps the status line.
    func testColourFollowsTheFlagNoColorAndTerm() {
        let red = "\u{1B}[31mdead-lettered\u{1B}[0m", green = "\u{1B}[32m"
        let plain = runOnTerminal(Self.failing)
        XCTAssertTrue(plain.text.contains("bad " + red), plain.text.debugDescription)
        XCTAssertTrue(plain.text.contains("ok " + green + "succeeded"), plain.text.debugDescription)
        XCTAssertTrue(plain.text.contains("run finished: \u{1B}[31mfailed\u{1B}[0m"), plain.text.debugDescription)

        let empty = runOnTerminal(Self.failing, env: ["TERM": "xterm", "NO_COLOR": ""])
        XCTAssertTrue(empty.text.contains(red), "NO_COLOR= (empty) does not disable colour: \(empty.text.debugDescription)")

        for (extra, env) in [([], ["TERM": "xterm", "NO_COLOR": "1"]), (["--color", "never"], ["TERM": "xterm"])] {
            let r = runOnTerminal(Self.failing, extra, env: env)
            XCTAssertFalse(r.text.contains("\u{1B}[3"), "\(extra) \(env): \(r.text.debugDescription)")
            XCTAssertTrue(r.text.contains("\r\u{1B}[K"), "the status line stays: \(r.text.debugDescription)")
        }
        let always = runOnTerminal(Self.failing, ["--color", "always"], env: ["TERM": "xterm", "NO_COLOR": "1"])
        XCTAssertTrue(always.text.contains(red), "--color always over NO_COLOR: \(always.text.debugDescription)")

        let off = runOnTerminal(Self.failing, ["--no-progress"])
        XCTAssertFalse(off.text.contains("\u{1B}[K"), off.text.debugDescription)
        XCTAssertTrue(off.text.contains(red), off.text.debugDescription)

        // A pipe: colour only when asked for.
        let dir = tempDir("pipe")
        write(Self.failing, to: dir + "/w.ezflow")
        let piped = runProcess(Repo.executable("ezrun"), ["run", "w.ezflow", "--color", "always"], cwd: URL(fileURLWithPath: dir),
                               environment: terminalEnvironment(["TERM": "xterm"]))
        XCTAssertTrue(piped.stderr.contains(red), piped.stderr.debugDescription)
        XCTAssertFalse(piped.stderr.contains("\u{1B}[K"), piped.stderr.debugDescription)
        let bad = runProcess(Repo.executable("ezrun"), ["run", "w.ezflow", "--color", "sometimes"], cwd: URL(fileURLWithPath: dir))
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("`--color` takes auto, always or never, not `sometimes`"), bad.stderr)
    }
}
