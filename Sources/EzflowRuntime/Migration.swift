// Moving a run onto a compatible new plan: the same tasks (matched by name) plus added
// ones. `RunState.migrated(to:)` builds the state; `Event.planUpgraded` journals the
// switch (replay migrates at that record: `Replay.verify(plans:journal:environment:)`).
import EzflowIR

/// Why a run cannot move to a new plan (`RunState.migrated(to:)`).
public struct MigrationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { "cannot move the run to the new plan: \(message)" }
}

extension RunState {
    /// The state of this run on `newPlan`, a plan with the same tasks (by name, with the
    /// same dependencies, catch targets, tags, retry rule and budget scopes) and possibly
    /// added ones. Plan ids may differ: every per-task, per-agent, per-tag, per-output and
    /// per-group value is carried over by name. Added tasks start `waiting` with one
    /// pending dependency per dependency that has not finished with success (`ready` if
    /// none; `skipped` if one already ended without success). The run's phase, clock,
    /// generator, sequence number and totals are unchanged. The next event must be
    /// `planUpgraded(fromHash: plan.hash, toHash: newPlan.hash)`, which re-arms timers
    /// under the new ids and dispatches what became ready.
    ///
    /// Refused: a run not started, finished, or already migrated but not journalled yet;
    /// the same plan hash; a task missing from the new plan or defined differently; a
    /// different set of agents; a missing output or budget group.
    public func migrated(to newPlan: Plan) throws(MigrationError) -> RunState {
        func refuse(_ m: String) -> MigrationError { MigrationError(message: m) }
        let old = plan
        switch phase {
        case .notStarted: throw refuse("the run has not started (start it on the new plan instead)")
        case .finished(let v): throw refuse("the run already finished (\(v.rawValue))")
        case .running, .draining: break
        }
        guard !upgradePending else { throw refuse("the run's previous migration is not journalled yet (`plan_upgraded` missing)") }
        guard newPlan.hash != old.hash else { throw refuse("the new plan has the same hash \(old.hash)") }

        // Tasks by name.
        var newTaskID: [String: Int] = [:]
        for (i, n) in newPlan.taskNames.enumerated() where newTaskID[n] == nil { newTaskID[n] = i }
        var tmap = Array(repeating: -1, count: old.taskCount)
        var isOld = Array(repeating: false, count: newPlan.taskCount)
        for t in 0..<old.taskCount {
            guard let n = newTaskID[old.taskNames[t]], !isOld[n] else {
                throw refuse("task `\(old.taskNames[t])` is not in the new plan")
            }
            tmap[t] = n
            isOld[n] = true
        }
        func mapTask(_ t: Int) -> Int { t >= 0 ? tmap[t] : t }

        // Agents by name: the same set.
        var newAgentID: [String: Int] = [:]
        for (i, n) in newPlan.agentNames.enumerated() { newAgentID[n] = i }
        guard Set(old.agentNames) == Set(newPlan.agentNames) && old.agentNames.count == newPlan.agentNames.count else {
            let gone = old.agentNames.filter { newAgentID[$0] == nil }
            let added = newPlan.agentNames.filter { !old.agentNames.contains($0) }
            throw refuse("the agents differ (removed: \(gone.joined(separator: ", ")); added: \(added.joined(separator: ", ")))")
        }
        let amap = old.agentNames.map { newAgentID[$0]! }
        func mapAgent(_ g: Int) -> Int { g >= 0 ? amap[g] : g }

        // Tags, outputs and groups by name.
        var newTagID: [String: Int] = [:]
        for (i, n) in newPlan.tagNames.enumerated() { newTagID[n] = i }
        var tagMap: [Int] = []
        for n in old.tagNames {
            guard let i = newTagID[n] else { throw refuse("tag `\(n)` is not in the new plan") }
            tagMap.append(i)
        }
        var newOutputID: [String: Int] = [:]
        for (i, n) in newPlan.outputNames.enumerated() { newOutputID[n] = i }
        var omap: [Int] = []
        for n in old.outputNames {
            guard let i = newOutputID[n] else { throw refuse("output `\(n)` is not in the new plan") }
            omap.append(i)
        }
        func groupKey(_ p: Plan, _ g: Int) -> String {
            let t = g < p.groupTask.count ? p.groupTask[g] : -1
            return p.groupNames[g] + "\u{0}" + (t >= 0 ? p.taskNames[t] : "")
        }
        var newGroupID: [String: Int] = [:]
        for g in 0..<newPlan.groupNames.count where newGroupID[groupKey(newPlan, g)] == nil { newGroupID[groupKey(newPlan, g)] = g }
        var gmap: [Int] = []
        for g in 0..<old.groupNames.count {
            guard let i = newGroupID[groupKey(old, g)] else { throw refuse("budget group `\(old.groupNames[g])` is not in the new plan") }
            gmap.append(i)
        }
        func mapGroup(_ g: Int) -> Int { g >= 0 ? gmap[g] : g }

        // Tasks in both plans must be the same task for the state's purposes.
        func names(_ p: Plan, _ ids: ArraySlice<Int>) -> [String] { ids.map { p.taskNames[$0] }.sorted() }
        func chain(_ p: Plan, _ t: Int) -> [String] {
            var out: [String] = []
            var g = p.budgetScope(t)
            while g >= 0 && out.count <= p.groupNames.count { out.append(groupKey(p, g)); g = p.groupBudgetParent[g] }
            return out
        }
        // What decides which rule counts a failure and how many it allows (a rule's waits
        // may change, as a single rule's may): its attempts and classes, in order.
        func retryRules(_ p: Plan, _ t: Int) -> [String] {
            p.rules(task: t).map { r in
                let on = p.retryOnDefault.indices.contains(r) && p.retryOnDefault[r] ? "default"
                    : p.retryOn[p.retryOnStart[r]..<p.retryOnStart[r + 1]].map { p.errorClassNames[$0] }.joined(separator: ",")
                return "\(p.ruleAttempts[r]):\(on)"
            }
        }
        for t in 0..<old.taskCount {
            let n = tmap[t]
            let name = old.taskNames[t]
            let was = names(old, old.deps[old.depStart[t]..<old.depStart[t + 1]])
            let now = names(newPlan, newPlan.deps[newPlan.depStart[n]..<newPlan.depStart[n + 1]])
            guard was == now else {
                throw refuse("task `\(name)` depends on [\(now.joined(separator: ", "))] in the new plan, on [\(was.joined(separator: ", "))] in the run's")
            }
            let oldCatch = old.catchTask[t] >= 0 ? old.taskNames[old.catchTask[t]] : ""
            let newCatch = newPlan.catchTask[n] >= 0 ? newPlan.taskNames[newPlan.catchTask[n]] : ""
            let oldCatchAgent = old.catchAgent[t] >= 0 ? old.agentNames[old.catchAgent[t]] : ""
            let newCatchAgent = newPlan.catchAgent[n] >= 0 ? newPlan.agentNames[newPlan.catchAgent[n]] : ""
            guard oldCatch == newCatch && oldCatchAgent == newCatchAgent else { throw refuse("task `\(name)` has another `catch`") }
            guard old.kind(t) == newPlan.kind(n) else {
                throw refuse("task `\(name)` is another kind of task in the new plan")
            }
            guard old.attemptsMax[t] == newPlan.attemptsMax[n] && retryRules(old, t) == retryRules(newPlan, n) else {
                throw refuse("task `\(name)` has another retry rule")
            }
            let oldTags = old.tags[old.tagStart[t]..<old.tagStart[t + 1]].map { old.tagNames[$0] }.sorted()
            let newTags = newPlan.tags[newPlan.tagStart[n]..<newPlan.tagStart[n + 1]].map { newPlan.tagNames[$0] }.sorted()
            guard oldTags == newTags else { throw refuse("task `\(name)` has other tags") }
            guard chain(old, t) == chain(newPlan, n) else { throw refuse("task `\(name)` is in other budget groups") }
        }

        // Carry everything over.
        func mapState(_ s: TaskState) -> TaskState {
            if case .running(let a, let g) = s { return .running(attempt: a, agent: mapAgent(g)) }
            return s
        }
        var s = RunState(plan: newPlan, environment: environment)
        s.runID = runID
        s.phase = phase
        s.rng = rng
        s.nowMs = nowMs
        s.startedAtMs = startedAtMs
        s.seq = seq
        s.runningCount = runningCount
        s.chargedMicros = chargedMicros
        s.chargedTokens = chargedTokens
        s.reservedMicros = reservedMicros
        s.reservedTokens = reservedTokens
        s.announcedWaiting = announcedWaiting
        s.interrupted = interrupted
        s.wakeAtMs = wakeAtMs
        s.unhealthySinceMs = unhealthySinceMs
        s.refusedTask = mapTask(refusedTask)
        s.compensating = compensating
        s.undoQueue = undoQueue.map(mapTask)
        s.undoCurrent = mapTask(undoCurrent)
        s.refusedGroup = mapGroup(refusedGroup)
        s.runTagLimits = runTagLimits
        s.learned = learned
        s.previousPlanHash = old.hash
        s.upgradePending = true
        for g in 0..<old.agentNames.count {
            var h = agentHealth[g]
            h.probeTask = mapTask(h.probeTask)
            s.agentHealth[amap[g]] = h
            s.agentLoad[amap[g]] = agentLoad[g]
        }
        for (k, name) in newPlan.tagNames.enumerated() {
            if let limit = runTagLimits[name] { s.tagLimit[k] = max(0, limit) }
        }
        for k in 0..<old.tagNames.count {
            s.tagLoad[tagMap[k]] = tagLoad[k]
            s.tagLimit[tagMap[k]] = tagLimit[k]
        }
        for o in 0..<old.outputNames.count {
            s.outputs[omap[o]] = outputs[o]
            s.outputWriter[omap[o]] = mapTask(outputWriter[o])
        }
        for g in 0..<old.groupNames.count {
            let n = gmap[g]
            s.groupChargedMicros[n] = groupChargedMicros[g]
            s.groupChargedTokens[n] = groupChargedTokens[g]
            s.groupReservedMicros[n] = groupReservedMicros[g]
            s.groupReservedTokens[n] = groupReservedTokens[g]
            s.groupStartedAtMs[n] = groupStartedAtMs[g]
        }
        for t in 0..<old.taskCount {
            let n = tmap[t]
            s.tasks[n] = mapState(tasks[t])
            s.attempts[n] = attempts[t]
            s.attemptBase[n] = attemptBase[t]
            s.history[n] = history[t].map { r in
                var r = r
                r.agent = mapAgent(r.agent)
                return r
            }
            s.transitions[n] = transitions[t].map { r in
                TransitionRecord(seq: r.seq, from: mapState(r.from), to: mapState(r.to))
            }
            s.attemptStartMs[n] = attemptStartMs[t]
            s.reservedCost[n] = reservedCost[t]
            s.reservedTok[n] = reservedTok[t]
            s.prevDelayMs[n] = prevDelayMs[t]
            s.usedCatchAgent[n] = usedCatchAgent[t]
            s.taskOutputs[n] = taskOutputs[t]
            s.abandoned[n] = abandoned[t]
            s.finalized[n] = finalized[t]
            s.pendingDeps[n] = pendingDeps[t]
            s.skipReason[n] = skipReason[t]
            s.finishing = finishing
            s.depFailed[n] = depFailed[t]
            s.depSkipped[n] = depSkipped[t]
            s.substitute[n] = mapTask(substitute[t])
            s.standsInFor[n] = mapTask(standsInFor[t])
        }
        for (f, waiters) in substituteWaiters { s.substituteWaiters[tmap[f]] = waiters.map { tmap[$0] } }
        for (t, v) in pendingConflict { s.pendingConflict[tmap[t]] = v }
        for (t, at) in escalatedAtMs { s.escalatedAtMs[tmap[t]] = at }
        s.readyQueue = readyQueue.map { tmap[$0] }.sorted { newPlan.rank[$0] < newPlan.rank[$1] }

        // Added tasks: pass on the outcomes already final, then ready the ones left
        // without pending dependencies, in id (topological) order.
        var work: [(Int, Bool)] = []
        for t in 0..<old.taskCount where finalized[t] {
            let x = tmap[t]
            let ok = tasks[t] == .succeeded || (tasks[t] == .failed && substitute[t] >= 0 && substituteSucceeded(t))
            for k in newPlan.dependentStart[x]..<newPlan.dependentStart[x + 1] where !isOld[newPlan.dependents[k]] {
                s.passOn(x, ok: ok, to: newPlan.dependents[k], &work)
            }
        }
        s.drainFinalize(&work)
        for t in 0..<newPlan.taskCount where !isOld[t] && s.tasks[t] == .waiting && s.pendingDeps[t] == 0 && s.triggered(t) {
            s.open(t, &work)
        }
        s.drainFinalize(&work)
        return s
    }
}
