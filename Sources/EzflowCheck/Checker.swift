import EzflowUnits
import EzflowAttributes
import EzflowDiagnostics
import EzflowSyntax

/// A role's grants with inheritance flattened; `ancestors` includes the role itself.
public typealias EffectiveRole = (allow: Set<String>, agents: Set<DeclID>, secrets: Set<DeclID>, ancestors: Set<DeclID>)

/// Flattens role `r` over `inherits` (cycle-safe: cycles are reported as E0505 anyway).
/// The one definition of role inheritance, used by the checker and by lowering.
public func flattenRole(_ r: DeclID, roles: [DeclID: RoleInfo]) -> EffectiveRole {
    var allow: Set<String> = [], ag: Set<DeclID> = [], sec: Set<DeclID> = [], seen: Set<DeclID> = []
    var stack = [r]
    while let x = stack.popLast() {
        guard seen.insert(x).inserted, let info = roles[x] else { continue }
        allow.formUnion(info.allow.keys)
        ag.formUnion(info.agents.map(\.id))
        sec.formUnion(info.secrets.map(\.id))
        stack += info.inherits.map(\.id)
    }
    return (allow, ag, sec, seen)
}

/// Checks modules: validates every declaration against its schema, resolves
/// references and types, then checks the workflow as a whole. Continues past
/// errors; the poison type `Ty.error` keeps one mistake to one diagnostic.
struct WorkflowChecker {
    let modules: [Module]
    let sources: SourceMap
    var diagnostics: [Diagnostic] = []
    /// Workflows checked, in module order (lowering uses those without errors).
    var checked: [CheckedWorkflow] = []

    var agents: [DeclID: AgentInfo] = [:]
    var roles: [DeclID: RoleInfo] = [:]
    var retries: [DeclID: RetryInfo] = [:]
    var secrets: Set<DeclID> = []
    var errorClasses: Set<DeclID> = []
    var records: [DeclID: RecordType] = [:]
    var enums: [DeclID: [String]] = [:]
    /// Imports that resolved at least one name, per module.
    var usedImports: Set<String> = []
    /// Each role's grants with inheritance, computed once after validation.
    var effectiveRoles: [DeclID: EffectiveRole] = [:]
    /// What each reference resolved to, and each expression's type (see `SemanticModel`).
    var bindings = Bindings()
    var types: [Span: Ty] = [:]

    init<L>(session: CheckSession<L>) {
        modules = session.modules
        sources = session.sources
        // About one typed expression and one reference per 24 bytes of source: growing
        // the tables once beats rehashing them as they fill.
        let bytes = sources.files.reduce(0) { $0 + $1.bytes.count }
        types.reserveCapacity(bytes / 24)
        bindings.reserveCapacity(bytes / 24)
    }

    mutating func checkAll() {
        // Types, then every declaration, before any workflow: workflows read them all.
        for m in modules.indices {
            for (alias, b) in modules[m].imports { if let tm = b.module { bindings.record(b.span, alias, .module(tm)) } }
        }
        for m in modules.indices { collectTypes(m) }
        for m in modules.indices { validateDecls(m) }
        cacheEffectiveRoles()
        for m in modules.indices {
            if let wf = modules[m].workflow {
                var wc = WorkflowContext(module: m, block: wf)
                checkWorkflow(&wc)
            }
            reportUnusedImports(m)
        }
        // Bindings are complete only now; every workflow shares the one table.
        for i in checked.indices { checked[i].bindings = bindings }
    }

    func error(_ code: String, _ msg: String, _ span: Span, label: String = "", secondary: [Label] = [], notes: [String] = [], help: String? = nil) -> Diagnostic {
        .error(code, msg, at: span, label: label, secondary: secondary, notes: notes, help: help)
    }

    mutating func report(_ d: Diagnostic) { diagnostics.append(d) }

    // MARK: - declarations

