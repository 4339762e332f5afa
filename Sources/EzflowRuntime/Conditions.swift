// Conditions (docs/RUNTIME.md "Conditions and the run's verdict"): a task's gate
// (`run_on`), its `when`, `allow_failure`, skip reasons and `TASK.status`. All of it is
// derived from the events the journal already holds, so old journals replay unchanged and
// a skip's reason is state, not a journal field.
import EzflowIR

/// Which outcomes of a task's dependencies open its gate (`run_on`).
public enum GateKind: String, Sendable, Equatable, CaseIterable {
    /// Every dependency succeeded (an allowed failure and a recovered one count); the first
    /// one that did not skips the task at once.
    case success
    /// Every dependency ended and at least one failed; none failed ⇒ skipped.
    case failure
    /// Every dependency ended, whatever the outcome (a cancel ends the run first).
    case always
}

/// Why a task was skipped: shown by `ezrun status`, the summary and JUnit; never a failure.
public enum SkipReason: String, Sendable, Equatable, CaseIterable {
    /// Its `when` was false, or `run_on: failure` found no failure to react to.
    case condition
    /// A dependency it gates on failed.
    case upstreamFailed = "upstream_failed"
    /// A dependency it gates on was skipped.
    case upstreamSkipped = "upstream_skipped"
    /// A slot of a dynamic fan-out its list did not reach (DynamicFanout.swift): passed on
    /// as a success, and reports count such slots instead of listing them.
    case unusedSlot = "unused_slot"
}

extension PlanBuilder {
    /// `run_on`, `allow_failure` and `when` of plan task `id` from its IR task.
    static func conditions(_ p: inout Plan, _ t: IRTask, id: Int, path: String) throws(PlanError) {
        var gate = GateKind.success
        if case .string(let r)? = t.json["run_on"] {
            guard let g = GateKind(rawValue: r) else { throw PlanError(path: path + ".run_on", message: "unknown `run_on` `\(r)`") }
            gate = g
        }
        p.gate.append(gate)
        p.allowFailure.append(t.json["allow_failure"] == .bool(true))
        p.isFinally.append(t.json["finally"] == .bool(true))
        if let w = t.json["when"], w != .null { p.condition[id] = w }
    }
}

extension Plan {
    /// Whether plan task `t` reads IR task `d` of its scope as optional, as the checker
    /// typed it: `t` runs on failure or always, or an instance of `d` allows failure.
    public func readsOptional(task t: Int, irTask d: Int) -> Bool {
        if gate[t] != .success { return true }
        if isFinally[t], let x = irInstances(scope: scope(ofTask: t), irTask: d).first, !isFinally[x] { return true }
        return irInstances(scope: scope(ofTask: t), irTask: d).contains { allowFailure[$0] }
    }
}

extension RunState {
    /// `t` failed (or dead-lettered) with `allow_failure`: gates and the verdict see success.
    public func allowedFailure(_ t: Int) -> Bool {
        plan.allowFailure[t] && (tasks[t] == .failed || tasks[t] == .deadLettered)
    }

    /// Whether `d` waits for `x` to end in any state instead of gating on its success.
    func waitsForAnyEnd(_ d: Int, on x: Int) -> Bool {
        // A finally task never gates on the main graph: it runs whatever it did.
        if plan.isFinally[d] && !plan.isFinally[x] { return true }
        switch plan.gate[d] {
        case .failure, .always: return true
        case .success: return plan.anyEndDeps[d]?.contains(x) ?? false
        }
    }

    /// Counts a dependency that ended without success for `d`'s gate.
    mutating func noteBadEnd(_ x: Int, of d: Int) {
        if tasks[x] == .skipped { depSkipped[d] += 1 } else { depFailed[d] += 1 }
    }

    /// `d`'s dependencies are done: its gate, then its `when`; ready, skipped or (a
    /// condition that cannot be evaluated) failed.
    mutating func open(_ d: Int, _ work: inout [(Int, Bool)]) {
        switch plan.gate[d] {
        case .success, .always: break
        case .failure:
            if depFailed[d] == 0 { return skip(d, depSkipped[d] > 0 ? .upstreamSkipped : .condition, &work) }
        }
        if plan.isDynamicSlot(d) && openSlot(d, &work) { return }
        if let c = plan.condition[d] {
            switch decide(c, for: d) {
            case .yes: break
            case .no: return skip(d, .condition, &work)
            case .notYet(let x): return conditionFailed(d, "it reads task `\(plan.taskNames[x])`, which has not ended", &work)
            case .invalid(let m): return conditionFailed(d, m, &work)
            }
        }
        makeReady(d)
    }

    /// `d` skipped for `reason`; passed on as a failure to its dependents' gates, or, with
    /// `passedOnAsSuccess` (a fan-out's unused slot), as a success.
    mutating func skip(_ d: Int, _ reason: SkipReason, _ work: inout [(Int, Bool)], passedOnAsSuccess: Bool = false) {
        set(d, .skipped)
        skipReason[d] = reason
        work.append((d, passedOnAsSuccess))
    }

