// `finally` (docs/RUNTIME.md "finally"): tasks that run once the main graph has ended,
// whatever its verdict (success, failed, cancelled, deadline_exceeded, budget_exceeded;
// not a forced kill, after which `ezrun resume` continues and then runs them). While they
// run the phase stays `running` and `finishing` holds the main graph's verdict; the run's
// deadline, time budgets and a cancel no longer stop anything (each finally task has a
// `timeout`), money and token budgets still refuse an attempt (the task fails with class
// `budget_exceeded`). The verdict is journalled once, at the real end (`finishRun`): a
// finally task's failure turns `success` into `failed`, never the reverse.
import EzflowIR

extension RunState {
    /// Whether the main graph ended and the `finally` tasks were opened.
    public var inFinally: Bool { finishing != nil }

    /// The main graph ended with `verdict`: open the `finally` tasks instead of finishing.
    /// False when there are none (or they already ran): the caller finishes the run.
    mutating func beginFinally(_ verdict: Verdict, _ out: inout [Command]) -> Bool {
        guard plan.hasFinally, finishing == nil else { return false }
        finishing = verdict
        var work: [(Int, Bool)] = []
        for t in 0..<plan.taskCount where plan.isFinally[t] && tasks[t] == .waiting {
            // Main tasks are all terminal now (some ended by a stop, without passing on):
            // count only the finally tasks still open, and the main ones that went wrong.
            var pending = 0
            depFailed[t] = 0
            depSkipped[t] = 0
            for k in plan.depStart[t]..<plan.depStart[t + 1] {
                let d = plan.deps[k]
                if plan.isFinally[d] { if !finalized[d] { pending += 1 } else if !endedWell(d) { noteBadEnd(d, of: t) } }
                else if !endedWell(d) { noteBadEnd(d, of: t) }
            }
            pendingDeps[t] = pending
        }
        for t in 0..<plan.taskCount where plan.isFinally[t] && tasks[t] == .waiting && pendingDeps[t] == 0 && triggered(t) {
            open(t, &work)
        }
        drainFinalize(&work)
        if !interrupted { schedule(&out) }
        settle(&out)
        return true
    }

    /// A finally task whose next attempt no budget can ever cover fails with the
    /// budget's class (the run is not stopped: its main graph already ended).
    mutating func refuseInFinally(_ t: Int) {
        failWithoutAttempt(t, Verdict.budgetExceeded.rawValue, "the worst case of its next attempt does not fit the budget left")
        finalize(t, ok: false)
    }

    /// The verdict once the finally tasks ended too: the main graph's, but `success`
    /// becomes `failed` when a finally task failed (and did not allow it).
    func finalVerdict(main v: Verdict) -> Verdict {
        v == .success && !allEndedWell() ? .failed : v
    }

    /// `run.status`: how the main graph ended, as `run_status` reads it; nil before.
    public var runStatus: String? {
        switch finishing {
        case nil: nil
        case .success?: "succeeded"
        case let v?: v.rawValue
        }
    }

    /// `run.failures`: the main tasks that failed and count (no fallback recovered them,
    /// no `allow_failure`), in the order they ended in the journal.
    public var runFailures: [String] {
        let failed = (0..<plan.taskCount).filter { t in
            !plan.isFinally[t] && (tasks[t] == .failed || tasks[t] == .deadLettered) && recoveredBy(t) == nil && !allowedFailure(t)
                && !(tasks[t] == .failed && substitute[t] >= 0 && finalized[t] == false)
        }
        return failed.sorted { (transitions[$0].last?.seq ?? 0, $0) < (transitions[$1].last?.seq ?? 0, $1) }.map { plan.taskNames[$0] }
    }

    /// `run.status` and `run.failures` as expression values (finally tasks only).
    public var runValues: [String: JSONValue] {
        guard let s = runStatus else { return [:] }
        return ["status": .string(s), "failures": .array(runFailures.map { .string($0) })]
    }
}
