// Conditions on tasks (docs/RUNTIME.md "Conditions and the run's verdict"): `when:` on a
// task and its enclosing groups, `run_on:`, `allow_failure:`, and `TASK.status` with the
// built-in enum `status`. A condition is typed here like any expression; what it reads
// becomes a dependency, so a cycle through a condition is an ordinary cycle (E0401/E0402).
import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// How a task ended, as `TASK.status` reads it: the built-in enum `status`.
    static let statusCases = ["succeeded", "failed", "skipped", "cancelled"]
    /// Enums every workflow knows without declaring them (a declared enum of the same name wins).
    static let builtinEnums: [String: [String]] = ["status": statusCases, "run_status": runStatusCases]

    /// `t` as the optional type a missing value reads as (null).
    static func optional(_ t: Ty) -> Ty {
        switch t {
        case .optional, .error, .json, .null: t
        default: .optional(t)
        }
    }

    /// `TASK.status`: waits for the task to end in any state; typed `status`.
    mutating func statusReference(_ e: Expr, task t: Int, path: [Name], _ env: inout ExprEnv) -> Ty {
        guard path.count == 2 else {
            report(error("E0211", "`\(path[0].text).status` has no fields", path[2].span,
                         help: "compare it with a case: `\(path[0].text).status == status.failed`"))
            return .error
        }
        env.statusReads.append((t, e.span))
        bind(path[0], .task(module: env.module, index: t))
        bind(e, .taskStatus(module: env.module, task: t))
        return .enumeration(name: "status", cases: Self.statusCases)
    }

    /// `status.CASE` when no enum `status` is declared: a case of the built-in enum (E0901
    /// with a did-you-mean for an unknown case); nil when `rest` does not name one.
    mutating func builtinEnumCase(_ rest: ArraySlice<Name>, _ e: Expr) -> Ty? {
        guard let first = rest.first, let cases = Self.builtinEnums[first.text] else { return nil }
        guard rest.count == 2 else {
            report(error("E0211", "write a case of `\(first.text)` as `\(first.text).CASE`", e.span,
                         help: "cases: " + cases.joined(separator: ", ")))
            return .error
        }
        let c = rest[rest.startIndex + 1]
        guard cases.contains(c.text) else {
            report(error("E0901", "`\(first.text)` has no case `\(c.text)`", c.span, label: first.text == "status" ? "not a task status" : "not a run status")
                .suggesting(suggest(c.text, among: cases) ?? cases.first { $0.hasPrefix(c.text.prefix(4)) && c.text.count >= 4 },
                            at: c.span, otherwise: "cases: " + cases.joined(separator: ", ")))
            return .error
        }
        bind(e, .builtinEnumCase(first.text, c.text))
        return .enumeration(name: first.text, cases: cases)
    }

    /// `allow_failure: true` as written (E0307 when it is not a literal): read while tasks
    /// are collected, since every reader of the task's outputs types them optional.
    mutating func literalAllowFailure(_ b: Block) -> Bool {
        guard let a = b.attribute("allow_failure") else { return false }
        switch a.value.kind {
        case .bool(let on): return on
        case .error: return false
        default:
            report(error("E0307", "`allow_failure` must be a constant", a.value.span, label: "known only when the run starts",
                         help: "write `allow_failure: true` or `allow_failure: false`"))
            return false
        }
    }

    /// `run_on`, then every `when` of the task and its enclosing groups, typed in the
    /// task's scope (what they read becomes the task's dependencies). A group's `when` is
    /// typed once per task inside; its diagnostics are reported once.
    mutating func checkConditions(_ t: inout TaskInfo, _ attrs: Validated, _ env: inout ExprEnv, _ w: WorkflowContext) {
        if let r = attrs.word("run_on"), r != "success" { t.runOn = r }
        t.allowFailure = env.taskAllowFailure.indices.contains(t.id) && env.taskAllowFailure[t.id]
        env.optionalOutputs = t.runOn != nil
        env.inFinally = t.isFinally
        var whens: [Expr] = []
        var g = t.group
        while let gi = g {
            if let b = findGroupBlock(w.block, name: w.groups[gi].name.text), let a = b.attribute("when") { whens.insert(a.value, at: 0) }
            g = w.groups[gi].parent
        }
        if let a = t.block.attribute("when") { whens.append(a.value) }
        for e in whens {
            let before = diagnostics.count
            let ty = typeOf(e, &env)
            if !ty.fits(.bool) {
                report(error("E0900", "a condition must be a `bool`, found `\(ty)`", e.span, label: "this is `\(ty)`",
                             help: "compare it: `\(ExprText.print(e)) == ...`, or read a status: `TASK.status == status.failed`"))
            }
            // A group's condition is typed for every task inside: one report is enough.
            let earlier = Set(diagnostics[..<before])
            var seen = Set<Diagnostic>()
            diagnostics = Array(diagnostics[..<before]) + diagnostics[before...].filter { !earlier.contains($0) && seen.insert($0).inserted }
            t.conditions.append(e)
        }
    }

    /// Per task: whether a condition may skip it (its own `when`/`run_on`, or one of a task
    /// it depends on, transitively). The worst case counts every task; the best case only
    /// the others.
    static func mayBeSkipped(_ w: WorkflowContext) -> [Bool] {
        var out = w.tasks.map { !$0.conditions.isEmpty || $0.runOn != nil }
        guard out.contains(true) else { return out }
        var changed = true
        var passes = 0
        while changed && passes <= w.tasks.count {
            changed = false
            passes += 1
            for t in w.tasks where !out[t.id] && t.deps.contains(where: { out[$0] }) {
                out[t.id] = true
                changed = true
            }
        }
        return out
    }

    /// After the graph is known: conditions where they cannot apply (E0902, E0903) and a
    /// `run_on: failure` task that has nothing to react to (W0900).
    mutating func checkConditionPlacement(_ w: WorkflowContext) {
        for t in w.tasks {
            let given = ["when", "run_on", "allow_failure"].compactMap { t.block.attribute($0) }
            // A group's `when` applies here too: say so at the task's name.
            let inherited = t.conditions.isEmpty || t.block.attribute("when") != nil ? nil : t.name.span
            if t.isFallback, let at = given.first(where: { $0.key.text != "allow_failure" })?.key.span ?? inherited {
                report(error("E0902", "a `catch` fallback cannot have a condition", at,
                             label: "runs only in place of a failed task",
                             help: "put `when`/`run_on` on the task whose `catch` names `\(t.name.text)`"))
            }
            if t.action == "workflow", let at = given.first?.key.span ?? inherited {
                report(error("E0903", "conditions are not supported on a `workflow` task yet", at,
                             label: "its nested tasks would run before the condition is decided",
                             help: "put `when`/`run_on`/`allow_failure` on the tasks of the nested workflow"))
            }
            if t.runOn == "failure", t.deps.isEmpty, let a = t.block.attribute("run_on") {
                report(.warning("W0900", "task `\(t.name.text)` runs only after a failure, but it depends on nothing", at: a.value.span,
                                label: "it will always be skipped",
                                help: "name what it reacts to: `after: [TASK]`"))
            }
        }
    }
}
