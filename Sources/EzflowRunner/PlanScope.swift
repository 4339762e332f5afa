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

    /// Per scope: IR task id → its `file` outputs, for the tasks that declare one.
    let fileFields: [[Int: [OutputField]]]
    /// Where the stored files are: a file output reads as its blob's path (nil: it stays a record).
    let files: FileStore?

    init(plan: Plan, rootInputs: [String: JSONValue], files: FileStore? = nil) {
        self.plan = plan
        self.rootInputs = rootInputs
        self.files = files
        names = plan.workflowJSON.map { w in
            var m: [Int: String] = [:]
            if case .array(let ts)? = w["tasks"] { for (i, x) in ts.enumerated() { if case .string(let n)? = x["name"] { m[i] = n } } }
            return m
        }
        fileFields = plan.workflowJSON.map { w in
            var m: [Int: [OutputField]] = [:]
            guard case .array(let ts)? = w["tasks"] else { return m }
            for (i, x) in ts.enumerated() { if let f = FileOutputs(task: x, types: w["types"]) { m[i] = f.fields } }
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
        let item = state.item(ofTask: t)
        var v = RenderValues(inputs: state.scopeInputs(w, rootInputs: rootInputs), taskOutputs: filePaths(state.dependencyOutputs(ofTask: t), scope: w),
                             item: item, taskNames: w < names.count ? names[w] : [:])
        v.tokenCap = state.tokenCap(t)
        v.taskStatuses = state.dependencyStatuses(ofTask: t)
        if plan.isFinally[t] { v.runValues = state.runValues }
        v.optionalOutputs = Set(v.taskStatuses.keys.filter { plan.readsOptional(task: t, irTask: $0) })
        return v
    }
}

extension PlanScope {
    /// `outputs` (by IR task id of scope `w`) with every stored file read as the absolute
    /// path of its read-only blob: what a `run` script and its `env` see (docs/RUNTIME.md,
    /// "Files"). A fanned task's outputs (a list of outputs objects) are read item by item.
    func filePaths(_ outputs: [Int: JSONValue], scope w: Int) -> [Int: JSONValue] {
        guard let files, w < fileFields.count, !fileFields[w].isEmpty, !plan.workflowIRStart.isEmpty else { return outputs }
        var out = outputs
        for (id, fields) in fileFields[w] {
            guard let o = out[id] else { continue }
            out[id] = Self.paths(o, fields, files)
        }
        return out
    }

    static func paths(_ o: JSONValue, _ fields: [OutputField], _ files: FileStore) -> JSONValue {
        switch o {
        case .array(let items): return .array(items.map { paths($0, fields, files) })
        case .object(let members):
            return .object(members.map { k, v in
                guard let f = fields.first(where: { $0.name == k }) else { return (k, v) }
                return (k, FileRecord.mapFiles(v, f.type) { .string(files.blobPath($0)) })
            })
        default: return o
        }
    }
}
