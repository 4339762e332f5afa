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

    /// E0608 (an `llm` task without a completion cap), E0600 (limits of children against their parent), then the proofs of every budget
    /// and the deadline (`proveBudgets`), reported by `reportProofs`.
    mutating func checkBudgets(_ w: inout WorkflowContext) {
        checkCompletionCaps(w)
        // Each child fits its parent, and children's money and tokens add up within it.
        var childSums: [String: (money: Int64, tokens: Int64, parent: BudgetInfo, names: [String])] = [:]
        // A limit already reported by E0600 is not reported again by its proof.
        var limitReported: Set<String> = []
        func visit(_ b: BudgetInfo, _ what: String, group: Int?) {
            guard let (p, pname) = parentBudget(group: group, w) else { return }
            if compare(b.money, b.moneySpan, p.money, p.moneySpan, what, pname, fmtMoney) { limitReported.insert(pname + "|money") }
            if compare(b.tokens, b.tokensSpan, p.tokens, p.tokensSpan, what, pname, fmtTokens) { limitReported.insert(pname + "|tokens") }
            if compare(b.timeMs, b.timeSpan, p.timeMs, p.timeSpan, what, pname, fmtDuration) { limitReported.insert(pname + "|time") }
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
                limitReported.insert(pname + "|money")
                report(error("E0600", "budgets inside \(pname) add up to \(fmtMoney(s.money)), more than its \(fmtMoney(pm))", s.parent.moneySpan ?? s.parent.span,
                             notes: ["children with budgets: " + s.names.joined(separator: ", ")],
                             help: "raise the parent's `money` or lower the children's"))
            }
            if let pt = s.parent.tokens, s.tokens > pt {
                limitReported.insert(pname + "|tokens")
                report(error("E0600", "budgets inside \(pname) add up to \(fmtTokens(s.tokens)), more than its \(fmtTokens(pt))", s.parent.tokensSpan ?? s.parent.span,
                             notes: ["children with budgets: " + s.names.joined(separator: ", ")],
                             help: "raise the parent's `tokens` or lower the children's"))
            }
        }
        let (proofs, costs) = proveBudgets(w)
        reportProofs(proofs, w, skip: limitReported)
        w.proofs = proofs.map(\.proof)
        w.reservations = costs.map {
            AttemptReservation(moneyWorstMicros: $0.money, moneyFirstMicros: $0.firstReserve, tokens: $0.tokens, catchAgentMicros: $0.catchMoney,
                               promptTokens: $0.promptTokens, promptMicros: $0.promptMoney, attempts: $0.attempts, instances: $0.instances)
        }
    }

    /// Reports E0600 when the child's limit is above its parent's; returns whether it did.
    mutating func compare(_ child: Int64?, _ cs: Span?, _ parent: Int64?, _ ps: Span?, _ what: String, _ pname: String,
                          _ fmt: (Int64) -> String) -> Bool {
        guard let c = child, let p = parent, let cs, c > p else { return false }
        report(error("E0600", "\(what) has a budget of \(fmt(c)), more than \(pname)'s \(fmt(p))", cs,
                     secondary: ps.map { [Label($0, "\(pname)'s budget")] } ?? [],
                     help: "a child's budget must fit inside its parent's"))
        return true
    }
}

extension WorkflowChecker {
    /// Best case over a limit: E0606 (the run cannot succeed). Worst case only: W0601
    /// (W0600 for the deadline), an error (E0601, E0607) when the budget is `strict`.
    mutating func reportProofs(_ proofs: [ProvenBound], _ w: WorkflowContext, skip: Set<String>) {
        for p in proofs {
            let owner = p.proof.scope
            for b in p.proof.bounds where !skip.contains("\(owner)|\(b.dimension.rawValue)") {
                guard let span = p.spans[b.dimension] else { continue }
                let labels = p.labels[b.dimension] ?? []
                let fmt = { (v: Int64) in BudgetProof.fmt(v, b.dimension) }
                let verb = b.dimension == .money ? "costs" : b.dimension == .tokens ? "uses" : "takes"
                let notCounted = b.unknown.map { "not counted: \($0)" }
                if b.best > b.limit {
                    report(error("E0606", "best case of \(owner) \(verb) \(fmt(b.best)), over its budget of \(fmt(b.limit)): the run cannot succeed",
                                 span, label: "budget",
                                 notes: ["\(b.bestWhy) > \(fmt(b.limit))",
                                         b.bestWhy.hasPrefix("the first attempt")
                                            ? "the runtime reserves an attempt's worst case before it dispatches it, and ends the run with `budget_exceeded` when that can never fit"
                                            : "these are paid even if every attempt succeeds the first time and no fallback runs"],
                                 help: "raise the budget, or lower the price or `max_cost` of the tasks under it"))
                    continue
                }
                guard b.worst > b.limit else { continue }
                let atLeast = b.unknown.isEmpty ? "" : "at least "
                let notes = ["\(b.worstWhy) > \(fmt(b.limit))"] + b.worstDetail + notCounted
                if b.dimension == .deadline {
                    let msg = "critical path worst case \(atLeast)\(fmt(b.worst)) exceeds the deadline of \(fmt(b.limit))"
                    let help = "raise the deadline, shorten timeouts, or run these tasks in parallel"
                    report(b.strict
                        ? error("E0607", msg, span, label: "deadline", secondary: labels,
                                notes: notes + ["the workflow's budget is `strict: true`, which covers its deadline"], help: help)
                        : .warning("W0600", msg, at: span, label: "deadline", secondary: labels, notes: notes, help: help))
                    continue
                }
                let msg = "worst case of \(owner) \(verb) \(atLeast)\(fmt(b.worst)), over its budget of \(fmt(b.limit))"
                let help = switch b.dimension {
                case .money: "lower `attempts` or the per-attempt cost (`max_cost`, `timeout`), or raise the budget"
                case .tokens: "lower `attempts` or `max_tokens`, or raise the budget"
                case .time, .deadline: "lower `attempts` or `timeout`, cap the backoff with `max_delay`, run tasks in parallel, or raise the budget"
                }
                report(b.strict
                    ? error("E0601", msg, span, label: "budget", secondary: labels, notes: notes + ["the budget is `strict: true`"], help: help)
                    : .warning("W0601", msg, at: span, label: "budget", secondary: labels, notes: notes, help: help))
            }
        }
    }
}
