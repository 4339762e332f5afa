// An agent's health check is driver-specific: `health` (a URL) is probed for `http` and
// `llm` agents, `health_command` for `exec` agents (docs/RUNTIME.md, "Health checks").
// Either one on another driver would be lowered and never probed: E0203, like an
// action-only task attribute.
import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// The drivers each health attribute is probed for.
    static let healthDrivers: [(name: String, drivers: [String])] = [
        ("health", ["http", "llm"]), ("health_command", ["exec"]), ("health_interval", ["exec", "http", "llm"]),
    ]

    /// E0203 for a health attribute its agent's driver never probes; `health_interval`
    /// without a check to pace is refused the same way.
    mutating func checkHealthDriver(_ attrs: Validated, _ a: AgentInfo) {
        guard let driver = a.driver else { return }
        for (name, drivers) in Self.healthDrivers {
            guard let at = attrs[name] else { continue }
            if !drivers.contains(driver) {
                let names = drivers.map { "`\($0)`" }
                let who = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names.last!
                report(error("E0203", "`\(name)` applies only to \(who) agents", at.key.span,
                             help: "remove it: agent `\(a.name.text)` has driver `\(driver)`")
                    .fixing(.remove(at.span, "this `\(name)`")))
            } else if name == "health_interval" && a.healthURL == nil && a.healthCommand == nil {
                report(error("E0203", "`health_interval` needs a health check to pace", at.key.span,
                             help: driver == "exec" ? "add `health_command: \"…\"` or remove it" : "add `health: \"http://…\"` or remove it")
                    .fixing(.remove(at.span, "this `health_interval`")))
            }
        }
    }
}
