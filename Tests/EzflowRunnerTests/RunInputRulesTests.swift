// `ezrun run --input` is held to the language's literal rules, as `ezc check` holds an
// input's default: a bare `5` is a plain int (never 5 ms), and the refusal carries the
// checker's help line. Driven through the built binaries.
import EzflowTestSupport
import Foundation
import XCTest

final class RunInputRulesTests: XCTestCase {
    static let workflow = """
        agent sh { driver: exec, capabilities: ["shell"] }
        type Item { name: string, tag: string?, wait: duration }
        enum Color { red, green }
        workflow w {
          input wait: duration = 1s
          input m: money = $2
          input k: tokens = 5 tokens
          input b: bool = true
          input i: int = 3
          input f: float = 0.5
          input c: Color = Color.red
          input ws: list[duration] = [1s]
          input items: list[Item] = [{ name: "z", wait: 1s }]
          input o: int? = null
          input s: string = "s"
          task a { run: "echo ${inputs.wait} ${inputs.m} ${inputs.k} ${inputs.b} ${inputs.i} ${inputs.f} ${inputs.c} ${inputs.ws[0]} ${inputs.items[0].wait} ${inputs.o}" }
        }
        """

    /// The defaults, as the task prints them.
    static let defaults = ["1000", "2000000", "5", "true", "3", "0.5", "red", "1000", "1000", ""]

    func setUpDir() -> String {
        let dir = tempDir("inputs")
        write(Self.workflow, to: dir + "/w.ezflow")
        return dir
    }

    /// Runs `w` with one `--input`; the task's line (what it was given) or the refusal.
    func run(_ pair: String, in dir: String, id: String) -> (status: Int32, line: String, stderr: String) {
        let r = ezrun(["run", "w.ezflow", "--run-id", id, "--quiet", "--input", pair], in: dir)
        guard r.status == 0 else { return (r.status, "", r.stderr) }
        let logs = ezrun(["logs", id], in: dir)
        let line = logs.stdout.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        return (r.status, line, r.stderr)
    }

