// Reports that tell the truth, end to end with the built `ezrun` (docs/RUNNING.md,
// "Outputs for CI"): a budget stop is "budget refused" on the terminal, in JUnit (a
// failure), the summary and `ezrun status`; an exit-3 run is red in JUnit; `--log` is
// appended to on resume; `$GITHUB_STEP_SUMMARY` is appended to whenever it is set; `ezrun
// status` counts attempts run again after a resume and never cuts the state column.
import EzflowIR
import EzflowTestSupport
import Foundation
import XCTest

final class ReportTruthTests: XCTestCase {
    /// `first` is charged $1.20 (1.2 s at $1/s), so `second`'s worst case ($2: 2 s) no
    /// longer fits the $3 budget.
    static let budgeted = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
          cost_per_second: $1
        }
        workflow bud {
          budget { money: $3 }
          task first {
            run: "sleep 1.2"
            timeout: 2s
          }
          task second {
            after: [first]
            run: "echo two"
            timeout: 2s
          }
          task third {
            after: [second]
            run: "echo three"
            timeout: 2s
          }
        }
        """

    func testABudgetStopIsBudgetRefusedEverywhereAndAFailureInJUnit() throws {
        let dir = tempDir("truth")
        write(Self.budgeted, to: dir + "/bud.ezflow")
        let r = ezrun(["run", "bud.ezflow", "--run-id", "b1", "--junit", "j.xml", "--summary-md", "s.md", "--summary", "s.json"], in: dir)
        XCTAssertEqual(r.status, 3, r.stderr)
        // `first` is charged by the millisecond it ran: $1.20 and a little.
        let charged = try XCTUnwrap(r.stderr.firstMatch(of: /run finished: budget_exceeded in [0-9.]+s, (\$[0-9.]+),/)?.1)
        let refusal = "budget refused: the worst case of its next attempt does not fit the workflow's budget (\(charged) of $3.00 charged)"
        XCTAssertTrue(r.stderr.contains("[3/3] second: \(refusal)\nskipped (a dependency did not succeed): third\n"), r.stderr)
        XCTAssertFalse(r.stderr.contains("skipped (a dependency did not succeed): second"), r.stderr)

        let junit = read(dir + "/j.xml")
        XCTAssertTrue(junit.contains(#"<testsuites name="ezflow" tests="3" failures="1" errors="0" skipped="1""#), junit)
        XCTAssertTrue(junit.contains(#"<testcase classname="bud" name="second" time="0.000">"#
                                     + "\n      <failure message=\"\(refusal.replacingOccurrences(of: "'", with: "&apos;"))\" "
                                     + "type=\"budget_refused\">"), junit)

        let md = read(dir + "/s.md")
        XCTAssertTrue(md.contains("Tasks: 1 succeeded, 1 skipped, 1 budget refused (of 3)"), md)
        XCTAssertTrue(md.contains("| second | budget\\_refused | 0 |"), md)
        let json = try JSONParser.parse(Array(read(dir + "/s.json").utf8))
        XCTAssertEqual(json["budget_refused_task"], .string("second"))
        XCTAssertEqual(json["tasks"]?.array?[1]["error_class"], .string("budget_refused"))

        let st = ezrun(["status", "b1"], in: dir)
        XCTAssertTrue(st.stdout.contains("second  budget_refused   0\n"), st.stdout)
    }

    static let shellAgent = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
        }

        """

    /// `nap` is stopped by the deadline; `after_nap` never runs.
    static let deadlined = shellAgent + """
        workflow slow {
          deadline: 1s
          task nap { run: "sleep 5" }
          task after_nap {
            after: [nap]
            run: "echo late"
          }
        }
        """

    func testARunStoppedAtItsDeadlineIsAFailureInJUnit() throws {
        let dir = tempDir("truth")
        write(Self.deadlined, to: dir + "/slow.ezflow")
        let r = ezrun(["run", "slow.ezflow", "--run-id", "d1", "--junit", "j.xml"], in: dir, timeout: 30)
        XCTAssertEqual(r.status, 3, r.stderr)
        let junit = read(dir + "/j.xml")
        XCTAssertTrue(junit.contains(#"failures="1""#), junit)
        XCTAssertTrue(junit.contains(#"<failure message="stopped: the run ended deadline_exceeded while it ran" type="deadline_exceeded">"#),
                      junit)
    }

    func testLogIsAppendedOnResumeAndStatusCountsTheAttemptRunAgain() throws {
        let dir = tempDir("truth")
        write(Self.shellAgent + """
            workflow slow {
              task a { run: "echo a" }
              task nap {
                after: [a]
                run: "touch started; sleep 1; echo done"
              }
            }
            """, to: dir + "/slow.ezflow")
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = ["run", "slow.ezflow", "--run-id", "r1", "--log", "run.jsonl", "--quiet"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        try p.run()
        let end = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: dir + "/started") && Date() < end { usleep(10_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let before = read(dir + "/run.jsonl")
        XCTAssertTrue(before.contains(#""msg":"attempt succeeded""#), before)

        let resumed = ezrun(["resume", "r1", "--log", "run.jsonl"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let after = read(dir + "/run.jsonl")
        XCTAssertTrue(after.hasPrefix(before), "the log of the first process is kept:\n\(after)")
        XCTAssertTrue(after.dropFirst(before.count).contains(#""msg":"run resumed""#), after)

        let st = ezrun(["status", "r1"], in: dir)
        XCTAssertTrue(st.stdout.contains("nap   succeeded        1 (1 run again after a resume)\n"), st.stdout)
        let js = try JSONParser.parse(Array(ezrun(["status", "r1", "--json"], in: dir).stdout.utf8))
        XCTAssertEqual(js["tasks"]?.array?[1]["reruns"], .int(1))
        XCTAssertEqual(js["tasks"]?.array?[1]["attempts"], .int(1))
    }

    func testStepSummaryIsAppendedAlsoWithSummaryMDAndTheStateColumnIsWhole() throws {
        let dir = tempDir("truth")
        write(RunCLITests.gated, to: dir + "/gated.ezflow")
        write("## an earlier step\n", to: dir + "/step.md")
        let r = runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                           ["GITHUB_STEP_SUMMARY=\(dir)/step.md", Repo.executable("ezrun").path, "run", "gated.ezflow", "--run-id", "g1",
                            "--as", "carol:ci", "--summary-md", "own.md"], cwd: URL(fileURLWithPath: dir))
        XCTAssertEqual(r.status, 4, r.stderr)
        let own = read(dir + "/own.md"), step = read(dir + "/step.md")
        XCTAssertTrue(own.hasPrefix("## ezflow run `gated`"), own)
        XCTAssertEqual(step, "## an earlier step\n" + own, "appended after what earlier steps wrote")

        let st = ezrun(["status", "g1"], in: dir)
        XCTAssertTrue(st.stdout.contains("TASK            STATE              ATTEMPTS\n"), st.stdout)
        XCTAssertTrue(st.stdout.contains("approve_deploy  awaiting_approval  0\n"), st.stdout)
    }
}
