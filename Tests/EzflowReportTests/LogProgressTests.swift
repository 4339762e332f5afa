import EzflowIR
@testable import EzflowReport
import EzflowRuntime
import XCTest

final class LogProgressTests: XCTestCase {
    func testJSONLogLine() throws {
        let line = JSONLog.line(atMs: t0 + 1_234, level: .warn, runID: "run-42", task: "lint", attempt: 2,
                                message: "stderr: \(secret)\u{1B}[0m", fields: ["agent": .string("w"), "exit": .int(1),
                                "env": .object([("TOKEN", .string(secret))]), "msg": .string("ignored")],
                                redact: redactor)
        XCTAssertEqual(line, #"{"agent":"w","attempt":2,"env":{"TOKEN":"***"},"exit":1,"level":"warn","msg":"stderr: ***","run_id":"run-42","task":"lint","ts":"2024-05-01T12:00:01.234Z"}"#)
        XCTAssertFalse(line.contains("\n"))
        let bare = JSONLog.line(atMs: 0, level: .info, runID: "r", message: "started")
        XCTAssertEqual(bare, #"{"level":"info","msg":"started","run_id":"r","ts":"1970-01-01T00:00:00.000Z"}"#)
    }

    func testProgressGolden() throws {
        let (snap, d) = try failedRun()
        let p = Progress(width: 80, redact: redactor)
        var out: [String] = []
        for (r, s) in zip(d.journal, d.states) {
            if let l = p.line(for: r, plan: snap.plan, state: s) { out.append(l) }
        }
        let text = out.joined(separator: "\n") + "\n"
        assertGolden(text, "ci.progress.txt")
        XCTAssertFalse(text.contains(secret))
        XCTAssertFalse(text.contains("\u{1B}"))
        XCTAssertTrue(text.contains("run finished: failed in 9.3s, $0.04, 1,234 tokens"))
        XCTAssertTrue(text.contains("task test failed (attempt 1/3, flaky_box): transient: connection reset by peer, retrying in 5.0s"))
    }

    func testTimeoutAndLateResult() throws {
        var d = Driver(try fixturePlan())
        try d.send(.runStarted(runID: "r", seed: 1, planHash: d.plan.hash, tagLimits: [:], atMs: 0))
        try d.send(.cancelRequested(reason: "user pressed ^C \(secret)", atMs: 10))
        // build's attempt was abandoned by the cancel; its late result is charged and ignored.
        try d.send(.taskSucceeded(task: 0, attempt: 1, outputs: .object([]), costMicros: 5, tokens: 0, atMs: 20))
        let p = Progress(redact: redactor)
        let lines = zip(d.journal, d.states).compactMap { p.line(for: $0, plan: d.plan, state: $1) }
        XCTAssertEqual(lines, [
            "run r started: 6 tasks\ntask build started (attempt 1, runner_small)",
            "run cancel requested: user pressed ^C ***\nrun finished: cancelled in 10ms, $0.00, 0 tokens",
            "task build: late result of abandoned attempt 1 ignored",
        ])
        let snap = try RunSnapshot.folding(workflowName: "ci", plan: d.plan, journal: d.journal)
        let s = try JSONParser.parse(SummaryReport.json(snap))
        XCTAssertEqual(s["cost_micros"], .int(5))
        XCTAssertEqual(s["exit_code"], .int(1))
        let xml = JUnitReport.render(snap)
        // A run that exits non-zero is red in JUnit: the task the cancel cut short carries the verdict.
        XCTAssertTrue(xml.contains("failures=\"1\" errors=\"0\" skipped=\"5\""), xml)
        XCTAssertTrue(xml.contains(#"<failure message="the run ended cancelled before this task finished" type="cancelled">"#), xml)
    }

    func testStatusLine() throws {
        let (_, d) = try failedRun()
        let p = Progress(width: 80)
        let s = d.states[2]  // test in backoff; lint, docs running
        XCTAssertEqual(p.statusLine(state: s, nowMs: t0 + 2_600),
                       "1/6 2.6s | 2 running, 1 backoff, 1 succeeded | $0.01 | lint, docs")
        let narrow = Progress(width: 30).statusLine(state: s, nowMs: t0 + 2_600)
        XCTAssertEqual(narrow.count, 30)
        XCTAssertTrue(narrow.hasSuffix("..."))
    }
}
