// `matrix { }` on a task: fan-out over the cross product of named constant lists, with
// `exclude` and `include` (docs/RUNTIME.md, "matrix"). The cells are computed here, at
// compile time, so their count is exact for the budget and deadline proofs and each
// cell's `needs` can be matched to an agent before the file is accepted.
import EzflowDiagnostics
import EzflowIR
import EzflowSyntax

/// A checked `matrix` block: axes, cells in run order, settings.
public struct MatrixInfo: Sendable {
    /// Axis names in declaration order (the item record's fields).
    public var axes: [String]
    /// One value per axis for every cell: the cross product (first axis slowest), less
    /// the excluded cells, then the includes in order.
    public var cells: [[ConstValue]]
    /// The first failed cell cancels the others (default true).
    public var failFast = true
    /// At most this many cells run at once (nil: no limit of its own).
    public var maxParallel: Int64?
}

/// The attributes of a `matrix` block that are not axes.
enum MatrixWord {
    static let exclude = "exclude", include = "include", failFast = "fail_fast", maxParallel = "max_parallel"
    static let reserved: Set<String> = [exclude, include, failFast, maxParallel]
}

extension WorkflowChecker {
    /// Checks `t`'s `matrix` block (if any) and binds `item` to its record type. E0920
    /// when the task also has `for_each` (one fan-out per task).
    mutating func checkMatrix(_ t: inout TaskInfo, _ env: inout ExprEnv) {
        let blocks = t.block.blocks.filter { $0.kind.text == "matrix" }
        guard let m = blocks.first else { return }
        for again in blocks.dropFirst() {
            report(error("E0205", "`matrix` is given twice", again.kind.span, label: "given again here",
                         secondary: [Label(m.kind.span, "first given here")], help: "write every axis in one `matrix { }` block"))
        }
        if let fe = t.block.attribute("for_each") {
            report(error("E0920", "task `\(t.name.text)` has both `for_each` and `matrix`", m.kind.span,
                         label: "second fan-out", secondary: [Label(fe.key.span, "`for_each` here")],
                         help: "keep one: a `matrix` axis can hold the `for_each` list"))
            return
        }
        // Poison until the matrix checks out: one mistake, one diagnostic.
        t.forEach = .error
        env.item = .error
        // A gate's denial and a nested workflow's failure end a cell without dead-lettering
        // it, and neither holds an agent slot: `fail_fast` and `max_parallel` would not act.
        if let a = t.block.attribute("approve") ?? t.block.attribute("workflow") {
            report(error("E0931", "`\(a.key.text)` tasks cannot fan out over a `matrix`", m.kind.span,
                         secondary: [Label(a.key.span, "`\(a.key.text)` action")],
                         help: a.key.text == "workflow" ? "use `for_each` over a list of records, or put the matrix on the nested workflow's tasks"
                             : "put the matrix on the tasks before the gate, and gate once"))
            return
        }
        var info = MatrixInfo(axes: [], cells: [])
        var types: [Ty] = []
        var values: [[ConstValue]] = []
        var exclude: Attribute?, include: Attribute?
        for case .attribute(let a) in m.members {
            switch a.key.text {
            case MatrixWord.exclude: exclude = a
            case MatrixWord.include: include = a
            case MatrixWord.failFast:
                guard case .bool(let b)? = Constant.fold(a.value) else {
                    report(error("E0930", "`fail_fast` must be `true` or `false`", a.value.span)); continue
                }
                info.failFast = b
            case MatrixWord.maxParallel:
                guard case .int(let n)? = Constant.fold(a.value), n >= 1 else {
                    report(error("E0930", "`max_parallel` must be a whole number of at least 1", a.value.span)); continue
                }
                info.maxParallel = n
            default:
                guard let (ty, vs) = matrixAxis(a) else { return }
                if info.axes.contains(a.key.text) {
                    report(error("E0205", "attribute `\(a.key.text)` is given twice", a.key.span, help: "remove one of them")); return
                }
                info.axes.append(a.key.text)
                types.append(ty)
                values.append(vs)
            }
        }
        guard !info.axes.isEmpty else {
            report(error("E0927", "`matrix` of task `\(t.name.text)` has no axis", m.kind.span,
                         help: "add an axis: `os: [\"linux\", \"macos\"]`"))
            return
        }
        var cells = Self.crossProduct(values)
        let record = RecordType(name: nil, fields: Dictionary(uniqueKeysWithValues: zip(info.axes, types)), order: info.axes)
        if let exclude, let entries = matrixEntries(exclude, info.axes, types, complete: false) {
            for (e, span) in entries {
                let before = cells.count
                cells.removeAll { cell in e.allSatisfy { Self.same(cell[$0.key], $0.value) } }
                if cells.count == before {
                    report(.warning("W0920", "this `exclude` entry matches no cell", at: span,
                                    help: "check its values against the axes, or remove it"))
                }
            }
        }
        if let include, let entries = matrixEntries(include, info.axes, types, complete: true) {
            for (e, span) in entries {
                var cell = [ConstValue](repeating: .null, count: info.axes.count)
                for (k, v) in e { cell[k] = v }
                if cells.contains(where: { Self.sameCell($0, cell) }) {
                    report(error("E0928", "this `include` entry repeats cell `\(cellName(t, info.axes, cell))`", span,
                                 help: "remove it: a cell runs once"))
                    continue
                }
                cells.append(cell)
            }
        }
        if cells.count > MatrixCell.cellsMax {
            report(error("E0925", "`matrix` of task `\(t.name.text)` has \(cells.count) cells", m.kind.span,
                         label: "more than \(MatrixCell.cellsMax)", help: "split the task, or `exclude` cells"))
            return
        }
        if cells.isEmpty {
            report(error("E0926", "`matrix` of task `\(t.name.text)` has no cell left", m.kind.span,
                         label: "every cell is excluded", help: "remove an `exclude` entry or add an `include`"))
            return
        }
        info.cells = cells
        t.matrix = info
        t.forEach = .record(record)
        env.item = .record(record)
        env.itemKnown = true
    }

