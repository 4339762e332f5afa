// `finally { task ... }` in a workflow (docs/RUNTIME.md "finally"): its tasks run once the
// main graph has ended, whatever the verdict. They read `run.status` (the built-in enum
// `run_status`) and `run.failures`, and main tasks' outputs as optional values; nothing
// in the main graph may wait for them (E0905), and each needs a `timeout` (E0906): the
// run's deadline does not stop a cleanup, so the cleanup must bound itself.
import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// How the main graph ended, as `run.status` reads it.
    static let runStatusCases = ["succeeded", "failed", "cancelled", "deadline_exceeded", "budget_exceeded"]

    /// `run.status` / `run.failures`, readable only in a `finally` task (E0904).
    mutating func runReference(_ e: Expr, path: [Name], _ env: inout ExprEnv) -> Ty {
        guard env.inFinally else {
            report(error("E0904", "`run` can be read only in a `finally` task", path[0].span,
                         label: "the run has not ended here",
                         help: "read it in a task inside `finally { }`; here, read a task's status: `TASK.status`"))
            return .error
        }
        guard path.count == 2, ["status", "failures"].contains(path[1].text) else {
            let at = path.count > 1 ? path[1].span : e.span
            report(error("E0211", "the run has no field `\(path.count > 1 ? path[1].text : "")`", at)
                .suggesting(path.count > 1 ? suggest(path[1].text, among: ["status", "failures"]) : nil, at: at,
                            otherwise: "read `run.status` or `run.failures`"))
            return .error
        }
        bind(e, .runValue(path[1].text))
        return path[1].text == "status" ? .enumeration(name: "run_status", cases: Self.runStatusCases) : .list(.string)
    }

    /// The one `finally { }` of the workflow (E0205 for a second, whose tasks are then
    /// not collected); true when its tasks are to be collected.
    mutating func collectFinally(_ b: Block, _ w: inout WorkflowContext) -> Bool {
        _ = validateAttributes(b, module: w.module)
        if let first = w.finallySpan {
            report(error("E0205", "`finally` is given twice", b.kind.span, label: "given again here",
                         secondary: [Label(first, "first given here")], help: "put every cleanup task into one `finally { }` block"))
            return false
        }
        w.finallySpan = b.kind.span
        return true
    }

    /// After the graph is known: nothing in the main graph waits for a finally task
    /// (E0905); every finally task has a `timeout` (E0906).
    mutating func checkFinally(_ w: WorkflowContext) {
        for i in w.tasks.indices {
            // Only the tasks that break a rule are copied out (`for t in` copies every one).
            guard w.tasks[i].isFinally ? w.tasks[i].timeoutMs == nil : w.tasks[i].deps.contains(where: { w.tasks[$0].isFinally }) else { continue }
            let t = w.tasks[i]
            if t.isFinally {
                if t.timeoutMs == nil {
                    report(error("E0906", "`finally` task `\(t.name.text)` has no `timeout`", t.name.span,
                                 label: "would be unbounded",
                                 help: "the run's deadline does not stop cleanup: bound it, e.g. `timeout: 5m`"))
                }
                continue
            }
            for d in t.deps where w.tasks[d].isFinally {
                report(error("E0905", "task `\(t.name.text)` waits for `finally` task `\(w.tasks[d].name.text)`", t.depSpans[d] ?? t.name.span,
                             label: "runs only after the main graph has ended",
                             help: "move `\(t.name.text)` into `finally { }`, or drop the dependency"))
            }
        }
    }
}
