import EzflowAttributes
import EzflowCheck
import EzflowDiagnostics
import EzflowIR
import EzflowSyntax
import EzflowYAML
import Foundation

/// The result of `ezc build`: the check result and, when it is clean, the IR.
public struct BuildResult: Sendable {
    /// Sources and diagnostics, as `Compiler.check` gives them.
    public var check: CompileResult
    /// The canonical IR bytes (see docs/IR.md); nil when there are errors or no workflow.
    public var ir: [UInt8]?
    /// The content hash written into the IR (`sha256:...`).
    public var hash: String?
    /// Why no IR was produced although checking found no errors (e.g. a library module).
    public var failure: String?
}

extension Compiler {
    /// Checks `path` (and its imports) and lowers its workflow to IR.
    public static func build(path: String, stdlibRoot: String? = nil) -> BuildResult {
        build(root: path, loader: FileSystemLoader(stdlib: StdlibLocator.find(flag: stdlibRoot)))
    }

    /// Like `build(path:)` for in-memory sources (tests, benchmarks).
    public static func build(root: String, files: [String: String], stdlibRoot: String? = nil) -> BuildResult {
        build(root: root, loader: MemoryLoader(files: files.mapValues { Array($0.utf8) }, stdlib: StdlibLocator.find(flag: stdlibRoot)))
    }

    /// Like `build(root:files:)` for raw bytes.
    public static func build(root: String, bytes: [String: [UInt8]], stdlibRoot: String? = nil) -> BuildResult {
        build(root: root, loader: MemoryLoader(files: bytes, stdlib: StdlibLocator.find(flag: stdlibRoot)))
    }

    /// Runs the same session as `check(roots:loader:)` and lowers its root workflow.
    static func build(root: String, loader: some SourceLoader) -> BuildResult {
        let timing = ProcessInfo.processInfo.environment["EZFLOW_TIMING"] == "1"
        let t0 = DispatchTime.now().uptimeNanoseconds
        let session = Compiler.session(roots: [root], loader: loader)
        let result = Compiler.result(of: session)
        let t1 = DispatchTime.now().uptimeNanoseconds
        if result.hasErrors { return BuildResult(check: result) }
        // The root file is loaded first, so its module index is 0.
        guard let wf = session.workflows.first(where: { $0.module == 0 }) else {
            return BuildResult(check: result, failure: "`\(root)` declares no workflow; only a file with a `workflow` can be built")
        }
        let lowering = Lowering(workflows: session.workflows, sources: session.sources)
        let (content, sourceMap) = lowering.lower(wf)
        let t2 = DispatchTime.now().uptimeNanoseconds
        let (bytes, hash) = IRDocument.assemble(content: content, sourceMap: sourceMap)
        if timing {
            let t3 = DispatchTime.now().uptimeNanoseconds
            FileHandle.standardError.write(Data("timing: check \((t1 - t0) / 1_000_000) ms, lower \((t2 - t1) / 1_000_000) ms, serialize+hash \((t3 - t2) / 1_000_000) ms\n".utf8))
        }
        return BuildResult(check: result, ir: bytes, hash: hash)
    }
}

/// Lowers checked workflows to IR JSON. Nothing derived from a source span enters the
/// hashed content: ids come from the topological order, lists that mean sets are
/// sorted, and source positions go to the separate `source_map`. Lowering reads only
/// `CheckedWorkflow`s: every name was resolved by the checker (`Bindings`).
struct Lowering {
    let workflows: [CheckedWorkflow]
    let sources: SourceMap
    /// Sub-workflows nest at most this deep (import cycles are already refused).
    static let nestingMax = 32

    /// The workflow's members (without `ezir`/`hash`) and its source map.
    func lower(_ w: CheckedWorkflow) -> (content: [(String, JSONValue)], sourceMap: JSONValue) {
        var wl = WorkflowLowering(lowering: self, w: w, depth: 0)
        return wl.lower()
    }

    func workflow(_ id: DeclID) -> CheckedWorkflow? {
        workflows.first { $0.module == id.module && $0.name == id.name }
    }

    func loc(_ span: Span) -> String {
        let f = sources[span.file]
        let p = f.position(of: span.start)
        return "\(f.path):\(p.line):\(p.column)"
    }
}

/// A declaration's identity (module index, name), as lowering keys its caches.
struct QID: Hashable, Comparable {
    var module: Int
    var name: String
    static func < (a: QID, b: QID) -> Bool { (a.module, a.name) < (b.module, b.name) }
}

extension DeclID {
    var q: QID { QID(module: module, name: name) }
    init(_ q: QID) { self.init(module: q.module, name: q.name) }
}