    /// One axis: a non-empty list of distinct constant strings, ints or bools of one type.
    mutating func matrixAxis(_ a: Attribute) -> (Ty, [ConstValue])? {
        guard case .list(let xs) = a.value.kind, !xs.isEmpty else {
            report(error("E0921", "matrix axis `\(a.key.text)` must be a non-empty list of constants", a.value.span,
                         help: "write the values out: `\(a.key.text): [\"a\", \"b\"]`"))
            return nil
        }
        var ty: Ty?
        var out: [ConstValue] = []
        for x in xs {
            guard let v = Constant.fold(x), let vt = Self.axisType(v) else {
                report(error("E0921", "matrix axis `\(a.key.text)` must be a non-empty list of constants", x.span,
                             label: "not a string, int or bool written out",
                             help: "axis values are strings, ints or bools known when the file is checked"))
                return nil
            }
            if let ty, ty != vt {
                report(error("E0922", "matrix axis `\(a.key.text)` mixes `\(ty)` and `\(vt)` values", x.span,
                             label: "this is `\(vt)`", help: "write every value of an axis with one type, e.g. `\"3.12\"`"))
                return nil
            }
            if case .string(let text) = v, let bad = text.unicodeScalars.first(where: MatrixCell.breaksName) {
                let shown = bad.properties.generalCategory == .control ? "a control character" : "`\(bad)`"
                report(error("E0932", "matrix value has \(shown), which cell names cannot hold", x.span,
                             label: "in a cell name `\(a.key.text)=...` this would be ambiguous",
                             help: "cell names are `task[axis=value,...]`: use a value without `,` `=` `[` `]` or control characters"))
                return nil
            }
            if out.contains(where: { Self.same($0, v) }) {
                report(error("E0928", "matrix axis `\(a.key.text)` lists a value twice", x.span, help: "remove the repeat"))
                return nil
            }
            ty = vt
            out.append(v)
        }
        return (ty!, out)
    }

    /// `exclude`/`include` entries as (axis index → value) with each entry's span; nil
    /// after a diagnostic. `complete`: every axis must be bound (an include is one new cell).
    mutating func matrixEntries(_ a: Attribute, _ axes: [String], _ types: [Ty], complete: Bool)
        -> [([(key: Int, value: ConstValue)], Span)]? {
        guard case .list(let xs) = a.value.kind else {
            report(error("E0930", "`\(a.key.text)` must be a list of records", a.value.span,
                         help: "write `\(a.key.text): [{ \(axes[0]): ... }]`"))
            return nil
        }
        var out: [([(key: Int, value: ConstValue)], Span)] = []
        for x in xs {
            guard case .record(let fields) = x.kind else {
                report(error("E0930", "`\(a.key.text)` must be a list of records", x.span,
                             help: "write `{ \(axes[0]): ... }`"))
                return nil
            }
            var entry: [(key: Int, value: ConstValue)] = []
            for f in fields {
                guard let k = axes.firstIndex(of: f.key.text) else {
                    report(error("E0923", "the matrix has no axis `\(f.key.text)`", f.key.span)
                        .suggesting(suggest(f.key.text, among: axes), at: f.key.span, otherwise: "axes: " + axes.joined(separator: ", ")))
                    return nil
                }
                guard let v = Constant.fold(f.value), Self.axisType(v) == types[k] else {
                    report(error("E0922", "axis `\(f.key.text)` holds `\(types[k])` values", f.value.span,
                                 help: "write a `\(types[k])` constant here"))
                    return nil
                }
                entry.append((k, v))
            }
            if complete, entry.count < axes.count {
                let missing = axes.indices.filter { k in !entry.contains { $0.key == k } }.map { "`\(axes[$0])`" }
                report(error("E0924", "this `include` entry does not bind every axis", x.span,
                             label: "missing " + missing.joined(separator: ", "),
                             notes: ["an `include` adds one whole cell; it is never merged into other cells"],
                             help: "give every axis a value, or use `exclude` to drop cells"))
                return nil
            }
            out.append((entry, x.span))
        }
        return out
    }

    func cellName(_ t: TaskInfo, _ axes: [String], _ cell: [ConstValue]) -> String {
        MatrixCell.name(task: t.name.text, axes: axes, values: cell.map(Self.json))
    }

