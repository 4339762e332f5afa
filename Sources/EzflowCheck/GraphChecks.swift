import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// Resolves `after` and `catch`, adds the edges, and reports self-dependencies and cycles.
    mutating func checkGraph(_ w: inout WorkflowContext) {
        for i in w.tasks.indices {
            // Edits go straight into the array element: no TaskInfo is copied or rebuilt.
            let after = w.tasks[i].after
            for n in after {
                guard let target = w.names[n.text] else {
                    report(error("E0200", "cannot find task `\(n.text)` in this workflow", n.span)
                        .suggesting(suggest(n.text, among: w.names.keys), at: n.span))
                    continue
                }
                bind(n, target.isGroup ? .group(module: w.module, index: target.index) : .task(module: w.module, index: target.index))
                if !target.isGroup {
                    let d = target.index
                    if d == i {
                        report(error("E0401", "task `\(w.tasks[i].name.text)` depends on itself", n.span,
                                     help: "remove `\(n.text)` from its `after` list"))
                        continue
                    }
                    if w.tasks[i].depSpans[d] == nil { w.tasks[i].depSpans[d] = n.span; w.tasks[i].deps.append(d) }
                    w.tasks[i].statusOnlyDeps.remove(d)  // named in `after`: gates on success
                    continue
                }
                for d in groupTasks(target.index, w) {
                    if d == i { continue }
                    if w.tasks[i].depSpans[d] == nil { w.tasks[i].depSpans[d] = n.span; w.tasks[i].deps.append(d) }
                    w.tasks[i].statusOnlyDeps.remove(d)
                }
            }
            if let s = w.tasks[i].depSpans[i] {
                report(error("E0401", "task `\(w.tasks[i].name.text)` depends on itself", s, label: "reads its own output",
                             help: "a task cannot read its own outputs; split it into two tasks"))
                w.tasks[i].deps.removeAll { $0 == i }
                w.tasks[i].depSpans[i] = nil
            }
            w.tasks[i].deps.sort()
        }
        // Fallbacks named by `catch` run only when their task fails.
        for i in w.tasks.indices {
            guard let r = w.tasks[i].catchRule, let c = r.catchExpr else { continue }
            if case .name(let n) = c.kind, let target = w.names[n], !target.isGroup {
                if target.index == i {
                    report(error("E0605", "task `\(n)` cannot be its own fallback", c.span))
                } else {
                    w.tasks[target.index].isFallback = true
                    w.tasks[i].fallback = .task(target.index)
                    bind(c, .task(module: w.module, index: target.index))
                }
            } else if let agent = resolveCatchAgent(c, module: r.catchModule) {
                w.tasks[i].fallback = .agent(agent)
                bind(c, .decl(.agent, agent))
            } else {
                let name = c.path?.map(\.text).joined(separator: ".") ?? "this"
                report(error("E0605", "fallback `\(name)` is neither a task of this workflow nor an agent", c.span)
                    .suggesting(suggest(name, among: w.names.keys), at: c.span,
                                otherwise: "`catch` names a task to run instead, or an agent to retry on"))
            }
        }
        extendLoopDeps(&w)
        reportCycles(&w)
    }

    func resolveCatchAgent(_ e: Expr, module m: Int) -> DeclID? {
        guard let p = e.path else { return nil }
        if p.count == 1, let d = modules[m].decls[p[0].text], d.kind == .agent { return DeclID(module: m, name: p[0].text) }
        if p.count == 2, let tm = modules[m].imports[p[0].text]?.module, let d = modules[tm].decls[p[1].text], d.kind == .agent {
            return DeclID(module: tm, name: p[1].text)
        }
        return nil
    }

    func groupTasks(_ g: Int, _ w: WorkflowContext) -> [Int] {
        var out = w.groups[g].tasks
        for (gi, grp) in w.groups.enumerated() where grp.parent == g { out += groupTasks(gi, w) }
        return out
    }

    /// Iterative DFS; each cycle is reported once with every task on it. The edges
    /// of reported cycles are cut so later passes can rely on a DAG.
    mutating func reportCycles(_ w: inout WorkflowContext) {
        let n = w.tasks.count
        var colour = [UInt8](repeating: 0, count: n)
        var onPathIndex = [Int](repeating: -1, count: n)
        for start in 0..<n where colour[start] == 0 {
            var stack: [(node: Int, next: Int)] = [(start, 0)]
            var path: [Int] = [start]
            colour[start] = 1
            onPathIndex[start] = 0
            while !stack.isEmpty {
                let (node, k) = stack[stack.count - 1]
                let deps = w.tasks[node].deps
                if k < deps.count {
                    stack[stack.count - 1].next += 1
                    let d = deps[k]
                    if colour[d] == 1 {
                        let cycle = Array(path[onPathIndex[d]...])
                        let names = (cycle + [d]).map { "`\(w.tasks[$0].name.text)`" }.joined(separator: " → ")
                        let secondary = cycle.enumerated().compactMap { j, id -> Label? in
                            let next = cycle[(j + 1) % cycle.count]
                            guard let s = w.tasks[id].depSpans[next], id != node || next != d else { return nil }
                            return Label(s, "`\(w.tasks[id].name.text)` waits for `\(w.tasks[next].name.text)`")
                        }
                        report(error("E0400", "dependency cycle: \(names)", w.tasks[node].depSpans[d] ?? w.tasks[node].name.span,
                                     label: "`\(w.tasks[node].name.text)` waits for `\(w.tasks[d].name.text)`, closing the cycle",
                                     secondary: secondary,
                                     notes: cycle.map { id in
                                         let p = sources[w.tasks[id].name.span.file].position(of: w.tasks[id].name.span.start)
                                         return "`\(w.tasks[id].name.text)` is declared at \(sources[w.tasks[id].name.span.file].path):\(p.line):\(p.column)"
                                     },
                                     help: "remove one of these dependencies"))
                        w.tasks[node].deps.removeAll { $0 == d }
                        stack[stack.count - 1].next -= 1
                    } else if colour[d] == 0 {
                        colour[d] = 1
                        onPathIndex[d] = path.count
                        path.append(d)
                        stack.append((d, 0))
                    }
                } else {
                    colour[node] = 2
                    onPathIndex[node] = -1
                    path.removeLast()
                    stack.removeLast()
                }
            }
        }
    }

    /// Kahn's algorithm over the (now acyclic) graph, lowest id first among ready tasks.
    func topologicalOrder(_ w: WorkflowContext) -> [Int] {
        let n = w.tasks.count
        var indegree = [Int](repeating: 0, count: n)
        var dependents = [[Int]](repeating: [], count: n)
        for i in w.tasks.indices { for d in w.tasks[i].deps { indegree[i] += 1; dependents[d].append(i) } }
        var ready = (0..<n).filter { indegree[$0] == 0 }
        var order: [Int] = []
        order.reserveCapacity(n)
        var head = 0
        while head < ready.count {
            let x = ready[head]
            head += 1
            order.append(x)
            for y in dependents[x] {
                indegree[y] -= 1
                if indegree[y] == 0 { ready.append(y) }
            }
        }
        return order
    }

    /// Reports parallel writers of one workflow output that has no `on_conflict`.
    mutating func checkConflicts(_ w: inout WorkflowContext) {
        var writers: [String: [(Int, Span)]] = [:]
        for i in w.tasks.indices where !w.tasks[i].writes.isEmpty {
            let t = w.tasks[i]
            for n in t.writes {
                guard let out = w.outputs[n.text] else {
                    report(error("E0200", "cannot find workflow output `\(n.text)`", n.span)
                        .suggesting(suggest(n.text, among: w.outputs.keys), at: n.span,
                                    otherwise: "declare it in the workflow: `output \(n.text): string`"))
                    continue
                }
                bind(n, .output(module: w.module, name: n.text))
                if let own = t.outputs[n.text] {
                    if !own.fits(out.ty) {
                        report(error("E0300", "task `\(t.name.text)` writes `\(own)` to output `\(n.text)` of type `\(out.ty)`", n.span,
                                     secondary: [Label(out.span, "declared as `\(out.ty)` here")]))
                    }
                } else {
                    report(error("E0211", "task `\(t.name.text)` has no output `\(n.text)` to write", n.span,
                                 help: "declare it in the task: `output \(n.text): \(out.ty)`"))
                }
                writers[n.text, default: []].append((t.id, n.span))
            }
        }
        guard !writers.isEmpty else { return }
        let reach = Reachability(w)
        for (name, ws) in writers.sorted(by: { $0.key < $1.key }) where w.outputs[name]?.onConflict == nil {
            var reported = false
            for (j, (b, bs)) in ws.enumerated() where !reported {
                if w.tasks[b].forEach != nil {
                    let fan = w.tasks[b].matrix == nil ? "instance of `for_each`" : "cell of `matrix`"
                    report(error("E0700", "every \(fan) task `\(w.tasks[b].name.text)` writes output `\(name)` in parallel", bs,
                                 secondary: [Label(w.outputs[name]!.span, "output declared here")],
                                 help: "say how writes combine: `output \(name): \(w.outputs[name]!.ty) { on_conflict: \(Self.conflictHint(w.outputs[name]!.ty)) }`").fixing(onConflictFix(outputBlock(w, name), Self.conflictHint(w.outputs[name]!.ty))))
                    reported = true
                    continue
                }
                for (a, asp) in ws[..<j] where !reach.reaches(a, b) && !reach.reaches(b, a) {
                    report(error("E0700", "tasks `\(w.tasks[a].name.text)` and `\(w.tasks[b].name.text)` may run in parallel and both write output `\(name)`", bs,
                                 label: "second writer", secondary: [Label(asp, "first writer"), Label(w.outputs[name]!.span, "output declared here")],
                                 help: "order them with `after`, or say how writes combine: `output \(name): \(w.outputs[name]!.ty) { on_conflict: \(Self.conflictHint(w.outputs[name]!.ty)) }`").fixing(onConflictFix(outputBlock(w, name), Self.conflictHint(w.outputs[name]!.ty))))
                    reported = true
                    break
                }
            }
        }
    }
}

