// Lowering of bounded loops (docs/RUNTIME.md "Loops", docs/IR.md "Loops"): a loop's body
// is unrolled `max` times into plain tasks named `TASK[iteration=N]`, followed by one
// `loop` task named by the group. Iteration N+1's tasks wait for every task of iteration
// N and run only when `until` over iteration N did not hold (their `when`); the loop task
// waits for every instance and decides the outcome (`loop.until` per iteration). Outside
// the loop a body task is read through the loop task: `["task", LOOP, "outputs", TASK,
// NAME]`, the last iteration that ran.
import EzflowCheck
import EzflowDiagnostics
import EzflowIR
import EzflowSyntax

/// Where a loop's instances and its loop task sit in the IR's task list.
struct LoopLayout {
    var group: Int
    var max: Int
    /// Body task ids in topological order.
    var body: [Int]
    /// `pos[i][k]`: the IR id of `body[k]` in iteration `i + 1`.
    var pos: [[Int]] = []
    /// The IR id of the loop task.
    var node = 0
}

/// One IR task to write, in IR order.
enum LoopEmit {
    case task(Int)
    case instance(loop: Int, iteration: Int, task: Int)
    case node(loop: Int)
}

extension WorkflowLowering {
    /// The IR order when the workflow has loops: tasks topologically, each loop's
    /// instances iteration by iteration and then its loop task, at the place of the loop.
    /// Sets `position` of every body task to its loop task (what outside readers see).
    mutating func layOutLoops() {
        let loopGroups = w.groups.indices.filter { g in w.groups[g].loop != nil && w.tasks.contains { $0.loop == g } }
        guard !loopGroups.isEmpty else { emission = w.order.map { .task($0) }; return }
        // Units: a plain task (its id) or a whole loop (-1 - group), in first-seen order.
        func unit(_ t: Int) -> Int { w.tasks[t].loop.map { -1 - $0 } ?? t }
        var units: [Int] = []
        var seen: Set<Int> = []
        for id in w.order where seen.insert(unit(id)).inserted { units.append(unit(id)) }
        var indexOf: [Int: Int] = [:]
        for (k, u) in units.enumerated() { indexOf[u] = k }
        var pending = [Int](repeating: 0, count: units.count)
        var next = [[Int]](repeating: [], count: units.count)
        for t in w.tasks {
            let u = indexOf[unit(t.id)]!
            var from: Set<Int> = []
            for d in t.deps where unit(d) != unit(t.id) { from.insert(indexOf[unit(d)]!) }
            for f in from { next[f].append(u); pending[u] += 1 }
        }
        // Kahn's algorithm, the lowest first-seen index first (stable).
        var ready = (0..<units.count).filter { pending[$0] == 0 }
        var sorted: [Int] = []
        while !ready.isEmpty {
            ready.sort(by: >)
            let u = ready.removeLast()
            sorted.append(u)
            for v in next[u] {
                pending[v] -= 1
                if pending[v] == 0 { ready.append(v) }
            }
        }
        var emits: [LoopEmit] = []
        for k in sorted {
            let u = units[k]
            guard u < 0 else { emits.append(.task(u)); continue }
            let g = -1 - u
            let body = w.order.filter { w.tasks[$0].loop == g }
            var layout = LoopLayout(group: g, max: Int(w.groups[g].loop?.max ?? 1), body: body)
            for i in 0..<layout.max {
                var row: [Int] = []
                for t in body {
                    row.append(emits.count)
                    emits.append(.instance(loop: g, iteration: i, task: t))
                }
                layout.pos.append(row)
            }
            layout.node = emits.count
            emits.append(.node(loop: g))
            loops[g] = layout
        }
        emission = emits
        for (p, e) in emits.enumerated() {
            if case .task(let t) = e { position[t] = p }
        }
        for (g, l) in loops { for t in w.tasks where t.loop == g { position[t.id] = l.node } }
    }

    /// The IR id a task reads task `d` at from where it is: the same iteration's instance
    /// inside `d`'s loop, else `position` (the loop task for a body task read outside).
    func readPosition(_ d: Int) -> Int {
        if let c = iterationContext, w.tasks[d].loop == c.loop, let l = loops[c.loop], let k = l.body.firstIndex(of: d) {
            return l.pos[c.iteration][k]
        }
        return position[d]
    }

