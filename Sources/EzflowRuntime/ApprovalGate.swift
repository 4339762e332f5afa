// An `approve` gate's timeout and question (docs/RUNTIME.md, "Approval gates"). The gate's
// `timeout` starts when the core asks for the approval; when it fires unanswered the gate
// does what `on_timeout` says: `reject` (the default: an unanswered gate is a no), `approve`,
// `fail` (a failure of class `timeout`, through the task's retry rule, `catch` and dead
// letter) or `escalate` (the approvers become `escalate_to` for `escalate_timeout`, default
// the same `timeout`; then it is rejected). The settings live in the IR task object, so a
// plan built without IR (synthetic plans) has gates that never time out.
import EzflowIR
import EzflowUnits

/// What an `approve` gate does when its `timeout` fires unanswered (IR `on_timeout`).
public enum GateTimeoutAction: String, Sendable, Equatable, CaseIterable {
    case reject, approve, fail, escalate
}

extension Plan {
    /// `on_timeout` of gate `t` (absent: `reject`).
    public func gateOnTimeout(_ t: Int) -> GateTimeoutAction {
        guard t < taskJSON.count, case .string(let w)? = taskJSON[t]["on_timeout"] else { return .reject }
        return GateTimeoutAction(rawValue: w) ?? .reject
    }

    /// The roles an escalated gate `t` waits for (IR `escalate_to`).
    public func gateEscalateTo(_ t: Int) -> [String] {
        guard t < taskJSON.count, case .array(let xs)? = taskJSON[t]["escalate_to"] else { return [] }
        return xs.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }

    /// How long stage `stage` of gate `t` waits: its `timeout`, then (escalated) its
    /// `escalate_timeout` or the same `timeout`; 0 = forever.
    public func gateTimeoutMs(_ t: Int, stage: Int) -> Int64 {
        guard stage > 0 else { return timeoutMs[t] }
        if t < taskJSON.count, case .int(let ms)? = taskJSON[t]["escalate_timeout_ms"], ms > 0 { return ms }
        return timeoutMs[t]
    }

    /// The longest gate `t` may wait for one answer: its timeout, plus the escalation's.
    public func gateWorstMs(_ t: Int) -> Int64 {
        guard timeoutMs[t] > 0 else { return 0 }
        guard gateOnTimeout(t) == .escalate else { return timeoutMs[t] }
        return Plan.saturatingAdd(timeoutMs[t], gateTimeoutMs(t, stage: 1))
    }
}

extension RunState {
    /// Gate `t`'s `approve:` question rendered over the state's values (inputs and
    /// finished tasks' outputs, already redacted when folded; the checker keeps secrets
    /// out of it). A value that cannot be rendered is said in the text, never thrown.
    public func approvalQuestion(_ t: Int) -> String? {
        guard t < plan.taskJSON.count, case .array(let parts)? = plan.taskJSON[t]["template"] else { return nil }
        do throws(ExprError) { return try IRExpr.render(parts, in: reader(for: t)) } catch {
            return "(the question cannot be rendered: \(error.message))"
        }
    }

    /// The stage gate `t` is in: 0 with its `approvers`, 1 once escalated.
    public func gateStage(_ t: Int) -> Int { escalatedAtMs[t] == nil ? 0 : 1 }

    /// The roles that may answer gate `t` now: `escalate_to` once escalated, else nil
    /// (its own `approvers`).
    public func escalatedApprovers(_ t: Int) -> [String]? { escalatedAtMs[t] == nil ? nil : plan.gateEscalateTo(t) }

    /// What happens to open gate `t` if nobody answers, for people: "rejected if nobody
    /// answers within 200ms", "escalated to `sre` if …"; nil when it waits forever.
    public func gateTimeoutNote(_ t: Int) -> String? {
        let stage = gateStage(t)
        let ms = plan.gateTimeoutMs(t, stage: stage)
        guard ms > 0 else { return stage == 0 ? nil : "escalated to " + roleList(plan.gateEscalateTo(t)) }
        let within = " if nobody answers within \(Units.durationCompound(ms))"
        if stage > 0 { return "escalated to " + roleList(plan.gateEscalateTo(t)) + "; rejected" + within }
        switch plan.gateOnTimeout(t) {
        case .reject: return "rejected" + within
        case .approve: return "approved" + within
        case .fail: return "failed (class timeout)" + within
        case .escalate: return "escalated to " + roleList(plan.gateEscalateTo(t)) + within
        }
    }

    func roleList(_ roles: [String]) -> String { roles.map { "`\($0)`" }.joined(separator: ", ") }

    /// When the current stage of open gate `t` times out, or nil if it never does.
    public func gateDeadlineMs(_ t: Int) -> Millis? {
        let stage = gateStage(t)
        let ms = plan.gateTimeoutMs(t, stage: stage)
        guard ms > 0 else { return nil }
        return Plan.saturatingAdd(stage == 0 ? attemptStartMs[t] : escalatedAtMs[t] ?? nowMs, ms)
    }

    /// Asks for gate `t`'s answer, with its question, and arms its timeout (a new request
    /// at open or escalation; the same one again on resume).
    func requestGate(_ t: Int, _ out: inout [Command]) {
        out.append(.requestApproval(task: t, reason: .gate, text: approvalQuestion(t)))
        if let at = gateDeadlineMs(t) {
            out.append(.setTimer(.approvalTimeout(task: t, attempt: attempts[t] + 1, stage: gateStage(t)), atMs: at))
        }
    }

    /// Timer `approval/t/a/stage` fired: a no-op unless gate `t` still waits for that
    /// answer in that stage; otherwise `on_timeout` decides (an escalated gate is rejected).
    mutating func gateTimedOut(_ t: Int, attempt a: Int, stage: Int, _ out: inout [Command]) {
        guard tasks[t] == .awaitingApproval, pendingConflict[t] == nil, phase == .running,
              a == attempts[t] + 1, stage == gateStage(t) else { return }
        announcedWaiting = false
        let waited = Units.durationCompound(plan.gateTimeoutMs(t, stage: stage))
        let action: GateTimeoutAction = stage == 0 ? plan.gateOnTimeout(t) : .reject
        let opened = stage == 0 ? attemptStartMs[t] : escalatedAtMs[t] ?? attemptStartMs[t]
        escalatedAtMs[t] = nil
        func record(_ cls: String?, _ what: String) {
            attempts[t] += 1
            history[t].append(AttemptRecord(attempt: attempts[t], agent: -1, errorClass: cls,
                                            message: "no answer within \(waited): \(what)", startedAtMs: opened,
                                            endedAtMs: nowMs, costMicros: 0, tokens: 0))
        }
        switch action {
        case .reject:
            record("denied", stage == 0 ? "rejected (on_timeout: reject)" : "rejected after the escalation")
            set(t, .failed)
            finalize(t, ok: false)
        case .approve:
            record(nil, "approved (on_timeout: approve)")
            set(t, .succeeded)
            finalize(t, ok: true)
        case .fail:
            record("timeout", "failed (on_timeout: fail)")
            fail(t, errorClass: "timeout", &out)
        case .escalate:
            escalatedAtMs[t] = nowMs
            requestGate(t, &out)
        }
    }
}