    /// A `when` without a value (a type or a missing field the checker could not see): the
    /// task fails with class `condition_error`, named in its history.
    mutating func conditionFailed(_ d: Int, _ message: String, _ work: inout [(Int, Bool)]) {
        failWithoutAttempt(d, "condition_error", conditionSubject(d) + " has no value: " + message)
        work.append((d, false))
    }

    /// `t` fails now, decided by the core without an attempt (a condition or `until`
    /// without a value, a fan-out's list too long, a budget refusing a cleanup): its
    /// history names why (agent -1), which status and the progress lines print.
    mutating func failWithoutAttempt(_ t: Int, _ errorClass: String, _ message: String) {
        history[t].append(AttemptRecord(attempt: attempts[t], agent: -1, errorClass: errorClass, message: message,
                                        startedAtMs: nowMs, endedAtMs: nowMs, costMicros: 0, tokens: 0))
        set(t, .failed)
    }

    /// What a condition without a value was: a loop instance's gate holds the loop's `until`
    /// over the iteration before (the user wrote no `when` there), any other task's `when`.
    func conditionSubject(_ d: Int) -> String {
        guard let (l, i) = loopIteration(ofTask: d), i > 1, let spec = plan.loops[l] else { return "`when`" }
        switch decide(spec.until[i - 2], for: l) {
        case .yes, .no: return "`when`"
        case .notYet, .invalid: return "`until` of loop `\(plan.taskNames[l])` after iteration \(i - 1)"
        }
    }

    /// Why `t` was skipped, as a person reads it (`reason: detail`, naming the dependency);
    /// nil when it was not skipped for a reason (the run ended first, an unused fallback).
    public func skipText(_ t: Int) -> String? {
        guard tasks[t] == .skipped, let r = skipReason[t] else { return nil }
        let deps = plan.deps[plan.depStart[t]..<plan.depStart[t + 1]]
        switch r {
        case .condition:
            if plan.gate[t] == .failure && depFailed[t] == 0 { return "condition: no dependency failed (run_on: failure)" }
            if let text = loopSkipText(t) { return text }
            return "condition: `when` was false"
        case .upstreamFailed:
            let x = deps.first { tasks[$0] != .skipped && tasks[$0].isTerminal && status(ofTask: $0) != "succeeded" && !allowedFailure($0) }
            return "upstream_failed: " + (x.map { "`\(plan.taskNames[$0])` \(status(ofTask: $0) ?? "failed")" } ?? "a dependency failed")
        case .upstreamSkipped:
            let x = deps.first { tasks[$0] == .skipped }
            return "upstream_skipped: " + (x.map { "`\(plan.taskNames[$0])` was skipped" } ?? "a dependency was skipped")
        case .unusedSlot:
            return "unused slot: the list had fewer items"
        }
    }

    /// A re-driven dependency reopened `d`: its gate counts start again.
    mutating func resetGate(_ d: Int) {
        skipReason[d] = nil
        depFailed[d] = 0
        depSkipped[d] = 0
    }

    /// How plan task `t` ended, as `TASK.status` reads it; nil while it has not. A failure
    /// its fallback recovered reads `succeeded`; an allowed failure still reads `failed`.
    public func status(ofTask t: Int) -> String? {
        switch tasks[t] {
        case .succeeded: return "succeeded"
        case .failed: return recoveredBy(t) != nil ? "succeeded" : (finalized[t] ? "failed" : nil)
        case .deadLettered: return "failed"
        case .skipped: return "skipped"
        case .cancelled: return "cancelled"
        case .waiting, .ready, .running, .backoff, .awaitingApproval: return nil
        }
    }

    /// `TASK.status` of IR task `d` of scope `w`: a `for_each` task is `failed` if an
    /// instance failed, else `cancelled` if one was, else `skipped` if all were, else
    /// `succeeded`; nil until every instance ended.
    func irStatus(scope w: Int, irTask d: Int) -> String? {
        var all: [String] = []
        for t in plan.irInstances(scope: w, irTask: d) {
            guard let s = status(ofTask: t) else { return nil }
            // A dynamic fan-out's unused slots are no instances: an empty list succeeded.
            if isUnusedSlot(t) { continue }
            all.append(s)
        }
        for s in ["failed", "cancelled"] where all.contains(s) { return s }
        return !all.isEmpty && all.allSatisfy({ $0 == "skipped" }) ? "skipped" : "succeeded"
    }

    /// The statuses of `t`'s dependencies by IR id within its scope (what a template reads
    /// as `TASK.status`, and what tells an output missing from one not yet written).
    public func dependencyStatuses(ofTask t: Int) -> [Int: String] {
        dependencyValues(ofTask: t, plain: status(ofTask:), ir: irStatus(scope:irTask:))
    }
}
