// The simulation's oracle: what must hold after every simulated run, whatever faults
// were injected. A violation is a bug in the runner (or the core), reported with the
// seed that reproduces it.
import EzflowIR
import EzflowPorts
import EzflowRunner
import EzflowRuntime
import EzflowUnits

enum SimOracle {
    /// Checks the committed journal and the final state. `replayEnvironment` must be a
    /// fresh environment equal to the one the run started with.
    static func check(journal: [JournalRecord], finalState: RunState, plan: Plan, verdict: Verdict,
                      replayEnvironment: RunEnvironment) -> String? {
        if let m = sequence(journal) { return m }
        if let m = completions(journal) { return m }
        if let m = timersFireOnce(journal) { return m }
        if let m = noRerun(journal, plan: plan) { return m }
        if let m = terminal(finalState, plan: plan, verdict: verdict) { return m }
        if let m = budgets(finalState, plan: plan) { return m }
        return replay(journal, plan: plan, finalState: finalState, environment: replayEnvironment)
    }

    /// The queue's dead-letter feed holds exactly the entries the journal makes, each
    /// once, in journal order: none lost to a crash between a commit and its feed write.
    static func deadLetterFeed(_ feed: [DeadLetterEntry], journal: [JournalRecord], plan: Plan, runID: String) -> String? {
        var maker = DeadLetterFeed(runID: runID, versions: [plan.taskNames])
        let expected = journal.flatMap { maker.entries(of: $0) }
        guard feed != expected else { return nil }
        let show = { (es: [DeadLetterEntry]) in es.map { "\($0.kind.rawValue) \($0.taskName) (seq \($0.seq))" }.joined(separator: ", ") }
        return "the dead-letter feed holds [\(show(feed))], the journal makes [\(show(expected))]"
    }

    /// Every record numbered by its position: no gap, no repeat.
    static func sequence(_ journal: [JournalRecord]) -> String? {
        for (i, r) in journal.enumerated() where r.seq != i { return "journal record \(i) has seq \(r.seq): a gap or a repeat" }
        return nil
    }

    /// Each (task, attempt) has at most one result journalled.
    static func completions(_ journal: [JournalRecord]) -> String? {
        var seen = Set<Int64>()
        for r in journal {
            switch r.event {
            case .taskSucceeded(let t, let a, _, _, _, _), .taskFailed(let t, let a, _, _, _, _, _, _):
                guard seen.insert(Int64(t) << 32 | Int64(a)).inserted else {
                    return "attempt \(a) of a task (plan id \(t)) has two results journalled (seq \(r.seq))"
                }
            case .runStarted, .timerFired, .approvalGiven, .agentHealth, .approvalRefused, .cancelRequested, .resumed, .planUpgraded, .interrupted, .taskRedriven, .backendFallback:
                break
            }
        }
        return nil
    }

    /// Each timer fires at most once per plan version: a second `timer_fired` would be a
    /// record that decides nothing (a resumed runner that armed a timer twice). `wake` fires
    /// at most once per `setTimer` (a second cool-down or health wait sets it again).
    static func timersFireOnce(_ journal: [JournalRecord]) -> String? {
        var fired = Set<String>()
        for r in journal {
            defer { for c in r.commands { if case .setTimer(.wake, _) = c { fired.remove(TimerID.wake.description) } } }
            switch r.event {
            case .timerFired(let id, _):
                guard fired.insert(id.description).inserted else { return "timer \(id) fired twice (seq \(r.seq))" }
            case .planUpgraded: fired.removeAll()
            case .runStarted, .taskSucceeded, .taskFailed, .approvalGiven, .agentHealth, .approvalRefused, .cancelRequested, .resumed, .interrupted, .taskRedriven, .backendFallback:
                break
            }
        }
        return nil
    }