    mutating func collectTypes(_ m: Int) {
        for (name, d) in modules[m].decls {
            let id = DeclID(module: m, name: name)
            switch d.kind {
            case .enumeration:
                if enums[id] != nil { continue }
                var seen: [String: Span] = [:]
                for c in d.block.cases {
                    if let prev = seen[c.text] {
                        report(error("E0201", "enum case `\(c.text)` is declared twice", c.span, secondary: [Label(prev, "first declared here")]))
                    }
                    seen[c.text] = c.span
                }
                enums[id] = d.block.cases.map(\.text)
            case .error:
                errorClasses.insert(id)
            default: break
            }
        }
        for (name, d) in modules[m].decls where d.kind == .record {
            let id = DeclID(module: m, name: name)
            if records[id] != nil { continue }
            var r = RecordType(name: name, fields: [:], order: [])
            for f in d.block.fields {
                if r.fields[f.name.text] != nil {
                    report(error("E0201", "field `\(f.name.text)` is declared twice", f.name.span))
                    continue
                }
                r.fields[f.name.text] = resolveType(f.type, module: m)
                checkFileType(f.type, r.fields[f.name.text]!, output: false)
                r.order.append(f.name.text)
            }
            records[id] = r
        }
    }

    /// Validates every declaration of a module that is not a workflow.
    mutating func validateDecls(_ m: Int) {
        for (name, d) in modules[m].decls.sorted(by: { $0.value.name.span < $1.value.name.span }) {
            let id = DeclID(module: m, name: name)
            switch d.kind {
            case .agent: agents[id] = validateAgent(d.block, id: id)
            case .role: roles[id] = validateRole(d.block, id: id)
            case .retry: retries[id] = validateRetry(d.block, module: m)
            case .secret:
                _ = validateAttributes(d.block, module: m)
                secrets.insert(id)
            case .policy: validatePolicy(d.block, module: m)
            case .error, .enumeration, .record:
                _ = validateAttributes(d.block, module: m)
            case .workflow, .task, .group: break
            }
        }
        checkRoleCycles(m)
    }

    mutating func validateAttributes(_ b: Block, module m: Int) -> Validated {
        var env = ExprEnv(module: m)
        return validateAttributes(b, module: m, env: &env)
    }

