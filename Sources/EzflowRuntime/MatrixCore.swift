// What the core does for a `matrix` (docs/RUNTIME.md, "matrix"): `max_parallel` holds
// ready cells while that many of their matrix run; `fail_fast` cancels the other open
// cells once one dead-letters. Both are read from the plan and the task states, so the
// state holds nothing more (migration and replay need nothing new).
extension RunState {
    /// Whether `t`'s matrix leaves room for one more running cell.
    func matrixHasRoom(_ t: Int) -> Bool {
        let limit = plan.matrixMaxParallel(t)
        guard limit >= 0 else { return true }
        var running = 0
        for c in plan.matrixCells(of: t) {
            if case .running = tasks[c] { running += 1 }
        }
        return running < limit
    }

    /// `fail_fast`: cell `t` dead-lettered, so every other cell of its matrix that has not
    /// ended is cancelled (a running attempt is cancelled too); their dependents see them
    /// end without success.
    mutating func cancelOtherCells(_ t: Int, _ out: inout [Command]) {
        guard plan.matrixFailFast(t), phase == .running else { return }
        for c in plan.matrixCells(of: t) where c != t && !tasks[c].isTerminal {
            switch tasks[c] {
            case .running(let a, let agent):
                out.append(.cancel(task: c, attempt: a))
                abandoned[c].append(a)
                endAttempt(c, agent: agent, errorClass: "cancelled",
                           message: "cancelled: cell `\(plan.taskNames[t])` failed (fail_fast)", cost: 0, tokens: 0)
            case .ready:
                readyQueue.removeAll { $0 == c }
            default:
                break
            }
            set(c, .cancelled)
            finalize(c, ok: false)
        }
    }

    /// Re-driving the dead-lettered cell `t` reopens the cells its `fail_fast` cancelled (in
    /// a run that may be re-driven, a cancelled cell was cancelled by it: a stopped run is
    /// refused), each with a fresh retry rule; they are readied after `t`. Their
    /// dependencies are `t`'s, which all succeeded.
    mutating func reopenCancelledCells(_ t: Int, _ reopened: inout [Bool]) -> [Int] {
        guard plan.isMatrixCell(t), plan.matrixFailFast(t) else { return [] }
        var out: [Int] = []
        for c in plan.matrixCells(of: t) where c != t && tasks[c] == .cancelled {
            move(c, .waiting)
            pendingDeps[c] = 0
            reopen(c, &reopened)
            attemptBase[c] = attempts[c]
            usedCatchAgent[c] = false
            prevDelayMs[c] = 0
            out.append(c)
        }
        return out
    }
}
