// JUnit XML for CI systems (GitHub, GitLab, Jenkins): the run is a test suite, each task
// a test case. Tasks whose failure a `catch: task` fallback absorbed pass (the run's
// verdict did not depend on them), with "recovered by fallback NAME" in their
// system-out, so the report never shows red for a green run.
import EzflowRuntime

public enum JUnitReport {
    /// The report as a complete XML document (UTF-8, ends with a newline).
    public static func render(_ snapshot: RunSnapshot, redact: @Sendable (String) -> String = { $0 }) -> String {
        let tasks = snapshot.taskViews()
        let outcomes = classifyAll(tasks, snapshot)
        var failures = 0, skipped = 0
        for o in outcomes {
            switch o {
            case .failure: failures += 1
            case .skipped: skipped += 1
            case .passed: break
            }
        }
        let wf = snapshot.workflowName
        let time = Format.seconds3(snapshot.durationMs)
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<testsuites name=\"ezflow\" tests=\"\(tasks.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"\(skipped)\" time=\"\(time)\">\n"
        x += "  <testsuite name=\"\(XML.attr(wf))\" tests=\"\(tasks.count)\" failures=\"\(failures)\" errors=\"0\""
        x += " skipped=\"\(skipped)\" time=\"\(time)\" timestamp=\"\(Format.rfc3339(ms: snapshot.startedAtMs).dropLast(5))\">\n"
        x += "    <properties>\n"
        for (k, v) in [("ezflow.run_id", snapshot.runID), ("ezflow.verdict", snapshot.verdictText),
                       ("ezflow.exit_code", snapshot.state.verdict.map { String($0.exitCode) } ?? ""),
                       ("ezflow.cost_micros", String(snapshot.state.chargedMicros)),
                       ("ezflow.tokens", String(snapshot.state.chargedTokens)), ("ezflow.ir_hash", snapshot.plan.hash)] {
            x += "      <property name=\"\(k)\" value=\"\(XML.attr(v))\"/>\n"
        }
        x += "    </properties>\n"
        for (t, outcome) in zip(tasks, outcomes) {
            x += "    <testcase classname=\"\(XML.attr(wf))\" name=\"\(XML.attr(t.name))\" time=\"\(Format.seconds3(t.durationMs))\""
            let out = systemOut(t, snapshot, redact)
            switch outcome {
            case .passed:
                if out.isEmpty { x += "/>\n"; continue }
                x += ">\n"
            case .skipped(let why):
                x += ">\n      <skipped message=\"\(XML.attr(why))\"/>\n"
            case .failure(let type, let why):
                let f = t.lastFailure
                let message = why ?? f.map { redact($0.message) } ?? stateName(t.state)
                x += ">\n      <failure message=\"\(XML.attr(message))\" type=\"\(XML.attr(type))\">"
                x += XML.text(failureBody(t, snapshot, redact)) + "</failure>\n"
            }
            if !out.isEmpty { x += "      <system-out>" + XML.text(out) + "</system-out>\n" }
            x += "    </testcase>\n"
        }
        x += "  </testsuite>\n</testsuites>\n"
        return x
    }

    /// `failure`'s `message`: nil, the last failed attempt's message.
    enum Outcome { case passed, skipped(String), failure(type: String, message: String?) }

    /// Every task's outcome. A run that failed (exit code 1 or 3) has at least one
    /// failure, so CI shows it red: the refused task of a budget stop is one, attempts the
    /// stop cut short are others, and when no task failed on its own (a deadline between
    /// attempts) the first task that did not finish carries the run's verdict.
    static func classifyAll(_ tasks: [TaskView], _ s: RunSnapshot) -> [Outcome] {
        var out = tasks.map { classify($0, s) }
        guard case .finished(let v) = s.state.phase, v.exitCode != 0, v != .waitingForApproval,
              !out.contains(where: { if case .failure = $0 { true } else { false } }) else { return out }
        if let i = out.firstIndex(where: { if case .skipped = $0 { true } else { false } }) {
            out[i] = .failure(type: v.rawValue, message: "the run ended \(v.rawValue) before this task finished")
        }
        return out
    }

