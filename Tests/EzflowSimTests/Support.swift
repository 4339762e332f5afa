import EzflowCompiler
import EzflowHost
@testable import EzflowRuntime
import EzflowSim
import EzflowTestSupport
import Foundation
import XCTest

/// Compiles an ezflow snippet (`main.ezflow`) into a simulation input, or fails the test.
func simInput(_ source: String, file: StaticString = #filePath, line: UInt = #line) throws -> SimInput {
    let r = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source])
    guard let bytes = r.ir else {
        XCTFail("snippet did not build: \(r.failure ?? "") \(r.check.diagnostics.map(\.message))", file: file, line: line)
        throw XCTSkip("build failed")
    }
    return try SimInput.load(irBytes: bytes, name: "main.ezflow")
}

/// A simulator over a snippet with optional faults.
func simulator(_ source: String, seed: UInt64, runs: Int, faults: String = "", selector: SelectorName? = nil,
               breaker: CircuitBreaker = CircuitBreaker(), keepJournals: Bool = false) throws -> Simulator {
    let input = try simInput(source)
    let world = try SimWorld(program: input.program, plan: input.plan, scenario: SimScenario(),
                             faults: try SimFault.parse(spec: faults))
    return Simulator(world: world, options: SimulationOptions(seed: seed, runs: runs, selector: selector, breaker: breaker,
                                                              keepJournals: keepJournals))
}

/// A selector view over `plan` with the given per-agent load and health (tests only).
func view(_ plan: Plan, load: [Int]? = nil, health: [AgentHealth]? = nil, now: Millis = 0) -> SelectorView {
    SelectorView(plan: plan, load: load ?? Array(repeating: 0, count: plan.agentNames.count),
                 health: health ?? Array(repeating: AgentHealth(), count: plan.agentNames.count), nowMs: now)
}

/// `n` independent tasks `t0…t{n-1}`, each needing `shell`, with `extra` lines inside.
func tasks(_ n: Int, extra: String = "") -> String {
    (0..<n).map { "  task t\($0) {\n    role: ops\n    needs: [\"shell\"]\n    run: \"true\"\n\(extra)  }\n" }.joined()
}

/// Peak simultaneous attempts per agent from an attempt history (ends before starts at
/// the same millisecond).
func peakLoad(_ history: [[AttemptRecord]], agents: Int) -> [Int] {
    var points: [(at: Int64, delta: Int, agent: Int)] = []
    for records in history {
        for r in records where r.agent >= 0 {
            points.append((r.startedAtMs, 1, r.agent))
            points.append((r.endedAtMs, -1, r.agent))
        }
    }
    points.sort { $0.at != $1.at ? $0.at < $1.at : $0.delta < $1.delta }
    var load = Array(repeating: 0, count: agents), peak = load
    for p in points {
        load[p.agent] += p.delta
        peak[p.agent] = max(peak[p.agent], load[p.agent])
    }
    return peak
}

/// The built `ezrun` next to the test bundle (same scratch path as the tests).
func ezrunExecutable() -> URL {
    let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidate = here.appendingPathComponent("ezrun")
    if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    return Repo.executable("ezrun")
}