/// Answers "must `a` finish before `b` starts?" by walking `b`'s dependencies.
/// Writers of one output are few, so a walk per pair is cheaper than a closure table.
struct Reachability {
    let deps: [[Int]]
    init(_ w: WorkflowContext) { deps = w.tasks.map(\.deps) }

    func reaches(_ a: Int, _ b: Int) -> Bool {
        var seen = Set<Int>([b])
        var stack = [b]
        while let x = stack.popLast() {
            for d in deps[x] {
                if d == a { return true }
                if seen.insert(d).inserted { stack.append(d) }
            }
        }
        return false
    }
}

/// Worst-case timing of a task graph: per task, attempts × timeout + backoff (plus one
/// attempt on a `catch` agent, or its `catch` task's worst case), and the longest chain
/// through the DAG. Shared by the budget and deadline proofs and `ezc graph`.
public struct CriticalPath: Sendable {
    /// Worst-case time of each task, fallback included.
    public var taskMs: [Int64]
    /// Worst-case finish time of each task from the first start of a task `within`
    /// (-1: no chain from such a task reaches it).
    public var finishMs: [Int64]
    /// Task ids along the longest chain, first to last.
    public var path: [Int]
    public var totalMs: Int64

    /// `order` must be a topological order of `tasks` (by their `deps`). With `within`,
    /// only chains that start and end at a task inside count (tasks outside may lie
    /// between: time passes while they run), and a `catch` task outside is not added:
    /// the span a group's or a budget's clock can measure.
    public init(tasks: [TaskInfo], order: [Int], within: [Bool]? = nil) {
        let n = tasks.count
        func inside(_ i: Int) -> Bool { within?[i] ?? true }
        taskMs = tasks.indices.map { i in
            let own = Self.worstTime(tasks[i]) ?? 0
            guard case .task(let fi)? = tasks[i].fallback, fi != i, inside(fi) else { return own }
            let (s, o) = own.addingReportingOverflow(Self.worstTime(tasks[fi]) ?? 0)
            return o ? Int64.max : s
        }
        finishMs = [Int64](repeating: -1, count: n)
        var via = [Int](repeating: -1, count: n)
        for id in order where !tasks[id].isFallback {
            var start: Int64 = inside(id) ? 0 : -1
            for d in tasks[id].deps where finishMs[d] > start {
                start = finishMs[d]
                via[id] = d
            }
            guard start >= 0 else { continue }
            let (f, o) = start.addingReportingOverflow(taskMs[id])
            finishMs[id] = o ? Int64.max : f
        }
        path = []
        totalMs = 0
        guard let end = finishMs.indices.filter({ inside($0) && finishMs[$0] >= 0 })
            .max(by: { (finishMs[$0], -$0) < (finishMs[$1], -$1) }) else { return }
        totalMs = finishMs[end]
        var c = end
        while c != -1 { path.append(c); c = via[c] }
        path.reverse()
    }

