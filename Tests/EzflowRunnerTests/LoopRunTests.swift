import EzflowRunner
import EzflowRuntime
import Foundation
import Synchronization
import EzflowTestSupport
import XCTest

/// Issue 13, bounded loops, end to end with the built `ezrun` on exec agents: `until`
/// ends the loop early (the rest skipped, never a failure), an iteration reads the previous
/// one through `previous`, a task after the loop reads the last iteration; an exhausted
/// loop fails with `loop_exhausted` (exit 1) unless `on_exhausted: succeed`; kill -9 in
/// the middle of iteration 2 and `ezrun resume` end the same way; every journal replays.
final class LoopRunTests: XCTestCase {
    /// `review` approves from round `inputs.rounds` on; each draft names its round and the
    /// previous review's comments; `publish` writes the last draft to `published.txt`.
    static func workflow(onExhausted: String = "fail", reviewExtra: String = "", extra: String = "") -> String {
        """
        agent sh { driver: exec, capabilities: ["shell"] }
        workflow revise {
          input rounds: int = 2
          group rounds_loop {
            repeat {
              max: 3
              until: review.outputs.approved
              on_exhausted: \(onExhausted)
            }
            task draft {
              env: { PREV: previous.review.outputs.comments ?? "none" }
              run: "printf '{\\"text\\": \\"draft %s after %s\\"}' ${iteration} \\"$PREV\\""
              output text: string
            }
            task review {
              after: [draft]
              run: "\(reviewExtra)if [ ${iteration} -ge ${inputs.rounds} ]; then echo '{\\"approved\\": true, \\"comments\\": \\"ok\\"}'; else echo '{\\"approved\\": false, \\"comments\\": \\"fix round ${iteration}\\"}'; fi"
              output approved: bool
              output comments: string
            }
          }
          task publish { run: "echo ${draft.outputs.text} > published.txt" }
        \(extra)
        }
        """
    }