    /// A body task read from outside its loop: through the loop task.
    func readsThroughLoop(_ d: Int) -> Bool {
        guard let g = w.tasks[d].loop else { return false }
        return iterationContext?.loop != g
    }

    /// The IR id of this iteration's previous instance of `d`, nil in iteration 1.
    func previousPosition(_ d: Int) -> Int? {
        guard let c = iterationContext, c.iteration > 0, let l = loops[c.loop], let k = l.body.firstIndex(of: d) else { return nil }
        return l.pos[c.iteration - 1][k]
    }

    /// Iteration N+1's extra dependencies (every task of iteration N) and its gate:
    /// `!(until over iteration N)`.
    mutating func iterationGate(_ s: inout ExprScope) -> (deps: [Int], when: JSONValue?) {
        guard let c = iterationContext, c.iteration > 0, let l = loops[c.loop], let until = w.groups[c.loop].loop?.until else { return ([], nil) }
        let saved = iterationContext
        iterationContext = (c.loop, c.iteration - 1)
        let u = expr(until, &s)
        iterationContext = saved
        // `until` over iteration N may read `previous` (iteration N-1): wait for it too (it ended).
        let deps = l.pos[c.iteration - 1] + (c.iteration >= 2 && readsPrevious(until) ? l.pos[c.iteration - 2] : [])
        return (deps, .object([("args", .array([u])), ("op", .string("!"))]))
    }

    /// The loop task of group `g`: an `action: "loop"` task waiting for every instance.
    mutating func loopNode(_ g: Int, _ out: inout CanonicalStream, _ locs: inout CanonicalStream) {
        guard let l = loops[g], let info = w.groups[g].loop else { return }
        var scope = ExprScope(module: w.module, policy: false)
        // Its own dependencies: what the body waits for outside the loop, and every instance.
        // What the body gates on outside (its status-only reads wait in any end state, so
        // the loop does not gate on them either): a failure there skips the loop at once.
        var deps = Set(l.pos.joined())
        for t in l.body {
            for d in w.tasks[t].deps where w.tasks[d].loop != g && !w.tasks[t].statusOnlyDeps.contains(d) { deps.insert(position[d]) }
        }
        var until: [JSONValue] = []
        for i in 0..<l.max {
            iterationContext = (g, i)
            until.append(info.until.map { expr($0, &scope) } ?? .object([("bool", .bool(true))]))
        }
        iterationContext = nil
        // The group's `when` (and its enclosing groups'): the loop is skipped as its body is.
        var when: JSONValue?
        var gi: Int? = g
        var groupConds: [Expr] = []
        while let x = gi {
            if let c = groupWhen(x) { groupConds.insert(c, at: 0) }
            gi = w.groups[x].parent
        }
        for e in groupConds {
            let x = expr(e, &scope)
            when = when.map { .object([("args", .array([$0, x])), ("op", .string("&&"))]) } ?? x
        }
        // The group's `when` reads: an output read gates, a status-only read waits for any end.
        var statusDeps: Set<Int> = []
        var gatingReads: Set<Int> = []
        for e in groupConds {
            for (t, status) in readsOf(e) { if status { statusDeps.insert(position[t]) } else { gatingReads.insert(position[t]) } }
        }
        statusDeps = statusDeps.subtracting(gatingReads).subtracting(deps)
        deps.formUnion(gatingReads)
        deps.formUnion(statusDeps)
        // Outputs: one record per body task, its outputs as fields (the last iteration's).
        var outputs: [JSONValue] = []
        for t in l.body.sorted(by: { JSONValue.keyLess(w.tasks[$0].name.text, w.tasks[$1].name.text) }) {
            let fields = w.tasks[t].outputs.keys.sorted(by: JSONValue.keyLess).map { "\($0): \(typeName(w.tasks[t].outputs[$0]!))" }
            outputs.append(.object([("name", .string(w.tasks[t].name.text)), ("type", .string("{" + fields.joined(separator: ", ") + "}"))]))
        }
        let loop: JSONValue = .object([
            ("iterations", .array(l.pos.map { .array($0.map { .int(Int64($0)) }) })),
            ("max", .int(Int64(l.max))),
            ("on_exhausted", .string(info.onExhausted)),
            ("tasks", .array(l.body.map { .string(w.tasks[$0].name.text) })),
            ("until", .array(until)),
        ])
        let group = w.groups[g]
        var tags: [String] = []
        var gg: Int? = g
        while let x = gg {
            for tag in w.groups[x].tags where !tags.contains(tag) { tags.append(tag) }
            gg = w.groups[x].parent
        }
        out.beginObject()
        out.key("action"); out.string("loop")
        out.key("agent"); out.null()
        out.key("agents"); out.strings([])
        out.key("approvers"); out.value(.array([]))
        out.key("budget"); out.null()
        out.key("deps"); out.value(.array(deps.sorted().map { .int(Int64($0)) }))
        out.key("env"); out.null()
        out.key("fallback"); out.bool(false)
        out.key("for_each"); out.null()
        out.key("group"); out.int(Int64(g))
        out.key("id"); out.int(l.node)
        out.key("item_type"); out.null()
        out.key("loop"); out.value(loop)
        out.key("max_cost_micros"); out.null()
        out.key("max_tokens"); out.null()
        out.key("model"); out.null()
        out.key("name"); out.string(group.name.text)
        out.key("needs"); out.strings([])
        out.key("outputs"); out.value(.array(outputs))
        out.key("permissions"); out.null()
        out.key("policies"); out.value(.array([]))
        out.key("priority"); out.int(group.priority ?? 0)
        out.key("retry"); out.null()
        out.key("role"); out.null()
        out.key("secrets"); out.value(.array([]))
        if !statusDeps.isEmpty { out.key("status_deps"); out.value(.array(statusDeps.sorted().map { .int(Int64($0)) })) }
        out.key("tags"); out.strings(tags)
        out.key("template"); out.null()
        out.key("timeout_ms"); out.null()
        if let when { out.key("when"); out.value(when) }
        out.key("with"); out.null()
        out.key("workflow"); out.null()
        out.key("writes"); out.strings([])
        out.endObject()

        locs.beginObject()
        locs.key("loc"); locs.string(lowering.loc(group.name.span))
        locs.key("workflow"); locs.null()
        locs.endObject()
    }

