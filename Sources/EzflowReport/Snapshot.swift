// The one input every renderer takes: a run's plan, its folded state, the journal it
// was folded from and the captured agent output. Renderers are pure functions of it, so
// the same snapshot always renders the same bytes (goldens, re-rendering after resume).
import EzflowIR
import EzflowRuntime
import EzflowUnits

/// What an attempt printed, as the shell captured it. Kept outside the journal because
/// output is large and not needed for replay.
public struct AttemptLog: Sendable, Equatable {
    public var task: Int
    public var attempt: Int
    /// -1 for the shell's local executor.
    public var agent: Int
    public var stdout: String
    public var stderr: String
    /// nil when there was no process (http/llm drivers) or it was killed.
    public var exitCode: Int32?
    public var durationMs: Int64

    public init(task: Int, attempt: Int, agent: Int, stdout: String, stderr: String, exitCode: Int32?, durationMs: Int64) {
        self.task = task
        self.attempt = attempt
        self.agent = agent
        self.stdout = stdout
        self.stderr = stderr
        self.exitCode = exitCode
        self.durationMs = durationMs
    }
}

/// A run as reports see it. `state` must be the fold of `journal` over `plan`.
public struct RunSnapshot: Sendable {
    public var runID: String
    public var workflowName: String
    public var plan: Plan
    public var state: RunState
    public var journal: [JournalRecord]
    public var logs: [AttemptLog]
    /// Epoch milliseconds (the runner's wall clock; virtual in simulations).
    public var startedAtMs: Int64
    public var endedAtMs: Int64

    public init(runID: String, workflowName: String, plan: Plan, state: RunState, journal: [JournalRecord],
                logs: [AttemptLog] = [], startedAtMs: Int64, endedAtMs: Int64) {
        self.runID = runID
        self.workflowName = workflowName
        self.plan = plan
        self.state = state
        self.journal = journal
        self.logs = logs
        self.startedAtMs = startedAtMs
        self.endedAtMs = endedAtMs
    }

    /// Folds `journal` from a fresh state (commands are recomputed, not compared: use
    /// `Replay.verify` for that) and takes run id and times from it: started = the
    /// `run_started` time, ended = the last event's time unless `endedAtMs` is given
    /// (a run still going reports up to "now").
    public static func folding(workflowName: String, plan: Plan, journal: [JournalRecord], logs: [AttemptLog] = [],
                               environment: RunEnvironment = RunEnvironment(), endedAtMs: Int64? = nil)
        throws(TransitionError) -> RunSnapshot
    {
        var state = RunState(plan: plan, environment: environment)
        for r in journal { _ = try Core.step(&state, r.event) }
        let end = endedAtMs ?? journal.last?.event.atMs ?? state.startedAtMs
        return RunSnapshot(runID: state.runID, workflowName: workflowName, plan: plan, state: state, journal: journal,
                           logs: logs, startedAtMs: state.startedAtMs, endedAtMs: max(end, state.startedAtMs))
    }
}

// MARK: - Derived per-attempt and per-task views shared by the renderers

/// One attempt with everything a report shows about it. Built from `RunState.history`
/// (ended attempts) plus the running attempt, with cost and tokens taken from the
/// journal: a late result of an abandoned (timed-out) attempt is charged to the run but
/// not to its history record, and reports must add up to the run's total.
struct AttemptView {
    var attempt: Int
    var agent: Int
    var agentName: String
    var errorClass: String?
    var message: String
    var startedAtMs: Int64
    /// nil while running.
    var endedAtMs: Int64?
    var costMicros: Int64
    var tokens: Int64
    var log: AttemptLog?

    var outcome: String {
        if endedAtMs == nil { return "running" }
        return errorClass ?? "succeeded"
    }

    func durationMs(now: Int64) -> Int64 { max(0, (endedAtMs ?? now) - startedAtMs) }
}

