// What a plan task reads, decided from the state alone: the inputs of its workflow scope
// and the outputs of finished tasks (`RunState.taskOutputs`, folded from the journal),
// addressed as the IR addresses them (docs/RUNTIME.md, "What the runner needs to render a
// plan task"): task references inside a scope use that scope's IR ids, a fan-out reads as
// the list of its instances' outputs, a sub-workflow (join) reads as its nested outputs,
// and `inputs.*` in a nested scope are the join's `with` expressions evaluated one scope
// up. The core can therefore decide a condition (`RunState.decide`); the runner renders
// templates from the same values (`PlanScope`).
import EzflowIR

/// The value of an expression for one task, as far as the run has got.
public enum ExprOutcome: Sendable, Equatable {
    case value(JSONValue)
    /// It reads outputs of plan task `task`, which has not finished yet: ask again later.
    case notYet(task: Int)
    /// It can never have a value here: malformed, a type error, a missing input or field,
    /// or outputs of a task that ended without success. The message names things by name.
    case invalid(String)
}

/// The answer to a condition (an expression that must be a `bool`).
public enum Decision: Sendable, Equatable {
    case yes, no
    /// It reads outputs of plan task `task`, which has not finished yet.
    case notYet(task: Int)
    case invalid(String)
}

extension RunState {
    /// The value of IR expression `expr` for plan task `t`: over the inputs of `t`'s
    /// workflow scope, its fan-out item and finished tasks' outputs. `rootInputs`: the
    /// run's inputs (default: the root scope's inputs known to the plan). Secrets are
    /// never read here (the core does not hold them).
    public func evaluate(_ expr: JSONValue, for t: Int, rootInputs: [String: JSONValue]? = nil) -> ExprOutcome {
        let w = plan.scope(ofTask: t)
        let env = reader(for: t, rootInputs: rootInputs)
        do throws(ExprError) {
            return .value(try IRExpr.evaluate(expr, in: env))
        } catch {
            guard case .noOutputs(let d) = error.kind else { return .invalid(error.message) }
            let ids = plan.irInstances(scope: w, irTask: d)
            if let open = ids.first(where: { !tasks[$0].isTerminal }) { return .notYet(task: open) }
            if let bad = ids.first(where: { readOutputs(ofTask: $0) == nil && tasks[$0] != .succeeded && !isUnusedSlot($0) }) {
                return .invalid("task `\(plan.taskNames[bad])` ended \(tasks[bad].name): it has no outputs")
            }
            return .invalid(error.message)
        }
    }

    /// What an expression of plan task `t` reads: its scope's inputs, its item, finished
    /// tasks' outputs (never a secret).
    func reader(for t: Int, rootInputs: [String: JSONValue]? = nil) -> ScopeReader {
        let w = plan.scope(ofTask: t)
        return ScopeReader(state: self, scope: w, inputs: scopeInputs(w, rootInputs: rootInputs ?? plan.rootInputs),
                           item: item(ofTask: t), reader: t)
    }

    /// `condition` for plan task `t` as a yes/no answer (see `evaluate`).
    public func decide(_ condition: JSONValue, for t: Int, rootInputs: [String: JSONValue]? = nil) -> Decision {
        switch evaluate(condition, for: t, rootInputs: rootInputs) {
        case .value(.bool(let b)): b ? .yes : .no
        case .value(let v): .invalid("a condition must be a bool, found \(v.typeName)")
        case .notYet(let x): .notYet(task: x)
        case .invalid(let m): .invalid(m)
        }
    }

    /// The outputs plan task `t` reads as: its accepted success's outputs object; for a
    /// join, its nested workflow's outputs by local name; for a task that failed and whose
    /// `catch: task` fallback chain succeeded, that fallback's (`recoveredBy`: its
    /// dependents ran, so they read what stood in for it). Nil until it succeeded or was
    /// recovered, and for an approval (it has none).
    public func readOutputs(ofTask t: Int) -> JSONValue? {
        if tasks[t] == .failed, let f = recoveredBy(t) { return readOutputs(ofTask: f) }
        // An exhausted loop still reads as its last iteration (LoopCore.swift).
        if plan.kind(t) == .loop && (tasks[t] == .succeeded || tasks[t] == .failed) { return loopOutputs(t) }
        guard tasks[t] == .succeeded else { return nil }
        switch plan.kind(t) {
        case .task, .fallback, .compensation: return taskOutputs[t] ?? .object([])
        case .approval, .fallbackApproval: return nil
        case .join: return nestedOutputs(ofJoin: t)
        case .loop: return loopOutputs(t)
        }
    }

    /// A join's nested workflow outputs written so far, by their local names.
    func nestedOutputs(ofJoin t: Int) -> JSONValue? {
        guard let nested = plan.nestedWorkflow(ofTask: t) else { return nil }
        var members: [(String, JSONValue)] = []
        for (o, scope) in plan.outputWorkflow.enumerated() where scope == nested {
            if let v = outputs[o] { members.append((plan.outputLocalName[o], v)) }
        }
        return .object(members)
    }

    /// What IR task `d` of scope `w` reads as: one task's outputs, or for a `for_each`
    /// task the list of its instances' outputs (`null` for one without; empty when it has
    /// no instances). Nil when a single task has none.
    func irOutputs(scope w: Int, irTask d: Int) -> JSONValue? {
        let ids = plan.irInstances(scope: w, irTask: d)
        guard let first = ids.first else { return .array([]) }
        guard plan.isFanOut(first) else { return readOutputs(ofTask: first) }
        // A dynamic fan-out's unused slots are left out: the list has one entry per item.
        return .array(ids.filter { !isUnusedSlot($0) }.map { readOutputs(ofTask: $0) ?? .null })
    }

