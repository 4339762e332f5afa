import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits

/// Identifies a declaration across modules.
public struct DeclID: Sendable, Hashable, Comparable {
    public var module: Int
    public var name: String
    public init(module: Int, name: String) {
        self.module = module
        self.name = name
    }
    public static func < (a: DeclID, b: DeclID) -> Bool { (a.module, a.name) < (b.module, b.name) }
}

/// A reference as written, resolved.
public struct RefUse: Sendable, Hashable {
    public var id: DeclID
    public var span: Span
}

public struct BudgetInfo: Sendable {
    public var money: Int64?
    public var tokens: Int64?
    public var timeMs: Int64?
    public var span: Span
    public var moneySpan: Span?
    public var tokensSpan: Span?
    public var timeSpan: Span?
    /// `strict: true`: a worst case over one of its limits is an error (E0601, E0607).
    public var strict = false
}

public struct AgentInfo: Sendable {
    public var id: DeclID
    public var name: Name
    public var driver: String?
    public var capabilities: [String]
    public var costPerCall: Int64 = 0
    public var costPer1kTokens: Int64 = 0
    /// `cost_per_1k_input_tokens` / `cost_per_1k_output_tokens`: the prices of models
    /// without a `prices` entry; nil when not written ($0).
    public var costPer1kInput: Int64?
    public var costPer1kOutput: Int64?
    /// `prices`: per-model input and output prices per 1k tokens, sorted by model; nil
    /// when not written.
    public var prices: [ModelPrice]?
    /// `format`: `openai` (also when absent) or `anthropic`.
    public var format: String?
    public var costPerSecond: Int64 = 0
    public var concurrency: Int64 = 1
    /// The secret holding the API key, resolved.
    public var apiKey: DeclID?
    public var command: String?
    public var model: String?
    public var url: String?
    /// `stream: true`: an llm agent's answers are asked for as server-sent events.
    public var stream = false
    public var latencyMs: Int64?
    /// `failure_rate` in parts per million.
    public var failureRatePPM: Int64?
    /// `breaker_failures` / `breaker_cool_down`; nil: not written (the run's defaults).
    public var breakerFailures: Int64?
    public var breakerCoolDownMs: Int64?
    /// `health` (http/llm), `health_command` (exec), `health_interval`; nil: not written.
    public var healthURL: String?
    public var healthCommand: String?
    public var healthIntervalMs: Int64?
    /// The backend queue of its attempts (`queue`); nil: `default`.
    public var queue: String?
}

/// One entry of an agent's `prices`: a model's prices per 1k input and output tokens.
public struct ModelPrice: Sendable, Equatable {
    public var model: String
    public var inputMicros: Int64
    public var outputMicros: Int64
}

extension AgentInfo {
    /// The input and output prices per 1k tokens of `model` (a task's `model`, else the
    /// agent's): its `prices` entry, else `cost_per_1k_input_tokens`/`…_output_tokens`.
    public func splitPrices(model: String?) -> (input: Int64, output: Int64) {
        let m = model ?? self.model
        if let m, let p = prices?.first(where: { $0.model == m }) { return (p.inputMicros, p.outputMicros) }
        return (costPer1kInput ?? 0, costPer1kOutput ?? 0)
    }

    /// The most one token can cost on `model`, per 1k: `cost_per_1k_tokens` plus the dearer
    /// of its input and output prices; above 0 when the agent prices tokens at all (E0608).
    public func tokenRate(model: String?) -> Int64 {
        let (i, o) = splitPrices(model: model)
        let (s, over) = costPer1kTokens.addingReportingOverflow(max(i, o))
        return over ? .max : s
    }
}

public struct RoleInfo: Sendable {
    public var id: DeclID
    public var name: Name
    public var inherits: [RefUse] = []
    public var allow: [String: Span] = [:]
    public var agents: [RefUse] = []
    public var secrets: [RefUse] = []
}

public struct RetryInfo: Sendable {
    public var span: Span
    public var attempts: Int64 = 1
    public var attemptsSpan: Span?
    public var backoff: String = "fixed"
    public var delayMs: Int64 = 0
    public var maxDelayMs: Int64?
    public var jitter: String = "none"
    /// `exponential`'s factor in parts per million; nil: not written (2).
    public var factorPPM: Int64?
    /// The classes `on` names; nil: `on` left out, every class a retry can fix (`RetryClasses`).
    public var on: [String]?
    /// Where `on` is written (for E0611), when it is.
    public var onSpan: Span?
    public var catchExpr: Expr?
    public var catchModule: Int

    /// Sum of the waits between `attempts` tries, each capped at `maxDelayMs`.
    /// Jitter only shortens waits (full/equal) or stays within the cap (decorrelated),
    /// so the un-jittered schedule is the worst case.
    public var backoffTotalMs: Int64 {
        var total: Int64 = 0
        guard attempts > 1 else { return 0 }
        for k in 1..<min(attempts, 10_000) { total = Reservation.add(total, delayMs(afterAttempt: Int(k))) }
        return total
    }

    /// The un-jittered delay after failed attempt `n` (`RetryDelay`, as the runtime waits).
    public func delayMs(afterAttempt n: Int) -> Int64 {
        RetryDelay.ms(kind: backoff, delayMs: delayMs, failedAttempt: n, factorPPM: factorPPM ?? RetryDelay.defaultFactorPPM,
                      maxDelayMs: maxDelayMs ?? -1)
    }
}