/// A task with its attempts and totals.
struct TaskView {
    var id: Int
    var name: String
    var state: TaskState
    var attempts: [AttemptView]
    var costMicros: Int64
    var tokens: Int64
    var durationMs: Int64
    /// The fallback that ran instead of this task (`catch: task`), if any.
    var fallback: String?
    /// The fallback of the chain standing in for a failed task that succeeded
    /// (`RunState.recoveredBy`): the task is "recovered by fallback" it.
    var recoveredBy: String?
    /// Whether the fallback chain standing in for a failed task succeeded.
    var rescued: Bool { recoveredBy != nil }
    /// First attempt start, else the time the task reached its state.
    var startMs: Int64
    var endMs: Int64

    var lastFailure: AttemptView? { attempts.last(where: { $0.errorClass != nil }) }
    var lastAttempt: AttemptView? { attempts.last }
}

extension RunSnapshot {
    /// Every task with its attempts, in plan (topological id) order.
    func taskViews() -> [TaskView] {
        let plan = self.plan, state = self.state
        struct Key: Hashable { var task: Int; var attempt: Int }
        var charged: [Key: (Int64, Int64)] = [:]
        var eventTime: [Int: Int64] = [:]  // seq → atMs, for transition times
        for r in journal {
            eventTime[r.seq] = r.event.atMs
            switch r.event {
            case .taskSucceeded(let t, let a, _, let c, let k, _), .taskFailed(let t, let a, _, _, let c, let k, _, _):
                let old = charged[Key(task: t, attempt: a)] ?? (0, 0)
                charged[Key(task: t, attempt: a)] = (old.0 + c, old.1 + k)
            case .runStarted, .timerFired, .approvalGiven, .approvalRefused, .agentHealth, .cancelRequested, .resumed, .planUpgraded,
                 .interrupted, .taskRedriven, .backendFallback:
                break  // charge nothing
            }
        }
        var logByKey: [Key: AttemptLog] = [:]
        for l in logs { logByKey[Key(task: l.task, attempt: l.attempt)] = l }
        let now = endedAtMs
        var out: [TaskView] = []
        out.reserveCapacity(plan.taskCount)
        // A dynamic fan-out's unused slots: one view per run of them (FanoutReport.swift).
        let unused = UnusedSlots.all(state)
        for t in 0..<plan.taskCount {
            if state.isUnusedSlot(t) {
                guard let u = unused[t] else { continue }
                let at = state.transitions[t].last.flatMap { eventTime[$0.seq] } ?? startedAtMs
                out.append(TaskView(id: t, name: "\(u.name) (\(u.text))", state: .skipped, attempts: [], costMicros: 0, tokens: 0,
                                    durationMs: 0, fallback: nil, recoveredBy: nil, startMs: at, endMs: at))
                continue
            }
            var attempts: [AttemptView] = []
            for h in state.history[t] {
                let c = charged[Key(task: t, attempt: h.attempt)]
                attempts.append(AttemptView(
                    attempt: h.attempt, agent: h.agent, agentName: agentName(h.agent, task: t), errorClass: h.errorClass,
                    message: h.message, startedAtMs: h.startedAtMs, endedAtMs: h.endedAtMs,
                    costMicros: c?.0 ?? h.costMicros, tokens: c?.1 ?? h.tokens, log: logByKey[Key(task: t, attempt: h.attempt)]))
            }
            if case .running(let a, let g) = state.tasks[t] {
                attempts.append(AttemptView(
                    attempt: a, agent: g, agentName: agentName(g, task: t), errorClass: nil, message: "",
                    startedAtMs: state.attemptStartMs[t], endedAtMs: nil, costMicros: 0, tokens: 0,
                    log: logByKey[Key(task: t, attempt: a)]))
            }
            let cost = attempts.reduce(Int64(0)) { $0 + $1.costMicros }
            let tokens = attempts.reduce(Int64(0)) { $0 + $1.tokens }
            let duration = attempts.reduce(Int64(0)) { $0 + $1.durationMs(now: now) }
            let sub = state.substitute[t]
            let lastChange = state.transitions[t].last.flatMap { eventTime[$0.seq] }
            let start = attempts.first?.startedAtMs ?? lastChange ?? startedAtMs
            let end = attempts.last.map { $0.endedAtMs ?? now } ?? start
            out.append(TaskView(
                id: t, name: plan.taskNames[t], state: state.tasks[t], attempts: attempts, costMicros: cost, tokens: tokens,
                durationMs: duration, fallback: sub >= 0 ? plan.taskNames[sub] : nil,
                recoveredBy: state.tasks[t] == .failed ? state.recoveredBy(t).map { plan.taskNames[$0] } : nil,
                startMs: start, endMs: max(end, start)))
        }
        return out
    }

