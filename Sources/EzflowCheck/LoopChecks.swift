// Bounded loops (docs/RUNTIME.md "Loops"): a group with a `repeat { max, until,
// on_exhausted }` block runs its tasks (the body) again and again, at most `max` times,
// until `until` holds after an iteration. Inside the body `TASK.outputs.x` is this
// iteration's, `previous.TASK.outputs.x` the previous one's (`T?`, none in iteration 1) and
// `iteration` the 1-based number; outside, a body task's outputs are the last iteration's
// and reading them waits for the whole loop. Lowering unrolls the body `max` times
// (LoopLowering.swift); the proofs count every iteration (`loopFactor`).
//
// Refused here (E0960–E0965): no `max` or `until`, `until` not a bool or reading a task
// outside the body, `previous`/`iteration` outside a loop, a loop in a loop, and a body
// task that fans out, calls a workflow, writes a workflow output, runs on failure, or
// whose `catch` crosses the loop's boundary.
import EzflowDiagnostics
import EzflowSyntax

/// A group's checked `repeat { }` block.
public struct LoopInfo: Sendable {
    /// The `repeat` keyword.
    public var span: Span
    /// `max`: at most this many iterations (1…100); nil when missing (E0960).
    public var max: Int64?
    /// `until`: typed bool over the body's outputs (checked in `checkLoops`).
    public var until: Expr?
    /// `fail` (the default) or `succeed`.
    public var onExhausted: String = "fail"
    /// The body's tasks, by id, in declaration order.
    public var body: [Int] = []
}

extension WorkflowChecker {
    /// The innermost loop group enclosing group `g` (itself included), if any.
    func enclosingLoop(_ g: Int?, _ w: WorkflowContext) -> Int? {
        var g = g
        while let gi = g {
            if w.groups[gi].loop != nil { return gi }
            g = w.groups[gi].parent
        }
        return nil
    }

    /// The `repeat { }` of group `gi`, collected before its tasks (so they know their loop).
    mutating func collectLoop(_ b: Block, group gi: Int, _ w: inout WorkflowContext) {
        let blocks = b.blocks.filter { $0.kind.text == "repeat" }
        guard let r = blocks.first else { return }
        for again in blocks.dropFirst() {
            report(error("E0205", "`repeat` is given twice", again.kind.span, label: "given again here",
                         secondary: [Label(r.kind.span, "first given here")], help: "a group repeats by one rule: keep one `repeat { }`"))
        }
        if let outer = enclosingLoop(w.groups[gi].parent, w) {
            report(error("E0964", "a loop cannot be nested in another loop", r.kind.span, label: "inside loop `\(w.groups[outer].name.text)`",
                         secondary: [Label(w.groups[outer].loop!.span, "the outer loop")],
                         help: "move group `\(w.groups[gi].name.text)` out of `\(w.groups[outer].name.text)`, or fold both into one loop"))
            return
        }
        let attrs = validateAttributes(r, module: w.module)
        var info = LoopInfo(span: r.kind.span)
        info.max = attrs.number("max")
        info.until = attrs["until"]?.value
        info.onExhausted = attrs.word("on_exhausted") ?? "fail"
        let missing = ["max", "until"].filter { attrs[$0] == nil }
        // A misspelt attribute (`untill`) already has its E0203 with the fix: one mistake,
        // one diagnostic.
        let misspelt = r.attributes.contains { !["max", "until", "on_exhausted"].contains($0.key.text) }
        if !missing.isEmpty && !misspelt {
            report(error("E0960", "`repeat` of group `\(w.groups[gi].name.text)` needs " + missing.map { "`\($0)`" }.joined(separator: " and "),
                         r.kind.span, label: "no " + missing.joined(separator: ", no "),
                         notes: ["a loop has no default bound: `max` is how many iterations the budget and deadline proofs count"],
                         help: "write `repeat { max: 3  until: TASK.outputs.approved }`"))
        }
        w.groups[gi].loop = info
    }

