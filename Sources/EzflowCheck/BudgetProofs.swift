import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits

/// What one task can spend, per instance, in the figures the runtime reserves
/// (`Reservation`): the input of every budget proof.
struct TaskCost {
    /// `for_each` instances; nil when the list is only known when the run starts.
    var instances: Int64?
    var attempts: Int64
    /// Reservation of one attempt on the dearest agent it may run on; nil when it is
    /// not bounded (an agent bills per second or per token with no cap).
    var money: Int64?
    var moneyWhy: String
    /// One more attempt on a `catch` agent, and its reservation.
    var catchMoney: Int64?
    var catchWhy = ""
    /// The first attempt's reservation on the cheapest agent, and its per-call price:
    /// what even a first-time success needs.
    var firstReserve: Int64
    var minCharge: Int64
    var tokens: Int64
    /// Tokens one attempt's prompt can hold: 0 without a prompt, its UTF-8 byte length
    /// when its text is all literal (a token is at least one byte), nil when it
    /// interpolates run-time values (the runtime bounds it before sending).
    var promptTokens: Int64? = 0
    /// Money the prompt's tokens add to one attempt on the agent that prices tokens
    /// dearest (0 when no agent prices tokens or `max_cost` holds the attempt).
    var promptMoney: Int64 = 0
    var promptMoneyWhy = ""
    /// Whether an agent that may run it prices the prompt's tokens (and no `max_cost`
    /// holds the attempt): an interpolated prompt then leaves money uncounted.
    var promptPriced = false
    var required: Bool
    var nested: Bool
    /// A loop body task's `max` (its instances count every iteration), else 1.
    var loopFactor: Int64 = 1
}

/// What one attempt of a task reserves before dispatch, as the checker counts it (the
/// runtime's `Plan.worstCostMicros`/`worstTokens` read the same `Reservation`).
public struct AttemptReservation: Sendable, Equatable {
    /// On the dearest agent the task may run on; nil when not bounded.
    public var moneyWorstMicros: Int64?
    /// On the cheapest: what the first attempt needs at least.
    public var moneyFirstMicros: Int64
    public var tokens: Int64
    /// On the `catch` agent, when the task has one.
    public var catchAgentMicros: Int64?
    /// Tokens its prompt can hold (counted with `tokens`); nil: the prompt interpolates
    /// run-time values, so only the runtime can bound it.
    public var promptTokens: Int64? = 0
    /// Money the prompt's tokens add to one attempt (see `TaskCost.promptMoney`).
    public var promptMicros: Int64 = 0
    /// Attempts its retry rule allows, and `for_each` instances (nil: known at run start).
    public var attempts: Int64 = 1
    public var instances: Int64? = 1
}

/// One line of a sum: `count` task instances × `attempts` attempts × `per`.
struct SumTerm {
    var count: Int64
    var attempts: Int64
    var per: Int64
    var what: String
    var names: [String] = []
    /// The task of a term that stands for one task alone (for its label), else nil.
    var task: Int?
    /// What one attempt's figure is made of (the first task's, when several agree).
    var why = ""
    /// A child budget's cap stands for its tasks.
    var cap: String?
    var value: Int64 { cap != nil ? per : sat(sat(count, attempts, mul: true), per, mul: true) }
}

func sat(_ a: Int64, _ b: Int64, mul: Bool = false) -> Int64 { mul ? Reservation.mul(a, b) : Reservation.add(a, b) }

/// A bound with what reporting it needs.
struct ProvenBound {
    var proof: BudgetProof
    var spans: [BudgetBound.Dimension: Span]
    var labels: [BudgetBound.Dimension: [Label]]
}

