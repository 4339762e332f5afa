import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits

/// Budget scopes: -1 the workflow, g ≥ 0 group g, -2 - t the own budget of task t.
extension WorkflowChecker {
    /// The budget scope `t` is charged to first (its own budget, else its nearest group
    /// with a budget, else the workflow).
    func scopeOf(task t: TaskInfo, _ w: WorkflowContext) -> Int { t.budget != nil ? -2 - t.id : scopeOf(group: t.group, w) }

    func scopeOf(group: Int?, _ w: WorkflowContext) -> Int {
        var g = group
        while let gi = g {
            if w.groups[gi].budget != nil { return gi }
            g = w.groups[gi].parent
        }
        return -1
    }

    func budgetOf(scope s: Int, _ w: WorkflowContext) -> BudgetInfo? {
        s == -1 ? w.budget : s >= 0 ? w.groups[s].budget : w.tasks[-2 - s].budget
    }

    /// The bounds of one scope's limits (and of the deadline for the workflow). `members`:
    /// the tasks of a group scope (nil for the workflow and for a task scope, whose only
    /// member is its task).
    func prove(scope: String, _ b: BudgetInfo?, members: [Bool]?, group s: Int, deadline: (Int64, Span)?,
               _ w: WorkflowContext, _ costs: [TaskCost], _ order: [Int]) -> ProvenBound {
        var proof = BudgetProof(scope: scope, bounds: [])
        var spans: [BudgetBound.Dimension: Span] = [:]
        var labels: [BudgetBound.Dimension: [Label]] = [:]
        let strict = b?.strict ?? false
        for (dim, limit, span) in [(BudgetBound.Dimension.money, b?.money, b?.moneySpan), (.tokens, b?.tokens, b?.tokensSpan)] {
            guard let limit else { continue }
            var unknown: [String] = []
            let terms = sumTerms(scope: s, dim, w, costs, &unknown)
            let total = terms.reduce(Int64(0)) { sat($0, $1.value) }
            let shown = terms.filter { $0.value > 0 }
            let arithmetic = shown.isEmpty ? "nothing under it reserves \(dim == .money ? "money" : "tokens")"
                : shown.map { $0.cap ?? "\(Units.counted($0.count, "task")) × \(Units.counted($0.attempts, "attempt")) × \(amount($0.per, dim))\($0.what)" }
                    .joined(separator: " + ") + " = \(amount(total, dim))"
            let detail = shown.compactMap { t -> String? in t.names.isEmpty ? nil : "\(listNames(t.names)): per attempt\(t.what), \(t.why)" }
            let (best, bestWhy) = bestCase(dim, scoped(s, members, w), costs)
            proof.bounds.append(BudgetBound(dimension: dim, limit: limit, worst: total, worstWhy: arithmetic, worstDetail: detail,
                                            best: best, bestWhy: bestWhy, unknown: unknown, strict: strict))
            spans[dim] = span
            labels[dim] = shown.count <= 4 ? termLabels(shown, dim, w) : []
        }
        let timeLimits = [(BudgetBound.Dimension.time, b?.timeMs, b?.timeSpan), (.deadline, deadline?.0, deadline?.1)]
        // The time budget and the deadline bound the same longest chain: its arithmetic and
        // its lines (one per task on it: 10,000 on a 10,000-task chain) are made once for both.
        var chain: (why: String, detail: [String], total: Int64, unknown: [String], labels: [Label])?
        if timeLimits.contains(where: { $0.1 != nil }) {
            let (path, ms, total) = longestChain(s, members, w, order)
            let names = path.map { "`\(w.tasks[$0].name.text)`" }
            let why = path.count == 1 ? timeLine(w.tasks[path[0]], ms(path[0]), w, named: false)
                : path.isEmpty ? "no task under it has a `timeout`"
                : zip(names, path).map { "\($0) \(fmtDuration(ms($1)))" }.joined(separator: " + ") + " = \(fmtDuration(total))"
            let detail = (path.count <= 1 ? [] : ["critical path: " + names.joined(separator: " → ")]
                + path.map { timeLine(w.tasks[$0], ms($0), w, named: true) }) + compensationLine(s, members, w) + finallyLine(s, members, w, order)
            let untimed = scoped(s, members, w).filter { (s <= -2 || !$0.isFallback) && $0.timeoutMs == nil }.map { "`\($0.name.text)`" }
            let unknown = untimed.isEmpty ? [] : ["\(untimed.count) task\(untimed.count == 1 ? " has" : "s have") no `timeout`: \(listNames(untimed))"]
            chain = (why, detail, total, unknown, path.map { Label(w.tasks[$0].name.span, "worst case \(fmtDuration(ms($0)))") })
        }
        for (dim, limit, span) in timeLimits {
            guard let limit, let chain else { continue }
            proof.bounds.append(BudgetBound(dimension: dim, limit: limit, worst: chain.total, worstWhy: chain.why, worstDetail: chain.detail, best: 0,
                                            bestWhy: "0: an attempt may succeed at once; backoff and fallbacks wait only after failures",
                                            unknown: chain.unknown, strict: strict))
            spans[dim] = span
            labels[dim] = chain.labels
        }
        return ProvenBound(proof: proof, spans: spans, labels: labels)
    }

