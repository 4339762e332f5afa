// One redacting journal writer: a secret planted in every event field that can carry text
// from outside (task outputs, failure class and message, approval principal and refusal,
// cancellation reason) and in the attempt logs is found nowhere in the store.
import EzflowCompiler
import EzflowIR
import EzflowPorts
@testable import EzflowRunner
import EzflowRuntime
import Foundation
import XCTest

/// Finishes every attempt at once with a scripted outcome.
final class ScriptedExecutor: AttemptExecutor {
    let outcome: (WorkItem) -> (WorkOutcome, AttemptLogRow?)
    init(_ outcome: @escaping (WorkItem) -> (WorkOutcome, AttemptLogRow?)) { self.outcome = outcome }
    func start(_ items: [WorkItem], runner: Runner) throws(StoreError) {
        for l in try runner.ports.queue.claim(owner: "w", max: items.count, nowMs: 0, leaseMs: 1_000_000) {
            let (o, log) = outcome(l.item)
            _ = try runner.ports.queue.complete(WorkCompletion(item: l.item, owner: "w", outcome: o, log: log), nowMs: 0)
        }
    }
    func cancel(task: Int, attempt: Int) {}
}

final class JournalWriterTests: XCTestCase {
    func testNoSecretReachesTheStore() throws {
        let source = """
            agent sh { driver: exec, capabilities: ["shell"] }
            workflow w {
              task a {
                run: "true"
                output x: string
              }
              task b { run: "true" }
            }
            """
        let built = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source])
        let bytes = try XCTUnwrap(built.ir, "\(built.check.diagnostics.map(\.message))")
        let program = try validate(bytes)
        let secret = "s3cr3t-VALUE-0123456789"
        let store = MemoryStore(), clock = ManualClock(startMs: 1_000)
        let ports = RunPorts(store: store, inbox: store, clock: clock, lease: MemoryRunLease(), queue: MemoryWorkQueue(), owner: "t")
        let runner = try Runner.start(program: program, irBytes: bytes, inputs: [:], runID: "r", seed: 1, config: RunConfig(), ports: ports)
        runner.redactor.add(name: "TOKEN", value: secret)
        runner.executor = ScriptedExecutor { item in
            let log = AttemptLogRow(task: item.task, attempt: item.attempt, seq: -1, agent: item.agent, exitCode: 1, durationMs: 1,
                                    stdout: "out \(secret)", stderr: "err \(secret)")
            let o: WorkOutcome = item.task == 0
                ? .succeeded(outputs: .object([("x", .string("v=\(secret)")), ("\(secret)", .string("key"))]), costMicros: 0, tokens: 0)
                : .failed(errorClass: "class-\(secret)", message: "message \(secret)", costMicros: 0, tokens: 0)
            return (o, log)
        }
        _ = try store.post(InboxItem(runID: "r", kind: .approval, task: "a", principal: "p-\(secret)", approved: true,
                                     refusal: "refused \(secret)", comment: "", createdMs: 1))
        var turns = 0
        while true {
            if turns == 1 {
                _ = try store.post(InboxItem(runID: "r", kind: .cancel, task: nil, principal: "q-\(secret)", approved: false, refusal: nil,
                                             comment: "because \(secret)", createdMs: 2))
            }
            turns += 1
            if case .stopped = try runner.turn() { break }
            XCTAssertLessThan(turns, 20)
        }
        let journal = try store.journal(run: "r", from: 0)
        let kinds = Set(journal.map(\.event.typeName))
        for k in ["task_succeeded", "task_failed", "approval_refused"] { XCTAssertTrue(kinds.contains(k), "\(k) in \(kinds)") }
        let text = String(decoding: Journal.encode(journal), as: UTF8.self)
        XCTAssertFalse(text.contains(secret), text)
        XCTAssertTrue(text.contains("[REDACTED:TOKEN]"), text)
        let logs = try store.logs(run: "r", task: nil)
        XCTAssertEqual(logs.count, 2)
        XCTAssertFalse(logs.contains { $0.stdout.contains(secret) || $0.stderr.contains(secret) })
        // The state the run went on with is the redacted one too (a resume renders the same).
        XCTAssertFalse("\(runner.run.state.taskOutputs)".contains(secret))
    }
}
