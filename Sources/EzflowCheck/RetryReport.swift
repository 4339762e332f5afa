// What each task's retry rule does, in words: `ezc check --explain-retry` prints it per
// workflow (a CI job can diff it), and the editor's task hover shows the classes line.
// The default classes come from `RetryClasses`, the list the runtime's `Plan` reads.
import EzflowIR
import EzflowUnits

extension RetryInfo {
    /// The classes this rule retries: the ones `on` names, or every class but those a retry
    /// cannot fix (`on` left out); `on: []` retries nothing.
    public var classesText: String {
        guard let on else {
            return "every class except " + RetryClasses.notByDefault.map(\.name).joined(separator: ", ") + " (`on` left out)"
        }
        return on.isEmpty ? "nothing (`on: []`)" : on.joined(separator: ", ")
    }

    /// The un-jittered delays between its attempts, as the runtime waits them.
    var delaysText: String {
        guard attempts > 1 else { return "none" }
        let shown = min(attempts - 1, 6)
        var parts = (1...shown).map { Units.durationCompound(delayMs(afterAttempt: Int($0))) }
        if attempts - 1 > shown { parts.append("…") }
        var text = parts.joined(separator: ", ") + " (\(backoff)"
        if backoff == "exponential" { text += " ×" + Self.factorText(factorPPM ?? RetryDelay.defaultFactorPPM) }
        if jitter != "none" { text += ", \(jitter) jitter" }
        return text + ")"
    }

    /// A factor in parts per million as written: `2`, `1.5`.
    static func factorText(_ ppm: Int64) -> String {
        let whole = ppm / 1_000_000, frac = ppm % 1_000_000
        guard frac != 0 else { return String(whole) }
        var f = String(frac)
        f = String(repeating: "0", count: 6 - f.count) + f
        while f.hasSuffix("0") { f.removeLast() }
        return "\(whole).\(f)"
    }
}

/// The plain-text report of `ezc check --explain-retry`.
public enum RetryReport {
    /// One block per workflow: each task, its attempts, delays and the classes retried.
    public static func render(workflow name: String, tasks: [TaskInfo]) -> String {
        var out = "workflow `\(name)`\n"
        // A gate retries only with a rule of its own (a timeout that fails it, say).
        for t in tasks where t.action != "workflow" && (t.action != "approve" || !t.retries.isEmpty) {
            guard t.maxAttempts > 1 else {
                out += "  task `\(t.name.text)`: 1 attempt, no retry\n"
                continue
            }
            if t.retries.count == 1, let r = t.retries.first {
                out += "  task `\(t.name.text)`: \(Units.counted(r.attempts, "attempt"))\(catchAgentNote(t))\n"
                out += "    retries: \(r.classesText)\n"
                out += "    delays: \(r.delaysText)\n"
                continue
            }
            out += "  task `\(t.name.text)`: at most \(Units.counted(t.maxAttempts, "attempt"))\(catchAgentNote(t)), \(Units.counted(t.retries.count, "rule")) (a failure goes to the first rule that retries its class; each counts its own)\n"
            for (k, r) in t.retries.enumerated() {
                out += "    rule \(k + 1): \(Units.counted(r.attempts, "attempt"))\n"
                out += "      retries: \(r.classesText)\n"
                out += "      delays: \(r.delaysText)\n"
            }
        }
        return out
    }

    /// A `catch: agent` rule adds one attempt on that agent after the rules end.
    static func catchAgentNote(_ t: TaskInfo) -> String {
        guard case .agent(let a)? = t.fallback else { return "" }
        return " (and 1 more on the `catch` agent `\(a.name)`)"
    }

    /// The classes a rule without `on:` leaves alone, and why (the report's footer).
    public static var notRetriedLegend: String {
        "never retried by a rule without `on`:\n" + RetryClasses.notByDefault.map { "  \($0.name): \($0.why)\n" }.joined()
    }
}