    /// The tasks of scope `s`: all, a group's members, or a task budget's task.
    func scoped(_ s: Int, _ members: [Bool]?, _ w: WorkflowContext) -> [TaskInfo] {
        s <= -2 ? [w.tasks[-2 - s]] : members.map { m in w.tasks.filter { m[$0.id] } } ?? w.tasks
    }

    /// The workflow's `finally` tasks, which neither the deadline nor a time budget stops:
    /// their own worst case, reported apart (each has a `timeout`, E0906).
    func finallyLine(_ s: Int, _ members: [Bool]?, _ w: WorkflowContext, _ order: [Int]) -> [String] {
        guard s == -1, members == nil, w.tasks.contains(where: \.isFinally) else { return [] }
        let cp = CriticalPath(tasks: w.tasks, order: order, within: w.tasks.map(\.isFinally))
        return ["then `finally`, not stopped by it: worst case \(fmtDuration(cp.totalMs)) ("
                + cp.path.map { "`\(w.tasks[$0].name.text)`" }.joined(separator: " → ") + ")"]
    }

    /// The longest chain of worst task times under scope `s` (task ids), each task's time,
    /// and the total. A task budget measures its task alone: no fallback task, no graph.
    /// The workflow's time and deadline cover its main graph: `finally` runs after it.
    func longestChain(_ s: Int, _ members: [Bool]?, _ w: WorkflowContext, _ order: [Int]) -> ([Int], (Int) -> Int64, Int64) {
        guard s <= -2 else {
            // Nor compensation, which runs between the two (CompensationChecks.swift).
            let after = w.tasks.contains { $0.isFinally || $0.compensates != nil }
            let main = s == -1 && members == nil && after ? w.tasks.map { !$0.isFinally && $0.compensates == nil } : members
            let cp = CriticalPath(tasks: w.tasks, order: order, within: main)
            return (cp.path, { cp.taskMs[$0] }, cp.totalMs)
        }
        var one = w.tasks[-2 - s]
        one.deps = []
        one.isFallback = false
        if case .task? = one.fallback { one.fallback = nil }
        let cp = CriticalPath(tasks: [one], order: [0])
        return (cp.path.map { _ in one.id }, { _ in cp.taskMs[0] }, cp.totalMs)
    }

    /// One label per task that a term stands for alone, its terms joined: `3 attempts × $1 + …`.
    func termLabels(_ terms: [SumTerm], _ dim: BudgetBound.Dimension, _ w: WorkflowContext) -> [Label] {
        var texts: [(Int, [String])] = []
        for t in terms {
            guard let id = t.task else { continue }
            let text = "\(Units.counted(t.attempts, "attempt")) × \(amount(t.per, dim))\(t.what)"
            if let i = texts.firstIndex(where: { $0.0 == id }) { texts[i].1.append(text) } else { texts.append((id, [text])) }
        }
        return texts.map { Label(w.tasks[$0.0].name.span, $0.1.joined(separator: " + ")) }
    }

    /// `` `build`: 3 attempts × 20m + 2m backoff = 1h2m ``, with a `catch` agent's attempt
    /// and a fallback task.
    func timeLine(_ t: TaskInfo, _ total: Int64, _ w: WorkflowContext, named: Bool) -> String {
        guard let to = CriticalPath.attemptTime(t) else { return (named ? "`\(t.name.text)`: " : "") + "no `timeout`" }
        var a = t.maxAttempts
        var extra = ""
        if case .agent(let id)? = t.fallback {
            a += 1
            extra = " (the last on the `catch` agent `\(id.name)`)"
        }
        let back = t.backoffTotalMs
        var text = "\(Units.counted(a, "attempt")) × \(fmtDuration(to))\(named ? "" : " timeout")\(extra)" + (back > 0 ? " + \(fmtDuration(back)) backoff" : "")
        if t.matrixWaves > 1, let m = t.matrix, let p = m.maxParallel {
            text = "\(t.matrixWaves) rounds of \(p) cells (\(m.cells.count) cells, `max_parallel: \(p)`) × (" + text + ")"
        }
        if t.loopFactor > 1 {
            text = "\(Units.counted(t.loopFactor, "iteration")) (`repeat` max) × (" + text + ")"
        }
        if case .task(let f)? = t.fallback, total > (CriticalPath.worstTime(t) ?? 0) {
            text += " + fallback `\(w.tasks[f].name.text)` \(fmtDuration(total - (CriticalPath.worstTime(t) ?? 0)))"
        }
        return (named ? "`\(t.name.text)`: " : "") + text + " = \(fmtDuration(total))"
    }