extension WorkflowChecker {
    /// The bounds of every budget (workflow, groups, tasks; money, tokens, time) and of the
    /// deadline. See docs/BUDGETS.md for what is counted and why.
    func proveBudgets(_ w: WorkflowContext) -> ([ProvenBound], [TaskCost]) {
        var costs: [TaskCost] = []
        costs.reserveCapacity(w.tasks.count)
        var priced: [CostKey: (Int64?, String, Int64, Int64)] = [:]
        for t in w.tasks { costs.append(taskCost(t, w, &priced)) }
        // A task a condition may skip is not required: the best case never counts it.
        for (i, skippable) in Self.mayBeSkipped(w).enumerated() where skippable { costs[i].required = false }
        let order = topologicalOrder(w)
        var out: [ProvenBound] = []
        if w.budget != nil || w.deadlineMs != nil {
            out.append(prove(scope: "the workflow", w.budget, members: nil, group: -1, deadline: w.deadlineMs.map { ($0, w.deadlineSpan!) },
                             w, costs, order))
        }
        for (gi, g) in w.groups.enumerated() where g.budget != nil {
            var inside = [Bool](repeating: false, count: w.tasks.count)
            for t in groupTasks(gi, w) { inside[t] = true }
            out.append(prove(scope: "group `\(g.name.text)`", g.budget, members: inside, group: gi, deadline: nil, w, costs, order))
        }
        // A task's budget looks at the task alone: no scan of the workflow per task budget.
        for t in w.tasks where t.budget != nil {
            out.append(prove(scope: "task `\(t.name.text)`", t.budget, members: nil, group: -2 - t.id, deadline: nil, w, costs, order))
        }
        return (out, costs)
    }

    /// Everything `attemptCost` reads from a task: tasks that agree on it cost the same,
    /// so each distinct combination is priced once.
    struct CostKey: Hashable {
        var maxCost: Int64?
        var pinned: DeclID?
        var role: DeclID?
        var action: String
        var needs: [String]
        var timeoutMs: Int64?
        var maxTokens: Int64?
        /// The task's `model`: an agent's `prices` entry for it sets the token price.
        var model: String?
    }

    func taskCost(_ t: TaskInfo, _ w: WorkflowContext, _ priced: inout [CostKey: (Int64?, String, Int64, Int64)]) -> TaskCost {
        var instances: Int64? = 1
        if t.forEach != nil {
            if let m = t.matrix { instances = Int64(m.cells.count) }
            else if let n = t.maxItems { instances = n }  // a dynamic fan-out counts at its maximum
            else if let fe = t.forEachValue, case .list(let items) = fe.kind { instances = Int64(items.count) } else { instances = nil }
        }
        var c = TaskCost(instances: instances, attempts: t.maxAttempts, money: 0, moneyWhy: "", catchMoney: nil,
                         firstReserve: 0, minCharge: 0, tokens: Reservation.tokens(maxTokens: t.maxTokens),
                         promptTokens: t.action == "prompt" ? Self.promptInputBound(t) : 0,
                         // A dynamic fan-out may run no instance (an empty list), an undo runs only
                         // after a failure: never in the best case.
                         required: !t.isFallback && t.maxItems == nil && t.compensates == nil, nested: t.action == "workflow")
        if t.loopFactor > 1 {
            c.loopFactor = t.loopFactor
            c.instances = c.instances.map { sat($0, t.loopFactor, mul: true) }
        }
        if c.nested { c.tokens = 0 }
        guard !c.nested else { return c }
        let key = CostKey(maxCost: t.maxCost, pinned: t.agent?.id, role: t.agent == nil ? t.role?.id : nil, action: t.action,
                          needs: t.agent == nil ? t.needs : [], timeoutMs: t.timeoutMs, maxTokens: t.maxTokens, model: t.model)
        let p: (Int64?, String, Int64, Int64)
        if let known = priced[key] { p = known } else {
            p = attemptCost(t, w)
            priced[key] = p
        }
        (c.money, c.moneyWhy, c.firstReserve, c.minCharge) = p
        if case .agent(let id)? = t.fallback, let a = agents[id] {
            let r = rates(a, model: t.model)
            c.catchWhy = priceWhy(t, id)
            c.catchMoney = Reservation.bounded(maxCostMicros: t.maxCost, agent: r, timeoutMs: t.timeoutMs, maxTokens: t.maxTokens)
                ? Reservation.moneyMicros(maxCostMicros: t.maxCost, agent: r, timeoutMs: t.timeoutMs, maxTokens: t.maxTokens) : nil
        }
        guard t.action == "prompt", t.maxCost == nil, dearestTokenPrice(t, w) != nil else { return c }
        c.promptPriced = true
        if let p = c.promptTokens, p > 0 { (c.promptMoney, c.promptMoneyWhy) = promptMoney(t, w, prompt: p) }
        return c
    }

