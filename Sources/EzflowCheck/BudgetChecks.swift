import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// The budget a task or group answers to: its nearest enclosing group's, else the workflow's.
    func parentBudget(group: Int?, _ w: WorkflowContext) -> (BudgetInfo, String)? {
        var g = group
        while let gi = g {
            if let b = w.groups[gi].budget { return (b, "group `\(w.groups[gi].name.text)`") }
            g = w.groups[gi].parent
        }
        return w.budget.map { ($0, "the workflow") }
    }

    mutating func checkBudgets(_ w: inout WorkflowContext) {
        // Each child fits its parent, and children's money and tokens add up within it.
        var childSums: [String: (money: Int64, tokens: Int64, parent: BudgetInfo, names: [String])] = [:]
        func visit(_ b: BudgetInfo, _ what: String, group: Int?) {
            guard let (p, pname) = parentBudget(group: group, w) else { return }
            compare(b.money, b.moneySpan, p.money, p.moneySpan, what, pname, fmtMoney)
            compare(b.tokens, b.tokensSpan, p.tokens, p.tokensSpan, what, pname, fmtTokens)
            compare(b.timeMs, b.timeSpan, p.timeMs, p.timeSpan, what, pname, fmtDuration)
            var s = childSums[pname] ?? (0, 0, p, [])
            s.money = s.money.addingReportingOverflow(b.money ?? 0).partialValue
            s.tokens = s.tokens.addingReportingOverflow(b.tokens ?? 0).partialValue
            s.names.append(what)
            childSums[pname] = s
        }
        for (gi, g) in w.groups.enumerated() { if let b = g.budget { visit(b, "group `\(g.name.text)`", group: w.groups[gi].parent) } }
        for i in w.tasks.indices { if let b = w.tasks[i].budget { visit(b, "task `\(w.tasks[i].name.text)`", group: w.tasks[i].group) } }
        for (pname, s) in childSums.sorted(by: { $0.value.parent.span < $1.value.parent.span }) where s.names.count > 1 {
            if let pm = s.parent.money, s.money > pm {
                report(error("E0600", "budgets inside \(pname) add up to \(fmtMoney(s.money)), more than its \(fmtMoney(pm))", s.parent.moneySpan ?? s.parent.span,
                             notes: ["children with budgets: " + s.names.joined(separator: ", ")],
                             help: "raise the parent's `money` or lower the children's"))
            }
            if let pt = s.parent.tokens, s.tokens > pt {
                report(error("E0600", "budgets inside \(pname) add up to \(fmtTokens(s.tokens)), more than its \(fmtTokens(pt))", s.parent.tokensSpan ?? s.parent.span,
                             notes: ["children with budgets: " + s.names.joined(separator: ", ")],
                             help: "raise the parent's `tokens` or lower the children's"))
            }
        }
        var costs: [CostKey: (Int64, String)?] = [:]
        for i in w.tasks.indices { checkRetryWorstCase(w.tasks[i], w, &costs) }
    }

    /// Everything `attemptCost` reads from a task: tasks that agree on it cost the same,
    /// so each distinct combination is priced (and its explanation built) once.
    struct CostKey: Hashable {
        var maxCost: Int64?
        var pinned: DeclID?
        var role: DeclID?
        var action: String
        var needs: [String]
        var timeoutMs: Int64?
        var maxTokens: Int64?
    }

    mutating func compare(_ child: Int64?, _ cs: Span?, _ parent: Int64?, _ ps: Span?, _ what: String, _ pname: String, _ fmt: (Int64) -> String) {
        guard let c = child, let p = parent, let cs, c > p else { return }
        report(error("E0600", "\(what) has a budget of \(fmt(c)), more than \(pname)'s \(fmt(p))", cs,
                     secondary: ps.map { [Label($0, "\(pname)'s budget")] } ?? [],
                     help: "a child's budget must fit inside its parent's"))
    }

    /// Per-attempt money cap: `max_cost`, else what the pinned agent's cost model
    /// charges for one attempt that runs to its timeout and token cap.
    func attemptCost(_ t: TaskInfo, _ w: WorkflowContext) -> (Int64, String)? {
        if let c = t.maxCost { return (c, "`max_cost` \(fmtMoney(c))") }
        if let pinned = t.agent { return agentAttemptCost(t, pinned.id) }
        // Unpinned: the selector may pick any agent the task's role allows, so the
        // worst case is the dearest of them. Unknown when any of them cannot be priced.
        let allowed = t.role.map { effective($0.id).agents }
        var worst: (Int64, String)?
        for id in candidates(t, w) where allowed?.contains(id) ?? true {
            guard let c = agentAttemptCost(t, id) else {
                if let a = agents[id], a.costPerCall == 0 && a.costPerSecond == 0 && a.costPer1kTokens == 0 { continue }
                return nil
            }
            if worst == nil || c.0 > worst!.0 { worst = c }
        }
        return worst.map { ($0.0, $0.1 + " (the dearest agent that may run it)") }
    }

    /// One attempt that runs to its timeout and token cap on agent `id`.
    func agentAttemptCost(_ t: TaskInfo, _ id: DeclID) -> (Int64, String)? {
        guard let a = agents[id] else { return nil }
        var total = a.costPerCall
        var parts: [String] = a.costPerCall > 0 ? ["\(fmtMoney(a.costPerCall)) per call"] : []
        if a.costPerSecond > 0 {
            guard let to = t.timeoutMs else { return nil }
            total += a.costPerSecond * (to / 1000)
            parts.append("\(fmtMoney(a.costPerSecond))/s × \(to / 1000)s")
        }
        if a.costPer1kTokens > 0 {
            guard let mt = t.maxTokens else { return nil }
            total += a.costPer1kTokens * mt / 1000
            parts.append("\(fmtMoney(a.costPer1kTokens))/1k × \(fmtTokens(mt))")
        }
        return parts.isEmpty ? nil : (total, "agent `\(id.name)`: " + parts.joined(separator: " + "))
    }

    /// E0601: attempts × per-attempt cap (plus backoff, for time) must fit the budget
    /// the task answers to.
    mutating func checkRetryWorstCase(_ t: TaskInfo, _ w: WorkflowContext, _ costs: inout [CostKey: (Int64, String)?]) {
        // The budget and every text below are only needed when something is reported.
        let b: BudgetInfo
        let bnameOwn: Bool
        let parent: (BudgetInfo, String)?
        if let own = t.budget {
            b = own
            bnameOwn = true
            parent = nil
        } else if let p = parentBudget(group: t.group, w) {
            b = p.0
            bnameOwn = false
            parent = p
        } else { return }
        var bname: String { bnameOwn ? "its budget" : "\(parent!.1)'s budget" }
        let attempts = t.retry?.attempts ?? 1
        var attemptsText: String { "\(attempts) attempt\(attempts == 1 ? "" : "s")" }
        let anchor = t.name.span
        var ruleLabel: [Label] { t.retry.map { [Label($0.attemptsSpan ?? $0.span, "retry rule allows \(attemptsText)")] } ?? [] }
        if let limit = b.money {
            let key = CostKey(maxCost: t.maxCost, pinned: t.maxCost == nil ? t.agent?.id : nil,
                              role: t.maxCost == nil && t.agent == nil ? t.role?.id : nil,
                              action: t.maxCost == nil && t.agent == nil ? t.action : "",
                              needs: t.maxCost == nil && t.agent == nil ? t.needs : [],
                              timeoutMs: t.maxCost == nil ? t.timeoutMs : nil, maxTokens: t.maxCost == nil ? t.maxTokens : nil)
            let cost: (Int64, String)?
            if let c = costs[key] { cost = c } else {
                cost = attemptCost(t, w)
                costs[key] = cost
            }
            if let (per, why) = cost {
                let worst = per.multipliedReportingOverflow(by: attempts)
                if worst.overflow || worst.partialValue > limit {
                    report(error("E0601", "worst case of task `\(t.name.text)` costs \(fmtMoney(worst.partialValue)), over \(bname) of \(fmtMoney(limit))", anchor,
                                 secondary: ruleLabel + (b.moneySpan.map { [Label($0, "budget")] } ?? []),
                                 notes: ["\(attemptsText) × \(fmtMoney(per)) per attempt = \(fmtMoney(worst.partialValue)) > \(fmtMoney(limit))", "per attempt: \(why)"],
                                 help: "lower `attempts` or the per-attempt cost, or raise the budget"))
                }
            }
        }
        if let limit = b.tokens, let per = t.maxTokens {
            let worst = per.multipliedReportingOverflow(by: attempts)
            if worst.overflow || worst.partialValue > limit {
                report(error("E0601", "worst case of task `\(t.name.text)` uses \(fmtTokens(worst.partialValue)), over \(bname) of \(fmtTokens(limit))", anchor,
                             secondary: ruleLabel + (b.tokensSpan.map { [Label($0, "budget")] } ?? []),
                             notes: ["\(attemptsText) × \(fmtTokens(per)) (`max_tokens`) = \(fmtTokens(worst.partialValue)) > \(fmtTokens(limit))"],
                             help: "lower `attempts` or `max_tokens`, or raise the budget"))
            }
        }
        if let limit = b.timeMs, let worst = CriticalPath.worstTime(t), worst > limit {
            let back = t.retry?.backoffTotalMs ?? 0
            report(error("E0601", "worst case of task `\(t.name.text)` takes \(fmtDuration(worst)), over \(bname) of \(fmtDuration(limit))", anchor,
                         secondary: ruleLabel + (b.timeSpan.map { [Label($0, "budget")] } ?? []),
                         notes: ["\(attemptsText) × \(fmtDuration(t.timeoutMs ?? 0)) timeout" + (back > 0 ? " + \(fmtDuration(back)) backoff" : "") + " = \(fmtDuration(worst)) > \(fmtDuration(limit))"],
                         help: "lower `attempts` or `timeout`, cap the backoff with `max_delay`, or raise the budget"))
        }
    }
}
