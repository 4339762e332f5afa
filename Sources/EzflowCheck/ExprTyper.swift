import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits

/// What names mean inside one expression, and what the expression used.
struct ExprEnv {
    var module: Int
    var policy = false
    /// Workflow inputs, when inside a workflow.
    var inputs: [String: Ty]?
    /// Tasks by name and their outputs, when inside a workflow.
    var tasks: [String: Int]?
    var taskOutputs: [[String: Ty]] = []
    var taskFanned: [Bool] = []
    /// The element type bound to `item` inside a `for_each` task.
    var item: Ty?
    /// Every `item` is known when the file is checked (a matrix, a constant `for_each`
    /// list): `needs` may read it.
    var itemKnown = false
    var secretsAllowed = false
    /// Inside a `run:` script, where `${NAME}` may be a shell variable written unescaped.
    var shellScript = false
    /// The span of a bare `${NAME}` interpolation of a `run:` being typed (for E0200's help).
    var bareShellName: Span?
    /// Inside a `run` task's `run:` or `env`, where a file reads as its stored copy's path.
    var filesAsPaths = false

    /// Per task: `allow_failure: true`, so its outputs read as optional everywhere.
    var taskAllowFailure: [Bool] = []
    /// Inside a `run_on: failure|always` task: every task output reads as optional.
    var optionalOutputs = false
    /// Inside a loop's body: its tasks (`previous.TASK`, `iteration` readable; LoopChecks.swift).
    var loopBody: Set<Int>?
    /// Inside a `finally` task: `run.*` is readable, main tasks' outputs are optional.
    var inFinally = false
    var taskIsFinally: [Bool] = []
    /// Task output reads typed optional for that reason (a bare interpolation is refused).
    var optionalReads: Set<Span> = []

    var usedInputs: Set<String> = []
    var readTasks: [(Int, Span)] = []
    /// Every `TASK.status` read: the task and the reference's span (Conditions.swift).
    var statusReads: [(Int, Span)] = []
    /// Every `TASK.outputs.NAME` read: the task, the output's name, the reference's span.
    var readOutputs: [OutputRead] = []
    var usedSecrets: [RefUse] = []

    init(module: Int) { self.module = module }
}

extension WorkflowChecker {
    /// Types `e` and reports when it does not fit `expected` (E0301 for unit clashes).
    /// True when `e` is well typed.
    @discardableResult
    mutating func checkExpr(_ e: Expr, expected: Ty, env: inout ExprEnv, what whatText: @autoclosure () -> String) -> Bool {
        let t = typeOf(e, &env)
        guard !t.fits(expected) else { return t != .error }
        let what = whatText()
        if t.holdsFile, expected == .string || expected == .path || expected == .map(.string) {
            reportFileAsText(t, at: e.span, what)
            return false
        }
        let unitClash = expected.isUnit && (t.isUnit || t.isNumeric) || t.isUnit && expected.isNumeric
        if unitClash {
            report(error("E0301", "\(what) expects \(article(expected)), found \(article(t))", e.span,
                         label: "this is \(article(t))",
                         help: expected.literalKind?.help(found: t.literalKind) ?? "write \(expected.example)"))
        } else {
            report(error("E0300", "\(what) expects `\(expected)`, found `\(t)`", e.span,
                         label: "this is `\(t)`", help: "write \(expected.example)"))
        }
        return false
    }

    func article(_ t: Ty) -> String {
        if let k = t.literalKind, k != .bool { return k.noun }
        return "`\(t)`"
    }

