// Human progress output. `line(for:)` turns each journal record into plain lines for logs
// and non-TTY CI output; `statusLine` is a one-line live display for terminals (the
// caller redraws it with `\r` and clears the line). Lines are derived from the record
// and the state right after it, so replaying a journal prints the same progress.
import EzflowDiagnostics
import EzflowIR
import EzflowRuntime
import EzflowUnits
import Foundation

/// What the live status line shows, taken from a state (`Progress.statusFacts`).
public struct StatusFacts: Sendable, Equatable {
    public var done: Int, total: Int
    /// State names with at least one task (but `waiting`), in lifecycle order, and their counts.
    public var states: [String], counts: [Int]
    public var chargedMicros: Int64
    public var running: [String]
    /// The run's start and the state's own time (the elapsed time never goes back).
    public var startedAtMs: Int64, stateNowMs: Int64
}

/// Plain progress lines for each journal record, and the live status line for a terminal.
public struct Progress: Sendable {
    /// Applied to every message that came from an agent.
    public var redact: @Sendable (String) -> String
    /// Maximum characters of `statusLine`.
    public var width: Int
    /// ANSI colour for state words (`succeeded` green; `failed`, `dead-lettered`, a failed
    /// verdict red; waiting for a person yellow) in the lines and the status line; the
    /// caller decides (`TerminalColor`). The JSON log never has any.
    public var color: Bool

    public init(width: Int = 80, color: Bool = false, redact: @escaping @Sendable (String) -> String = { $0 }) {
        self.width = width
        self.color = color
        self.redact = redact
    }