/// Lowering of one workflow (the root or a callee): names are qualified relative to
/// its module, tasks numbered by topological position.
struct WorkflowLowering {
    let lowering: Lowering
    let w: CheckedWorkflow
    let depth: Int
    /// Task declaration index → IR id (position in the topological order).
    var position: [Int]
    var roles: [DeclID: RoleInfo] = [:]
    var modulePrefix: [Int: String] = [:]
    var types: [String: JSONValue] = [:]
    var effectiveCache: [DeclID: (allow: [String], agents: [QID], secrets: [QID], ancestors: [DeclID])] = [:]
    var agentIDs: Set<QID> = []
    var policyCache: [String: [JSONValue]] = [:]
    var subCache: [DeclID: (JSONValue, JSONValue)] = [:]
    var qnameCache: [QID: String] = [:]
    var permissionCache: [DeclID: JSONValue] = [:]
    var retryCache: [Span: JSONValue] = [:]
    /// Loops by group id, the IR order, and the iteration being written (LoopLowering.swift).
    var loops: [Int: LoopLayout] = [:]
    var emission: [LoopEmit] = []
    var iterationContext: (loop: Int, iteration: Int)?

    init(lowering: Lowering, w: CheckedWorkflow, depth: Int) {
        precondition(depth <= Lowering.nestingMax, "sub-workflows nest deeper than \(Lowering.nestingMax)")
        precondition(w.order.count == w.tasks.count, "lowering needs an acyclic, fully ordered workflow")
        self.lowering = lowering
        self.w = w
        self.depth = depth
        position = [Int](repeating: 0, count: w.tasks.count)
        for (p, id) in w.order.enumerated() { position[id] = p }
        for r in w.roles { roles[r.id] = r }
        // Module name prefixes: the file's base name, made unique with `#index` if two
        // imported files share one.
        var byBase: [String: [Int]] = [:]
        for (m, path) in w.files { byBase[Self.baseName(path), default: []].append(m) }
        for (base, ms) in byBase {
            for m in ms { modulePrefix[m] = ms.count == 1 ? base : "\(base)#\(m)" }
        }
        layOutLoops()
    }

    static func baseName(_ path: String) -> String {
        var b = (path as NSString).lastPathComponent
        for ext in [".ezflow.yaml", ".ezflow.yml", ".ezflow", ".yaml", ".yml"] where b.hasSuffix(ext) {
            b.removeLast(ext.count)
            break
        }
        return b
    }

    /// A declaration's IR name: bare in the workflow's own module, `module.name` otherwise.
    mutating func qname(_ id: DeclID) -> String { qname(id.q) }

    mutating func qname(_ id: QID) -> String {
        if let q = qnameCache[id] { return q }
        let q = id.module == w.module ? id.name : "\(modulePrefix[id.module] ?? "m\(id.module)").\(id.name)"
        qnameCache[id] = q
        return q
    }

    // MARK: - workflow

