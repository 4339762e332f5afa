// What every driver (exec, http, llm) offers the shell: one dispatch in, one result out.
import EzflowIR
import EzflowRuntime

public protocol AgentDriver: Sendable {
    /// Runs attempt `attempt` of task `task` on agent `agent` (-1: no agent).
    func run(task: Int, attempt: Int, agent: Int, idempotencyKey: String, runID: String, values: RenderValues,
             cancel: CancelToken?) async -> DriverResult
}

extension AgentDriver {
    /// Carries out a `Command.dispatch`; other commands give nil.
    public func perform(_ command: Command, runID: String, values: RenderValues, cancel: CancelToken? = nil) async -> DriverResult? {
        guard case .dispatch(let task, let attempt, let agent, let key, _) = command else { return nil }
        return await run(task: task, attempt: attempt, agent: agent, idempotencyKey: key, runID: runID, values: values, cancel: cancel)
    }
}

/// The IR tasks and agents a network driver (http, llm) works from.
public struct RemoteContext: Sendable {
    public let tasks: [JSONValue]
    /// The named types (`types`) of each task's workflow: `task_types` of a driver
    /// document (one per task, `PlanScope.driverDocument`), else the IR's root `types`.
    public let types: [JSONValue?]
    public let agents: [RemoteAgent]

    public init(workflow: JSONValue) {
        if case .array(let ts)? = workflow["tasks"] { tasks = ts } else { tasks = [] }
        if case .array(let tt)? = workflow["task_types"] { types = tt.map { $0 == .null ? nil : $0 } }
        else { types = Array(repeating: workflow["types"], count: tasks.count) }
        if case .array(let ags)? = workflow["agents"] { agents = ags.map(RemoteAgent.init(ir:)) } else { agents = [] }
    }
}
