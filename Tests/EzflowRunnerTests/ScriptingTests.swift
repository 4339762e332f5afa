// What scripts read from `ezrun`: the run id on stdout, `--json` documents, exit codes.
import EzflowIR
import EzflowTestSupport
import Foundation
import XCTest

final class ScriptingTests: XCTestCase {
    static let flow = """
        agent sh { driver: exec, capabilities: ["shell"] }
        workflow scripted {
          input fail: string = "no"
          task hello { run: "echo hi from hello" }
          task maybe {
            env: { FAIL: inputs.fail }
            run: "test \\"\\$FAIL\\" = no"
            after: [hello]
          }
        }
        """

    func testRunPrintsTheRunIdAloneOnStdout() throws {
        let dir = tempDir("script")
        write(Self.flow, to: dir + "/flow.ezflow")
        let named = ezrun(["run", "flow.ezflow", "--run-id", "nightly-7"], in: dir)
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertEqual(named.stdout, "nightly-7\n")
        XCTAssertTrue(named.stderr.contains("ezrun: run nightly-7 of scripted"), named.stderr)
        // A generated id: `id=$(ezrun run flow.ezflow)` then `ezrun status "$id"`.
        let generated = ezrun(["run", "flow.ezflow", "--quiet"], in: dir)
        XCTAssertEqual(generated.status, 0, generated.stderr)
        let id = generated.stdout.trimmingCharacters(in: .newlines)
        XCTAssertTrue(id.hasPrefix("scripted-"), id)
        XCTAssertEqual(generated.stdout, id + "\n")
        let status = ezrun(["status", id, "--json"], in: dir)
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertEqual(try JSONParser.parse(Array(status.stdout.utf8))["verdict"], .string("success"))
    }

    func testRunJsonIsOneDocumentWithTheExitStatus() throws {
        let dir = tempDir("script")
        write(Self.flow, to: dir + "/flow.ezflow")
        let ok = ezrun(["run", "flow.ezflow", "--run-id", "a", "--json"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let doc = try JSONParser.parse(Array(ok.stdout.utf8))
        XCTAssertEqual(doc["run_id"], .string("a"))
        XCTAssertEqual(doc["verdict"], .string("success"))
        XCTAssertEqual(doc["exit_code"], .int(0))
        XCTAssertEqual(doc["workflow"], .string("scripted"))
        guard case .array(let tasks)? = doc["tasks"] else { return XCTFail(ok.stdout) }
        XCTAssertEqual(tasks.map { $0["name"] }, [.string("hello"), .string("maybe")])
        XCTAssertEqual(tasks.map { $0["state"] }, [.string("succeeded"), .string("succeeded")])

        let bad = ezrun(["run", "flow.ezflow", "--run-id", "b", "--input", "fail=yes", "--json"], in: dir)
        XCTAssertEqual(bad.status, 1, bad.stderr)
        let failed = try JSONParser.parse(Array(bad.stdout.utf8))
        XCTAssertEqual(failed["exit_code"], .int(1))
        XCTAssertEqual(failed["verdict"], .string("failed"))
    }

    func testRunsAndLogsAsJson() throws {
        let dir = tempDir("script")
        write(Self.flow, to: dir + "/flow.ezflow")
        XCTAssertEqual(ezrun(["run", "flow.ezflow", "--run-id", "r1", "--quiet"], in: dir).status, 0)
        XCTAssertEqual(ezrun(["run", "flow.ezflow", "--run-id", "r2", "--quiet", "--input", "fail=yes"], in: dir).status, 1)

        let runs = ezrun(["runs", "--json"], in: dir)
        XCTAssertEqual(runs.status, 0, runs.stderr)
        guard case .array(let list) = try JSONParser.parse(Array(runs.stdout.utf8)) else { return XCTFail(runs.stdout) }
        XCTAssertEqual(list.map { $0["run_id"] }, [.string("r1"), .string("r2")])
        XCTAssertEqual(list.map { $0["verdict"] }, [.string("success"), .string("failed")])
        XCTAssertEqual(list.map { $0["workflow"] }, [.string("scripted"), .string("scripted")])

        let logs = ezrun(["logs", "r1", "hello", "--json"], in: dir)
        XCTAssertEqual(logs.status, 0, logs.stderr)
        guard case .array(let attempts) = try JSONParser.parse(Array(logs.stdout.utf8)) else { return XCTFail(logs.stdout) }
        XCTAssertEqual(attempts.count, 1)
        XCTAssertEqual(attempts.first?["task"], .string("hello"))
        XCTAssertEqual(attempts.first?["stdout"], .string("hi from hello\n"))
        XCTAssertEqual(attempts.first?["exit_code"], .int(0))
        XCTAssertEqual(attempts.first?["agent"], .string("sh"))
    }

    /// Mistakes in what the user typed are exit 2 (RUNNING.md), not 5 (a broken store).
    func testInputMistakesAreExitTwo() {
        let dir = tempDir("script")
        write(Self.flow, to: dir + "/flow.ezflow")
        XCTAssertEqual(ezrun(["run", "flow.ezflow", "--run-id", "a", "--quiet"], in: dir).status, 0)
        let again = ezrun(["run", "flow.ezflow", "--run-id", "a"], in: dir)
        XCTAssertEqual(again.status, 2, again.stderr)
        XCTAssertEqual(again.stderr, "ezrun: run `a` already exists in this store; pick another --run-id, or continue it with `ezrun resume a`\n")
        let cancel = ezrun(["cancel", "nope"], in: dir)
        XCTAssertEqual(cancel.status, 2, cancel.stderr)
        XCTAssertTrue(cancel.stderr.contains("no run `nope`"), cancel.stderr)
        for args in [["run", "flow.ezflow", "--db", ""], ["status", "a", "--db", ""], ["run", "flow.ezflow", "--breaker-cool-down", "5"]] {
            let r = ezrun(args, in: dir)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("ezrun \(args[0]): --"), r.stderr)
        }
    }

    /// A principal is a name, not text to print: no forged log lines, no look-alike with a space.
    func testPrincipalsAreWords() {
        let dir = tempDir("script")
        write(Self.flow, to: dir + "/flow.ezflow")
        for who in ["evil\n\u{1B}[31mFAKE:releaser", "ana :releaser", "ana:rel easer", "\u{7}"] {
            let r = ezrun(["run", "flow.ezflow", "--as", who], in: dir)
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertEqual(r.stderr, "ezrun: --as: a principal's name and roles are words without spaces or control characters\n")
            XCTAssertEqual(r.stdout, "")
        }
    }
}
