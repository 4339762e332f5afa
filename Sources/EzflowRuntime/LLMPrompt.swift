// What an `llm` attempt sends as its prompt, and the sound bound on its tokens, in one
// place: the core reserves `bound + max_tokens` at dispatch (Core.reservation) and the
// llm driver sends `max_tokens = cap − bound`, so both must compute the same bound from
// the same rendered text (docs/DRIVERS.md, "The token cap").
import EzflowIR

/// One message of a model call: `system`, `user` or `assistant`, and its text.
public struct LLMMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// The format-neutral prompt of one attempt: an optional system prompt and the message
/// list, the task's rendered `prompt:` last.
public struct LLMPrompt: Sendable, Equatable {
    public var system: String?
    public var messages: [LLMMessage]

    public init(system: String? = nil, messages: [LLMMessage]) {
        self.system = system
        self.messages = messages
    }

    /// The prompt as JSON: `[{"content","role"}…]`, the system prompt first as a
    /// `system` message (what the bound is measured on, whatever the wire format).
    public var json: JSONValue {
        var list: [JSONValue] = []
        if let system { list.append(.object([("content", .string(system)), ("role", .string("system"))])) }
        for m in messages { list.append(.object([("content", .string(m.content)), ("role", .string(m.role))])) }
        return .array(list)
    }

    /// A sound bound on the prompt's tokens: the UTF-8 bytes of `json` plus `extra`
    /// (a structured output's schema, also sent as input). Every real tokenizer spends at
    /// least one byte per token, and the JSON framing of each message outweighs the chat
    /// template's.
    public func bound(extra: JSONValue? = nil) -> Int64 {
        var n = Int64(CanonicalJSON.encode(json).count)
        if let extra { n += Int64(CanonicalJSON.encode(extra).count) }
        return n
    }
}

extension LLMPrompt {
    /// The prompt of `prompt:` task `task` (its IR object) rendered over `env`: the core
    /// measures it at dispatch (`RunState.llmPrompt`), the llm driver sends it, so the two
    /// bounds are one computation.
    public static func render(task: JSONValue, in env: some ExprEnvironment) throws(ExprError) -> LLMPrompt {
        guard case .array(let parts)? = task["template"] else { throw ExprError("the task has no prompt") }
        let text = try IRExpr.render(parts, in: env)
        return LLMPrompt(messages: [LLMMessage(role: "user", content: text)])
    }
}
