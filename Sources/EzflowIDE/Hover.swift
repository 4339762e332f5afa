import EzflowCheck
import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits

extension Analysis {
    /// What is at `offset` in `path`: a reference or declaration (its kind, type and doc),
    /// an attribute name (its doc from the schema), else the type of the expression there.
    public func hover(path: String, offset: Int) -> Hover? {
        guard let m = module(path) else { return nil }
        if let (span, b) = binding(m, offset) {
            var h = describe(b)
            h.range = location(span)
            if h.type == nil, let t = model.types[span] { h.type = t.description }
            return h
        }
        if let h = attributeHover(m, offset) { return h }
        if let h = literalHover(m, offset) { return h }
        guard let (span, t) = type(model.modules[m].file, offset) else { return nil }
        return Hover(range: location(span), title: "expression", type: t.description, doc: "")
    }

    func attributeHover(_ m: Int, _ offset: Int) -> Hover? {
        guard let block = blocks(m, offset).last,
              let a = block.attributes.first(where: { $0.key.span.start <= offset && offset <= $0.key.span.end }),
              let info = SchemaInfo.attributes(of: block.kind.text).first(where: { $0.name == a.key.text })
        else { return nil }
        return Hover(range: location(a.key.span), title: "attribute `\(a.key.text)` of `\(block.kind.text)`", type: nil, doc: info.doc)
    }

    /// A unit literal: its value in the units the runtime counts (`90m` is 1h30m, 5,400,000 ms).
    func literalHover(_ m: Int, _ offset: Int) -> Hover? {
        guard let block = blocks(m, offset).last else { return nil }
        func find(_ e: Expr) -> Expr? {
            guard e.span.start <= offset, offset <= e.span.end else { return nil }
            switch e.kind {
            case .duration, .money, .tokens: return e
            case .list(let items): return items.lazy.compactMap(find).first
            case .record(let entries): return entries.lazy.compactMap { find($0.value) }.first
            case .binary(_, let l, let r): return find(l) ?? find(r)
            case .unary(_, let x): return find(x)
            case .call(_, let args): return args.lazy.compactMap(find).first
            default: return nil
            }
        }
        guard let e = block.attributes.lazy.compactMap({ find($0.value) }).first else { return nil }
        let text = result.sources[e.span.file].text(e.span)
        switch e.kind {
        case .duration(let ms):
            return Hover(range: location(e.span), title: "duration `\(text)`", type: "duration",
                         doc: "\(Units.durationCompound(ms)) = \(Self.grouped(ms)) ms")
        case .money(let micros):
            return Hover(range: location(e.span), title: "money `\(text)`", type: "money",
                         doc: "\(Units.money(micros)) = \(Self.grouped(micros)) micro-dollars (the runtime counts whole micro-dollars)")
        case .tokens(let n):
            return Hover(range: location(e.span), title: "tokens `\(text)`", type: "tokens", doc: "\(Self.grouped(n)) tokens")
        default: return nil
        }
    }

