// The values a plan task is rendered with. A plan task is one instance of one IR task of
// one workflow scope; what it reads (scope inputs, dependency outputs by IR id) is decided
// by the core from the run's state (`EzflowRuntime/TaskValues.swift`), the same values a
// condition reads. This adds what only drivers need: the document and dependency names.
import EzflowAgents
import EzflowIR
import EzflowRuntime

struct PlanScope: Sendable {
    let plan: Plan
    let rootInputs: [String: JSONValue]
    /// Per scope: IR task id → name (what drivers send as `deps` keys). Built once: a
    /// dispatch must not cost O(tasks).
    let names: [[Int: String]]

    init(plan: Plan, rootInputs: [String: JSONValue]) {
        self.plan = plan
        self.rootInputs = rootInputs
        names = plan.workflowJSON.map { w in
            var m: [Int: String] = [:]
            if case .array(let ts)? = w["tasks"] { for (i, x) in ts.enumerated() { if case .string(let n)? = x["name"] { m[i] = n } } }
            return m
        }
    }

    /// The IR workflow document drivers work from: the plan's tasks (by plan id), its
    /// merged agents (by plan agent id) and every scope's secrets.
    var driverDocument: JSONValue {
        var secrets: [JSONValue] = []
        var seen = Set<String>()
        for w in plan.workflowJSON {
            guard case .array(let ss)? = w["secrets"] else { continue }
            for s in ss {
                guard case .string(let n)? = s["name"], seen.insert(n).inserted else { continue }
                secrets.append(s)
            }
        }
        // Each task's named types, from its own workflow scope (structured outputs).
        let types: [JSONValue] = (0..<plan.taskJSON.count).map { plan.types(ofTask: $0) ?? .null }
        return .object([("agents", .array(plan.agentJSON)), ("secrets", .array(secrets)), ("task_types", .array(types)),
                        ("tasks", .array(plan.taskJSON))])
    }

    /// Everything task `t` may read: the values the core derives from the run's state
    /// (`RunState.scopeInputs`, `dependencyOutputs`), plus the item and the names drivers send.
    func values(for t: Int, state: RunState) -> RenderValues {
        let w = plan.scope(ofTask: t)
        let item = t < plan.taskItem.count ? plan.taskItem[t] : nil
        var v = RenderValues(inputs: state.scopeInputs(w, rootInputs: rootInputs), taskOutputs: state.dependencyOutputs(ofTask: t),
                             item: item, taskNames: w < names.count ? names[w] : [:])
        v.tokenCap = state.tokenCap(t)
        v.taskStatuses = state.dependencyStatuses(ofTask: t)
        if plan.isFinally[t] { v.runValues = state.runValues }
        v.optionalOutputs = Set(v.taskStatuses.keys.filter { plan.readsOptional(task: t, irTask: $0) })
        return v
    }
}