    mutating func lower() -> (content: [(String, JSONValue)], sourceMap: JSONValue) {
        // Agents: the pool, everything a role grants, and `catch` agents.
        agentIDs = Set(w.pool.map(\.id.q))
        for r in w.roles { for a in r.agents { agentIDs.insert(a.id.q) } }
        for t in w.tasks {
            if case .agent(let id)? = t.fallback { agentIDs.insert(id.q) }
            if let a = t.agent { agentIDs.insert(a.id.q) }
        }
        agentIDs = agentIDs.filter { w.agents[DeclID($0)] != nil }
        var agentJSON: [(String, JSONValue)] = []
        for id in agentIDs { agentJSON.append((qname(id), agent(id))) }
        agentJSON.sort { JSONValue.keyLess($0.0, $1.0) }

        var roleJSON: [(String, JSONValue)] = []
        for r in w.roles { roleJSON.append((qname(r.id), role(r))) }
        roleJSON.sort { JSONValue.keyLess($0.0, $1.0) }

        var secretJSON: [(String, JSONValue)] = []
        for s in w.secrets {
            secretJSON.append((qname(s.id), .object([("key", .string(s.key)), ("name", .string(qname(s.id))), ("provider", .string(s.provider))])))
        }
        secretJSON.sort { JSONValue.keyLess($0.0, $1.0) }

        var policyJSON: [(String, JSONValue)] = []
        for p in w.policies {
            var scope = ExprScope(module: p.id.module, policy: true)
            let when: JSONValue = p.condition.map { expr($0, &scope) } ?? .null
            policyJSON.append((qname(p.id), .object([
                ("action", .string(p.action)), ("effect", .string(p.effect)), ("name", .string(qname(p.id))),
                ("roles", .array(p.roles.map { .string(qname($0)) }.sorted(by: Self.stringLess))), ("when", when),
            ])))
        }
        policyJSON.sort { JSONValue.keyLess($0.0, $1.0) }

        var inputs: [JSONValue] = []
        for i in w.inputs.sorted(by: { JSONValue.keyLess($0.name, $1.name) }) {
            var def: JSONValue = .null, defExpr: JSONValue = .null
            if let d = i.defaultValue {
                if let c = constant(d, module: w.module) { def = Self.withOptionalFields(c, i.type) } else {
                    var scope = ExprScope(module: w.module, policy: false)
                    defExpr = Self.withOptionalFields(expr: expr(d, &scope), i.type)
                }
            }
            var required = i.defaultValue == nil
            if case .optional = i.type { required = false }
            inputs.append(.object([("default", def), ("default_expr", defExpr), ("name", .string(i.name)),
                                   ("required", .bool(required)), ("type", .string(typeName(i.type)))]))
        }
        let outputs: [JSONValue] = w.outputs.sorted { JSONValue.keyLess($0.name, $1.name) }.map { o in
            .object([("name", .string(o.name)), ("on_conflict", o.onConflict.map { .string($0) } ?? .null),
                     ("type", .string(typeName(o.type)))])
        }
        var groups: [JSONValue] = []
        for (gi, g) in w.groups.enumerated() {
            groups.append(.object([
                ("budget", budget(g.budget)), ("id", .int(Int64(gi))), ("name", .string(g.name.text)),
                ("parent", g.parent.map { .int(Int64($0)) } ?? .null), ("role", g.role.map { .string(qname($0.id)) } ?? .null),
                ("tags", .array(g.tags.map { .string($0) })),
                ("tasks", .array(groupTaskIDs(gi).map { .int(Int64($0)) })),
            ]))
        }

        var tasks = CanonicalStream(capacity: w.tasks.count * 1024)
        var taskLocs = CanonicalStream(capacity: w.tasks.count * 64)
        tasks.beginArray()
        taskLocs.beginArray()
        // A local copy of the array, so each task is borrowed rather than copied while
        // `self` is mutated.
        let taskInfos = w.tasks
        for e in emission {
            switch e {
            case .task(let id): task(taskInfos[id], &tasks, &taskLocs)
            case .instance(let g, let i, let id):
                iterationContext = (g, i)
                task(taskInfos[id], &tasks, &taskLocs)
                iterationContext = nil
            case .node(let g): loopNode(g, &tasks, &taskLocs)
            }
        }
        tasks.endArray()
        taskLocs.endArray()

        let content: [(String, JSONValue)] = [
            ("agents", .array(agentJSON.map(\.1))),
            ("budget", budget(w.budget)),
            ("deadline_ms", w.deadlineMs.map { .int($0) } ?? .null),
            ("groups", .array(groups)),
            ("inputs", .array(inputs)),
            ("max_parallel", w.maxParallel.map { .int($0) } ?? .null),
            ("name", .string(w.name)),
            ("outputs", .array(outputs)),
            ("policies", .array(policyJSON.map(\.1))),
            ("roles", .array(roleJSON.map(\.1))),
            ("secrets", .array(secretJSON.map(\.1))),
            ("selector", w.selector.map { .string($0) } ?? .null),
            ("tasks", .raw(tasks.bytes)),
            ("types", .object(types.sorted { JSONValue.keyLess($0.key, $1.key) }.map { ($0.key, $0.value) })),
        ]
        let wfLoc: JSONValue = w.nameSpan.map { .string(lowering.loc($0)) } ?? .null
        let sourceMap: JSONValue = .object([("tasks", .raw(taskLocs.bytes)), ("workflow", wfLoc)])
        return (content, sourceMap)
    }

    /// A task's own tags, then those of its enclosing groups (innermost first), without repeats.
    func tags(_ t: TaskInfo) -> [String] {
        guard var g = t.group else { return t.tags }
        var out = t.tags
        while true {
            for tag in w.groups[g].tags where !out.contains(tag) { out.append(tag) }
            guard let p = w.groups[g].parent else { break }
            g = p
        }
        return out
    }

    static func stringLess(_ a: JSONValue, _ b: JSONValue) -> Bool {
        guard case .string(let x) = a, case .string(let y) = b else { return false }
        return JSONValue.keyLess(x, y)
    }

    mutating func names(_ ids: some Sequence<DeclID>) -> JSONValue { names(ids.map(\.q)) }

