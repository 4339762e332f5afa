// Flattening a validated IRProgram into the scheduler's Int-indexed arrays.
import EzflowIR
import EzflowUnits

/// Why a validated IR cannot be run by this runtime (a value it does not understand).
public struct PlanError: Error, Sendable, Equatable, CustomStringConvertible {
    /// JSON path of the field, as in `IRValidationError`.
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

extension Plan {
    /// Builds the plan of the program's root workflow with every input at its default
    /// (`Plan(ir, inputs: [:])`).
    public init(_ ir: IRProgram) throws(PlanError) {
        try self.init(ir, inputs: [:])
    }

    /// Builds the plan of the program's root workflow for a run with these input values
    /// (the run's inputs; missing ones take their constant default). Nested `workflow`
    /// tasks are inlined (their tasks are plan tasks named `<task>.<child>`, the workflow
    /// task becomes a join); `for_each` tasks are expanded into instances `<task>[i]`
    /// when the list is known at plan time (a constant, or built from inputs); a
    /// `for_each` over task outputs is refused (see docs/RUNTIME.md).
    public init(_ ir: IRProgram, inputs: [String: JSONValue]) throws(PlanError) {
        let w = ir.workflow
        hash = ir.hash
        selectorName = w.selector
        errorClassNames = ["timeout", "transient", "agent_error"]
        depStart = [0]
        candidateStart = [0]
        tagStart = [0]
        writeStart = [0]
        retryOnStart = [0]
        ruleStart = [0]
        var b = PlanBuilder()
        b.classID = ["timeout": 0, "transient": 1, "agent_error": 2]
        var known: [String: JSONValue] = [:]
        for (k, v) in inputs { known[k] = v }
        _ = try b.emitWorkflow(w, into: &self, path: "", parentScope: -1, parentGroup: -1, inheritedTags: [],
                               rootDeps: [], given: known, scopeName: "")
        b.finish(into: &self)
        taskCount = taskNames.count
        for (i, c) in catchTask.enumerated() where c >= 0 {
            guard c < taskCount, c != i else { throw PlanError(path: "tasks[\(i)].retry.catch.task", message: "bad fallback task \(c)") }
        }
        maxParallel = w.maxParallel.map { Int($0) } ?? -1
        budgetMoneyMicros = w.budget?.moneyMicros ?? -1
        budgetTokens = w.budget?.tokens ?? -1
        budgetTimeMs = w.budget?.timeMs ?? -1
        deadlineMs = w.deadlineMs ?? -1
        try derive()
    }

    /// Plan ids of IR task `irTask` of workflow scope `workflow`, in instance order: one
    /// for a plain task, one per item for a `for_each` task (possibly none), the join for
    /// a `workflow` task. What a `{"ref": ["task", ID, …]}` in that scope reads.
    public func planTasks(workflow: Int, irTask: Int) -> ArraySlice<Int> {
        let k = workflowIRStart[workflow] + irTask
        return irInstances[irInstanceStart[k]..<irInstanceStart[k + 1]]
    }

    /// Whether `t` is a join (a `workflow` task). `joinStart` is empty in a plan built
    /// without IR and without groups (`Plan.synthetic`): no task is a join there.
    @inline(__always)
    public func isJoin(_ t: Int) -> Bool { t < joinStart.count && joinStart[t] >= 0 }

    /// The kind of task `t` (see `NodeKind`).
    @inline(__always)
    public func kind(_ t: Int) -> NodeKind { nodeKind[t] }

    /// Whether `x` is one of the nested tasks of join `j`.
    public func isNested(_ x: Int, in j: Int) -> Bool { isJoin(j) && x >= joinStart[j] && x < j }

    /// The first budget-bearing group charged for `t` (-1 none); `taskBudgetScope` may
    /// be empty (no groups at all).
    @inline(__always)
    public func budgetScope(_ t: Int) -> Int { t < taskBudgetScope.count ? taskBudgetScope[t] : -1 }

    /// The workflow scope a join task opened (its nested workflow), or nil.
    public func nestedWorkflow(ofTask t: Int) -> Int? {
        guard isJoin(t) else { return nil }
        return workflowTask.firstIndex(of: t)
    }
    /// Recomputes what is derived from the per-task arrays: dependents (CSR), critical
    /// paths and the dispatch order; checks that no `catch` task depends on the task it
    /// catches (it could never start). `init(_:)` calls it; tests that edit a plan call it again.
    public mutating func derive() throws(PlanError) {
        fillDefaults()
        let n = taskCount
        // Dependents (CSR), by counting.
        var counts = Array(repeating: 0, count: n + 1)
        for d in deps { counts[d + 1] += 1 }
        for i in 0..<n { counts[i + 1] += counts[i] }
        dependentStart = counts
        dependents = Array(repeating: 0, count: deps.count)
        var fill = counts
        for t in 0..<n {
            for k in depStart[t]..<depStart[t + 1] {
                let d = deps[k]
                dependents[fill[d]] = t
                fill[d] += 1
            }
        }
        // Critical path: ids are topological, so one backward sweep suffices.
        criticalPathMs = Array(repeating: 0, count: n)
        rank = Array(repeating: 0, count: n)
        for t in stride(from: n - 1, through: 0, by: -1) {
            var tail: Int64 = 0
            for k in dependentStart[t]..<dependentStart[t + 1] { tail = max(tail, criticalPathMs[dependents[k]]) }
            criticalPathMs[t] = Plan.saturatingAdd(worstDurationMs(t), tail)
        }
        let order = (0..<n).sorted { a, b in
            if priority[a] != priority[b] { return priority[a] > priority[b] }
            if criticalPathMs[a] != criticalPathMs[b] { return criticalPathMs[a] > criticalPathMs[b] }
            return a < b
        }
        for (r, t) in order.enumerated() { rank[t] = r }
        for (i, c) in catchTask.enumerated() where c >= 0 {
            var seen = Array(repeating: false, count: n)
            var stack = [i]
            while let x = stack.popLast() {
                if x == c { throw PlanError(path: "tasks[\(i)].retry.catch.task", message: "fallback `\(taskNames[c])` depends on `\(taskNames[i])`") }
                for k in dependentStart[x]..<dependentStart[x + 1] where !seen[dependents[k]] {
                    seen[dependents[k]] = true
                    stack.append(dependents[k])
                }
            }
        }
    }

