// The simulated agents of a workflow: one `SimAgentModel` per plan agent, built from
// the IR (`latency_ms`, `failure_rate_ppm`, prices), then the scenario file, then the
// `--faults` spec; plus per-task injected failure rates.
import EzflowIR
import EzflowRuntime
import EzflowSim

/// Everything the sim driver needs to answer a dispatch, fixed for a whole simulation.
public struct SimWorld: Sendable {
    public let plan: Plan
    /// What the agents really do (declared model + scenario + faults).
    public let models: [SimAgentModel]
    /// What selectors are told in advance: declared model + scenario, without `--faults`.
    public let profiles: [AgentProfile]
    /// Injected failure probability per task (nil: none) and its class.
    public let taskFail: [Double?]
    public let taskFailClass: [SimErrorClass]
    /// Agents with down windows (the only ones health checks can find unhealthy).
    public let agentsWithWindows: [Int]

    /// Builds the world. Unknown agent or task names in `faults` or the scenario are errors.
    public init(program: IRProgram, plan: Plan, scenario: SimScenario, faults: [SimFault]) throws(SimSpecError) {
        self.plan = plan
        // Agents of the root and of every nested workflow (the plan merges them by name;
        // a differing same-named nested agent is `<workflow task>/<name>`: matched by its IR object).
        var pool: [(IRAgent, JSONValue)] = []
        func collect(_ w: IRWorkflow) {
            var objects: [JSONValue] = []
            if case .array(let items)? = w.json["agents"] { objects = items }
            for (i, a) in w.agents.enumerated() { pool.append((a, i < objects.count ? objects[i] : .null)) }
            for t in w.tasks { if let n = t.workflow { collect(n) } }
        }
        collect(program.workflow)
        var irAgents: [String: IRAgent] = [:]
        var agentJSON: [String: JSONValue] = [:]
        for (i, name) in plan.agentNames.enumerated() {
            let json = i < plan.agentJSON.count ? plan.agentJSON[i] : .null
            if let hit = pool.first(where: { $0.1 == json && json != .null }) ?? pool.first(where: { $0.0.name == name }) {
                irAgents[name] = hit.0
                agentJSON[name] = hit.1
            }
        }
        let agentIndex = Dictionary(plan.agentNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        for name in scenario.agents.keys.sorted() where agentIndex[name] == nil {
            throw SimSpecError("scenario: unknown agent `\(name)` (the workflow has \(plan.agentNames.joined(separator: ", ")))")
        }
        var declared: [SimAgentModel] = []
        for name in plan.agentNames {
            var m: SimAgentModel
            if let a = irAgents[name] {
                m = SimAgentModel(agent: a, json: agentJSON[name] ?? .null)
            } else {
                m = SimAgentModel(latencyMedianMs: 1000)
            }
            scenario.apply(to: &m, agent: name)
            declared.append(m)
        }
        profiles = declared.map(AgentProfile.init)
        var actual = declared
        var taskFail = [Double?](repeating: nil, count: plan.taskCount)
        var taskFailClass = [SimErrorClass](repeating: .agentError, count: plan.taskCount)
        var byKind: [String: [Int]] = [:]
        for (t, n) in plan.taskNames.enumerated() { byKind[PerformancePredictor.kind(n), default: []].append(t) }
        for f in scenario.faults + faults {
            switch f.target {
            case .agent(let name):
                guard let a = agentIndex[name] else {
                    throw SimSpecError("fault: unknown agent `\(name)` (the workflow has \(plan.agentNames.joined(separator: ", ")))")
                }
                f.apply(to: &actual[a])
            case .task(let name):
                let ids = plan.taskNames.firstIndex(of: name).map { [$0] } ?? byKind[name] ?? []
                guard !ids.isEmpty else { throw SimSpecError("fault: unknown task `\(name)`") }
                guard f.latencyFactor == nil, f.down == nil else { throw SimSpecError("fault: task `\(name)`: only fail= and class= apply to tasks") }
                for t in ids {
                    taskFail[t] = f.fail
                    taskFailClass[t] = f.failClass
                }
            }
        }
        models = actual
        self.taskFail = taskFail
        self.taskFailClass = taskFailClass
        agentsWithWindows = actual.indices.filter { !actual[$0].downWindows.isEmpty }
    }

    /// A world for a synthetic plan (benchmarks): the given models, no faults.
    public init(plan: Plan, models: [SimAgentModel]) {
        precondition(models.count == plan.agentNames.count, "one model per agent")
        self.plan = plan
        self.models = models
        profiles = models.map(AgentProfile.init)
        taskFail = [Double?](repeating: nil, count: plan.taskCount)
        taskFailClass = [SimErrorClass](repeating: .agentError, count: plan.taskCount)
        agentsWithWindows = models.indices.filter { !models[$0].downWindows.isEmpty }
    }
}
