// How every report shows compensation (docs/RUNTIME.md "Compensation"): an undo that
// failed (after its retry rule) makes the run `compensation_incomplete`, named in
// `ezrun status`, the progress lines, the summary and JUnit; an undo that was not needed
// (its task did not succeed, or the run did) reads `skipped (not needed)`.
import EzflowRuntime

/// The undos that failed, by name, in the order they ended; empty when none did.
public func compensationIncomplete(_ state: RunState) -> [String] {
    state.failedUndos.map { state.plan.taskNames[$0] }
}

/// One line naming each failed undo and the task it was to undo; nil when none failed.
public func compensationIncompleteText(_ state: RunState) -> String? {
    let failed = state.failedUndos
    guard !failed.isEmpty else { return nil }
    let named = failed.map { "`\(state.plan.taskNames[$0])` (undo of `\(state.plan.taskNames[state.plan.compensates[$0]])`)" }
    return "compensation_incomplete: " + named.joined(separator: ", ") + " failed"
}

/// `skipped (not needed)` for an undo that never ran; nil for any other task.
func undoShownState(_ state: RunState, task t: Int) -> String? {
    guard state.plan.kind(t) == .compensation, state.tasks[t] == .skipped else { return nil }
    return "skipped (not needed)"
}

/// The name of the task that `t` undoes, when `t` is an undo (reports' `compensates`).
public func undone(_ state: RunState, by t: Int) -> String? {
    let x = state.plan.kind(t) == .compensation ? state.plan.compensates[t] : -1
    return x >= 0 ? state.plan.taskNames[x] : nil
}