    /// Checks attribute names (unknown, duplicate, missing) and the shapes the schema
    /// fixes, resolving each reference and word once. Expressions are typed in `env`,
    /// so what they read (task outputs, inputs, secrets) is recorded there.
    mutating func validateAttributes(_ b: Block, module m: Int, env: inout ExprEnv) -> Validated {
        let kind = b.kind.text
        let kid = Schema.kindNames.id(kind)
        let ks = kid.map { Schema.kindSchemas[$0] }
        let specs = ks?.specs ?? []
        var v = Validated()
        let members = b.members
        // Spec indexes seen so far (every kind has fewer than 64 attributes).
        var seenMask: UInt64 = 0
        var hasBlocks = false
        for mi in members.indices {
            guard case .attribute(let a) = members[mi] else { hasBlocks = true; continue }
            let key = a.key.text
            let id = Schema.attrNames.id(key)
            guard let ks, let id, case let si = Int(ks.specByKey[id]), si >= 0 else {
                let hint = suggest(key, among: specs.map(\.name))
                report(error("E0203", "unknown attribute `\(key)` for `\(kind)`", a.key.span)
                    .suggesting(hint, at: a.key.span, otherwise: specs.isEmpty ? "`\(kind)` takes no attributes" : "`\(kind)` takes: " + specs.map(\.name).joined(separator: ", ")))
                continue
            }
            if seenMask & (1 << UInt64(si)) != 0, let prev = v.attrs[id: id] {
                report(error("E0205", "attribute `\(key)` is given twice", a.key.span, label: "given again here",
                             secondary: [Label(prev.key.span, "first given here")], help: "remove one of them")
                    .fixing(.remove(a.span, "this `\(key)`")))
                continue
            }
            seenMask |= 1 << UInt64(si)
            if v.attrs.entries.isEmpty { v.attrs.entries.reserveCapacity(members.count) }
            v.attrs.entries.append(.init(key: id, value: a))
            switch specs[si].shape {
            case .value(let ty):
                if checkExpr(a.value, expected: ty, env: &env, what: "`\(key)`"), specs[si].fact.needsConstant,
                   let n = constantNumber(a.value, specs[si].fact) {
                    v.numbers[id: id] = n
                } else if specs[si].fact.value == .strings {
                    checkConstantStrings(a.value, specs[si].fact, itemKnown: env.itemKnown)
                }
            case .word(let allowed):
                if let w = word(a.value, allowed: allowed, attr: key) { v.words[id: id] = [(w, a.value.span)] }
            case .words(let allowed):
                if let allowed { v.words[id: id] = words(a.value, allowed: allowed, attr: key) }
            case .ref(let kinds):
                if let r = resolveRef(a.value, kinds: kinds, module: m) { v.singleRefs[id: id] = r }
            case .refs(let kinds):
                v.refs[id: id] = resolveRefs(a.value, kinds: kinds, module: m)
            case .custom: break
            }
            if case .list = a.value.kind { checkDuplicateEntries(a.value, specs[si].fact) }
        }
        for r in ks?.required ?? [] where v.attrs[r] == nil {
            report(error("E0204", "\(kind)\(b.name.map { " `\($0.text)`" } ?? "") is missing `\(r)`", b.name?.span ?? b.kind.span,
                         help: "add `\(r): ...` to the block"))
        }
        guard hasBlocks else { return v }
        let allowedBlocks = ks?.blocks ?? []
        let blockMask = ks?.blockMask ?? 0
        for case .block(let inner) in members {
            let innerID = Schema.kindNames.id(inner.kind.text)
            if let innerID, blockMask & (1 << UInt64(innerID)) != 0 { continue }
            let known = innerID != nil
            let d = error("E0202", known ? "`\(inner.kind.text)` cannot appear inside `\(kind)`" : "unknown block `\(inner.kind.text)`",
                          inner.kind.span,
                          help: known ? (allowedBlocks.isEmpty ? "`\(kind)` takes no nested blocks" : "`\(kind)` may contain: " + allowedBlocks.sorted().joined(separator: ", ")) : nil)
            report(known ? d : d.suggesting(suggest(inner.kind.text, among: allowedBlocks), at: inner.kind.span))
        }
        return v
    }

    mutating func validateAgent(_ b: Block, id: DeclID) -> AgentInfo {
        let attrs = validateAttributes(b, module: id.module)
        var a = AgentInfo(id: id, name: b.name!, driver: nil, capabilities: [])
        a.driver = attrs.word("driver")
        if let c = attrs["capabilities"] { a.capabilities = stringList(c.value) }
        if let x = attrs.number("cost_per_call") { a.costPerCall = x }
        if let x = attrs.number("cost_per_1k_tokens") { a.costPer1kTokens = x }
        if let x = attrs.number("cost_per_1k_input_tokens") { a.costPer1kInput = x }
        if let x = attrs.number("cost_per_1k_output_tokens") { a.costPer1kOutput = x }
        if let p = attrs["prices"] { a.prices = modelPrices(p.value) }
        a.format = attrs.word("format")
        if let x = attrs.number("cost_per_second") { a.costPerSecond = x }
        if let x = attrs.number("concurrency") { a.concurrency = x }
        a.failureRatePPM = attrs.number("failure_rate")
        a.latencyMs = attrs.number("latency")
        a.apiKey = attrs.ref("api_key")?.id
        a.command = attrs["command"].flatMap { literalText($0.value) }
        a.model = attrs["model"].flatMap { literalText($0.value) }
        a.url = attrs["url"].flatMap { literalText($0.value) }
        a.queue = attrs["queue"].flatMap { literalText($0.value) }
        if let s = attrs["stream"], case .bool(let on) = s.value.kind { a.stream = on }
        a.breakerFailures = attrs.number("breaker_failures")
        a.breakerCoolDownMs = attrs.number("breaker_cool_down")
        a.healthURL = attrs["health"].flatMap { literalText($0.value) }
        a.healthCommand = attrs["health_command"].flatMap { literalText($0.value) }
        a.healthIntervalMs = attrs.number("health_interval")
        checkHealthDriver(attrs, a)
        return a
    }

