// The values a plan task is rendered with. A plan task is one instance of one IR task of
// one workflow scope (docs/RUNTIME.md, "What the runner needs to render a plan task"):
// task references inside a scope use that scope's IR ids, a fan-out reads as the list
// of its instances' outputs, a sub-workflow (join) reads as its nested outputs, and
// `inputs.*` in a nested scope are the join's `with` expressions evaluated one scope up.
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
        return .object([("agents", .array(plan.agentJSON)), ("secrets", .array(secrets)), ("tasks", .array(plan.taskJSON))])
    }

    /// Everything task `t` may read, given the outputs of finished plan tasks and the
    /// workflow outputs written so far.
    func values(for t: Int, outputs: [Int: JSONValue], state: RunState) -> RenderValues {
        let w = t < plan.taskWorkflow.count ? plan.taskWorkflow[t] : 0
        let item = t < plan.taskItem.count ? plan.taskItem[t] : nil
        return RenderValues(inputs: inputs(scope: w, outputs: outputs, state: state),
                            taskOutputs: depOutputs(task: t, scope: w, outputs: outputs, state: state), item: item,
                            taskNames: w < names.count ? names[w] : [:])
    }

    /// Outputs of `t`'s IR dependencies, keyed by IR id within scope `w`.
    func depOutputs(task t: Int, scope w: Int, outputs: [Int: JSONValue], state: RunState) -> [Int: JSONValue] {
        guard t < plan.taskJSON.count, case .array(let ds)? = plan.taskJSON[t]["deps"], !plan.workflowIRStart.isEmpty else {
            // A plan without scopes: plan ids are IR ids.
            var out: [Int: JSONValue] = [:]
            for i in plan.depStart[t]..<plan.depStart[t + 1] { if let o = outputs[plan.deps[i]] { out[plan.deps[i]] = o } }
            return out
        }
        var out: [Int: JSONValue] = [:]
        for case .int(let d64) in ds {
            let d = Int(d64)
            let ids = plan.planTasks(workflow: w, irTask: d)
            guard let first = ids.first else {
                out[d] = .array([])  // an empty fan-out
                continue
            }
            let fanOut = plan.taskJSON[first]["for_each"].map { $0 != .null } ?? false
            if fanOut {
                out[d] = .array(ids.map { outputs[$0] ?? .null })
            } else if let v = value(of: first, outputs: outputs, state: state) {
                out[d] = v
            }
        }
        return out
    }

    /// A plan task's outputs; for a join, its nested workflow's outputs by local name.
    func value(of t: Int, outputs: [Int: JSONValue], state: RunState) -> JSONValue? {
        if let o = outputs[t] { return o }
        guard let nested = plan.nestedWorkflow(ofTask: t) else { return nil }
        var members: [(String, JSONValue)] = []
        for (o, scope) in plan.outputWorkflow.enumerated() where scope == nested {
            if let v = state.outputs[o] { members.append((plan.outputLocalName[o], v)) }
        }
        return .object(members)
    }

    /// Input values of scope `w`.
    func inputs(scope w: Int, outputs: [Int: JSONValue], state: RunState) -> [String: JSONValue] {
        guard w > 0, w < plan.workflowInputs.count else { return rootInputs }
        var values: [String: JSONValue] = [:]
        for (k, v) in plan.workflowInputs[w] { values[k] = v }
        let join = plan.workflowTask[w]
        guard join >= 0, case .object(let with)? = plan.taskJSON[join]["with"] else { return values }
        let parent = plan.workflowParent[w]
        let outer = RenderValues(inputs: inputs(scope: parent, outputs: outputs, state: state),
                                 taskOutputs: depOutputs(task: join, scope: parent, outputs: outputs, state: state),
                                 item: join < plan.taskItem.count ? plan.taskItem[join] : nil)
        let renderer = TemplateRenderer(values: outer)
        for (k, e) in with {
            // Constants are already in `workflowInputs`; the rest read finished tasks.
            if let v = try? renderer.evaluate(e) { values[k] = v }
        }
        return values
    }
}
