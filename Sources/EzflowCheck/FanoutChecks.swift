// Dynamic fan-out (docs/RUNTIME.md, "Dynamic fan-out"): `for_each` over a task's output
// list is planned as `max_items` slots, decided when that task has run. The checker
// requires the maximum (E0970), refuses it where the list is known when the run starts
// (E0971), keeps the list to one task's output of a task that does not fan out itself
// (E0972), and refuses what the slots cannot support cleanly (E0973).
import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// The `for_each` list of `t`: known when the run starts (E0308 otherwise), or, with
    /// `max_items`, one task's list output (E0970–E0972). Sets `t.maxItems`.
    mutating func checkForEachList(_ t: inout TaskInfo, _ fe: Attribute, _ env: inout ExprEnv) {
        let problem = planTimeProblem(fe.value)
        guard let mx = t.block.attribute("max_items") else {
            guard let p = problem else { return }
            if readsTaskOutput(fe.value) {
                report(error("E0970", "a `for_each` over a task's output needs `max_items`", p.span, label: p.why,
                             notes: ["the list is known only when that task has run, so the plan reserves `max_items` slots for it"],
                             help: "add `max_items: N`, the most items the list may have (a longer list fails `\(t.name.text)`)"))
            } else {
                checkPlanTimeForEach(fe.value)
            }
            return
        }
        guard problem != nil else {
            report(error("E0971", "`max_items` is only for a `for_each` over a task's output", mx.key.span,
                         label: "not needed here", secondary: [Label(fe.value.span, "known when the run starts")],
                         help: "remove `max_items`: this list's length is known before any task runs"))
            return
        }
        guard case .taskOutput(_, let src, _)? = bindings.binding(of: fe.value), let path = fe.value.path, path.count == 3 else {
            report(error("E0972", "a `for_each` with `max_items` must read one task's list output", fe.value.span,
                         label: "not `TASK.outputs.NAME`",
                         help: "compute the list in a task and fan out over it: `for_each: TASK.outputs.NAME`"))
            env.item = .error
            return
        }
        if env.taskFanned.indices.contains(src) && env.taskFanned[src] {
            report(error("E0972", "`\(path[0].text)` fans out itself: its outputs are a list per instance", fe.value.span,
                         label: "a list of lists",
                         help: "gather the instances' lists in one task, then fan out over its output"))
            env.item = .error  // one mistake, one diagnostic: `item` is poison from here
            return
        }
        if case .int(let n)? = Constant.fold(mx.value) { t.maxItems = n }
        t.fanoutSource = src
    }

    /// E0971: `max_items` on a task without a `for_each` (a matrix's cells are counted).
    mutating func checkMaxItemsPlace(_ t: TaskInfo) {
        guard let mx = t.block.attribute("max_items"), t.block.attribute("for_each") == nil else { return }
        let matrix = t.block.blocks.contains { $0.kind.text == "matrix" }
        report(error("E0971", "`max_items` is only for a `for_each` over a task's output", mx.key.span,
                     label: matrix ? "a matrix's cells are known when the run starts" : "this task does not fan out",
                     help: "remove `max_items`"))
    }

    /// E0973: what a dynamic fan-out's slots cannot do (each is decided only when the list
    /// is known): run a nested workflow or a gate, gate on failure, run in `finally`.
    mutating func checkDynamicFanout(_ t: TaskInfo) {
        guard t.maxItems != nil, let fe = t.block.attribute("for_each") else { return }
        var why: (Span, String, String)?
        if t.action == "workflow" || t.action == "approve" {
            why = (t.actionSpan, "`\(t.action)` tasks cannot fan out over a list known only at run time",
                   t.action == "workflow" ? "fan out inside the nested workflow, over its input" : "gate once, before or after the fan-out")
        } else if let r = t.runOn, let a = t.block.attribute("run_on") {
            why = (a.value.span, "a task with `run_on: \(r)` cannot fan out over a list known only at run time",
                   "fan out over the list in a task that runs on success, and react to it in another")
        } else if t.isFinally {
            why = (fe.key.span, "a `finally` task cannot fan out over a list known only at run time",
                   "fan out in the main graph; `finally` runs once, after it")
        }
        guard let (span, message, help) = why else { return }
        report(error("E0973", message, span, secondary: [Label(fe.value.span, "the list")], help: help))
    }

    /// Whether `e` reads a task's output anywhere.
    func readsTaskOutput(_ e: Expr) -> Bool {
        if case .taskOutput? = bindings.binding(of: e) { return true }
        switch e.kind {
        case .string(let parts):
            for case .interpolation(let x) in parts where readsTaskOutput(x) { return true }
            return false
        case .list(let xs): return xs.contains { readsTaskOutput($0) }
        case .record(let es): return es.contains { readsTaskOutput($0.value) }
        case .member(let b, _): return readsTaskOutput(b)
        case .index(let a, let b), .binary(_, let a, let b): return readsTaskOutput(a) || readsTaskOutput(b)
        case .unary(_, let a): return readsTaskOutput(a)
        case .call(_, let args): return args.contains { readsTaskOutput($0) }
        default: return false
        }
    }
}
