import EzflowRuntime

extension Plan {
    /// The name reports give an attempt's agent: its declared name, else `approval` for an
    /// approval gate (given `task`) or `local` for the shell's own executor.
    public func agentLabel(_ agent: Int, task: Int? = nil) -> String {
        if agent >= 0 && agent < agentNames.count { return agentNames[agent] }
        if let task, isApproval[task] { return "approval" }
        return "local"
    }
}
