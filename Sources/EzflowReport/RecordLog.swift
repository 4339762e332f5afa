// The structured log line of one journal record (`ezrun run --log F`): a message per
// event kind and the fields a query needs (seed, cost, error class, verdict, …).
import EzflowIR
import EzflowRuntime

extension JSONLog {
    /// The log record for `r` of run `runID`. Both switches are exhaustive: a new event
    /// or command kind must choose its wording here.
    public static func record(_ r: JournalRecord, runID: String, plan: Plan) -> LogLine {
        func agentName(_ a: Int) -> String { plan.agentLabel(a) }
        var line = LogLine(atMs: r.event.atMs, level: .info, runID: runID, message: "", fields: ["seq": .int(Int64(r.seq))])
        switch r.event {
        case .runStarted(_, let seed, let hash, _, _, _, _):
            line.message = "run started"
            line.fields["seed"] = .string(String(seed)); line.fields["ir_hash"] = .string(hash)
        case .taskSucceeded(let t, let a, _, let cost, let tokens, _):
            line.task = plan.taskNames[t]; line.attempt = a
            line.message = "attempt succeeded"
            line.fields["cost_micros"] = .int(cost); line.fields["tokens"] = .int(tokens)
        case .taskFailed(let t, let a, let cls, let msg, let cost, _, _, _):
            line.task = plan.taskNames[t]; line.attempt = a; line.level = .warn
            line.message = "attempt failed: \(msg)"
            line.fields["error_class"] = .string(cls); line.fields["cost_micros"] = .int(cost)
        case .timerFired(let id, _):
            line.message = "timer fired"; line.fields["timer"] = .string(id.description)
        case .approvalGiven(let t, let p, let ok, _):
            line.task = plan.taskNames[t]
            line.message = ok ? "approved by \(p)" : "rejected by \(p)"
        case .approvalRefused(let t, let p, let reason, _):
            line.task = plan.taskNames[t]; line.level = .warn
            line.message = "approval by \(p) refused: \(reason)"
            line.fields["principal"] = .string(p)
        case .agentHealth(let a, let h, _):
            line.message = "agent \(agentName(a)) \(h ? "healthy" : "unhealthy")"
        case .cancelRequested(let reason, _):
            line.message = "cancel requested: \(reason)"; line.level = .warn
        case .resumed:
            line.message = "run resumed"
        case .backendFallback(let primary, let reason, _):
            line.message = "run on the fallback backend: the primary was unreachable: \(reason)"; line.level = .warn
            line.fields["primary"] = .string(primary)
        case .planUpgraded(let from, let to, _):
            line.message = "plan upgraded"
            line.fields["from_ir_hash"] = .string(from); line.fields["ir_hash"] = .string(to)
        case .interrupted(let signal, let drain, _):
            line.message = "run interrupted by \(signal)"; line.level = .warn
            line.fields["signal"] = .string(signal); line.fields["drain"] = .bool(drain)
        case .taskRedriven(let t, let p, _):
            line.task = plan.taskNames[t]
            line.message = "re-driven by \(p)"
            line.fields["principal"] = .string(p)
        }
        var dispatches: [JSONValue] = []
        for c in r.commands {
            switch c {
            case .dispatch(let t, let a, let ag, _, _):
                dispatches.append(.object([("agent", .string(agentName(ag))), ("attempt", .int(Int64(a))), ("task", .string(plan.taskNames[t]))]))
            case .finishRun(let v): line.fields["verdict"] = .string(v.rawValue)
            case .deadLetter(let t, _): line.fields["dead_letter"] = .string(plan.taskNames[t]); line.level = .error
            case .requestApproval(let t, _, let text):
                line.fields["approval_requested"] = .string(plan.taskNames[t])
                if let text { line.fields["question"] = .string(text) }
            case .setTimer, .cancel:
                break  // bookkeeping: the timer's firing and the attempt's end are logged when they happen
            }
        }
        if !dispatches.isEmpty { line.fields["dispatched"] = .array(dispatches) }
        return line
    }
}