    func testABareNumberForADurationIsRefusedWithTheCheckersHelp() throws {
        let dir = setUpDir()
        let r = ezrun(["run", "w.ezflow", "--input", "wait=5"], in: dir)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.stderr, "ezrun: --input wait=5: input `wait` expects a duration, found a plain int; add a unit: `30s`, `10m` or `2h`\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/.ezflow/ezflow.db"), "nothing was written")
        // The checker refuses the same `5` as a default with the same help line.
        write(Self.workflow.replacingOccurrences(of: "input wait: duration = 1s", with: "input wait: duration = 5"), to: dir + "/bare.ezflow")
        let check = runProcess(Repo.executable("ezc"), ["check", "bare.ezflow"], cwd: URL(fileURLWithPath: dir))
        XCTAssertEqual(check.status, 1, check.stderr)
        XCTAssertTrue(check.stderr.contains("expects a duration, found a plain int"), check.stderr)
        XCTAssertTrue(check.stderr.contains("= help: add a unit: `30s`, `10m` or `2h`\n"), check.stderr)
    }

    func testADurationWithItsUnitReachesTheJournalInMilliseconds() throws {
        let dir = setUpDir()
        let r = run("wait=5s", in: dir, id: "d1")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.line.split(separator: " ").first, "5000")
        let export = ezrun(["replay", "d1", "--export", "d1.jsonl"], in: dir)
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertTrue(read(dir + "/d1.jsonl").contains(#""stdout":"5000 2000000 5 true 3 0.5 red 1000 1000 ""#), read(dir + "/d1.jsonl"))
    }

    /// Each typed kind: what is accepted (and the value the task sees, in IR units) and
    /// what is refused (the exact line), hostile text included.
    func testEveryTypedInputKindFollowsTheLiteralRules() throws {
        let dir = setUpDir()
        let accepted: [(String, Int, String)] = [
            ("wait=1.5s", 0, "1500"), ("wait=250ms", 0, "250"), ("wait=2h", 0, "7200000"), ("wait=1_000ms", 0, "1000"),
            ("m=$2.50", 1, "2500000"), ("m=$0.000001", 1, "1"), ("k=200k tokens", 2, "200000"), ("k=2M tokens", 2, "2000000"),
            ("k=1500 tokens", 2, "1500"), ("b=false", 3, "false"), ("i=-3", 4, "-3"), ("i=1_000", 4, "1000"), ("f=1", 5, "1"),
            ("f=-0.25", 5, "-0.25"), ("c=green", 6, "green"), (#"ws=["5s", "10m"]"#, 7, "5000"),
            (#"items=[{"name": "a", "wait": "2s"}]"#, 8, "2000"), ("o=7", 9, "7"), ("o=null", 9, ""),
        ]
        for (n, (pair, field, value)) in accepted.enumerated() {
            let r = run(pair, in: dir, id: "a\(n)")
            XCTAssertEqual(r.status, 0, "\(pair): \(r.stderr)")
            var want = Self.defaults
            want[field] = value
            XCTAssertEqual(r.line, want.joined(separator: " "), pair)
        }
        let refused: [(String, String)] = [
            ("wait=5", "input `wait` expects a duration, found a plain int; add a unit: `30s`, `10m` or `2h`"),
            ("wait=1.5", "input `wait` expects a duration, found a plain float; add a unit: `30s`, `10m` or `2h`"),
            ("wait=", "input `wait` expects a duration, found ``; write `30s`, `10m` or `2h`"),
            ("wait=1h30m", "input `wait` expects a duration, found `1h30m`; write `30s`, `10m` or `2h`"),
            ("wait=-5s", "input `wait` expects a duration, found `-5s`; write `30s`, `10m` or `2h`"),
            ("wait=5 s", "input `wait` expects a duration, found `5 s`; write `30s`, `10m` or `2h`"),
            ("wait=1.0001ms", "input `wait` expects a duration, found `1.0001ms`, out of range (at most 106751991167d); write `30s`, `10m` or `2h`"),
            ("wait=$5", "input `wait` expects a duration, found a money amount; write `30s`, `10m` or `2h`"),
            ("m=2.50", "input `m` expects a money amount, found a plain float; add a unit: `$2.50`"),
            ("m=.50", "input `m` expects a money amount, found `.50`; write `$2.50`"),
            ("m=$", "input `m` expects a money amount, found `$`; write `$2.50`"),
            ("m=$1.0000001", "input `m` expects a money amount, found `$1.0000001`, out of range (at most $9223372036854); write `$2.50`"),
            ("k=2000", "input `k` expects a token count, found a plain int; add a unit: `200k tokens`"),
            ("k=200k", "input `k` expects a token count, found `200k`; write `200k tokens`"),
            ("k=200m tokens", "input `k` expects a token count, found `200m tokens`; write `200k tokens`"),
            ("k=1.5 tokens", "input `k` expects a token count, found `1.5 tokens`, out of range (at most 9223372036854775807 tokens); write `200k tokens`"),
            ("b=1", "input `b` expects a bool, found a plain int; write `true` or `false`"),
            ("b=True", "input `b` expects a bool, found `True`; write `true` or `false`"),
            ("i=1e3", "input `i` expects a plain int, found `1e3`; write `3`"),
            ("i=0x10", "input `i` expects a plain int, found `0x10`; write `3`"),
            ("i=5s", "input `i` expects a plain int, found a duration; write `3`"),
            ("i=99999999999999999999", "input `i` expects a plain int, found `99999999999999999999`, out of range (at most 9223372036854775807); write `3`"),
            ("f=nan", "input `f` expects a plain float, found `nan`; write `0.5`"),
            ("f=inf", "input `f` expects a plain float, found `inf`; write `0.5`"),
            ("c=blue", "input `c` expects one of red, green, found `blue`"),
            ("o=x", "input `o` expects a plain int, found `x`; write `3`"),
            ("ws=[5]", "input `ws`[0] expects a duration, found a plain int; add a unit: `30s`, `10m` or `2h`, as a JSON string"),
            (#"ws=["5"]"#, "input `ws`[0] expects a duration, found a plain int; add a unit: `30s`, `10m` or `2h`, as a JSON string"),
            (#"ws=["5s", 1]"#, "input `ws`[1] expects a duration, found a plain int; add a unit: `30s`, `10m` or `2h`, as a JSON string"),
            ("ws=5s", "input `ws` expects `list[duration]` written as JSON, found `5s` (invalid JSON at byte 1: unexpected bytes after the document); write a JSON list, e.g. `[...]`"),
            (#"items=[{"name": "a"}]"#, "input `items`[0].wait expects a duration, found nothing; add `\"wait\": …`; only optional fields may be left out"),
            (#"items=[{"name": 1, "wait": "1s"}]"#, "input `items`[0].name expects a string, found a plain int"),
            (#"items=[{"name": "a", "wait": "1s", "x": 1}]"#, "input `items`[0] expects only the fields name, tag, wait, found the field `x`; remove it"),
            (#"items={"name": "a"}"#, "input `items` expects `list[Item]`, found an object; write a JSON list, e.g. `[...]`"),
            // Hostile text stays on one line, escaped, and long text is cut.
            ("wait=5\u{1B}[31m\nX", "input `wait` expects a duration, found `5\\u{1b}[31m\\u{a}X`; write `30s`, `10m` or `2h`"),
            ("wait=`id`", "input `wait` expects a duration, found `\\u{60}id\\u{60}`; write `30s`, `10m` or `2h`"),
            ("wait=" + String(repeating: "9", count: 200) + "s",
             "input `wait` expects a duration, found `" + String(repeating: "9", count: 60) + "…" + String(repeating: "9", count: 15)
                + "s`, out of range (at most 106751991167d); write `30s`, `10m` or `2h`"),
        ]
        for (pair, message) in refused {
            let r = ezrun(["run", "w.ezflow", "--input", pair], in: dir)
            XCTAssertEqual(r.status, 2, "\(pair): \(r.stderr)")
            let shown = pair.count > 80 ? nil : pair.replacingOccurrences(of: "\u{1B}", with: "\\u{1b}").replacingOccurrences(of: "\n", with: "\\u{a}")
                .replacingOccurrences(of: "`", with: "\\u{60}")
            if let shown { XCTAssertEqual(r.stderr, "ezrun: --input \(shown): \(message)\n", pair) } else {
                XCTAssertTrue(r.stderr.hasSuffix(": \(message)\n"), r.stderr)
            }
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "one line: \(r.stderr)")
        }
    }
}