    /// The lines `record` deserves (joined with `\n`), or nil for bookkeeping events.
    /// `state` is the state after folding `record`.
    public func line(for record: JournalRecord, plan: Plan, state: RunState) -> String? {
        var lines: [String] = []
        let seq = record.seq
        let at = record.event.atMs
        switch record.event {
        case .runStarted(let run, _, _, _, _, _, _):
            lines.append("run \(run) started: \(Units.counted(plan.taskCount, "task"))")
        case .taskSucceeded(let t, let a, _, _, _, _):
            if let tr = liveTransition(t, attempt: a, seq: seq, state) {
                if tr.to == .succeeded {
                    let h = attemptRecord(of: t, attempt: a, state)
                    let dur = h.map { Format.duration($0.endedAtMs - $0.startedAtMs) } ?? "?"
                    lines.append("\(counter(state)) \(plan.taskNames[t]) \(paint("succeeded", .green)) in \(dur) (attempt \(a), \(agent(tr.from, t, plan)))")
                } else if let f = failure(t, a, tr, at: at, plan: plan, state: state) {
                    lines.append(f)
                }
            } else {
                lines.append("task \(plan.taskNames[t]): late result of abandoned attempt \(a) ignored")
            }
        case .taskFailed(let t, let a, _, _, _, _, _, _):
            if let tr = liveTransition(t, attempt: a, seq: seq, state) {
                if let f = failure(t, a, tr, at: at, plan: plan, state: state) { lines.append(f) }
            } else {
                lines.append("task \(plan.taskNames[t]): late failure of abandoned attempt \(a) ignored")
            }
        case .timerFired(let id, _):
            if case .attemptTimeout(let t, let a) = id, let tr = liveTransition(t, attempt: a, seq: seq, state),
               let f = failure(t, a, tr, at: at, plan: plan, state: state) {
                lines.append(f)
            }
        case .approvalGiven(let t, let principal, let approved, _):
            if state.transitions[t].last?.seq == seq {
                lines.append("\(counter(state)) \(plan.taskNames[t]) \(approved ? paint("approved", .green) : paint("denied", .red)) by \(principal)")
            }
        case .agentHealth(let g, let healthy, _):
            lines.append("agent \(plan.agentNames[g]) is \(healthy ? "healthy again" : "unhealthy")")
        case .cancelRequested(let reason, _):
            lines.append("run cancel requested: \(clean(redact(reason)))")
        case .resumed:
            lines.append("run resumed: \(Units.counted(state.runningCount, "attempt")) in flight")
        case .approvalRefused(let t, let principal, let reason, _):
            lines.append("approval of \(plan.taskNames[t]) by \(principal) refused: \(clean(redact(reason)))")
        case .backendFallback(let primary, let reason, _):
            lines.append("run on the fallback backend: the primary \(primary) was unreachable (\(clean(redact(reason))))")
        case .planUpgraded(let from, let to, _):
            lines.append("run continues on plan \(to) (was \(from))")
        case .interrupted(let signal, let drain, _):
            let n = state.runningCount
            lines.append("run interrupted by \(signal): " + (drain ? "draining " : "ending ") + Units.counted(n, "attempt") + " in flight")
        case .taskRedriven(let t, let principal, _):
            if state.transitions[t].last?.seq == seq {
                lines.append("\(plan.taskNames[t]) re-driven by \(principal): a fresh retry rule")
            } else {
                lines.append("re-drive of \(plan.taskNames[t]) by \(principal) changed nothing (the task is \(state.tasks[t].name))")
            }
        }
        lines.append(contentsOf: recovered(seq: seq, plan: plan, state: state))
        // Tasks skipped because of this record.
        var skipped: [String] = []
        var byReason: [(SkipReason, [String])] = []
        var refused: String?
        var unneeded: [String] = []
        for t in 0..<plan.taskCount where state.tasks[t] == .skipped && state.transitions[t].last?.seq == seq {
            if state.refusedTask == t { refused = plan.taskNames[t] } else if undoShownState(state, task: t) != nil {
                unneeded.append(plan.taskNames[t])
            } else if let r = state.skipReason[t] {
                if let i = byReason.firstIndex(where: { $0.0 == r }) { byReason[i].1.append(plan.taskNames[t]) } else { byReason.append((r, [plan.taskNames[t]])) }
            } else { skipped.append(plan.taskNames[t]) }
        }
        // Skips are reported after dead letters (their cause) and before the run's end;
        // the task a budget stop refused first, as the cause of the rest.
        var skips = refused.map { ["\(counter(state)) \($0): \(refusalText(state))"] } ?? []
        if !skipped.isEmpty { skips.append("skipped (a dependency did not succeed): " + skipped.joined(separator: ", ")) }
        if !unneeded.isEmpty { skips.append("skipped (not needed): " + unneeded.joined(separator: ", ")) }
        for (r, names) in byReason {
            skips.append(r == .unusedSlot ? Self.unusedSlotsLine(names) : "skipped (\(r.rawValue)): " + names.joined(separator: ", "))
        }
        // Failures the core decided without an attempt: a dynamic fan-out's list too long, a
        // loop's end without its `until` (`loop_exhausted`), a condition without a value.
        for t in 0..<plan.taskCount where state.tasks[t] == .failed && state.transitions[t].last?.seq == seq {
            if let h = state.history[t].last, h.agent < 0, let c = h.errorClass {
                skips.insert("\(counter(state)) \(plan.taskNames[t]) \(paint("failed", .red)): \(c): \(clean(redact(h.message)))", at: 0)
            }
        }
        var skipLine = skips.isEmpty ? nil : skips.joined(separator: "\n")
        for c in record.commands {
            if case .finishRun = c, let l = skipLine { lines.append(l); skipLine = nil }
            switch c {
            case .dispatch(let t, let a, let g, _, _):
                let of = ruleAttempt(t, a, plan: plan, state: state)
                let undo = undone(state, by: t).map { ", undoing \($0)" } ?? ""
                lines.append("task \(plan.taskNames[t]) started (attempt \(of), \(agentName(g, t, plan))\(undo))")
            case .deadLetter(let t, let history):
                let last = history.last
                let what = last.map { "\($0.errorClass ?? "failed"): \(clean(redact($0.message)))" } ?? "failed"
                let on = last.map { " (last on \(agentName($0.agent, t, plan)))" } ?? ""
                let n = history.count
                let allowed = plan.allowFailure[t] ? " (failure allowed: the run goes on)" : ""
                lines.append("\(counter(state)) \(plan.taskNames[t]) \(paint("dead-lettered", .red)) after \(Units.counted(n, "attempt"))\(on): \(what)\(allowed)")
            case .requestApproval(let t, .gate, let text):
                let note = state.gateTimeoutNote(t).map { " (\($0))" } ?? ""
                let question = text.map { ": \(clean(redact($0)))" } ?? ""
                lines.append("task \(plan.taskNames[t]) \(paint("waiting for approval", .yellow))\(note)\(question)")
            case .requestApproval(let t, .conflict(let o), _):
                lines.append("task \(plan.taskNames[t]) conflicts on output \(o): waiting for approval")
            case .finishRun(.waitingForApproval):
                let waiting = (0..<plan.taskCount).filter { state.tasks[$0] == .awaitingApproval }.map { plan.taskNames[$0] }
                lines.append("run paused: waiting for approval of \(waiting.joined(separator: ", ")) (exit code 4)")
            case .finishRun(let v):
                let d = Format.duration(at - state.startedAtMs)
                lines.append("run finished: \(paint(v.rawValue, v == .success ? .green : .red)) in \(d), \(Format.money(state.chargedMicros)), \(Format.grouped(state.chargedTokens)) \(Units.noun(state.chargedTokens, "token"))")
                if let c = compensationIncompleteText(state) { lines.append(paint(c, .red)) }
            case .cancel, .setTimer:
                break
            }
        }
        if let l = skipLine { lines.append(l) }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    /// One line for a terminal at `nowMs`: see `statusLine(_:nowMs:)`.
    public func statusLine(state: RunState, nowMs: Int64) -> String {
        statusLine(statusFacts(state: state), nowMs: nowMs)
    }

    /// What the status line shows of `state`, read once (O(tasks)) so the line can be
    /// redrawn at any time, by a thread of its own, without the state.
    public func statusFacts(state: RunState) -> StatusFacts {
        let plan = state.plan
        var counts: [String: Int] = [:]
        var running: [String] = []
        var done = 0
        for t in 0..<plan.taskCount {
            counts[stateName(state.tasks[t]), default: 0] += 1
            if state.tasks[t].isTerminal { done += 1 }
            if case .running = state.tasks[t] { running.append(plan.taskNames[t]) }
        }
        let shown = allStateNames.compactMap { n -> (String, Int)? in
            guard let c = counts[n], c > 0, n != "waiting" else { return nil }
            return (n, c)
        }
        return StatusFacts(done: done, total: plan.taskCount, states: shown.map(\.0), counts: shown.map(\.1),
                           chargedMicros: state.chargedMicros, running: running, startedAtMs: state.startedAtMs, stateNowMs: state.nowMs)
    }

    /// One line for a terminal, at most `width` characters: a bar of tasks done (as cargo
    /// draws it), done/total, the time since the run started in whole seconds, the tasks
    /// per state, the money charged, the running tasks. With `color`, the state words are
    /// coloured (failure red, success green, waiting for a person yellow) and nothing else.
    public func statusLine(_ f: StatusFacts, nowMs: Int64) -> String {
        var parts: [(String, TerminalColor.Tint?)] = []
        let barWidth = width >= 60 ? 20 : width >= 40 ? 10 : 0
        if barWidth > 0 { parts.append((Self.bar(done: f.done, total: f.total, width: barWidth) + " ", nil)) }
        parts.append(("\(pad(f.done, f.total))/\(f.total) \(Format.elapsed(max(nowMs, f.stateNowMs) - f.startedAtMs))", nil))
        for (i, (n, c)) in zip(f.states, f.counts).enumerated() {
            parts.append((i == 0 ? " | " : ", ", nil))
            parts.append(("\(c) \(n.replacingOccurrences(of: "_", with: " "))", Self.tint(n)))
        }
        parts.append((" | " + Format.money(f.chargedMicros), nil))
        if !f.running.isEmpty { parts.append((" | " + f.running.joined(separator: ", "), nil)) }
        return Self.fit(parts, width: width, color: color)
    }

    /// `[=========>          ]`: `done` of `total` in `width` columns, brackets included.
    static func bar(done: Int, total: Int, width: Int) -> String {
        let inner = width - 2
        let filled = total > 0 ? min(inner, done * inner / total) : inner
        let head = filled < inner ? ">" : ""
        let rest = inner - filled - head.count
        return "[" + String(repeating: "=", count: filled) + head + String(repeating: " ", count: max(0, rest)) + "]"
    }

    /// The colour a state's count is shown in, or nil for plain.
    static func tint(_ state: String) -> TerminalColor.Tint? {
        switch state {
        case "succeeded": .green
        case "failed", "dead_lettered": .red
        case "awaiting_approval", "cancelled": .yellow
        default: nil
        }
    }

    /// The parts cut to `width` visible characters (`...` where cut), then coloured, so an
    /// escape sequence is never cut nor counted.
    static func fit(_ parts: [(String, TerminalColor.Tint?)], width: Int, color: Bool) -> String {
        let plain = parts.map(\.0).joined()
        guard plain.count > width else {
            return parts.map { p in p.1.map { TerminalColor.paint(p.0, $0, enabled: color) } ?? p.0 }.joined()
        }
        guard width > 3 else { return Format.truncate(plain, width) }
        var out = "", left = width - 3
        for (text, tint) in parts where left > 0 {
            let piece = String(text.prefix(left))
            left -= piece.count
            out += tint.map { TerminalColor.paint(piece, $0, enabled: color) } ?? piece
        }
        return out + "..."
    }

    // MARK: - Helpers

    /// `word` in `tint` when colour is on.
    func paint(_ word: String, _ tint: TerminalColor.Tint) -> String {
        TerminalColor.paint(word, tint, enabled: color)
    }

    /// "task build recovered by fallback spare" for each failed task whose fallback chain
    /// succeeded in this record (the run's verdict no longer counts its failure).
    func recovered(seq: Int, plan: Plan, state: RunState) -> [String] {
        var out: [String] = []
        for t in 0..<plan.taskCount where state.tasks[t] == .failed && state.substitute[t] >= 0 {
            guard let f = state.recoveredBy(t),
                  state.transitions[f].last?.seq == seq || state.transitions[t].last?.seq == seq else { continue }
            out.append("task \(plan.taskNames[t]) recovered by fallback \(plan.taskNames[f])")
        }
        return out
    }

    /// `[ 3/12]`: terminal tasks so far over all tasks.
    func counter(_ state: RunState) -> String {
        let done = state.tasks.filter(\.isTerminal).count
        return "[\(pad(done, state.plan.taskCount))/\(state.plan.taskCount)]"
    }

    func pad(_ v: Int, _ total: Int) -> String {
        let s = String(v), w = String(total).count
        return String(repeating: " ", count: max(0, w - s.count)) + s
    }

    /// The transition this record made out of `running(attempt)`, if the attempt was live.
    func liveTransition(_ t: Int, attempt a: Int, seq: Int, _ state: RunState) -> TransitionRecord? {
        state.transitions[t].first { tr in
            if tr.seq == seq, case .running(a, _) = tr.from { return true }
            return false
        }
    }

    func attemptRecord(of t: Int, attempt a: Int, _ state: RunState) -> AttemptRecord? {
        state.history[t].last { $0.attempt == a }
    }

    func agent(_ s: TaskState, _ t: Int, _ plan: Plan) -> String {
        if case .running(_, let g) = s { return agentName(g, t, plan) }
        return "?"
    }

    func agentName(_ g: Int, _ t: Int, _ plan: Plan) -> String {
        plan.agentLabel(g, task: t)
    }

    func clean(_ s: String) -> String {
        Format.truncate(Format.stripControls(s, keepNewlines: false), 300)
    }

    /// Attempt `a` of `t` as `n/max` of its retry rule (`n` counted from the task's last
    /// re-drive, which starts a fresh rule), or `a` alone for a task without retries.
    func ruleAttempt(_ t: Int, _ a: Int, plan: Plan, state: RunState, always: Bool = false) -> String {
        // A `catch: agent` adds one attempt on that agent after the rules end.
        let most = plan.attemptsMax[t] + (plan.catchAgent[t] >= 0 ? 1 : 0)
        guard always || most > 1 else { return "\(a)" }
        let base = state.attemptBase[t]
        return base > 0 && a > base ? "\(a - base)/\(most) after a re-drive" : "\(a)/\(most)"
    }

    /// When every agent the retry may go to has an open breaker that outlasts the backoff,
    /// the retry waits for the cool-down: say so, rather than a backoff that is not the wait.
    func heldByBreaker(_ t: Int, after due: Int64, plan: Plan, state: RunState) -> String {
        let pool = plan.candidates[plan.candidateStart[t]..<plan.candidateStart[t + 1]]
        var opens: [(String, Int64, Int)] = []
        for g in pool {
            guard case .open(let until) = state.agentHealth[g].breaker, until > due else { return "" }
            opens.append((plan.agentNames[g], until, state.agentHealth[g].consecutiveFailures))
        }
        guard let first = opens.min(by: { $0.1 < $1.1 }) else { return "" }
        let who = opens.count == 1 ? "agent \(first.0)'s breaker is open (\(Units.counted(first.2, "outage")) in a row)"
            : "the breakers of \(opens.map(\.0).joined(separator: ", ")) are open"
        return "; \(who): not before the cool-down ends in \(Format.duration(first.1 - state.nowMs))"
    }

    /// A failed attempt and what happens next. Dead-lettering is reported from the
    /// `deadLetter` command instead, and a stopped run from `finishRun`.
    func failure(_ t: Int, _ a: Int, _ tr: TransitionRecord, at: Int64, plan: Plan, state: RunState) -> String? {
        let name = plan.taskNames[t]
        let h = attemptRecord(of: t, attempt: a, state)
        let what = h.map { "\($0.errorClass ?? "failed"): \(clean(redact($0.message)))" } ?? "failed"
        let head = "task \(name) \(paint("failed", .red)) (attempt \(ruleAttempt(t, a, plan: plan, state: state, always: true)), \(agent(tr.from, t, plan))): \(what)"
        switch tr.to {
        case .backoff(_, let until):
            return head + ", retrying in \(Format.duration(until - at))" + heldByBreaker(t, after: until, plan: plan, state: state)
        case .ready:
            let g = plan.catchAgent[t]
            return head + ", retrying on \(g >= 0 ? plan.agentNames[g] : "another agent")"
        case .failed where state.substitute[t] >= 0:
            return head + ", fallback \(plan.taskNames[state.substitute[t]]) runs instead"
        case .failed:
            return "\(counter(state)) \(head), not retried: the run is stopping"
        case .awaitingApproval:
            return nil  // the `requestApproval` command says it
        case .waiting, .running, .succeeded, .skipped, .deadLettered, .cancelled:
            return nil  // dead letters and stops are reported from their commands
        }
    }
}
