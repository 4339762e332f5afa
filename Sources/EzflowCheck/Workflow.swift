import EzflowDiagnostics
import EzflowSyntax

/// Everything known about the workflow being checked.
struct WorkflowContext {
    var module: Int
    var block: Block
    var inputs: [String: (ty: Ty, span: Span)] = [:]
    var outputs: [String: (ty: Ty, span: Span, onConflict: String?)] = [:]
    var tasks: [TaskInfo] = []
    var groups: [GroupInfo] = []
    /// Task and group names share one namespace.
    var names: [String: (isGroup: Bool, index: Int)] = [:]
    var budget: BudgetInfo?
    var deadlineMs: Int64?
    var deadlineSpan: Span?
    var pool: [DeclID] = []
    var usedInputs: Set<String> = []
    var selector: String?
    var maxParallel: Int64?
    /// The proven bounds of every budget and the deadline (`checkBudgets`).
    var proofs: [BudgetProof] = []
    /// Per task (by id): what one attempt reserves.
    var reservations: [AttemptReservation] = []
    /// Every task output some task of this workflow reads (`checkFallbackOutputs`).
    var outputReads: [OutputRead] = []
    /// Where the workflow's `finally { }` starts (one at most).
    var finallySpan: Span?
}

extension WorkflowChecker {
    /// The names an expression reads as built-ins (`inputs.x`, `secrets.x`, `item`, `run.status`,
    /// `status.failed`, `run_status.succeeded`): a task or group of that name would be
    /// unreadable, or would silently take `run.status` from a finally task (E0907).
    static let builtinNames: Set<String> = ["inputs", "secrets", "item", "run", "status", "run_status", "previous", "iteration"]

    mutating func checkWorkflow(_ w: inout WorkflowContext) {
        let m = w.module
        let attrs = validateAttributes(w.block, module: m)
        w.selector = attrs.word("selector")
        if w.selector == "auction", let a = attrs["selector"] {
            // Real runs have no bid protocol: say so where the choice is made (docs/RUNTIME.md).
            report(Diagnostic.warning("W0107", "the `auction` selector only bids in `ezrun simulate`", at: a.value.span,
                                      label: "simulation only",
                                      notes: ["in `ezrun run` every bid is priced from the agent's declared cost, and no agent is asked"],
                                      help: "use `cheapest`, `fastest` or `learned` for real runs"))
        }
        w.maxParallel = attrs.number("max_parallel")
        if let ms = attrs.number("deadline"), let d = attrs["deadline"] {
            w.deadlineMs = ms
            w.deadlineSpan = d.value.span
        }
        // Inputs and outputs.
        for b in w.block.blocks where b.kind.text == "input" || b.kind.text == "output" {
            guard let name = b.name, let te = b.type else { continue }
            let battrs = validateAttributes(b, module: m)
            let ty = resolveType(te, module: m)
            let isInput = b.kind.text == "input"
            checkFileType(te, ty, output: !isInput)
            if isInput ? w.inputs[name.text] != nil : w.outputs[name.text] != nil {
                report(error("E0201", "\(b.kind.text) `\(name.text)` is declared twice", name.span))
                continue
            }
            if isInput {
                if let dv = b.defaultValue {
                    var env = ExprEnv(module: m)
                    checkExpr(dv, expected: ty, env: &env, what: "the default of input `\(name.text)`")
                }
                w.inputs[name.text] = (ty, name.span)
            } else {
                var oc: String?
                oc = battrs.word("on_conflict")
                checkMergeable(ty, onConflict: oc, at: battrs["on_conflict"]?.value.span, output: name)
                w.outputs[name.text] = (ty, name.span, oc)
            }
        }
        w.budget = oneBudget(w.block, module: m)
        // Pool: agents of this module plus the workflow's `agents` list.
        w.pool = modules[m].decls.values.filter { $0.kind == .agent }.map { DeclID(module: m, name: $0.name.text) }
        for r in attrs.refs["agents"] ?? [] where !w.pool.contains(r.id) { w.pool.append(r.id) }
        w.pool.sort()

        w.tasks.reserveCapacity(w.block.members.count)
        w.names.reserveCapacity(w.block.members.count)
        collectTasks(w.block, group: nil, &w)
        let base = env(for: w)
        for i in w.tasks.indices { resolveTask(i, base, &w) }
        checkLoops(&w)
        checkPolicies(&w)
        checkGraph(&w)
        checkCompensation(&w)
        checkLoopBodies(w)
        checkFallbackTargets(w)
        checkFallbackOutputs(w)
        checkConditionPlacement(w)
        checkFinally(w)
        checkAgentsAndRoles(&w)
        checkItemNeeds(w)
        checkBudgets(&w)
        checkConflicts(&w)
        for (name, input) in w.inputs.sorted(by: { $0.value.span < $1.value.span }) where !w.usedInputs.contains(name) {
            report(.warning("W0100", "input `\(name)` is never used", at: input.span,
                            help: "remove it, or read it as `inputs.\(name)`"))
        }
        checked.append(export(w))
    }

