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
    /// The roles a message of `messages:` may take (the system prompt has its own field).
    public static let messageRoles: Set<String> = ["user", "assistant"]

    /// The prompt of `prompt:` task `task` (its IR object) rendered over `env`: its `system`
    /// rendered, its `messages` evaluated, its template rendered last as a `user` message.
    /// The core measures it at dispatch (`RunState.llmPrompt`), the llm driver sends it, so
    /// the two bounds are one computation. A message that is not `{role: user|assistant,
    /// content: string}` is an error (the checker sees only literal ones).
    public static func render(task: JSONValue, in env: some ExprEnvironment) throws(ExprError) -> LLMPrompt {
        guard case .array(let parts)? = task["template"] else { throw ExprError("the task has no prompt") }
        var system: String? = nil
        if case .array(let sp)? = task["system"] { system = try IRExpr.render(sp, in: env) }
        var messages: [LLMMessage] = []
        if let m = task["messages"] { messages = try Self.messages(IRExpr.evaluate(m, in: env)) }
        messages.append(LLMMessage(role: "user", content: try IRExpr.render(parts, in: env)))
        return LLMPrompt(system: system, messages: messages)
    }

    /// The bound of one attempt's input for `prompt:` task `task`: this prompt and the JSON
    /// schema of the task's declared outputs (`OutputSchema.of`, sent with it), whose named
    /// types are `types`. The core's reservation and the llm driver's `max_tokens` both
    /// come from here.
    public func bound(task: JSONValue, types: JSONValue?) -> Int64 {
        bound(extra: OutputSchema.of(task: task, types: types))
    }

    /// A `messages` value as messages, each checked.
    static func messages(_ v: JSONValue) throws(ExprError) -> [LLMMessage] {
        guard case .array(let items) = v else { throw ExprError("`messages` should be a list of {role, content} records, got \(v.typeName)") }
        var out: [LLMMessage] = []
        for (i, x) in items.enumerated() {
            guard case .string(let role)? = x["role"], messageRoles.contains(role) else {
                let got = x["role"].map { IRExpr.text($0) } ?? "none"
                throw ExprError("`messages[\(i)]`: a message's role must be `user` or `assistant`, found `\(got)`")
            }
            guard case .string(let content)? = x["content"] else { throw ExprError("`messages[\(i)]`: its `content` should be a string") }
            out.append(LLMMessage(role: role, content: content))
        }
        return out
    }

    /// The conversation to carry forward: the messages sent (the system prompt left out)
    /// and the assistant's `answer`, as a prompt task's output `messages`.
    public func conversation(answer: String) -> JSONValue {
        var list: [JSONValue] = messages.map { .object([("content", .string($0.content)), ("role", .string($0.role))]) }
        list.append(.object([("content", .string(answer)), ("role", .string("assistant"))]))
        return .array(list)
    }
}