    /// A task's worst-case duration: every attempt runs to its timeout and every rule's
    /// backoff schedule takes its un-jittered delays (at least 1 ms, so untimed tasks still count).
    public func worstDurationMs(_ t: Int) -> Int64 {
        // A gate waits at most its timeout, and its escalation's (ApprovalGate.swift).
        let each = t < isApproval.count && isApproval[t] ? gateWorstMs(t) : timeoutMs[t]
        var total = Plan.saturatingMul(each, Int64(attemptsMax[t]))
        for r in rules(task: t) where ruleAttempts[r] > 1 {
            for a in 1..<ruleAttempts[r] { total = Plan.saturatingAdd(total, baseDelayMs(rule: r, failedAttempt: a)) }
        }
        return max(total, 1)
    }

    /// The un-jittered delay after a rule's `failedAttempt`-th failure (1-based):
    /// fixed `d`, linear `d × n`, exponential `d × factor^(n-1)` (`RetryDelay`, which the
    /// checker's proofs read too), each capped by `max_delay_ms`.
    public func baseDelayMs(rule r: Int, failedAttempt n: Int) -> Int64 {
        let f = r < factorPPM.count && factorPPM[r] > 0 ? factorPPM[r] : RetryDelay.defaultFactorPPM
        return RetryDelay.ms(kind: backoff[r].rawValue, delayMs: delayMs[r], failedAttempt: n, factorPPM: f, maxDelayMs: maxDelayMs[r])
    }

    /// The ids of `task`'s retry rules, in the order written.
    public func rules(task t: Int) -> Range<Int> { ruleStart[t]..<ruleStart[t + 1] }

    /// Worst-case money of one attempt of `task` on `agent` (-1: local, costs nothing but
    /// `max_cost_micros`): what `Reservation.moneyMicros` says (the checker's budget proofs
    /// read the same function).
    /// `tokens`: the attempt's token cap when the core decided one (`Core.tokenCap`), of
    /// which `prompt` is the prompt's bound; else the task's `max_tokens`.
    public func worstCostMicros(task t: Int, agent a: Int, tokens: Int64? = nil, prompt: Int64 = 0) -> Int64 {
        let all = tokens ?? maxTokens[t]
        return Reservation.moneyMicros(maxCostMicros: maxCostMicros[t] >= 0 ? maxCostMicros[t] : nil, agent: rates(task: t, agent: a),
                                       timeoutMs: timeoutMs[t], maxTokens: all < 0 ? all : max(0, all - prompt), promptTokens: prompt)
    }

    /// The most answer tokens an attempt of `task` on agent `a` with a prompt of `prompt`
    /// tokens can reserve within `money` (`Reservation.answerTokens`); nil when the task has
    /// `max_cost`, runs locally or its tokens cost nothing.
    public func answerTokens(task t: Int, agent a: Int, affordable money: Int64, prompt: Int64) -> Int64? {
        guard maxCostMicros[t] < 0, let r = rates(task: t, agent: a) else { return nil }
        return Reservation.answerTokens(affordable: money, agent: r, timeoutMs: timeoutMs[t], promptTokens: prompt)
    }

    /// The prices of one attempt of `task` on agent `a` (nil: local): per call, per
    /// second, per 1k tokens, and the input and output prices of the task's model (its
    /// `model`, else the agent's; its `prices` entry, else `cost_per_1k_input/output_tokens`).
    public func rates(task t: Int, agent a: Int) -> Reservation.Rates? {
        guard a >= 0 else { return nil }
        var r = Reservation.Rates(perCallMicros: agentCostPerCallMicros[a], perSecondMicros: agentCostPerSecondMicros[a],
                                  per1kTokensMicros: agentCostPer1kTokensMicros[a])
        guard a < agentSplitPrices.count else { return r }
        let model = (t < taskModel.count ? taskModel[t] : nil) ?? agentModel[a]
        let split = model.flatMap { agentModelPrices[a][$0] } ?? agentSplitPrices[a]
        r.per1kInputMicros = split.inputMicros
        r.per1kOutputMicros = split.outputMicros
        return r
    }