    /// Packages the checked workflow for lowering.
    func export(_ w: WorkflowContext) -> CheckedWorkflow {
        let inputs = w.block.blocks.filter { $0.kind.text == "input" }.compactMap { b -> CheckedInput? in
            guard let n = b.name, let i = w.inputs[n.text] else { return nil }
            return CheckedInput(name: n.text, type: i.ty, defaultValue: b.defaultValue, span: n.span)
        }
        let outputs = w.outputs.map { CheckedOutput(name: $0.key, type: $0.value.ty, onConflict: $0.value.onConflict, span: $0.value.span) }
            .sorted { $0.name < $1.name }
        var secretInfos: [SecretInfo] = []
        for id in secrets.sorted() {
            guard let d = modules[id.module].decls[id.name] else { continue }
            let attrs = d.block.attributes
            let provider = attrs.first { $0.key.text == "provider" }.flatMap { a -> String? in if case .name(let p) = a.value.kind { p } else { nil } } ?? "env"
            var key = ""
            if let a = attrs.first(where: { $0.key.text == "key" }), case .string(let parts) = a.value.kind {
                key = parts.map { if case .text(let t) = $0 { t } else { "" } }.joined()
            }
            secretInfos.append(SecretInfo(id: id, provider: provider, key: key))
        }
        var policies: [PolicyInfo] = []
        for (mi, mod) in modules.enumerated() {
            for d in mod.decls.values where d.kind == .policy {
                let attrs = d.block.attributes
                func word(_ k: String) -> String { attrs.first { $0.key.text == k }.flatMap { a -> String? in if case .name(let p) = a.value.kind { p } else { nil } } ?? "" }
                var rs: [DeclID] = []
                if let a = attrs.first(where: { $0.key.text == "roles" }), case .list(let items) = a.value.kind {
                    for i in items { if case .name(let n) = i.kind { rs.append(DeclID(module: mi, name: n)) } }
                }
                policies.append(PolicyInfo(id: DeclID(module: mi, name: d.name.text), effect: word("effect"), action: word("action"),
                                           roles: rs, condition: attrs.first { $0.key.text == "when" }?.value))
            }
        }
        policies.sort { $0.id < $1.id }
        return CheckedWorkflow(
            name: w.block.name?.text ?? "", module: w.module, inputs: inputs, outputs: outputs,
            tasks: w.tasks, order: topologicalOrder(w), groups: w.groups, budget: w.budget, deadlineMs: w.deadlineMs,
            selector: w.selector, maxParallel: w.maxParallel,
            pool: w.pool.compactMap { agents[$0] }, roles: roles.values.sorted { $0.id < $1.id },
            secrets: secretInfos, policies: policies,
            files: Dictionary(uniqueKeysWithValues: modules.indices.map { ($0, sources[modules[$0].file].path) }),
            nameSpan: w.block.name?.span, agents: agents, budgetProofs: w.proofs, reservations: w.reservations)
    }