    /// `5400000` as `5,400,000`.
    static func grouped(_ n: Int64) -> String {
        let digits = Array(String(n.magnitude))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Title, type and doc of what a binding names.
    func describe(_ b: Binding) -> Hover {
        let none = Location(path: "", start: 0, end: 0)
        func h(_ title: String, _ type: String? = nil, _ doc: String = "") -> Hover { Hover(range: none, title: title, type: type, doc: doc) }
        switch b {
        case .decl(let kind, let id): return h("\(kind.noun) `\(id.name)`", nil, declDoc(kind, id))
        case .task(let m, let i):
            guard let t = workflow(m)?.tasks[i] else { return h("task") }
            let cost = workflow(m).flatMap { $0.reservations.indices.contains(i) ? worstCase($0.reservations[i]) : nil } ?? ""
            let time = CriticalPath.worstTime(t).map { "worst case time: \(Units.durationCompound($0))" + (t.maxAttempts > 1 ? " (all attempts, their timeouts and backoff)" : "") } ?? ""
            return h("task `\(t.name.text)`", nil, [comment(above: t.name.span), taskDetails(t), cost, time].filter { !$0.isEmpty }.joined(separator: "\n"))
        case .group(let m, let i): return h("group `\(workflow(m)?.groups[i].name.text ?? "")`")
        case .input(let m, let name):
            let i = workflow(m)?.inputs.first { $0.name == name }
            return h("input `\(name)`", i?.type.description, i.map { comment(above: $0.span) } ?? "")
        case .output(let m, let name):
            return h("output `\(name)`", workflow(m)?.outputs.first { $0.name == name }?.type.description)
        case .taskOutput(let m, let t, let name):
            let task = workflow(m)?.tasks[t]
            return h("output `\(name)` of task `\(task?.name.text ?? "")`", task?.outputs[name]?.description)
        case .enumCase(let id, let c): return h("case `\(c)` of enum `\(id.name)`", id.name)
        case .taskStatus(let m, let t):
            return h("status of task `\(workflow(m)?.tasks[t].name.text ?? "")`", "status", "how it ended: succeeded, failed, skipped or cancelled")
        case .runValue(let f):
            return h("`run.\(f)`", f == "status" ? "run_status" : "list[string]",
                     f == "status" ? "how the main graph ended" : "the main tasks that failed, in the order they ended")
        case .builtinEnumCase(let name, let c): return h("case `\(c)` of the built-in enum `\(name)`", name)
        case .module(let m): return h("module `\(result.sources[model.modules[m].file].path)`")
        case .iteration: return h("`iteration`: the 1-based number of this iteration of the loop")
        case .previousOutput(_, _, let name): return h("`previous…outputs.\(name)`: the previous iteration's output (none in iteration 1)")
        case .item: return h("`item`: the element of this task's `for_each` list, or its `matrix` cell")
        case .principal(let a): return h("principal attribute `\(a)`")
        case .policyTask(let a): return h("task attribute `\(a)`")
        case .builtin(let name):
            if let sig = SchemaInfo.functions[name] { return h("function `\(name)`", nil, "`\(sig)`") }
            return h("built-in error class `\(name)`")
        }
    }

    /// The comment block directly above a declaration, without `#`.
    func comment(above span: Span) -> String {
        let file = result.sources[span.file]
        let line = file.position(of: span.start).line
        let comments = model.modules.first { $0.file == span.file }?.tree.comments ?? []
        var lines: [String] = []
        var want = line - 1
        for c in comments.reversed() where !c.trailing {
            let l = file.position(of: c.span.start).line
            if l > want { continue }
            if l < want { break }
            var text = file.text(c.span).drop { $0 == "#" }
            if text.first == " " { text = text.dropFirst() }
            lines.insert(String(text), at: 0)
            want -= 1
        }
        return lines.joined(separator: " ")
    }

    func declDoc(_ kind: DeclKind, _ id: DeclID) -> String {
        guard let d = model.modules[id.module].decls[id.name] else { return "" }
        var parts = [comment(above: d.block.span)]
        if kind == .agent, let a = result.workflows.lazy.compactMap({ $0.agents[id] }).first {
            parts.append("driver \(a.driver ?? "?"); capabilities: \(a.capabilities.joined(separator: ", "))")
        }
        if kind == .enumeration { parts.append("cases: " + d.block.cases.map(\.text).joined(separator: ", ")) }
        if kind == .role, let e = effectiveRole(id) { parts.append(e) }
        return parts.filter { !$0.isEmpty }.joined(separator: "\n")
    }

    /// A role's permissions with what it inherits: what a task running as it may do.
    func effectiveRole(_ id: DeclID) -> String? {
        var roles: [DeclID: RoleInfo] = [:]
        for w in result.workflows { for r in w.roles { roles[r.id] = r } }
        guard roles[id] != nil else { return nil }
        let e = flattenRole(id, roles: roles)
        func list(_ ids: Set<DeclID>) -> String { ids.isEmpty ? "none" : ids.map(\.name).sorted().joined(separator: ", ") }
        let inherited = e.ancestors.subtracting([id])
        return "effective permissions: allow " + (e.allow.isEmpty ? "nothing" : e.allow.sorted().joined(separator: ", "))
            + "; agents: " + list(e.agents) + "; secrets: " + list(e.secrets)
            + (inherited.isEmpty ? "" : " (with what it inherits from " + list(inherited) + ")")
    }

    /// A task's action, agent (pinned or picked from the pool) and retry rule.
    func taskDetails(_ t: TaskInfo) -> String {
        var out = ["action `\(t.action)`", "agent: " + (t.agent.map { "`\($0.id.name)`" } ?? "picked from the pool")]
        if t.retries.count == 1, let r = t.retries.first {
            out.append("retry: \(Units.counted(r.attempts, "attempt")), \(r.backoff) backoff")
            if r.attempts > 1 { out.append("retries \(r.classesText)") }
        } else if !t.retries.isEmpty {
            // The first rule whose classes include a failure's class takes it.
            out.append("retry: at most \(Units.counted(t.maxAttempts, "attempt")), \(Units.counted(t.retries.count, "rule"))")
            for (k, r) in t.retries.enumerated() {
                out.append("rule \(k + 1): \(Units.counted(r.attempts, "attempt")), \(r.backoff) backoff, retries \(r.classesText)")
            }
        }
        return out.joined(separator: "; ")
    }

    /// What the task may spend, as the budget proofs count it: one attempt (prompt and
    /// `max_tokens` apart), then all its attempts; empty for a task that spends nothing
    /// the proofs count.
    func worstCase(_ r: AttemptReservation) -> String {
        let open = r.promptTokens == nil  // a prompt with run-time values: bounded when it runs
        let prompt = r.promptTokens ?? 0
        let tokens = Reservation.add(prompt, r.tokens)
        let money = r.moneyWorstMicros.map { Reservation.add($0, r.promptMicros) }
        let least = open ? "at least " : ""
        var per: [String] = []
        if open {
            per.append("at least \(Units.tokens(r.tokens)) (a prompt with run-time values, bounded when it runs, + `max_tokens` \(Units.tokens(r.tokens)))")
        } else if prompt > 0 {
            per.append("\(Units.tokens(tokens)) (prompt \(Units.tokens(prompt)) + `max_tokens` \(Units.tokens(r.tokens)))")
        } else if tokens > 0 {
            per.append(Units.tokens(tokens))
        }
        if let m = money { if m > 0 { per.append(least + Units.money(m)) } } else { per.append("money unbounded") }
        guard !per.isEmpty else { return "" }
        var line = "worst case per attempt: " + per.joined(separator: ", ")
        guard r.attempts > 1 || r.instances != 1 else { return line }
        let count = Reservation.mul(r.instances ?? 1, r.attempts)
        var all: [String] = []
        if tokens > 0 || open { all.append(least + Units.tokens(Reservation.mul(count, tokens))) }
        if let m = money, m > 0 { all.append(least + Units.money(Reservation.mul(count, m))) }
        guard !all.isEmpty else { return line }
        let instances = switch r.instances {
        case 1?: ""
        case let n?: "\(n) instances × "
        case nil: "each instance (the list is known when the run starts) × "
        }
        line += "; \(instances)\(Units.counted(r.attempts, "attempt")): " + all.joined(separator: ", ")
        return line
    }
}