    static func classify(_ t: TaskView, _ s: RunSnapshot) -> Outcome {
        if s.budgetRefused(t.id) { return .failure(type: "budget_refused", message: s.budgetRefusal) }
        switch t.state {
        case .succeeded: return .passed
        case .failed where t.rescued: return .passed
        case .failed where s.state.allowedFailure(t.id), .deadLettered where s.state.allowedFailure(t.id):
            // Not a failure (the verdict did not count it), not a pass either: CI shows it
            // aside, with what went wrong.
            let f = t.lastFailure.map { ": \($0.errorClass ?? "failed")" } ?? ""
            return .skipped("failed (allowed)" + f)
        case .failed where s.plan.kind(t.id) == .compensation, .deadLettered where s.plan.kind(t.id) == .compensation:
            let x = s.plan.taskNames[s.plan.compensates[t.id]]
            return .failure(type: "compensation_incomplete", message: "the undo of `\(x)` failed: \(t.lastFailure?.errorClass ?? "failed")")
        case .failed, .deadLettered: return .failure(type: t.lastFailure?.errorClass ?? "failed", message: nil)
        case .cancelled where !t.attempts.isEmpty && s.verdictText != "cancelled":
            // An attempt the run's stop (deadline, budget) cut short.
            return .failure(type: s.verdictText, message: "stopped: the run ended \(s.verdictText) while it ran")
        case .skipped: return .skipped(s.state.skipText(t.id) ?? undoShownState(s.state, task: t.id) ?? "skipped: a dependency did not succeed")
        case .cancelled: return .skipped("cancelled: run stopped (\(s.verdictText))")
        case .awaitingApproval: return .skipped("awaiting approval")
        case .waiting, .ready: return .skipped("never ran (run \(s.verdictText))")
        case .running, .backoff: return .skipped("not finished (\(stateName(t.state)))")
        }
    }

    /// Every attempt's error, then the tail of the last attempt's stderr.
    static func failureBody(_ t: TaskView, _ s: RunSnapshot, _ redact: (String) -> String) -> String {
        var lines: [String] = []
        for a in t.attempts {
            let what = a.errorClass.map { "\($0): \(redact(a.message))" } ?? a.outcome
            lines.append("attempt \(a.attempt) on \(a.agentName) after \(Format.duration(a.durationMs(now: s.endedAtMs))): \(what)")
        }
        if let fb = t.fallback { lines.append("fallback \(fb) ran instead and did not succeed") }
        if let log = t.lastAttempt?.log, !log.stderr.isEmpty {
            lines.append("stderr (attempt \(log.attempt), last lines):")
            lines.append(Format.tail(redact(log.stderr)))
        }
        return lines.joined(separator: "\n")
    }

    /// One line per attempt: attempt, agent, duration, cost, tokens, outcome; then the
    /// last attempt's stdout tail.
    static func systemOut(_ t: TaskView, _ s: RunSnapshot, _ redact: (String) -> String) -> String {
        var lines: [String] = []
        for a in t.attempts {
            var l = "attempt \(a.attempt): agent=\(a.agentName) duration=\(Format.duration(a.durationMs(now: s.endedAtMs)))"
            l += " cost=\(Format.money(a.costMicros)) tokens=\(a.tokens) outcome=\(a.outcome)"
            if let code = a.log?.exitCode { l += " exit=\(code)" }
            lines.append(l)
        }
        if let fb = t.recoveredBy { lines.append("recovered by fallback \(fb)") }
        if let log = t.lastAttempt?.log, !log.stdout.isEmpty {
            lines.append("stdout (attempt \(log.attempt), last lines):")
            lines.append(Format.tail(redact(log.stdout)))
        }
        return lines.joined(separator: "\n")
    }
}

/// XML 1.0 escaping. Characters XML cannot carry at all (C0 controls but tab/newline/CR,
/// U+FFFE/U+FFFF) are dropped: a stray escape sequence in an agent's stderr must not make
/// the whole report unparseable.
enum XML {
    static func allowed(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v == 0x9 || v == 0xA || v == 0xD { return true }
        if v < 0x20 { return false }
        if v >= 0x7F && v < 0xA0 { return false }  // C1: legal in XML 1.0 but discouraged, and terminal garbage
        if v == 0xFFFE || v == 0xFFFF { return false }
        return true
    }

    static func text(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in Format.stripControls(s).unicodeScalars where allowed(u) {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// Attribute values: quotes escaped, and whitespace as character references so
    /// attribute-value normalization does not turn newlines into spaces.
    static func attr(_ s: String) -> String {
        var out = ""
        for u in Format.stripControls(s).unicodeScalars where allowed(u) {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case "\r": out += "&#13;"
            case "\t": out += "&#9;"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