    mutating func budget(_ b: Block, module m: Int) -> BudgetInfo {
        let attrs = validateAttributes(b, module: m)
        var info = BudgetInfo(span: b.kind.span)
        if let v = attrs.number("money") { info.money = v; info.moneySpan = attrs["money"]?.value.span }
        if let v = attrs.number("tokens") { info.tokens = v; info.tokensSpan = attrs["tokens"]?.value.span }
        if let v = attrs.number("time") { info.timeMs = v; info.timeSpan = attrs["time"]?.value.span }
        if let s = attrs["strict"] {
            // A switch of the proof, decided when checking: only a literal is known then.
            // Not reported again when its type was already wrong (E0300).
            let typed = !diagnostics.contains { $0.primary.span == s.value.span }
            if case .bool(let on) = s.value.kind { info.strict = on } else if case .error = s.value.kind {} else if typed {
                report(error("E0307", "`strict` must be a constant", s.value.span, label: "known only when the run starts",
                             help: "write `strict: true` or `strict: false`"))
            }
        }
        return info
    }

    /// Assigns ids in declaration order and records names, groups and declared outputs,
    /// so that expressions can then refer to any task regardless of order.
    mutating func collectTasks(_ b: Block, group: Int?, finally: Bool = false, _ w: inout WorkflowContext) {
        for case .block(let inner) in b.members where inner.kind.text == "task" || inner.kind.text == "group" || inner.kind.text == "finally" {
            if inner.kind.text == "finally" {
                // Only the workflow's own (a nested one is E0202 from the schema).
                if group == nil && !finally && collectFinally(inner, &w) { collectTasks(inner, group: nil, finally: true, &w) }
                continue
            }
            guard let name = inner.name else {
                report(error("E0204", "`\(inner.kind.text)` needs a name", inner.kind.span, help: "write `\(inner.kind.text) NAME { ... }`"))
                continue
            }
            if Self.builtinNames.contains(name.text) {
                report(error("E0907", "`\(name.text)` cannot name a \(inner.kind.text): expressions read `\(name.text)` as the built-in",
                             name.span, label: "would be hidden, or hide the built-in",
                             help: "rename it, e.g. `\(name.text)_step`"))
            }
            if let prev = w.names[name.text] {
                let prevSpan = prev.isGroup ? w.groups[prev.index].name.span : w.tasks[prev.index].name.span
                report(error("E0201", "`\(name.text)` is declared twice in this workflow", name.span, label: "redeclared here",
                             secondary: [Label(prevSpan, "first declared here")], help: "task and group names must be unique"))
                continue
            }
            if inner.kind.text == "group" {
                let gi = w.groups.count
                w.groups.append(GroupInfo(name: name, parent: group))
                w.names[name.text] = (true, gi)
                let attrs = validateAttributes(inner, module: w.module)
                w.groups[gi].role = attrs.ref("role")
                w.groups[gi].priority = attrs.number(AK.priority)
                if let a = attrs["tags"], case .list(let items) = a.value.kind { w.groups[gi].tags = items.compactMap { literalText($0) } }
                w.groups[gi].budget = oneBudget(inner, module: w.module)
                w.groups[gi].when = attrs["when"]?.value
                collectLoop(inner, group: gi, &w)
                collectTasks(inner, group: gi, &w)
            } else {
                let id = w.tasks.count
                var t = TaskInfo(id: id, name: name, block: inner, group: group, actionSpan: name.span)
                for case .block(let o) in inner.members where o.kind.text == "output" {
                    guard let on = o.name, let te = o.type else { continue }
                    t.outputs[on.text] = resolveType(te, module: w.module)
                    checkFileType(te, t.outputs[on.text]!, output: true)
                }
                var actionAttr: Attribute?
                var hasForEach = inner.blocks.contains { $0.kind.text == "matrix" }
                for case .attribute(let a) in inner.members {
                    guard let id = Schema.attrNames.id(a.key.text) else { continue }
                    if actionAttr == nil && Schema.actionMask[id] { actionAttr = a }
                    if id == Schema.forEachID { hasForEach = true }
                }
                let action = actionAttr?.key.text
                if action == "workflow", let e = actionAttr?.value { t.outputs = nestedOutputs(e, module: w.module) }
                if let implicit = action.flatMap({ Self.implicitOutputs[$0] }) {
                    // Without declared outputs the shared table is used as is (no copy).
                    if t.outputs.isEmpty { t.outputs = implicit }
                    else { for (k, v) in implicit where t.outputs[k] == nil { t.outputs[k] = v } }
                }
                t.forEach = hasForEach ? .error : nil
                t.allowFailure = literalAllowFailure(inner)
                t.isFinally = finally
                t.loop = enclosingLoop(group, w)
                w.tasks.append(t)
                w.names[name.text] = (false, id)
                if let g = group { w.groups[g].tasks.append(id) }
            }
        }
    }