    static func crossProduct(_ axes: [[ConstValue]]) -> [[ConstValue]] {
        var out: [[ConstValue]] = [[]]
        for values in axes {
            var next: [[ConstValue]] = []
            next.reserveCapacity(out.count * values.count)
            for prefix in out { for v in values { next.append(prefix + [v]) } }
            out = next
            if out.count > MatrixCell.cellsMax * 64 { break }  // the count is reported; no need to build all
        }
        return out
    }

    static func axisType(_ v: ConstValue) -> Ty? {
        switch v {
        case .string: .string
        case .int: .int
        case .bool: .bool
        default: nil
        }
    }

    static func same(_ a: ConstValue, _ b: ConstValue) -> Bool { json(a) == json(b) }

    static func sameCell(_ a: [ConstValue], _ b: [ConstValue]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { same($0, $1) } }

    /// An axis value in the IR.
    static func json(_ v: ConstValue) -> JSONValue {
        switch v {
        case .string(let s): .string(s)
        case .int(let i): .int(i)
        case .bool(let b): .bool(b)
        default: .null
        }
    }
}

extension TaskInfo {
    /// How many rounds of cells a matrix with `max_parallel` needs (1 for any other task):
    /// the deadline's critical path counts the task this many times.
    public var matrixWaves: Int64 {
        guard let m = matrix, let p = m.maxParallel, p > 0 else { return 1 }
        return (Int64(m.cells.count) + p - 1) / p
    }
}

// MARK: - Per-item `needs`

extension WorkflowChecker {
    /// The items a fan-out task's instances get, when known now: a matrix's cells as
    /// records, or a `for_each` list written out as constants. Nil otherwise.
    func knownItems(_ t: TaskInfo) -> [JSONValue]? {
        if let m = t.matrix {
            return m.cells.map { cell in .object(zip(m.axes, cell).map { ($0, Self.json($1)) }) }
        }
        guard let fe = t.block.attribute("for_each"), let v = Constant.fold(fe.value), case .list(let xs) = v else { return nil }
        return xs.map(Self.jsonValue)
    }

    static func jsonValue(_ v: ConstValue) -> JSONValue {
        switch v {
        case .string(let s): .string(s)
        case .int(let i), .duration(let i), .money(let i), .tokens(let i): .int(i)
        case .bool(let b): .bool(b)
        case .float(let d): .float(d)
        case .null, .enumCase: .null
        case .list(let xs): .array(xs.map(jsonValue))
        case .record(let fs): .object(fs.map { ($0.key, jsonValue($0.value)) })
        }
    }

    /// `needs` entries that read `item` (`needs: [item.os]`), kept apart from the constant
    /// ones: each instance's capabilities are these values for its item.
    mutating func collectItemNeeds(_ t: inout TaskInfo, _ a: Attribute) {
        guard case .list(let xs) = a.value.kind else { return }
        t.itemNeeds = xs.filter { $0.path?.first?.text == "item" }
    }

    /// The capabilities instance `k` of `t` needs from `item`, or nil when unknown.
    static func itemCapabilities(_ t: TaskInfo, item: JSONValue) -> [String]? {
        var out: [String] = []
        for e in t.itemNeeds {
            var v = item
            for f in e.path!.dropFirst() { guard let next = v[f.text] else { return nil }; v = next }
            guard case .string(let s) = v else { return nil }
            out.append(s)
        }
        return out
    }

    /// E0929: a cell (or constant `for_each` item) whose `needs` no agent of the pool
    /// offers, or that its pinned agent or its role's agents do not cover.
    mutating func checkItemNeeds(_ w: WorkflowContext) {
        for t in w.tasks where !t.itemNeeds.isEmpty {
            guard let items = knownItems(t), let drivers = Self.drivers[t.action] else { continue }
            let allowed = t.role.map { effective($0.id).agents }
            for item in items {
                guard let extra = Self.itemCapabilities(t, item: item) else { continue }
                let needs = t.needs + extra
                let pool = t.agent.map { [$0.id] } ?? w.pool
                let able = pool.filter { id in
                    guard let a = agents[id] else { return false }
                    return (a.driver == nil || drivers.contains(a.driver!)) && needs.allSatisfy(a.capabilities.contains)
                        && (t.agent != nil || allowed.map { $0.contains(id) } ?? true)
                }
                guard able.isEmpty else { continue }
                let name = t.matrix.map { MatrixCell.name(task: t.name.text, axes: $0.axes, item: item) }
                    ?? "\(t.name.text)[\(items.firstIndex(of: item) ?? 0)]"
                report(error("E0929", "no agent can run `\(name)`", t.needsSpan ?? t.name.span,
                             label: "needs capabilities " + needs.map { "\"\($0)\"" }.joined(separator: ", "),
                             notes: ["the pool has: " + (w.pool.isEmpty ? "no agents" : w.pool.map { id in
                                 "`\(id.name)` (\(agents[id]?.capabilities.joined(separator: ", ") ?? ""))" }.joined(separator: "; "))],
                             help: "declare an agent with these capabilities, or `exclude` the cell"))
            }
        }
    }
}