    mutating func validateRole(_ b: Block, id: DeclID) -> RoleInfo {
        let attrs = validateAttributes(b, module: id.module)
        var r = RoleInfo(id: id, name: b.name!)
        r.inherits = attrs.refs["inherits"] ?? []
        for (w, s) in attrs.words["allow"] ?? [] { r.allow[w] = s }
        r.agents = attrs.refs["agents"] ?? []
        r.secrets = attrs.refs["secrets"] ?? []
        return r
    }

    mutating func validateRetry(_ b: Block, module m: Int) -> RetryInfo {
        let attrs = validateAttributes(b, module: m)
        var r = RetryInfo(span: b.name?.span ?? b.kind.span, catchModule: m)
        if let n = attrs.number("attempts") {
            r.attempts = n
            r.attemptsSpan = attrs["attempts"]?.value.span
        }
        r.backoff = attrs.word("backoff") ?? "fixed"
        r.jitter = attrs.word("jitter") ?? "none"
        if let d = attrs.number("delay") { r.delayMs = d }
        if let d = attrs.number("max_delay"), let v = attrs["max_delay"] {
            r.maxDelayMs = d
            if d < r.delayMs, let dv = attrs["delay"] {
                report(error("E0603", "backoff is not monotone: `max_delay` is shorter than `delay`", v.value.span,
                             label: "max_delay \(fmtDuration(d))", secondary: [Label(dv.value.span, "delay \(fmtDuration(r.delayMs))")],
                             help: "make `max_delay` at least `delay`, or drop it"))
            }
        }
        r.factorPPM = attrs.number("factor")
        if let v = attrs["on"] {
            r.on = errorClasses(v.value, module: m)
            r.onSpan = v.value.span
        }
        r.catchExpr = attrs["catch"]?.value
        return r
    }

    mutating func validatePolicy(_ b: Block, module m: Int) {
        let attrs = validateAttributes(b, module: m)
        // With a workflow in the module, `when` is typed against its inputs there.
        if let w = attrs["when"], modules[m].workflow == nil {
            var env = ExprEnv(module: m)
            env.policy = true
            checkExpr(w.value, expected: .bool, env: &env, what: "`when`")
        }
    }

    mutating func checkRoleCycles(_ m: Int) {
        // Iterative DFS with colours over this module's roles; report each cycle once.
        let ids = roles.keys.filter { $0.module == m }.sorted()
        var colour: [DeclID: Int] = [:]
        for start in ids where colour[start] == nil {
            var stack: [(DeclID, Int)] = [(start, 0)]
            var path: [DeclID] = [start]
            colour[start] = 1
            while let (node, i) = stack.last {
                let parents = roles[node]?.inherits ?? []
                if i < parents.count {
                    stack[stack.count - 1].1 += 1
                    let next = parents[i].id
                    if colour[next] == 1, let at = path.firstIndex(of: next) {
                        let cycle = Array(path[at...]) + [next]
                        let names = cycle.map { "`\($0.name)`" }.joined(separator: " → ")
                        report(error("E0505", "role inheritance cycle: \(names)", parents[i].span,
                                     label: "`\(node.name)` inherits `\(next.name)` here, closing the cycle",
                                     secondary: cycle.dropLast().compactMap { r in roles[r].map { Label($0.name.span, "`\(r.name)` declared here") } },
                                     help: "remove one `inherits` link"))
                    } else if colour[next] == nil, roles[next] != nil {
                        colour[next] = 1
                        stack.append((next, 0))
                        path.append(next)
                    }
                } else {
                    colour[node] = 2
                    stack.removeLast()
                    path.removeLast()
                }
            }
        }
    }

