import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// A `catch` task takes over one failed task when the run is under way: the plan
    /// keeps one plain task for it (docs/RUNTIME.md), so a fallback that fans out, runs a
    /// nested workflow or waits for the task it replaces would be refused when the run
    /// starts (E0605).
    mutating func checkFallbackTargets(_ w: WorkflowContext) {
        let reach = Reachability(w)
        for t in w.tasks {
            guard case .task(let c)? = t.fallback, let span = t.retry?.catchExpr?.span else { continue }
            let f = w.tasks[c]
            let why: String? =
                f.forEach != nil ? "it fans out with `for_each`"
                : f.action == "workflow" ? "it runs a nested workflow"
                : reach.reaches(t.id, c) ? "it runs after `\(t.name.text)`, which it would replace"
                : nil
            guard let why else { continue }
            report(error("E0605", "task `\(f.name.text)` cannot be the fallback of `\(t.name.text)`", span, label: why,
                         secondary: [Label(f.name.span, "`\(f.name.text)` declared here")],
                         help: "a fallback is one plain task that does not depend on the task it replaces; "
                             + "add such a task (it may do the same work) and name it in `catch`"))
        }
    }
}