    mutating func resolveType(_ t: TypeExpr, module m: Int) -> Ty {
        switch t.kind {
        case .error: return .error
        case .list(let i): return .list(resolveType(i, module: m))
        case .map(let i): return .map(resolveType(i, module: m))
        case .optional(let i): return .optional(resolveType(i, module: m))
        case .named(let path):
            if path.count == 1 {
                switch path[0].text {
                case "string": return .string
                case "int": return .int
                case "float": return .float
                case "bool": return .bool
                case "duration": return .duration
                case "money": return .money
                case "tokens": return .tokens
                case "path": return .path
                case "file": return .file
                case "json": return .json
                default: break
                }
            }
            var target = m
            var name = path[0]
            if path.count == 2, let imp = modules[m].imports[path[0].text] {
                usedImports.insert("\(m):\(path[0].text)")
                guard let tm = imp.module else { return .error }
                bind(path[0], .module(tm))
                target = tm
                name = path[1]
            } else if path.count != 1 {
                report(error("E0302", "unknown type `\(path.map(\.text).joined(separator: "."))`", t.span))
                return .error
            }
            if let d = modules[target].decls[name.text] {
                let id = DeclID(module: target, name: name.text)
                if d.kind == .enumeration || d.kind == .record { bind(name, .decl(d.kind, id)) }
                if d.kind == .enumeration { return .enumeration(name: name.text, cases: d.block.cases.map(\.text)) }
                if d.kind == .record { return records[id].map { .record($0) } ?? .error }
            }
            let builtins = ["string", "int", "float", "bool", "duration", "money", "tokens", "path", "file", "json", "list", "map"]
            let declared = modules[target].decls.values.filter { $0.kind == .enumeration || $0.kind == .record }.map(\.name.text)
            report(error("E0302", "unknown type `\(name.text)`", name.span)
                .suggesting(suggest(name.text, among: builtins + declared), at: name.span,
                            otherwise: "types are \(builtins.dropLast(2).joined(separator: ", ")), list[T], map[T], or a declared enum or type"))
            return .error
        }
    }

    /// Infers the type of an expression, reporting what does not resolve or type, and
    /// records it for lowering and the IDE queries.
    mutating func typeOf(_ e: Expr, _ env: inout ExprEnv) -> Ty {
        var t = infer(e, &env)
        if env.filesAsPaths { t = t.fileAsPath }
        switch e.kind {
        // A literal's type is its kind (`SemanticModel.types` says so); not storing them
        // keeps the table to the expressions that needed inference.
        case .int, .float, .duration, .money, .tokens, .bool, .null, .error: break
        case .string(let parts) where parts.count <= 1: if case .interpolation? = parts.first { types[e.span] = t }
        default: types[e.span] = t
        }
        return t
    }

    mutating func infer(_ e: Expr, _ env: inout ExprEnv) -> Ty {
        switch e.kind {
        case .error: return .error
        case .string(let parts):
            for p in parts {
                if case .interpolation(let x) = p {
                    if env.shellScript, case .name = x.kind { env.bareShellName = x.span }
                    let t = typeOf(x, &env)
                    env.bareShellName = nil
                    switch t {
                    case .file, .optional(.file): reportFileAsText(t, at: x.span, "an interpolation")
                    case .list, .map, .record:
                        report(error("E0300", "cannot interpolate a value of type `\(t)` into a string", x.span,
                                     help: "use `join(list, \", \")` for lists"))
                    case .optional where env.optionalReads.contains(x.span):
                        report(error("E0300", "cannot interpolate `\(t)`: the output may be missing", x.span,
                                     label: "the task may not have succeeded",
                                     help: "say what a missing output reads as: `${\(ExprText.print(x)) ?? \"none\"}`"))
                    default: break
                    }
                }
            }
            return .string
        case .int: return .int
        case .float: return .float
        case .duration: return .duration
        case .money: return .money
        case .tokens: return .tokens
        case .bool: return .bool
        case .null: return .null
        case .list(let items):
            var elem: Ty = .nothing
            for i in items {
                let t = typeOf(i, &env)
                if let j = elem.join(t) { elem = j } else {
                    report(error("E0300", "list elements have different types: `\(elem)` and `\(t)`", i.span))
                    elem = .error
                }
            }
            return .list(elem)
        case .record(let entries):
            var r = RecordType(name: nil, fields: [:], order: [])
            for en in entries {
                if r.fields[en.key.text] != nil {
                    report(error("E0205", "field `\(en.key.text)` is given twice", en.key.span))
                    continue
                }
                r.fields[en.key.text] = typeOf(en.value, &env)
                r.order.append(en.key.text)
            }
            return .record(r)
        case .unary(let op, let x):
            let t = typeOf(x, &env)
            if t.isError { return .error }
            switch op {
            case .not:
                if t == .bool { return .bool }
            case .negate:
                if t.isNumeric || t.isUnit { return t }
            }
            report(error("E0303", "`\(op.rawValue)` cannot be applied to `\(t)`", e.span))
            return .error
        case .binary(let op, let l, let r):
            return binary(op, l, r, e.span, &env)
        case .index(let base, let i):
            let bt = typeOf(base, &env), it = typeOf(i, &env)
            if bt.isError || it.isError { return .error }
            switch bt {
            case .list(let el) where it == .int: return el
            case .map(let v) where it == .string: return .optional(v)
            case .json: return .json
            default:
                report(error("E0303", "cannot index `\(bt)` with `\(it)`", e.span))
                return .error
            }
        case .call(let callee, let args):
            return call(callee, args, e.span, &env)
        case .name, .member:
            return reference(e, &env)
        }
    }