    /// `previous.TASK.outputs.NAME` (E0961 outside a loop body or for a task outside it).
    mutating func previousReference(_ e: Expr, path: [Name], _ env: inout ExprEnv) -> Ty {
        guard let body = env.loopBody else {
            report(error("E0961", "`previous` can be read only inside a loop's body", path[0].span,
                         label: "not inside a group with `repeat { }`",
                         help: "read the task's outputs directly: outside its loop they are the last iteration's"))
            return .error
        }
        guard path.count >= 4, path[2].text == "outputs", let t = env.tasks?[path[1].text] else {
            report(error("E0211", "write the previous iteration's output as `previous.TASK.outputs.NAME`", e.span))
            return .error
        }
        guard body.contains(t) else {
            report(error("E0961", "`previous.\(path[1].text)` reads a task outside this loop", path[1].span,
                         label: "not in the loop's body",
                         help: "`previous` reads only the loop's own tasks; read `\(path[1].text).outputs.\(path[3].text)` directly"))
            return .error
        }
        bind(path[1], .task(module: env.module, index: t))
        guard let out = env.taskOutputs[t][path[3].text] else {
            report(error("E0211", "task `\(path[1].text)` has no output `\(path[3].text)`", path[3].span)
                .suggesting(suggest(path[3].text, among: env.taskOutputs[t].keys), at: path[3].span,
                            otherwise: "its outputs are: " + env.taskOutputs[t].keys.sorted().joined(separator: ", ")))
            return .error
        }
        bind(e, .previousOutput(module: env.module, task: t, name: path[3].text))
        env.optionalReads.insert(e.span)
        return fields(Self.optional(out), path.dropFirst(4))
    }

    /// `iteration` (E0961 outside a loop body).
    mutating func iterationReference(_ e: Expr, path: [Name], _ env: inout ExprEnv) -> Ty {
        guard env.loopBody != nil else {
            report(error("E0961", "`iteration` can be read only inside a loop's body", path[0].span,
                         label: "not inside a group with `repeat { }`", help: "move the task into the loop's group"))
            return .error
        }
        guard path.count == 1 else {
            report(error("E0211", "`iteration` is an int and has no field `\(path[1].text)`", path[1].span))
            return .error
        }
        bind(e, .iteration)
        return .int
    }

    /// After every task is resolved: each loop's body, `until` typed over it (E0962,
    /// E0963), and every body task's `loopFactor`.
    mutating func checkLoops(_ w: inout WorkflowContext) {
        for gi in w.groups.indices {
            guard var loop = w.groups[gi].loop else { continue }
            loop.body = w.tasks.indices.filter { w.tasks[$0].loop == gi }
            w.groups[gi].loop = loop
            let body = Set(loop.body)
            let name = w.groups[gi].name.text
            if let until = loop.until {
                var env = env(for: w)
                env.loopBody = body
                let ty = typeOf(until, &env)
                if ty != .bool && ty != .error {
                    report(error("E0962", "`until` must be a bool, found `\(ty)`", until.span, label: "this is `\(ty)`",
                                 help: "compare it, e.g. `review.outputs.verdict == \"approved\"`"))
                }
                for (t, span) in env.readTasks + env.statusReads where !body.contains(t) {
                    report(error("E0963", "`until` of loop `\(name)` reads task `\(w.tasks[t].name.text)`, outside its body", span,
                                 label: "not a task of group `\(name)`",
                                 help: "`until` decides from the iteration that just ended: read the loop's own tasks (inputs are fine)"))
                }
                w.usedInputs.formUnion(env.usedInputs)
                w.outputReads.append(contentsOf: env.readOutputs)
            }
            for t in loop.body { w.tasks[t].loopFactor = loop.max ?? 1 }
            if loop.body.isEmpty {
                report(error("E0960", "loop `\(name)` has no task", loop.span, label: "nothing to repeat",
                             help: "put the tasks to repeat in group `\(name)`, or remove `repeat`"))
            }
            // The loop's own `when` decides once whether the loop runs: it has no iteration.
            if let c = w.groups[gi].when, let r = reference(in: c, where: { b in
                switch b { case .previousOutput, .iteration: true; default: false }
            }) {
                report(error("E0961", "the `when` of loop `\(name)` reads `\(r)`", c.span, label: "decided once, before the first iteration",
                             help: "to stop the loop, write the condition in `until`; to skip a step, decide inside the task"))
            }
        }
    }