    /// What the prompt's `p` tokens add to one attempt's reservation on the agent where
    /// they cost most (the runtime reserves `Reservation.moneyMicros` with the prompt's
    /// bound), and why: with one price per token, the thousands they add to `max_tokens`;
    /// with input/output prices, the prompt's thousands at the input price.
    func promptMoney(_ t: TaskInfo, _ w: WorkflowContext, prompt p: Int64) -> (Int64, String) {
        var ids = agentPool(t, w)
        if case .agent(let id)? = t.fallback { ids.append(id) }
        let cap = t.maxTokens ?? 0
        var best: (Int64, DeclID, Reservation.Rates)?
        for id in ids {
            guard let a = agents[id] else { continue }
            let r = rates(a, model: t.model)
            let more = Reservation.moneyMicros(maxCostMicros: nil, agent: r, timeoutMs: nil, maxTokens: cap, promptTokens: p)
                - Reservation.moneyMicros(maxCostMicros: nil, agent: r, timeoutMs: nil, maxTokens: cap)
            if more > (best?.0 ?? 0) { best = (more, id, r) }
        }
        guard let (money, id, r) = best else { return (0, "") }
        if r.split {
            let per1k = sat(r.per1kTokensMicros, r.per1kInputMicros)
            return (money, "agent `\(id.name)`: \(fmtMoney(per1k))/1k input × \(Reservation.wholeUnits(p))k: \(fmtTokens(p)) of prompt, in whole thousands")
        }
        let more = Reservation.wholeUnits(sat(cap, p)) - Reservation.wholeUnits(cap)
        return (money, "agent `\(id.name)`: \(fmtMoney(r.per1kTokensMicros))/1k × \(more)k more: `max_tokens` \(fmtTokens(cap)) + \(fmtTokens(p)) of prompt, in whole thousands")
    }

    /// The tokens a prompt can hold when its text is all literal: its UTF-8 byte length
    /// (a token is at least one byte, the runtime's assumption too); nil when it
    /// interpolates values known only at run time.
    static func promptBound(_ e: Expr?) -> Int64? {
        guard case .string(let parts)? = e?.kind else { return nil }
        var n: Int64 = 0
        for p in parts {
            guard case .text(let s) = p else { return nil }
            n = sat(n, Int64(s.utf8.count))
        }
        return n
    }

    /// The highest per-1k-tokens price among the agents that may run `t` (its `catch`
    /// agent too), and that agent; nil when none prices tokens.
    func dearestTokenPrice(_ t: TaskInfo, _ w: WorkflowContext) -> (Int64, DeclID)? {
        var ids = agentPool(t, w)
        if case .agent(let id)? = t.fallback { ids.append(id) }
        var best: (Int64, DeclID)?
        for id in ids { if let a = agents[id], a.tokenRate(model: t.model) > (best?.0 ?? 0) { best = (a.tokenRate(model: t.model), id) } }
        return best
    }

    /// The agents the selector may pick for `t`: its pinned agent, else every candidate
    /// its role allows.
    func agentPool(_ t: TaskInfo, _ w: WorkflowContext) -> [DeclID] {
        var pool: [DeclID]
        if let pinned = t.agent { pool = [pinned.id] } else {
            let allowed = t.role.map { effective($0.id).agents }
            pool = candidates(t, w).filter { allowed?.contains($0) ?? true }
        }
        return pool.filter { agents[$0] != nil }
    }

