// The pure transition function of a run: `state + event → state + commands`.
//
// Legal task transitions (anything else is `TransitionError` R0002):
//
//   waiting          → ready             last dependency satisfied (fallbacks: also triggered): the gate
//                                        (`run_on`) opened and `when` holds (Conditions.swift, `open`)
//   waiting          → skipped(reason)   `run_on: success`: a gating dependency ended without success
//                                        (upstream_failed / upstream_skipped; an allowed failure passes);
//                                        `run_on: failure`: all ended, none failed (condition, or
//                                        upstream_skipped if one was skipped); `when` false (condition);
//                                        untriggered fallback at the end (no reason)
//   waiting          → failed            `when` has no value at run time (class condition_error)
//   waiting          → skipped(unused)   dynamic fan-out slot i, its source's list has ≤ i items (or is
//                                        too long and i > 0): `unused_slot`, passed on as a success
//   waiting          → failed            dynamic fan-out slot 0, its source's list is longer than
//                                        `max_items` (class fanout_overflow) or not a list (fanout_error);
//                                        no attempt (DynamicFanout.swift, `openSlot`, before `when`)
//   ready            → running(a, g)     scheduler: limits, agent and budget allow
//   ready            → awaitingApproval  scheduler, `approve` task (requestApproval .gate)
//   ready            → deadLettered      run stalled: no agent can ever take it (class no_agent)
//   running(a)       → succeeded         taskSucceeded(a), outputs written without conflict
//   running(a)       → awaitingApproval  taskSucceeded(a) with an `escalate` conflict
//   running(a)       → backoff(a+1, u)   taskFailed(a) / timeout, class in `on`, attempts left; with the
//                                        server's `retry_after_ms`, u = max(backoff, now + retry_after)
//   running(a)       → (rule exhausted)  retry_after_ms puts u at or past the deadline or a time budget
//   running(a)       → ready             rule exhausted, `catch: agent` not used yet
//   running(a)       → failed            rule exhausted, `catch: task` (the fallback is readied in this
//                                        step and stands in: `recoveredBy`, read by `readOutputs`)
//   running(a)       → deadLettered      rule exhausted, no catch
//   running(a)       → failed            failure while the run drains (no retries)
//   backoff(a, u)    → ready             timer retry/t/a fired
//   awaitingApproval → succeeded|failed  approvalGiven (gate: approved | denied)
//   awaitingApproval → failed            timer approval/t/a/s fired, `on_timeout: reject` (default), or
//                                        an escalated gate's second timeout (class denied)
//   awaitingApproval → succeeded         timer approval/t/a/0 fired, `on_timeout: approve`
//   awaitingApproval → (as a failure)    timer approval/t/a/0 fired, `on_timeout: fail`: class timeout,
//                                        through the retry rule (a retry reopens the gate), catch, dead letter
//   awaitingApproval → awaitingApproval  timer approval/t/a/0 fired, `on_timeout: escalate`: asked again
//                                        of `escalate_to`, timer approval/t/a/1 armed (ApprovalGate.swift)
//   awaitingApproval → succeeded         approvalGiven (conflict: approved takes the new value)
//   any non-terminal → cancelled         deadline, budget time, overrun, cancelRequested, drain end
//   any non-terminal → cancelled         matrix cell, `fail_fast`: another cell of its matrix dead-lettered
//                                        (a running attempt is cancelled; MatrixCore.swift)
//   ready            → ready             matrix cell: `max_parallel` cells of its matrix running (waits)
//   (no task changes)                    interrupted: no dispatch, no stall verdict until `resumed`
//   waiting          → ready → succeeded join (a `workflow` task): its last nested task succeeded, at once
//   waiting          → failed            join: a nested task ended without success (skipped if only
//                                        the workflow task's own dependencies failed)
//   waiting          → ready → succeeded loop: every instance ended, `until` held after the last iteration
//                                        that ran, or it did not and `on_exhausted: succeed` (LoopCore.swift)
//   waiting          → ready → failed    loop: `until` did not hold after `max` iterations (class
//                                        loop_exhausted), or has no value (class condition_error)
//   waiting          → failed            loop: a body instance ended failed (a skipped one is an
//                                        iteration `until` made unnecessary)
//   waiting          → skipped(reason)   loop instance of iteration N+1: `until` held after N (condition)
//   deadLettered     → waiting → ready   taskRedriven: a fresh retry rule (`attemptBase`); a finished
//                                        run runs again (Redrive.swift); refused → no-op
//   skipped          → waiting           taskRedriven of what it waited on (also a join it failed)
//   cancelled        → waiting → ready   taskRedriven of the matrix cell whose `fail_fast` cancelled it
//   waiting (undo)   → ready             the main graph settled without success, the task it undoes
//                                        succeeded, and it is next: latest completion first, one at a
//                                        time (`nextUndo`, Compensation.swift); never by its task's end
//   waiting (undo)   → skipped           not needed: its task did not succeed, or the run did
//   running (undo)   → running           deadline, time budget, overrun, cancelRequested: no-op while
//                                        compensation runs (each undo has a `timeout`)
//
// Node kinds (`NodeKind`): `task`, `fallback` and `compensation` dispatch, `approval` and
// `fallbackApproval` ask for `approvalGiven`, `join` never runs; a fallback is readied
// only once triggered, an undo (`compensation`) only during compensation. Every kind-specific step is one exhaustive switch (`triggered`,
// `makeReady`, `schedule`, `passOn`, `allEndedWell`, `readOutputs`): a new construct is a
// new case, rows in this table and a replay golden.
//
// Outputs: a live `taskSucceeded` keeps its outputs object in `RunState.taskOutputs`
// (also when the write then conflicts), so the core can evaluate an expression over
// inputs and finished tasks' outputs (`RunState.evaluate`, `decide`: TaskValues.swift).
//
// Budgets: a result is charged to the workflow, to the task's own budget and to every
// enclosing group up the chain (`Plan.taskBudgetScope`, `groupBudgetParent`); an attempt
// is dispatched only if its worst case fits every one of them (see `schedule`).
// `approvalRefused` and `backendFallback` are audit records: they change nothing but `seq`
// and `nowMs`.
// `interrupted` (SIGINT/SIGTERM to the runner) only stops scheduling: ready tasks wait,
// results of attempts in flight are still folded (a drain), and `resumed` schedules again.
//
// Deliberate no-ops: a result for an attempt the core abandoned (timed out or cancelled)
// is charged and otherwise ignored; timers whose attempt/backoff is over are ignored;
// an approval for a task already terminal (answered twice, or cancelled) is ignored; events after the run finished are
// ignored except results and approvals (charged / ignored the same way).
import EzflowIR
import EzflowUnits

/// The pure transition function of a run.
public enum Core {
    /// Transitions kept per task for error reports.
    public static let historyMax = 32
    /// The smallest completion a capped attempt is dispatched with: 1 token. The driver
    /// adds the prompt's bound and refuses to send what does not fit (docs/DRIVERS.md).
    public static let capMinTokens: Int64 = 1
    /// How long a run without a deadline waits for an unhealthy agent to recover when
    /// ready tasks have no other: then they dead-letter with `no_agent` (with a deadline,
    /// the deadline ends the wait).
    public static let unhealthyWaitMs: Int64 = 600_000
    /// The llm driver's class for a prompt whose bound leaves no completion within the cap.
    public static let promptTooLarge = "prompt_too_large"