    /// The worst-case sum of scope `s` in money or tokens: its own tasks' attempts, and
    /// each child budget at most at its limit.
    func sumTerms(scope s: Int, _ dim: BudgetBound.Dimension, _ w: WorkflowContext, _ costs: [TaskCost], _ unknown: inout [String]) -> [SumTerm] {
        var terms: [SumTerm] = []
        func add(_ t: SumTerm) {
            if let i = terms.firstIndex(where: { $0.cap == nil && t.cap == nil && $0.attempts == t.attempts && $0.per == t.per && $0.what == t.what }) {
                terms[i].count = sat(terms[i].count, t.count)
                terms[i].names += t.names
                terms[i].task = nil
            } else { terms.append(t) }
        }
        func limit(_ b: BudgetInfo?) -> Int64? { dim == .money ? b?.money : b?.tokens }
        // Own tasks (for a task scope: the task itself, one instance).
        for t in s <= -2 ? [w.tasks[-2 - s]] : w.tasks {
            let own = s <= -2 ? t.id == -2 - s : scopeOf(task: t, w) == s
            let child = s > -2 && t.budget != nil && scopeOf(group: t.group, w) == s
            guard own || child else { continue }
            let c = costs[t.id]
            let name = "`\(t.name.text)`"
            var taskTerms: [SumTerm] = []
            var taskUnknown: String?
            let extra: Int64 = if case .agent? = t.fallback { 1 } else { 0 }
            if c.nested {
                taskUnknown = "\(name) runs a nested workflow (its own budget holds it)"
            } else if dim == .money {
                if let m = c.money { taskTerms.append(SumTerm(count: 1, attempts: c.attempts, per: m, what: "", names: [name], task: t.id, why: c.moneyWhy)) } else { taskUnknown = "\(name): \(c.moneyWhy)" }
                if let cm = c.catchMoney {
                    taskTerms.append(SumTerm(count: 1, attempts: 1, per: cm, what: " on the `catch` agent", names: [name], task: t.id, why: c.catchWhy))
                }
                else if case .agent? = t.fallback { taskUnknown = taskUnknown ?? "\(name): its `catch` agent's attempt is not bounded" }
                if c.promptMoney > 0 {
                    taskTerms.append(SumTerm(count: 1, attempts: c.attempts + extra, per: c.promptMoney, what: " (prompt)", names: [name], task: t.id, why: c.promptMoneyWhy))
                } else if c.promptTokens == nil && c.money != nil && c.promptPriced {
                    taskUnknown = taskUnknown ?? promptUnknown(name, t)
                }
            } else {
                if t.maxTokens == nil && t.action == "prompt" { taskUnknown = "\(name) has no `max_tokens`" }
                taskTerms.append(SumTerm(count: 1, attempts: c.attempts + extra, per: c.tokens, what: "", names: [name], task: t.id,
                                         why: "`max_tokens` \(fmtTokens(c.tokens))" + (extra > 0 ? " (the last on the `catch` agent)" : "")))
                if let p = c.promptTokens, p > 0 {
                    taskTerms.append(SumTerm(count: 1, attempts: c.attempts + extra, per: p, what: " (prompt)", names: [name], task: t.id,
                                             why: "\(Self.inputWords(t)) \(Units.counted(p, "UTF-8 byte")) and a token is at least one byte"))
                } else if c.promptTokens == nil { taskUnknown = taskUnknown ?? promptUnknown(name, t) }
            }
            let instances = own && s <= -2 ? 1 : c.instances
            if child, let cap = limit(t.budget) {
                // Its own budget holds each instance to `cap`.
                let own = taskTerms.reduce(Int64(0)) { sat($0, $1.value) }
                if taskUnknown != nil || own > cap {
                    guard let n = instances else { unknown.append("\(name): `for_each` over a list known only when the run starts"); continue }
                    add(SumTerm(count: n, attempts: 1, per: sat(cap, n, mul: true), what: "", names: [],
                                cap: "\(name) \(n == 1 ? "" : "\(n) × ")at most \(amount(cap, dim)) (its budget)"))
                    continue
                }
            }
            if let u = taskUnknown { unknown.append(u) }
            guard let n = instances else {
                if taskTerms.contains(where: { $0.per > 0 }) { unknown.append("\(name): `for_each` over a list known only when the run starts") }
                continue
            }
            for var x in taskTerms where n > 0 {
                x.count = n
                if n != 1 || t.maxItems != nil {
                    // A dynamic fan-out counts at its maximum, whatever its list's length.
                    x.names = [t.maxItems != nil ? "\(name) (at most \(n) instances: `max_items`)"
                               : c.loopFactor > 1 && n == c.loopFactor ? "\(name) (\(n) iterations)" : "\(name) (\(n) instances)"]
                    x.task = nil
                }
                add(x)
            }
        }
        // Child groups with a budget: their sum, at most their limit.
        guard s > -2 else { return terms }
        for (gi, g) in w.groups.enumerated() where g.budget != nil && scopeOf(group: g.parent, w) == s {
            var childUnknown: [String] = []
            let inner = sumTerms(scope: gi, dim, w, costs, &childUnknown)
            let v = inner.reduce(Int64(0)) { sat($0, $1.value) }
            if let cap = limit(g.budget), !childUnknown.isEmpty || v > cap {
                add(SumTerm(count: 1, attempts: 1, per: cap, what: "", cap: "group `\(g.name.text)` at most \(amount(cap, dim)) (its budget)"))
            } else {
                unknown += childUnknown
                for t in inner { add(t) }
            }
        }
        return terms
    }

