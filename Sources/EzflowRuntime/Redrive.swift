// `taskRedriven`: an operator sends a dead-lettered task back (`ezrun dlq retry`). The
// one place a terminal task state is left: the task becomes ready with a fresh retry
// rule, and every task that ended only because of it (skipped dependents, a workflow
// task failed by it, the failed tasks a dead-lettered fallback stood in for) waits again.

extension RunState {
    /// Why re-driving `t` now would change nothing, or nil when it may go: the task must
    /// be dead-lettered, the run running or finished on its own (success or failure, not
    /// stopped by a budget, the deadline or a cancel), and before its deadline and every
    /// time budget over `t` at `now` (the run's clock; the event's time in the core).
    public func redriveRefusal(_ t: Int, at now: Millis) -> String? {
        guard t >= 0 && t < plan.taskCount else { return "the run has no such task" }
        guard tasks[t] == .deadLettered else { return "task `\(plan.taskNames[t])` is \(tasks[t].name), not dead-lettered" }
        if finishing != nil { return "the run's `finally` tasks have started; its main graph is over" }
        if compensating != nil { return "the run's compensations have started; its main graph is over" }
        if plan.kind(t) == .compensation { return "task `\(plan.taskNames[t])` is an undo: it runs only during compensation" }
        switch phase {
        case .running, .finished(.success), .finished(.failed), .finished(.waitingForApproval): break
        case .notStarted: return "the run has not started"
        case .draining(let v), .finished(let v): return "the run was stopped (\(v.rawValue)); a stopped run is not re-driven"
        }
        if let stop = stopAt(t), now >= stop.atMs { return "the run is past \(stop.what)" }
        return nil
    }

    /// Folds `taskRedriven(t)`; a no-op when `redriveRefusal` names a reason.
    mutating func redrive(_ t: Int, _ out: inout [Command]) {
        guard redriveRefusal(t, at: nowMs) == nil else { return }
        if case .finished = phase {
            phase = .running
            announcedWaiting = false
            // Timers the journal already holds are armed once by the shell (same id, same time).
            rearmRunTimers(&out)
        }
        var reopened = Array(repeating: false, count: plan.taskCount)
        move(t, .waiting)
        reopen(t, &reopened)
        attemptBase[t] = attempts[t]
        usedCatchAgent[t] = false
        prevDelayMs[t] = 0
        let cells = reopenCancelledCells(t, &reopened)
        reopenDependents(&reopened)
        makeReady(t)
        for c in cells { makeReady(c) }
    }

    /// `t` is open again: not finalized, and so are the failed tasks it stood in for as a
    /// fallback (they settle again with it).
    mutating func reopen(_ t: Int, _ reopened: inout [Bool]) {
        var work = [t]
        while let x = work.popLast() {
            guard !reopened[x] else { continue }
            reopened[x] = true
            finalized[x] = false
            work += substituteWaiters[x] ?? []
        }
    }

    /// Tasks that ended without running because of a reopened task wait again, in id
    /// (topological) order until nothing changes: a task skipped (or a workflow task failed
    /// with no fallback started) whose dependencies are reopened or did not fail. One
    /// with another failed dependency stays as it is.
    mutating func reopenDependents(_ reopened: inout [Bool]) {
        var changed = true
        while changed {
            changed = false
            for d in 0..<plan.taskCount where !reopened[d] && endedByDependency(d) {
                let deps = plan.deps[plan.depStart[d]..<plan.depStart[d + 1]]
                guard deps.contains(where: { reopened[$0] }),
                      deps.allSatisfy({ reopened[$0] || endedWell($0) || !tasks[$0].isTerminal }) else { continue }
                move(d, .waiting)
                pendingDeps[d] = deps.filter { !endedWell($0) }.count
                resetGate(d)
                reopen(d, &reopened)
                changed = true
            }
        }
    }

    /// Whether `d` ended without an attempt of its own going wrong: skipped, or a
    /// workflow task failed by a nested task with no fallback started for it.
    func endedByDependency(_ d: Int) -> Bool {
        switch tasks[d] {
        case .skipped: return true
        case .failed:
            switch plan.kind(d) {
            case .join: return substitute[d] < 0
            case .loop: return history[d].isEmpty
            case .task, .approval, .fallback, .fallbackApproval, .compensation: return false
            }
        case .waiting, .ready, .running, .backoff, .awaitingApproval, .succeeded, .deadLettered, .cancelled: return false
        }
    }

    /// Succeeded, or failed and made good by its fallback chain.
    func endedWell(_ x: Int) -> Bool {
        tasks[x] == .succeeded || (tasks[x] == .failed && substitute[x] >= 0 && substituteSucceeded(x)) || allowedFailure(x)
            || isUnusedSlot(x)
    }
}
