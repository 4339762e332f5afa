import EzflowIR
import EzflowPorts
import EzflowRunner
import EzflowRuntime
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

/// Approval gates a person can answer, with the built `ezrun` (docs/RUNTIME.md, "Approval
/// gates"): the gate's `timeout` fires and does what `on_timeout` says; the rendered
/// question is journalled and shown by `status`, `approve`, the pause notice and the
/// summary; reports written at the pause say waiting for approval, exit code 4.
final class ApprovalGateTests: XCTestCase {
    /// `build` prints its version (with the secret in it, which must be redacted); the
    /// gate asks about it. `GATE` is replaced by each test's timeout settings.
    static func workflow(_ gate: String) -> String {
        """
        secret token {
          provider: env
          key: "EZ_GATE_TOKEN"
        }
        agent sh {
          driver: exec
          capabilities: ["shell"]
        }
        role ci {
          allow: [run]
          agents: [sh]
          secrets: [token]
        }
        role releaser {
          inherits: [ci]
          allow: [approve]
        }
        role oncall {
          allow: [approve]
        }
        workflow gated {
          task build {
            role: ci
            secrets: [token]
            run: "printf '{\\"version\\": \\"v2 built with %s\\"}' \\"$EZFLOW_SECRET_TOKEN\\""
            output version: string
          }
          task gate {
            role: ci
            after: [build]
            approve: "Deploy ${build.outputs.version}?"
            approvers: [releaser]
            \(gate)
          }
          task deploy {
            role: ci
            after: [gate]
            run: "echo deployed"
          }
        }
        """
    }

    static let secret = "hunter2-gate-secret"