    /// Whether `task` is a `prompt` task: its attempts get a token cap at dispatch.
    public func capsTokens(task t: Int) -> Bool { t < promptTask.count && promptTask[t] }

    /// Worst-case tokens of one attempt: `max_tokens`, else 0.
    public func worstTokens(task t: Int) -> Int64 { Reservation.tokens(maxTokens: maxTokens[t]) }

    /// Whether some rule of `task` retries error class `name`.
    public func retries(task t: Int, errorClass name: String) -> Bool { rule(task: t, errorClass: name) != nil }

    /// The rule of `task` that takes a failure of class `name`: the first whose classes
    /// include it; nil when no rule retries it.
    public func rule(task t: Int, errorClass name: String) -> Int? {
        for r in rules(task: t) {
            if r < retryOnDefault.count && retryOnDefault[r] {
                if RetryClasses.retries(on: nil, errorClass: name) { return r }
                continue
            }
            for k in retryOnStart[r]..<retryOnStart[r + 1] where errorClassNames[retryOn[k]] == name { return r }
        }
        return nil
    }

    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 { Reservation.add(a, b) }

    static func saturatingMul(_ a: Int64, _ b: Int64) -> Int64 { Reservation.mul(a, b) }
}

/// The default selector: the lowest agent id among the candidates (which all have free
/// capacity), never drawing randomness.
public struct FirstFitSelector: AgentSelector {
    public init() {}
    public func choose(task: Int, candidates: [Int], view: SelectorView, rng: inout SeededRandom) -> Int? {
        candidates.first
    }
}

/// A breaker that never opens; it only counts outage failures in a row (as `CircuitBreaker` does).
public struct NoBreaker: BreakerPolicy {
    public init() {}
    public func record(_ outcome: AttemptOutcome, nowMs: Millis, health: inout AgentHealth) {
        guard let c = outcome.errorClass else { health.consecutiveFailures = 0; return }
        if CircuitBreaker.outageClasses.contains(c) { health.consecutiveFailures += 1 }
    }
    public func admit(agent: Int, nowMs: Millis, health: inout AgentHealth) -> Bool { true }
}

// MARK: - Building: nesting, for_each, groups

/// Plan-time state of `Plan.init(_:inputs:)`: interning tables and the per-scope maps from
/// IR task index to plan ids (flattened into the plan's CSR by `finish`).
struct PlanBuilder {
    var classID: [String: Int] = [:]
    var tagID: [String: Int] = [:]
    var agentByName: [String: Int] = [:]
    /// Per workflow scope, per IR task: its plan ids.
    var irMaps: [[[Int]]] = []

