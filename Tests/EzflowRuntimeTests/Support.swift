import EzflowCompiler
import EzflowIR
import EzflowRuntime
import XCTest

/// Compiles an ezflow snippet (one file, `main.ezflow`) into a plan, or fails the test.
func makePlan(_ source: String, file: StaticString = #filePath, line: UInt = #line) throws -> Plan {
    let r = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source])
    guard let bytes = r.ir else {
        XCTFail("snippet did not build: \(r.failure ?? "") \(r.check.diagnostics.map(\.message))", file: file, line: line)
        throw XCTSkip("build failed")
    }
    return try Plan(EzflowIR.validate(bytes))
}

/// A compact text form of a command, for expected-sequence tests:
/// `dispatch <task>#<attempt>@<agent>`, `timer <id>@<ms>`, `cancel <task>#<attempt>`,
/// `approve <task>` / `approve <task> conflict <output>`, `dead <task> [<class>…]`, `finish <verdict>`.
func show(_ c: Command, _ plan: Plan) -> String {
    func task(_ t: Int) -> String { plan.taskNames[t] }
    switch c {
    case .dispatch(let t, let a, let g, _, _): return "dispatch \(task(t))#\(a)@\(g >= 0 ? plan.agentNames[g] : "local")"
    case .setTimer(let id, let at): return "timer \(id)@\(at)"
    case .cancel(let t, let a): return "cancel \(task(t))#\(a)"
    case .requestApproval(let t, .gate, _): return "approve \(task(t))"
    case .requestApproval(let t, .conflict(let o), _): return "approve \(task(t)) conflict \(o)"
    case .deadLetter(let t, let h): return "dead \(task(t)) [\(h.map { $0.errorClass ?? "ok" }.joined(separator: " "))]"
    case .finishRun(let v): return "finish \(v.rawValue)"
    }
}

/// Drives a journaled run with terse event helpers; each returns the commands as text.
struct Harness {
    var run: JournaledRun
    var plan: Plan { run.state.plan }
    var now: Int64 = 0

    init(_ plan: Plan, environment: RunEnvironment = RunEnvironment()) {
        run = JournaledRun(plan: plan, environment: environment)
    }

    func id(_ name: String) -> Int {
        guard let i = plan.taskNames.firstIndex(of: name) else { preconditionFailure("no task \(name)") }
        return i
    }

    @discardableResult
    mutating func send(_ e: Event) throws -> [String] {
        now = max(now, e.atMs)
        return try run.apply(e).map { show($0, plan) }
    }

    @discardableResult
    mutating func start(seed: UInt64 = 1, tagLimits: [String: Int] = [:], at: Int64 = 0, prior: LearnedPrior? = nil) throws -> [String] {
        try send(.runStarted(runID: "r1", seed: seed, planHash: plan.hash, tagLimits: tagLimits, atMs: at, prior: prior))
    }

    @discardableResult
    mutating func ok(_ t: String, _ attempt: Int = 1, at: Int64, cost: Int64 = 0, tokens: Int64 = 0, outputs: JSONValue = .object([])) throws -> [String] {
        try send(.taskSucceeded(task: id(t), attempt: attempt, outputs: outputs, costMicros: cost, tokens: tokens, atMs: at))
    }

    @discardableResult
    mutating func fail(_ t: String, _ attempt: Int = 1, _ cls: String = "transient", at: Int64, cost: Int64 = 0) throws -> [String] {
        try send(.taskFailed(task: id(t), attempt: attempt, errorClass: cls, message: "boom", costMicros: cost, tokens: 0, atMs: at))
    }

    @discardableResult
    mutating func timer(_ id: TimerID, at: Int64) throws -> [String] { try send(.timerFired(id, atMs: at)) }

    @discardableResult
    mutating func approval(_ t: String, _ approved: Bool, at: Int64) throws -> [String] {
        try send(.approvalGiven(task: id(t), principal: "alice", approved: approved, atMs: at))
    }

    func state(_ t: String) -> String { run.state.tasks[id(t)].description }
}
