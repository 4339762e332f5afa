// Compensation (docs/RUNTIME.md "Compensation"): a task's `compensate` names the task that
// undoes it. When the main graph settles without success (failed, cancelled,
// deadline_exceeded, budget_exceeded), every task that succeeded and has an undo is
// compensated, one undo at a time, the latest completion first (a task completes after
// everything it depends on, so this is reverse dependency order with ties broken by the
// journal), then `finally` runs. While undos run the phase stays `running` and
// `compensating` holds the main verdict: a cancel, the deadline and time budgets stop
// nothing (each undo has a `timeout`); money and token budgets still refuse an attempt
// (the undo fails with class `budget_exceeded`). A failed undo (after its own retry rule)
// is `compensation_incomplete`; the rest still run and the verdict stays the main one,
// never `success`. Everything here follows from events the journal already holds
// (completion order is the transitions' `seq`), so replay reproduces it and journals
// from before it replay unchanged.
import EzflowIR

extension PlanBuilder {
    /// Links each task to its undo: `pending` holds (plan task, IR task of its undo).
    static func compensations(_ p: inout Plan, _ pending: [(task: Int, ir: Int, path: String)], _ map: [[Int]]) throws(PlanError) {
        for u in pending {
            guard u.ir >= 0 && u.ir < map.count, map[u.ir].count == 1, p.joinStart[map[u.ir][0]] < 0 else {
                throw PlanError(path: u.path + ".compensate", message: "an undo must be one plain task (not a `for_each` or `workflow` task)")
            }
            let c = map[u.ir][0]
            p.compensate[u.task] = c
            p.compensates[c] = u.task
        }
    }
}

extension RunState {
    /// Whether the run's compensations began (or were found unneeded after a failure).
    public var inCompensation: Bool { compensating != nil && finishing == nil }

    /// The undos that failed: `compensation_incomplete`, in the order they ended.
    public var failedUndos: [Int] {
        (0..<plan.taskCount).filter { t in
            plan.kind(t) == .compensation && (tasks[t] == .failed || tasks[t] == .deadLettered || tasks[t] == .cancelled)
        }.sorted { (transitions[$0].last?.seq ?? 0, $0) < (transitions[$1].last?.seq ?? 0, $1) }
    }

    /// The main graph ended with `verdict` (not success): queue the undos of every task
    /// that succeeded and start the first. False when none is to run: the caller goes on
    /// to `finally` or finishes the run.
    mutating func beginCompensation(_ verdict: Verdict, _ out: inout [Command]) -> Bool {
        guard plan.hasCompensation, verdict != .success, compensating == nil, finishing == nil else { return false }
        let done = (0..<plan.taskCount).filter { plan.compensate[$0] >= 0 && tasks[$0] == .succeeded }
        // Nothing to undo: no compensation began (a dead letter can still be redriven).
        guard !done.isEmpty else { return false }
        compensating = verdict
        // Latest completion first; a join completes in the event of its last nested task
        // and comes after it in the plan, so the higher id goes first on a tie.
        undoQueue = done.sorted { (transitions[$0].last?.seq ?? 0, $0) > (transitions[$1].last?.seq ?? 0, $1) }
            .map { plan.compensate[$0] }
        return nextUndo(&out)
    }

    /// Opens the next queued undo; false when none is left.
    mutating func nextUndo(_ out: inout [Command]) -> Bool {
        while !undoQueue.isEmpty {
            let c = undoQueue.removeFirst()
            guard tasks[c] == .waiting else { continue }
            undoCurrent = c
            pendingDeps[c] = 0
            var work: [(Int, Bool)] = []
            open(c, &work)
            drainFinalize(&work)
            if !interrupted { schedule(&out) }
            // As `beginFinally`: an undo no agent can take now waits for a breaker's
            // cool-down or an agent's health, or ends `no_agent`, never stays ready.
            settle(&out)
            return true
        }
        undoCurrent = -1
        return false
    }

    /// The undos that were not needed (their task did not succeed, or the run did) end
    /// skipped, without a reason, once nothing can open them.
    mutating func skipUnneededUndos() {
        guard plan.hasCompensation else { return }
        for t in 0..<plan.taskCount where plan.kind(t) == .compensation && tasks[t] == .waiting {
            set(t, .skipped)
            finalize(t, ok: false)
        }
    }

    /// Whether the run's end stops `t` now: not a `finally` task nor an undo, which run
    /// after the main graph whatever stopped it.
    func stopsWithMainGraph(_ t: Int) -> Bool {
        !plan.isFinally[t] && plan.kind(t) != .compensation
    }

    /// After the main graph: compensation if it failed, then `finally`. True when either
    /// started (the run goes on); false: the caller finishes the run.
    mutating func afterMainGraph(_ verdict: Verdict, _ out: inout [Command]) -> Bool {
        if beginCompensation(verdict, &out) { return true }
        skipUnneededUndos()
        return beginFinally(verdict, &out)
    }
}