    /// Outputs every task of an action kind has without declaring them.
    static let implicitOutputs: [String: [String: Ty]] = [
        "run": ["stdout": .string, "exit_code": .int],
        "prompt": ["text": .string, "tokens": .tokens, "messages": .list(messageType)],
        "call": ["body": .json, "status": .int],
        "approve": ["approved": .bool, "approver": .string],
    ]

    func env(for w: WorkflowContext) -> ExprEnv {
        var e = ExprEnv(module: w.module)
        e.inputs = w.inputs.mapValues(\.ty)
        e.tasks = w.names.filter { !$0.value.isGroup }.mapValues(\.index)
        e.taskOutputs = w.tasks.map(\.outputs)
        e.taskFanned = w.tasks.map { $0.forEach != nil }
        e.taskAllowFailure = w.tasks.map(\.allowFailure)
        e.taskIsFinally = w.tasks.map(\.isFinally)
        return e
    }

    /// Resolves one task's attributes, typing every expression it holds.
    mutating func resolveTask(_ i: Int, _ base: ExprEnv, _ w: inout WorkflowContext) {
        let m = w.module
        // Move the task out (leaving a cheap placeholder) instead of copying it.
        var t = TaskInfo(id: i, name: w.tasks[i].name, block: w.block, group: nil, actionSpan: w.tasks[i].actionSpan)
        swap(&t, &w.tasks[i])
        var env = base
        if let g = t.loop { env.loopBody = Set(w.tasks.indices.filter { $0 == i || w.tasks[$0].loop == g }) }
        if t.forEach != nil, let fe = t.block.attribute("for_each") {
            let ft = typeOf(fe.value, &env)
            switch ft {
            case .list(let el):
                env.item = el
                env.itemKnown = Constant.fold(fe.value) != nil
                checkForEachList(&t, fe, &env)
            case .error: env.item = .error
            default:
                report(error("E0300", "`for_each` expects a list, found `\(ft)`", fe.value.span))
                env.item = .error
            }
            t.forEach = env.item
        }
        checkMatrix(&t, &env)
        checkMaxItemsPlace(t)
        let attrs = validateAttributes(t.block, module: m, env: &env)
        checkConditions(&t, attrs, &env, w)
        // Exactly one action.
        var actions: [Attribute] = []
        for case .attribute(let a) in t.block.members where Schema.isAction(a.key.text) { actions.append(a) }
        if actions.isEmpty {
            report(error("E0208", "task `\(t.name.text)` has no action", t.name.span,
                         help: "give it one of: `run: \"...\"`, `prompt: \"...\"`, `call: \"URL\"`, `approve: \"...\"` or `workflow: NAME`"))
        } else if actions.count > 1 {
            report(error("E0208", "task `\(t.name.text)` has more than one action", actions[1].key.span,
                         label: "second action", secondary: [Label(actions[0].key.span, "first action")],
                         help: "split it into two tasks and order them with `after`"))
        }
        if let a = actions.first {
            t.action = a.key.text
            t.actionSpan = a.key.span
            t.actionValue = a.value
            if a.key.text == "workflow" {
                checkNestedWorkflow(&t, a, attrs.ref(AK.workflow), attrs[AK.with], &env, &w)
            } else {
                env.secretsAllowed = a.key.text == "run" || a.key.text == "call"
                env.shellScript = a.key.text == "run"
                env.filesAsPaths = a.key.text == "run"
                checkExpr(a.value, expected: .string, env: &env, what: "`\(a.key.text)`")
                env.secretsAllowed = false
                env.shellScript = false
                env.filesAsPaths = false
                if a.key.text == "run" { checkShellInjection(a.value) }
            }
        }
        if let a = attrs[AK.with], t.action != "workflow" {
            report(error("E0203", "`with` passes inputs to a nested workflow; this task has no `workflow` action", a.key.span))
        }
        t.withValue = attrs[AK.with]?.value
        t.envValue = attrs[AK.env]?.value
        t.forEachValue = attrs[AK.for_each]?.value
        checkDynamicFanout(t)
        if let a = attrs[AK.model], case .string(let p) = a.value.kind, case .text(let m)? = p.first { t.model = m }
        if t.action == "workflow" { t.callee = attrs.ref(AK.workflow)?.id }
        if let a = attrs[AK.env] {
            env.secretsAllowed = true
            env.filesAsPaths = t.action == "run"
            checkExpr(a.value, expected: .map(.string), env: &env, what: "`env`")
            env.secretsAllowed = false
            env.filesAsPaths = false
        }
        t.agent = attrs.ref(AK.agent)
        if let a = attrs[AK.needs] {
            t.needs = stringList(a.value)
            t.needsSpan = a.value.span
            if env.itemKnown { collectItemNeeds(&t, a) }
        }
        if attrs[AK.role] != nil { t.role = attrs.ref(AK.role) }
        else if let g = t.group { t.role = inheritedRole(g, w) }
        t.timeoutMs = attrs.number(AK.timeout)
        if let r = attrs.ref(AK.retry), let rule = retries[r.id] { t.retries = [rule] }
        let ruleBlocks = t.block.blocks.filter { $0.kind.text == "retry" }
        if let rb = ruleBlocks.first, let a = attrs[AK.retry] {
            // The later of the two in the file is the repeat.
            let (again, first) = rb.kind.span.start > a.key.span.start ? (rb.kind.span, a.key.span) : (a.key.span, rb.kind.span)
            report(error("E0205", "retry is given twice", again, label: "given again here", secondary: [Label(first, "first given here")],
                         help: "write every rule as a `retry { }` block, or name one rule with `retry:`"))
        } else if !ruleBlocks.isEmpty {
            t.retries = ruleBlocks.map { validateRetry($0, module: m) }
            checkRetryRules(t.retries)
        }
        t.budget = oneBudget(t.block, module: m)
        t.priority = attrs.number(AK.priority) ?? t.group.flatMap { inheritedPriority($0, w) } ?? 0
        if let a = attrs[AK.tags] { t.tags = stringList(a.value) }
        if let a = attrs[AK.after] { t.after = taskNames(a.value) }
        if let g = t.group { t.after += groupAfter(g, w) }
        if let a = attrs[AK.writes] { t.writes = taskNames(a.value) }
        t.secrets = attrs.refs[id: AK.secrets] ?? []
        checkActionOnly(attrs, action: t.action)
        checkFileOutputs(t)
        if attrs[AK.approvers] != nil {
            t.approvers = attrs.refs[id: AK.approvers] ?? []
        } else if t.action == "approve" {
            report(error("E0204", "approval task `\(t.name.text)` is missing `approvers`", t.name.span,
                         help: "name the roles that may approve: `approvers: [releaser]`"))
        }
        if attrs[AK.self_approval] != nil { t.selfApproval = attrs.word("self_approval") == "allowed" }
        checkGateTimeout(&t, attrs)
        t.maxCost = attrs.number(AK.max_cost)
        t.maxTokens = attrs.number(AK.max_tokens)
        checkPromptAttributes(&t, attrs, &env)
        for case .block(let b) in t.block.members where b.kind.text == "output" { _ = validateAttributes(b, module: m) }
        // Secrets used in strings count as needed.
        for s in env.usedSecrets where !t.secrets.contains(where: { $0.id == s.id }) { t.secrets.append(s) }
        for (dep, span) in env.readTasks where t.depSpans[dep] == nil {
            t.depSpans[dep] = span
            t.deps.append(dep)
        }
        // A status read waits for the task in any end state (unless also read or named in `after`).
        for (dep, span) in env.statusReads where t.depSpans[dep] == nil {
            t.depSpans[dep] = span
            t.deps.append(dep)
            t.statusOnlyDeps.insert(dep)
        }
        if !env.usedInputs.isEmpty { w.usedInputs.formUnion(env.usedInputs) }
        w.outputReads.append(contentsOf: env.readOutputs)
        w.tasks[i] = t
    }

