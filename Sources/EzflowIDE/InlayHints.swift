import EzflowCheck
import EzflowUnits

/// A label an editor shows inline, after `offset`.
public struct InlayHint: Sendable, Hashable {
    public var offset: Int
    public var label: String
    public var tooltip: String
}

extension Analysis {
    /// After each task's name in `start...end` of `path`: the worst case the budget and
    /// deadline proofs count for it, time and then money and tokens, all attempts
    /// included (`≤ 15m30s · ≤ $0.24 · ≤ 24k tokens`). Nothing for a task with no bound
    /// to show, or when the workflow did not check.
    public func inlayHints(path: String, start: Int, end: Int) -> [InlayHint] {
        guard let m = module(path), let w = workflow(m) else { return [] }
        var out: [InlayHint] = []
        for t in w.tasks where t.name.span.file == model.modules[m].file && start <= t.name.span.end && t.name.span.start <= end {
            var parts: [String] = []
            if let ms = CriticalPath.worstTime(t) { parts.append(ms == Int64.max ? "unbounded time" : "≤ " + Units.durationCompound(ms)) }
            let r = w.reservations.indices.contains(t.id) ? w.reservations[t.id] : nil
            if let r {
                // A prompt with run-time values is bounded only when it runs: "at least".
                let least = r.promptTokens == nil ? "≥ " : "≤ "
                // A fan-out over a list known when the run starts: per item.
                let each = r.instances == nil ? " per item" : ""
                let count = Reservation.mul(r.instances ?? 1, r.attempts)
                if let money = r.moneyWorstMicros.map({ Reservation.add($0, r.promptMicros) }) {
                    if money > 0 { parts.append(least + Units.money(Reservation.mul(count, money)) + each) }
                } else {
                    parts.append("money unbounded")
                }
                let tokens = Reservation.add(r.promptTokens ?? 0, r.tokens)
                if tokens > 0 { parts.append(least + Units.tokens(Reservation.mul(count, tokens)) + each) }
            }
            guard !parts.isEmpty else { continue }
            let tooltip = "Worst case of task `\(t.name.text)` as `ezc check` proves budgets and the deadline: "
                + "every attempt (\(Units.counted(t.maxAttempts, "attempt"))) running to its timeout"
                + ". `≥`: a prompt with run-time values, bounded when it runs; per item: a fan-out over a list known when the run starts."
            out.append(InlayHint(offset: t.name.span.end, label: parts.joined(separator: " · "), tooltip: tooltip))
        }
        return out
    }
}
