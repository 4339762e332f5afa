import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// E0608: a `prompt:` task without `max_tokens` under a budget in tokens, or in money
    /// with an agent that prices tokens. The server may then answer with any number of
    /// tokens, so no proof can bound the budget's worst case.
    mutating func checkCompletionCaps(_ w: WorkflowContext) {
        for t in w.tasks where t.action == "prompt" && t.temperaturePPM != nil { checkAnthropicTemperature(t, w) }
        for t in w.tasks where t.action == "prompt" && t.maxTokens == nil {
            guard let (b, owner, tokens) = uncappedBudget(t, w) else { checkAnthropicCap(t, w); continue }
            let span = tokens ? b.tokensSpan! : b.moneySpan!
            let suggested = suggestedCap(t, w)
            let priced = tokens ? nil : dearestTokenPrice(t, w)
            var notes = ["the server may answer with as many tokens as it likes, so the worst case of \(owner)'s \(tokens ? "tokens" : "money") has no bound"]
            if let (per1k, id) = priced { notes.append("agent `\(id.name)` bills \(fmtMoney(per1k)) per 1k tokens") }
            notes.append("the runtime reserves the prompt's bound plus `max_tokens` per attempt before it starts, and fails an attempt whose reply goes over `max_tokens`")
            var d = error("E0608", "`llm` task `\(t.name.text)` has no `max_tokens` under a budget in \(tokens ? "tokens" : "money")", t.name.span,
                          label: "no `max_tokens`", secondary: [Label(span, "\(owner)'s budget")], notes: notes,
                          help: "add `max_tokens: \(suggested)` to task `\(t.name.text)`, the most tokens one reply may use")
            if let fix = capFix(t, suggested) { d = d.fixing(fix) }
            report(d)
        }
    }

    /// An agent with `format: anthropic` that may run `t` (its `catch` agent too).
    func anthropicAgent(_ t: TaskInfo, _ w: WorkflowContext) -> DeclID? {
        var ids = agentPool(t, w)
        if case .agent(let id)? = t.fallback { ids.append(id) }
        return ids.first(where: { agents[$0]?.format == "anthropic" && agents[$0]?.driver == "llm" })
    }

    /// E0610: `temperature` on a `prompt:` task that may run on an agent with `format:
    /// anthropic`: the Messages API's request has no `temperature` (its official SDK's
    /// type has none), so the driver would refuse every attempt.
    mutating func checkAnthropicTemperature(_ t: TaskInfo, _ w: WorkflowContext) {
        guard let id = anthropicAgent(t, w), let a = t.block.attribute("temperature") else { return }
        report(error("E0610", "`llm` task `\(t.name.text)` sets `temperature` but may run on agent `\(id.name)`, which speaks the Anthropic format",
                     a.value.span, label: "not sent in the Anthropic format",
                     secondary: agents[id].map { [Label($0.name.span, "`format: anthropic` agent")] } ?? [],
                     notes: ["the Anthropic Messages API's request has no `temperature`; an attempt with one fails `config_error` before it is sent"],
                     help: "remove `temperature` from task `\(t.name.text)`, or run it on an agent with `format: openai`"))
    }

    /// E0609: a `prompt:` task without `max_tokens` that may run on an agent with
    /// `format: anthropic`: the Messages API requires `max_tokens` on every request.
    /// (Under a budget E0608 says it already.)
    mutating func checkAnthropicCap(_ t: TaskInfo, _ w: WorkflowContext) {
        guard let id = anthropicAgent(t, w) else { return }
        var d = error("E0609", "`llm` task `\(t.name.text)` has no `max_tokens` but may run on agent `\(id.name)`, which speaks the Anthropic format",
                      t.name.span, label: "no `max_tokens`",
                      secondary: agents[id].map { [Label($0.name.span, "`format: anthropic` agent")] } ?? [],
                      notes: ["the Anthropic Messages API requires `max_tokens` on every request"],
                      help: "add `max_tokens: 4k tokens` to task `\(t.name.text)`, the most tokens one reply may use")
        if let fix = capFix(t, "4k tokens") { d = d.fixing(fix) }
        report(d)
    }

    /// The nearest budget over `t` (its own, its groups', the workflow's) that an uncapped
    /// reply can overrun, its owner, and whether it is the tokens limit (else money).
    func uncappedBudget(_ t: TaskInfo, _ w: WorkflowContext) -> (BudgetInfo, String, Bool)? {
        let chain = budgetChain(t, w)
        if let (b, o) = chain.first(where: { $0.0.tokens != nil && $0.0.tokensSpan != nil }) { return (b, o, true) }
        guard dearestTokenPrice(t, w) != nil, let (b, o) = chain.first(where: { $0.0.money != nil && $0.0.moneySpan != nil }) else { return nil }
        return (b, o, false)
    }

    /// Every budget over `t`, innermost first (its own, its groups', the workflow's), with
    /// its owner's name.
    func budgetChain(_ t: TaskInfo, _ w: WorkflowContext) -> [(BudgetInfo, String)] {
        var chain: [(BudgetInfo, String)] = t.budget.map { [($0, "task `\(t.name.text)`")] } ?? []
        var g = t.group
        while let gi = g {
            if let b = w.groups[gi].budget { chain.append((b, "group `\(w.groups[gi].name.text)`")) }
            g = w.groups[gi].parent
        }
        if let b = w.budget { chain.append((b, "the workflow")) }
        return chain
    }

    /// 4k tokens, or less when the tightest token budget over `t` cannot hold that and the
    /// prompt for every attempt.
    func suggestedCap(_ t: TaskInfo, _ w: WorkflowContext) -> String {
        let limits = budgetChain(t, w).compactMap(\.0.tokens)
        let attempts = max(1, t.maxAttempts)
        let prompt = Self.promptInputBound(t) ?? 0
        let fit = limits.map { $0 / attempts - prompt }.min() ?? 4000
        let cap = max(1, min(4000, fit >= 1000 ? fit / 1000 * 1000 : fit))
        return fmtTokens(cap)
    }

    /// Inserts `max_tokens` after the `prompt:` line (on the same line in a one-line block).
    /// Only for `.ezflow` files: a YAML file's spans are not ezflow syntax.
    func capFix(_ t: TaskInfo, _ cap: String) -> Fix? {
        guard let p = t.block.attribute("prompt") else { return nil }
        let file = sources[p.span.file]
        guard file.path.hasSuffix(".ezflow") else { return nil }
        let at = Span(file: p.span.file, start: p.span.end, end: p.span.end)
        let start = file.position(of: p.span.start)
        let oneLine = file.position(of: t.block.span.end).line == start.line
        let text = oneLine ? ", max_tokens: \(cap)" : "\n" + String(repeating: " ", count: start.column - 1) + "max_tokens: \(cap)"
        return Fix("add `max_tokens: \(cap)`", [TextEdit(at, text)])
    }
}
