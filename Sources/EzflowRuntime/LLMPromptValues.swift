// The prompt a `prompt:` task will send, measured by the core before it dispatches: the
// attempt reserves `bound + max_tokens`, so `max_tokens` is the completion cap it means in
// every API (docs/DRIVERS.md, "The token cap").
import EzflowIR

extension RunState {
    /// The prompt plan task `t` sends, rendered from the state exactly as the llm driver
    /// renders it (`LLMPrompt.render`); nil when `t` is no `prompt:` task or its prompt
    /// cannot be rendered here — it reads a secret, which the core never holds, or a value
    /// that is not there (the driver fails that attempt before sending anything).
    public func llmPrompt(_ t: Int) -> LLMPrompt? {
        guard plan.capsTokens(task: t), t < plan.taskJSON.count else { return nil }
        return try? LLMPrompt.render(task: plan.taskJSON[t], in: reader(for: t))
    }

    /// The sound token bound of `t`'s input: its prompt (system prompt and messages
    /// included) and the schema of its declared outputs, `LLMPrompt.bound(task:types:)` as
    /// the driver measures it (0 when the core cannot render it: the driver then measures
    /// it alone, and the completion it sends shrinks by it).
    public func llmPromptBound(_ t: Int) -> Int64 {
        llmPrompt(t)?.bound(task: plan.taskJSON[t], types: plan.types(ofTask: t)) ?? 0
    }
}

extension Plan {
    /// The named types (`types`) of the workflow scope plan task `t` belongs to: what its
    /// declared outputs' types refer to.
    public func types(ofTask t: Int) -> JSONValue? {
        let w = scope(ofTask: t)
        return w < workflowJSON.count ? workflowJSON[w]["types"] : nil
    }
}