    /// Outputs of `t`'s dependencies by IR id within its scope (what drivers send as `deps`
    /// and templates read). A plan without IR reads plan dependencies by plan id.
    public func dependencyOutputs(ofTask t: Int) -> [Int: JSONValue] {
        dependencyValues(ofTask: t, plain: readOutputs(ofTask:), ir: irOutputs(scope:irTask:))
    }

    /// A value per dependency of `t`, by IR id within its scope (`ir`), or in a plan
    /// without IR by plan id (`plain`); dependencies without one are left out.
    func dependencyValues<V>(ofTask t: Int, plain: (Int) -> V?, ir: (Int, Int) -> V?) -> [Int: V] {
        var out: [Int: V] = [:]
        guard t < plan.taskJSON.count, case .array(let ds)? = plan.taskJSON[t]["deps"], !plan.workflowIRStart.isEmpty else {
            for i in plan.depStart[t]..<plan.depStart[t + 1] { if let o = plain(plan.deps[i]) { out[plan.deps[i]] = o } }
            return out
        }
        let w = plan.scope(ofTask: t)
        for case .int(let d) in ds { if let v = ir(w, Int(d)) { out[Int(d)] = v } }
        return out
    }

    /// The input values of workflow scope `w`: the run's for the root; for a nested scope
    /// the constants known to the plan plus its join's `with` expressions that can be
    /// evaluated one scope up now.
    public func scopeInputs(_ w: Int, rootInputs: [String: JSONValue]) -> [String: JSONValue] {
        guard w > 0, w < plan.workflowInputs.count else { return rootInputs }
        var values: [String: JSONValue] = [:]
        for (k, v) in plan.workflowInputs[w] { values[k] = v }
        let join = plan.workflowTask[w]
        guard join >= 0, case .object(let with)? = plan.taskJSON[join]["with"] else { return values }
        let parent = plan.workflowParent[w]
        let outer = ScopeReader(state: self, scope: parent, inputs: scopeInputs(parent, rootInputs: rootInputs),
                                item: join < plan.taskItem.count ? plan.taskItem[join] : nil)
        for (k, e) in with {
            // Constants are already in `workflowInputs`; the rest read finished tasks and
            // stay unset until they can be evaluated.
            do throws(ExprError) { values[k] = try IRExpr.evaluate(e, in: outer) } catch {}
        }
        return values
    }
}

/// An expression environment over the state, for one workflow scope. A reference to a
/// task's outputs has a value only once every instance of it has one.
struct ScopeReader: ExprEnvironment {
    let state: RunState
    let scope: Int
    let inputs: [String: JSONValue]
    let item: JSONValue?
    /// The plan task whose expression this is (-1: a scope's `with`).
    var reader = -1

    func input(_ name: String) -> JSONValue? { inputs[name] }

    func outputs(ofTask id: Int) -> JSONValue? {
        let ids = state.plan.irInstances(scope: scope, irTask: id)
        guard ids.allSatisfy({ state.readOutputs(ofTask: $0) != nil || state.isUnusedSlot($0) }) else { return nil }
        return state.irOutputs(scope: scope, irTask: id)
    }

    func secret(_ name: String) -> String? { nil }

    func status(ofTask id: Int) -> String? { state.irStatus(scope: scope, irTask: id) }

    func runValue(_ name: String) -> JSONValue? {
        reader >= 0 && state.plan.isFinally[reader] ? state.runValues[name] : nil
    }

    func outputsMayBeMissing(ofTask id: Int) -> Bool { reader >= 0 && state.plan.readsOptional(task: reader, irTask: id) }

    func taskName(_ id: Int) -> String? {
        let w = state.plan.workflowJSON
        guard scope >= 0, scope < w.count, case .array(let ts)? = w[scope]["tasks"], id >= 0, id < ts.count,
              case .string(let n)? = ts[id]["name"] else { return nil }
        return n
    }
}

extension Plan {
    /// The run's inputs as the plan knows them (the root scope's `workflowInputs`).
    public var rootInputs: [String: JSONValue] {
        var m: [String: JSONValue] = [:]
        for (k, v) in workflowInputs.first ?? [] { m[k] = v }
        return m
    }

    /// The workflow scope that declares `t` (0 in a plan without IR).
    public func scope(ofTask t: Int) -> Int { t < taskWorkflow.count ? taskWorkflow[t] : 0 }

    /// Plan ids of IR task `d` of scope `w`; in a plan without IR, plan ids are IR ids.
    /// Empty for an id that is not a task of the scope.
    func irInstances(scope w: Int, irTask d: Int) -> ArraySlice<Int> {
        if workflowIRStart.isEmpty { return d >= 0 && d < taskCount ? [d][...] : [] }
        guard w >= 0, w < workflowIRStart.count, d >= 0 else { return [] }
        let end = w + 1 < workflowIRStart.count ? workflowIRStart[w + 1] : irInstanceStart.count - 1
        guard workflowIRStart[w] + d < end else { return [] }
        return planTasks(workflow: w, irTask: d)
    }

    /// Whether `t` is one instance of a `for_each` task (its IR task reads as a list).
    func isFanOut(_ t: Int) -> Bool {
        t < taskJSON.count && (taskJSON[t]["for_each"].map { $0 != .null } ?? false)
    }
}
