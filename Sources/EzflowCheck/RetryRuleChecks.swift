import EzflowDiagnostics
import EzflowIR
import EzflowSyntax

extension WorkflowChecker {
    /// A task's rules are read in order: a failure goes to the first rule whose classes
    /// include its class (docs/RUNTIME.md "Retries"). So a class a later rule names that an
    /// earlier rule already takes never reaches it (W0108, like an unreachable match arm),
    /// and a task has one fallback, whichever rule ends: `catch` in two rules is E0205.
    mutating func checkRetryRules(_ rules: [RetryInfo]) {
        guard rules.count > 1 else { return }
        var firstCatch: Span?
        for (k, r) in rules.enumerated() {
            if let c = r.catchExpr {
                if let prev = firstCatch {
                    report(error("E0205", "`catch` is given twice: a task has one fallback", c.span, label: "given again here",
                                 secondary: [Label(prev, "first given here")],
                                 help: "keep `catch` in one rule; the fallback takes over whichever rule ends"))
                } else {
                    firstCatch = c.span
                }
            }
            let earlier = rules[..<k]
            // A rule without `on:` takes every class a retry can fix, declared ones included.
            if r.on == nil {
                if let prev = earlier.first(where: { $0.on == nil }) {
                    report(.warning("W0108", "this retry rule never applies: an earlier rule without `on:` takes every class it would",
                                    at: r.span, label: "never reached",
                                    secondary: [Label(prev.span, "this rule takes them first")],
                                    help: "give the earlier rule an `on:` list, or remove this one"))
                }
                continue
            }
            var shadowed: [String] = []
            var by: Span?
            for c in r.on ?? [] {
                guard let prev = earlier.first(where: { RetryClasses.retries(on: $0.on, errorClass: c) }) else { continue }
                shadowed.append(c)
                by = by ?? prev.onSpan ?? prev.span
            }
            guard !shadowed.isEmpty, let by else { continue }
            let all = shadowed.count == (r.on ?? []).count
            let list = shadowed.map { "`\($0)`" }.joined(separator: ", ")
            let msg = all ? "this retry rule never applies: an earlier rule takes \(list)"
                : "this retry rule never retries \(list): an earlier rule takes \(shadowed.count == 1 ? "it" : "them")"
            report(.warning("W0108", msg, at: r.onSpan ?? r.span, label: all ? "never reached" : "shadowed",
                            secondary: [Label(by, "taken here first")],
                            help: all ? "remove this rule, or move it above the rule that takes its classes"
                                : "remove \(list) from this rule's `on:`, or move the rule above the one that takes \(shadowed.count == 1 ? "it" : "them")"))
        }
    }
}