    mutating func binary(_ op: BinaryOp, _ l: Expr, _ r: Expr, _ span: Span, _ env: inout ExprEnv) -> Ty {
        let a = typeOf(l, &env), b = typeOf(r, &env)
        if a.isError || b.isError { return .error }
        func numeric() -> Ty? { a.isNumeric && b.isNumeric ? (a == .float || b == .float ? .float : .int) : nil }
        var result: Ty?
        switch op {
        case .and, .or:
            result = a == .bool && b == .bool ? .bool : nil
        case .eq, .ne:
            result = a.join(b) != nil || (a.isNumeric && b.isNumeric) ? .bool : nil
        case .lt, .le, .gt, .ge:
            result = (numeric() != nil || (a == b && (a.isUnit || a == .string))) ? .bool : nil
        case .in:
            switch b {
            case .list(let el): result = a.fits(el) || el == .nothing ? .bool : nil
            case .map: result = a == .string ? .bool : nil
            case .string: result = a == .string ? .bool : nil
            default: result = nil
            }
        case .coalesce:
            if case .optional(let inner) = a { result = inner.join(b) } else { result = a.join(b) }
        case .add:
            if let n = numeric() { result = n }
            else if a == b, a.isUnit || a == .string { result = a }
            else if case .list(let x) = a, case .list(let y) = b { result = x.join(y).map { .list($0) } }
            else if a == .path && b == .string { result = .path }
        case .sub:
            result = numeric() ?? (a == b && a.isUnit ? a : nil)
        case .mul:
            if let n = numeric() { result = n }
            else if a.isUnit && b.isNumeric { result = a }
            else if b.isUnit && a.isNumeric { result = b }
        case .div:
            if let n = numeric() { result = n }
            else if a.isUnit && b.isNumeric { result = a }
            else if a.isUnit && a == b { result = .float }
        case .mod:
            result = a == .int && b == .int ? .int : nil
        }
        if let result { return result }
        let unitClash = (a.isUnit || b.isUnit) && [.add, .sub, .lt, .le, .gt, .ge, .eq, .ne].contains(op)
        // `a.status == "succeeded"`: a string literal naming a case of the enum on the other
        // side is the case, written as a value (`status.succeeded`).
        let asCase = [.eq, .ne].contains(op) ? enumCase(for: r, of: a).map { (r, $0) } ?? enumCase(for: l, of: b).map { (l, $0) } : nil
        var d = error(unitClash ? "E0301" : "E0303",
                      unitClash ? "cannot combine \(article(a)) and \(article(b)) with `\(op.rawValue)`"
                                : "`\(op.rawValue)` cannot be applied to `\(a)` and `\(b)`", span,
                      secondary: [Label(l.span, "`\(a)`"), Label(r.span, "`\(b)`")],
                      help: unitClash ? "both sides need the same unit" : asCase.map { "compare with the enum's case: `\($0.1)`" })
        if let (literal, text) = asCase { d = d.fixing(.replace(literal.span, with: text)) }
        report(d)
        return .error
    }

    /// `ENUM.case` when `e` is a string literal naming a case of enum type `t`.
    func enumCase(for e: Expr, of t: Ty) -> String? {
        guard case .enumeration(let name, let cases) = t, case .string(let parts) = e.kind, parts.count == 1,
              case .text(let s) = parts[0], cases.contains(s) else { return nil }
        return name + "." + s
    }

