import EzflowDiagnostics
import EzflowSyntax

/// `for_each` fans out when the run's plan is built, before any task has run
/// (docs/RUNTIME.md, "for_each"): its list may be made only of literals, enum cases,
/// `inputs.*` and an enclosing `item`, which is what `Plan` evaluates. Anything else
/// would check clean and then be refused when the run starts (E0308).
extension WorkflowChecker {
    /// The first part of `e` that `Plan` cannot evaluate, with a label saying why; nil
    /// when the whole expression is known when the run starts.
    func planTimeProblem(_ e: Expr) -> (span: Span, why: String)? {
        switch e.kind {
        case .string(let parts):
            for case .interpolation(let x) in parts { if let p = planTimeProblem(x) { return p } }
            return nil
        case .int, .float, .duration, .money, .tokens, .bool, .null, .error:
            return nil
        case .list(let xs):
            for x in xs { if let p = planTimeProblem(x) { return p } }
            return nil
        case .record(let es):
            for en in es { if let p = planTimeProblem(en.value) { return p } }
            return nil
        case .name, .member:
            switch bindings.binding(of: e) {
            case .input?, .item?, .enumCase?: return nil
            case .taskOutput?: return (e.span, "a task's output, known only after that task has run")
            default: return (e.span, "computed while the run is under way")
            }
        case .unary, .binary, .call, .index:
            return (e.span, "an operation, evaluated only while the run is under way")
        }
    }

    /// E0308 for a `for_each` list the plan cannot expand.
    mutating func checkPlanTimeForEach(_ e: Expr) {
        guard let p = planTimeProblem(e) else { return }
        report(error("E0308", "the list of a `for_each` must be known when the run starts", p.span, label: p.why,
                     help: "the fan-out is expanded before any task runs: pass the list as a workflow input "
                         + "(`input files: list[string]`, then `for_each: inputs.files`)"))
    }

    /// E0308 for a `with` value that feeds a nested workflow's `for_each`.
    mutating func checkPlanTimeWith(_ entry: RecordEntry, callee: Block, module cm: Int) {
        guard planTimeInputs(callee, module: cm, depth: 0).contains(entry.key.text),
              let p = planTimeProblem(entry.value) else { return }
        report(error("E0308", "input `\(entry.key.text)` must be known when the run starts", p.span, label: p.why,
                     notes: ["workflow `\(callee.name?.text ?? "")` fans out over it with `for_each`, before any task runs"],
                     help: "pass a literal or a workflow input here"))
    }

    /// The inputs of workflow `w` that its plan reads when the run starts: those its
    /// `for_each` lists read, and those it passes on to such inputs of nested workflows.
    func planTimeInputs(_ w: Block, module m: Int, depth: Int) -> Set<String> {
        var out: Set<String> = []
        guard depth <= 32 else { return out }
        func tasks(_ b: Block) {
            for inner in b.blocks {
                if inner.kind.text == "group" { tasks(inner); continue }
                guard inner.kind.text == "task" else { continue }
                if let fe = inner.attribute("for_each") { Self.inputNames(fe.value, into: &out) }
                guard let wa = inner.attribute("workflow"), let withA = inner.attribute("with"),
                      case .record(let entries) = withA.value.kind, let (cb, cm) = calleeBlock(wa.value, module: m) else { continue }
                let inner = planTimeInputs(cb, module: cm, depth: depth + 1)
                for en in entries where inner.contains(en.key.text) { Self.inputNames(en.value, into: &out) }
            }
        }
        tasks(w)
        return out
    }

    /// The workflow block a `workflow:` value names (`name` or `alias.name`), quietly.
    func calleeBlock(_ e: Expr, module m: Int) -> (Block, Int)? {
        guard let p = e.path, p.count <= 2 else { return nil }
        var target = m
        if p.count == 2 {
            guard let tm = modules[m].imports[p[0].text]?.module else { return nil }
            target = tm
        }
        guard let wf = modules[target].workflow, wf.name?.text == p.last!.text, target != m else { return nil }
        return (wf, target)
    }

    /// Every `inputs.NAME` that `e` reads.
    static func inputNames(_ e: Expr, into out: inout Set<String>) {
        if let p = e.path, p.count >= 2, p[0].text == "inputs" { out.insert(p[1].text); return }
        switch e.kind {
        case .string(let parts): for case .interpolation(let x) in parts { inputNames(x, into: &out) }
        case .list(let xs): for x in xs { inputNames(x, into: &out) }
        case .record(let es): for en in es { inputNames(en.value, into: &out) }
        case .member(let b, _): inputNames(b, into: &out)
        case .index(let a, let b), .binary(_, let a, let b): inputNames(a, into: &out); inputNames(b, into: &out)
        case .unary(_, let a): inputNames(a, into: &out)
        case .call(_, let args): for x in args { inputNames(x, into: &out) }
        default: break
        }
    }
}