    /// An agent's prices for a task asking for `model` (its `prices` entry, else the
    /// agent's input/output prices), as the runtime's `Plan.rates` gives them.
    func rates(_ a: AgentInfo, model: String?) -> Reservation.Rates {
        let (i, o) = a.splitPrices(model: model)
        return Reservation.Rates(perCallMicros: a.costPerCall, perSecondMicros: a.costPerSecond, per1kTokensMicros: a.costPer1kTokens,
                                 per1kInputMicros: i, per1kOutputMicros: o)
    }

    /// One attempt's reservation on the dearest agent the task may run on (nil: not
    /// bounded), why, the first attempt's reservation on the cheapest, and the cheapest
    /// per-call price.
    func attemptCost(_ t: TaskInfo, _ w: WorkflowContext) -> (Int64?, String, Int64, Int64) {
        let pool = agentPool(t, w)
        func reserve(_ id: DeclID?) -> Int64 {
            Reservation.moneyMicros(maxCostMicros: t.maxCost, agent: id.flatMap { agents[$0] }.map { rates($0, model: t.model) }, timeoutMs: t.timeoutMs, maxTokens: t.maxTokens)
        }
        if pool.isEmpty {
            let r = reserve(nil)
            return (r, t.maxCost != nil ? "`max_cost` \(fmtMoney(r))" : "no agent: the shell runs it", r, 0)
        }
        var worst: (Int64, DeclID)?
        var unbounded: DeclID?
        var first = Int64.max, call = Int64.max
        for id in pool {
            let r = rates(agents[id]!, model: t.model)
            if !Reservation.bounded(maxCostMicros: t.maxCost, agent: r, timeoutMs: t.timeoutMs, maxTokens: t.maxTokens) { unbounded = unbounded ?? id }
            let v = reserve(id)
            if worst == nil || v > worst!.0 { worst = (v, id) }
            first = min(first, v)
            call = min(call, r.perCallMicros)
        }
        if let u = unbounded {
            let a = agents[u]!
            let why = a.costPerSecond > 0 && (t.timeoutMs ?? 0) <= 0 ? "bills per second and the task has no `timeout`" : "bills per token and the task has no `max_tokens`"
            return (nil, "agent `\(u.name)` \(why)", first, call)
        }
        let (v, id) = worst!
        if t.maxCost != nil { return (v, "`max_cost` \(fmtMoney(v))", first, call) }
        return (v, priceWhy(t, id) + (t.agent == nil && pool.count > 1 ? " (the dearest agent that may run it)" : ""), first, call)
    }

    /// `` agent `gpu`: $0.005/s × 1200s ``: what one attempt of `t` on agent `id` reserves.
    func priceWhy(_ t: TaskInfo, _ id: DeclID) -> String {
        guard t.maxCost == nil else { return "`max_cost` \(fmtMoney(t.maxCost!))" }
        guard let a = agents[id] else { return "agent `\(id.name)`" }
        var parts: [String] = a.costPerCall > 0 ? ["\(fmtMoney(a.costPerCall)) per call"] : []
        if a.costPerSecond > 0 { parts.append("\(fmtMoney(a.costPerSecond))/s × \(Reservation.wholeUnits(t.timeoutMs ?? 0))s") }
        let r = rates(a, model: t.model)
        if r.split {
            let model = t.model ?? a.model
            let of = (a.prices ?? []).contains(where: { $0.model == model }) ? " (`\(model!)`)" : ""
            parts.append("\(fmtMoney(sat(r.per1kTokensMicros, r.per1kOutputMicros)))/1k output\(of) × \(fmtTokens(t.maxTokens ?? 0))")
        } else if r.per1kTokensMicros > 0 {
            parts.append("\(fmtMoney(r.per1kTokensMicros))/1k × \(fmtTokens(t.maxTokens ?? 0))")
        }
        return "agent `\(id.name)`: " + (parts.isEmpty ? "free" : parts.joined(separator: " + "))
    }
}