    mutating func names(_ ids: some Sequence<QID>) -> JSONValue {
        var out: [String] = []
        for id in ids { out.append(qname(id)) }
        out.sort(by: JSONValue.keyLess)
        var dedup: [JSONValue] = []
        for (i, s) in out.enumerated() where i == 0 || out[i - 1] != s { dedup.append(.string(s)) }
        return .array(dedup)
    }

    func budget(_ b: BudgetInfo?) -> JSONValue {
        guard let b else { return .null }
        // `strict` is written only when set (absent = false), so earlier IR keeps its hash.
        return .object([("money_micros", b.money.map { .int($0) } ?? .null)] + (b.strict ? [("strict", .bool(true))] : [])
                       + [("time_ms", b.timeMs.map { .int($0) } ?? .null), ("tokens", b.tokens.map { .int($0) } ?? .null)])
    }

    /// A role's grants with inheritance flattened (cycle-safe; cycles are errors anyway).
    mutating func effective(_ r: DeclID) -> (allow: [String], agents: [QID], secrets: [QID], ancestors: [DeclID]) {
        if let e = effectiveCache[r] { return e }
        let flat = flattenRole(r, roles: roles)
        let e = (flat.allow.sorted(), flat.agents.map(\.q).filter { agentIDs.contains($0) }.sorted(), flat.secrets.map(\.q).sorted(),
                 flat.ancestors.subtracting([r]).sorted())
        effectiveCache[r] = e
        return e
    }

    mutating func role(_ r: RoleInfo) -> JSONValue {
        let e = effective(r.id)
        return .object([
            ("agents", names(e.agents)), ("allow", .array(e.allow.map { .string($0) })), ("inherits", names(e.ancestors)),
            ("name", .string(qname(r.id))), ("secrets", names(e.secrets)),
        ])
    }