    /// The `when` written on group `g` itself, if any.
    func groupWhen(_ g: Int) -> Expr? {
        w.groups[g].when
    }

    /// Whether an expression reads `previous.TASK.outputs.x`.
    func readsPrevious(_ e: Expr) -> Bool {
        var found = false
        walkBindings(e) { b in
            if case .previousOutput? = b { found = true; return true }
            return false
        }
        return found
    }

    /// The tasks an expression reads, each with whether the read is of its status.
    func readsOf(_ e: Expr) -> [(Int, Bool)] {
        var out: [(Int, Bool)] = []
        walkBindings(e) { b in
            switch b {
            case .taskOutput(_, let t, _)?: out.append((t, false)); return true
            case .taskStatus(_, let t)?: out.append((t, true)); return true
            default: return false
            }
        }
        return out
    }

    /// Visits each sub-expression's binding, outermost first; `visit` returns true to
    /// stop descending below that expression (a reference read whole).
    func walkBindings(_ e: Expr, _ visit: (Binding?) -> Bool) {
        func walk(_ x: Expr) {
            if visit(w.bindings.binding(of: x)) { return }
            switch x.kind {
            case .string(let ps): for case .interpolation(let i) in ps { walk(i) }
            case .list(let xs): xs.forEach(walk)
            case .record(let es): es.forEach { walk($0.value) }
            case .unary(_, let a): walk(a)
            case .binary(_, let a, let b): walk(a); walk(b)
            case .index(let a, let b): walk(a); walk(b)
            case .call(_, let args): args.forEach(walk)
            case .member(let b, _): walk(b)
            default: break
            }
        }
        walk(e)
    }
}

extension WorkflowLowering {
    /// The IR ids of group `gi`'s direct tasks: every instance of a body task, and the
    /// loop task of the group's own loop.
    func groupTaskIDs(_ gi: Int) -> [Int] {
        var ids: [Int] = []
        for t in w.groups[gi].tasks {
            if let g = w.tasks[t].loop, let l = loops[g], let k = l.body.firstIndex(of: t) {
                ids.append(contentsOf: l.pos.map { $0[k] })
            } else {
                ids.append(position[t])
            }
        }
        if let l = loops[gi] { ids.append(l.node) }
        return ids.sorted()
    }
}