    /// Folds one event into the state and returns the commands it causes. An illegal
    /// event leaves the state unchanged and throws a `TransitionError`.
    public static func step(_ state: inout RunState, _ event: Event) throws(TransitionError) -> [Command] {
        var out: [Command] = []
        try check(state, event)
        state.nowMs = event.atMs
        switch event {
        case .runStarted(let runID, let seed, _, let tagLimits, let at, let unhealthy, let prior):
            for g in unhealthy { state.agentHealth[g].healthy = false }
            state.learned = prior.map(PerformancePredictor.init(prior:))
            state.start(runID: runID, seed: seed, tagLimits: tagLimits, at: at, &out)
        case .taskSucceeded(let t, let a, let outputs, let cost, let tokens, _):
            state.charge(t, cost, tokens)
            if case .running(a, let agent) = state.tasks[t] {
                state.endAttempt(t, agent: agent, errorClass: nil, message: "", cost: cost, tokens: tokens)
                state.succeed(t, outputs: outputs, &out)
            } else {
                state.forgetAbandoned(t, a)  // deliberate no-op beyond the charge
            }
            state.checkOverrun(t, &out)
        case .taskFailed(let t, let a, let cls, let message, let cost, let tokens, _, let retryAfter):
            state.charge(t, cost, tokens)
            if case .running(a, let agent) = state.tasks[t] {
                let budgetCut = cls == Core.promptTooLarge && state.capIsBudgets(t)
                state.endAttempt(t, agent: agent, errorClass: cls, message: message, cost: cost, tokens: tokens)
                state.fail(t, errorClass: cls, retryAfterMs: retryAfter, &out)
                // The budgets left less room than the prompt needs: stop on the budget, as
                // for a reservation that can never fit (docs/DRIVERS.md, "The token cap").
                if budgetCut && state.isActive { state.abort(.budgetExceeded, &out) }
            } else {
                state.forgetAbandoned(t, a)
            }
            state.checkOverrun(t, &out)
        case .timerFired(let id, _):
            state.fired(id, &out)
        case .approvalGiven(let t, let principal, let approved, _):
            if state.tasks[t] == .awaitingApproval {
                state.announcedWaiting = false
                state.approve(t, principal: principal, approved: approved)
            }
        case .agentHealth(let g, let healthy, _):
            state.agentHealth[g].healthy = healthy
        case .cancelRequested:
            if state.isActive { state.abort(.cancelled, &out) }
        case .approvalRefused, .backendFallback:
            // Audit only: no scheduling pass either, so the record provably changes nothing.
            state.seq += 1
            return out
        case .resumed(let at, let restarts):
            state.resume(at: at, restartsAttempts: restarts, &out)
        case .planUpgraded:
            state.upgradePending = false
            state.rearmTimers(&out)
        case .interrupted:
            state.interrupted = true
        case .taskRedriven(let t, _, _):
            state.redrive(t, &out)
        }
        if state.phase == .running && !state.interrupted { state.schedule(&out) }
        state.settle(&out)
        state.seq += 1
        return out
    }

    /// Validates `event` against `state` without changing anything.
    static func check(_ s: RunState, _ e: Event) throws(TransitionError) {
        func err(_ code: String, _ msg: String, task: Int? = nil) -> TransitionError {
            TransitionError(code: code, message: msg, task: task, history: task.map { s.transitions[$0] } ?? [], agents: s.plan.agentNames)
        }
        if case .runStarted(_, _, let hash, _, _, let unhealthy, _) = e {
            guard s.phase == .notStarted else { throw err("R0003", "a second `run_started` at event \(s.seq)") }
            guard hash == s.plan.hash else { throw err("R0004", "the journal is for plan \(hash), not \(s.plan.hash)") }
            for g in unhealthy where g < 0 || g >= s.plan.agentNames.count { throw err("R0001", "no agent \(g)") }
            return
        }
        guard s.phase != .notStarted else { throw err("R0003", "event before `run_started`") }
        guard e.atMs >= s.nowMs else { throw err("R0004", "time went backwards: \(e.atMs) < \(s.nowMs)") }
        if case .planUpgraded(let from, let to, _) = e {
            guard s.upgradePending, let previous = s.previousPlanHash else {
                throw err("R0004", "`plan_upgraded` without a migration: the run is on plan \(s.plan.hash)")
            }
            guard from == previous && to == s.plan.hash else {
                throw err("R0004", "`plan_upgraded` from \(from) to \(to), but the run was migrated from \(previous) to \(s.plan.hash)")
            }
            return
        }
        guard !s.upgradePending else {
            throw err("R0004", "the run was migrated to plan \(s.plan.hash): the next event must be `plan_upgraded`, not `\(e.typeName)`")
        }
        let n = s.plan.taskCount
        switch e {
        case .taskSucceeded(let t, let a, _, let c, let k, _), .taskFailed(let t, let a, _, _, let c, let k, _, _):
            guard t >= 0 && t < n else { throw err("R0001", "no task \(t) (the plan has \(n))") }
            guard c >= 0 && k >= 0 else { throw err("R0004", "negative cost or tokens", task: t) }
            if case .running(a, _) = s.tasks[t] { return }
            if s.abandoned[t].contains(a) { return }
            throw err("R0002", "illegal transition: result of attempt \(a) of task `\(s.plan.taskNames[t])` in state \(s.tasks[t].text(agents: s.plan.agentNames))", task: t)
        case .timerFired(let id, _):
            switch id {
            case .attemptTimeout(let t, let a), .retryDue(let t, let a):
                guard t >= 0 && t < n else { throw err("R0001", "no task \(t) (the plan has \(n))") }
                guard a >= 1 && a <= s.attempts[t] + 1 else {
                    let kind = if case .retryDue = id { "retry" } else { "timeout" }
                    throw err("R0002", "illegal transition: \(kind) timer of attempt \(a) of task `\(s.plan.taskNames[t])`, never scheduled, "
                              + "state \(s.tasks[t].text(agents: s.plan.agentNames))", task: t)
                }
            case .approvalTimeout(let t, let a, let stage):
                guard t >= 0 && t < n else { throw err("R0001", "no task \(t) (the plan has \(n))") }
                guard a >= 1 && a <= s.attempts[t] + 1 && (stage == 0 || stage == 1) else {
                    throw err("R0002", "illegal transition: timer \(id) for a gate never opened, state \(s.tasks[t])", task: t)
                }
            case .deadline, .budgetTime, .wake: return
            case .groupBudgetTime(let g):
                guard g >= 0 && g < s.plan.groupNames.count else { throw err("R0001", "no group \(g) (the plan has \(s.plan.groupNames.count))") }
            }
        case .approvalGiven(let t, _, _, _):
            guard t >= 0 && t < n else { throw err("R0001", "no task \(t) (the plan has \(n))") }
            switch s.tasks[t] {
            case .awaitingApproval: return
            case let st where st.isTerminal: return  // a duplicate or late answer: no-op
            default: throw err("R0002", "illegal transition: approval for task `\(s.plan.taskNames[t])` in state \(s.tasks[t].text(agents: s.plan.agentNames))", task: t)
            }
        case .approvalRefused(let t, _, _, _), .taskRedriven(let t, _, _):
            guard t >= 0 && t < n else { throw err("R0001", "no task \(t) (the plan has \(n))") }
        case .agentHealth(let g, _, _):
            guard g >= 0 && g < s.plan.agentNames.count else { throw err("R0001", "no agent \(g)") }
        case .runStarted, .cancelRequested, .resumed, .planUpgraded, .interrupted, .backendFallback: return
        }
    }
}

