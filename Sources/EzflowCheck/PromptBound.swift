// What the budget proofs count of a `prompt:` attempt's input, as the runtime measures it
// (`LLMPrompt.bound(task:types:)`): the prompt, the system prompt, the messages and the
// JSON schema of the declared outputs. Literal text counts its UTF-8 bytes; a part that
// interpolates run-time values makes the figure unknown ("at least", docs/BUDGETS.md).
import EzflowIR
import EzflowSyntax

extension WorkflowChecker {
    /// The tokens one attempt of prompt task `t` sends when all of its input is literal
    /// (a token is at least one byte); nil when some of it is known only at run time.
    static func promptInputBound(_ t: TaskInfo) -> Int64? {
        guard var n = promptBound(t.actionValue) else { return nil }
        if let s = t.systemValue {
            guard let b = promptBound(s) else { return nil }
            n = sat(n, b)
        }
        if let m = t.messagesValue {
            guard let b = literalMessagesBytes(m) else { return nil }
            n = sat(n, b)
        }
        if let schema = outputSchema(t) { n = sat(n, Int64(CanonicalJSON.encode(schema).count)) }
        return n
    }

    /// What `promptInputBound` counted, for the proof's explanation: "its text is" for a
    /// bare prompt.
    static func inputWords(_ t: TaskInfo) -> String {
        var parts = ["prompt"]
        if t.systemValue != nil { parts.append("`system`") }
        if t.messagesValue != nil { parts.append("`messages`") }
        if outputSchema(t) != nil { parts.append("output schema") }
        guard parts.count > 1 else { return "its text is" }
        return "its " + parts.dropLast().joined(separator: ", ") + " and " + parts.last! + " are"
    }

    /// The bytes of a literal message list's contents; nil when it is not all literal.
    static func literalMessagesBytes(_ e: Expr) -> Int64? {
        guard case .list(let items) = e.kind else { return nil }
        var n: Int64 = 0
        for i in items {
            guard case .record(let entries) = i.kind, let c = entries.first(where: { $0.key.text == "content" }),
                  let b = promptBound(c.value) else { return nil }
            n = sat(n, b)
        }
        return n
    }

    /// The schema the runtime sends for `t`'s declared outputs (`OutputSchema`, the one
    /// builder); nil when it declares none.
    static func outputSchema(_ t: TaskInfo) -> JSONValue? {
        let fields = t.outputs.filter { !OutputSchema.implicitNames.contains($0.key) }
            .map { OutputField(name: $0.key, type: $0.value.outputType) }
            .sorted { JSONValue.keyLess($0.name, $1.name) }
        return fields.isEmpty ? nil : OutputSchema.schema(.record(name: nil, fields: fields))
    }
}

extension Ty {
    /// The type as the IR's output types read it back (`OutputType(ir:types:)`).
    var outputType: OutputType {
        switch self {
        case .string, .path: .string
        case .file: .file
        case .int: .int
        case .float: .float
        case .bool: .bool
        case .duration, .money, .tokens: .unit(description)
        case .list(let e): .list(e.outputType)
        case .map(let e): .map(e.outputType)
        case .optional(let e): .optional(e.outputType)
        case .record(let r):
            .record(name: r.name, fields: r.fields.map { OutputField(name: $0.key, type: $0.value.outputType) }
                .sorted { JSONValue.keyLess($0.name, $1.name) })
        case .enumeration(let name, let cases): .enumeration(name: name, cases: cases)
        case .json, .null, .nothing, .error: .json
        }
    }
}