    /// Policy conditions see the workflow's inputs, so reading one there counts as a use.
    mutating func checkPolicies(_ w: inout WorkflowContext) {
        for d in modules[w.module].decls.values.sorted(by: { $0.name.span < $1.name.span }) where d.kind == .policy {
            guard let cond = d.block.attributes.first(where: { $0.key.text == "when" }) else { continue }
            var env = ExprEnv(module: w.module)
            env.policy = true
            env.inputs = w.inputs.mapValues(\.ty)
            checkExpr(cond.value, expected: .bool, env: &env, what: "`when`")
            w.usedInputs.formUnion(env.usedInputs)
        }
    }

    /// The `priority` of the innermost enclosing group that gives one.
    func inheritedPriority(_ g: Int, _ w: WorkflowContext) -> Int64? { inherited(g, w, \.priority) }

    func inheritedRole(_ g: Int, _ w: WorkflowContext) -> RefUse? { inherited(g, w, \.role) }

    /// A group attribute as seen from inside group `g`: the innermost group that sets it.
    func inherited<T>(_ g: Int, _ w: WorkflowContext, _ field: KeyPath<GroupInfo, T?>) -> T? {
        var g: Int? = g
        while let gi = g {
            if let v = w.groups[gi][keyPath: field] { return v }
            g = w.groups[gi].parent
        }
        return nil
    }