extension RunState {
    /// `runStarted`: identity, generator, tag limits, run-level timers, then the roots.
    mutating func start(runID: String, seed: UInt64, tagLimits: [String: Int], at: Millis, _ out: inout [Command]) {
        self.runID = runID
        rng = SeededRandom(seed: seed)
        startedAtMs = at
        phase = .running
        runTagLimits = tagLimits
        for (name, limit) in tagLimits {
            if let id = plan.tagNames.firstIndex(of: name) { tagLimit[id] = max(0, limit) }
        }
        if plan.deadlineMs >= 0 { out.append(.setTimer(.deadline, atMs: at + plan.deadlineMs)) }
        if plan.budgetTimeMs >= 0 { out.append(.setTimer(.budgetTime, atMs: at + plan.budgetTimeMs)) }
        // A join made ready here may finish at once and ready its dependents, so
        // only tasks still waiting are readied.
        var work: [(Int, Bool)] = []
        for t in 0..<plan.taskCount where pendingDeps[t] == 0 && triggered(t) && tasks[t] == .waiting {
            open(t, &work)
        }
        drainFinalize(&work)
    }

    /// `timerFired`: a timer whose attempt, backoff or run is over is a no-op.
    mutating func fired(_ id: TimerID, _ out: inout [Command]) {
        switch id {
        case .attemptTimeout(let t, let a):
            // The timer armed before a resume restarted the attempt's clock is stale.
            if case .running(a, let agent) = tasks[t], isActive, nowMs >= Plan.saturatingAdd(attemptStartMs[t], plan.timeoutMs[t]) {
                out.append(.cancel(task: t, attempt: a))
                abandoned[t].append(a)
                endAttempt(t, agent: agent, errorClass: "timeout",
                           message: "timed out after \(plan.timeoutMs[t]) ms", cost: 0, tokens: 0)
                fail(t, errorClass: "timeout", &out)
            }
        case .retryDue(let t, let a):
            if case .backoff(a, _) = tasks[t], phase == .running { makeReady(t) }
        case .approvalTimeout(let t, let a, let stage):
            gateTimedOut(t, attempt: a, stage: stage, &out)
        case .deadline:
            if isActive { abort(.deadlineExceeded, &out) }
        case .budgetTime:
            if isActive { abort(.budgetExceeded, &out) }
        case .groupBudgetTime(let g):
            if isActive {
                refusedGroup = g
                abort(.budgetExceeded, &out)
            }
        case .wake:
            wakeAtMs = -1
        }
    }

    /// Running or draining: attempts may still be in flight.
    public var isActive: Bool {
        switch phase {
        case .running, .draining: true
        default: false
        }
    }

    /// The single place a task's state changes; records the transition.
    mutating func set(_ t: Int, _ new: TaskState) {
        precondition(!tasks[t].isTerminal || tasks[t] == new, "task \(t) left terminal state \(tasks[t]) for \(new)")
        move(t, new)
    }

    /// Changes `t`'s state and records the transition, terminal or not: only `set` and a
    /// re-drive (`reopen`, Redrive.swift) call it.
    mutating func move(_ t: Int, _ new: TaskState) {
        let old = tasks[t]
        tasks[t] = new
        if transitions[t].count >= Core.historyMax { transitions[t].removeFirst() }
        transitions[t].append(TransitionRecord(seq: seq, from: old, to: new))
    }

    /// Whether `t` may become ready once its dependencies are done: a fallback only after
    /// a task it stands in for failed.
    func triggered(_ t: Int) -> Bool {
        switch plan.kind(t) {
        case .task, .approval, .join, .loop: !plan.isFinally[t] || finishing != nil
        case .fallback, .fallbackApproval: standsInFor[t] >= 0
        case .compensation: undoCurrent == t
        }
    }

    mutating func makeReady(_ t: Int) {
        set(t, .ready)
        switch plan.kind(t) {
        case .join:
            // A join never dispatches: readiness means every nested task succeeded.
            set(t, .succeeded)
            finalize(t, ok: true)
        case .loop:
            endLoop(t)
        case .task, .approval, .fallback, .fallbackApproval, .compensation:
            enqueue(t)
        }
    }

