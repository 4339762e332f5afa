import EzflowCompiler
import EzflowIR
import EzflowRuntime
import EzflowPorts
@testable import EzflowStore
import Foundation
import XCTest

/// A workflow with retries, a timeout, jitter, fan-out and fan-in on two agents.
let snippet = """
error flaky

agent w {
  driver: exec
  capabilities: ["shell"]
  concurrency: 2
  cost_per_call: $0.01
}

agent v {
  driver: exec
  capabilities: ["shell"]
  concurrency: 1
}

role ops {
  allow: [run]
  agents: [v, w]
}

workflow main {
  task fetch {
    agent: w
    run: "echo fetch"
    retry {
      attempts: 4
      backoff: exponential
      delay: 100ms
      jitter: full
      on: [transient]
    }
  }
  task left {
    agent: w
    after: [fetch]
    run: "echo left"
    timeout: 1s
    retry {
      attempts: 3
      backoff: fixed
      delay: 50ms
      on: [transient, timeout]
    }
  }
  task right {
    agent: v
    after: [fetch]
    run: "echo right"
    retry {
      attempts: 3
      backoff: linear
      delay: 10ms
      on: [transient]
    }
  }
  task more {
    agent: w
    after: [fetch]
    run: "echo more"
  }
  task join {
    agent: v
    after: [left, right, more]
    run: "echo join"
  }
}
"""

/// Compiles `snippet` → IR bytes → validate → Plan.
func compiledSnippet(file: StaticString = #filePath, line: UInt = #line) throws -> (ir: [UInt8], plan: Plan) {
    let r = Compiler.build(root: "main.ezflow", files: ["main.ezflow": snippet])
    guard let bytes = r.ir else {
        XCTFail("snippet did not build: \(r.failure ?? "") \(r.check.diagnostics.map(\.message))", file: file, line: line)
        throw XCTSkip("build failed")
    }
    return (bytes, try Plan(EzflowIR.validate(bytes)))
}

/// A tiny deterministic fake agent loop: each dispatched attempt ends after a latency
/// from a hash of (task, attempt); attempts 1 of tasks in `failFirst` fail transiently;
/// timers fire when due. Events come out by (time, arrival).
struct FakeLoop {
    var queue: [(at: Int64, order: Int, event: Event)] = []
    var order = 0
    var failFirst: Set<Int> = []
    var slow: Set<Int> = []

    mutating func take(_ commands: [Command], now: Int64) {
        for c in commands {
            switch c {
            case .dispatch(let t, let a, _, _, _):
                let latency = Int64(20 + (t * 37 + a * 11) % 90) + (slow.contains(t) && a == 1 ? 5_000 : 0)
                let at = now + latency
                let e: Event = failFirst.contains(t) && a == 1
                    ? .taskFailed(task: t, attempt: a, errorClass: "transient", message: "flaky", costMicros: 5, tokens: 0, atMs: at)
                    : .taskSucceeded(task: t, attempt: a, outputs: .object([]), costMicros: 10, tokens: 3, atMs: at)
                queue.append((at, order, e))
            case .setTimer(let id, let at):
                queue.append((max(at, now), order, .timerFired(id, atMs: max(at, now))))
            default: continue
            }
            order += 1
        }
    }

    mutating func next() -> Event? {
        guard let i = queue.indices.min(by: { (queue[$0].at, queue[$0].order) < (queue[$1].at, queue[$1].order) }) else { return nil }
        return queue.remove(at: i).event
    }
}

/// A fresh temporary directory, removed at the end of the test.
func tempDir(_ test: XCTestCase) throws -> String {
    let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("ezflow-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

func newRun(_ id: String, plan: Plan, ir: [UInt8], seed: UInt64 = 7, at: Int64 = 1_000) -> NewRun {
    NewRun(runID: id, workflow: "main", irHash: plan.hash, ir: ir, seed: seed, createdMs: at)
}

/// (task, attempt) pairs the state has running.
func runningAttempts(_ s: RunState) -> Set<[Int]> {
    var out: Set<[Int]> = []
    for (t, st) in s.tasks.enumerated() { if case .running(let a, _) = st { out.insert([t, a]) } }
    return out
}

func assertThrowsStore(_ kind: StoreError.Kind, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> StoreError? {
    do {
        try body()
        XCTFail("expected a \(kind) error", file: file, line: line)
    } catch let e as StoreError {
        XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
        return e
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
    return nil
}