    /// `after` written on enclosing groups applies to every task inside them.
    func groupAfter(_ g: Int, _ w: WorkflowContext) -> [Name] {
        var out: [Name] = []
        var g: Int? = g
        while let gi = g {
            let b = findGroupBlock(w.block, name: w.groups[gi].name.text)
            if let a = b?.attributes.first(where: { $0.key.text == "after" }) { out += taskNames(a.value) }
            g = w.groups[gi].parent
        }
        return out
    }

    func findGroupBlock(_ b: Block, name: String) -> Block? {
        for inner in b.blocks where inner.kind.text == "group" {
            if inner.name?.text == name { return inner }
            if let f = findGroupBlock(inner, name: name) { return f }
        }
        return nil
    }

    /// A list of bare names (`after: [build, test]`); resolution is the caller's.
    func taskNames(_ e: Expr) -> [Name] {
        guard case .list(let items) = e.kind else {
            if case .name(let n) = e.kind { return [Name(n, e.span)] }
            return []
        }
        return items.compactMap { if case .name(let n) = $0.kind { Name(n, $0.span) } else { nil } }
    }

    /// The outputs a nested-workflow task exposes: the called workflow's outputs.
    /// Resolved quietly here; `validateAttributes` reports a bad reference.
    mutating func nestedOutputs(_ e: Expr, module m: Int) -> [String: Ty] {
        guard let (wf, target) = calleeBlock(e, module: m) else { return [:] }
        var out: [String: Ty] = [:]
        for b in wf.blocks where b.kind.text == "output" {
            if let n = b.name, let te = b.type { out[n.text] = quietType(te, module: target) }
        }
        return out
    }