    static let functions: [String: (Int, String)] = [
        "len": (1, "len(list | map | string) -> int"),
        "join": (2, "join(list[string], string) -> string"),
        "upper": (1, "upper(string) -> string"),
        "lower": (1, "lower(string) -> string"),
        "contains": (2, "contains(list[T] | string, T) -> bool"),
        "keys": (1, "keys(map[T]) -> list[string]"),
        "default": (2, "default(T?, T) -> T"),
    ]

    mutating func call(_ callee: Expr, _ args: [Expr], _ span: Span, _ env: inout ExprEnv) -> Ty {
        guard case .name(let f) = callee.kind, let (arity, sig) = Self.functions[f] else {
            let name = callee.path?.map(\.text).joined(separator: ".") ?? "this expression"
            report(error("E0304", "unknown function `\(name)`", callee.span)
                .suggesting(suggest(name, among: Self.functions.keys), at: callee.span,
                            otherwise: "built-in functions: " + Self.functions.keys.sorted().joined(separator: ", ")))
            for a in args { _ = typeOf(a, &env) }
            return .error
        }
        bind(callee, .builtin(f))
        let ts = args.map { typeOf($0, &env) }
        guard ts.count == arity else {
            report(error("E0304", "`\(f)` takes \(Units.counted(arity, "argument")), found \(ts.count)", span, help: "`\(sig)`"))
            return .error
        }
        if ts.contains(where: \.isError) { return .error }
        func bad() -> Ty {
            report(error("E0300", "wrong argument types for `\(f)`: (\(ts.map(\.description).joined(separator: ", ")))", span, help: "`\(sig)`"))
            return .error
        }
        switch f {
        case "len":
            switch ts[0] { case .list, .map, .string: return .int; default: return bad() }
        case "join":
            if case .list(let el) = ts[0], el.fits(.string) || el == .path, ts[1] == .string { return .string }
            return bad()
        case "upper", "lower": return ts[0] == .string ? .string : bad()
        case "contains":
            if case .list(let el) = ts[0], ts[1].fits(el) { return .bool }
            if ts[0] == .string && ts[1] == .string { return .bool }
            return bad()
        case "keys":
            if case .map = ts[0] { return .list(.string) }
            return bad()
        default:  // default
            if case .optional(let inner) = ts[0], let j = inner.join(ts[1]) { return j }
            return ts[0].join(ts[1]) ?? bad()
        }
    }