    /// The STATE column of `ezrun status` for each task row, by task name.
    func states(_ dir: String, _ id: String) -> [String: String] {
        let r = ezrun(["status", id], in: dir)
        var out: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            let cols = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard cols.count == 2, cols[0].hasPrefix("draft") || cols[0].hasPrefix("review") || cols[0] == "rounds_loop" || cols[0] == "publish" else { continue }
            out[cols[0]] = cols[1].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    func testUntilEndsTheLoopEarlyAndTheLastIterationIsReadAfterIt() throws {
        let dir = tempDir("loop")
        write(Self.workflow(), to: dir + "/f.ezflow")
        let r = ezrun(["run", "f.ezflow", "--run-id", "e1", "--junit", "junit.xml"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(read(dir + "/junit.xml").contains("condition: `until` of loop `rounds_loop` held after iteration 2"), read(dir + "/junit.xml"))
        // Iteration 2 read iteration 1's comments through `previous`; publish read iteration 2.
        XCTAssertEqual(read(dir + "/published.txt"), "draft 2 after fix round 1\n")
        let s = states(dir, "e1")
        XCTAssertTrue(s["draft[iteration=1]"]?.hasPrefix("succeeded") ?? false, "\(s)")
        XCTAssertTrue(s["review[iteration=2]"]?.hasPrefix("succeeded") ?? false, "\(s)")
        XCTAssertTrue(s["draft[iteration=3]"]?.hasPrefix("skipped (condition)") ?? false, "iteration 3 is skipped, not failed: \(s)")
        XCTAssertTrue(s["review[iteration=3]"]?.hasPrefix("skipped") ?? false, "\(s)")
        XCTAssertTrue(s["rounds_loop"]?.hasPrefix("succeeded") ?? false, "\(s)")
        XCTAssertTrue(r.stderr.contains("run finished: success"), r.stderr)
        assertReplays(dir, "e1")
    }

    func testAnExhaustedLoopFailsWithLoopExhausted() throws {
        let dir = tempDir("loop")
        // The loop's failure reaches a `run_on: failure` task and `run.failures`, by the group's name.
        let extra = """
              task alert { run_on: failure, after: [rounds_loop], run: "echo ${draft.outputs.text ?? "none"} > alert.txt" }
              finally {
                task report { timeout: 10s, run: "echo ${join(run.failures, ",")} > failures.txt" }
              }
            """
        write(Self.workflow(extra: extra), to: dir + "/f.ezflow")
        let r = ezrun(["run", "f.ezflow", "--run-id", "x1", "--input", "rounds=5"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        let status = ezrun(["status", "x1"], in: dir).stdout
        XCTAssertTrue(status.contains("loop_exhausted"), status)
        let s = states(dir, "x1")
        XCTAssertTrue(s["review[iteration=3]"]?.hasPrefix("succeeded") ?? false, "all 3 iterations ran: \(s)")
        XCTAssertTrue(s["rounds_loop"]?.hasPrefix("failed") ?? false, "\(s)")
        XCTAssertTrue(s["publish"]?.hasPrefix("skipped (upstream_failed)") ?? false, "\(s)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/published.txt"))
        XCTAssertEqual(read(dir + "/alert.txt"), "draft 3 after fix round 2\n", "an exhausted loop still reads its last round")
        XCTAssertEqual(read(dir + "/failures.txt"), "rounds_loop\n")
        assertReplays(dir, "x1")
    }

    func testOnExhaustedSucceedEndsTheRunWithTheLastIteration() throws {
        let dir = tempDir("loop")
        write(Self.workflow(onExhausted: "succeed"), to: dir + "/f.ezflow")
        let r = ezrun(["run", "f.ezflow", "--run-id", "s1", "--input", "rounds=5"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(read(dir + "/published.txt"), "draft 3 after fix round 2\n")
        assertReplays(dir, "s1")
    }

    func testKillNineInIterationTwoThenResumeEndsTheSame() throws {
        let dir = tempDir("loop")
        // Iteration 2's review marks that it started, then takes a second.
        write(Self.workflow(reviewExtra: "if [ ${iteration} -eq 2 ] && [ ! -e started ]; then touch started; sleep 2; fi; "), to: dir + "/f.ezflow")
        let p = try startUntilStarted(dir, "k1")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/published.txt"), "killed before the loop ended")
        let r = ezrun(["resume", "k1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(read(dir + "/published.txt"), "draft 2 after fix round 1\n", "resume ends as an uninterrupted run")
        let s = states(dir, "k1")
        XCTAssertTrue(s["draft[iteration=3]"]?.hasPrefix("skipped (condition)") ?? false, "\(s)")
        assertReplays(dir, "k1")
    }
}

/// examples/agent_loop.ezflow for real: a loopback LLM server writes a draft that fails
/// the test in round 1 and requests changes, then a draft that passes and is approved in
/// round 2; round 3 is skipped and `publish` writes round 2's draft.
final class AgentLoopExampleTests: XCTestCase {
    static func answer(_ content: String) -> CannedResponse {
        let message: [String: Any] = ["role": "assistant", "content": content]
        let body: [String: Any] = ["choices": [["message": message]], "usage": ["prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60]]
        let data = try! JSONSerialization.data(withJSONObject: body)
        return CannedResponse(status: 200, body: Array(data))
    }

    func testTheLoopRevisesOnceThenPublishesTheApprovedDraft() throws {
        let reviews = Mutex(0)
        let server = try LoopbackServer { req in
            if req.json?["response_format"] != nil {
                let n = reviews.withLock { $0 += 1; return $0 }
                return Self.answer(n == 1 ? #"{"approved": false, "comments": "lower-case the slug"}"# : #"{"approved": true, "comments": "good"}"#)
            }
            let prompt = String(decoding: req.body, as: UTF8.self)
            return Self.answer(prompt.contains("Round 1.") ? "def slugify(title):\n    return title.replace(' ', '-')"
                                                          : "def slugify(title):\n    return title.lower().replace(' ', '-')")
        }
        defer { server.stop() }
        let dir = tempDir("agentloop")
        let src = read(Repo.url("examples/agent_loop.ezflow").path).replacingOccurrences(of: "http://127.0.0.1:8080/v1", with: "\(server.base)/v1")
        write(src, to: dir + "/agent_loop.ezflow")
        let r = ezrun(["run", "agent_loop.ezflow", "--run-id", "a1", "--junit", "junit.xml"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(read(dir + "/slugify.py"), "def slugify(title):\n    return title.lower().replace(' ', '-')\n")
        let prompts = server.requests.filter { $0.json?["response_format"] == nil }.map { String(decoding: $0.body, as: UTF8.self) }
        XCTAssertEqual(prompts.count, 2, "two drafts: the loop stopped after round 2")
        XCTAssertTrue(prompts.first?.contains("comments on the last round: none yet") ?? false, prompts.first ?? "")
        XCTAssertTrue(prompts.last?.contains("comments on the last round: lower-case the slug") ?? false, "round 2 read round 1's review")
        let reviewPrompts = server.requests.filter { $0.json?["response_format"] != nil }.map { String(decoding: $0.body, as: UTF8.self) }
        XCTAssertTrue(reviewPrompts.first?.contains("Tests passed: false") ?? false, "a red test is an output the reviewer reads")
        let junit = read(dir + "/junit.xml")
        XCTAssertTrue(junit.contains("draft[iteration=3]"), junit)
        XCTAssertEqual(ezrun(["replay", "a1"], in: dir).status, 0)
    }

    /// `ezrun simulate`: the iterations follow the simulated review (a coin flip per
    /// instance): some runs stop after round 1, some go on, a few exhaust the loop.
    func testSimulatedIterationsFollowTheSimulatedOutputs() throws {
        let dir = tempDir("agentloop-sim")
        let src = Repo.url("examples/agent_loop.ezflow").path
        let r = ezrun(["simulate", src, "--seed", "7", "--runs", "40", "--journal-dir", "j"], in: dir)
        XCTAssertTrue(r.stdout.contains("success: 37/40"), r.stdout + r.stderr)
        let journals = try FileManager.default.contentsOfDirectory(atPath: dir + "/j")
        XCTAssertEqual(journals.count, 40)
        let second = try journals.filter { try read(dir + "/j/" + $0).contains("draft[iteration=2]\",\"task") }
        XCTAssertTrue(second.count > 0 && second.count < 40, "round 2 ran in \(second.count) of 40 runs")
        // Same seed, same runs.
        let again = ezrun(["simulate", src, "--seed", "7", "--runs", "40"], in: dir)
        XCTAssertEqual(again.stdout.split(separator: "\n").filter { $0.hasPrefix("success:") }, r.stdout.split(separator: "\n").filter { $0.hasPrefix("success:") })
    }
}
