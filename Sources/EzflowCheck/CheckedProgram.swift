import EzflowDiagnostics
import EzflowSyntax

/// A workflow input after checking.
public struct CheckedInput: Sendable {
    public var name: String
    public var type: Ty
    /// The default, type-checked; nil when the input is required.
    public var defaultValue: Expr?
    public var span: Span
}

/// A workflow output after checking.
public struct CheckedOutput: Sendable {
    public var name: String
    public var type: Ty
    /// `fail`, `last_writer`, `merge` or `escalate`; nil when not declared.
    public var onConflict: String?
    public var span: Span
}

public struct SecretInfo: Sendable {
    public var id: DeclID
    public var provider: String
    public var key: String
}

public struct PolicyInfo: Sendable {
    public var id: DeclID
    public var effect: String
    public var action: String
    public var roles: [DeclID]
    /// A bool expression over `principal.*`, `task.*` and `inputs.*`.
    public var condition: Expr?
}

/// The typed, resolved result of checking one workflow: the input of lowering to IR.
/// Only produced for a workflow whose modules have no errors.
public struct CheckedWorkflow: Sendable {
    public var name: String
    /// Index of the module (and `Span.file` of its file) in the compilation.
    public var module: Int
    public var inputs: [CheckedInput]
    public var outputs: [CheckedOutput]
    /// Tasks by id (declaration order); `deps` are resolved and acyclic.
    public var tasks: [TaskInfo]
    /// Task ids in a topological order (lowest id first among ready tasks).
    public var order: [Int]
    public var groups: [GroupInfo]
    public var budget: BudgetInfo?
    public var deadlineMs: Int64?
    public var selector: String?
    public var maxParallel: Int64?
    /// Agents the workflow may dispatch to.
    public var pool: [AgentInfo]
    /// Every role, secret, retry-referenced agent and policy the workflow can reach.
    public var roles: [RoleInfo]
    public var secrets: [SecretInfo]
    public var policies: [PolicyInfo]
    /// Module index → file path, for source locations in the IR.
    public var files: [Int: String]
    /// The span of the workflow's name, for the IR's source map.
    public var nameSpan: Span?
    /// Every agent declared in the compilation, by id (pool, role, pinned and `catch`
    /// agents are looked up here).
    public var agents: [DeclID: AgentInfo] = [:]
    /// The proven bounds of every budget and the deadline (`ezc check --explain-budget`).
    public var budgetProofs: [BudgetProof] = []
    /// Per task (by id): what one attempt reserves before dispatch, as the proofs count it.
    public var reservations: [AttemptReservation] = []
    /// What every reference of the compilation resolved to (shared by all workflows).
    public var bindings = Bindings()
}