public struct GroupInfo: Sendable {
    public var name: Name
    public var parent: Int?
    public var budget: BudgetInfo?
    public var role: RefUse?
    /// `priority` written on the group; tasks inside without their own take the innermost.
    public var priority: Int64?
    public var tasks: [Int] = []
    /// Tags written on the group itself (enclosing groups' tags are not repeated).
    public var tags: [String] = []
    /// The group's `repeat { }` block: it is a bounded loop (LoopChecks.swift).
    public var loop: LoopInfo?
    /// `when:` written on the group itself (its tasks' `conditions` hold it too).
    public var when: Expr?
}

/// The target of a retry's `catch`: a task of the same workflow to run instead, or an
/// agent to retry on.
public enum Fallback: Sendable, Hashable {
    case task(Int)
    case agent(DeclID)
}

/// One task, with every attribute resolved. `id` is its index in declaration order.
public struct TaskInfo: Sendable {
    public var id: Int
    public var name: Name
    public var block: Block
    public var group: Int?
    public var action: String = ""
    public var actionSpan: Span
    public var agent: RefUse?
    public var needs: [String] = []
    public var needsSpan: Span?
    public var role: RefUse?
    public var timeoutMs: Int64?
    /// The task's retry rules in the order written: a failure is handled by the first rule
    /// whose classes include its class, and each rule counts its own retries (empty: none).
    public var retries: [RetryInfo] = []
    public var budget: BudgetInfo?
    public var priority: Int64 = 0
    public var tags: [String] = []
    public var after: [Name] = []
    public var writes: [Name] = []
    public var secrets: [RefUse] = []
    public var forEach: Ty?
    /// `max_items` of a dynamic fan-out (`for_each` over a task's output; FanoutChecks.swift).
    public var maxItems: Int64?
    /// The task whose output list a dynamic fan-out reads (its `for_each`).
    public var fanoutSource: Int?
    /// The checked `matrix` block (its cells are the instances; `forEach` is their record).
    public var matrix: MatrixInfo?
    /// `needs` entries that read `item`: each instance needs their values too.
    public var itemNeeds: [Expr] = []
    public var outputs: [String: Ty] = [:]
    public var approvers: [RefUse] = []
    /// `self_approval: allowed`: the run's starter may approve this gate (separation of
    /// duties is the default).
    public var selfApproval = false
    /// `on_timeout:` of an `approve` task (nil: not given, `reject`).
    public var onTimeout: String?
    /// `escalate_to:` roles and `escalate_timeout:` of an escalating gate.
    public var escalateTo: [RefUse] = []
    public var escalateTimeoutMs: Int64?
    public var maxCost: Int64?
    public var maxTokens: Int64?
    /// Tasks this one waits for (explicit and implicit), deduplicated.
    public var deps: [Int] = []
    /// `when:` of the task and of every enclosing group, innermost last (all must hold).
    public var conditions: [Expr] = []
    /// `run_on:` (nil: `success`) and `allow_failure: true`.
    public var runOn: String?
    public var allowFailure = false
    /// Tasks read only through `TASK.status` (not `after`, not outputs): they are waited
    /// for in any end state and never gate this one (Conditions.swift).
    public var statusOnlyDeps: Set<Int> = []
    /// Declared in the workflow's `finally { }`: runs once the main graph has ended.
    public var isFinally = false
    /// `compensate:` of this task, resolved: the task that undoes it (CompensationChecks.swift).
    public var compensation: Int?
    /// The task this one undoes when it is a compensation (named by that task's `compensate:`).
    public var compensates: Int?
    /// The group whose `repeat { }` this task is the body of (LoopChecks.swift).
    public var loop: Int?
    /// The loop's `max` for a body task (it may run that many times), else 1: what the
    /// budget and deadline proofs multiply by.
    public var loopFactor: Int64 = 1
    /// Where each dependency came from, for cycle diagnostics.
    public var depSpans: [Int: Span] = [:]
    public var isFallback = false
    /// What `catch` of this task's retry names, resolved in this workflow.
    public var fallback: Fallback?
    /// The action's argument: the command, prompt, URL, approval text or workflow name.
    public var actionValue: Expr?
    /// `with: {...}` inputs of a nested workflow.
    public var withValue: Expr?
    /// `env: {...}` for `run` tasks.
    public var envValue: Expr?
    /// `for_each:` list expression.
    public var forEachValue: Expr?
    public var model: String?
    /// `system:` of a `prompt` task: a string template, rendered like the prompt.
    public var systemValue: Expr?
    /// `messages:` of a `prompt` task: a list of `{role, content}` records.
    public var messagesValue: Expr?
    /// `temperature:` in parts per million.
    public var temperaturePPM: Int64?
    /// `stop:` sequences.
    public var stop: [String] = []
    /// The called workflow of a nested-workflow task.
    public var callee: DeclID?
}

extension TaskInfo {
    /// The rule that names `catch`: a task has one fallback, taken whichever rule ends.
    public var catchRule: RetryInfo? { retries.first { $0.catchExpr != nil } }

    /// The most attempts the task makes, before a `catch: agent` one: the first try plus
    /// every rule's retries (`attempts - 1` each), as the runtime's `Plan.attemptsMax`.
    public var maxAttempts: Int64 { retries.reduce(1) { Reservation.add($0, max(0, $1.attempts - 1)) } }

    /// The waits of every rule's whole schedule, un-jittered: the worst case of the
    /// backoff between the task's attempts.
    public var backoffTotalMs: Int64 { retries.reduce(0) { Reservation.add($0, $1.backoffTotalMs) } }
}