    /// A type without diagnostics (they are reported where the type is declared).
    mutating func quietType(_ te: TypeExpr, module m: Int) -> Ty {
        let saved = diagnostics.count
        let t = resolveType(te, module: m)
        diagnostics.removeSubrange(saved...)
        return t
    }

    mutating func checkNestedWorkflow(_ t: inout TaskInfo, _ a: Attribute, _ ref: RefUse?, _ with: Attribute?, _ env: inout ExprEnv, _ w: inout WorkflowContext) {
        guard let r = ref else { return }
        guard let target = modules[r.id.module].workflow else { return }
        if r.id.module == w.module {
            report(error("E0400", "workflow `\(r.id.name)` cannot run itself as a task", a.value.span))
            return
        }
        var calleeInputs: [String: (Ty, Bool)] = [:]
        for b in target.blocks where b.kind.text == "input" {
            if let n = b.name, let te = b.type { calleeInputs[n.text] = (resolveType(te, module: r.id.module), b.defaultValue != nil) }
        }
        var given: Set<String> = []
        if let with {
            guard case .record(let entries) = with.value.kind else {
                report(error("E0300", "`with` expects a record of inputs: `{ name: value }`", with.value.span))
                return
            }
            for en in entries {
                // The IR carries `with` as one object: a second value would be a duplicate key.
                guard given.insert(en.key.text).inserted else {
                    report(error("E0205", "field `\(en.key.text)` is given twice", en.key.span))
                    continue
                }
                guard let (ty, _) = calleeInputs[en.key.text] else {
                    report(error("E0305", "workflow `\(r.id.name)` has no input `\(en.key.text)`", en.key.span)
                        .suggesting(suggest(en.key.text, among: calleeInputs.keys), at: en.key.span,
                                    otherwise: "its inputs are: " + calleeInputs.keys.sorted().joined(separator: ", ")))
                    _ = typeOf(en.value, &env)
                    continue
                }
                if checkExpr(en.value, expected: ty, env: &env, what: "input `\(en.key.text)`") {
                    checkPlanTimeWith(en, callee: target, module: r.id.module)
                }
            }
        }
        for (name, (ty, hasDefault)) in calleeInputs.sorted(by: { $0.key < $1.key }) where !hasDefault && !given.contains(name) {
            if case .optional = ty { continue }
            report(error("E0305", "missing input `\(name)` for workflow `\(r.id.name)`", with?.key.span ?? a.key.span,
                         help: "pass it: `with: { \(name): ... }`"))
        }
    }
}

extension WorkflowChecker {
    /// The one `budget { }` of a workflow, group or task. A second would be dropped
    /// whichever one won, so it is E0205 (as an attribute given twice), never ignored.
    mutating func oneBudget(_ b: Block, module m: Int) -> BudgetInfo? {
        var first: (Block, BudgetInfo)?
        for bb in b.blocks where bb.kind.text == "budget" {
            if let (f, _) = first {
                report(error("E0205", "`budget` is given twice", bb.kind.span, label: "given again here",
                             secondary: [Label(f.kind.span, "first given here")], help: "merge the limits into one `budget { }` block"))
                continue
            }
            first = (bb, budget(bb, module: m))
        }
        return first?.1
    }
}
