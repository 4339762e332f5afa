import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// A role's grants including everything it inherits (cycle-safe).
    func effective(_ r: DeclID) -> EffectiveRole {
        if let e = effectiveRoles[r] { return e }
        return computeEffective(r)
    }

    /// Fills `effectiveRoles` once every role is validated (roles never change after).
    mutating func cacheEffectiveRoles() {
        effectiveRoles.removeAll()
        var out: [DeclID: EffectiveRole] = [:]
        for id in roles.keys { out[id] = computeEffective(id) }
        effectiveRoles = out
    }

    func computeEffective(_ r: DeclID) -> EffectiveRole { flattenRole(r, roles: roles) }

    static let drivers: [String: Set<String>] = [
        "run": ["exec", "sim"], "prompt": ["llm", "sim"], "call": ["http", "sim"],
    ]

    /// Agents of the pool that could run task `t`: driver fits the action and
    /// capabilities cover `needs`.
    func candidates(_ t: TaskInfo, _ w: WorkflowContext) -> [DeclID] {
        guard let drivers = Self.drivers[t.action] else { return [] }
        return w.pool.filter { id in
            guard let a = agents[id] else { return false }
            // An agent whose driver is invalid was already reported; do not pile on.
            return (a.driver == nil || drivers.contains(a.driver!)) && t.needs.allSatisfy(a.capabilities.contains)
        }
    }

    struct AgentQuery: Hashable {
        var role: DeclID?
        var action: String
        var needs: [String]
    }

    mutating func checkAgentsAndRoles(_ w: inout WorkflowContext) {
        var usedRoles: Set<DeclID> = []
        var usedAgentsByRole: [DeclID: Set<DeclID>] = [:]
        var usedSecretsByRole: [DeclID: Set<DeclID>] = [:]
        var approvingRoles: Set<DeclID> = []
        var runningRoles: Set<DeclID> = []
        for g in w.groups { if let r = g.role { usedRoles.insert(r.id) } }
        // Per distinct role: its grants and whether it may run; per distinct
        // (role, action, needs): the agents able to run it and those the role allows.
        var roleCache: [DeclID: (eff: EffectiveRole, mayRun: Bool)] = [:]
        var agentCache: [AgentQuery: (cands: [DeclID], allowed: [DeclID])] = [:]
        for ti in w.tasks.indices {
            let t = w.tasks[ti]
            let cached = t.role.map { r in
                if let e = roleCache[r.id] { return e }
                let e = effective(r.id)
                let v = (eff: e, mayRun: e.allow.contains("run"))
                roleCache[r.id] = v
                return v
            }
            let eff = cached?.eff
            if let r = t.role {
                if runningRoles.insert(r.id).inserted { usedRoles.formUnion(eff!.ancestors) }
                if cached!.mayRun == false {
                    report(error("E0501", "role `\(r.id.name)` may not run tasks", r.span,
                                 label: "task `\(t.name.text)` runs as this role",
                                 secondary: roles[r.id].map { [Label($0.name.span, "role declared here")] } ?? [],
                                 help: "add `allow: [run]` to role `\(r.id.name)` or to a role it inherits")
                        .fixing(modules[r.id.module].decls[r.id.name].flatMap { listFix("add `run` to the `allow` of role `\(r.id.name)`", $0.block, key: "allow", item: "run") }))
                }
            }
            // Secrets.
            for s in t.secrets {
                usedSecretsByRole[t.role?.id ?? DeclID(module: -1, name: ""), default: []].insert(s.id)
                if let r = t.role {
                    if !eff!.secrets.contains(s.id) {
                        report(error("E0502", "role `\(r.id.name)` has no access to secret `\(s.id.name)`", s.span,
                                     label: "task `\(t.name.text)` uses it here",
                                     secondary: [Label(r.span, "the task runs as `\(r.id.name)`")],
                                     help: "add `secrets: [\(s.id.name)]` to role `\(r.id.name)`").fixing(grantFix(r.id, "secrets", s.id)))
                    }
                } else {
                    report(error("E0502", "task `\(t.name.text)` uses secret `\(s.id.name)` but has no role granting it", s.span,
                                 help: "give the task a `role` whose `secrets` list has `\(s.id.name)`"))
                }
            }
            // Agents.
            let needsAgent = Self.drivers[t.action] != nil
            if let pinned = t.agent {
                if let a = agents[pinned.id] {
                    let driverOK = needsAgent && (a.driver == nil || Self.drivers[t.action]!.contains(a.driver!))
                    let missing = t.needs.filter { !a.capabilities.contains($0) }
                    if !needsAgent {
                        report(error("E0203", "`\(t.action)` tasks take no `agent`", pinned.span))
                    } else if !driverOK || !missing.isEmpty {
                        report(error("E0500", "agent `\(pinned.id.name)` cannot run task `\(t.name.text)`", pinned.span,
                                     secondary: [Label(a.name.span, "agent declared here")],
                                     notes: (!driverOK ? [withArticle("`\(t.action)`") + " task needs a driver among \(Self.drivers[t.action]!.sorted().joined(separator: ", ")); `\(pinned.id.name)` uses `\(a.driver ?? "?")`"] : [])
                                         + (missing.isEmpty ? [] : ["missing capabilities: " + missing.map { "\"\($0)\"" }.joined(separator: ", ")]),
                                     help: "pick another agent or drop `agent` and let the selector choose"))
                    }
                }
                if let r = t.role {
                    usedAgentsByRole[r.id, default: []].insert(pinned.id)
                    if !eff!.agents.contains(pinned.id) {
                        report(error("E0503", "role `\(r.id.name)` may not use agent `\(pinned.id.name)`", pinned.span,
                                     label: "task `\(t.name.text)` pins this agent",
                                     secondary: [Label(r.span, "the task runs as `\(r.id.name)`")],
                                     help: "add `agents: [\(pinned.id.name)]` to role `\(r.id.name)`").fixing(grantFix(r.id, "agents", pinned.id)))
                    }
                }
            } else if needsAgent {
                let q = AgentQuery(role: t.role?.id, action: t.action, needs: t.needs)
                let cands: [DeclID]
                var allowedCached: [DeclID]?
                if let c = agentCache[q] {
                    cands = c.cands
                    allowedCached = c.allowed
                } else {
                    cands = candidates(t, w)
                    let allowed = t.role != nil ? cands.filter(eff!.agents.contains) : []
                    agentCache[q] = (cands, allowed)
                    if let r = t.role, !cands.isEmpty { usedAgentsByRole[r.id, default: []].formUnion(allowed) }
                    allowedCached = allowed
                }
                if cands.isEmpty {
                    let need = t.needs.isEmpty ? "" : " with capabilities " + t.needs.map { "\"\($0)\"" }.joined(separator: ", ")
                    report(error("E0500", "no agent can run task `\(t.name.text)`", t.needsSpan ?? t.actionSpan,
                                 label: "needs \(withArticle(Self.drivers[t.action]!.sorted().filter { $0 != "sim" }.joined(separator: "/"))) agent\(need)",
                                 notes: ["the pool has: " + (w.pool.isEmpty ? "no agents" : w.pool.map { id in
                                     let a = agents[id]
                                     return "`\(id.name)` (\(a?.driver ?? "?"): \(a?.capabilities.joined(separator: ", ") ?? ""))" }.joined(separator: "; "))],
                                 help: "declare an agent with these capabilities, or add one to the workflow's `agents` list"))
                } else if let r = t.role {
                    let allowed = allowedCached!
                    if allowed.isEmpty {
                        report(error("E0503", "role `\(r.id.name)` may use none of the agents able to run task `\(t.name.text)`", r.span,
                                     notes: ["able to run it: " + cands.map { "`\($0.name)`" }.joined(separator: ", ")],
                                     help: "add one of them to role `\(r.id.name)`'s `agents` list"))
                    }
                }
            }
            // Approvals, and the roles an escalated gate asks.
            for (ap, how) in t.approvers.map({ ($0, "an approver") }) + t.escalateTo.map({ ($0, "an escalation role") }) {
                usedRoles.formUnion(effective(ap.id).ancestors)
                approvingRoles.insert(ap.id)
                if !effective(ap.id).allow.contains("approve") {
                    report(error("E0504", "role `\(ap.id.name)` may not approve", ap.span,
                                 label: "named as \(how) of `\(t.name.text)`",
                                 help: "add `approve` to role `\(ap.id.name)`'s `allow` list"))
                }
            }
        }
        // Policies name roles too.
        for (_, d) in modules[w.module].decls where d.kind == .policy {
            if let a = d.block.attributes.first(where: { $0.key.text == "roles" }), case .list(let items) = a.value.kind {
                for i in items { if case .name(let n) = i.kind { usedRoles.insert(DeclID(module: w.module, name: n)) } }
            }
        }
        reportUnusedGrants(w, usedRoles, usedAgentsByRole, usedSecretsByRole, approvingRoles, runningRoles)
    }

    /// W0101/W0102/W0103, only for declarations in the checked workflow's own file.
    mutating func reportUnusedGrants(_ w: WorkflowContext, _ usedRoles: Set<DeclID>, _ agentUse: [DeclID: Set<DeclID>],
                                     _ secretUse: [DeclID: Set<DeclID>], _ approving: Set<DeclID>, _ running: Set<DeclID>) {
        let m = w.module
        let local = roles.values.filter { $0.id.module == m }.sorted { $0.name.span < $1.name.span }
        // A grant counts as used when the role itself or any role inheriting it uses it.
        func users(of r: DeclID) -> [DeclID] { roles.keys.filter { effective($0).ancestors.contains(r) } }
        for role in local {
            guard usedRoles.contains(role.id) else {
                report(.warning("W0101", "role `\(role.name.text)` is never used", at: role.name.span,
                                help: "remove it, or give it to a task with `role: \(role.name.text)`"))
                continue
            }
            let us = users(of: role.id)
            for g in role.agents where !us.contains(where: { agentUse[$0]?.contains(g.id) == true }) {
                report(.warning("W0102", "role `\(role.name.text)` grants agent `\(g.id.name)` but no task of the role uses it", at: g.span,
                                help: "remove `\(g.id.name)` from the role's `agents`"))
            }
            for g in role.secrets where !us.contains(where: { secretUse[$0]?.contains(g.id) == true }) {
                report(.warning("W0102", "role `\(role.name.text)` grants secret `\(g.id.name)` but no task of the role uses it", at: g.span,
                                help: "remove `\(g.id.name)` from the role's `secrets`"))
            }
            if let s = role.allow["approve"], !us.contains(where: approving.contains) {
                report(.warning("W0102", "role `\(role.name.text)` may approve but approves no task", at: s,
                                help: "remove `approve`, or name the role in a task's `approvers`"))
            }
            if let s = role.allow["run"], !us.contains(where: running.contains) {
                report(.warning("W0102", "role `\(role.name.text)` may run tasks but no task runs as it", at: s,
                                help: "remove `run` from its `allow` list"))
            }
        }
        let grantedAnywhere = Set(roles.values.flatMap { $0.agents.map(\.id) })
        for id in w.pool where id.module == m && !grantedAnywhere.contains(id) {
            if let a = agents[id], roles.keys.contains(where: { $0.module == m }) {
                report(.warning("W0103", "no role may use agent `\(id.name)`", at: a.name.span,
                                help: "add it to a role's `agents` list, or remove it"))
            }
        }
    }
}