    /// Why an interpolated prompt's tokens are left out of the worst case.
    func promptUnknown(_ name: String, _ t: TaskInfo) -> String {
        let what = t.systemValue == nil && t.messagesValue == nil ? "its prompt interpolates" : "its prompt, `system` or `messages` read"
        return "\(name)'s prompt tokens: \(what) run-time values; the runtime bounds them before sending"
    }

    /// What even a run where every attempt succeeds the first time needs: for money, the
    /// larger of the per-call prices of every required task (charged) and the largest
    /// first reservation (refused if it cannot fit); for tokens, the largest reservation.
    func bestCase(_ dim: BudgetBound.Dimension, _ tasks: [TaskInfo], _ costs: [TaskCost]) -> (Int64, String) {
        var charges: [(String, Int64, Int64)] = []
        var first: (Int64, String)?
        // By index: `for t in tasks` would copy every `TaskInfo` (some 40 fields) to read two.
        for i in tasks.indices {
            let c = costs[tasks[i].id]
            // A loop's best case is one iteration: `until` may hold after the first.
            guard c.required, !c.nested, let all = c.instances, all > 0 else { continue }
            let n = all / c.loopFactor
            let r = dim == .money ? c.firstReserve : c.tokens
            if r > (first?.0 ?? 0) { first = (r, "`\(tasks[i].name.text)`") }
            if dim == .money && c.minCharge > 0 { charges.append(("`\(tasks[i].name.text)`", n, c.minCharge)) }
        }
        let sum = charges.reduce(Int64(0)) { sat($0, sat($1.1, $1.2, mul: true)) }
        if sum > 0 && sum >= (first?.0 ?? 0) {
            let parts = charges.count > 6 ? [Units.counted(charges.count, "task")] : charges.map { "\($0.0)\($0.1 == 1 ? "" : " \($0.1) ×") \(fmtMoney($0.2))" }
            return (sum, "per-call prices every required task pays: " + parts.joined(separator: " + ") + " = \(fmtMoney(sum))")
        }
        guard let (v, name) = first else {
            return (0, "no required attempt reserves or pays \(dim == .money ? "money" : "tokens")")
        }
        return (v, "the first attempt of \(name) reserves \(amount(v, dim))")
    }

    func amount(_ v: Int64, _ dim: BudgetBound.Dimension) -> String {
        switch dim {
        case .money: fmtMoney(v)
        case .tokens: fmtTokens(v)
        case .time, .deadline: fmtDuration(v)
        }
    }

    /// At most five names, then how many more.
    func listNames(_ names: [String]) -> String {
        names.count <= 5 ? names.joined(separator: ", ") : names.prefix(4).joined(separator: ", ") + " and \(names.count - 4) more"
    }
}