    /// Display name of an attempt's agent: approvals and the shell's local executor
    /// have no agent id.
    func agentName(_ g: Int, task t: Int) -> String {
        plan.agentLabel(g, task: t)
    }

    /// Whether `t` is the task the run's budget refused (the core's `refusedTask`): it never
    /// ran, and the reason is the budget, not a dependency.
    func budgetRefused(_ t: Int) -> Bool { isBudgetRefused(state, task: t) }

    /// Why the budget refused `refusedTask` (`refusalText`).
    var budgetRefusal: String { refusalText(state) }

    /// A task's state as reports name it: `budget_refused` for the refused task, else the
    /// core's state name.
    func stateText(_ t: TaskView) -> String { shownState(state, task: t.id) }

    /// `success`, `failed`… once finished; `running`/`draining` before.
    var verdictText: String {
        switch state.phase {
        case .finished(let v): v.rawValue
        case .draining: "draining"
        case .running: state.pausedForApproval ? Verdict.waitingForApproval.rawValue : "running"
        case .notStarted: "not_started"
        }
    }

    var durationMs: Int64 { max(0, endedAtMs - startedAtMs) }
}

/// Whether `t` is the task the run's budget refused (the core's `refusedTask`, not run).
func isBudgetRefused(_ state: RunState, task t: Int) -> Bool { state.refusedTask == t && state.tasks[t] != .succeeded }

/// Task `t`'s state as every report and `ezrun status` names it: `budget_refused` for the
/// task a budget stop refused (the core keeps it `skipped`), else the core's state name.
public func reportedState(_ state: RunState, task t: Int) -> String {
    isBudgetRefused(state, task: t) ? "budget_refused" : state.tasks[t].name
}

/// The state a person reads: `reportedState`, with a skip's reason (`skipped (condition)`)
/// or `failed (allowed)` for a failure `allow_failure` lets through (dead-lettered or not:
/// what matters is that it failed and did not count). `--json` keeps the plain state
/// and gives these as their own fields.
public func shownState(_ state: RunState, task t: Int) -> String {
    if state.allowedFailure(t) { return "failed (allowed)" }
    if let u = undoShownState(state, task: t) { return u }
    if let r = state.skipReason[t], state.tasks[t] == .skipped { return "skipped (\(r.rawValue))" }
    return reportedState(state, task: t)
}

/// Why the budget refused the run's `refusedTask`, naming the budget, never its id.
func refusalText(_ state: RunState) -> String {
    let plan = state.plan, g = state.refusedGroup
    let budget: String
    if g >= 0 && g < plan.groupNames.count {
        budget = plan.groupTask[g] == state.refusedTask ? "its own budget" : "the budget of `\(plan.groupNames[g])`"
    } else {
        var used: [String] = []
        if plan.budgetMoneyMicros >= 0 { used.append("\(Format.money(state.chargedMicros)) of \(Format.money(plan.budgetMoneyMicros))") }
        if plan.budgetTokens >= 0 { used.append("\(Format.grouped(state.chargedTokens)) of \(Format.grouped(plan.budgetTokens)) \(Units.noun(plan.budgetTokens, "token"))") }
        budget = "the workflow's budget" + (used.isEmpty ? "" : " (" + used.joined(separator: ", ") + " charged)")
    }
    return "budget refused: the worst case of its next attempt does not fit \(budget)"
}

/// Stable snake_case name of a task state (no attempt numbers), for reports and metrics.
func stateName(_ s: TaskState) -> String { s.name }

/// Every state name, in lifecycle order (metrics emit all of them, zeros included).
let allStateNames = ["waiting", "ready", "running", "backoff", "awaiting_approval", "succeeded", "failed", "skipped",
                     "dead_lettered", "cancelled"]
