import EzflowIR
@testable import EzflowReport
import EzflowRuntime
import Foundation
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
        let p = Progress(width: 100)
        let s = d.states[2]  // test in backoff; lint, docs running
        XCTAssertEqual(p.statusLine(state: s, nowMs: t0 + 2_600),
                       "[===>              ] 1/6 2s | 2 running, 1 backoff, 1 succeeded | $0.01 | lint, docs")
        // A narrower terminal: a shorter bar, then none; always within the width.
        XCTAssertEqual(Progress(width: 50).statusLine(state: s, nowMs: t0 + 2_600), "[=>      ] 1/6 2s | 2 running, 1 backoff, 1 suc...")
        let narrow = Progress(width: 30).statusLine(state: s, nowMs: t0 + 2_600)
        XCTAssertEqual(narrow, "1/6 2s | 2 running, 1 backo...")
        // Colour on the state words only, and never counted in the width nor cut.
        let coloured = Progress(width: 100, color: true).statusLine(state: s, nowMs: t0 + 62_600)
        XCTAssertEqual(coloured, "[===>              ] 1/6 1m02s | 2 running, 1 backoff, \u{1B}[32m1 succeeded\u{1B}[0m | $0.01 | lint, docs")
        let cut = Progress(width: 48, color: true).statusLine(state: s, nowMs: t0 + 2_600)
        XCTAssertEqual(cut, "[=>      ] 1/6 2s | 2 running, 1 backoff, \u{1B}[32m1 s\u{1B}[0m...")
    }

    /// The ticking thread redraws when the elapsed time moves on, not otherwise; lines
    /// printed above go out in the same write as the erase and the redraw; after `finish`
    /// the line is gone and nothing more is drawn.
    func testLiveStatusTicksAndErases() throws {
        let (_, d) = try failedRun()
        let p = Progress(width: 100)
        let facts = p.statusFacts(state: d.states[2])  // the state's own time: 2.6 s in
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var now: Int64 = 0
            var writes: [String] = []
        }
        let box = Box()
        box.now = t0 + 3_500
        let live = LiveStatus(periodMs: 5, clock: { box.lock.withLock { box.now } },
                              write: { w in box.lock.withLock { box.writes.append(w) } },
                              render: { p.statusLine($0, nowMs: $1) })
        live.start()
        usleep(30_000)
        XCTAssertEqual(box.lock.withLock { box.writes }, [], "nothing before the first facts")
        live.update(facts)
        usleep(30_000)
        box.lock.withLock { box.now = t0 + 4_500 }
        usleep(30_000)
        live.update(facts, printing: "a line\n")
        live.finish()
        usleep(20_000)
        live.print("after\n")
        let erase = "\r\u{1B}[K"
        XCTAssertEqual(box.lock.withLock { box.writes }, [
            "[===>              ] 1/6 3s | 2 running, 1 backoff, 1 succeeded | $0.01 | lint, docs",
            erase + "[===>              ] 1/6 4s | 2 running, 1 backoff, 1 succeeded | $0.01 | lint, docs",
            erase + "a line\n[===>              ] 1/6 4s | 2 running, 1 backoff, 1 succeeded | $0.01 | lint, docs",
            erase,
            "after\n",
        ])
    }
}