    /// Emits the tasks of `w` (recursively inlining nested workflows) and returns the
    /// workflow scope id. `rootDeps`: plan deps of the tasks without IR deps (a nested
    /// workflow's roots wait for the workflow task's own deps). `given`: input values
    /// known at plan time. `scopeName`: "" for the root, else the workflow task's plan name.
    mutating func emitWorkflow(_ w: IRWorkflow, into p: inout Plan, path: String, parentScope: Int, parentGroup: Int,
                               inheritedTags: [String], rootDeps: [Int], given: [String: JSONValue], scopeName: String)
        throws(PlanError) -> Int
    {
        let scope = p.workflowJSON.count
        let namePrefix = scopeName.isEmpty ? "" : scopeName + "."
        p.workflowJSON.append(w.json)
        p.workflowTask.append(-1)
        p.workflowParent.append(parentScope)
        irMaps.append([])
        // Inputs known at plan time: given values, else constant defaults of optional inputs.
        var known: [String: JSONValue] = [:]
        if case .array(let ins)? = w.json["inputs"] {
            for inp in ins {
                guard case .string(let name)? = inp["name"] else { continue }
                if let v = given[name] { known[name] = v; continue }
                if case .bool(false)? = inp["required"] {
                    if let d = inp["default"], d != .null { known[name] = d } else if let e = inp["default_expr"], e != .null {
                        if let v = PlanBuilder.constant(e, inputs: known, item: nil) { known[name] = v }
                    } else {
                        known[name] = .null
                    }
                }
            }
        }
        p.workflowInputs.append(known.sorted { JSONValue.keyLess($0.key, $1.key) }.map { ($0.key, $0.value) })
        // Agents, merged by name across scopes.
        var localAgent: [String: Int] = [:]
        var agentObjects: [JSONValue] = []
        if case .array(let xs)? = w.json["agents"] { agentObjects = xs }
        for (i, a) in w.agents.enumerated() {
            let json = i < agentObjects.count ? agentObjects[i] : .null
            var name = a.name
            if let id = agentByName[name] {
                if p.agentJSON[id] == json { localAgent[a.name] = id; continue }
                name = scopeName + "/" + a.name
                if let id2 = agentByName[name] { localAgent[a.name] = id2; continue }
            }
            // The same declaration seen from another file: `v` inside `inner.ezflow` is
            // `inner.v` in the root's pool. Same body and a name that qualifies it: one agent.
            if parentScope >= 0, let same = p.agentNames.indices.first(where: { g in
                p.agentNames[g].hasSuffix("." + a.name) && PlanBuilder.sameBody(p.agentJSON[g], json)
            }) {
                localAgent[a.name] = same
                continue
            }
            let id = p.agentNames.count
            agentByName[name] = id
            localAgent[a.name] = id
            p.agentNames.append(name)
            p.agentJSON.append(json)
            p.agentConcurrency.append(Int(max(1, a.concurrency)))
            p.agentCostPerCallMicros.append(a.costPerCallMicros)
            p.agentCostPer1kTokensMicros.append(a.costPer1kTokensMicros)
            p.agentCostPerSecondMicros.append(a.costPerSecondMicros)
            p.agentModel.append(a.model)
            p.agentSplitPrices.append(IRModelPrice(inputMicros: a.costPer1kInputTokensMicros, outputMicros: a.costPer1kOutputTokensMicros))
            p.agentModelPrices.append(a.prices)
            p.agentBreakerFailures.append(a.breakerFailures.map { Int($0) } ?? -1)
            p.agentBreakerCoolDownMs.append(a.breakerCoolDownMs ?? -1)
        }
        // Outputs.
        var localOutput: [String: Int] = [:]
        if case .array(let outs)? = w.json["outputs"] {
            for (i, o) in outs.enumerated() {
                guard case .string(let name)? = o["name"] else { continue }
                localOutput[name] = p.outputNames.count
                p.outputNames.append(namePrefix + name)
                p.outputLocalName.append(name)
                p.outputWorkflow.append(scope)
                if case .string(let c)? = o["on_conflict"] {
                    guard let policy = ConflictPolicy(rawValue: c) else {
                        throw PlanError(path: path + "outputs[\(i)].on_conflict", message: "unknown policy `\(c)`")
                    }
                    p.onConflict.append(policy)
                } else {
                    p.onConflict.append(.fail)
                }
            }
        }
        // Groups (declaration order: a parent comes first).
        var localGroup: [Int] = []
        if case .array(let gs)? = w.json["groups"] {
            for (i, g) in gs.enumerated() {
                guard case .string(let name)? = g["name"] else { continue }
                var parent = parentGroup
                if case .int(let pg)? = g["parent"] {
                    guard pg >= 0 && Int(pg) < localGroup.count else { throw PlanError(path: path + "groups[\(i)].parent", message: "bad parent \(pg)") }
                    parent = localGroup[Int(pg)]
                }
                let b = PlanBuilder.budget(g["budget"])
                localGroup.append(PlanBuilder.addGroup(&p, name: namePrefix + name, parent: parent, money: b.0, tokens: b.1, time: b.2, task: -1))
            }
        }
        var map: [[Int]] = Array(repeating: [], count: w.tasks.count)
        var pendingCatch: [(task: Int, ir: Int, path: String)] = []
        var pendingUndo: [(task: Int, ir: Int, path: String)] = []
        for (i, t) in w.tasks.enumerated() {
            precondition(t.id == i, "validated IR has dense task ids")
            let tpath = path + "tasks[\(i)]"
            var deps: [Int] = []
            for d in t.deps { deps.append(contentsOf: map[d]) }
            if t.deps.isEmpty { deps = rootDeps }
            deps = Array(Set(deps)).sorted()
            var group = parentGroup
            if case .int(let g)? = t.json["group"] {
                guard g >= 0 && Int(g) < localGroup.count else { throw PlanError(path: tpath + ".group", message: "no group \(g)") }
                group = localGroup[Int(g)]
            }
            var tagList = t.tags
            for g in inheritedTags where !tagList.contains(g) { tagList.append(g) }
            // Instances: one, or one per item of a list known now.
            var items: [JSONValue?] = [nil]
            let dynamicMax = PlanBuilder.maxItems(t.json)
            if t.json["for_each"].map({ $0 != .null }) == true, let n = dynamicMax {
                // A dynamic fan-out: `max_items` slots, decided when the source has run.
                guard t.action != "workflow", !t.fallback else {
                    throw PlanError(path: tpath + ".max_items", message: "a `workflow` task or a `catch` fallback cannot fan out over a list known only at run time")
                }
                items = Array(repeating: nil, count: n)
            } else if let fe = t.json["for_each"], fe != .null {
                guard let v = PlanBuilder.constant(fe, inputs: known, item: nil) else {
                    if PlanBuilder.readsTaskOutputs(fe) {
                        throw PlanError(path: tpath + ".for_each", message: "the list is only known at run time (it reads task outputs): give it `max_items`, or pass the list as a workflow input")
                    }
                    if let missing = PlanBuilder.missingInput(fe, known) {
                        throw PlanError(path: tpath + ".for_each", message: "input `\(missing)` has no value when the plan is built: pass it in `Plan(_:inputs:)`")
                    }
                    throw PlanError(path: tpath + ".for_each", message: "the list cannot be computed when the plan is built (only literals, `inputs` and `item` are evaluated)")
                }
                guard case .array(let xs) = v else { throw PlanError(path: tpath + ".for_each", message: "must be a list, found \(v.typeName)") }
                if t.fallback { throw PlanError(path: tpath + ".for_each", message: "a `catch` fallback cannot fan out") }
                items = xs.map { Optional($0) }
            }
            let fanOut = items.count != 1 || items[0] != nil || dynamicMax != nil
            let b = PlanBuilder.budget(t.json["budget"])
            let matrix = MatrixPlan(t.json)
            for (k, item) in items.enumerated() {
                let name = matrix.map { MatrixCell.name(task: namePrefix + t.name, axes: $0.axes, item: item ?? .null) }
                    ?? namePrefix + t.name + (fanOut ? "[\(k)]" : "")
                let itemNeeds = try PlanBuilder.itemNeeds(t.json, item: item, known: known, path: tpath)
                let id: Int
                if t.action == "loop" {
                    id = try appendLoop(&p, t, name: name, deps: deps, tags: tagList, group: group, scope: scope,
                                                    irIndex: i, map: map, path: tpath)
                } else if t.action == "workflow", let nested = t.workflow {
                    // The workflow task's scope: its own budget and timeout and the nested
                    // workflow's budget and deadline, whichever is tighter, over all nested tasks.
                    let nb = PlanBuilder.budget(nested.json["budget"])
                    let jg = PlanBuilder.addGroup(&p, name: name, parent: group, money: PlanBuilder.tighter(b.0, nb.0),
                                                  tokens: PlanBuilder.tighter(b.1, nb.1),
                                                  time: PlanBuilder.tighter(PlanBuilder.tighter(b.2, nb.2),
                                                                            PlanBuilder.tighter(t.timeoutMs ?? -1, nested.deadlineMs ?? -1)),
                                                  task: -1)
                    var with: [String: JSONValue] = [:]
                    if case .object(let ws)? = t.json["with"] {
                        for (key, e) in ws { if let v = PlanBuilder.constant(e, inputs: known, item: item) { with[key] = v } }
                    }
                    let nestedStart = p.taskNames.count
                    let sub = try emitWorkflow(nested, into: &p, path: tpath + ".workflow.", parentScope: scope, parentGroup: jg,
                                               inheritedTags: tagList, rootDeps: deps, given: with, scopeName: name)
                    var joinDeps = deps
                    // Fallbacks and undos run only on a failure: the workflow task does not wait for them.
                    for x in nestedStart..<p.taskNames.count where !p.isFallback[x] && p.compensates[x] < 0 { joinDeps.append(x) }
                    id = try appendTask(&p, t, name: name, deps: joinDeps, tags: tagList, group: group, scope: scope, irIndex: i,
                                    itemIndex: fanOut ? k : -1, item: item, agents: [:], outputs: [:], join: nestedStart, path: tpath)
                    p.workflowTask[sub] = id
                    p.groupTask[jg] = id
                } else {
                    id = try appendTask(&p, t, name: name, deps: deps, tags: tagList, group: group, scope: scope, irIndex: i,
                                    itemIndex: fanOut ? k : -1, item: item, agents: localAgent, outputs: localOutput, join: -1, path: tpath,
                                    itemNeeds: itemNeeds)
                    if let matrix { p.setMatrix(id, matrix) }
                    if let n = dynamicMax, let fe = t.json["for_each"] {
                        p.dynamicSlot[id] = DynamicSlot(list: fe, index: k, max: n, listText: PlanBuilder.listText(fe, tasks: w.tasks),
                                                        taskName: namePrefix + t.name)
                    }
                    if case .array(let sd)? = t.json["status_deps"] {
                        let anyEnd = sd.flatMap { d -> [Int] in if case .int(let x) = d, x >= 0, Int(x) < map.count { map[Int(x)] } else { [] } }
                        if !anyEnd.isEmpty { p.anyEndDeps[id] = anyEnd }
                    }
                    if b.0 >= 0 || b.1 >= 0 || b.2 >= 0 {
                        _ = PlanBuilder.addGroup(&p, name: name, parent: group, money: b.0, tokens: b.1, time: b.2, task: id)
                    }
                }
                p.taskBudgetMoneyMicros.append(b.0)
                p.taskBudgetTokens.append(b.1)
                p.taskBudgetTimeMs.append(b.2)
                if let c = t.retry?.catchTask { pendingCatch.append((id, c, tpath)) }
                if case .int(let u)? = t.json["compensate"] { pendingUndo.append((id, Int(u), tpath)) }
                if t.action != "workflow", let a = t.retry?.catchAgent {
                    guard let g = localAgent[a] else { throw PlanError(path: tpath + ".retry.catch.agent", message: "no agent `\(a)`") }
                    p.catchAgent[id] = g
                }
                map[i].append(id)
            }
            try checkAgents(&p, t, tpath, localAgent)
        }
        for c in pendingCatch {
            guard c.ir >= 0 && c.ir < map.count, map[c.ir].count == 1, p.joinStart[map[c.ir][0]] < 0 else {
                throw PlanError(path: c.path + ".retry.catch.task", message: "a `catch` fallback must be one plain task (not a `for_each` or `workflow` task)")
            }
            p.catchTask[c.task] = map[c.ir][0]
        }
        try PlanBuilder.compensations(&p, pendingUndo, map)
        irMaps[scope] = map
        return scope
    }