    /// Inserts `t` into the ready queue at its rank.
    mutating func enqueue(_ t: Int) {
        let r = plan.rank[t]
        var lo = 0, hi = readyQueue.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if plan.rank[readyQueue[mid]] < r { lo = mid + 1 } else { hi = mid }
        }
        readyQueue.insert(t, at: lo)
    }

    /// Charges a result to the workflow and to every budget scope of `t` up the chain.
    mutating func charge(_ t: Int, _ cost: Int64, _ tokens: Int64) {
        chargedMicros = Plan.saturatingAdd(chargedMicros, cost)
        chargedTokens = Plan.saturatingAdd(chargedTokens, tokens)
        var g = plan.budgetScope(t)
        while g >= 0 {
            groupChargedMicros[g] = Plan.saturatingAdd(groupChargedMicros[g], cost)
            groupChargedTokens[g] = Plan.saturatingAdd(groupChargedTokens[g], tokens)
            g = plan.groupBudgetParent[g]
        }
    }

    mutating func forgetAbandoned(_ t: Int, _ a: Int) {
        if let i = abandoned[t].firstIndex(of: a) { abandoned[t].remove(at: i) }
    }

    /// A real (over-the-estimate) overrun stops everything at once.
    /// Checks the workflow budget and every budget scope of `t` (the only ones its
    /// result changed); the innermost overrun group is recorded in `refusedGroup`.
    mutating func checkOverrun(_ t: Int, _ out: inout [Command]) {
        guard isActive else { return }
        var g = plan.budgetScope(t)
        while g >= 0 {
            let money = plan.groupBudgetMoneyMicros[g] >= 0 && groupChargedMicros[g] > plan.groupBudgetMoneyMicros[g]
            let tokens = plan.groupBudgetTokens[g] >= 0 && groupChargedTokens[g] > plan.groupBudgetTokens[g]
            if money || tokens {
                refusedGroup = g
                abort(.budgetExceeded, &out)
                return
            }
            g = plan.groupBudgetParent[g]
        }
        let money = plan.budgetMoneyMicros >= 0 && chargedMicros > plan.budgetMoneyMicros
        let tokens = plan.budgetTokens >= 0 && chargedTokens > plan.budgetTokens
        if money || tokens { abort(.budgetExceeded, &out) }
    }

    /// Releases the running attempt's capacity and reservation and records its outcome.
    mutating func endAttempt(_ t: Int, agent: Int, errorClass: String?, message: String, cost: Int64, tokens: Int64) {
        runningCount -= 1
        if agent >= 0 { agentLoad[agent] -= 1 }
        for k in plan.tagStart[t]..<plan.tagStart[t + 1] { tagLoad[plan.tags[k]] -= 1 }
        reservedMicros -= reservedCost[t]
        reservedTokens -= reservedTok[t]
        var g = plan.budgetScope(t)
        while g >= 0 {
            groupReservedMicros[g] -= reservedCost[t]
            groupReservedTokens[g] -= reservedTok[t]
            g = plan.groupBudgetParent[g]
        }
        reservedCost[t] = 0
        reservedTok[t] = 0
        let latency = nowMs - attemptStartMs[t]
        history[t].append(AttemptRecord(attempt: attempts[t], agent: agent, errorClass: errorClass, message: message,
                                        startedAtMs: attemptStartMs[t], endedAtMs: nowMs, costMicros: cost, tokens: tokens))
        if agent >= 0 {
            // `consecutiveFailures` is the breaker's count: its policy alone moves it, so a
            // failure is counted once (it was counted here too, opening after 3, not 5).
            if errorClass == nil { agentHealth[agent].successes += 1 } else { agentHealth[agent].failures += 1 }
            agentHealth[agent].totalLatencyMs += latency
            agentHealth[agent].totalCostMicros += cost
            environment.breaker.record(AttemptOutcome(task: t, agent: agent, errorClass: errorClass, latencyMs: latency, costMicros: cost),
                                       nowMs: nowMs, health: &agentHealth[agent])
            // The probe is over whatever the policy made of it: the agent may take the next one.
            if agentHealth[agent].probeTask == t { agentHealth[agent].probeTask = -1 }
        }
        assert(runningCount >= 0 && reservedMicros >= 0 && reservedTokens >= 0)
    }

    /// A live success: write outputs per `on_conflict`, then succeed (or escalate / fail).
    mutating func succeed(_ t: Int, outputs: JSONValue, _ out: inout [Command]) {
        // An empty object is the common case and reads back as one (`readOutputs`):
        // not keeping it saves a retained value per task.
        if case .object(let m) = outputs, m.isEmpty { taskOutputs[t] = nil } else { taskOutputs[t] = outputs }
        var updates: [(Int, JSONValue)] = []
        var escalated: [(String, JSONValue)] = []
        for k in plan.writeStart[t]..<plan.writeStart[t + 1] {
            let o = plan.writes[k]
            guard let v = outputs[plan.outputLocalName[o]] else { continue }
            guard let old = self.outputs[o], outputWriter[o] != t else { updates.append((o, v)); continue }
            switch plan.onConflict[o] {
            case .fail:
                conflict(t, output: o, &out)
                return
            case .lastWriter:
                updates.append((o, v))
            case .merge:
                switch (old, v) {
                case (.object(let a), .object(let b)):
                    var m = a.filter { kv in !b.contains { $0.0 == kv.0 } }
                    m.append(contentsOf: b)
                    updates.append((o, .object(m)))
                case (.array(let a), .array(let b)):
                    updates.append((o, .array(a + b)))
                default:
                    conflict(t, output: o, &out)
                    return
                }
            case .escalate:
                escalated.append((plan.outputNames[o], v))
            }
        }
        for (o, v) in updates {
            self.outputs[o] = v
            outputWriter[o] = t
        }
        if escalated.isEmpty {
            set(t, .succeeded)
            finalize(t, ok: true)
        } else {
            pendingConflict[t] = .object(escalated)
            set(t, .awaitingApproval)
            out.append(.requestApproval(task: t, reason: .conflict(output: escalated[0].0)))
        }
    }

    /// A write that `on_conflict` refuses turns the attempt into a failure of class `conflict`.
    mutating func conflict(_ t: Int, output o: Int, _ out: inout [Command]) {
        let last = history[t].count - 1
        history[t][last].errorClass = "conflict"
        history[t][last].message = "output `\(plan.outputNames[o])` was already written by task `\(plan.taskNames[outputWriter[o]])`"
        fail(t, errorClass: "conflict", &out)
    }

    /// A live failure of the current attempt (already ended): retry, catch or dead-letter.
    /// `retryAfterMs`: the server's wait; the retry is not due before it, and a wait that
    /// reaches the deadline or a time budget is no retry at all (the rule ends here).
    mutating func fail(_ t: Int, errorClass cls: String, retryAfterMs: Int64? = nil, _ out: inout [Command]) {
        guard phase == .running else {
            set(t, .failed)
            finalize(t, ok: false)
            return
        }
        let n = attempts[t] - attemptBase[t]
        if !usedCatchAgent[t] && n < plan.attemptsMax[t], let r = plan.rule(task: t, errorClass: cls),
           case let k = plan.rules(task: t).count == 1 ? n : failures(t, rule: r), k < plan.ruleAttempts[r] {
            let delay = nextDelay(t, rule: r, failedAttempt: k)
            var until = Plan.saturatingAdd(nowMs, delay)
            if let wait = retryAfterMs {
                until = max(until, Plan.saturatingAdd(nowMs, max(0, wait)))
                if let stop = stopAt(t), until >= stop.atMs {
                    noteRetryRefused(t, waitMs: wait, stop: stop.what)
                    return exhausted(t, &out)
                }
            }
            // Attempt numbers keep growing across re-drives; `n` counts only this rule's.
            set(t, .backoff(attempt: attempts[t] + 1, untilMs: until))
            out.append(.setTimer(.retryDue(task: t, attempt: attempts[t] + 1), atMs: until))
            return
        }
        exhausted(t, &out)
    }

    /// How many failures of `t` since its rule began (a re-drive starts it again), this
    /// one included, rule `r` took: each rule counts its own. With one rule that is every
    /// attempt, which `fail` reads directly.
    func failures(_ t: Int, rule r: Int) -> Int {
        var k = 0
        for h in history[t] where h.attempt > attemptBase[t] {
            if let c = h.errorClass, plan.rule(task: t, errorClass: c) == r { k += 1 }
        }
        return k
    }

    /// The failed attempt's message says why no retry follows: the server's wait reaches `stop`.
    mutating func noteRetryRefused(_ t: Int, waitMs: Int64, stop: String) {
        guard let last = history[t].indices.last else { return }
        let note = "not retried: the server asked to wait \(Units.durationCompound(max(0, waitMs))), past \(stop)"
        let m = history[t][last].message
        history[t][last].message = m.isEmpty ? note : m + "; " + note
    }

    /// The retry rule is over for `t`: the catch agent, the catch task, or the dead letter.
    mutating func exhausted(_ t: Int, _ out: inout [Command]) {
        if plan.catchAgent[t] >= 0 && !usedCatchAgent[t] {
            usedCatchAgent[t] = true
            makeReady(t)
            return
        }
        let f = plan.catchTask[t]
        if f >= 0 {
            set(t, .failed)
            substitute[t] = f
            substituteWaiters[f, default: []].append(t)
            switch tasks[f] {
            case .waiting where standsInFor[f] < 0:
                standsInFor[f] = t
                if pendingDeps[f] == 0 { makeReady(f) }
            case let s where s.isTerminal && finalized[f]:
                finalize(t, ok: s == .succeeded)
            case let s where s.isTerminal:
                // The fallback failed and waits on its own fallback; a chain leading back
                // here is a catch cycle that can never succeed.
                var x = f, steps = 0
                while substitute[x] >= 0 && x != t && steps <= plan.taskCount { x = substitute[x]; steps += 1 }
                if x == t { finalize(t, ok: false) }
            default:
                break  // the fallback is already running for another task; wait for it
            }
            return
        }
        deadLetter(t, &out)
    }

    mutating func deadLetter(_ t: Int, _ out: inout [Command]) {
        set(t, .deadLettered)
        out.append(.deadLetter(task: t, history: history[t]))
        finalize(t, ok: false)
        if plan.isMatrixCell(t) { cancelOtherCells(t, &out) }
    }

    /// The documented backoff: base delay (fixed/linear/exponential, capped), then jitter
    /// drawn from the run's generator. Decorrelated: `min(cap, uniform(delay…3 × previous))`.
    /// With several rules, the rule that took the failure decides; `n` counts its failures,
    /// and decorrelated jitter grows from the task's previous wait, whichever rule it was.
    mutating func nextDelay(_ t: Int, rule r: Int, failedAttempt n: Int) -> Int64 {
        let base = plan.baseDelayMs(rule: r, failedAttempt: n)
        let d: Int64
        switch plan.jitter[r] {
        case .none: d = base
        case .full: d = rng.uniform(base)
        case .equal: d = base / 2 + rng.uniform(base - base / 2)
        case .decorrelated:
            let lo = plan.delayMs[r]
            let prev = prevDelayMs[t] > 0 ? prevDelayMs[t] : lo
            let hi = max(lo, Plan.saturatingMul(prev, 3))
            var v = lo + rng.uniform(hi - lo)
            if plan.maxDelayMs[r] >= 0 { v = min(v, plan.maxDelayMs[r]) }
            d = v
        }
        prevDelayMs[t] = d
        return d
    }

    /// An answered approval (gate or escalated conflict).
    mutating func approve(_ t: Int, principal: String, approved: Bool) {
        if let pending = pendingConflict.removeValue(forKey: t) {
            if approved, case .object(let members) = pending {
                for (name, v) in members {
                    if let o = plan.outputNames.firstIndex(of: name) {
                        outputs[o] = v
                        outputWriter[o] = t
                    }
                }
            }
            set(t, .succeeded)
            finalize(t, ok: true)
            return
        }
        escalatedAtMs[t] = nil
        attempts[t] += 1
        history[t].append(AttemptRecord(attempt: attempts[t], agent: -1, errorClass: approved ? nil : "denied",
                                        message: (approved ? "approved by " : "denied by ") + principal,
                                        startedAtMs: attemptStartMs[t], endedAtMs: nowMs, costMicros: 0, tokens: 0))
        set(t, approved ? .succeeded : .failed)
        finalize(t, ok: approved)
    }

    /// Settles a task's effect on others once its outcome is final: dependents become
    /// ready (or are skipped), and tasks this one stands in for settle the same way.
    mutating func finalize(_ t: Int, ok: Bool) {
        var work = [(t, ok)]
        drainFinalize(&work)
    }

    /// Finalizes every `(task, ok)` in `work` and whatever that settles in turn.
    mutating func drainFinalize(_ work: inout [(Int, Bool)]) {
        var guardCount = 0
        while let (x, good) = work.popLast() {
            guardCount += 1
            precondition(guardCount <= 4 * plan.taskCount + 4, "finalize did not converge")
            if finalized[x] { continue }
            finalized[x] = true
            for k in plan.dependentStart[x]..<plan.dependentStart[x + 1] {
                passOn(x, ok: good, to: plan.dependents[k], &work)
            }
            for o in substituteWaiters[x] ?? [] where !finalized[o] { work.append((o, good)) }
        }
    }

    /// The effect of `x`'s final outcome on one waiting dependent `d`.
    mutating func passOn(_ x: Int, ok good: Bool, to d: Int, _ work: inout [(Int, Bool)]) {
        guard tasks[d] == .waiting else { return }
        switch plan.kind(d) {
        case .compensation: return  // opened only by `nextUndo`: its task's end changes nothing yet
        case .task, .approval, .join, .loop, .fallback, .fallbackApproval: break
        }
        let good = good || allowedFailure(x)
        if good || waitsForAnyEnd(d, on: x) {
            if !good { noteBadEnd(x, of: d) }
            pendingDeps[d] -= 1
            if pendingDeps[d] == 0 && triggered(d) { open(d, &work) }
            return
        }
        switch plan.kind(d) {
        case .join where plan.isNested(x, in: d) && tasks[x] != .skipped:
            // A nested task failed terminally: the workflow task fails (its
            // `catch: task` fallback, if any, stands in for it).
            failJoin(d, &work)
        case .join where plan.isNested(x, in: d) && loopIteration(ofTask: x) != nil:
            // An iteration a loop's `until` skipped (its loop task decides the loop).
            pendingDeps[d] -= 1
            if pendingDeps[d] == 0 && triggered(d) { open(d, &work) }
        case .loop where plan.isNested(x, in: d):
            // A skipped iteration is one `until` ended early (or a skip inside the body);
            // a body task that failed fails the loop (LoopCore.swift).
            if tasks[x] == .skipped {
                pendingDeps[d] -= 1
                if pendingDeps[d] == 0 && triggered(d) { open(d, &work) }
            } else {
                failJoin(d, &work)
            }
        case .join, .loop, .task, .approval, .fallback, .fallbackApproval, .compensation:
            skip(d, tasks[x] == .skipped ? .upstreamSkipped : .upstreamFailed, &work)
        }
    }

    /// A join whose nested workflow failed: `failed`, then its `catch: task` fallback
    /// (readied like any fallback) or its failure passed on to its dependents.
    mutating func failJoin(_ d: Int, _ work: inout [(Int, Bool)]) {
        set(d, .failed)
        let f = plan.catchTask[d]
        guard f >= 0, phase == .running else { work.append((d, false)); return }
        substitute[d] = f
        substituteWaiters[f, default: []].append(d)
        switch tasks[f] {
        case .waiting where standsInFor[f] < 0:
            standsInFor[f] = d
            if pendingDeps[f] == 0 { makeReady(f) }
        case let st where st.isTerminal && finalized[f]:
            work.append((d, st == .succeeded))
        default:
            break
        }
    }

    /// Stops everything now: running attempts are cancelled, every open task cancelled.
    mutating func abort(_ verdict: Verdict, _ out: inout [Command]) {
        // While undos or `finally` run nothing stops them (each of their tasks has a `timeout`).
        guard finishing == nil && compensating == nil else { return }
        for t in 0..<plan.taskCount where !tasks[t].isTerminal && stopsWithMainGraph(t) {
            if case .running(let a, let agent) = tasks[t] {
                out.append(.cancel(task: t, attempt: a))
                abandoned[t].append(a)
                endAttempt(t, agent: agent, errorClass: "cancelled", message: "run stopped: \(verdict.rawValue)", cost: 0, tokens: 0)
            }
            set(t, .cancelled)
            finalized[t] = true
        }
        readyQueue.removeAll()
        pendingConflict.removeAll()
        // A budget drain ends here too: undos and `finally` run in phase `running`
        // (retries, settle), as after a drain that ended by itself (`settle`).
        phase = .running
        if afterMainGraph(verdict, &out) { return }
        phase = .finished(verdict)
        out.append(.finishRun(verdict))
    }

    /// The run-level timers that are live: deadline, workflow time, wake, group times.
    func rearmRunTimers(_ out: inout [Command]) {
        if plan.deadlineMs >= 0 { out.append(.setTimer(.deadline, atMs: startedAtMs + plan.deadlineMs)) }
        if plan.budgetTimeMs >= 0 { out.append(.setTimer(.budgetTime, atMs: startedAtMs + plan.budgetTimeMs)) }
        if wakeAtMs >= 0 { out.append(.setTimer(.wake, atMs: wakeAtMs)) }
        for g in 0..<plan.groupNames.count where groupStartedAtMs[g] >= 0 && plan.groupBudgetTimeMs[g] >= 0 {
            out.append(.setTimer(.groupBudgetTime(group: g), atMs: Plan.saturatingAdd(groupStartedAtMs[g], plan.groupBudgetTimeMs[g])))
        }
    }

    /// After a crash: re-dispatch in-flight attempts with the same key, set timers again.
    mutating func resume(at: Millis, restartsAttempts: Bool = false, _ out: inout [Command]) {
        interrupted = false
        guard isActive else { return }
        rearmRunTimers(&out)
        for t in 0..<plan.taskCount {
            switch tasks[t] {
            case .running(let a, let agent):
                out.append(.dispatch(task: t, attempt: a, agent: agent, idempotencyKey: idempotencyKey(t), tokenCap: tokenCap(t)))
                // The attempt runs again from its start: its `timeout` counts from now, not
                // from before the crash (an undo resumed later than its timeout timed out
                // at once). Journals from before the flag keep the old clock.
                if restartsAttempts { attemptStartMs[t] = at }
                if plan.timeoutMs[t] > 0 {
                    out.append(.setTimer(.attemptTimeout(task: t, attempt: a), atMs: Plan.saturatingAdd(attemptStartMs[t], plan.timeoutMs[t])))
                }
            case .backoff(let a, let until):
                out.append(.setTimer(.retryDue(task: t, attempt: a), atMs: until))
            case .awaitingApproval:
                guard let p = pendingConflict[t] else { requestGate(t, &out); continue }
                if case .object(let m) = p, let first = m.first {
                    out.append(.requestApproval(task: t, reason: .conflict(output: first.0)))
                } else {
                    out.append(.requestApproval(task: t, reason: .gate))
                }
            default: break
            }
        }
    }

    /// After a plan upgrade: every live timer again under the new plan's ids (timers set
    /// before the upgrade name the old ids and are superseded).
    mutating func rearmTimers(_ out: inout [Command]) {
        guard isActive else { return }
        rearmRunTimers(&out)
        for t in 0..<plan.taskCount {
            switch tasks[t] {
            case .running(let a, _) where plan.timeoutMs[t] > 0:
                out.append(.setTimer(.attemptTimeout(task: t, attempt: a), atMs: Plan.saturatingAdd(attemptStartMs[t], plan.timeoutMs[t])))
            case .backoff(let a, let until):
                out.append(.setTimer(.retryDue(task: t, attempt: a), atMs: until))
            case .awaitingApproval where pendingConflict[t] == nil:
                if let at = gateDeadlineMs(t) {
                    out.append(.setTimer(.approvalTimeout(task: t, attempt: attempts[t] + 1, stage: gateStage(t)), atMs: at))
                }
            default: break
            }
        }
    }

    func idempotencyKey(_ t: Int) -> String { "\(runID)/\(plan.taskNames[t])" }

    /// The token cap of `t`'s running attempt: a capped attempt reserves exactly its cap.
    public func tokenCap(_ t: Int) -> Int64? { plan.capsTokens(task: t) && reservedTok[t] > 0 ? reservedTok[t] : nil }

    /// Whether the running attempt's cap is below what its prompt and `max_tokens` alone
    /// would give: a budget (token or money) set it.
    func capIsBudgets(_ t: Int) -> Bool {
        guard let c = tokenCap(t) else { return false }
        return plan.maxTokens[t] <= 0 || c < Plan.saturatingAdd(llmPromptBound(t), plan.maxTokens[t])
    }

    /// Dispatches ready tasks in rank order while limits, agents and budget allow; opens
    /// approval gates. A task that cannot go now stays queued; one whose worst case can
    /// never fit a budget drains the run.
    mutating func schedule(_ out: inout [Command]) {
        var agentsFull = noAgentFree()
        var i = 0
        while i < readyQueue.count {
            let t = readyQueue[i]
            switch plan.kind(t) {
            case .approval, .fallbackApproval:
                readyQueue.remove(at: i)
                attemptStartMs[t] = nowMs
                set(t, .awaitingApproval)
                requestGate(t, &out)
            case .task, .fallback, .compensation:
                // With every agent busy or down, asking a pool would decide nothing and
                // change nothing (no breaker is consulted): skip it without the scan, so a
                // long ready queue behind a saturated pool costs one check per task.
                if agentsFull && needsAgent(t) { i += 1; continue }
                guard hasRoom(t), let agent = chooseAgent(t) else { i += 1; continue }
                defer { if agent >= 0 { agentsFull = noAgentFree() } }
                let ask = reservation(t, agent: agent)
                switch ask.fit {
                case .fits:
                    readyQueue.remove(at: i)
                    dispatch(t, agent: agent, worst: ask.worst, worstTok: ask.tokens, cap: ask.cap, &out)
                case .wait:
                    i += 1
                case .never(let group):
                    if finishing != nil || compensating != nil {
                        readyQueue.remove(at: i)
                        refuseInFinally(t)
                        continue
                    }
                    phase = .draining(.budgetExceeded)
                    refusedTask = t
                    refusedGroup = group
                    return
                }
            case .join, .loop:
                preconditionFailure("join \(t) was queued: joins and loops end when readied")
            }
        }
    }

    /// Whether the workflow's `max_parallel` and `t`'s tag limits leave a slot.
    func hasRoom(_ t: Int) -> Bool {
        if plan.maxParallel >= 0 && runningCount >= plan.maxParallel { return false }
        if plan.isMatrixCell(t) && !matrixHasRoom(t) { return false }
        for k in plan.tagStart[t]..<plan.tagStart[t + 1] where tagLimit[plan.tags[k]] >= 0 && tagLoad[plan.tags[k]] >= tagLimit[plan.tags[k]] {
            return false
        }
        return true
    }

    /// Whether no agent passes `chooseAgent`'s first filter (healthy, below its
    /// concurrency): then every pool answers nil before any breaker is asked.
    func noAgentFree() -> Bool {
        for g in 0..<agentLoad.count where agentHealth[g].healthy && agentLoad[g] < plan.agentConcurrency[g] { return false }
        return true
    }

    /// The agents `t`'s next attempt may go to: its candidates, or its `catch` agent once used.
    func pool(_ t: Int) -> ArraySlice<Int> {
        usedCatchAgent[t] ? [plan.catchAgent[t]][...] : plan.candidates[plan.candidateStart[t]..<plan.candidateStart[t + 1]]
    }

    /// Whether `t`'s next attempt goes to an agent (not the shell).
    func needsAgent(_ t: Int) -> Bool { usedCatchAgent[t] || plan.candidateStart[t] < plan.candidateStart[t + 1] }

    /// The agent for `t`'s next attempt: -1 when it has no pool (the shell runs it), nil
    /// when no candidate is healthy, admitted, free and chosen by the selector now.
    mutating func chooseAgent(_ t: Int) -> Int? {
        let pool = pool(t)
        if pool.isEmpty { return -1 }
        var free: [Int] = []
        for g in pool where agentHealth[g].healthy && agentLoad[g] < plan.agentConcurrency[g] {
            // Half-open admits one probe at a time: none while it runs.
            if agentHealth[g].probeTask >= 0 && agentHealth[g].breaker == .halfOpen { continue }
            if environment.breaker.admit(agent: g, nowMs: nowMs, health: &agentHealth[g]) {
                free.append(g)
            } else if standsInFor[t] >= 0 {
                // A fallback standing in for a failed task is the file's answer to the
                // failures that opened the breaker: it goes now, as an open breaker calls
                // its fallback at once elsewhere (it is no probe and moves no breaker).
                free.append(g)
            }
        }
        guard !free.isEmpty else { return nil }
        let view = SelectorView(box: planBox, load: agentLoad, health: agentHealth, nowMs: nowMs, limits: selectorLimits(t), learned: learned)
        guard let g = environment.selector.choose(task: t, candidates: free, view: view, rng: &rng), free.contains(g) else { return nil }
        return g
    }

    /// Whether a worst-case attempt fits every budget over `t`.
    enum BudgetFit {
        case fits
        /// Not with the running attempts' reservations; maybe once they end.
        case wait
        /// Never, even with nothing reserved: the budget of `group` (-1: the workflow's).
        case never(group: Int)
    }

    /// Refuses what can never fit (the workflow first, then every enclosing group / task
    /// budget, innermost first); waits while in-flight reservations might free room.
    func budgetFit(_ t: Int, worst: Int64, worstTok: Int64) -> BudgetFit {
        func over(_ used: Int64, _ extra: Int64, _ limit: Int64) -> Bool { limit >= 0 && Plan.saturatingAdd(used, extra) > limit }
        if over(chargedMicros, worst, plan.budgetMoneyMicros) || over(chargedTokens, worstTok, plan.budgetTokens) {
            return .never(group: -1)
        }
        var wait = false
        var g = plan.budgetScope(t)
        while g >= 0 {
            let lm = plan.groupBudgetMoneyMicros[g], lt = plan.groupBudgetTokens[g]
            if over(groupChargedMicros[g], worst, lm) || over(groupChargedTokens[g], worstTok, lt) { return .never(group: g) }
            if over(Plan.saturatingAdd(groupChargedMicros[g], groupReservedMicros[g]), worst, lm)
                || over(Plan.saturatingAdd(groupChargedTokens[g], groupReservedTokens[g]), worstTok, lt) {
                wait = true
            }
            g = plan.groupBudgetParent[g]
        }
        if over(Plan.saturatingAdd(chargedMicros, reservedMicros), worst, plan.budgetMoneyMicros)
            || over(Plan.saturatingAdd(chargedTokens, reservedTokens), worstTok, plan.budgetTokens) {
            wait = true
        }
        return wait ? .wait : .fits
    }

    /// What the next attempt of `t` on `agent` reserves, its token cap and whether that fits.
    /// A `prompt` task's cap covers its prompt and its answer: the prompt's bound (measured
    /// here, `llmPromptBound`) plus its `max_tokens`, tightened to the room every enclosing
    /// token budget has left after charges and in-flight reservations (the selector's
    /// `remainingTokens`), and, when the agent prices tokens and the task has no `max_cost`,
    /// to what the tightest money budget still pays for (`Reservation.answerTokens`: the
    /// prompt's bound at the input price, the answer in whole thousands at the output price,
    /// after the call's fixed prices). The core is the one journal writer, so two attempts never share
    /// a remainder. A cap that leaves the prompt less than `capMinTokens` of answer waits
    /// for in-flight attempts, or stops the run when even without them it could not be had.
    func reservation(_ t: Int, agent: Int) -> (worst: Int64, tokens: Int64, cap: Int64?, fit: BudgetFit) {
        let worst = plan.worstCostMicros(task: t, agent: agent), worstTok = plan.worstTokens(task: t)
        guard plan.capsTokens(task: t) else { return (worst, worstTok, nil, budgetFit(t, worst: worst, worstTok: worstTok)) }
        let bound = llmPromptBound(t)
        var cap: Int64? = plan.maxTokens[t] > 0 ? Plan.saturatingAdd(bound, plan.maxTokens[t]) : nil
        var budgetsCut = false
        func tighten(_ room: Int64) {
            if let c = cap, c <= room { return }
            cap = room
            budgetsCut = true
        }
        let limits = selectorLimits(t)
        if limits.remainingTokens >= 0 { tighten(limits.remainingTokens) }
        if plan.maxCostMicros[t] < 0, limits.remainingMoneyMicros >= 0,
           let answer = plan.answerTokens(task: t, agent: agent, affordable: limits.remainingMoneyMicros, prompt: bound) {
            tighten(Plan.saturatingAdd(bound, answer))
        }
        guard let c = cap else { return (worst, worstTok, nil, budgetFit(t, worst: worst, worstTok: worstTok)) }
        let least = Plan.saturatingAdd(bound, Core.capMinTokens)
        if c < least && budgetsCut {
            let fit = budgetFit(t, worst: plan.worstCostMicros(task: t, agent: agent, tokens: least, prompt: bound), worstTok: least)
            if case .fits = fit { return (worst, worstTok, nil, .wait) }
            return (worst, worstTok, nil, fit)
        }
        let w = plan.worstCostMicros(task: t, agent: agent, tokens: c, prompt: bound)
        return (w, c, c, budgetFit(t, worst: w, worstTok: c))
    }

    /// Starts the next attempt of `t` on `agent`: capacity, reservations up the budget
    /// chain (starting a scope's `time_ms` at its first dispatch), then the commands.
    mutating func dispatch(_ t: Int, agent: Int, worst: Int64, worstTok: Int64, cap: Int64?, _ out: inout [Command]) {
        attempts[t] += 1
        let a = attempts[t]
        precondition(a - attemptBase[t] <= plan.attemptsMax[t] + (plan.catchAgent[t] >= 0 ? 1 : 0), "attempt beyond the rule")
        set(t, .running(attempt: a, agent: agent))
        runningCount += 1
        if agent >= 0 { agentLoad[agent] += 1 }
        for k in plan.tagStart[t]..<plan.tagStart[t + 1] { tagLoad[plan.tags[k]] += 1 }
        reservedCost[t] = worst
        reservedTok[t] = worstTok
        reservedMicros = Plan.saturatingAdd(reservedMicros, worst)
        reservedTokens = Plan.saturatingAdd(reservedTokens, worstTok)
        if agent >= 0 && agentHealth[agent].breaker == .halfOpen { agentHealth[agent].probeTask = t }
        var timers: [Command] = []
        var g = plan.budgetScope(t)
        while g >= 0 {
            groupReservedMicros[g] = Plan.saturatingAdd(groupReservedMicros[g], worst)
            groupReservedTokens[g] = Plan.saturatingAdd(groupReservedTokens[g], worstTok)
            if groupStartedAtMs[g] < 0 {
                // First dispatch inside the scope starts its `time_ms`.
                groupStartedAtMs[g] = nowMs
                if plan.groupBudgetTimeMs[g] >= 0 {
                    timers.append(.setTimer(.groupBudgetTime(group: g), atMs: Plan.saturatingAdd(nowMs, plan.groupBudgetTimeMs[g])))
                }
            }
            g = plan.groupBudgetParent[g]
        }
        attemptStartMs[t] = nowMs
        unhealthySinceMs = -1
        out.append(.dispatch(task: t, attempt: a, agent: agent, idempotencyKey: idempotencyKey(t), tokenCap: cap))
        if plan.timeoutMs[t] > 0 {
            out.append(.setTimer(.attemptTimeout(task: t, attempt: a), atMs: Plan.saturatingAdd(nowMs, plan.timeoutMs[t])))
        }
        out.append(contentsOf: timers)
    }

    /// What a selector is told about the run's clock and the room left for `t`: the
    /// tightest `limit − charged − reserved` over the workflow and `t`'s budget scopes,
    /// and the earliest stop (deadline, workflow time, started scopes' time).
    func selectorLimits(_ t: Int) -> SelectorLimits {
        var l = SelectorLimits()
        l.runStartedAtMs = startedAtMs
        l.deadlineAtMs = plan.deadlineMs >= 0 ? Plan.saturatingAdd(startedAtMs, plan.deadlineMs) : -1
        l.chargedMicros = chargedMicros
        l.chargedTokens = chargedTokens
        l.reservedMicros = reservedMicros
        l.reservedTokens = reservedTokens
        l.budgetMoneyMicros = plan.budgetMoneyMicros
        l.budgetTokens = plan.budgetTokens
        func tighter(_ cur: Int64, _ limit: Int64, _ used: Int64) -> Int64 {
            guard limit >= 0 else { return cur }
            let room = max(0, limit - used)
            return cur < 0 ? room : min(cur, room)
        }
        l.remainingMoneyMicros = tighter(-1, plan.budgetMoneyMicros, Plan.saturatingAdd(chargedMicros, reservedMicros))
        l.remainingTokens = tighter(-1, plan.budgetTokens, Plan.saturatingAdd(chargedTokens, reservedTokens))
        var g = plan.budgetScope(t)
        while g >= 0 {
            l.remainingMoneyMicros = tighter(l.remainingMoneyMicros, plan.groupBudgetMoneyMicros[g],
                                             Plan.saturatingAdd(groupChargedMicros[g], groupReservedMicros[g]))
            l.remainingTokens = tighter(l.remainingTokens, plan.groupBudgetTokens[g],
                                        Plan.saturatingAdd(groupChargedTokens[g], groupReservedTokens[g]))
            g = plan.groupBudgetParent[g]
        }
        l.stopAtMs = stopAt(t)?.atMs ?? -1
        return l
    }

    /// The earliest stop of `t`'s run: the deadline, the workflow's time budget, the time
    /// budgets of its enclosing groups (one not started yet would start now), with what
    /// it is for a message; nil: none.
    func stopAt(_ t: Int) -> (atMs: Int64, what: String)? {
        // Nothing stops an undo but its own `timeout` (Compensation.swift).
        if plan.kind(t) == .compensation { return nil }
        var stop: (atMs: Int64, what: String)?
        func earlier(_ at: Int64, _ what: String) { if stop == nil || at < stop!.atMs { stop = (at, what) } }
        if plan.deadlineMs >= 0 { earlier(Plan.saturatingAdd(startedAtMs, plan.deadlineMs), "the run's deadline") }
        if plan.budgetTimeMs >= 0 { earlier(Plan.saturatingAdd(startedAtMs, plan.budgetTimeMs), "the workflow's time budget") }
        var g = plan.budgetScope(t)
        while g >= 0 {
            if plan.groupBudgetTimeMs[g] >= 0 {
                let from = groupStartedAtMs[g] >= 0 ? groupStartedAtMs[g] : nowMs
                let owner = plan.groupTask[g] >= 0 ? "task" : "group"
                earlier(Plan.saturatingAdd(from, plan.groupBudgetTimeMs[g]), "the time budget of \(owner) `\(plan.groupNames[g])`")
            }
            g = plan.groupBudgetParent[g]
        }
        return stop
    }

    /// Ends the run when nothing can happen any more; handles stalls and approval pauses.
    mutating func settle(_ out: inout [Command]) {
        guard runningCount == 0 else { return }
        switch phase {
        case .draining(let v):
            for t in 0..<plan.taskCount where !tasks[t].isTerminal && stopsWithMainGraph(t) {
                set(t, tasks[t] == .waiting || tasks[t] == .ready ? .skipped : .cancelled)
                finalized[t] = true
            }
            readyQueue.removeAll()
            pendingConflict.removeAll()
            phase = .running
            if afterMainGraph(v, &out) { return }
            phase = .finished(v)
            out.append(.finishRun(v))
        case .running:
            settleIdle(&out)
        case .notStarted, .finished:
            return
        }
    }

    /// Nothing runs: wait for backoffs, a breaker cool-down or an approval; dead-letter
    /// what no agent will ever take; or finish with the verdict.
    mutating func settleIdle(_ out: inout [Command]) {
        var backoffs = 0, approvals = 0
        for t in 0..<plan.taskCount {
            switch tasks[t] {
            case .backoff: backoffs += 1
            case .awaitingApproval: approvals += 1
            default: break
            }
        }
        if backoffs > 0 { return }
        if !readyQueue.isEmpty {
            if interrupted { return }  // not stalled: the runner stopped dispatching
            // Stalled: nothing runs, yet ready tasks cannot go. Wait for a breaker
            // cool-down if one ends; otherwise no agent will ever take them.
            if wakeForCooldown(&out) { return }
            if waitForHealth(&out) { return }
            if approvals > 0 { return }  // an agent may recover while a human answers
            let stuck = readyQueue
            readyQueue.removeAll()
            for t in stuck {
                history[t].append(AttemptRecord(attempt: attempts[t], agent: -1, errorClass: "no_agent",
                                                message: "no healthy agent with capacity can run it", startedAtMs: nowMs,
                                                endedAtMs: nowMs, costMicros: 0, tokens: 0))
                if !tasks[t].isTerminal { deadLetter(t, &out) }
            }
            settle(&out)
            return
        }
        if approvals > 0 {
            if !announcedWaiting {
                announcedWaiting = true
                out.append(.finishRun(.waitingForApproval))
            }
            return
        }
        // Only untriggered fallbacks (and tasks waiting on them) are left: skip them.
        for t in 0..<plan.taskCount
        where tasks[t] == .waiting && !triggered(t) && (finishing != nil || !plan.isFinally[t]) && plan.kind(t) != .compensation {
            set(t, .skipped)
            finalize(t, ok: false)
        }
        // A skip may open a task that waits for any end (`run_on: always`, a status read).
        if !readyQueue.isEmpty {
            if !interrupted { schedule(&out) }
            return settle(&out)
        }
        // The undo that ran has ended: the next one, until none is left (Compensation.swift).
        if inCompensation && nextUndo(&out) { return }
        let main: Verdict = finishing ?? compensating ?? (allEndedWell() ? .success : .failed)
        if afterMainGraph(main, &out) { return }
        let v = finishing == nil ? main : finalVerdict(main: main)
        phase = .finished(v)
        out.append(.finishRun(v))
    }

    /// Sets a `wake` timer for the earliest breaker cool-down among the ready tasks'
    /// candidates; false when none is pending.
    mutating func wakeForCooldown(_ out: inout [Command]) -> Bool {
        var wake = Int64.max
        for t in readyQueue {
            for k in plan.candidateStart[t]..<plan.candidateStart[t + 1] {
                if case .open(let until) = agentHealth[plan.candidates[k]].breaker, until > nowMs { wake = min(wake, until) }
            }
        }
        guard wake != Int64.max else { return false }
        if wakeAtMs != wake {
            wakeAtMs = wake
            out.append(.setTimer(.wake, atMs: wake))
        }
        return true
    }

    /// Whether the stalled ready tasks wait for an agent the health checks took out: a
    /// candidate is unhealthy (its recovery, an `agent_health` event, schedules again).
    /// Until the deadline ends the run, or, without one, `Core.unhealthyWaitMs` after the
    /// wait began (a `wake` timer), when the tasks dead-letter with `no_agent`.
    mutating func waitForHealth(_ out: inout [Command]) -> Bool {
        let waiting = readyQueue.contains { t in pool(t).contains { !agentHealth[$0].healthy } }
        guard waiting else { return false }
        // The deadline ends the wait, except during compensation, which it does not stop.
        if plan.deadlineMs >= 0 && !inCompensation { return true }
        if unhealthySinceMs < 0 { unhealthySinceMs = nowMs }
        let until = Plan.saturatingAdd(unhealthySinceMs, Core.unhealthyWaitMs)
        guard nowMs < until else { return false }
        if wakeAtMs != until {
            wakeAtMs = until
            out.append(.setTimer(.wake, atMs: until))
        }
        return true
    }

    /// Whether every task ended succeeded or skipped, counting a failure its fallback
    /// chain made good. A workflow task rescued by its `catch: task` fallback stands for
    /// its nested tasks: their failures do not count.
    func allEndedWell() -> Bool {
        var forgiven: [Bool] = []
        for j in 0..<plan.taskCount where tasks[j] == .failed && substitute[j] >= 0 {
            switch plan.kind(j) {
            case .join where substituteSucceeded(j):
                if forgiven.isEmpty { forgiven = Array(repeating: false, count: plan.taskCount) }
                for x in plan.joinStart[j]..<j { forgiven[x] = true }
            case .join, .loop, .task, .approval, .fallback, .fallbackApproval, .compensation:
                break
            }
        }
        var ok = true
        // Undos never count: they run only once the main graph already failed.
        for t in 0..<plan.taskCount
        where (forgiven.isEmpty || !forgiven[t]) && (finishing != nil || !plan.isFinally[t]) && plan.kind(t) != .compensation {
            switch tasks[t] {
            case .succeeded, .skipped: break
            case .failed: if !(substitute[t] >= 0 && substituteSucceeded(t)) && !plan.allowFailure[t] { ok = false }
            case .deadLettered where plan.allowFailure[t]: break
            case let s:
                precondition(s.isTerminal, "task \(t) is \(s) but nothing can move it")
                ok = false
            }
        }
        return ok
    }

    /// Whether the chain of fallbacks standing in for `t` ended in a success.
    func substituteSucceeded(_ t: Int) -> Bool { recoveredBy(t) != nil }

    /// The fallback that made good `t`'s failure: the first task of `t`'s chain of
    /// `catch: task` fallbacks (a fallback's own fallback, and so on) that succeeded; nil
    /// while none has, or when `t` has no fallback. Its outputs are what `t` reads as.
    public func recoveredBy(_ t: Int) -> Int? {
        var x = t
        var steps = 0
        while substitute[x] >= 0 && steps <= plan.taskCount {
            x = substitute[x]
            steps += 1
            if tasks[x] == .succeeded { return x }
        }
        return nil
    }
}