    /// After `after` and `catch` are resolved (`checkGraph`): what a body task may not do
    /// (E0965), and no task outside falls back to a body task.
    mutating func checkLoopBodies(_ w: WorkflowContext) {
        for gi in w.groups.indices {
            guard let loop = w.groups[gi].loop else { continue }
            let body = Set(loop.body)
            let name = w.groups[gi].name.text
            for t in loop.body {
                checkLoopBodyTask(w.tasks[t], loop: name, body: body, w)
            }
            // A task outside that catches with a body task crosses the boundary too.
            for t in w.tasks where !body.contains(t.id) {
                if case .task(let f)? = t.fallback, body.contains(f) {
                    report(error("E0965", "task `\(t.name.text)` falls back to `\(w.tasks[f].name.text)`, a task of loop `\(name)`",
                                 t.name.span, label: "`catch` crosses the loop's boundary",
                                 help: "fall back to a task outside the loop"))
                }
            }
        }
    }

    /// Before cycles are looked for (`checkGraph`): outside, a body task ends with the
    /// whole loop, so a task that waits for one waits for every body task (the proofs'
    /// critical path; a task both feeding and awaiting a loop is a cycle, E0400).
    mutating func extendLoopDeps(_ w: inout WorkflowContext) {
        for i in w.tasks.indices {
            var extra: [(task: Int, span: Span, statusOnly: Bool)] = []
            for d in w.tasks[i].deps {
                guard let g = w.tasks[d].loop, w.tasks[i].loop != g, let loop = w.groups[g].loop else { continue }
                let statusOnly = w.tasks[i].statusOnlyDeps.contains(d)
                for b in loop.body where w.tasks[i].depSpans[b] == nil {
                    if let k = extra.firstIndex(where: { $0.task == b }) { extra[k].statusOnly = extra[k].statusOnly && statusOnly; continue }
                    extra.append((b, w.tasks[i].depSpans[d] ?? w.tasks[i].name.span, statusOnly))
                }
            }
            for x in extra {
                w.tasks[i].deps.append(x.task)
                w.tasks[i].depSpans[x.task] = x.span
                if x.statusOnly { w.tasks[i].statusOnlyDeps.insert(x.task) }
            }
        }
    }

    /// E0965: what a body task cannot do (each would break the unrolled iterations).
    mutating func checkLoopBodyTask(_ t: TaskInfo, loop: String, body: Set<Int>, _ w: WorkflowContext) {
        func refuse(_ what: String, _ at: Span, _ help: String) {
            report(error("E0965", "task `\(t.name.text)` of loop `\(loop)` \(what)", at, label: "cannot repeat", help: help))
        }
        if t.matrix != nil || t.forEach != nil {
            refuse("fans out (`matrix` or `for_each`)", t.forEachValue?.span ?? t.name.span, "fan out in a task outside the loop")
        }
        if t.action == "workflow" { refuse("runs a nested workflow", t.actionSpan, "call the workflow from a task outside the loop") }
        if let first = t.writes.first { refuse("writes a workflow output", first.span, "write the output from a task after the loop (it reads the last iteration)") }
        if let r = t.runOn, r != "success" {
            refuse("runs on `\(r)`", t.name.span, "a body task runs when the iteration's tasks it waits for succeeded; react to a failed loop after it")
        }
        // A body task skipped by a condition of its own would skip every later iteration
        // (they wait for the whole iteration) and leave the loop's outputs without it.
        if let a = t.block.attribute("when") {
            refuse("has a `when` of its own", a.key.span,
                   "decide inside the task and say so in an output the next task reads, or put the condition on the loop's group")
        } else {
            var g = t.group
            while let gi = g, w.groups[gi].loop == nil {
                if let c = w.groups[gi].when {
                    refuse("is in group `\(w.groups[gi].name.text)`, which has a `when`", c.span,
                           "put the condition on the loop's group, or decide inside the task")
                    break
                }
                g = w.groups[gi].parent
            }
        }
        if case .task(let f)? = t.fallback {
            refuse("falls back to task `\(w.tasks[f].name.text)` (`catch`)", t.name.span,
                   "retry it on another agent (`catch: AGENT`), or react to a failed loop after it")
        }
    }
}
