// The run summary: canonical JSON for machines (`--summary FILE`) and Markdown for
// people (`$GITHUB_STEP_SUMMARY`). Both are pure functions of the snapshot.
import EzflowIR
import EzflowUnits
import Foundation
import EzflowRuntime

public enum SummaryReport {
    /// Canonical JSON (keys sorted by UTF-8 bytes, no spaces, no trailing newline).
    public static func json(_ snapshot: RunSnapshot, redact: @Sendable (String) -> String = { $0 }) -> [UInt8] {
        CanonicalJSON.encode(value(snapshot, redact: redact))
    }

    /// The summary as a JSON value (for callers that embed it elsewhere).
    public static func value(_ s: RunSnapshot, redact: @Sendable (String) -> String = { $0 }) -> JSONValue {
        let plan = s.plan, state = s.state
        var o = JSONObject()
        o.set("run_id", s.runID)
        o.set("workflow", s.workflowName)
        o.set("verdict", s.verdictText)
        o.set("exit_code", state.verdict.map { Int64($0.exitCode) })
        o.set("started_ms", s.startedAtMs)
        o.set("ended_ms", s.endedAtMs)
        o.set("duration_ms", s.durationMs)
        o.set("cost_micros", state.chargedMicros)
        o.set("tokens", state.chargedTokens)
        o.set("ir_hash", plan.hash)
        func limit(_ l: Int64) -> Int64? { l >= 0 ? l : nil }
        func budget(_ l: Int64, _ used: Int64) -> JSONValue {
            var b = JSONObject()
            b.set("limit", limit(l))
            b.set("used", used)
            return b.value
        }
        var b = JSONObject()
        b.set("money_micros", budget(plan.budgetMoneyMicros, state.chargedMicros))
        b.set("tokens", budget(plan.budgetTokens, state.chargedTokens))
        b.set("time_ms", budget(plan.budgetTimeMs, s.durationMs))
        b.set("deadline_ms", limit(plan.deadlineMs))
        o.set("budget", b.value)
        if state.refusedTask >= 0 { o.set("budget_refused_task", plan.taskNames[state.refusedTask]) }
        var counts: [String: Int64] = [:]
        var tasks: [JSONValue] = []
        for t in s.taskViews() {
            counts[stateName(t.state), default: 0] += 1
            var j = JSONObject()
            j.set("name", t.name)
            j.set("state", stateName(t.state))
            j.set("attempts", Int64(state.attempts[t.id]))
            j.set("agent", t.lastAttempt?.agentName)
            j.set("duration_ms", t.durationMs)
            j.set("cost_micros", t.costMicros)
            j.set("tokens", t.tokens)
            let f = t.state == .succeeded ? nil : t.lastFailure
            let refused = s.budgetRefused(t.id)
            j.set("error_class", refused ? "budget_refused" : f?.errorClass)
            j.set("message", refused ? s.budgetRefusal : f.map { redact($0.message) })
            j.set("fallback", t.fallback)
            if t.fallback != nil {
                j.set("rescued", .bool(t.rescued))
                j.set("recovered_by", t.recoveredBy)
            }
            if state.allowedFailure(t.id) { j.set("allowed_failure", .bool(true)) }
            if let x = undone(state, by: t.id) { j.set("compensates", x) }
            if let why = state.skipText(t.id), let r = state.skipReason[t.id] {
                j.set("skip_reason", r.rawValue)
                j.set("skip_message", why)
            }
            tasks.append(j.value)
        }
        o.set("tasks", .array(tasks))
        // Written only when an undo failed, so other summaries keep their shape.
        let incomplete = compensationIncomplete(state)
        if !incomplete.isEmpty { o.set("compensation_incomplete", .array(incomplete.map { .string($0) })) }
        o.set("task_counts", .object(counts.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) }))
        var dead: [JSONValue] = []
        for r in s.journal {
            for case .deadLetter(let t, let history) in r.commands {
                var d = JSONObject()
                d.set("task", plan.taskNames[t])
                d.set("attempts", .array(history.map { h in
                    var a = JSONObject()
                    a.set("attempt", h.attempt)
                    a.set("agent", s.agentName(h.agent, task: t))
                    a.set("class", h.errorClass)
                    a.set("message", redact(h.message))
                    a.set("started_ms", h.startedAtMs)
                    a.set("ended_ms", h.endedAtMs)
                    a.set("cost_micros", h.costMicros)
                    a.set("tokens", h.tokens)
                    return a.value
                }))
                dead.append(d.value)
            }
        }
        o.set("dead_letters", .array(dead))
        // Written only at an approval pause, so other summaries keep their shape.
        let gates = WaitingGate.all(state)
        if !gates.isEmpty {
            o.set("waiting_for_approval", .array(gates.map { g in
                var j = JSONObject()
                j.set("task", g.name)
                j.set("question", g.question.map(redact))
                j.set("on_timeout", g.onTimeout)
                return j.value
            }))
        }
        var outs: [(String, JSONValue)] = []
        for (i, name) in plan.outputNames.enumerated() {
            outs.append((name, state.outputs[i].map { redactJSON($0, redact) } ?? .null))
        }
        o.set("outputs", .object(outs))
        // Written only when a task left files, so other summaries keep their shape.
        let files = state.files
        if !files.isEmpty { o.set("files", .array(files.map(fileJSON))) }
        return o.value
    }

    /// The gates an approval pause waits for: each one's question and what its timeout does.
    static func waitingMarkdown(_ gates: [WaitingGate], runID: String, redact: (String) -> String) -> String {
        guard !gates.isEmpty else { return "" }
        var md = "\n### Waiting for approval\n"
        for g in gates {
            md += "\n**\(MD.cell(g.name))**" + (g.onTimeout.map { " (\(MD.cell($0)))" } ?? "") + ": "
            md += "`ezrun approve \(MD.code(runID)) \(MD.code(g.name)) --as PRINCIPAL`\n\n"
            if let q = g.question { md += MD.fence(redact(q)) }
        }
        return md
    }

    /// One file as the summary and `ezrun status --json` list it.
    public static func fileJSON(_ f: RunFile) -> JSONValue {
        .object([("digest", .string(f.record.digest)), ("file", .string(f.label)), ("mode", .string(f.record.mode)),
                 ("name", .string(f.record.name)), ("size", .int(f.record.size))])
    }

    /// The files the run's tasks left, and how to get one.
    static func filesMarkdown(_ files: [RunFile], runID: String) -> String {
        guard !files.isEmpty else { return "" }
        var md = "\n### Files\n\n| file | name | size | mode | digest |\n|---|---|---:|---|---|\n"
        for f in files {
            md += "| \(MD.cell(f.label)) | \(MD.cell(f.record.name)) | \(Format.grouped(f.record.size)) | \(f.record.mode) | `\(f.record.digest)` |\n"
        }
        md += "\nCopy one out: `ezrun files \(MD.code(runID)) FILE --out PATH`\n"
        return md
    }

    /// GitHub step summary Markdown: verdict header, totals, a task table, failures.
    public static func markdown(_ s: RunSnapshot, redact: @Sendable (String) -> String = { $0 }) -> String {
        let plan = s.plan, state = s.state
        let tasks = s.taskViews()
        var md = "## ezflow run `\(MD.code(s.workflowName))`: \(s.verdictText)\n\n"
        md += "| run | verdict | exit code | duration | cost | tokens |\n|---|---|---|---|---|---|\n"
        md += "| `\(MD.code(s.runID))` | \(s.verdictText) | \(state.verdict.map { String($0.exitCode) } ?? "-") | "
        md += "\(Format.duration(s.durationMs)) | \(Format.money(state.chargedMicros)) | \(Format.grouped(state.chargedTokens)) |\n\n"
        var counts: [String: Int] = [:]
        for t in tasks { counts[reportedState(state, task: t.id), default: 0] += 1 }
        let parts = (allStateNames + ["budget_refused"]).compactMap { n in
            counts[n].map { "\($0) \(n.replacingOccurrences(of: "_", with: " "))" }
        }
        md += "Tasks: " + parts.joined(separator: ", ") + " (of \(tasks.count))\n"
        var budget: [String] = []
        if plan.budgetMoneyMicros >= 0 {
            budget.append("\(Format.money(state.chargedMicros)) of \(Format.money(plan.budgetMoneyMicros))")
        }
        if plan.budgetTokens >= 0 {
            budget.append("\(Format.grouped(state.chargedTokens)) of \(Format.grouped(plan.budgetTokens)) \(Units.noun(plan.budgetTokens, "token"))")
        }
        if plan.budgetTimeMs >= 0 { budget.append("\(Format.duration(s.durationMs)) of \(Format.duration(plan.budgetTimeMs))") }
        if !budget.isEmpty { md += "\nBudget used: " + budget.joined(separator: "; ") + "\n" }
        if let c = compensationIncompleteText(state) { md += "\n" + MD.cell(c) + "\n" }
        if state.refusedTask >= 0 {
            md += "\nBudget exhausted: task `\(MD.code(plan.taskNames[state.refusedTask]))`: \(s.budgetRefusal).\n"
        }
        md += "\n| task | state | attempts | agent | duration | cost |\n|---|---|---|---|---:|---:|\n"
        for t in tasks {
            var st = s.stateText(t)
            if let fb = t.recoveredBy { st += ", recovered by fallback \(fb)" }
            md += "| \(MD.cell(t.name)) | \(MD.cell(st)) | \(state.attempts[t.id]) | \(MD.cell(t.lastAttempt?.agentName ?? "-")) | "
            md += "\(t.attempts.isEmpty ? "-" : Format.duration(t.durationMs)) | \(Format.money(t.costMicros)) |\n"
        }
        md += waitingMarkdown(WaitingGate.all(state), runID: s.runID, redact: redact)
        md += filesMarkdown(state.files, runID: s.runID)
        let failed = tasks.filter { (($0.state == .failed && !$0.rescued) || $0.state == .deadLettered) && !state.allowedFailure($0.id) }
        if !failed.isEmpty {
            md += "\n### Failures\n"
            for t in failed {
                let cls = t.lastFailure?.errorClass ?? stateName(t.state)
                md += "\n**\(MD.cell(t.name))** (\(stateName(t.state)), \(MD.cell(cls)))\n\n"
                var body: [String] = []
                for a in t.attempts {
                    let what = a.errorClass.map { "\($0): \(redact(a.message))" } ?? a.outcome
                    body.append("attempt \(a.attempt) on \(a.agentName) (\(Format.duration(a.durationMs(now: s.endedAtMs)))): \(what)")
                }
                if let log = t.lastAttempt?.log, !log.stderr.isEmpty {
                    body.append("--- stderr (last lines) ---")
                    body.append(Format.tail(redact(log.stderr), maxLines: 20, maxBytes: 2000))
                }
                md += MD.fence(body.joined(separator: "\n"))
            }
        }
        return md
    }
}

/// Markdown escaping. Agent text goes into fenced blocks (fence longer than any
/// backtick run inside) so it cannot inject markup; table cells escape what would
/// break the table or render as HTML.
enum MD {
    static func cell(_ s: String) -> String {
        var out = ""
        for c in Format.stripControls(s, keepNewlines: false) {
            switch c {
            case "|", "\\", "*", "_", "`", "[", "]", "#": out.append("\\"); out.append(c)
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\n", "\t": out += " "
            default: out.append(c)
            }
        }
        return out
    }

    /// Text for inside a single-backtick code span (names from the workflow).
    static func code(_ s: String) -> String {
        String(Format.stripControls(s, keepNewlines: false).map { $0 == "`" ? "'" : $0 }).replacingOccurrences(of: "\n", with: " ")
    }

    static func fence(_ s: String) -> String {
        let clean = Format.stripControls(s)
        var longest = 0, run = 0
        for c in clean {
            if c == "`" { run += 1; longest = max(longest, run) } else { run = 0 }
        }
        let f = String(repeating: "`", count: max(3, longest + 1))
        return f + "text\n" + clean + (clean.hasSuffix("\n") ? "" : "\n") + f + "\n"
    }
}