    /// `inputs.x`, `TASK.outputs.x`, `secrets.x`, `item`, `principal.x`, `task.x`, `Enum.case`.
    mutating func reference(_ e: Expr, _ env: inout ExprEnv) -> Ty {
        // Fast path: `inputs.NAME` of a declared input (no path array).
        if case .member(let base, let f) = e.kind, case .name(let head) = base.kind, head == "inputs",
           let t = env.inputs?[f.text] {
            env.usedInputs.insert(f.text)
            bind(e, .input(module: env.module, name: f.text))
            return t
        }
        guard let path = e.path else {
            // A member access on a computed value: type the base, then the field.
            guard case .member(let base, let fieldName) = e.kind else { return .error }
            return field(of: typeOf(base, &env), fieldName)
        }
        let head = path[0]
        switch head.text {
        case "inputs" where env.inputs != nil:
            guard path.count >= 2 else {
                report(error("E0211", "`inputs` needs a field: `inputs.NAME`", head.span))
                return .error
            }
            guard let t = env.inputs![path[1].text] else {
                report(error("E0200", "cannot find input `\(path[1].text)` in this workflow", path[1].span)
                    .suggesting(suggest(path[1].text, among: env.inputs!.keys), at: path[1].span,
                                otherwise: "declare it: `input \(path[1].text): string`"))
                return .error
            }
            env.usedInputs.insert(path[1].text)
            bind(e, .input(module: env.module, name: path[1].text))
            return fields(t, path.dropFirst(2))
        case "secrets":
            guard path.count == 2 else {
                report(error("E0211", "write a secret reference as `secrets.NAME`", e.span))
                return .error
            }
            guard let d = findDecl(path[1].text, kind: .secret, module: env.module) else {
                let candidates = modules[env.module].decls.values.filter { $0.kind == .secret }.map(\.name.text)
                report(error("E0200", "cannot find secret `\(path[1].text)` in this scope", path[1].span)
                    .suggesting(suggest(path[1].text, among: candidates), at: path[1].span))
                return .error
            }
            if !env.secretsAllowed {
                report(error("E0300", "secrets may only be interpolated into `run`, `env` or `call` strings", e.span,
                             help: "secret values never enter prompts, outputs or the IR"))
                return .error
            }
            let id = DeclID(module: env.module, name: d.name.text)
            env.usedSecrets.append(RefUse(id: id, span: e.span))
            bind(e, .decl(.secret, id))
            return .string
        case "item" where env.item != nil:
            bind(e, .item)
            if path.count > 1 { bind(head, .item) }
            return fields(env.item!, path.dropFirst())
        case "principal" where env.policy:
            guard path.count == 2 else { report(error("E0211", "write `principal.ATTRIBUTE`", e.span)); return .error }
            switch path[1].text {
            case "name", "team", "role":
                bind(e, .principal(path[1].text))
                return .string
            case "groups":
                bind(e, .principal(path[1].text))
                return .list(.string)
            default:
                report(error("E0211", "principals have no attribute `\(path[1].text)`", path[1].span,
                             help: "principal attributes: name, team, role, groups"))
                return .error
            }
        case "task" where env.policy:
            guard path.count == 2 else { report(error("E0211", "write `task.ATTRIBUTE`", e.span)); return .error }
            switch path[1].text {
            case "name", "tags", "priority":
                bind(e, .policyTask(path[1].text))
                return path[1].text == "name" ? .string : path[1].text == "tags" ? .list(.string) : .int
            default:
                report(error("E0211", "tasks have no attribute `\(path[1].text)` in policies", path[1].span,
                             help: "task attributes: name, tags, priority"))
                return .error
            }
        case "previous" where env.tasks != nil && env.tasks?["previous"] == nil:
            return previousReference(e, path: path, &env)
        case "iteration" where env.tasks != nil && env.tasks?["iteration"] == nil:
            return iterationReference(e, path: path, &env)
        case "inputs" where env.policy:
            guard path.count >= 2 else { return .error }
            env.usedInputs.insert(path[1].text)
            bind(e, .input(module: env.module, name: path[1].text))
            return .json
        default: break
        }
        if let tasks = env.tasks, let t = tasks[head.text] {
            if path.count >= 2, path[1].text == "status" { return statusReference(e, task: t, path: path, &env) }
            guard path.count >= 3, path[1].text == "outputs" else {
                let fixable = path.count == 2 && env.taskOutputs[t][path[1].text] != nil
                report(error("E0211", "a task is read through its outputs: `\(head.text).outputs.NAME`", e.span)
                    .suggesting(fixable ? "\(head.text).outputs.\(path[1].text)" : nil, at: e.span,
                                otherwise: "its outputs are: " + env.taskOutputs[t].keys.sorted().joined(separator: ", ")))
                return .error
            }
            env.readTasks.append((t, e.span))
            bind(head, .task(module: env.module, index: t))
            guard let out = env.taskOutputs[t][path[2].text] else {
                report(error("E0211", "task `\(head.text)` has no output `\(path[2].text)`", path[2].span)
                    .suggesting(suggest(path[2].text, among: env.taskOutputs[t].keys), at: path[2].span,
                                otherwise: "its outputs are: " + env.taskOutputs[t].keys.sorted().joined(separator: ", ")))
                return .error
            }
            var base: Ty = env.taskFanned[t] ? .list(out) : out
            if env.optionalOutputs || (t < env.taskAllowFailure.count && env.taskAllowFailure[t])
                || (env.inFinally && t < env.taskIsFinally.count && !env.taskIsFinally[t]) {
                base = Self.optional(base)
                env.optionalReads.insert(e.span)
            }
            bind(e, .taskOutput(module: env.module, task: t, name: path[2].text))
            env.readOutputs.append(OutputRead(task: t, output: path[2].text, span: e.span))
            return fields(base, path.dropFirst(3))
        }
        // Enum cases: `Env.prod` or `mod.Env.prod`.
        var m = env.module
        var rest = path[...]
        if path.count >= 3, let imp = modules[m].imports[head.text] {
            usedImports.insert("\(m):\(head.text)")
            guard let tm = imp.module else { return .error }
            bind(head, .module(tm))
            m = tm
            rest = path.dropFirst()
        }
        if let d = modules[m].decls[rest.first!.text], d.kind == .enumeration {
            let cases = d.block.cases.map(\.text)
            guard rest.count == 2 else {
                report(error("E0211", "write an enum case as `\(d.name.text).CASE`", e.span))
                return .error
            }
            let c = rest[rest.startIndex + 1]
            guard cases.contains(c.text) else {
                report(error("E0211", "enum `\(d.name.text)` has no case `\(c.text)`", c.span)
                    .suggesting(suggest(c.text, among: cases), at: c.span, otherwise: "cases: " + cases.joined(separator: ", ")))
                return .error
            }
            let id = DeclID(module: m, name: d.name.text)
            bind(e, .enumCase(id, c.text))
            bind(rest.first!, .decl(.enumeration, id))
            return .enumeration(name: d.name.text, cases: cases)
        }
        if let ty = builtinEnumCase(rest, e) { return ty }
        if head.text == "run", env.tasks != nil { return runReference(e, path: path, &env) }
        var candidates = Array(env.tasks?.keys ?? [:].keys)
        if env.inputs != nil { candidates.append("inputs") }
        if env.item != nil { candidates.append("item") }
        let d = error("E0200", "cannot find `\(head.text)` in this scope", head.span)
        if env.inputs?[head.text] != nil {
            report(d.fixing(.replace(head.span, with: "inputs.\(head.text)")).with(help: "to read the input, write `inputs.\(head.text)`"))
        } else if head.text == "item" {
            report(d.with(help: "`item` exists only inside a task with `for_each`"))
        } else {
            let hint = suggest(head.text, among: candidates)
            if env.bareShellName == e.span, hint == nil || head.text.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }),
               let dollar = interpolationDollar(before: head.span) {
                report(d.with(help: "a shell variable is written `\\${\(head.text)}` in a `run:` (an unescaped `${…}` is an ezflow interpolation)")
                    .fixing(Fix("escape the `$`", [TextEdit(Span(file: head.span.file, start: dollar, end: dollar), "\\")])))
            } else {
                report(d.suggesting(hint, at: head.span))
            }
        }
        return .error
    }

    /// The offset of the `$` of the `${` just before `name` (blanks allowed inside the
    /// braces), or nil when the bytes do not read so.
    func interpolationDollar(before name: Span) -> Int? {
        let bytes = sources[name.file].bytes
        var i = name.start - 1
        while i >= 0, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t") { i -= 1 }
        guard i >= 1, bytes[i] == UInt8(ascii: "{"), bytes[i - 1] == UInt8(ascii: "$") else { return nil }
        return i - 1
    }

    /// Follows `.a.b` through record fields.
    mutating func fields(_ t: Ty, _ rest: ArraySlice<Name>) -> Ty {
        var t = t
        for f in rest { t = field(of: t, f) }
        return t
    }

    mutating func field(of t: Ty, _ f: Name) -> Ty {
        switch t {
        case .error, .json: return t
        case .record(let r):
            if let ft = r.fields[f.text] { return ft }
            report(error("E0211", "`\(t)` has no field `\(f.text)`", f.span)
                .suggesting(suggest(f.text, among: r.order), at: f.span))
            return .error
        case .optional(let inner):
            report(error("E0300", "cannot read `\(f.text)` of an optional `\(t)`", f.span,
                         help: "unwrap it first: `default(x, ...)` or `x ?? ...`"))
            _ = inner
            return .error
        default:
            report(error("E0211", "`\(t)` has no field `\(f.text)`", f.span))
            return .error
        }
    }
}
