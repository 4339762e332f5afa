// No user-facing message names a task, agent or group by an internal number (docs/RUNTIME.md,
// "Names, never numbers, in what a person reads"). Several failing runs — a broken output
// contract, a budget stop, a deadline, a fan-out instance that dead-letters — and
// everything a person reads of them: the terminal, `--log`, JUnit, the summaries, OTLP,
// `ezrun status` and `ezrun logs`, scanned for an id where a name belongs.
import EzflowTestSupport
import Foundation
import XCTest

final class OutputNamingTests: XCTestCase {
    /// `task 0`, `agent #1`, `group 2`, `task3`, `agent: 0)`: how an id shows where a name belongs.
    static let idPattern = try! NSRegularExpression(pattern: #"\b(task|agent|group|fallback|join)\s*(#|:\s*)?-?\d+\b"#)

    static func ids(in text: String) -> [String] {
        idPattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { (text as NSString).substring(with: $0.range) }
    }

    func testThePatternFindsAnIdAndNotAName() {
        XCTAssertEqual(Self.ids(in: "render_error: task 0 output `patch` is missing"), ["task 0"])
        XCTAssertEqual(Self.ids(in: "running(attempt: 1, agent: 0)"), ["agent: 0"])
        XCTAssertEqual(Self.ids(in: "task `make`: output `patch` is missing; attempt 2 on sh; each[1]; stage2; Tasks: 1 succeeded"), [])
    }

    func testFailingRunsNameEverythingByItsDeclaredName() throws {
        let dir = tempDir("names")
        write(OutputContractRunTests.workflow(retry: "", always: true), to: dir + "/outs.ezflow")
        write(ReportTruthTests.budgeted, to: dir + "/bud.ezflow")
        write(ReportTruthTests.deadlined, to: dir + "/slow.ezflow")
        write(ReportTruthTests.shellAgent + """
            workflow fe {
              input items: list[string] = ["a", "b"]
              task each {
                for_each: inputs.items
                run: "if [ ${item} = b ]; then echo broken >&2; exit 3; fi; echo '{\\"n\\": 1}'"
                output n: int
                retry { attempts: 2, delay: 10ms, on: [agent_error] }
              }
              task count {
                run: "echo ${len(each.outputs.n)}"
              }
            }
            """, to: dir + "/fe.ezflow")
        var seen: [(String, String)] = []
        for (file, run, status) in [("outs", "n1", Int32(1)), ("bud", "n2", 3), ("slow", "n3", 3), ("fe", "n4", 1)] {
            let r = ezrun(["run", "\(file).ezflow", "--run-id", run, "--junit", "\(run).xml", "--summary", "\(run).json",
                           "--summary-md", "\(run).md", "--otlp", "\(run).otlp", "--log", "\(run).jsonl"], in: dir, timeout: 30)
            XCTAssertEqual(r.status, status, r.stderr)
            seen.append(("\(run) terminal", r.stdout + r.stderr))
            for ext in ["xml", "json", "md", "otlp", "jsonl"] { seen.append(("\(run).\(ext)", read(dir + "/\(run).\(ext)"))) }
            for args in [["status", run], ["status", run, "--json"], ["logs", run]] {
                let o = ezrun(args, in: dir)
                seen.append((args.joined(separator: " "), o.stdout + o.stderr))
            }
        }
        for (what, text) in seen {
            XCTAssertFalse(text.isEmpty && !what.hasPrefix("logs"), "\(what) is empty")
            XCTAssertEqual(Self.ids(in: text), [], "\(what) names something by an id:\n\(text)")
        }
        // The failures themselves are named by the task that failed.
        XCTAssertTrue(seen.contains { $0.1.contains("task `make`: output `patch` is missing") })
        XCTAssertTrue(seen.contains { $0.1.contains("each[1] dead-lettered after 2 attempts") })
    }
}