    // MARK: - references

    func findDecl(_ name: String, kind: DeclKind?, module m: Int) -> Decl? {
        guard let d = modules[m].decls[name] else { return nil }
        return kind == nil || d.kind == kind ? d : nil
    }

    /// Resolves `name` or `alias.name` to a declaration of one of `kinds`.
    mutating func resolveRef(_ e: Expr, kinds: [DeclKind], module m: Int) -> RefUse? {
        // Fast path: a plain name of a local declaration of the right kind (no path array).
        if case .name(let n) = e.kind, let d = modules[m].decls[n], kinds.contains(d.kind) {
            let id = DeclID(module: m, name: n)
            bind(e, .decl(d.kind, id))
            return RefUse(id: id, span: e.span)
        }
        if case .error = e.kind { return nil }
        // Only error messages need the nouns; build them lazily.
        var noun: String { kinds.map(\.noun).joined(separator: " or ") }
        var aNoun: String { withArticle(noun) }
        guard let path = e.path, path.count <= 2 else {
            report(error("E0212", "expected the name of \(aNoun)", e.span, help: "write the \(noun)'s name, e.g. `standard` or `retry.standard`"))
            return nil
        }
        var target = m
        var name = path[0]
        if path.count == 2 {
            guard let imp = modules[m].imports[path[0].text] else {
                report(error("E0200", "cannot find module `\(path[0].text)` in this scope", path[0].span)
                    .suggesting(suggest(path[0].text, among: modules[m].imports.keys), at: path[0].span,
                                otherwise: "import the module first: `import \"PATH\" as \(path[0].text)`"))
                return nil
            }
            usedImports.insert("\(m):\(path[0].text)")
            guard let tm = imp.module else { return nil }
            bind(path[0], .module(tm))
            target = tm
            name = path[1]
        }
        guard let d = modules[target].decls[name.text] else {
            let candidates = modules[target].decls.values.filter { kinds.contains($0.kind) }.map(\.name.text)
            let where_ = path.count == 2 ? " in module `\(path[0].text)`" : " in this scope"
            report(error("E0200", "cannot find \(noun) `\(name.text)`\(where_)", name.span)
                .suggesting(suggest(name.text, among: candidates), at: name.span))
            return nil
        }
        guard kinds.contains(d.kind) else {
            report(error("E0212", "`\(name.text)` is \(withArticle(d.kind.noun)), not \(aNoun)", name.span,
                         secondary: [Label(d.name.span, "`\(name.text)` declared here")]))
            return nil
        }
        let id = DeclID(module: target, name: name.text)
        bind(e, .decl(d.kind, id))
        if path.count == 2 { bind(name, .decl(d.kind, id)) }
        return RefUse(id: id, span: e.span)
    }

    mutating func resolveRefs(_ e: Expr, kinds: [DeclKind], module m: Int) -> [RefUse] {
        guard case .list(let items) = e.kind else {
            if case .error = e.kind { return [] }
            report(error("E0300", "expected a list of \(kinds.map(\.noun).joined(separator: " or ")) names", e.span,
                         help: "write `[a, b]`"))
            return []
        }
        return items.compactMap { resolveRef($0, kinds: kinds, module: m) }
    }

    /// A bare word; reports E0209 when not in `allowed` (nil = any word).
    mutating func word(_ e: Expr, allowed: [String]?, attr: String) -> String? {
        if case .error = e.kind { return nil }
        guard case .name(let w) = e.kind else {
            report(error("E0209", "`\(attr)` takes a bare word", e.span,
                         help: allowed.map { "write one of: " + $0.joined(separator: ", ") }))
            return nil
        }
        if let allowed, !allowed.contains(w) {
            report(error("E0209", "invalid value `\(w)` for `\(attr)`", e.span)
                .suggesting(suggest(w, among: allowed), at: e.span, otherwise: "expected one of: " + allowed.joined(separator: ", ")))
            return nil
        }
        return w
    }