    func checkAgents(_ p: inout Plan, _ t: IRTask, _ path: String, _ localAgent: [String: Int]) throws(PlanError) {
        for a in t.agents where localAgent[a] == nil { throw PlanError(path: path + ".agents", message: "no agent `\(a)`") }
    }

    /// Appends one plan task (every per-task array but the budget mirrors).
    mutating func appendTask(_ p: inout Plan, _ t: IRTask, name: String, deps: [Int], tags tagList: [String], group: Int, scope: Int,
                             irIndex: Int, itemIndex: Int, item: JSONValue?, agents: [String: Int], outputs: [String: Int],
                             join: Int, path: String, itemNeeds: [String] = []) throws(PlanError) -> Int {
        let id = p.taskNames.count
        let isJoin = join >= 0
        p.taskNames.append(name)
        p.isApproval.append(t.action == "approve")
        p.isFallback.append(t.fallback)
        p.priority.append(Int(t.priority))
        // A join never runs: its timeout is a limit of its scope (a group), not of an attempt.
        p.timeoutMs.append(isJoin ? 0 : (t.timeoutMs ?? 0))
        p.deps.append(contentsOf: deps)
        p.depStart.append(p.deps.count)
        let rules = isJoin ? [] : (t.retry.map { [$0] } ?? []) + t.retryMore
        var most = 1
        for r in rules {
            let a = Int(min(r.attempts, 1_000))
            most = min(most + a - 1, Int(Int32.max))
            guard let b = Backoff(rawValue: r.backoff) else { throw PlanError(path: path + ".retry.backoff", message: "unknown backoff `\(r.backoff)`") }
            guard let j = Jitter(rawValue: r.jitter) else { throw PlanError(path: path + ".retry.jitter", message: "unknown jitter `\(r.jitter)`") }
            p.ruleAttempts.append(a)
            p.backoff.append(b)
            p.jitter.append(j)
            p.delayMs.append(r.delayMs)
            p.maxDelayMs.append(r.maxDelayMs ?? -1)
            p.factorPPM.append(r.factorPPM ?? -1)
            p.retryOnDefault.append(r.on == nil)
            for c in r.on ?? [] {
                if let cid = classID[c] { p.retryOn.append(cid) } else {
                    classID[c] = p.errorClassNames.count
                    p.retryOn.append(p.errorClassNames.count)
                    p.errorClassNames.append(c)
                }
            }
            p.retryOnStart.append(p.retryOn.count)
        }
        p.attemptsMax.append(most)
        p.ruleStart.append(p.ruleAttempts.count)
        p.catchTask.append(-1)
        p.catchAgent.append(-1)
        p.compensate.append(-1)
        p.compensates.append(-1)
        if !isJoin { for a in t.agents { if let g = agents[a], p.offers(g, itemNeeds) { p.candidates.append(g) } } }
        if !isJoin && !t.agents.isEmpty && p.candidateStart.last == p.candidates.count {
            throw PlanError(path: path + ".needs_item", message: "no agent of `\(name)` offers the capabilities " + itemNeeds.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        p.candidateStart.append(p.candidates.count)
        for g in tagList {
            if let tid = tagID[g] { p.tags.append(tid) } else {
                tagID[g] = p.tagNames.count
                p.tags.append(p.tagNames.count)
                p.tagNames.append(g)
            }
        }
        p.tagStart.append(p.tags.count)
        if !isJoin, case .int(let c)? = t.json["max_cost_micros"] { p.maxCostMicros.append(c) } else { p.maxCostMicros.append(-1) }
        if !isJoin, case .int(let c)? = t.json["max_tokens"] { p.maxTokens.append(c) } else { p.maxTokens.append(-1) }
        p.promptTask.append(!isJoin && t.json["action"] == .string("prompt"))
        if !isJoin, case .string(let m)? = t.json["model"] { p.taskModel.append(m) } else { p.taskModel.append(nil) }
        if !isJoin, case .array(let ws)? = t.json["writes"] {
            for case .string(let o) in ws {
                guard let oid = outputs[o] else { throw PlanError(path: path + ".writes", message: "no output `\(o)`") }
                p.writes.append(oid)
            }
        }
        p.writeStart.append(p.writes.count)
        p.taskGroup.append(group)
        p.joinStart.append(join)
        p.taskWorkflow.append(scope)
        p.taskIRIndex.append(irIndex)
        p.taskItemIndex.append(itemIndex)
        p.taskItem.append(item)
        p.taskJSON.append(t.json)
        try PlanBuilder.conditions(&p, t, id: id, path: path)
        return id
    }

    /// Two agent objects equal but for their `name`.
    static func sameBody(_ x: JSONValue, _ y: JSONValue) -> Bool {
        guard case .object(let a) = x, case .object(let b) = y else { return false }
        return JSONValue.object(a.filter { $0.0 != "name" }) == JSONValue.object(b.filter { $0.0 != "name" })
    }

    static func addGroup(_ p: inout Plan, name: String, parent: Int, money: Int64, tokens: Int64, time: Int64, task: Int) -> Int {
        p.groupNames.append(name)
        p.groupParent.append(parent)
        p.groupBudgetMoneyMicros.append(money)
        p.groupBudgetTokens.append(tokens)
        p.groupBudgetTimeMs.append(time)
        p.groupTask.append(task)
        return p.groupNames.count - 1
    }

    /// `{money_micros, tokens, time_ms}` as three limits, -1 = none.
    static func budget(_ v: JSONValue?) -> (Int64, Int64, Int64) {
        func f(_ k: String) -> Int64 { if case .int(let i)? = v?[k] { return i } else { return -1 } }
        return (f("money_micros"), f("tokens"), f("time_ms"))
    }

    /// The tighter of two limits (-1 = none).
    static func tighter(_ a: Int64, _ b: Int64) -> Int64 { a < 0 ? b : (b < 0 ? a : min(a, b)) }

    /// Flattens the per-scope IR maps into the plan's CSR.
    func finish(into p: inout Plan) {
        p.workflowIRStart = []
        p.irInstanceStart = [0]
        p.irInstances = []
        for map in irMaps {
            p.workflowIRStart.append(p.irInstanceStart.count - 1)
            for ids in map {
                p.irInstances.append(contentsOf: ids)
                p.irInstanceStart.append(p.irInstances.count)
            }
        }
    }

    /// The value of an IR expression when it is a constant given `inputs` and `item`
    /// (literals, lists, records, enums, `inputs.*`, `item`, templates of those); nil
    /// for anything else (task outputs, secrets, operators, calls).
    static func constant(_ e: JSONValue, inputs: [String: JSONValue], item: JSONValue?) -> JSONValue? {
        guard case .object(let m) = e, m.count == 1 else { return nil }
        let (k, v) = m[0]
        func follow(_ base: JSONValue, _ fields: ArraySlice<JSONValue>) -> JSONValue? {
            var x = base
            for f in fields {
                guard case .string(let name) = f, let next = x[name] else { return nil }
                x = next
            }
            return x
        }
        switch k {
        case "text", "int", "float", "bool", "duration_ms", "money_micros", "tokens": return v
        case "null": return .null
        case "list":
            guard case .array(let xs) = v else { return nil }
            var out: [JSONValue] = []
            for x in xs { guard let c = constant(x, inputs: inputs, item: item) else { return nil }; out.append(c) }
            return .array(out)
        case "record":
            guard case .object(let ms) = v else { return nil }
            var out: [(String, JSONValue)] = []
            for (name, x) in ms { guard let c = constant(x, inputs: inputs, item: item) else { return nil }; out.append((name, c)) }
            return .object(out)
        case "enum":
            if case .array(let parts) = v, parts.count == 2 { return parts[1] }
            return nil
        case "ref":
            guard case .array(let parts) = v, parts.count >= 2, case .string("inputs") = parts[0], case .string(let name) = parts[1],
                  let base = inputs[name] else { return nil }
            return follow(base, parts.dropFirst(2))
        case "item":
            guard let item, case .array(let parts) = v else { return nil }
            return follow(item, parts[...])
        case "template":
            guard case .array(let parts) = v else { return nil }
            var s = ""
            for x in parts {
                switch constant(x, inputs: inputs, item: item) {
                case .string(let t)?: s += t
                case .int(let i)?: s += String(i)
                case .bool(let b)?: s += b ? "true" : "false"
                default: return nil
                }
            }
            return .string(s)
        default: return nil
        }
    }

    /// The first `inputs.<name>` the expression reads that has no known value.
    static func missingInput(_ e: JSONValue, _ known: [String: JSONValue]) -> String? {
        switch e {
        case .object(let m):
            for (k, v) in m {
                if k == "ref", case .array(let parts) = v, parts.count >= 2, case .string("inputs") = parts[0],
                   case .string(let name) = parts[1], known[name] == nil { return name }
                if let x = missingInput(v, known) { return x }
            }
            return nil
        case .array(let xs):
            for x in xs { if let y = missingInput(x, known) { return y } }
            return nil
        default: return nil
        }
    }

    /// Whether an expression reads a task's outputs anywhere.
    static func readsTaskOutputs(_ e: JSONValue) -> Bool {
        switch e {
        case .object(let m):
            for (k, v) in m {
                if k == "ref", case .array(let parts) = v, case .string("task")? = parts.first { return true }
                if readsTaskOutputs(v) { return true }
            }
            return false
        case .array(let xs): return xs.contains { readsTaskOutputs($0) }
        default: return false
        }
    }
}

extension Plan {
    /// `nodeKind` from the builder's flags: a join is a join; otherwise approval or task,
    /// as a fallback when another task's `catch` names it.
    mutating func deriveKinds() {
        let n = taskCount
        if isApproval.count != n { isApproval = Array(repeating: false, count: n) }
        if isFallback.count != n { isFallback = Array(repeating: false, count: n) }
        if compensates.count != n { compensates = Array(repeating: -1, count: n) }
        nodeKind = (0..<n).map { t in
            if loops[t] != nil { return .loop }
            if isJoin(t) { return .join }
            if compensates[t] >= 0 { return .compensation }
            switch (isApproval[t], isFallback[t]) {
            case (false, false): return .task
            case (true, false): return .approval
            case (false, true): return .fallback
            case (true, true): return .fallbackApproval
            }
        }
    }

    /// Sizes every array a hand-built plan (tests, synthetic benchmarks) may leave empty
    /// to its neutral value: no joins, no groups, one root scope, outputs named locally.
    public mutating func fillDefaults() {
        let n = taskCount
        // A plan without IR and without groups (`Plan.synthetic`) keeps the per-task
        // `joinStart`, `taskGroup` and `taskBudgetScope` empty: 24 bytes a task saved where
        // they could only say "none" (`isJoin`, `budgetScope` read them safely).
        let bare = joinStart.isEmpty && taskGroup.isEmpty && groupNames.isEmpty && taskWorkflow.isEmpty && taskJSON.isEmpty
            && workflowJSON.isEmpty
        defer { deriveKinds() }
        if gate.count != n { gate = Array(repeating: .success, count: n) }
        if allowFailure.count != n { allowFailure = Array(repeating: false, count: n) }
        if isFinally.count != n { isFinally = Array(repeating: false, count: n) }
        hasFinally = isFinally.contains(true)
        if compensate.count != n { compensate = Array(repeating: -1, count: n) }
        if compensates.count != n { compensates = Array(repeating: -1, count: n) }
        hasCompensation = compensate.contains { $0 >= 0 }
        if bare {
            taskBudgetScope = []
            groupBudgetParent = []
            if agentJSON.count != agentNames.count { agentJSON = Array(repeating: .null, count: agentNames.count) }
            if outputLocalName.count != outputNames.count || outputWorkflow.count != outputNames.count {
                outputLocalName = outputNames
                outputWorkflow = Array(repeating: 0, count: outputNames.count)
            }
            return
        }
        if joinStart.count != n { joinStart = Array(repeating: -1, count: n) }
        if taskGroup.count != n || taskGroup.contains(where: { $0 >= groupNames.count }) { taskGroup = Array(repeating: -1, count: n) }
        // The runner-only arrays (IR origin, item, budget mirrors) stay empty in a plan built
        // without IR (`Plan.synthetic`): they would cost ~90 bytes per task and mean nothing.
        let runnerOnlyEmpty = taskWorkflow.isEmpty && taskIRIndex.isEmpty && taskItemIndex.isEmpty && taskItem.isEmpty
            && taskJSON.isEmpty && taskBudgetMoneyMicros.isEmpty && workflowJSON.isEmpty
        if runnerOnlyEmpty {
            // nothing: see above
        } else if taskBudgetMoneyMicros.count != n || taskBudgetTokens.count != n || taskBudgetTimeMs.count != n {
            taskBudgetMoneyMicros = Array(repeating: -1, count: n)
            taskBudgetTokens = taskBudgetMoneyMicros
            taskBudgetTimeMs = taskBudgetMoneyMicros
        }
        let g = groupNames.count
        if groupParent.count != g || groupBudgetMoneyMicros.count != g || groupBudgetTokens.count != g
            || groupBudgetTimeMs.count != g || groupTask.count != g {
            groupNames = []; groupParent = []; groupBudgetMoneyMicros = []; groupBudgetTokens = []; groupBudgetTimeMs = []; groupTask = []
            taskGroup = Array(repeating: -1, count: n)
        }
        if !runnerOnlyEmpty && (taskWorkflow.count != n || taskIRIndex.count != n || taskItemIndex.count != n || taskItem.count != n
            || taskJSON.count != n) {
            taskWorkflow = Array(repeating: 0, count: n)
            taskIRIndex = Array(0..<n)
            taskItemIndex = Array(repeating: -1, count: n)
            taskItem = Array(repeating: nil, count: n)
            taskJSON = Array(repeating: .null, count: n)
            workflowJSON = [.null]
            workflowTask = [-1]
            workflowParent = [-1]
            workflowInputs = [[]]
            workflowIRStart = [0]
            irInstanceStart = Array(0...n)
            irInstances = Array(0..<n)
        }
        if outputLocalName.count != outputNames.count || outputWorkflow.count != outputNames.count {
            outputLocalName = outputNames
            outputWorkflow = Array(repeating: 0, count: outputNames.count)
        }
        if agentJSON.count != agentNames.count { agentJSON = Array(repeating: .null, count: agentNames.count) }
        // Budget chains: the nearest enclosing group with a limit.
        let gn = groupNames.count
        groupBudgetParent = Array(repeating: -1, count: gn)
        func hasLimit(_ g: Int) -> Bool { groupBudgetMoneyMicros[g] >= 0 || groupBudgetTokens[g] >= 0 || groupBudgetTimeMs[g] >= 0 }
        func nearest(_ g0: Int) -> Int {
            var g = g0
            while g >= 0 && !hasLimit(g) { g = groupParent[g] }
            return g
        }
        for g in 0..<gn { groupBudgetParent[g] = nearest(groupParent[g]) }
        taskBudgetScope = Array(repeating: -1, count: n)
        for g in 0..<gn where groupTask[g] >= 0 && groupTask[g] < n && !isJoin(groupTask[g]) && hasLimit(g) {
            taskBudgetScope[groupTask[g]] = g
        }
        for t in 0..<n where taskBudgetScope[t] < 0 { taskBudgetScope[t] = nearest(taskGroup[t]) }
    }
}

extension Plan {
    /// An empty plan (no tasks, agents or limits) for builders outside the core, such as
    /// `Plan.synthetic` in EzflowSim; they set the arrays, then call `fillDefaults()`.
    public static var empty: Plan { Plan() }
}
