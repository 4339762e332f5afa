// The attributes of a `prompt:` task beyond its prompt: `system`, `messages`,
// `temperature`, `stop` (docs/DRIVERS.md, "The llm driver"). Their ranges and IR keys are
// in AttributeTable; what is checked here is what a range cannot say.
import EzflowAttributes
import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// The roles a message of `messages:` may take: the system prompt has its own attribute.
    static let messageRoles = ["user", "assistant"]

    /// `{role: string, content: string}`: one message, as `messages:` takes them and as a
    /// prompt task's implicit output `messages` holds them.
    static let messageType = Ty.record(RecordType(name: nil, fields: ["role": .string, "content": .string], order: ["role", "content"]))

    static var stopSequencesMax: Int { AttributeTable.stopSequencesMax }

    /// E0203 for an attribute the table ties to another action (`temperature` on a `run:`
    /// task): it would be lowered and never read.
    mutating func checkActionOnly(_ attrs: Validated, action: String) {
        guard !action.isEmpty else { return }
        for e in attrs.attrs.entries {
            let name = Schema.attrNames.names[e.key]
            guard let only = AttributeTable.fact("task", name)?.action, only != action else { continue }
            report(error("E0203", "`\(name)` applies only to `\(only)` tasks", e.value.key.span,
                         help: "remove it: this task's action is `\(action)`")
                .fixing(.remove(e.value.span, "this `\(name)`")))
        }
    }

    /// Types `system` (a string, rendered like the prompt) and `messages` (a list of
    /// messages, literal roles checked here, others at run time), and counts `stop`.
    mutating func checkPromptAttributes(_ t: inout TaskInfo, _ attrs: Validated, _ env: inout ExprEnv) {
        if let a = attrs[AK.system] {
            checkExpr(a.value, expected: .string, env: &env, what: "`system`")
            t.systemValue = a.value
        }
        if let a = attrs[AK.messages] {
            let ty = typeOf(a.value, &env)
            if Self.isMessageList(ty) {
                checkMessageRoles(a.value)
            } else {
                let want = Ty.list(Self.messageType)
                report(error("E0300", "`messages` expects `\(want)`, found `\(ty)`", a.value.span, label: "this is `\(ty)`",
                             help: "write a list of messages, `[{ role: \"user\", content: \"...\" }]`, or another prompt task's `outputs.messages`"))
            }
            t.messagesValue = a.value
        }
        t.temperaturePPM = attrs.number(AK.temperature)
        if let a = attrs[AK.stop] {
            t.stop = stringList(a.value)
            if case .list(let items) = a.value.kind, items.count > Self.stopSequencesMax {
                report(error("E0306", "`stop` takes at most \(Self.stopSequencesMax) sequences, found \(items.count)", a.value.span,
                             help: "keep the \(Self.stopSequencesMax) that matter: APIs refuse more"))
            }
        }
    }

    /// Whether `t` is a list of messages: of the record shape, or of a named record with
    /// exactly the string fields `role` and `content` (`type Message { ... }`).
    static func isMessageList(_ t: Ty) -> Bool {
        if t.fits(.list(messageType)) { return true }
        guard case .list(.record(let r)) = t else { return false }
        return r.fields == ["role": .string, "content": .string]
    }

    /// E0209 for a literal role other than `user` or `assistant`.
    mutating func checkMessageRoles(_ e: Expr) {
        guard case .list(let items) = e.kind else { return }
        for i in items {
            guard case .record(let entries) = i.kind, let role = entries.first(where: { $0.key.text == "role" })?.value,
                  case .string(let text)? = Constant.fold(role), !Self.messageRoles.contains(text) else { continue }
            let help = text == "system" ? "give the system prompt as `system: \"...\"`" : "write `role: \"user\"` or `role: \"assistant\"`"
            report(error("E0209", "a message's `role` must be `user` or `assistant`, found `\(text)`", role.span, help: help))
        }
    }
}