    /// No task is dispatched again after its success is journalled; at most one attempt of
    /// a task runs at a time (a new attempt only after the previous one ended or was
    /// abandoned).
    static func noRerun(_ journal: [JournalRecord], plan: Plan) -> String? {
        var succeeded = Set<Int>()
        // The attempt the core runs per task: a success counts only for it (a late result
        // of an abandoned attempt is charged and ignored).
        var current: [Int: Int] = [:]
        for r in journal {
            if case .taskSucceeded(let t, let a, _, _, _, _) = r.event, current[t] == a { succeeded.insert(t) }
            for c in r.commands {
                switch c {
                case .dispatch(let t, let a, _, _, _):
                    // A resumed run re-dispatches only what is still running: never a success.
                    if succeeded.contains(t) { return "task `\(plan.taskNames[t])` dispatched again (attempt \(a), seq \(r.seq)) after it succeeded" }
                    if let c = current[t], c != a { return "task `\(plan.taskNames[t])` dispatched attempt \(a) while attempt \(c) runs (seq \(r.seq))" }
                    current[t] = a
                case .cancel(let t, let a) where current[t] == a: current[t] = nil
                case .cancel, .setTimer, .requestApproval, .deadLetter, .finishRun: break
                }
            }
            switch r.event {
            case .taskSucceeded(let t, let a, _, _, _, _), .taskFailed(let t, let a, _, _, _, _, _, _):
                if current[t] == a { current[t] = nil }
            case .runStarted, .timerFired, .approvalGiven, .agentHealth, .approvalRefused, .cancelRequested, .resumed, .planUpgraded, .interrupted, .taskRedriven, .backendFallback: break
            }
        }
        return nil
    }

    /// A finished run leaves no task in flight.
    static func terminal(_ state: RunState, plan: Plan, verdict: Verdict) -> String? {
        guard verdict != .waitingForApproval else { return nil }
        for t in 0..<plan.taskCount where !state.tasks[t].isTerminal {
            return "the run ended \(verdict.rawValue) with task `\(plan.taskNames[t])` \(state.tasks[t].name)"
        }
        return nil
    }

    /// Money and tokens charged stay within every budget, in integer units.
    static func budgets(_ s: RunState, plan: Plan) -> String? {
        if plan.budgetMoneyMicros >= 0 && s.chargedMicros > plan.budgetMoneyMicros {
            return "charged \(s.chargedMicros) µ$, the workflow budget is \(plan.budgetMoneyMicros) µ$"
        }
        if plan.budgetTokens >= 0 && s.chargedTokens > plan.budgetTokens {
            return "charged \(Units.counted(s.chargedTokens, "token")), the workflow budget is \(plan.budgetTokens)"
        }
        for g in 0..<plan.groupNames.count where g < plan.groupBudgetMoneyMicros.count {
            if plan.groupBudgetMoneyMicros[g] >= 0 && s.groupChargedMicros[g] > plan.groupBudgetMoneyMicros[g] {
                return "group `\(plan.groupNames[g])` charged \(s.groupChargedMicros[g]) µ$, its budget is \(plan.groupBudgetMoneyMicros[g]) µ$"
            }
            if plan.groupBudgetTokens[g] >= 0 && s.groupChargedTokens[g] > plan.groupBudgetTokens[g] {
                return "group `\(plan.groupNames[g])` charged \(Units.counted(s.groupChargedTokens[g], "token")), its budget is \(plan.groupBudgetTokens[g])"
            }
        }
        return nil
    }

    /// The journal replays through a fresh core to the same state, and its encoding
    /// round-trips byte for byte.
    static func replay(_ journal: [JournalRecord], plan: Plan, finalState: RunState, environment: RunEnvironment) -> String? {
        let replayed: RunState
        do { replayed = try Replay.verify(plans: [plan], journal: journal, environment: environment) } catch {
            return "the journal does not replay: \(error)"
        }
        guard replayed.seq == finalState.seq, replayed.tasks == finalState.tasks, replayed.chargedMicros == finalState.chargedMicros,
              replayed.chargedTokens == finalState.chargedTokens
        else { return "replaying the journal gives another state than the run's" }
        let bytes = Journal.encode(journal)
        let decoded: [JournalRecord]
        do { decoded = try Journal.decode(bytes) } catch { return "the journal does not decode: \(error)" }
        // Equal values encode to equal bytes (the codec is canonical; `CodecTests` checks
        // each kind), so one encode and one decode prove the round trip.
        guard decoded == journal else { return "the journal's encoding does not round-trip byte for byte" }
        return nil
    }
}
