import EzflowIR
import EzflowRunner
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

/// Issue 13, matrix: real `ezrun run`s on exec agents. `needs: [item.os]` picks each
/// cell's agent; cell names reach status, JUnit and logs; `fail_fast` cancels the other
/// cells; `max_parallel` holds cells back; a run killed mid-matrix resumes; replay verifies.
final class MatrixRunTests: XCTestCase {
    static let agents = """
        agent lin {
          driver: exec
          capabilities: ["linux"]
          concurrency: 4
        }
        agent mac {
          driver: exec
          capabilities: ["macos"]
          concurrency: 4
        }

        """

    /// 2×2 with one exclude and one include: 4 cells, each on the agent its `os` names.
    static let workflow = agents + """
        workflow ci {
          task test {
            matrix {
              os: ["linux", "macos"]
              py: ["3.11", "3.12"]
              exclude: [{ os: "macos", py: "3.11" }]
              include: [{ os: "linux", py: "3.13" }]
            }
            needs: [item.os]
            run: "echo test ${item.os} ${item.py}"
          }
          task report {
            run: "echo ${join(test.outputs.stdout, \",\")}"
          }
        }
        """

    /// `task NAME started (attempt N, AGENT)` lines of the progress output, in order.
    func starts(_ stderr: String) -> [(task: String, agent: String)] {
        stderr.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("task "), let r = line.range(of: " started (attempt ") else { return nil }
            let task = String(line[line.index(line.startIndex, offsetBy: 5)..<r.lowerBound])
            let agent = line[r.upperBound...].split(separator: ", ").last.map { String($0.dropLast()) } ?? ""
            return (task, agent)
        }
    }

    func status(_ dir: String, _ run: String) throws -> [String: String] {
        let r = ezrun(["status", run, "--json"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        var out: [String: String] = [:]
        for t in doc?["tasks"] as? [[String: Any]] ?? [] { out[t["name"] as! String] = t["state"] as? String }
        return out
    }

    func testNeedsItemOsPicksTheAgentOfEachCell() throws {
        let dir = tempDir("matrix")
        write(Self.workflow, to: dir + "/ci.ezflow")
        let r = ezrun(["run", "ci.ezflow", "--run-id", "m1", "--junit", "junit.xml"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        // Which agent ran each cell, from the journal folded by the core.
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "m1")
        var ran: [String: String] = [:]
        for (t, name) in run.plan.taskNames.enumerated() {
            for h in run.state.history[t] where h.agent >= 0 { ran[name] = run.plan.agentNames[h.agent] }
        }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: starts(r.stderr).map { ($0.task, $0.agent) }), ran, "progress and journal agree")
        XCTAssertEqual(ran["test[os=linux,py=3.11]"], "lin")
        XCTAssertEqual(ran["test[os=linux,py=3.12]"], "lin")
        XCTAssertEqual(ran["test[os=macos,py=3.12]"], "mac")
        XCTAssertEqual(ran["test[os=linux,py=3.13]"], "lin")
        XCTAssertNil(ran["test[os=macos,py=3.11]"], "excluded")
        let states = try status(dir, "m1")
        XCTAssertEqual(states.keys.sorted(), ["report", "test[os=linux,py=3.11]", "test[os=linux,py=3.12]",
                                              "test[os=linux,py=3.13]", "test[os=macos,py=3.12]"])
        XCTAssertTrue(states.values.allSatisfy { $0 == "succeeded" }, "\(states)")
        let junit = read(dir + "/junit.xml")
        XCTAssertTrue(junit.contains(#"name="test[os=macos,py=3.12]""#), junit)
        // Dependents read the aggregate in cell order (cross product, then includes).
        let logs = try DurableStore(path: dir + "/.ezflow/ezflow.db").logs(run: "m1")
        XCTAssertTrue(logs.contains { $0.stdout == "test linux 3.11,test linux 3.12,test macos 3.12,test linux 3.13\n" },
                      "\(logs.map(\.stdout))")
        // One cell by its full name on the command line.
        let one = ezrun(["logs", "m1", "test[os=macos,py=3.12]"], in: dir)
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.contains("test macos 3.12"), one.stdout)
        XCTAssertFalse(one.stdout.contains("test linux"), one.stdout)
        let replay = ezrun(["replay", "m1"], in: dir)
        XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
    }

    /// `fail_fast` (the default): the failed cell cancels the cells still running or
    /// queued; the run fails (exit 1) and what comes after is skipped.
    func testFailFastCancelsTheOtherCells() throws {
        let dir = tempDir("matrix-ff")
        write(Self.agents + """
            workflow ci {
              task test {
                matrix {
                  os: ["linux", "macos"]
                  n: [1, 2, 3]
                  max_parallel: 4
                }
                needs: [item.os]
                run: "if [ ${item.os} = macos ] && [ ${item.n} = 1 ]; then exit 1; fi; sleep 30"
              }
              task report { run: "echo ${join(test.outputs.stdout, \" \")}" }
            }
            """, to: dir + "/ci.ezflow")
        let started = Date()
        let r = ezrun(["run", "ci.ezflow", "--run-id", "f1"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "the sleeping cells were not cancelled")
        let states = try status(dir, "f1")
        XCTAssertEqual(states["test[os=macos,n=1]"], "dead_lettered", "\(states)")
        for n in 1...3 { XCTAssertEqual(states["test[os=linux,n=\(n)]"], "cancelled", "\(states)") }
        XCTAssertEqual(states["test[os=macos,n=2]"], "cancelled", "\(states)")
        XCTAssertEqual(states["report"], "skipped", "\(states)")
        let dlq = ezrun(["dlq", "list"], in: dir)
        XCTAssertTrue(dlq.stdout.contains("test[os=macos,n=1]"), dlq.stdout + dlq.stderr)
        let replay = ezrun(["replay", "f1"], in: dir)
        XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
    }

    /// `fail_fast: false`: the other cells finish; the run still fails.
    func testWithoutFailFastTheOtherCellsFinish() throws {
        let dir = tempDir("matrix-nff")
        write(Self.agents + """
            workflow ci {
              task test {
                matrix {
                  os: ["linux", "macos"]
                  fail_fast: false
                }
                needs: [item.os]
                run: "if [ ${item.os} = macos ]; then exit 1; fi; sleep 0.5"
              }
            }
            """, to: dir + "/ci.ezflow")
        let r = ezrun(["run", "ci.ezflow", "--run-id", "n1"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        let states = try status(dir, "n1")
        XCTAssertEqual(states["test[os=linux]"], "succeeded", "\(states)")
        XCTAssertEqual(states["test[os=macos]"], "dead_lettered", "\(states)")
    }

    /// `max_parallel: 2` over 5 cells on agents that could take 4 each: never more than 2
    /// cells running, from the order of the starts and ends in the progress output.
    func testMaxParallelHoldsCellsBack() throws {
        let dir = tempDir("matrix-mp")
        write(Self.agents + """
            workflow ci {
              task test {
                matrix {
                  n: [1, 2, 3, 4, 5]
                  max_parallel: 2
                }
                needs: ["linux"]
                run: "sleep 0.2"
              }
            }
            """, to: dir + "/ci.ezflow")
        let r = ezrun(["run", "ci.ezflow", "--run-id", "p1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        var running = 0, most = 0, ended = 0
        for line in r.stderr.split(separator: "\n") {
            if line.hasPrefix("task test[") && line.contains(" started (") { running += 1 }
            if line.hasPrefix("[") && line.contains("] test[") && line.contains(" succeeded in ") { running -= 1; ended += 1 }
            most = max(most, running)
        }
        XCTAssertEqual(ended, 5, r.stderr)
        XCTAssertEqual(most, 2, r.stderr)
    }

    /// kill -9 while the cells run, then `ezrun resume`: every cell ends once, by name.
    func testResumeAfterKillNineMidMatrix() throws {
        let dir = tempDir("matrix-kill")
        write(Self.agents + """
            workflow ci {
              task test {
                matrix {
                  os: ["linux", "macos"]
                  n: [1, 2]
                  max_parallel: 2
                }
                needs: [item.os]
                run: "sleep 1; echo done ${item.os} ${item.n}"
              }
            }
            """, to: dir + "/ci.ezflow")
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = ["run", "ci.ezflow", "--run-id", "k1"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: 1.5)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let r = ezrun(["resume", "k1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let states = try status(dir, "k1")
        XCTAssertEqual(states.count, 4, "\(states)")
        XCTAssertTrue(states.values.allSatisfy { $0 == "succeeded" }, "\(states)")
        let replay = ezrun(["replay", "k1"], in: dir)
        XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
    }

    /// The CI example (psf/requests' test matrix) for real: 24 cells, each on a runner of
    /// its `os`, `publish` after all of them; simulated too; the journal replays.
    func testCIMatrixExampleEndToEnd() throws {
        let dir = tempDir("example")
        let src = Repo.url("examples/ci_matrix.ezflow").path
        let r = ezrun(["run", src, "--run-id", "cm", "--junit", "junit.xml"], in: dir, timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "cm")
        let cells = run.plan.taskNames.filter { $0.hasPrefix("test[") }
        XCTAssertEqual(cells.count, 24)
        XCTAssertEqual(cells.first, "test[python=3.8,os=ubuntu-22.04]")
        XCTAssertEqual(cells.last, "test[python=3.9,os=macos-13]")
        XCTAssertFalse(cells.contains("test[python=3.8,os=macOS-latest]"))
        for (t, name) in run.plan.taskNames.enumerated() where name.hasPrefix("test[") {
            let os = String(name.split(separator: "os=").last!.dropLast())
            for h in run.state.history[t] {
                let caps = run.plan.agentJSON[h.agent]["capabilities"]
                XCTAssertTrue(caps.map { if case .array(let xs) = $0 { xs.contains(.string(os)) } else { false } } ?? false,
                              "\(name) ran on \(run.plan.agentNames[h.agent])")
            }
        }
        let junit = read(dir + "/junit.xml")
        XCTAssertTrue(junit.contains(#"name="test[python=pypy-3.10,os=windows-latest]""#), junit)
        let logs = try DurableStore(path: dir + "/.ezflow/ezflow.db").logs(run: "cm")
        XCTAssertTrue(logs.contains { $0.stdout == "python -m build: 24 cells green\n" }, "\(logs.map(\.stdout))")
        XCTAssertTrue(logs.contains { $0.stdout == "rm -rf ~/.cache/pip: publish succeeded\n" }, "\(logs.map(\.stdout))")
        XCTAssertEqual(ezrun(["replay", "cm"], in: dir).status, 0)
        // A pull request: `publish` is skipped by its condition (not a failure: exit 0),
        // `cleanup` runs all the same and sees it skipped.
        let pr = ezrun(["run", src, "--run-id", "pr", "--input", "event=pull_request"], in: dir, timeout: 120)
        XCTAssertEqual(pr.status, 0, pr.stderr)
        let prStatus = ezrun(["status", "pr"], in: dir)
        XCTAssertTrue(prStatus.stdout.contains("skipped (condition)"), prStatus.stdout)
        let prLogs = try DurableStore(path: dir + "/.ezflow/ezflow.db").logs(run: "pr")
        XCTAssertFalse(prLogs.contains { $0.stdout.hasPrefix("python -m build") }, "\(prLogs.map(\.stdout))")
        XCTAssertTrue(prLogs.contains { $0.stdout == "rm -rf ~/.cache/pip: publish skipped\n" }, "\(prLogs.map(\.stdout))")
        XCTAssertEqual(ezrun(["replay", "pr"], in: dir).status, 0)
        let sim = ezrun(["simulate", src, "--seed", "2026", "--runs", "20"], in: dir)
        XCTAssertEqual(sim.status, 0, sim.stdout + sim.stderr)
        XCTAssertTrue(sim.stdout.contains("success: 20/20"), sim.stdout)
    }

    /// `for_each` over a list written out with `needs: [item]`: each instance on the agent
    /// its item names (issue 13 measured this dropped; since issue 10 it was refused, E0307).
    func testForEachNeedsItemPicksTheAgentOfEachInstance() throws {
        let dir = tempDir("foreach-needs")
        write(Self.agents + """
            workflow ci {
              task build {
                for_each: ["macos", "linux"]
                needs: [item]
                run: "echo build ${item}"
              }
            }
            """, to: dir + "/ci.ezflow")
        let r = ezrun(["run", "ci.ezflow", "--run-id", "e1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let ran = Dictionary(uniqueKeysWithValues: starts(r.stderr).map { ($0.task, $0.agent) })
        XCTAssertEqual(ran, ["build[0]": "mac", "build[1]": "lin"])
    }

    /// `ezrun dlq retry` of the cell that failed re-opens the cells its `fail_fast`
    /// cancelled; the run ends `success` and replays.
    func testRedriveOfTheFailedCellReopensTheCancelledCells() throws {
        let dir = tempDir("matrix-redrive")
        write(Self.agents + """
            workflow ci {
              task test {
                matrix {
                  os: ["linux", "macos"]
                }
                needs: [item.os]
                run: "if [ ${item.os} = macos ] && [ ! -f ok ]; then exit 1; fi; sleep 1; echo ${item.os}"
              }
              task report { run: "echo ${join(test.outputs.stdout, " ")}" }
            }
            """, to: dir + "/ci.ezflow")
        XCTAssertEqual(ezrun(["run", "ci.ezflow", "--run-id", "d1"], in: dir).status, 1)
        XCTAssertEqual(try status(dir, "d1")["test[os=linux]"], "cancelled")
        write("", to: dir + "/ok")
        let r = ezrun(["dlq", "retry", "d1", "test[os=macos]"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let states = try status(dir, "d1")
        XCTAssertTrue(states.values.allSatisfy { $0 == "succeeded" }, "\(states)")
        let logs = try DurableStore(path: dir + "/.ezflow/ezflow.db").logs(run: "d1")
        XCTAssertTrue(logs.contains { $0.stdout == "linux macos\n" }, "\(logs.map(\.stdout))")
        XCTAssertEqual(ezrun(["replay", "d1"], in: dir).status, 0)
    }
}