    mutating func agent(_ id: QID) -> JSONValue {
        guard let a = w.agents[DeclID(id)] else { return .null }
        func text(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        var members: [(String, JSONValue)] = [
            ("api_key", a.apiKey.map { .string(qname($0)) } ?? .null), ("capabilities", .array(a.capabilities.map { .string($0) })),
            ("command", text(a.command)), ("concurrency", .int(a.concurrency)),
            ("cost_per_1k_tokens_micros", .int(a.costPer1kTokens)), ("cost_per_call_micros", .int(a.costPerCall)),
            ("cost_per_second_micros", .int(a.costPerSecond)), ("driver", text(a.driver)),
            ("failure_rate_ppm", a.failureRatePPM.map { .int($0) } ?? .null), ("latency_ms", a.latencyMs.map { .int($0) } ?? .null),
            ("model", text(a.model)), ("name", .string(qname(id))), ("url", text(a.url)),
        ]
        members += Self.priceMembers(a) + Self.healthMembers(a)
        return .object(members.sorted { $0.0 < $1.0 })
    }

    /// The format, token prices and `stream` of an llm agent, each written only when the
    /// file gives it, so the IR (and hash) of a workflow that uses none of them is unchanged.
    static func priceMembers(_ a: AgentInfo) -> [(String, JSONValue)] {
        var m: [(String, JSONValue)] = []
        if let f = a.format { m.append(("format", .string(f))) }
        if a.stream { m.append(("stream", .bool(true))) }
        if let p = a.costPer1kInput { m.append(("cost_per_1k_input_tokens_micros", .int(p))) }
        if let p = a.costPer1kOutput { m.append(("cost_per_1k_output_tokens_micros", .int(p))) }
        if let prices = a.prices {
            m.append(("prices", .array(prices.map {
                .object([("input_micros", .int($0.inputMicros)), ("model", .string($0.model)), ("output_micros", .int($0.outputMicros))])
            })))
        }
        return m
    }

    /// The breaker settings and health check of an agent, each written only when the file
    /// gives it (as `priceMembers`), so earlier IR keeps its hash.
    static func healthMembers(_ a: AgentInfo) -> [(String, JSONValue)] {
        var m: [(String, JSONValue)] = []
        if let n = a.breakerFailures { m.append(("breaker_failures", .int(n))) }
        if let d = a.breakerCoolDownMs { m.append(("breaker_cool_down_ms", .int(d))) }
        if let u = a.healthURL { m.append(("health_url", .string(u))) }
        if let c = a.healthCommand { m.append(("health_command", .string(c))) }
        if let d = a.healthIntervalMs { m.append(("health_interval_ms", .int(d))) }
        // Written only when given, so the IR (and hash) of a workflow without it is unchanged.
        if let q = a.queue { m.append(("queue", .string(q))) }
        return m
    }

    static let drivers: [String: Set<String>] = ["run": ["exec", "sim"], "prompt": ["llm", "sim"], "call": ["http", "sim"]]

    // MARK: - tasks

    /// One retry rule's IR object: `on` null when left out (the default classes,
    /// `RetryClasses`), `factor_ppm` only when written.
    static func retryRule(_ r: RetryInfo, catch c: JSONValue) -> JSONValue {
        var m: [(String, JSONValue)] = [
            ("attempts", .int(r.attempts)), ("backoff", .string(r.backoff)), ("catch", c), ("delay_ms", .int(r.delayMs)),
            ("jitter", .string(r.jitter)), ("max_delay_ms", r.maxDelayMs.map { .int($0) } ?? .null),
            ("on", r.on.map { .array($0.map { .string($0) }) } ?? .null),
        ]
        if let f = r.factorPPM { m.append(("factor_ppm", .int(f))) }
        return .object(m.sorted { $0.0 < $1.0 })
    }

    /// Writes one task (canonical key order) to `out` and its source location to `locs`.
    /// Streamed rather than built as a tree: this is the part that grows with the workflow.
    mutating func task(_ t: TaskInfo, _ out: inout CanonicalStream, _ locs: inout CanonicalStream) {
        let id = iterationContext == nil ? position[t.id] : readPosition(t.id)
        var scope = ExprScope(module: w.module, policy: false)
        var template: JSONValue = .null, sub: JSONValue = .null, subMap: JSONValue = .null, with: JSONValue = .null
        if t.action == "workflow" {
            if let callee = t.callee {
                if let cached = subCache[callee] { (sub, subMap) = cached } else if let cw = lowering.workflow(callee) {
                    var inner = WorkflowLowering(lowering: lowering, w: cw, depth: depth + 1)
                    let (c, m) = inner.lower()
                    sub = .object(c)
                    subMap = m
                    subCache[callee] = (sub, subMap)
                }
            }
            if let wv = t.withValue { with = Self.withOptionalFields(with: map(wv, &scope), callee: t.callee.flatMap(lowering.workflow)) }
        } else if let v = t.actionValue {
            template = .array(parts(v, &scope))
        }
        var permissions: JSONValue = .null
        var roleName: String? = nil
        var allowedAgents: [QID]? = nil
        if let r = t.role {
            let e = effective(r.id)
            roleName = qname(r.id)
            if let p = permissionCache[r.id] { permissions = p } else {
                permissions = .object([("agents", names(e.agents)), ("allow", .array(e.allow.map { .string($0) })), ("secrets", names(e.secrets))])
                permissionCache[r.id] = permissions
            }
            allowedAgents = e.agents
        }
        var candidates: [String] = []
        if let pinned = t.agent {
            candidates = [qname(pinned.id)]
        } else if let drivers = Self.drivers[t.action] {
            for a in w.pool where (a.driver == nil || drivers.contains(a.driver!)) && t.needs.allSatisfy(a.capabilities.contains) {
                if let allowed = allowedAgents, !allowed.contains(a.id.q) { continue }
                candidates.append(qname(a.id))
            }
            candidates.sort(by: JSONValue.keyLess)
        }
        var retry: JSONValue = .null
        if let r = t.retries.first {
            if let cached = retryCache[r.span] { retry = cached } else {
                // The task's one fallback is written on its first rule, whichever rule names it.
                var c: JSONValue = .null
                switch t.fallback {
                case .task(let ct)?: c = .object([("task", .int(Int64(position[ct])))])
                case .agent(let aid)?: c = .object([("agent", .string(qname(aid)))])
                case nil: break
                }
                retry = Self.retryRule(r, catch: c)
                retryCache[r.span] = retry
            }
        }
        // Further rules in source order; absent for one rule or none, so older IR keeps its hash.
        let retryMore = t.retries.dropFirst().map { Self.retryRule($0, catch: .null) }
        var forEach: JSONValue = .null
        var itemType: String? = nil
        if let fe = t.forEachValue {
            forEach = expr(fe, &scope)
            if let it = t.forEach {
                itemType = typeName(it)
                forEach = Self.withOptionalFields(expr: forEach, .list(it))
            }
        }
        if let m = t.matrix {
            forEach = Self.matrixCells(m)
            if let it = t.forEach { itemType = typeName(it) }
        }
        let needsItem: [JSONValue] = t.itemNeeds.map { expr($0, &scope) }
        let env: JSONValue = t.envValue.map { map($0, &scope) } ?? .null
        let system: JSONValue? = t.systemValue.map { .array(parts($0, &scope)) }
        let messages: JSONValue? = t.messagesValue.map { expr($0, &scope) }
        var when: JSONValue? = condition(t, &scope)
        let gate = iterationGate(&scope)
        if let g = gate.when { when = when.map { .object([("args", .array([g, $0])), ("op", .string("&&"))]) } ?? g }
        var deps = Set(t.deps.map(readPosition))
        deps.formUnion(gate.deps)
        let gating = Set(t.deps.filter { !t.statusOnlyDeps.contains($0) }.map(readPosition))
        let statusDeps = Set(t.statusOnlyDeps.map(readPosition)).subtracting(gating)

        out.beginObject()
        out.key("action"); out.string(t.action)
        out.key("agent"); out.string(t.agent.map { qname($0.id) })
        out.key("agents"); out.strings(candidates)
        // Conditions are written only when given, so earlier IR keeps its hash.
        if t.allowFailure { out.key("allow_failure"); out.bool(true) }
        out.key("approvers"); out.value(t.approvers.isEmpty ? .array([]) : names(t.approvers.map(\.id)))
        out.key("budget"); if t.budget == nil { out.null() } else { out.value(budget(t.budget)) }
        // Compensation is written only when given, so earlier IR keeps its hash.
        if let c = t.compensation { out.key("compensate"); out.int(position[c]) }
        if t.compensates != nil { out.key("compensation"); out.bool(true) }
        out.key("deps")
        out.beginArray()
        for d in deps.sorted() { out.int(d) }
        out.endArray()
        out.key("env"); out.value(env)
        // A gate's timeout settings are written only when given (absent: reject), so
        // earlier IR keeps its hash.
        if let ms = t.escalateTimeoutMs { out.key("escalate_timeout_ms"); out.int(ms) }
        if !t.escalateTo.isEmpty { out.key("escalate_to"); out.value(names(t.escalateTo.map(\.id))) }
        out.key("fallback"); out.bool(t.isFallback)
        if t.isFinally { out.key("finally"); out.bool(true) }
        out.key("for_each"); out.value(forEach)
        out.key("group"); out.int(t.group.map { Int64($0) })
        out.key("id"); out.int(id)
        out.key("item_type"); out.string(itemType)
        // Written only for a matrix task, so earlier IR keeps its hash.
        if let m = t.matrix { out.key("matrix"); out.value(Self.matrixSettings(m)) }
        out.key("max_cost_micros"); out.int(t.maxCost)
        // Written only for a dynamic fan-out, so earlier IR keeps its hash.
        if let n = t.maxItems { out.key("max_items"); out.int(n) }
        out.key("max_tokens"); out.int(t.maxTokens)
        // The prompt's extras are written only when given, so earlier IR keeps its hash.
        if let messages { out.key("messages"); out.value(messages) }
        out.key("model"); out.string(t.model)
        out.key("name"); out.string(iterationContext.map { t.name.text + "[iteration=\($0.iteration + 1)]" } ?? t.name.text)
        out.key("needs"); out.strings(t.needs)
        if !needsItem.isEmpty { out.key("needs_item"); out.value(.array(needsItem)) }
        if let w = t.onTimeout { out.key("on_timeout"); out.string(w) }
        out.key("outputs")
        out.beginArray()
        for k in t.outputs.keys.sorted(by: JSONValue.keyLess) {
            out.beginObject()
            out.key("name"); out.string(k)
            out.key("type"); out.string(typeName(t.outputs[k]!))
            out.endObject()
        }
        out.endArray()
        out.key("permissions"); out.value(permissions)
        out.key("policies"); out.value(policies(for: t))
        out.key("priority"); out.int(t.priority)
        out.key("retry"); out.value(retry)
        if !retryMore.isEmpty { out.key("retry_more"); out.value(.array(retryMore)) }
        out.key("role"); out.string(roleName)
        if let r = t.runOn { out.key("run_on"); out.string(r) }
        out.key("secrets"); out.value(t.secrets.isEmpty ? .array([]) : names(t.secrets.map(\.id)))
        // Written only when allowed: absent means refused, so earlier IR stays valid and
        // keeps its hash (stored runs resume across the upgrade).
        if t.selfApproval { out.key("self_approval"); out.bool(true) }
        if !statusDeps.isEmpty {
            out.key("status_deps")
            out.beginArray()
            for d in statusDeps.sorted() { out.int(d) }
            out.endArray()
        }
        if !t.stop.isEmpty { out.key("stop"); out.strings(t.stop) }
        if let system { out.key("system"); out.value(system) }
        out.key("tags"); out.strings(tags(t))
        if let ppm = t.temperaturePPM { out.key("temperature_ppm"); out.int(ppm) }
        out.key("template"); out.value(template)
        out.key("timeout_ms"); out.int(t.timeoutMs)
        if let when { out.key("when"); out.value(when) }
        out.key("with"); out.value(with)
        out.key("workflow"); out.value(sub)
        out.key("writes"); out.strings(t.writes.isEmpty ? [] : Set(t.writes.map(\.text)).sorted(by: JSONValue.keyLess))
        out.endObject()

        locs.beginObject()
        locs.key("loc"); locs.string(lowering.loc(t.name.span))
        locs.key("workflow"); locs.value(subMap)
        locs.endObject()
    }

    /// Policies that apply to a task: `run` policies naming its role (or a role it
    /// inherits, or no role at all), and for approvals `approve` policies naming an approver.
    mutating func policies(for t: TaskInfo) -> JSONValue {
        if w.policies.isEmpty { return .array([]) }
        let approvers = t.approvers + t.escalateTo
        let key = "\(t.role.map { "\($0.id.module):\($0.id.name)" } ?? "-")|\(t.action)|" + approvers.map { "\($0.id.module):\($0.id.name)" }.joined(separator: ",")
        if let c = policyCache[key] { return .array(c) }
        var runRoles: Set<DeclID> = []
        if let r = t.role { runRoles.insert(r.id); runRoles.formUnion(effective(r.id).ancestors) }
        var approveRoles: Set<DeclID> = []
        for a in approvers { approveRoles.insert(a.id); approveRoles.formUnion(effective(a.id).ancestors) }
        var ids: [DeclID] = []
        for p in w.policies {
            let applies = p.action == "approve"
                ? t.action == "approve" && (p.roles.isEmpty || !approveRoles.isDisjoint(with: p.roles))
                : t.role != nil && (p.roles.isEmpty || !runRoles.isDisjoint(with: p.roles))
            if applies { ids.append(p.id) }
        }
        guard case .array(let out) = names(ids) else { return .array([]) }
        policyCache[key] = out
        return .array(out)
    }

    /// A task's `when` and its groups' as one condition (`&&`, outermost first); nil: none.
    mutating func condition(_ t: TaskInfo, _ s: inout ExprScope) -> JSONValue? {
        var out: JSONValue?
        for e in t.conditions {
            let x = expr(e, &s)
            out = out.map { .object([("args", .array([$0, x])), ("op", .string("&&"))]) } ?? x
        }
        return out
    }

    // MARK: - types

    /// A type as a string (`list[string]`, `Env?`); named enums and records are
    /// described once in the workflow's `types`.
    mutating func typeName(_ t: Ty) -> String {
        switch t {
        case .list(let e): return "list[\(typeName(e))]"
        case .map(let e): return "map[\(typeName(e))]"
        case .optional(let e): return "\(typeName(e))?"
        case .enumeration(let name, let cases):
            if types[name] == nil { types[name] = .object([("enum", .array(cases.map { .string($0) }))]) }
            return name
        case .record(let r):
            var fields: [(String, JSONValue)] = []
            for k in r.fields.keys.sorted(by: JSONValue.keyLess) { fields.append((k, .string(typeName(r.fields[k]!)))) }
            guard let name = r.name else {
                return "{" + fields.map { "\($0.0): \(stringValue($0.1))" }.joined(separator: ", ") + "}"
            }
            if types[name] == nil { types[name] = .object([("record", .object(fields))]) }
            return name
        default: return t.description
        }
    }

    func stringValue(_ v: JSONValue) -> String { if case .string(let s) = v { s } else { "" } }

    // MARK: - expressions

    /// Where an expression is written. Names are lowered from their bindings, so nothing
    /// here steers resolution.
    struct ExprScope {
        var module: Int
        var policy: Bool
    }

    /// A compile-time constant as plain JSON (units converted), or nil.
    func constant(_ e: Expr, module m: Int) -> JSONValue? {
        Constant.fold(e) { x -> ConstValue? in
            if case .enumCase(_, let c)? = w.bindings.binding(of: x) { return .enumCase(c) }
            return nil
        }.map(Self.json)
    }

    static func json(_ c: ConstValue) -> JSONValue {
        switch c {
        case .int(let v), .duration(let v), .money(let v), .tokens(let v): .int(v)
        case .float(let d): .float(d)
        case .string(let s), .enumCase(let s): .string(s)
        case .bool(let b): .bool(b)
        case .null: .null
        case .list(let xs): .array(xs.map(json))
        case .record(let es): .object(es.map { ($0.key, json($0.value)) })
        }
    }

    /// A string's parts: text pieces merged, empty ones dropped, interpolations as expressions.
    mutating func parts(_ e: Expr, _ s: inout ExprScope) -> [JSONValue] {
        guard case .string(let ps) = e.kind else { return [expr(e, &s)] }
        var out: [JSONValue] = []
        var text = ""
        for p in ps {
            switch p {
            case .text(let t): text += t
            case .interpolation(let x):
                if !text.isEmpty { out.append(.object([("text", .string(text))])); text = "" }
                out.append(expr(x, &s))
            }
        }
        if !text.isEmpty { out.append(.object([("text", .string(text))])) }
        return out
    }

    /// A record literal as an object of expressions; any other map-valued expression
    /// as `{"*": expr}`.
    mutating func map(_ e: Expr, _ s: inout ExprScope) -> JSONValue {
        guard case .record(let entries) = e.kind else { return .object([("*", expr(e, &s))]) }
        var out: [(String, JSONValue)] = []
        for en in entries { out.append((en.key.text, expr(en.value, &s))) }
        return .object(out)
    }

    mutating func expr(_ e: Expr, _ s: inout ExprScope) -> JSONValue {
        switch e.kind {
        case .string(let ps):
            if ps.allSatisfy({ if case .text = $0 { true } else { false } }) {
                return .object([("text", .string(ps.map { if case .text(let t) = $0 { t } else { "" } }.joined()))])
            }
            return .object([("template", .array(parts(e, &s)))])
        case .int(let v): return .object([("int", .int(v))])
        case .float(let d): return .object([("float", .float(d))])
        case .duration(let v): return .object([("duration_ms", .int(v))])
        case .money(let v): return .object([("money_micros", .int(v))])
        case .tokens(let v): return .object([("tokens", .int(v))])
        case .bool(let b): return .object([("bool", .bool(b))])
        case .null, .error: return .object([("null", .null)])
        case .list(let items): return .object([("list", .array(items.map { expr($0, &s) }))])
        case .record: return .object([("record", map(e, &s))])
        case .unary(let op, let x):
            return .object([("args", .array([expr(x, &s)])), ("op", .string(op == .not ? "!" : "neg"))])
        case .binary(let op, let l, let r):
            return .object([("args", .array([expr(l, &s), expr(r, &s)])), ("op", .string(op.rawValue))])
        case .index(let b, let i): return .object([("index", .array([expr(b, &s), expr(i, &s)]))])
        case .call(let callee, let args):
            let name: String = if case .name(let n) = callee.kind { n } else { "" }
            return .object([("args", .array(args.map { expr($0, &s) })), ("call", .string(name))])
        case .name, .member:
            return reference(e, &s)
        }
    }

    /// A name or dotted path, by what the checker resolved it to (`Bindings`); a path
    /// with no binding is a field of a computed value.
    mutating func reference(_ e: Expr, _ s: inout ExprScope) -> JSONValue {
        guard let path = e.path else {
            guard case .member(let base, let f) = e.kind else { return .object([("null", .null)]) }
            return .object([("field", .array([expr(base, &s), .string(f.text)]))])
        }
        let strings: (ArraySlice<Name>) -> [JSONValue] = { $0.map { .string($0.text) } }
        switch w.bindings.binding(of: e) {
        case .input?, .principal?, .policyTask?:
            return .object([("ref", .array(strings(path[...])))])
        case .decl(.secret, let id)?:
            return .object([("secret", .string(qname(id)))])
        case .item?:
            return .object([("item", .array(strings(path.dropFirst())))])
        case .taskOutput(_, let t, _)?:
            if readsThroughLoop(t) {
                return .object([("ref", .array([.string("task"), .int(Int64(position[t])), .string("outputs"), .string(w.tasks[t].name.text)]
                                                + strings(path.dropFirst(2))))])
            }
            return .object([("ref", .array([.string("task"), .int(Int64(readPosition(t)))] + strings(path.dropFirst())))])
        case .previousOutput(_, let t, _)?:
            guard let p = previousPosition(t) else { return .object([("null", .null)]) }
            return .object([("ref", .array([.string("task"), .int(Int64(p))] + strings(path.dropFirst(2))))])
        case .iteration?:
            return .object([("int", .int(Int64((iterationContext?.iteration ?? 0) + 1)))])
        case .enumCase(let id, let c)?:
            return .object([("enum", .array([.string(id.name), .string(c)]))])
        case .builtinEnumCase(let name, let c)?:
            return .object([("enum", .array([.string(name), .string(c)]))])
        case .runValue?:
            return .object([("ref", .array(strings(path[...])))])
        case .taskStatus(_, let t)?:
            return .object([("ref", .array([.string("task"), .int(Int64(readPosition(t))), .string("status")]))])
        default:
            if case .member(let base, let f) = e.kind {
                return .object([("field", .array([expr(base, &s), .string(f.text)]))])
            }
            return .object([("ref", .array(strings(path[...])))])
        }
    }
}
