// `ezrun run` end to end: the built binary, real subprocesses, a real SQLite file.
import EzflowIR
import EzflowRunner
import EzflowRuntime
import EzflowPorts
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class RunCLITests: XCTestCase {
    static let hello = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
          concurrency: 4
        }
        workflow hello {
          input name: string = "world"
          output shout: string

          task greet {
            env: { NAME: inputs.name }
            run: "echo hello \\$NAME"
          }

          task shout {
            env: { G: greet.outputs.stdout }
            run: "printf '{\\"shout\\": \\"%s!\\"}' \\"\\$G\\" | tr a-z A-Z | sed 's/SHOUT/shout/'"
            output shout: string
            writes: [shout]
          }
        }
        """

    func testRunSucceedsWritesJournalLogsAndReports() throws {
        let dir = tempDir()
        write(Self.hello, to: dir + "/hello.ezflow")
        let r = ezrun(["run", "hello.ezflow", "--input", "name=ezflow", "--run-id", "r1", "--seed", "7",
                       "--junit", "junit.xml", "--summary", "summary.json", "--summary-md", "summary.md", "--otlp", "spans.json",
                       "--log", "run.jsonl", "--metrics-file", "metrics.prom"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/.ezflow/ezflow.db"), "default store location")

        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: "r1")  // replays the journal
        XCTAssertEqual(run.info.status, .finished)
        XCTAssertEqual(run.info.verdict, .success)
        XCTAssertEqual(run.state.tasks, [.succeeded, .succeeded])
        XCTAssertEqual(run.state.outputs.first ?? nil, .string("HELLO EZFLOW!"))
        let logs = try store.logs(run: "r1")
        XCTAssertEqual(logs.map(\.stdout), ["hello ezflow\n", "{\"shout\": \"HELLO EZFLOW!\"}"])
        XCTAssertEqual(logs.map(\.exitCode), [0, 0])

        XCTAssertTrue(read(dir + "/junit.xml").contains("<testcase classname=\"hello\" name=\"greet\""), read(dir + "/junit.xml"))
        let summary = try JSONParser.parse(Array(read(dir + "/summary.json").utf8))
        XCTAssertEqual(summary["verdict"], .string("success"))
        XCTAssertEqual(summary["exit_code"], .int(0))
        XCTAssertTrue(read(dir + "/summary.md").contains("greet"))
        XCTAssertTrue(read(dir + "/spans.json").contains("\"resourceSpans\""))
        XCTAssertTrue(read(dir + "/metrics.prom").contains("ezflow_tasks{state=\"succeeded\"} 2"), read(dir + "/metrics.prom"))
        let lines = read(dir + "/run.jsonl").split(separator: "\n")
        XCTAssertGreaterThanOrEqual(lines.count, 3)
        for l in lines {
            let v = try JSONParser.parse(Array(l.utf8))
            XCTAssertEqual(v["run_id"], .string("r1"))
        }

        // status, runs and logs read the same file.
        let st = ezrun(["status", "r1"], in: dir)
        XCTAssertEqual(st.status, 0, st.stderr)
        XCTAssertTrue(st.stdout.contains("status    finished (success)"), st.stdout)
        XCTAssertTrue(st.stdout.contains("shout  succeeded        1"), st.stdout)
        let runs = ezrun(["runs"], in: dir)
        XCTAssertTrue(runs.stdout.contains("r1\thello\tfinished\tsuccess"), runs.stdout)
        let lg = ezrun(["logs", "r1", "greet"], in: dir)
        XCTAssertEqual(lg.stdout, "== greet attempt 1 on sh: exit 0, \(logs[0].durationMs) ms ==\nhello ezflow\n")
    }

    func testFailedTaskExitsOneAndRetriesTransient() throws {
        let dir = tempDir()
        write("""
            agent sh {
              driver: exec
              capabilities: ["shell"]
            }
            retry twice {
              attempts: 2
              backoff: fixed
              delay: 10ms
              on: [transient]
            }
            workflow flaky {
              task once_transient {
                run: "if [ \\"\\$EZFLOW_ATTEMPT\\" = 1 ]; then exit 75; fi; echo ok"
                retry: twice
              }
              task broken {
                after: [once_transient]
                run: "echo boom >&2; exit 3"
              }
            }
            """, to: dir + "/flaky.ezflow")
        let r = ezrun(["run", "flaky.ezflow", "--run-id", "f1", "--junit", "j.xml"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "f1")
        XCTAssertEqual(run.state.attempts, [2, 1])
        XCTAssertEqual(run.state.history[0].map(\.errorClass), ["transient", nil])
        XCTAssertEqual(run.state.history[1].last?.errorClass, "agent_error")
        XCTAssertTrue(run.state.history[1].last?.message.contains("exit code 3: boom") ?? false, run.state.history[1].last?.message ?? "")
        let junit = read(dir + "/j.xml")
        XCTAssertTrue(junit.contains("<failure"), junit)
        XCTAssertTrue(junit.contains("boom"), junit)
        // Resuming a run that already ended says so, and exits with its verdict again.
        let again = ezrun(["resume", "f1"], in: dir)
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertTrue(again.stderr.contains("ezrun: run f1 has already finished (failed): nothing to resume"), again.stderr)
    }

    func testDeadlineExceededExitsThree() throws {
        let dir = tempDir()
        write("""
            agent sh {
              driver: exec
              capabilities: ["shell"]
            }
            workflow slow {
              deadline: 1s
              task nap { run: "sleep 5" }
            }
            """, to: dir + "/slow.ezflow")
        let t0 = Date()
        let r = ezrun(["run", "slow.ezflow", "--run-id", "s1"], in: dir, timeout: 30)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 4.5, "the attempt was stopped at the deadline")
        let info = try DurableStore(path: dir + "/.ezflow/ezflow.db").run("s1")
        XCTAssertEqual(info?.verdict, .deadlineExceeded)
    }

    func testInvalidInputExitsTwoWithoutCreatingARun() {
        let dir = tempDir()
        write(Self.hello, to: dir + "/hello.ezflow")
        let r = ezrun(["run", "hello.ezflow", "--input", "nam=x"], in: dir)
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "ezrun: --input `nam`: the workflow has no such input (it declares name)\n")
        write("workflow bad { task a { after: [nope] run: \"true\" } }", to: dir + "/bad.ezflow")
        let b = ezrun(["run", "bad.ezflow"], in: dir)
        XCTAssertEqual(b.status, 2)
        XCTAssertTrue(b.stderr.contains("bad.ezflow:1:"), b.stderr)
        XCTAssertTrue(b.stderr.contains("error[E0"), b.stderr)
        let s = ezrun(["status", "nope"], in: dir)
        XCTAssertEqual(s.status, 2)
    }

    /// Unit values on the command line go through the units module's overflow checks:
    /// a duration beyond 64 bits of milliseconds is a usage error, not a trap (SIGILL).
    func testOverflowingUnitInputsAreUsageErrors() {
        let dir = tempDir()
        write("""
        agent sh { driver: exec, capabilities: ["shell"] }
        workflow w {
          input t: duration
          input m: money
          input k: tokens
          task a { run: "echo ${inputs.t} ${inputs.m} ${inputs.k}" }
        }
        """, to: dir + "/w.ezflow")
        let good = ["t=90s", "m=$1", "k=2k tokens"]
        func run(_ bad: String) -> (status: Int32, stdout: String, stderr: String) {
            let key = bad.prefix(1)
            let inputs = good.filter { !$0.hasPrefix(key) } + [bad]
            return ezrun(["run", "w.ezflow"] + inputs.flatMap { ["--input", $0] }, in: dir)
        }
        let t = run("t=9999999999999999d")
        XCTAssertEqual(t.status, 2, t.stderr)
        XCTAssertEqual(t.stderr, "ezrun: --input t=9999999999999999d: input `t` expects a duration, found `9999999999999999d`, "
                       + "out of range (at most 106751991167d); write `30s`, `10m` or `2h`\n")
        let m = run("m=$99999999999999")
        XCTAssertEqual(m.status, 2, m.stderr)
        XCTAssertEqual(m.stderr, "ezrun: --input m=$99999999999999: input `m` expects a money amount, found `$99999999999999`, "
                       + "out of range (at most $9223372036854); write `$2.50`\n")
        let k = run("k=99999999999999999M tokens")
        XCTAssertEqual(k.status, 2, k.stderr)
        XCTAssertEqual(k.stderr, "ezrun: --input k=99999999999999999M tokens: input `k` expects a token count, found `99999999999999999M tokens`, "
                       + "out of range (at most 9223372036854775807 tokens); write `200k tokens`\n")
    }

    static let gated = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
          concurrency: 4
        }
        role ci {
          allow: [run]
          agents: [sh]
        }
        role releaser {
          inherits: [ci]
          allow: [approve]
        }
        role viewer {
          allow: []
        }
        workflow gated {
          task build {
            role: ci
            run: "echo built"
          }
          task approve_deploy {
            role: ci
            after: [build]
            approve: "Deploy?"
            approvers: [releaser]
          }
          task deploy {
            role: ci
            after: [approve_deploy]
            run: "echo deployed"
          }
        }
        """

    func testApprovalGateRBACAndResume() throws {
        let dir = tempDir()
        write(Self.gated, to: dir + "/gated.ezflow")
        // A principal without `run` is refused before anything runs (and audited).
        let refused = ezrun(["run", "gated.ezflow", "--run-id", "g0", "--as", "vic:viewer"], in: dir)
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stderr, "ezrun: access refused: no role of `vic` (viewer) allows `run`\n")

        let r = ezrun(["run", "gated.ezflow", "--run-id", "g1", "--as", "carol:ci"], in: dir)
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("ezrun approve g1 approve_deploy --as PRINCIPAL"), r.stderr)

        // ci may not approve; the refusal is reported, audited and journalled by the writer.
        let no = ezrun(["approve", "g1", "approve_deploy", "--as", "carol:ci"], in: dir)
        XCTAssertEqual(no.status, 2)
        XCTAssertTrue(no.stderr.contains("may not approve `approve_deploy`: it needs one of the roles `releaser`"), no.stderr)
        let yes = ezrun(["approve", "g1", "approve_deploy", "--as", "rita:releaser", "--yes"], in: dir)
        XCTAssertEqual(yes.status, 0, yes.stderr)

        let resumed = ezrun(["resume", "g1", "--as", "carol:ci", "--log", "resume.jsonl"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        // The refusal has its own log line (JSONLog.record), not a generic "event".
        let refusal = read(dir + "/resume.jsonl").split(separator: "\n").filter { $0.contains("refused") }
        XCTAssertEqual(refusal.count, 1, read(dir + "/resume.jsonl"))
        XCTAssertTrue(refusal.first?.contains(#""level":"warn","msg":"approval by carol refused: "#) ?? false, "\(refusal)")
        XCTAssertTrue(refusal.first?.contains(#""principal":"carol""#) ?? false, "\(refusal)")
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: "g1")
        XCTAssertEqual(run.state.tasks, [.succeeded, .succeeded, .succeeded])
        let journal = try store.journal(run: "g1")
        let approvals = journal.compactMap { r -> String? in
            switch r.event {
            case .approvalGiven(_, let p, let ok, _): "given \(p) \(ok)"
            case .approvalRefused(_, let p, _, _): "refused \(p)"
            default: nil
            }
        }
        XCTAssertEqual(approvals, ["refused carol", "given rita true"])
        let audit = try store.auditLog().map { "\($0.principal) \($0.action) \($0.allowed)" }
        XCTAssertEqual(audit, ["vic run false", "carol run true", "carol approve false", "rita approve true", "carol resume true"])
    }

    func testSecretsAreRedactedEverywhere() throws {
        let dir = tempDir()
        write("""
            secret token {
              provider: env
              key: "EZ_TEST_TOKEN"
            }
            agent sh {
              driver: exec
              capabilities: ["shell"]
            }
            role builder {
              allow: [run]
              agents: [sh]
              secrets: [token]
            }
            workflow leaky {
              task leak {
                role: builder
                secrets: [token]
                run: "echo the token is \\$EZFLOW_SECRET_TOKEN; echo \\"\\$EZFLOW_SECRET_TOKEN\\" >&2; exit 1"
              }
            }
            """, to: dir + "/leaky.ezflow")
        let secret = "s3cr3t-value-42"
        let exe = Repo.executable("ezrun")
        let p = Process()
        p.executableURL = exe
        p.arguments = ["run", "leaky.ezflow", "--run-id", "l1", "--summary", "s.json", "--junit", "j.xml", "--log", "log.jsonl"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.environment = ["EZ_TEST_TOKEN": secret, "PATH": "/usr/bin:/bin"]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1, errText)
        XCTAssertFalse(errText.contains(secret))
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let logs = try store.logs(run: "l1")
        XCTAssertTrue(logs.first?.stdout.contains("the token is") ?? false, "\(logs)")
        var everything = logs.map { $0.stdout + $0.stderr }.joined()
        everything += String(decoding: try store.journalLines(run: "l1"), as: UTF8.self)
        for f in ["s.json", "j.xml", "log.jsonl"] { everything += read(dir + "/" + f) }
        XCTAssertFalse(everything.contains(secret), "a secret leaked")
        XCTAssertTrue(everything.contains("[REDACTED"), everything)
    }

    func testResumeWithAnotherWorkflowIsRefused() throws {
        let dir = tempDir()
        write(Self.gated, to: dir + "/gated.ezflow")
        XCTAssertEqual(ezrun(["run", "gated.ezflow", "--run-id", "v1"], in: dir).status, 4)
        write(Self.gated.replacingOccurrences(of: "echo deployed", with: "echo shipped"), to: dir + "/gated2.ezflow")
        let r = ezrun(["resume", "v1", "--workflow", "gated2.ezflow"], in: dir)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("run `v1` was started with IR sha256:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("deploy"), "names what changed: \(r.stderr)")
    }

    /// A sub-workflow whose input comes from a parent task's output at run time, a
    /// fan-out over an input list, and a task reading the sub-workflow's output.
    func testSubWorkflowAndForEachRunForReal() throws {
        let dir = tempDir()
        write(#"""
            agent sh {
              driver: exec
              capabilities: ["shell"]
            }
            
            workflow greet {
              input who: string
              output line: string
            
              task say {
                env: { WHO: inputs.who }
                run: "printf '{\"line\": \"hello %s\"}' \"\$WHO\""
                output line: string
                writes: [line]
              }
            }
            """#, to: dir + "/greet.ezflow")
        write(#"""
            agent sh {
              driver: exec
              capabilities: ["shell"]
            }
            
            import "./greet"
            
            workflow outer {
              input names: list[string] = ["ann", "bo"]
            
              task pick {
                run: "printf '{\"name\": \"zed\"}'"
                output name: string
              }
            
              task inner {
                workflow: greet.greet
                with: { who: pick.outputs.name }
              }
            
              task each {
                for_each: inputs.names
                env: { N: item }
                run: "echo each \$N"
              }
            
              task last {
                env: { L: inner.outputs.line }
                after: [each]
                run: "echo got \$L"
              }
            }
            """#, to: dir + "/sub.ezflow")
        let r = ezrun(["run", "sub.ezflow", "--run-id", "n1", "--input", #"names=["ann", "bo", "cy"]"#], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: "n1")
        XCTAssertEqual(run.plan.taskNames.sorted(), ["each[0]", "each[1]", "each[2]", "inner", "inner.say", "last", "pick"])
        let out = Dictionary(uniqueKeysWithValues: try store.logs(run: "n1").map { (run.plan.taskNames[$0.task], $0.stdout) })
        XCTAssertEqual(out["inner.say"], #"{"line": "hello zed"}"#)
        XCTAssertEqual(out["each[2]"], "each cy\n")
        XCTAssertEqual(out["last"], "got hello zed\n")
        XCTAssertEqual(out["inner"], nil, "a sub-workflow task is a join: it runs nothing itself")
    }

    /// A paused run continues on a new version that only adds a task after an unfinished
    /// one; a version that changes a task is refused even with --allow-compatible.
    func testResumeOnACompatibleNewVersion() throws {
        let dir = tempDir()
        write(Self.gated, to: dir + "/gated.ezflow")
        XCTAssertEqual(ezrun(["run", "gated.ezflow", "--run-id", "u1"], in: dir).status, 4)
        XCTAssertEqual(ezrun(["approve", "u1", "approve_deploy", "--as", "rita:releaser", "--yes"], in: dir).status, 0)
        let added = Self.gated.replacingOccurrences(of: "    run: \"echo deployed\"\n  }\n", with: """
                run: "echo deployed"
              }
              task notify {
                role: ci
                after: [deploy]
                run: "echo notified"
              }

            """)
        XCTAssertTrue(added.contains("task notify"), added)
        write(added, to: dir + "/gated2.ezflow")
        let plain = ezrun(["resume", "u1", "--workflow", "gated2.ezflow"], in: dir)
        XCTAssertEqual(plain.status, 2)
        XCTAssertTrue(plain.stderr.contains("+ task `notify` (added)"), plain.stderr)
        XCTAssertTrue(plain.stderr.contains("pass --allow-compatible"), plain.stderr)

        write(Self.gated.replacingOccurrences(of: "echo built", with: "echo rebuilt"), to: dir + "/gated3.ezflow")
        let changed = ezrun(["resume", "u1", "--workflow", "gated3.ezflow", "--allow-compatible"], in: dir)
        XCTAssertEqual(changed.status, 2)
        XCTAssertTrue(changed.stderr.contains("not compatible"), changed.stderr)
        XCTAssertTrue(changed.stderr.contains("~ task `build`: template changed"), changed.stderr)

        let ok = ezrun(["resume", "u1", "--workflow", "gated2.ezflow", "--allow-compatible"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let run = try StoredRun.load(store: store, runID: "u1")  // replays across both versions
        XCTAssertEqual(run.plan.taskNames, ["build", "approve_deploy", "deploy", "notify"])
        XCTAssertTrue(run.state.tasks.allSatisfy { $0 == .succeeded })
        let upgrades = try store.journal(run: "u1").filter { if case .planUpgraded = $0.event { true } else { false } }
        XCTAssertEqual(upgrades.count, 1)
        XCTAssertEqual(try store.logs(run: "u1").map(\.stdout), ["built\n", "deployed\n", "notified\n"])
        XCTAssertEqual(ezrun(["status", "u1"], in: dir).status, 0)
    }

    /// On a terminal (a pseudo-terminal from util-linux `script`), progress lines scroll
    /// above a status line redrawn in place; on a pipe there are plain lines only.
    func testLiveStatusLineOnATerminalPlainLinesOnAPipe() throws {
        let script = "/usr/bin/script"
        guard FileManager.default.isExecutableFile(atPath: script) else { throw XCTSkip("no util-linux script(1)") }
        let dir = tempDir()
        write(Self.hello, to: dir + "/hello.ezflow")
        let exe = Repo.executable("ezrun").path
        let tty = runProcess(URL(fileURLWithPath: script), ["-qec", "\(exe) run hello.ezflow --run-id t1", "/dev/null"],
                             cwd: URL(fileURLWithPath: dir))
        XCTAssertEqual(tty.status, 0, tty.stdout)
        XCTAssertTrue(tty.stdout.contains("\r\u{1B}[K"), "status line redrawn in place: \(tty.stdout.debugDescription)")
        XCTAssertTrue(tty.stdout.contains("2/2"), tty.stdout)
        let pipe = ezrun(["run", "hello.ezflow", "--run-id", "t2"], in: dir)
        XCTAssertEqual(pipe.status, 0)
        XCTAssertFalse(pipe.stderr.contains("\u{1B}"), "no escape codes on a pipe")
        XCTAssertTrue(pipe.stderr.contains("greet succeeded"), pipe.stderr)
    }

    /// One writer per run: a second `ezrun` on a run that is being run is refused; after
    /// the first is killed (-9) the lock is gone and the run resumes.
    func testSecondWriterIsRefusedUntilTheFirstDies() throws {
        let dir = tempDir()
        write("""
            agent sh {
              driver: exec
              capabilities: ["shell"]
            }
            workflow long {
              task nap { run: "sleep 3" }
            }
            """, to: dir + "/long.ezflow")
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = ["run", "long.ezflow", "--run-id", "w1", "--quiet"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        var second = (status: Int32(0), stdout: "", stderr: "")
        for _ in 0..<100 {
            second = ezrun(["resume", "w1"], in: dir)
            if second.stderr.contains("being run by another ezrun") { break }
            usleep(50_000)  // until the first has created the run
        }
        XCTAssertEqual(second.status, 2)
        XCTAssertEqual(second.stderr, "ezrun: run `w1` is being run by another ezrun (pid \(p.processIdentifier)); wait for it or stop it first\n")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let resumed = ezrun(["resume", "w1", "--quiet"], in: dir, timeout: 30)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
    }
}
