import EzflowIR
import EzflowReport
import EzflowRuntime
import XCTest

/// `ezrun run --log F` writes `JSONLog.record` for every journal record: each event kind
/// has its own wording (no generic "event"), and each command kind its own field or none.
final class RecordLogTests: XCTestCase {
    /// One event per kind with the message and level its log line must carry. The switch
    /// has no `default`, so a new kind does not compile until it is given a line here.
    func expectation(_ kind: EventKind, _ plan: Plan) -> (Event, String, LogLevel, String?) {
        let test = plan.taskNames.firstIndex(of: "test")!
        switch kind {
        case .runStarted:
            return (.runStarted(runID: "r", seed: 7, planHash: "sha256:aa", tagLimits: [:], atMs: t0), "run started", .info, nil)
        case .taskSucceeded:
            return (.taskSucceeded(task: test, attempt: 1, outputs: .object([]), costMicros: 5, tokens: 0, atMs: t0), "attempt succeeded", .info, "test")
        case .taskFailed:
            return (.taskFailed(task: test, attempt: 2, errorClass: "transient", message: "boom", costMicros: 0, tokens: 0, atMs: t0),
                    "attempt failed: boom", .warn, "test")
        case .timerFired:
            return (.timerFired(.deadline, atMs: t0), "timer fired", .info, nil)
        case .approvalGiven:
            return (.approvalGiven(task: test, principal: "ana", approved: false, atMs: t0), "rejected by ana", .info, "test")
        case .agentHealth:
            return (.agentHealth(agent: plan.agentNames.firstIndex(of: "runner_small")!, healthy: false, atMs: t0), "agent runner_small unhealthy", .info, nil)
        case .cancelRequested:
            return (.cancelRequested(reason: "ops", atMs: t0), "cancel requested: ops", .warn, nil)
        case .resumed:
            return (.resumed(atMs: t0), "run resumed", .info, nil)
        case .approvalRefused:
            return (.approvalRefused(task: test, principal: "bob", reason: "role `dev` may not approve", atMs: t0),
                    "approval by bob refused: role `dev` may not approve", .warn, "test")
        case .planUpgraded:
            return (.planUpgraded(fromHash: "sha256:aa", toHash: "sha256:bb", atMs: t0), "plan upgraded", .info, nil)
        case .interrupted:
            return (.interrupted(signal: "SIGTERM", drain: true, atMs: t0), "run interrupted by SIGTERM", .warn, nil)
        case .taskRedriven:
            return (.taskRedriven(task: test, principal: "ops", atMs: t0), "re-driven by ops", .info, "test")
        case .backendFallback:
            return (.backendFallback(primary: "postgres://ezflow:***@db/ezflow", reason: "cannot connect: Connection refused", atMs: t0),
                    "run on the fallback backend: the primary was unreachable: cannot connect: Connection refused", .warn, nil)
        }
    }

    func testEveryEventKindHasItsOwnLine() throws {
        let plan = try fixturePlan()
        var messages = Set<String>()
        for kind in EventKind.allCases {
            let (event, message, level, task) = expectation(kind, plan)
            XCTAssertEqual(event.kind, kind)
            let line = JSONLog.record(JournalRecord(seq: 3, event: event, commands: []), runID: "r", plan: plan)
            XCTAssertEqual(line.message, message, "\(kind)")
            XCTAssertEqual(line.level, level, "\(kind)")
            XCTAssertEqual(line.task, task, "\(kind)")
            XCTAssertEqual(line.fields["seq"], .int(3))
            messages.insert(line.message)
        }
        XCTAssertEqual(messages.count, EventKind.allCases.count, "two kinds share a wording")
    }

    func testRefusalAndUpgradeCarryTheirFields() throws {
        let plan = try fixturePlan()
        let test = plan.taskNames.firstIndex(of: "test")!
        let refused = JSONLog.record(JournalRecord(seq: 4, event: .approvalRefused(task: test, principal: "bob", reason: "no", atMs: t0),
                                                   commands: []), runID: "r", plan: plan).render()
        XCTAssertEqual(refused, #"{"level":"warn","msg":"approval by bob refused: no","principal":"bob","run_id":"r","seq":4,"task":"test","ts":"2024-05-01T12:00:00.000Z"}"#)
        let upgraded = JSONLog.record(JournalRecord(seq: 5, event: .planUpgraded(fromHash: "sha256:aa", toHash: "sha256:bb", atMs: t0),
                                                    commands: []), runID: "r", plan: plan).render()
        XCTAssertEqual(upgraded, #"{"from_ir_hash":"sha256:aa","ir_hash":"sha256:bb","level":"info","msg":"plan upgraded","run_id":"r","seq":5,"ts":"2024-05-01T12:00:00.000Z"}"#)
    }

    /// One command per kind and the field it sets on the line (nil: none).
    func testEveryCommandKindIsHandled() throws {
        let plan = try fixturePlan()
        let build = plan.taskNames.firstIndex(of: "build")!
        for kind in CommandKind.allCases {
            let (command, field, value): (Command, String?, JSONValue?) = switch kind {
            case .dispatch: (.dispatch(task: build, attempt: 1, agent: plan.agentNames.firstIndex(of: "runner_small")!, idempotencyKey: "r/build"), "dispatched",
                             .array([.object([("agent", .string("runner_small")), ("attempt", .int(1)), ("task", .string("build"))])]))
            case .setTimer: (.setTimer(.deadline, atMs: t0), nil, nil)
            case .cancel: (.cancel(task: build, attempt: 1), nil, nil)
            case .requestApproval: (.requestApproval(task: build, reason: .gate), "approval_requested", .string("build"))
            case .deadLetter: (.deadLetter(task: build, history: []), "dead_letter", .string("build"))
            case .finishRun: (.finishRun(.budgetExceeded), "verdict", .string("budget_exceeded"))
            }
            let line = JSONLog.record(JournalRecord(seq: 1, event: .resumed(atMs: t0), commands: [command]), runID: "r", plan: plan)
            XCTAssertEqual(Set(line.fields.keys), Set(["seq"] + (field.map { [$0] } ?? [])), "\(kind)")
            if let field { XCTAssertEqual(line.fields[field], value, "\(kind)") }
        }
    }
}