    /// attempts × timeout plus the backoff between attempts, plus the one attempt a
    /// `catch` agent adds; nil without a timeout. A gate's attempt is its wait for one
    /// answer (`attemptTime`).
    public static func worstTime(_ t: TaskInfo) -> Int64? {
        guard let timeout = attemptTime(t) else { return nil }
        var attempts = t.maxAttempts
        if case .agent? = t.fallback { attempts += 1 }
        let (x, o) = timeout.multipliedReportingOverflow(by: attempts)
        if o { return Int64.max }
        let b = t.backoffTotalMs
        guard !x.addingReportingOverflow(b).overflow else { return Int64.max }
        // A matrix with `max_parallel` runs its cells in waves of that many, one after another.
        let (w, o2) = (x + b).multipliedReportingOverflow(by: t.matrixWaves)
        // A loop body task may run once per iteration, one iteration after another.
        let (l, o3) = w.multipliedReportingOverflow(by: t.loopFactor)
        return o2 || o3 ? Int64.max : l
    }

    /// The longest one attempt takes: its `timeout`; for an `approve` gate that escalates,
    /// its `timeout` and then the escalation's (`escalate_timeout`, else the same again),
    /// as the runtime times it out (docs/RUNTIME.md, "Approval gates").
    public static func attemptTime(_ t: TaskInfo) -> Int64? {
        guard let timeout = t.timeoutMs else { return nil }
        guard t.action == "approve", t.onTimeout == "escalate" else { return timeout }
        let (x, o) = timeout.addingReportingOverflow(t.escalateTimeoutMs ?? timeout)
        return o ? Int64.max : x
    }
}
