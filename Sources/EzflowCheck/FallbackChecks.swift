import EzflowDiagnostics
import EzflowSyntax

/// One `TASK.outputs.NAME` reference: the task read (its id), the output's name, where.
struct OutputRead {
    var task: Int
    var output: String
    var span: Span
}

extension WorkflowChecker {
    /// A `catch` task takes over one failed task when the run is under way: the plan
    /// keeps one plain task for it (docs/RUNTIME.md), so a fallback that fans out, runs a
    /// nested workflow or waits for the task it replaces would be refused when the run
    /// starts (E0605). A fallback that waits for another fallback would be skipped
    /// whenever that one is not needed, and a cycle of fallbacks never runs at all: both
    /// are refused here rather than skipped in silence.
    mutating func checkFallbackTargets(_ w: WorkflowContext) {
        let reach = Reachability(w)
        for t in w.tasks {
            guard case .task(let c)? = t.fallback, let span = t.catchRule?.catchExpr?.span else { continue }
            let f = w.tasks[c]
            var help = "a fallback is one plain task that does not depend on the task it replaces; "
                + "add such a task (it may do the same work) and name it in `catch`"
            var why: String? =
                f.isFinally && !t.isFinally ? "it is a `finally` task: it runs once the main graph has ended, never in place of a main task"
                : t.isFinally && !f.isFinally ? "it is a main task: the fallback of a `finally` task must be in `finally { }` too"
                : f.forEach != nil ? "it fans out with `for_each`"
                : f.action == "workflow" ? "it runs a nested workflow"
                : reach.reaches(t.id, c) ? "it runs after `\(t.name.text)`, which it would replace"
                : nil
            if why == nil, let cycle = fallbackCycle(from: t.id, w), cycle.min() == t.id {
                let names = (cycle + [t.id]).map { "`\(w.tasks[$0].name.text)`" }.joined(separator: " → ")
                why = "a cycle of fallbacks (\(names)): each runs only when another fails, so none ever runs"
                help = "end the chain with a task that has no `catch`"
            }
            if why == nil, let g = w.tasks.first(where: { $0.isFallback && $0.id != c && reach.reaches($0.id, c) }) {
                why = "it waits for `\(g.name.text)`, a fallback that runs only when the task it replaces fails"
                let covered = w.tasks.first { $0.fallback == .task(g.id) }.map { "`\($0.name.text)`" } ?? "the task"
                help = "wait for \(covered) instead, which `\(g.name.text)` replaces: it counts as done when a fallback "
                    + "recovered it, and its outputs are then the fallback's"
            }
            guard let why else { continue }
            report(error("E0605", "task `\(f.name.text)` cannot be the fallback of `\(t.name.text)`", span, label: why,
                         secondary: [Label(f.name.span, "`\(f.name.text)` declared here")], help: help))
        }
    }

    /// The tasks on the `catch: task` chain from `t` when it leads back to `t` (`t` first), else nil.
    func fallbackCycle(from t: Int, _ w: WorkflowContext) -> [Int]? {
        var chain = [t]
        var x = t
        while case .task(let f)? = w.tasks[x].fallback, chain.count <= w.tasks.count {
            if f == t { return chain }
            if chain.contains(f) { return nil }  // a cycle further on, reported from its own tasks
            chain.append(f)
            x = f
        }
        return nil
    }

    /// Tasks after a failed task that its fallback recovered run and read the fallback's
    /// outputs under the failed task's name (docs/RUNTIME.md, "Fallbacks"): every output
    /// of a task that some task reads must be declared, with the same type, by its
    /// fallback, and down a chain of fallbacks by each one (E0615).
    mutating func checkFallbackOutputs(_ w: WorkflowContext) {
        var read: [Int: [String: Span]] = [:]
        for r in w.outputReads where read[r.task]?[r.output] == nil { read[r.task, default: [:]][r.output] = r.span }
        var reported = Set<String>()
        for t in w.tasks {
            guard var names = read[t.id] else { continue }
            var x = t.id, steps = 0
            while case .task(let f)? = w.tasks[x].fallback, steps < w.tasks.count, !names.isEmpty {
                for (name, at) in names.sorted(by: { $0.value < $1.value }) {
                    guard let want = t.outputs[name], want != .error else { names[name] = nil; continue }
                    let have = w.tasks[f].outputs[name]
                    if have == want || have == .error { continue }
                    names[name] = nil
                    if reported.insert("\(x) \(name)").inserted {
                        reportFallbackOutput(t: t, via: w.tasks[x], fallback: w.tasks[f], output: name, want: want, have: have, read: at)
                    }
                }
                x = f
                steps += 1
            }
        }
    }

    /// E0615: fallback `f` (of `via`, on the chain from `t`) lacks `t`'s output `name`, or declares another type.
    mutating func reportFallbackOutput(t: TaskInfo, via: TaskInfo, fallback f: TaskInfo, output name: String, want: Ty, have: Ty?,
                                       read: Span) {
        guard let span = via.catchRule?.catchExpr?.span else { return }
        let ref = "`\(t.name.text).outputs.\(name)`"
        let message = have == nil
            ? "fallback `\(f.name.text)` has no output `\(name)`, which is read from `\(t.name.text)`"
            : "fallback `\(f.name.text)` declares output `\(name)` as `\(have!)`, but `\(t.name.text)` declares it `\(want)`"
        report(error("E0615", message, span, label: "when `\(f.name.text)` stands in, \(ref) reads its output",
                     secondary: [Label(read, "\(ref) read here"), Label(f.name.span, "`\(f.name.text)` declared here")],
                     help: have == nil
                         ? "declare `output \(name): \(want)` in task `\(f.name.text)`"
                         : "give output `\(name)` the same type in `\(f.name.text)` and `\(t.name.text)`"))
    }
}
