import EzflowDiagnostics
import EzflowSyntax

/// What one reference, as written, resolved to. The checker records one for every name it
/// resolves, so lowering and the IDE queries read the answer instead of resolving again.
/// Module and task numbers are indices of this compilation (`Module`, `CheckedWorkflow.tasks`).
public enum Binding: Sendable, Hashable {
    /// A top-level declaration: agent, role, secret, retry, policy, workflow, enum, type or error class.
    case decl(DeclKind, DeclID)
    /// Task `index` of the workflow declared in `module`.
    case task(module: Int, index: Int)
    /// Group `index` of the workflow declared in `module`.
    case group(module: Int, index: Int)
    /// `inputs.NAME` (and fields below it) of the workflow in `module`.
    case input(module: Int, name: String)
    /// A workflow output named by `writes`.
    case output(module: Int, name: String)
    /// `TASK.outputs.NAME` (and fields below it).
    case taskOutput(module: Int, task: Int, name: String)
    /// `TASK.status`: how task `task` ended (`status.succeeded`, ...).
    case taskStatus(module: Int, task: Int)
    /// `run.status` or `run.failures` in a `finally` task.
    case runValue(String)
    /// A case of a built-in enum: `status.failed` (task status), `run_status.failed`.
    case builtinEnumCase(String, String)
    /// `Enum.case`, possibly through an import alias.
    case enumCase(DeclID, String)
    /// An import alias: the module it names.
    case module(Int)
    /// `item` inside a `for_each` task.
    case item
    /// `previous.TASK.outputs.NAME` inside a loop body: the previous iteration's output.
    case previousOutput(module: Int, task: Int, name: String)
    /// `iteration` inside a loop body: the 1-based iteration number.
    case iteration
    /// `principal.ATTR` in a policy condition.
    case principal(String)
    /// `task.ATTR` in a policy condition.
    case policyTask(String)
    /// A built-in function (`len`) or error class (`timeout`).
    case builtin(String)
}

/// Bindings keyed by the span of the reference. Spans identify references, except in a
/// YAML scalar that is not verbatim in its file (escaped or folded): every reference in it
/// shares the scalar's span, so there the reference's dotted text tells them apart.
public struct Bindings: Sendable {
    /// How a reference was written; its text is built only when two share a span.
    enum Written: Sendable {
        case expr(Expr)
        case name(Name)
        case text(String)

        var text: String {
            switch self {
            case .expr(let e): e.path?.map(\.text).joined(separator: ".") ?? ""
            case .name(let n): n.text
            case .text(let t): t
            }
        }
    }

    struct Entry: Sendable {
        var binding: Binding
        var written: Written
    }

    /// One binding per span.
    private var entries: [Span: Entry] = [:]
    /// Spans written more than once with different texts, by the reference's text.
    private var shared: [Span: [String: Binding]] = [:]

    public init() {}

    mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

    /// Records that the reference `text` written at `span` means `binding`.
    public mutating func record(_ span: Span, _ text: String, _ binding: Binding) {
        record(span, .text(text), binding)
    }

    mutating func record(_ span: Span, _ written: Written, _ binding: Binding) {
        if shared[span] != nil {
            shared[span]![written.text] = binding
        } else if let prev = entries[span] {
            let (a, b) = (prev.written.text, written.text)
            if a == b {
                entries[span] = Entry(binding: binding, written: written)
            } else {
                shared[span] = [a: prev.binding, b: binding]
                entries[span] = nil
            }
        } else {
            entries[span] = Entry(binding: binding, written: written)
        }
    }

    /// The binding of the reference `text` at `span`.
    public func binding(at span: Span, text: String) -> Binding? {
        if let e = entries[span] { return e.binding }
        return shared[span]?[text]
    }

    /// The binding of a name or dotted path expression.
    public func binding(of e: Expr) -> Binding? {
        if let b = entries[e.span] { return b.binding }
        guard let s = shared[e.span] else { return nil }
        return s[Written.expr(e).text]
    }

    /// Every recorded reference, in no particular order: what references and rename
    /// search (a span shared by several references appears once per reference).
    public var all: [(span: Span, binding: Binding)] {
        var out: [(span: Span, binding: Binding)] = entries.map { ($0.key, $0.value.binding) }
        for (span, s) in shared { for b in s.values { out.append((span, b)) } }
        return out
    }

    /// Every binding whose span contains `offset` in `file`, smallest span first.
    public func bindings(file: Int, containing offset: Int) -> [(span: Span, binding: Binding)] {
        var out: [(span: Span, binding: Binding)] = []
        for (span, e) in entries where span.file == file && span.start <= offset && offset <= span.end { out.append((span, e.binding)) }
        for (span, s) in shared where span.file == file && span.start <= offset && offset <= span.end {
            for key in s.keys.sorted() { out.append((span, s[key]!)) }
        }
        return out.sorted { ($0.span.end - $0.span.start, $0.span) < ($1.span.end - $1.span.start, $1.span) }
    }
}

/// What the checker resolved across a whole compilation: every binding, every expression's
/// type and the modules (trees and declaration tables) they point into.
public struct SemanticModel: Sendable {
    public var bindings = Bindings()
    /// The type of each expression that needed inference, keyed by its span (the outermost
    /// wins when two share a span). Literals are left out: their type is their kind.
    public var types: [Span: Ty] = [:]
    /// Every module loaded, indexed as `DeclID.module` and `Binding` module numbers.
    public var modules: [Module] = []
    /// Every checked workflow, in module order.
    public var workflows: [CheckedWorkflow] = []

    public init() {}
}

extension WorkflowChecker {
    /// Records what `e` (a name or dotted path) resolved to.
    mutating func bind(_ e: Expr, _ b: Binding) {
        bindings.record(e.span, .expr(e), b)
    }

    /// Records what one name (a path segment, a task name in `after`) resolved to.
    mutating func bind(_ n: Name, _ b: Binding) {
        bindings.record(n.span, .name(n), b)
    }
}
