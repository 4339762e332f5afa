// `compensate: TASK` (docs/RUNTIME.md "Compensation"): the named task undoes this one when
// the run fails after it succeeded. A compensation is not part of the main graph: it runs
// only as an undo, after the main graph settled without success and before `finally`, so
// nothing else may wait for it (E0981), it takes no condition, fan-out, fallback or
// compensation of its own (E0982), it bounds itself (E0983: a cancel and the deadline do
// not stop it), it undoes one task (E0984) that is neither a `finally` task nor itself
// out of the main graph (E0985) nor fanned out (E0986), and it reads the outputs of that
// task alone, as values it is sure to have (E0987).
import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits

extension WorkflowChecker {
    /// Attributes a compensation cannot have: it runs only as an undo, once.
    static let compensationRefused = ["when", "run_on", "allow_failure", "compensate", "for_each", "after", "writes"]

    /// Resolves every `compensate:`, then checks both ends of each undo edge. Runs after
    /// `checkGraph`: edges into a compensation are cut and each compensation gets an edge
    /// from the task it undoes, so later passes (proofs, lowering) see a DAG.
    mutating func checkCompensation(_ w: inout WorkflowContext) {
        var named: [(task: Int, attr: Attribute, undo: Int)] = []
        for i in w.tasks.indices {
            guard let a = w.tasks[i].block.attribute("compensate"), let c = resolveUndo(i, a, w) else { continue }
            named.append((i, a, c))
        }
        // A compensation's own `compensate` is refused with its other attributes (E0982).
        let undos = Set(named.map(\.undo))
        for (i, a, c) in named where !undos.contains(i) {
            // A loop body runs once per iteration: which instance an undo would undo, and
            // how often, is not defined (E0965, with the loop's other refusals).
            if let t = [i, c].first(where: { w.tasks[$0].loop != nil }), let g = w.tasks[t].loop {
                report(error("E0965", t == i ? "task `\(w.tasks[i].name.text)` of loop `\(w.groups[g].name.text)` is compensated"
                                               : "task `\(w.tasks[c].name.text)` of loop `\(w.groups[g].name.text)` is the undo of `\(w.tasks[i].name.text)`",
                             a.value.span, label: "cannot repeat",
                             help: "compensate a task outside the loop: an undo in a loop would run once per iteration"))
                continue
            }
            // A fallback stands in for a failed task: undoing the task would undo work the
            // fallback did not do, and the fallback's own work would stay.
            if case .task(let f)? = w.tasks[i].fallback {
                report(error("E0985", "task `\(w.tasks[i].name.text)` falls back to `\(w.tasks[f].name.text)` and is compensated", a.value.span,
                             label: "`\(w.tasks[f].name.text)` may stand in for it: what would the undo undo?",
                             help: "retry on another agent (`catch: AGENT`), or react to the failure with `run_on: failure`"))
                continue
            }
            registerCompensation(i, a, undo: c, &w)
        }
        // Undos that name each other (a cycle) were registered by neither loop above.
        // One diagnostic per cycle: at the task its predecessor in the cycle does not precede.
        for (i, a, _) in named where undos.contains(i) && w.tasks[i].compensates == nil {
            guard let by = named.first(where: { $0.undo == i }), w.tasks[by.task].compensates == nil, by.task > i else { continue }
            report(error("E0982", "compensation `\(w.tasks[i].name.text)` has a `compensate` of its own", a.key.span,
                         label: "it undoes `\(w.tasks[by.task].name.text)`, which undoes it in turn",
                         help: "an undo runs once, after a failure: remove one of the two `compensate:`"))
        }
        for i in w.tasks.indices {
            // Nothing outside the undo waits for a compensation.
            for d in w.tasks[i].deps where w.tasks[d].compensates != nil && w.tasks[i].compensates == nil {
                report(error("E0981", "task `\(w.tasks[i].name.text)` waits for compensation `\(w.tasks[d].name.text)`",
                             w.tasks[i].depSpans[d] ?? w.tasks[i].name.span,
                             label: "runs only as the undo of `\(w.tasks[w.tasks[d].compensates!].name.text)` after a failure",
                             help: "drop the dependency; to react to a failure, use `run_on: failure` or `finally { }`"))
                w.tasks[i].deps.removeAll { $0 == d }
                w.tasks[i].depSpans[d] = nil
            }
        }
        for c in w.tasks.indices {
            guard let x = w.tasks[c].compensates else { continue }
            checkCompensationTask(c, undoes: x, &w)
        }
    }

    /// `compensate:` of task `i`: one task of this workflow other than itself (E0980).
    mutating func resolveUndo(_ i: Int, _ a: Attribute, _ w: WorkflowContext) -> Int? {
        let t = w.tasks[i]
        guard case .name(let n) = a.value.kind else {
            report(error("E0980", "`compensate` names a task", a.value.span, label: "not a task name",
                         help: "write the name of the task that undoes `\(t.name.text)`, e.g. `compensate: cancel_\(t.name.text)`"))
            return nil
        }
        if w.names[n].map({ !$0.isGroup && $0.index == i }) == true {
            report(error("E0980", "task `\(n)` cannot compensate itself", a.value.span, label: "it would undo itself",
                         help: "declare the undo as a task of its own, e.g. `task cancel_\(n) { timeout: 1m, run: \"...\" }`"))
            return nil
        }
        guard let target = w.names[n], !target.isGroup else {
            let why = w.names[n]?.isGroup == true ? "`\(n)` is a group" : "no such task"
            report(error("E0980", "cannot find task `\(n)` to compensate `\(t.name.text)`", a.value.span, label: why)
                .suggesting(suggest(n, among: w.names.filter { !$0.value.isGroup && $0.value.index != i }.keys), at: a.value.span,
                            otherwise: "declare the undo as a task of this workflow and name it here"))
            return nil
        }
        bind(a.value, .task(module: w.module, index: target.index))
        return target.index
    }

