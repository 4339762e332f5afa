import EzflowCompiler
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

/// Replay goldens in `Tests/Fixtures/replay/` (see the README there): good journals
/// reproduce; tampered ones fail with a named determinism violation at the right index.
final class ReplayTests: XCTestCase {
    static let dir = "Tests/Fixtures/replay"

    /// Scenarios recorded over another scenario's workflow.
    static let planOf = ["interrupt_resume": "retry_approval", "before_gate_timeouts": "retry_approval", "matrix_redrive": "matrix_fail_fast",
                         "dynamic_fanout_overflow": "dynamic_fanout",
                         "loop_exhausted": "loop"]

    /// The selector a scenario was recorded with: `learned` reads the journalled prior.
    static func environment(_ name: String) -> RunEnvironment {
        name == "redrive" ? RunEnvironment(selector: LearnedSelector(predictor: PerformancePredictor())) : RunEnvironment()
    }

    func fixturePlan(_ name: String) throws -> Plan {
        let file = Self.planOf[name] ?? name
        let text = try String(contentsOf: Repo.url("\(Self.dir)/\(file).ezflow"), encoding: .utf8)
        return try makePlan(text)
    }

    func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: Repo.url(path))) }

    /// The scripted scenarios that made the good journals; each reacts to the core's commands.
    func record(_ name: String) throws -> [JournalRecord] {
        var h = Harness(try fixturePlan(name), environment: Self.environment(name))
        func timerAt(_ cs: [String], _ prefix: String) -> Int64 {
            Int64(cs.first { $0.hasPrefix("timer \(prefix)") }!.split(separator: "@").last!)!
        }
        switch name {
        case "retry_approval":
            var cs = try h.start(seed: 7)
            cs = try h.fail("build", 1, "transient", at: 50, cost: 10_000)
            var at = timerAt(cs, "retry/0/2")
            cs = try h.timer(.retryDue(task: 0, attempt: 2), at: at)
            at = timerAt(cs, "timeout/0/2")
            cs = try h.timer(.attemptTimeout(task: 0, attempt: 2), at: at)
            at = timerAt(cs, "retry/0/3")
            try h.ok("build", 2, at: at, cost: 10_000)  // the late result of the timed-out attempt
            try h.timer(.retryDue(task: 0, attempt: 3), at: at)
            try h.ok("build", 3, at: at + 300, cost: 10_000)
            try h.approval("gate", true, at: at + 5_000)
            try h.ok("deploy", at: at + 6_000, cost: 10_000)
        case "interrupt_resume":
            var cs = try h.start(seed: 7)
            try h.send(.interrupted(signal: "SIGINT", drain: false, atMs: 40))
            // `build`'s attempt 1 was ended, never reported; the resume offers it again
            // (same key) and sets its timeout anew from its start.
            cs = try h.send(.resumed(atMs: 900))
            precondition(cs.contains { $0.hasPrefix("dispatch build#1") }, "\(cs)")
            try h.ok("build", 1, at: 950, cost: 10_000)
            try h.send(.interrupted(signal: "SIGTERM", drain: true, atMs: 960))
            // Approved while interrupted: `deploy` is ready, dispatched only by the resume.
            cs = try h.approval("gate", true, at: 1_000)
            precondition(cs.isEmpty, "\(cs)")
            cs = try h.send(.resumed(atMs: 2_000))
            precondition(cs.contains { $0.hasPrefix("dispatch deploy#1") }, "\(cs)")
            try h.ok("deploy", at: 2_100, cost: 10_000)
        case "gate_escalate":
            // The gate times out after 200 ms and asks `oncall`; nobody answers within the
            // escalation's 1 s either: rejected, `deploy` skipped → `failed`.
            try h.start(seed: 2)
            var cs = try h.ok("build", at: 100, outputs: .object([("version", .string("v2"))]))
            precondition(cs.contains("timer approval/1/1/0@300"), "\(cs)")
            cs = try h.timer(.approvalTimeout(task: 1, attempt: 1, stage: 0), at: 300)
            precondition(cs.contains("timer approval/1/1/1@1300"), "\(cs)")
            try h.timer(.approvalTimeout(task: 1, attempt: 1, stage: 1), at: 1_300)
        case "fanout_budget":
            try h.start(seed: 1)
            try h.ok("left", at: 10, cost: 20_000, outputs: .object([("stats", .object([("left", .string("ok"))]))]))
            try h.ok("right", at: 20, cost: 20_000, outputs: .object([("stats", .object([("right", .string("ok"))]))]))
        case "group_fanout":
            try h.start(seed: 3)
            try h.ok("each[0]", at: 100, cost: 10_000)
            try h.send(.approvalRefused(task: h.id("gate"), principal: "mallory", reason: "not an approver", atMs: 150))
            try h.ok("each[1]", at: 200, cost: 10_000)
            try h.ok("each[2]", at: 300, cost: 10_000)
        case "retry_after":
            // 429 with `Retry-After: 2`: due at 2 050, not at the 150 of the backoff; then
            // a wait of 60 s, past the 10 s deadline: no retry, dead letter now.
            try h.start(seed: 11)
            try h.send(.taskFailed(task: 0, attempt: 1, errorClass: "transient", message: "HTTP 429", costMicros: 10_000, tokens: 0,
                                   atMs: 50, retryAfterMs: 2_000))
            try h.timer(.retryDue(task: 0, attempt: 2), at: 2_050)
            try h.send(.taskFailed(task: 0, attempt: 2, errorClass: "transient", message: "HTTP 529", costMicros: 10_000, tokens: 0,
                                   atMs: 2_100, retryAfterMs: 60_000))
        case "redrive":
            // The journalled prior says `spare` succeeds at `prepare` and `sh` fails: the
            // learned selector takes the dearer `spare`. `flaky` dead-letters, its
            // dependents are skipped, the run fails; the re-drive reopens all three with a
            // fresh rule (attempt 3, a retry would be attempt 4) and the run succeeds.
            var cs = try h.start(seed: 13, prior: Self.redrivePrior)
            precondition(cs.contains("dispatch prepare#1@spare"), "\(cs)")
            try h.ok("prepare", at: 10, cost: 20_000)
            cs = try h.fail("flaky", 1, "transient", at: 20, cost: 10_000)
            try h.timer(.retryDue(task: 1, attempt: 2), at: timerAt(cs, "retry/1/2"))
            cs = try h.fail("flaky", 2, "transient", at: 150, cost: 10_000)
            precondition(cs.contains("finish failed"), "\(cs)")
            cs = try h.send(.taskRedriven(task: h.id("flaky"), principal: "ops", atMs: 1_000))
            precondition(cs.contains("dispatch flaky#3@sh"), "\(cs)")
            cs = try h.fail("flaky", 3, "transient", at: 1_050, cost: 10_000)
            try h.timer(.retryDue(task: 1, attempt: 4), at: timerAt(cs, "retry/1/4"))
            try h.ok("flaky", 4, at: 1_200, cost: 10_000)
            try h.ok("publish", at: 1_300, cost: 10_000)
            try h.ok("notify", at: 1_400, cost: 10_000)
        case "matrix_fail_fast":
            // Three cells, two at a time (`max_parallel`), each on its `os`'s agent; the
            // macos cell dead-letters: `fail_fast` cancels the running linux cell and the
            // queued one, `report` is skipped → `failed`.
            var cs = try h.start(seed: 17)
            precondition(cs == ["dispatch test[os=linux,n=1]#1@lin", "dispatch test[os=linux,n=2]#1@lin"], "\(cs)")
            cs = try h.ok("test[os=linux,n=1]", at: 10, outputs: .object([("stdout", .string("ok"))]))
            precondition(cs == ["dispatch test[os=macos,n=1]#1@mac"], "\(cs)")
            cs = try h.fail("test[os=macos,n=1]", 1, "agent_error", at: 20)
            precondition(cs.contains("cancel test[os=linux,n=2]#1") && cs.contains("finish failed"), "\(cs)")
        case "matrix_redrive":
            // As `matrix_fail_fast`, then the dead-lettered cell is re-driven: the cell its
            // `fail_fast` cancelled waits again and both run (fresh rules), then `report`.
            try h.start(seed: 17)
            try h.ok("test[os=linux,n=1]", at: 10, outputs: .object([("stdout", .string("a"))]))
            try h.fail("test[os=macos,n=1]", 1, "agent_error", at: 20)
            var cs = try h.send(.taskRedriven(task: h.id("test[os=macos,n=1]"), principal: "ops", atMs: 1_000))
            precondition(Set(cs) == ["dispatch test[os=macos,n=1]#2@mac", "dispatch test[os=linux,n=2]#2@lin"], "\(cs)")
            try h.ok("test[os=linux,n=2]", 2, at: 1_100, outputs: .object([("stdout", .string("b"))]))
            cs = try h.ok("test[os=macos,n=1]", 2, at: 1_200, outputs: .object([("stdout", .string("c"))]))
            precondition(cs == ["dispatch report#1@lin"], "\(cs)")
            try h.ok("report", at: 1_300)
        case "conditions":
            // `lint` fails (allowed): `deploy`'s gate opens, its `when` is false (env dev):
            // skipped `condition`, `announce` `upstream_skipped`; `rollback` (run_on:
            // failure) finds no failure: skipped `condition`; `report` (always) reads
            // `lint.status` = failed and runs → `success`.
            try h.start(seed: 17)
            try h.ok("build", at: 10, outputs: .object([("version", .string("1.2"))]))
            try h.fail("lint", 1, "agent_error", at: 20)
            try h.ok("report", at: 30)
        case "dynamic_fanout":
            // `list` answers two items for three slots: `lint[0]` runs for "a", `lint[1]`'s
            // `when` is false for "skip" (skipped `condition`, so `summary` is skipped
            // `upstream_skipped`, as after any skipped instance), `lint[2]` is unused (passed on
            // as a success) → `success`. The list is the journalled output: nothing new.
            try h.start(seed: 19)
            var cs = try h.ok("list", at: 10, outputs: .object([("items", .array([.string("a"), .string("skip")]))]))
            precondition(cs == ["dispatch lint[0]#1@sh"], "\(cs)")
            cs = try h.ok("lint[0]", at: 20, outputs: .object([("report", .string("ra"))]))
            precondition(cs == ["finish success"], "\(cs)")
        case "dynamic_fanout_overflow":
            // Four items for three slots: `lint[0]` fails `fanout_overflow` (no attempt), the
            // other slots are unused, `summary` is skipped → `failed`.
            try h.start(seed: 19)
            let cs = try h.ok("list", at: 10, outputs: .object([("items", .array(["a", "b", "c", "d"].map { .string($0) }))]))
            precondition(cs == ["finish failed"], "\(cs)")
        case "compensation":
            // `c` fails: `b` is undone first (latest completion), then `a`, one at a time,
            // then `finally`. A cancel and the deadline during compensation stop nothing;
            // `undo_b` fails once and is retried by its own rule.
            try h.start(seed: 19)
            try h.ok("a", at: 10, outputs: .object([("id", .string("A1"))]))
            try h.ok("b", at: 20)
            var cs = try h.fail("c", 1, "agent_error", at: 30)
            precondition(cs.contains { $0.hasPrefix("dispatch undo_b#1") } && !cs.contains { $0.hasPrefix("dispatch undo_a") }, "\(cs)")
            cs = try h.send(.cancelRequested(reason: "user", atMs: 40))
            precondition(cs.isEmpty, "a cancel stops no undo: \(cs)")
            cs = try h.fail("undo_b", 1, "transient", at: 50)
            precondition(cs.contains("timer retry/\(h.id("undo_b"))/2@150"), "\(cs)")
            cs = try h.timer(.retryDue(task: h.id("undo_b"), attempt: 2), at: 150)
            precondition(cs.contains { $0.hasPrefix("dispatch undo_b#2") }, "\(cs)")
            cs = try h.timer(.deadline, at: 3_600_000)
            precondition(cs.isEmpty, "the deadline stops no undo: \(cs)")
            cs = try h.ok("undo_b", 2, at: 3_600_100)
            precondition(cs.contains { $0.hasPrefix("dispatch undo_a#1") }, "\(cs)")
            cs = try h.ok("undo_a", at: 3_600_200)
            precondition(cs.contains { $0.hasPrefix("dispatch fin#1") }, "\(cs)")
            try h.ok("fin", at: 3_600_300)
        case "loop", "loop_exhausted":
            // Round 1 is not approved; round 2 is (`loop`): round 3 is skipped `condition`,
            // the loop succeeds, `publish` reads round 2. `loop_exhausted`: no round is
            // approved, the loop fails (`loop_exhausted`), `alert` (run_on: failure) runs.
            let rounds = name == "loop" ? 2 : 3
            try h.start(seed: 19)
            for i in 1...rounds {
                try h.ok("draft[iteration=\(i)]", at: Int64(20 * i), outputs: .object([("stdout", .string("d\(i)"))]))
                let approved = name == "loop" && i == 2
                try h.ok("review[iteration=\(i)]", at: Int64(20 * i + 10),
                         outputs: .object([("approved", .bool(approved)), ("note", .string(approved ? "ok" : "again"))]))
            }
            try h.ok(name == "loop" ? "publish" : "alert", at: 100)
        case "outputs_condition":
            try h.start(seed: 5)
            try h.fail("check", 1, "fatal", at: 10)
            try h.ok("build", at: 20, outputs: .object([("image", .string("app:7")), ("score", .int(5))]))
            try h.ok("rescue", at: 30)
            try h.ok("deploy", at: 40)
        default:
            XCTFail("no scenario \(name)")
        }
        return h.run.records
    }

    /// The loop goldens' end states, replayed from disk: skip reasons, the loop's class and
    /// what a task after the loop reads (round 2 in `loop`).
    func checkLoop(_ name: String, _ plan: Plan, _ state: RunState) throws {
        let ended = Dictionary(uniqueKeysWithValues: plan.taskNames.indices.map { (plan.taskNames[$0], state.skipReason[$0]?.rawValue ?? state.tasks[$0].name) })
        let loop = try XCTUnwrap(plan.taskNames.firstIndex(of: "revise"))
        if name == "loop" {
            XCTAssertEqual(state.verdict, .success)
            XCTAssertEqual(ended, ["draft[iteration=1]": "succeeded", "review[iteration=1]": "succeeded", "draft[iteration=2]": "succeeded",
                                   "review[iteration=2]": "succeeded", "draft[iteration=3]": "condition", "review[iteration=3]": "upstream_skipped",
                                   "revise": "succeeded", "publish": "succeeded", "alert": "condition"])
            XCTAssertEqual(state.readOutputs(ofTask: loop)?["draft"]?["stdout"], .string("d2"))
            XCTAssertEqual(state.readOutputs(ofTask: loop)?["review"]?["note"], .string("ok"))
        } else {
            XCTAssertEqual(state.verdict, .failed)
            XCTAssertEqual(ended["revise"], "failed")
            XCTAssertEqual(ended["publish"], "upstream_failed")
            XCTAssertEqual(ended["alert"], "succeeded")
            XCTAssertEqual(state.history[loop].last?.errorClass, "loop_exhausted")
            XCTAssertEqual(state.readOutputs(ofTask: loop)?["draft"]?["stdout"], .string("d3"), "an exhausted loop still reads its last round")
        }
    }

    /// A journal written before gates had timeouts and questions (no `text`, no gate
    /// timer) still replays, so a run paused across the upgrade resumes.
    func testJournalsWrittenBeforeGateTimeoutsReplay() throws {
        let old = try Journal.decode(try read("\(Self.dir)/before_gate_timeouts.journal.jsonl"))
        let texts = old.flatMap(\.commands).filter { if case .requestApproval(_, _, let text) = $0 { text != nil } else { false } }
        XCTAssertTrue(texts.isEmpty, "the fixture must be an old journal")
        let state = try Replay.verify(plan: try fixturePlan("before_gate_timeouts"), journal: old)
        XCTAssertEqual(state.verdict, .success)
    }

    func testGoodJournalsReproduce() throws {
        var failures: [String] = []
        for name in ["retry_approval", "fanout_budget", "group_fanout", "outputs_condition", "interrupt_resume", "retry_after",
                     "gate_escalate", "redrive", "matrix_fail_fast", "matrix_redrive", "conditions", "dynamic_fanout",
                     "dynamic_fanout_overflow", "compensation", "loop", "loop_exhausted"] {
            let path = "\(Self.dir)/\(name).journal.jsonl"
            let recorded = String(decoding: Journal.encode(try record(name)), as: UTF8.self)
            if let f = compareGolden(actual: recorded, expectedPath: path) { failures.append(f) }
            let plan = try fixturePlan(name)
            let state = try Replay.verify(plan: plan, journal: try Journal.decode(try read(path)), environment: Self.environment(name))
            XCTAssertNotNil(state.verdict, name)
            if name.hasPrefix("dynamic_fanout") {
                try checkDynamicFanout(name, plan, state)
            } else if name == "conditions" {
                XCTAssertEqual(state.verdict, .success)
                let reasons = plan.taskNames.indices.map { state.skipReason[$0]?.rawValue ?? state.tasks[$0].name }
                XCTAssertEqual(Dictionary(uniqueKeysWithValues: zip(plan.taskNames, reasons)),
                               ["build": "succeeded", "lint": "dead_lettered", "deploy": "condition", "announce": "upstream_skipped",
                                "rollback": "condition", "report": "succeeded"])
                XCTAssertTrue(state.allowedFailure(plan.taskNames.firstIndex(of: "lint")!))
            } else if name == "compensation" {
                XCTAssertEqual(state.verdict, .failed, "compensation never turns a failed run into a success")
                XCTAssertEqual(state.compensating, .failed)
                XCTAssertEqual(state.failedUndos, [])
                XCTAssertEqual(Dictionary(uniqueKeysWithValues: plan.taskNames.enumerated().map { ($1, state.tasks[$0].name) }),
                               ["a": "succeeded", "b": "succeeded", "c": "dead_lettered", "undo_a": "succeeded", "undo_b": "succeeded",
                                "fin": "succeeded"])
            } else if name == "loop" || name == "loop_exhausted" {
                try checkLoop(name, plan, state)
            } else if name == "retry_approval" {
                XCTAssertEqual(state.verdict, .success)
                XCTAssertEqual(state.chargedMicros, 40_000)
            } else if name == "group_fanout" {
                XCTAssertEqual(state.verdict, .budgetExceeded)
                XCTAssertEqual(state.refusedTask, plan.taskNames.firstIndex(of: "each[3]"))
                XCTAssertEqual(state.refusedGroup, plan.groupNames.firstIndex(of: "batch"))
                XCTAssertEqual(state.groupChargedMicros, [30_000])
            } else if name == "outputs_condition" {
                try checkOutputsCondition(plan, state)
            } else if name == "retry_after" {
                XCTAssertEqual(state.verdict, .failed)
                XCTAssertEqual(state.attempts[0], 2)
                XCTAssertEqual(state.history[0].last?.message,
                               "HTTP 529; not retried: the server asked to wait 1m, past the run's deadline")
            } else if name == "gate_escalate" {
                XCTAssertEqual(state.verdict, .failed)
                XCTAssertEqual(state.tasks, [.succeeded, .failed, .skipped])
                XCTAssertEqual(state.history[1].map(\.message), ["no answer within 1s: rejected after the escalation"])
            } else if name == "redrive" {
                try checkRedrive(plan, state)
            } else if name == "matrix_redrive" {
                XCTAssertEqual(state.verdict, .success)
                XCTAssertEqual(state.tasks, [.succeeded, .succeeded, .succeeded, .succeeded])
            } else if name == "matrix_fail_fast" {
                XCTAssertEqual(state.verdict, .failed)
                XCTAssertEqual(plan.taskNames, ["test[os=linux,n=1]", "test[os=linux,n=2]", "test[os=macos,n=1]", "report"])
                XCTAssertEqual(state.tasks, [.succeeded, .cancelled, .deadLettered, .skipped])
            } else if name == "interrupt_resume" {
                XCTAssertEqual(state.verdict, .success)
                XCTAssertEqual(state.chargedMicros, 20_000)
                XCTAssertEqual(state.attempts[plan.taskNames.firstIndex(of: "build")!], 1, "the interrupted attempt is not a new one")
            } else {
                XCTAssertEqual(state.verdict, .budgetExceeded)
                XCTAssertEqual(state.outputs[0], .object([("left", .string("ok")), ("right", .string("ok"))]))
            }
        }
        XCTAssert(failures.isEmpty, failures.joined(separator: "\n\n"))
    }

    /// Replayed from disk: the slots are decided from the journalled list alone.
    func checkDynamicFanout(_ name: String, _ plan: Plan, _ state: RunState) throws {
        XCTAssertEqual(plan.taskNames, ["list", "lint[0]", "lint[1]", "lint[2]", "summary"])
        let shown = plan.taskNames.indices.map { state.skipReason[$0]?.rawValue ?? state.tasks[$0].name }
        if name == "dynamic_fanout" {
            XCTAssertEqual(state.verdict, .success)
            XCTAssertEqual(shown, ["succeeded", "succeeded", "condition", "unused_slot", "upstream_skipped"])
            XCTAssertEqual(state.item(ofTask: 1), .string("a"))
            XCTAssertEqual(state.item(ofTask: 3), nil)
        } else {
            XCTAssertEqual(state.verdict, .failed)
            XCTAssertEqual(shown, ["succeeded", "failed", "unused_slot", "unused_slot", "upstream_failed"])
            XCTAssertEqual(state.history[1].map(\.errorClass), ["fanout_overflow"])
            XCTAssertEqual(state.history[1].first?.message, "`list.outputs.items` has 4 items, more than `max_items: 3` of `lint`")
        }
    }

    /// Per (agent, kind) for `prepare`: `spare` 9 of 9, `sh` 1 of 10.
    static let redrivePrior: LearnedPrior = {
        var spare = LearnedPrior.Entry(agent: "spare", kind: "prepare")
        spare.successes = 9
        spare.latencySumMs = 900
        spare.latencySumSq = 90_000
        spare.costSumMicros = 180_000
        spare.costSumSq = 3_600_000_000
        var sh = LearnedPrior.Entry(agent: "sh", kind: "prepare")
        sh.successes = 1
        sh.failures = 9
        sh.latencySumMs = 1_000
        sh.latencySumSq = 100_000
        sh.costSumMicros = 100_000
        sh.costSumSq = 1_000_000_000
        return LearnedPrior(runs: 5, entries: [sh, spare])
    }()

    /// Replayed from disk: the prior is back in the state, `flaky` ran a fresh rule after
    /// its re-drive, and its skipped dependents ran.
    func checkRedrive(_ plan: Plan, _ state: RunState) throws {
        XCTAssertEqual(state.verdict, .success)
        let flaky = try XCTUnwrap(plan.taskNames.firstIndex(of: "flaky"))
        XCTAssertEqual(state.attempts[flaky], 4)
        XCTAssertEqual(state.attemptBase[flaky], 2)
        XCTAssertEqual(state.history[flaky].map(\.errorClass), ["transient", "transient", "transient", nil])
        XCTAssertEqual(state.history[0].first?.agent, plan.agentNames.firstIndex(of: "spare"))
        XCTAssertEqual(state.learned, PerformancePredictor(prior: Self.redrivePrior))
        XCTAssertEqual(state.tasks, [.succeeded, .succeeded, .succeeded, .succeeded])
    }

    /// Replayed from disk: `build`'s outputs are in the state, and the core decides
    /// `deploy`'s condition over them and the inputs; the fallback rescued `check`.
    func checkOutputsCondition(_ plan: Plan, _ state: RunState) throws {
        XCTAssertEqual(state.verdict, .success)
        let build = try XCTUnwrap(plan.taskNames.firstIndex(of: "build")), deploy = try XCTUnwrap(plan.taskNames.firstIndex(of: "deploy"))
        XCTAssertEqual(plan.nodeKind[try XCTUnwrap(plan.taskNames.firstIndex(of: "rescue"))], .fallback)
        XCTAssertEqual(state.readOutputs(ofTask: build), .object([("image", .string("app:7")), ("score", .int(5))]))
        guard case .array(let parts)? = plan.taskJSON[deploy]["env"]?["GO"]?["template"], let go = parts.first else {
            return XCTFail("no GO condition in the plan")
        }
        XCTAssertEqual(state.decide(go, for: deploy), .yes)
        XCTAssertEqual(state.decide(go, for: deploy, rootInputs: ["env": .string("prod"), "min": .int(6)]), .no)
        XCTAssertEqual(state.evaluate(try XCTUnwrap(plan.taskJSON[deploy]["env"]?["IMG"]), for: deploy), .value(.string("app:7")))
    }

    func testTamperedJournalsFailWithANamedViolation() throws {
        let bad = Repo.files(in: Self.dir, ext: [".jsonl"]).filter { ($0 as NSString).lastPathComponent.hasPrefix("bad-") }
        XCTAssertGreaterThanOrEqual(bad.count, 3)
        var failures: [String] = []
        for path in bad {
            let file = (path as NSString).lastPathComponent
            let scenario = String(file.dropFirst(4).prefix { $0 != "." && $0 != "-" && $0 != "+" }).replacingOccurrences(of: "#", with: "")
            let name = scenario.hasPrefix("retry") ? "retry_approval" : "fanout_budget"
            let plan = try fixturePlan(name)
            var message = "no violation"
            do { _ = try Replay.verify(plan: plan, journal: try Journal.decode(try read(path))) } catch {
                message = "\(error)"
            }
            XCTAssertTrue(message.hasPrefix("determinism violation"), "\(file): \(message)")
            let expected = path.replacingOccurrences(of: ".journal.jsonl", with: ".expected")
            if let f = compareGolden(actual: message + "\n", expectedPath: expected) { failures.append(f) }
        }
        XCTAssert(failures.isEmpty, failures.joined(separator: "\n\n"))
    }

    /// Replay with other code (here: another selector) diverges at the first dispatch.
    func testChangedBehaviourIsReportedAtTheFirstDivergentEvent() throws {
        struct LastFit: AgentSelector {
            func choose(task: Int, candidates: [Int], view: SelectorView, rng: inout SeededRandom) -> Int? { candidates.last }
        }
        let p = try makePlan(workflow("""
          agents: [v, x]
          task a {
            run: "echo"
          }
        """))
        var h = Harness(p)
        try h.start()
        try h.ok("a", at: 1)
        XCTAssertNoThrow(try Replay.verify(plan: p, journal: h.run.records))
        XCTAssertThrowsError(try Replay.verify(plan: p, journal: h.run.records, environment: RunEnvironment(selector: LastFit()))) { error in
            let v = error as! DeterminismViolation
            XCTAssertEqual(v.kind, .commandsDiffer)
            XCTAssertEqual(v.index, 0)
            XCTAssertEqual(v.expected, [.dispatch(task: 0, attempt: 1, agent: 0, idempotencyKey: "r1/a")])
            XCTAssertEqual(v.actual, [.dispatch(task: 0, attempt: 1, agent: 2, idempotencyKey: "r1/a")])
        }
    }
}
