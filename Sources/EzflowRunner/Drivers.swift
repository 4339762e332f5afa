// Routes a dispatch to the driver its agent names: the local executor (agent -1) and
// `exec` agents run subprocesses; `http` and `llm` agents talk to services. `sim` agents
// belong to `ezrun simulate` and are refused here with a clear error class.
import EzflowAgents
import EzflowIR
import EzflowRuntime

struct DriverSet: Sendable {
    let exec: ExecDriver
    let http: HTTPDriver
    let llm: LLMDriver
    /// IR driver name per agent id.
    let kinds: [String]

    /// `document`: tasks by plan id and agents by plan agent id (`PlanScope.driverDocument`).
    init(document: JSONValue, redactor: Redactor, secretConfig: SecretConfig, exec options: ExecOptions) {
        let resolver = SecretResolver(specs: SecretSpec.fromIR(document), config: secretConfig, redactor: redactor)
        exec = ExecDriver(workflow: document, secrets: resolver, options: options)
        http = HTTPDriver(workflow: document, secrets: resolver)
        llm = LLMDriver(workflow: document, secrets: resolver)
        var ks: [String] = []
        if case .array(let ags)? = document["agents"] {
            for a in ags {
                let d: String = if case .string(let d)? = a["driver"] { d } else { "exec" }
                ks.append(d)
            }
        }
        kinds = ks
        let (tasks, types) = (exec.tasks, exec.types)
        fileOutputs = tasks.indices.map { FileOutputs(task: tasks[$0], types: $0 < types.count ? types[$0] : nil) }
    }

    /// Per plan task: its `file` outputs (nil: none), stored when an attempt succeeds.
    let fileOutputs: [FileOutputs?]

    var redactor: Redactor { exec.redactor }

    /// Whether `agent` (-1: local) runs subprocesses.
    func isExec(agent: Int) -> Bool {
        let kind = agent >= 0 && agent < kinds.count ? kinds[agent] : "exec"
        return kind != "http" && kind != "llm" && kind != "sim"
    }

    /// Whether `agent` is a `sim` agent.
    func isSim(agent: Int) -> Bool { agent >= 0 && agent < kinds.count && kinds[agent] == "sim" }

    func run(task: Int, attempt: Int, agent: Int, key: String, runID: String, values: RenderValues, cancel: CancelToken,
             started: (@Sendable (SpawnedProcess) -> Void)? = nil, workingDirectory: String? = nil) async -> DriverResult {
        let kind = agent >= 0 && agent < kinds.count ? kinds[agent] : "exec"
        switch kind {
        case "http":
            return await http.run(task: task, attempt: attempt, agent: agent, idempotencyKey: key, runID: runID, values: values, cancel: cancel)
        case "llm":
            return await llm.run(task: task, attempt: attempt, agent: agent, idempotencyKey: key, runID: runID, values: values, cancel: cancel)
        case "sim":
            return .failed(ErrorClass.configError, "agent `\(exec.agents[agent].name)` uses the `sim` driver, which only `ezrun simulate` runs")
        default:
            return await exec.run(task: task, attempt: attempt, agent: agent, idempotencyKey: key, runID: runID, values: values, cancel: cancel,
                                  started: started, workingDirectory: workingDirectory)
        }
    }
}
