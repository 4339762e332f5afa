// `DeadLetterFeed`: the entries a coordinator makes from journal records, the same live
// and on a resume, across a plan upgrade that moves a task to another index.
import EzflowPorts
@testable import EzflowRunner
import EzflowRuntime
import XCTest

final class DeadLetterFeedTests: XCTestCase {
    func failed(_ attempt: Int, _ cls: String, at: Millis) -> AttemptRecord {
        AttemptRecord(attempt: attempt, agent: 0, errorClass: cls, message: "exit 1", startedAtMs: at - 10, endedAtMs: at, costMicros: 0, tokens: 0)
    }

    func testEntriesFollowRecordsAcrossAnUpgradeAndARedriveThatFailsAgainAtOnce() {
        // v1: [lint, test]; v2 adds `docs` before them: `test` is index 2 from the upgrade on.
        let started = JournalRecord(seq: 0, event: .runStarted(runID: "r", seed: 1, planHash: "h1", tagLimits: [:], atMs: 0), commands: [])
        let dead = JournalRecord(seq: 1, event: .taskFailed(task: 1, attempt: 2, errorClass: "agent_error", message: "exit 1", costMicros: 0, tokens: 0,
                                                            atMs: 50, retryAfterMs: nil),
                                 commands: [.deadLetter(task: 1, history: [failed(1, "agent_error", at: 20), failed(2, "agent_error", at: 50)])])
        let upgraded = JournalRecord(seq: 2, event: .planUpgraded(fromHash: "h1", toHash: "h2", atMs: 60), commands: [])
        let redriven = JournalRecord(seq: 3, event: .taskRedriven(task: 2, principal: "ops", atMs: 70),
                                     commands: [.deadLetter(task: 2, history: [failed(1, "agent_error", at: 20), failed(2, "agent_error", at: 50),
                                                                               failed(0, "no_agent", at: 70)])])
        let noop = JournalRecord(seq: 4, event: .taskRedriven(task: 2, principal: "ops", atMs: 71), commands: [])
        let twice = JournalRecord(seq: 5, event: .taskRedriven(task: 2, principal: "dev", atMs: 72), commands: [])
        let journal = [started, dead, upgraded, redriven, noop, twice]
        func entries() -> [DeadLetterEntry] {
            var feed = DeadLetterFeed(runID: "r", versions: [["lint", "test"], ["lint", "docs", "test"]])
            return journal.flatMap { feed.entries(of: $0) }
        }
        let e = entries()
        XCTAssertEqual(e.map { "\($0.seq) \($0.kind.rawValue) \($0.taskName) \($0.errorClass) \($0.attempts)" },
                       ["1 dead_lettered test agent_error 2", "3 redriven test agent_error 2", "3 dead_lettered test no_agent 3",
                        "4 redriven test no_agent 3"], "a re-drive that changed nothing (seq 5: the task was re-driven already) is no entry")
        XCTAssertEqual(e[0].atMs, 50, "the last attempt's end")
        XCTAssertEqual(e[1].principal, "ops")
        XCTAssertEqual(entries(), e, "a resume derives the same entries")
    }
}