    /// Task `i` is undone by `c` unless one of them cannot take part (E0984–E0986).
    mutating func registerCompensation(_ i: Int, _ a: Attribute, undo c: Int, _ w: inout WorkflowContext) {
        let t = w.tasks[i]
        if t.isFinally {
            report(error("E0985", "`finally` task `\(t.name.text)` cannot be compensated", a.key.span,
                         label: "runs after compensation", help: "remove `compensate`; a `finally` task runs last, whatever happened"))
            return
        }
        if t.forEach != nil {
            report(error("E0986", "task `\(t.name.text)` fans out and cannot be compensated yet", a.key.span,
                         label: "one undo per instance is not supported",
                         help: "compensate a task that runs once, or each task inside a nested workflow that fans out"))
            return
        }
        let u = w.tasks[c]
        if u.isFinally || u.isFallback {
            report(error("E0985", "task `\(u.name.text)` cannot be a compensation", a.value.span,
                         label: u.isFinally ? "it is a `finally` task" : "it is a `catch` fallback",
                         help: "declare a separate task that does the undo"))
            return
        }
        if let y = u.compensates {
            report(error("E0984", "task `\(u.name.text)` already compensates `\(w.tasks[y].name.text)`", a.value.span,
                         label: "would undo two tasks",
                         secondary: w.tasks[y].block.attribute("compensate").map { [Label($0.value.span, "first named here")] } ?? [],
                         help: "an undo reads the outputs of the one task it undoes: declare one undo task per compensated task"))
            return
        }
        w.tasks[i].compensation = c
        w.tasks[c].compensates = i
    }

    /// The undo `c` of task `x`: no condition or fan-out (E0982), a `timeout` (E0983), reads
    /// only `x` (E0987); it gets an edge from `x` if it does not read it.
    mutating func checkCompensationTask(_ c: Int, undoes x: Int, _ w: inout WorkflowContext) {
        let t = w.tasks[c], xn = w.tasks[x].name.text
        var refused = Self.compensationRefused.compactMap { t.block.attribute($0).map { ($0.key.text, $0.key.span) } }
        if let m = t.block.blocks.first(where: { $0.kind.text == "matrix" }) { refused.append(("matrix", m.kind.span)) }
        if let r = t.catchRule, let e = r.catchExpr { refused.append(("catch", e.span)) }
        if ["workflow", "approve"].contains(t.action) { refused.append(("\(t.action)` action", t.actionSpan)) }
        if refused.isEmpty, !t.conditions.isEmpty, let g = t.group {
            refused.append(("when` of group `\(w.groups[g].name.text)", t.name.span))
        }
        for (what, span) in refused {
            report(error("E0982", "compensation `\(t.name.text)` cannot have `\(what)`", span,
                         label: "it runs only as the undo of `\(xn)`, once, after a failure",
                         help: what == "when" || what == "run_on"
                             ? "put the condition into its command, or on `\(xn)`"
                             : "remove it: the undo runs once, after `\(xn)` succeeded and the run failed"))
        }
        if t.timeoutMs == nil {
            report(error("E0983", "compensation `\(t.name.text)` has no `timeout`", t.name.span,
                         label: "would be unbounded",
                         help: "a cancel and the run's deadline do not stop an undo: bound it, e.g. `timeout: 5m`"))
        }
        for d in t.deps where d != x {
            report(error("E0987", "compensation `\(t.name.text)` reads `\(w.tasks[d].name.text)`", t.depSpans[d] ?? t.name.span,
                         label: "only `\(xn)`, the task it undoes, and the workflow's inputs can be read here",
                         help: "pass what the undo needs as an output of `\(xn)`"))
            w.tasks[c].deps.removeAll { $0 == d }
            w.tasks[c].depSpans[d] = nil
        }
        if !w.tasks[c].deps.contains(x) {
            w.tasks[c].deps.append(x)
            w.tasks[c].deps.sort()
            w.tasks[c].depSpans[x] = w.tasks[x].block.attribute("compensate")?.value.span
        }
        w.tasks[c].statusOnlyDeps.remove(x)
    }

    /// The workflow's compensations, which neither the deadline nor a time budget stops:
    /// in the worst case every one runs, one after another, each to its own worst case
    /// (each has a `timeout`, E0983); reported apart, before `finally`.
    func compensationLine(_ s: Int, _ members: [Bool]?, _ w: WorkflowContext) -> [String] {
        guard s == -1, members == nil else { return [] }
        let undos = w.tasks.filter { $0.compensates != nil }
        guard !undos.isEmpty else { return [] }
        let times = undos.map { CriticalPath.worstTime($0) ?? 0 }
        let total = times.reduce(Int64(0)) { sat($0, $1) }
        let parts = undos.count > 6 ? Units.counted(undos.count, "undo")
            : zip(undos, times).map { "`\($0.name.text)` \(fmtDuration($1))" }.joined(separator: " + ")
        return ["then compensation, not stopped by it: worst case \(fmtDuration(total)) (\(parts), one at a time)"]
    }
}