    /// `ezrun` with the secret in its environment.
    func run(_ args: [String], in dir: String) -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.environment = ["EZ_GATE_TOKEN": Self.secret, "PATH": "/usr/bin:/bin"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return (-1, "", "\(error)") }
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, o, e)
    }

    func stored(_ dir: String, _ id: String) throws -> StoredRun {
        try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: id)
    }

    static let question = "Deploy v2 built with [REDACTED:token]?"

    /// Default `on_timeout: reject`: with `--wait` the 200 ms timeout fires in the run;
    /// the gate is rejected (class `denied`), `deploy` skipped, exit 1.
    func testUnansweredGateIsRejected() throws {
        let dir = tempDir("gate")
        write(Self.workflow("timeout: 200ms"), to: dir + "/g.ezflow")
        let r = run(["run", "g.ezflow", "--run-id", "r1", "--as", "carl:ci", "--wait", "--summary", "s.json", "--log", "l.jsonl"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("task gate waiting for approval (rejected if nobody answers within 200ms): \(Self.question)"), r.stderr)
        let s = try stored(dir, "r1")
        XCTAssertEqual(s.state.tasks, [.succeeded, .failed, .skipped])
        XCTAssertEqual(s.state.history[1].map(\.errorClass), ["denied"])
        XCTAssertEqual(s.state.history[1].last?.message, "no answer within 200ms: rejected (on_timeout: reject)")
        // The firing is journalled (timer, then the outcome) and the question is on the request.
        let journal = try DurableStore(path: dir + "/.ezflow/ezflow.db").journal(run: "r1")
        XCTAssertTrue(journal.contains { if case .timerFired(.approvalTimeout(1, 1, 0), _) = $0.event { true } else { false } })
        let asked = journal.flatMap(\.commands).compactMap { c -> String? in
            if case .requestApproval(1, .gate, let text) = c { text } else { nil }
        }
        XCTAssertEqual(asked, [Self.question])
        XCTAssertTrue(read(dir + "/l.jsonl").contains(#""approval_requested":"gate""#), read(dir + "/l.jsonl"))
        XCTAssertTrue(read(dir + "/l.jsonl").contains(#""question":"\#(Self.question)""#), read(dir + "/l.jsonl"))
        XCTAssertFalse(read(dir + "/l.jsonl").contains(Self.secret))
        XCTAssertTrue(read(dir + "/s.json").contains(#""verdict":"failed""#))
        XCTAssertFalse(read(dir + "/s.json").contains(Self.secret))
    }

    /// `on_timeout: approve` passes the gate (`deploy` runs, exit 0); `fail` is a failure
    /// of class `timeout`, with no retry rule dead-lettered (exit 1).
    func testOnTimeoutApproveAndFail() throws {
        for (word, exit, gate, message) in [
            ("approve", Int32(0), TaskState.succeeded, "no answer within 200ms: approved (on_timeout: approve)"),
            ("fail", 1, .deadLettered, "no answer within 200ms: failed (on_timeout: fail)"),
        ] {
            let dir = tempDir("gate")
            write(Self.workflow("timeout: 200ms\n    on_timeout: \(word)"), to: dir + "/g.ezflow")
            let r = run(["run", "g.ezflow", "--run-id", "t1", "--as", "carl:ci", "--wait"], in: dir)
            XCTAssertEqual(r.status, exit, r.stderr)
            let s = try stored(dir, "t1")
            XCTAssertEqual(s.state.tasks, [.succeeded, gate, gate == .succeeded ? .succeeded : .skipped], word)
            XCTAssertEqual(s.state.history[1].last?.message, message)
            XCTAssertEqual(s.state.history[1].last?.errorClass, word == "fail" ? "timeout" : nil)
        }
    }

    /// Without `--wait` the run pauses (exit 4) and the reports say so; `ezrun resume`
    /// after the 200 ms applies the timeout: escalated to `oncall`, paused again. The
    /// releaser may no longer answer, on-call may; `approve` shows the question first and
    /// refuses without a terminal unless `--yes`.
    func testEscalationAcrossResume() throws {
        let dir = tempDir("gate")
        write(Self.workflow("timeout: 200ms\n    on_timeout: escalate\n    escalate_to: [oncall]\n    escalate_timeout: 1h"),
              to: dir + "/g.ezflow")
        let r = run(["run", "g.ezflow", "--run-id", "e1", "--as", "carl:ci", "--summary", "s.json", "--summary-md", "s.md",
                     "--junit", "j.xml"], in: dir)
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("(escalated to `oncall` if nobody answers within 200ms): \(Self.question)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("ezrun: run e1 is waiting for approval of gate; approve with `ezrun approve e1 gate --as PRINCIPAL`"),
                      r.stderr)
        // Reports written at the pause: waiting for approval, exit code 4, the question.
        let summary = try JSONParser.parse(Array(read(dir + "/s.json").utf8))
        XCTAssertEqual(summary["verdict"], .string("waiting_for_approval"))
        XCTAssertEqual(summary["exit_code"], .int(4))
        XCTAssertEqual(summary["waiting_for_approval"], .array([.object([
            ("on_timeout", .string("escalated to `oncall` if nobody answers within 200ms")), ("question", .string(Self.question)),
            ("task", .string("gate"))])]))
        XCTAssertTrue(read(dir + "/s.md").contains("## ezflow run `gated`: waiting_for_approval"), read(dir + "/s.md"))
        XCTAssertTrue(read(dir + "/s.md").contains("### Waiting for approval\n\n**gate** (escalated to \\`oncall\\` if nobody answers within 200ms)"),
                      read(dir + "/s.md"))
        XCTAssertTrue(read(dir + "/s.md").contains(Self.question))
        XCTAssertTrue(read(dir + "/j.xml").contains(#"<property name="ezflow.exit_code" value="4"/>"#), read(dir + "/j.xml"))
        XCTAssertTrue(read(dir + "/j.xml").contains(#"<property name="ezflow.verdict" value="waiting_for_approval"/>"#))
        let status = run(["status", "e1"], in: dir)
        XCTAssertTrue(status.stdout.contains("waiting for approval: gate — ezrun approve e1 gate --as PRINCIPAL\n"
                                             + "  (escalated to `oncall` if nobody answers within 200ms)\n  > \(Self.question)\n"), status.stdout)

        let json = try JSONParser.parse(Array(run(["status", "e1", "--json"], in: dir).stdout.utf8))
        XCTAssertEqual(json["waiting_for_approval"], summary["waiting_for_approval"])

        Thread.sleep(forTimeInterval: 0.3)
        let resumed = run(["resume", "e1", "--as", "carl:ci"], in: dir)
        XCTAssertEqual(resumed.status, 4, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("(escalated to `oncall`; rejected if nobody answers within 1h)"), resumed.stderr)
        XCTAssertEqual(try stored(dir, "e1").state.escalatedApprovers(1), ["oncall"])

        let releaser = run(["approve", "e1", "gate", "--as", "rita:releaser", "--yes"], in: dir)
        XCTAssertEqual(releaser.status, 2, releaser.stderr)
        XCTAssertTrue(releaser.stderr.contains("may not approve `gate`: it needs one of the roles `oncall`"), releaser.stderr)
        // No terminal, no --yes: the question is shown and nothing is answered.
        let blind = run(["approve", "e1", "gate", "--as", "olga:oncall"], in: dir)
        XCTAssertEqual(blind.status, 2, blind.stderr)
        XCTAssertTrue(blind.stderr.contains("run e1: `gate` asks:\n  \(Self.question)\n"), blind.stderr)
        XCTAssertTrue(blind.stderr.contains("pass --yes to answer without asking"), blind.stderr)
        XCTAssertEqual(try DurableStore(path: dir + "/.ezflow/ezflow.db").inbox(run: "e1").filter { $0.refusal == nil }.count, 0)
        let yes = run(["approve", "e1", "gate", "--as", "olga:oncall", "--yes"], in: dir)
        XCTAssertEqual(yes.status, 0, yes.stderr)
        XCTAssertTrue(yes.stderr.contains(Self.question), yes.stderr)
        let done = run(["resume", "e1", "--as", "carl:ci"], in: dir)
        XCTAssertEqual(done.status, 0, done.stderr)
        XCTAssertEqual(try stored(dir, "e1").state.tasks, [.succeeded, .succeeded, .succeeded])
        var everything = String(decoding: try DurableStore(path: dir + "/.ezflow/ezflow.db").journalLines(run: "e1"), as: UTF8.self)
        for f in ["s.json", "s.md", "j.xml"] { everything += read(dir + "/" + f) }
        everything += r.stderr + status.stdout + blind.stderr
        XCTAssertFalse(everything.contains(Self.secret), "a secret leaked")
    }

    /// On a terminal `ezrun approve` asks `y/N` after the question: "n" answers nothing
    /// (exit 1), "y" answers. The terminal is `script`'s pseudo-terminal.
    func testApproveAsksOnATerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("no script(1)") }
        let dir = tempDir("gate")
        write(Self.workflow("timeout: 1h"), to: dir + "/g.ezflow")
        XCTAssertEqual(run(["run", "g.ezflow", "--run-id", "y1", "--as", "carl:ci"], in: dir).status, 4)
        func onTerminal(_ reply: String) -> (status: Int32, text: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            p.arguments = ["-qec", Repo.executable("ezrun").path + " approve y1 gate --as rita:releaser", "/dev/null"]
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            let input = Pipe(), out = Pipe()
            p.standardInput = input
            p.standardOutput = out
            p.standardError = out
            do { try p.run() } catch { return (-1, "\(error)") }
            input.fileHandleForWriting.write(Data((reply + "\n").utf8))
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, text)
        }
        let no = onTerminal("n")
        XCTAssertEqual(no.status, 1, no.text)
        XCTAssertTrue(no.text.contains("run y1: `gate` asks:\r\n  \(Self.question)\r\n(rejected if nobody answers within 1h)\r\n"
                                       + "approve `gate`? [y/N] "), no.text)
        XCTAssertTrue(no.text.contains("ezrun: not answered"), no.text)
        XCTAssertEqual(try DurableStore(path: dir + "/.ezflow/ezflow.db").inbox(run: "y1").count, 0)
        let yes = onTerminal("y")
        XCTAssertEqual(yes.status, 0, yes.text)
        XCTAssertTrue(yes.text.contains("approved `gate` of run y1 as rita"), yes.text)
        XCTAssertEqual(run(["resume", "y1", "--as", "carl:ci"], in: dir).status, 0)
    }

    /// The escalated gate's own timeout rejects it.
    func testEscalatedGateTimesOutToReject() throws {
        let dir = tempDir("gate")
        write(Self.workflow("timeout: 100ms\n    on_timeout: escalate\n    escalate_to: [oncall]\n    escalate_timeout: 150ms"),
              to: dir + "/g.ezflow")
        let r = run(["run", "g.ezflow", "--run-id", "x1", "--as", "carl:ci", "--wait"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        let s = try stored(dir, "x1")
        XCTAssertEqual(s.state.tasks, [.succeeded, .failed, .skipped])
        XCTAssertEqual(s.state.history[1].last?.message, "no answer within 150ms: rejected after the escalation")
    }
}