    mutating func words(_ e: Expr, allowed: [String]?, attr: String) -> [(String, Span)] {
        guard case .list(let items) = e.kind else {
            if case .error = e.kind { return [] }
            report(error("E0300", "`\(attr)` takes a list of words", e.span, help: "write `[a, b]`"))
            return []
        }
        return items.compactMap { i in word(i, allowed: allowed, attr: attr).map { ($0, i.span) } }
    }

    /// A string literal's text, interpolations left out; nil for any other expression.
    func literalText(_ e: Expr) -> String? {
        guard case .string(let parts) = e.kind else { return nil }
        return parts.map { if case .text(let t) = $0 { t } else { "" } }.joined()
    }

    func stringList(_ e: Expr) -> [String] {
        guard case .list(let items) = e.kind else { return [] }
        return items.compactMap { if case .string(let p) = $0.kind, p.count <= 1, case .text(let s)? = p.first ?? .text("") { return s } else { return nil } }
    }

    mutating func reportUnusedImports(_ m: Int) {
        for (alias, b) in modules[m].imports.sorted(by: { $0.value.span < $1.value.span }) where !usedImports.contains("\(m):\(alias)") && b.module != nil {
            report(Diagnostic.warning("W0104", "unused import `\(alias)`", at: b.span, help: "remove the import")
                .fixing(.remove(b.declSpan, "the import")))
        }
    }
}

/// A duration as ezflow writes it, largest units first (`1h30m`, `250ms`).
public func fmtDuration(_ ms: Int64) -> String { Units.durationCompound(ms) }

func fmtMoney(_ micros: Int64) -> String { Units.money(micros) }  // the one rule for money people read

func fmtTokens(_ n: Int64) -> String { Units.tokens(n) }

/// Attributes of one block after validation, with references and words resolved once.
/// Keys are attribute ids (`Schema.attrNames`); blocks hold a handful of attributes,
/// so small arrays searched by integer beat hashing here.
struct Validated {
    /// A tiny table keyed by attribute id, searched linearly.
    struct Table<Value> {
        struct Entry {
            var key: Int
            var value: Value
        }
        var entries: [Entry] = []
        subscript(id id: Int) -> Value? {
            get {
                for i in entries.indices where entries[i].key == id { return entries[i].value }
                return nil
            }
            set {
                if let i = entries.firstIndex(where: { $0.key == id }) {
                    if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
                } else if let newValue {
                    entries.append(Entry(key: id, value: newValue))
                }
            }
        }
        subscript(_ key: String) -> Value? {
            guard let id = Schema.attrNames.id(key) else { return nil }
            return self[id: id]
        }
    }
    var attrs = Table<Attribute>()
    /// Attributes of shape `.refs`.
    var refs = Table<[RefUse]>()
    /// Attributes of shape `.ref`, kept apart so a single reference needs no array.
    var singleRefs = Table<RefUse>()
    var words = Table<[(String, Span)]>()
    /// Numeric attributes folded to constants in IR units (`AttrFact.min`/`max` units),
    /// present only when in range.
    var numbers = Table<Int64>()

    subscript(_ name: String) -> Attribute? { attrs[name] }
    subscript(_ id: Int) -> Attribute? { attrs[id: id] }
    func ref(_ id: Int) -> RefUse? { singleRefs[id: id] ?? refs[id: id]?.first }
    func ref(_ name: String) -> RefUse? {
        guard let id = Schema.attrNames.id(name) else { return nil }
        return singleRefs[id: id] ?? refs[id: id]?.first
    }
    func word(_ name: String) -> String? { words[name]?.first?.0 }
    func number(_ id: Int) -> Int64? { numbers[id: id] }
    func number(_ name: String) -> Int64? { numbers[name] }
}
