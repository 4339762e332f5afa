// An `approve` gate's timeout settings (docs/RUNTIME.md, "Approval gates"): `on_timeout`,
// `escalate_to`, `escalate_timeout`. Their words, ranges and IR keys are in AttributeTable
// (and E0203 keeps them off other actions); what is checked here is how they combine, so
// none is accepted and then ignored at run time.
import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// E0506: `on_timeout: escalate` without `escalate_to`; E0507: `escalate_to` or
    /// `escalate_timeout` on a gate that does not escalate; W0106: `on_timeout` on a gate
    /// without `timeout`, which never times out.
    mutating func checkGateTimeout(_ t: inout TaskInfo, _ attrs: Validated) {
        guard t.action == "approve" else { return }
        if attrs[AK.on_timeout] != nil { t.onTimeout = attrs.word("on_timeout") }
        if attrs[AK.escalate_to] != nil { t.escalateTo = attrs.refs[id: AK.escalate_to] ?? [] }
        t.escalateTimeoutMs = attrs.number(AK.escalate_timeout)
        let escalates = t.onTimeout == "escalate"
        if escalates && attrs[AK.escalate_to] == nil, let a = attrs[AK.on_timeout] {
            report(error("E0506", "gate `\(t.name.text)` escalates but names no roles to escalate to", a.value.span,
                         label: "escalates on timeout",
                         help: "name the roles asked after the timeout: `escalate_to: [oncall]`"))
        }
        if !escalates {
            for (id, name) in [(AK.escalate_to, "escalate_to"), (AK.escalate_timeout, "escalate_timeout")] {
                guard let a = attrs[id] else { continue }
                let said = t.onTimeout.map { "`on_timeout: \($0)`" } ?? "no `on_timeout` (it rejects on timeout)"
                report(error("E0507", "`\(name)` applies only to a gate with `on_timeout: escalate`", a.key.span,
                             notes: ["gate `\(t.name.text)` has \(said)"],
                             help: "add `on_timeout: escalate`, or remove `\(name)`")
                    .fixing(.remove(a.span, "this `\(name)`")))
            }
        }
        if t.timeoutMs == nil, let a = attrs[AK.on_timeout] {
            report(.warning("W0106", "`on_timeout` of gate `\(t.name.text)` never applies: the gate has no `timeout`", at: a.key.span,
                            help: "add `timeout: 1h` (how long the gate waits), or remove `on_timeout`"))
        }
    }
}
