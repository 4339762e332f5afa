import EzflowCompiler
import EzflowIR
import EzflowReport
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

/// 2024-05-01T12:00:00.000Z: a realistic wall-clock start so timestamps are checkable by eye.
let t0: Int64 = 1_714_564_800_000

/// The fixture workflow used by the golden tests, compiled from Tests/Fixtures/report/ci.ezflow.
func fixturePlan(file: StaticString = #filePath, line: UInt = #line) throws -> Plan {
    let path = "Tests/Fixtures/report/ci.ezflow"
    let source = try String(contentsOf: Repo.url(path), encoding: .utf8)
    let r = Compiler.build(root: "ci.ezflow", files: ["ci.ezflow": source])
    guard let bytes = r.ir else {
        XCTFail("fixture did not build: \(r.failure ?? "") \(r.check.diagnostics.map(\.message))", file: file, line: line)
        throw XCTSkip("build failed")
    }
    return try Plan(EzflowIR.validate(bytes))
}

/// Folds events one at a time, keeping the journal and the state after each record.
struct Driver {
    var state: RunState
    var journal: [JournalRecord] = []
    var states: [RunState] = []
    var plan: Plan { state.plan }

    init(_ plan: Plan) { state = RunState(plan: plan) }

    func id(_ name: String) -> Int { plan.taskNames.firstIndex(of: name)! }

    mutating func send(_ e: Event) throws {
        let seq = state.seq
        let cmds = try Core.step(&state, e)
        journal.append(JournalRecord(seq: seq, event: e, commands: cmds))
        states.append(state)
    }

    mutating func ok(_ t: String, _ a: Int = 1, at: Int64, cost: Int64 = 0, tokens: Int64 = 0, outputs: JSONValue = .object([])) throws {
        try send(.taskSucceeded(task: id(t), attempt: a, outputs: outputs, costMicros: cost, tokens: tokens, atMs: t0 + at))
    }

    mutating func fail(_ t: String, _ a: Int = 1, _ cls: String, _ msg: String, at: Int64, cost: Int64 = 0) throws {
        try send(.taskFailed(task: id(t), attempt: a, errorClass: cls, message: msg, costMicros: cost, tokens: 0, atMs: t0 + at))
    }
}

/// The secret the fixture's agents leak; every renderer must redact it.
let secret = "SECRET123"
let redactor: @Sendable (String) -> String = { $0.replacingOccurrences(of: secret, with: "***") }

/// A finished failing run exercising retries, a dead letter, a skip, a rescued fallback,
/// money, tokens, outputs and hostile agent text (markup, control characters, the secret).
func failedRun() throws -> (RunSnapshot, Driver) {
    var d = Driver(try fixturePlan())
    try d.send(.runStarted(runID: "run-42", seed: 7, planHash: d.plan.hash, tagLimits: [:], atMs: t0))
    try d.ok("build", at: 1_200, cost: 10_000)
    try d.fail("test", 1, "transient", "connection reset by peer", at: 2_000)
    try d.fail("lint", 1, "fatal", "3 problems: <b>&\"x\" \u{1B}[31mred\u{1B}[0m token=\(secret)", at: 2_500, cost: 10_000)
    try d.fail("docs", 1, "agent_error", "mkdocs: not found", at: 3_000, cost: 10_000)
    try d.ok("docs_fallback", at: 3_500, cost: 10_000)
    try d.send(.timerFired(.retryDue(task: d.id("test"), attempt: 2), atMs: t0 + 7_000))
    try d.ok("test", 2, at: 9_300, tokens: 1_234, outputs: .object([("notes", .string("all green, key \(secret)"))]))
    let logs = [
        AttemptLog(task: d.id("build"), attempt: 1, agent: 0, stdout: "compiling 12 files\nok\n", stderr: "", exitCode: 0, durationMs: 1_200),
        AttemptLog(task: d.id("lint"), attempt: 1, agent: 0, stdout: "",
                   stderr: "src/a.swift:1: error: bad \u{07}bell\nsrc/b.swift:9: error: ]]> <tag> \(secret)\n", exitCode: 1, durationMs: 1_300),
    ]
    let snap = try RunSnapshot.folding(workflowName: "ci", plan: d.plan, journal: d.journal, logs: logs)
    return (snap, d)
}

func assertGolden(_ actual: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
    if let msg = compareGolden(actual: actual, expectedPath: "Tests/Fixtures/report/" + name) {
        XCTFail(msg, file: file, line: line)
    }
}
