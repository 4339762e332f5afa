// The public vocabulary of the runtime core: the plan it runs, the events it folds,
// the commands it emits, the state it keeps, and the two extension points (agent
// selection and circuit breaking) other files plug into. Behaviour lives in Core.swift;
// encoding in Codec.swift; replay in Replay.swift. See docs/RUNTIME.md.
import EzflowIR

// MARK: - Time, ids, randomness

/// Milliseconds on the run's clock (virtual or wall; the shell decides). The core never
/// reads a clock: every event carries its own `atMs`.
public typealias Millis = Int64

/// A deterministic pseudo-random generator kept inside `RunState`, so that replaying a
/// journal draws the same numbers. Algorithm: SplitMix64 (Steele, Lea, Flood 2014):
/// `state &+= 0x9E3779B97F4A7C15; z = state; z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9;
/// z = (z ^ (z >> 27)) &* 0x94D049BB133111EB; return z ^ (z >> 31)`. Seeding: the
/// initial `state` is the run's 64-bit seed, unchanged.
public struct SeededRandom: Sendable, Equatable {
    /// The generator's whole state: one 64-bit word.
    public var state: UInt64

    /// A generator whose first output is SplitMix64's first output for `seed`.
    public init(seed: UInt64) { self.state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0...bound` (inclusive) as `next() % (bound + 1)`; the
    /// modulo bias is below 2^-40 for bounds under 2^24 ms and is part of the contract,
    /// so every implementation draws the same delays. `bound <= 0` gives 0 and draws nothing.
    public mutating func uniform(_ bound: Int64) -> Int64 {
        guard bound > 0 else { return 0 }
        return Int64(next() % UInt64(bound + 1))
    }
}

/// A timer the core asks the shell to set; when it fires the shell sends
/// `Event.timerFired(id, atMs)`. Timers are never cancelled: a stale one is a no-op.
/// Journal text: `timeout/<task>/<attempt>`, `retry/<task>/<attempt>`,
/// `approval/<task>/<attempt>/<stage>`, `deadline`, `budget`, `wake`.
public enum TimerID: Sendable, Hashable, CustomStringConvertible {
    /// The per-attempt timeout of `task`'s attempt `attempt`.
    case attemptTimeout(task: Int, attempt: Int)
    /// The backoff before `task`'s attempt `attempt` is over.
    case retryDue(task: Int, attempt: Int)
    /// An open approval gate's `timeout` (stage 0, counted from the request) or, once
    /// escalated, its `escalate_timeout` (stage 1). `attempt` is the answer it waits for
    /// (a gate reopened by its retry rule waits for the next), so ids never repeat.
    case approvalTimeout(task: Int, attempt: Int, stage: Int)
    /// The workflow's `deadline_ms`.
    case deadline
    /// The workflow budget's `time_ms` (wall time).
    case budgetTime
    /// Re-run scheduling (e.g. when an agent's breaker cool-down ends).
    case wake
    /// A group's (or a task's own) budget `time_ms`, counted from the first dispatch of
    /// a task inside it. Journal text `budget/<group id>`.
    case groupBudgetTime(group: Int)

    public var description: String {
        switch self {
        case .attemptTimeout(let t, let a): "timeout/\(t)/\(a)"
        case .retryDue(let t, let a): "retry/\(t)/\(a)"
        case .approvalTimeout(let t, let a, let s): "approval/\(t)/\(a)/\(s)"
        case .deadline: "deadline"
        case .budgetTime: "budget"
        case .wake: "wake"
        case .groupBudgetTime(let g): "budget/\(g)"
        }
    }
}

// MARK: - Plan

/// How the delay between attempts grows.
public enum Backoff: String, Sendable, Equatable {
    case fixed, linear, exponential
}

/// How the delay is randomized (drawn from the run's `SeededRandom`).
public enum Jitter: String, Sendable, Equatable {
    case none, full, equal, decorrelated
}

/// What a workflow output does when a second task writes it.
public enum ConflictPolicy: String, Sendable, Equatable {
    /// The second writer fails with error class `conflict` (also the default).
    case fail
    /// The later value replaces the earlier.
    case lastWriter = "last_writer"
    /// Objects merge key by key (later wins), arrays concatenate; anything else fails.
    case merge
    /// The core emits `requestApproval(task, .conflict(output))`; approval takes the new value.
    case escalate
}

/// What a plan node is, for the core: every kind-specific step of `Core.step` is one
/// exhaustive switch over it (readying, scheduling, passing an outcome on, reading
/// outputs), so a new construct is a new case the compiler walks you through, plus rows in
/// Core.swift's transition table. Fan-out instances are plain nodes of their task's kind:
/// `for_each` is expanded when the plan is built.
public enum NodeKind: UInt8, Sendable, Equatable {
    /// Dispatched to an agent (or the shell's local executor), retried by its rule.
    case task
    /// An `approve` gate: asks for `approvalGiven` instead of dispatching.
    case approval
    /// A `workflow` task: never dispatched; succeeds when its nested tasks
    /// (`joinStart[t]..<t`) have, fails when one of them fails.
    case join
    /// A task that runs only as another task's `catch: task`, once that one failed.
    case fallback
    /// An `approve` gate that is another task's `catch: task`.
    case fallbackApproval
    /// A task that runs only as the undo of another (`compensate`), after the main graph
    /// settled without success: one at a time, latest completion first (Compensation.swift).
    case compensation
    /// A bounded loop's task (`action: "loop"`): never dispatched; once every instance
    /// of its body (`joinStart[t]..<t`) ended it decides the loop (LoopCore.swift).
    case loop
}

/// The validated IR flattened for the scheduler: tasks, agents, tags, error classes and
/// outputs are dense `Int` ids; per-task lists are CSR (`xStart[t]..<xStart[t+1]` indexes
/// `x`). Built once per run by `Plan.init(_:)`; immutable afterwards.
public struct Plan: Sendable {
    /// The IR `hash`, recorded in the journal's `run_started` event and checked on replay.
    public var hash: String = ""
    /// Number of tasks; ids are `0..<taskCount` in topological order.
    public var taskCount: Int = 0
    public var taskNames: [String] = []
    /// True for `approve` tasks: no agent, wait for `approvalGiven`. What a plan builder
    /// sets (with `isFallback` and `joinStart`); the core reads `nodeKind`.
    public var isApproval: [Bool] = []
    /// True for tasks that run only as another task's `catch`.
    public var isFallback: [Bool] = []
    /// Each task's kind, derived from `isApproval`, `isFallback` and `joinStart` by
    /// `fillDefaults()` (so by `derive()` and `init(_:)`); use `kind(_:)`.
    public internal(set) var nodeKind: [NodeKind] = []
    /// Dependencies (CSR).
    public var depStart: [Int] = []
    public var deps: [Int] = []
    /// Dependents, the reverse of `deps` (CSR).
    public var dependentStart: [Int] = []
    public var dependents: [Int] = []
    /// 0…9, higher dispatches first.
    public var priority: [Int] = []
    /// Longest worst-case path (ms) from the task's start to the end of the workflow,
    /// this task included; ties in priority dispatch the longer path first.
    public var criticalPathMs: [Int64] = []
    /// The static dispatch order: priority desc, critical path desc, id asc.
    /// `rank[t]` is `t`'s position in it.
    public var rank: [Int] = []
    /// Per-attempt timeout; 0 = none.
    public var timeoutMs: [Int64] = []
    /// Per task: the most attempts in all, the first try plus every rule's retries (1
    /// without a rule); a `catch: agent` adds one more.
    public var attemptsMax: [Int] = []
    /// A task's retry rules in the order written (CSR: `ruleStart[t]..<ruleStart[t + 1]`,
    /// rule ids); a failure goes to the first rule that retries its class, and each rule
    /// counts its own retries (docs/RUNTIME.md "Retries"). The arrays below are per rule.
    public var ruleStart: [Int] = []
    /// Tries a rule allows, the first included (its `attempts`).
    public var ruleAttempts: [Int] = []
    public var backoff: [Backoff] = []
    public var delayMs: [Int64] = []
    /// Cap on the delay; -1 = none.
    public var maxDelayMs: [Int64] = []
    public var jitter: [Jitter] = []
    /// `exponential`'s factor per rule in parts per million (empty or -1: 2).
    public var factorPPM: [Int64] = []
    /// Per rule: it left `on` out and retries every class a retry can fix
    /// (`RetryClasses`); `retryOn` is then empty. Empty in hand-built plans: `retryOn` alone.
    public var retryOnDefault: [Bool] = []
    /// Error classes each rule retries (CSR over rules of ids into `errorClassNames`).
    public var retryOnStart: [Int] = []
    public var retryOn: [Int] = []
    /// Interned error class names (`timeout`, `transient`, `agent_error`, user classes).
    public var errorClassNames: [String] = []
    /// Fallback task (`catch: task`), -1 = none.
    public var catchTask: [Int] = []
    /// Fallback agent (`catch: agent`), -1 = none.
    public var catchAgent: [Int] = []
    /// Candidate agents (CSR); empty for approval/workflow tasks and for tasks the shell
    /// runs locally (they dispatch to agent -1).
    public var candidateStart: [Int] = []
    public var candidates: [Int] = []
    /// Tag ids (CSR into `tagNames`).
    public var tagStart: [Int] = []
    public var tags: [Int] = []
    public var tagNames: [String] = []
    /// Per-attempt caps from the IR; -1 = not given.
    public var maxCostMicros: [Int64] = []
    public var maxTokens: [Int64] = []
    /// Whether each task is a `prompt` task: its attempts get a token cap at dispatch
    /// (read per scheduling step, so kept here rather than looked up in `taskJSON`).
    public var promptTask: [Bool] = []
    /// Workflow outputs each task writes (CSR of ids into `outputNames`).
    public var writeStart: [Int] = []
    public var writes: [Int] = []
    public var outputNames: [String] = []
    public var onConflict: [ConflictPolicy] = []
    /// Agents.
    public var agentNames: [String] = []
    public var agentConcurrency: [Int] = []
    public var agentCostPerCallMicros: [Int64] = []
    public var agentCostPer1kTokensMicros: [Int64] = []
    public var agentCostPerSecondMicros: [Int64] = []
    /// Per agent: its `model`, its input/output prices per 1k tokens and its per-model
    /// `prices` (empty for plans made without them: no split prices).
    public var agentModel: [String?] = []
    public var agentSplitPrices: [IRModelPrice] = []
    public var agentModelPrices: [[String: IRModelPrice]] = []
    /// Per agent: `breaker_failures` and `breaker_cool_down` (-1, or empty: the run's default).
    public var agentBreakerFailures: [Int] = []
    public var agentBreakerCoolDownMs: [Int64] = []
    /// Per task: its `model` (an llm task's choice, which picks the agent's price).
    public var taskModel: [String?] = []
    /// Workflow limits; -1 = none.
    public var maxParallel: Int = -1
    public var budgetMoneyMicros: Int64 = -1
    public var budgetTokens: Int64 = -1
    public var budgetTimeMs: Int64 = -1
    public var deadlineMs: Int64 = -1
    /// The IR's `selector` (null → nil: the shell's default).
    public var selectorName: String? = nil

    // MARK: Budget scopes (groups)
    //
    // Every budget below the workflow's is a *group*: the IR's groups (of the root and of
    // every nested workflow), one per `workflow` task (its task budget, timeout and the
    // nested workflow's own budget and deadline, whichever is tighter), and one per task
    // with a `budget` of its own (named like the task). Ids are dense; a parent id is
    // always smaller than its child's.

    /// Group names: the IR name for root groups, `<workflow task>.<name>` inside nested
    /// workflows, the task name for a task's or a workflow task's own scope.
    public var groupNames: [String] = []
    /// Enclosing group, -1 = none (directly in the workflow).
    public var groupParent: [Int] = []
    /// Limits per group; -1 = none.
    public var groupBudgetMoneyMicros: [Int64] = []
    public var groupBudgetTokens: [Int64] = []
    public var groupBudgetTimeMs: [Int64] = []
    /// The task a group stands for (a task's own budget, or a workflow task's scope),
    /// -1 for an IR group.
    public var groupTask: [Int] = []
    /// The nearest enclosing group that has some limit (-1 none): the chain the core
    /// charges, reserves and checks, skipping groups without a budget.
    public var groupBudgetParent: [Int] = []
    /// Innermost group of each task in the IR's sense (its IR group, else the scope of
    /// the workflow task it is nested in), -1 = none.
    public var taskGroup: [Int] = []
    /// The first budget-bearing group charged for each task (its own task scope when it
    /// has a budget), then `groupBudgetParent` up to -1. The workflow budget is separate.
    /// Empty in a plan without groups built without IR; use `budgetScope(_:)`.
    public var taskBudgetScope: [Int] = []
    /// The task's own `budget` limits; -1 = none (mirrors its own group's limits).
    public var taskBudgetMoneyMicros: [Int64] = []
    public var taskBudgetTokens: [Int64] = []
    public var taskBudgetTimeMs: [Int64] = []

    // MARK: Sub-workflows and for_each instances
    //
    // A plan task is one instance of one IR task of one *workflow scope*: scope 0 is the
    // root workflow; every `workflow` task instance opens a scope for its nested workflow.
    // The arrays from `taskWorkflow` to `irInstances` (and the `taskBudget*` mirrors) are
    // for the runner; a plan built without IR (`Plan.synthetic`) leaves them empty.

    /// For a `workflow` task (a join: it never dispatches and succeeds when its nested
    /// tasks do): the first plan id of its nested tasks, which are `joinStart[t]..<t`.
    /// -1 for every other task. Empty (no joins) in a plan built without IR and without
    /// groups; use `isJoin(_:)`.
    public var joinStart: [Int] = []
    /// The loop of each loop task (`NodeKind.loop`), by plan id (LoopCore.swift).
    public var loops: [Int: LoopSpec] = [:]
    /// The workflow scope that declares each task (0 = root).
    public var taskWorkflow: [Int] = []
    /// The task's index in its scope's IR `tasks`.
    public var taskIRIndex: [Int] = []
    /// The `for_each` instance index, -1 for a task without `for_each`.
    public var taskItemIndex: [Int] = []
    /// The `item` bound for a `for_each` instance (nil without `for_each`).
    public var taskItem: [JSONValue?] = []
    /// Per matrix cell: its matrix's `fail_fast` and `max_parallel` (-1: none; -2: not
    /// a cell). Empty in a plan without a matrix; shorter than `taskCount` when the last
    /// tasks are no cells (`isMatrixCell`, MatrixPlan.swift).
    public var taskMatrixFailFast: [Bool] = []
    public var taskMatrixMaxParallel: [Int] = []
    /// The IR task object each plan task comes from (shared by a fan-out's instances).
    public var taskJSON: [JSONValue] = []
    /// Per task: which outcomes of its dependencies open its gate (`run_on`, Conditions.swift).
    public var gate: [GateKind] = []
    /// Per task: `allow_failure: true` (its failure passes gates and the verdict).
    public var allowFailure: [Bool] = []
    /// Per task: declared in `finally { }` (runs once the main graph ended, Finally.swift).
    public var isFinally: [Bool] = []
    /// Whether any task is a `finally` task.
    public var hasFinally = false
    /// Per task: the task that undoes it (`compensate`), -1 for none (Compensation.swift).
    public var compensate: [Int] = []
    /// Per task: the task it undoes when it is a compensation, -1 otherwise.
    public var compensates: [Int] = []
    /// Whether any task has a compensation.
    public var hasCompensation = false
    /// `when` conditions (IR expressions) of the tasks that have one.
    public var condition: [Int: JSONValue] = [:]
    /// Per task with some: dependencies it waits for in any end state without gating on them
    /// (read only through `TASK.status`).
    public var anyEndDeps: [Int: [Int]] = [:]
    /// Per slot of a dynamic fan-out (`for_each` over a task's output with `max_items`):
    /// the list it reads and its index (DynamicFanout.swift).
    public var dynamicSlot: [Int: DynamicSlot] = [:]
    /// Per workflow scope: the IR workflow object, the join task that opened it (-1 for
    /// the root) and the enclosing scope (-1 for the root).
    public var workflowJSON: [JSONValue] = []
    public var workflowTask: [Int] = []
    public var workflowParent: [Int] = []
    /// Per workflow scope: the input values known at plan time (the run's inputs for the
    /// root; `with` values and defaults that are constants for nested scopes), sorted by name.
    public var workflowInputs: [[(String, JSONValue)]] = []
    /// CSR: `workflowIRStart[w] + i` indexes `irInstanceStart` for IR task `i` of scope
    /// `w`; `irInstanceStart[k]..<irInstanceStart[k+1]` indexes `irInstances` (plan ids).
    public var workflowIRStart: [Int] = []
    public var irInstanceStart: [Int] = []
    public var irInstances: [Int] = []
    /// Per workflow output: the scope that declares it (0 = root) and its name there
    /// (`outputNames` are `<workflow task>.<name>` for nested outputs). Task results are
    /// read by the local name.
    public var outputWorkflow: [Int] = []
    public var outputLocalName: [String] = []
    /// Per agent: its IR object (agents of nested workflows are merged by name; a nested
    /// agent whose definition differs from a same-named one is `<workflow task>/<name>`).
    public var agentJSON: [JSONValue] = []
}

// MARK: - Events and commands

/// Something that happened, as the shell saw it. Every event is journaled (one canonical
/// JSON line); folding the events reproduces the state and the commands.
public enum Event: Sendable, Equatable {
    /// First event of every journal: the run's identity, seed, plan hash and options;
    /// `unhealthy`: agents whose first health check failed before the run started (they get
    /// no work until an `agent_health` says they recovered; journalled only when not empty);
    /// `prior`: what a `learned` selector starts from, fitted by the shell from the
    /// store's earlier runs (`LearnedPrior`); journalled so replay chooses the same agents.
    case runStarted(runID: String, seed: UInt64, planHash: String, tagLimits: [String: Int], atMs: Millis,
                    unhealthy: [Int] = [], prior: LearnedPrior? = nil)
    /// An attempt finished well; `outputs` is an object keyed by workflow output name
    /// (only the outputs the task `writes` are read). Cost and tokens are charged.
    case taskSucceeded(task: Int, attempt: Int, outputs: JSONValue, costMicros: Int64, tokens: Int64, atMs: Millis)
    /// An attempt failed with an error class (`transient`, `agent_error`, a user class…).
    /// `retryAfterMs`: how long the server asked to wait (`Retry-After` on a 429/503/529,
    /// converted by the driver); a retry is not due before it (docs/RUNTIME.md, "Retries").
    case taskFailed(task: Int, attempt: Int, errorClass: String, message: String, costMicros: Int64, tokens: Int64, atMs: Millis,
                    retryAfterMs: Int64? = nil)
    /// A timer set by `Command.setTimer` fired.
    case timerFired(TimerID, atMs: Millis)
    /// A principal answered an approval (an `approve` task or an escalated conflict).
    /// The shell checks the principal's role before sending it.
    case approvalGiven(task: Int, principal: String, approved: Bool, atMs: Millis)
    /// A health check changed an agent's health.
    case agentHealth(agent: Int, healthy: Bool, atMs: Millis)
    /// The shell refused an approval answer (the principal may not approve, a policy
    /// denied it…); journaled for audit only: changes nothing but `seq` and `nowMs`.
    case approvalRefused(task: Int, principal: String, reason: String, atMs: Millis)
    /// The user cancelled the run.
    case cancelRequested(reason: String, atMs: Millis)
    /// The shell restarted after a crash: in-flight attempts are dispatched again with the
    /// same idempotency key and their timers set again.
    case resumed(atMs: Millis, restartsAttempts: Bool = false)
    /// The run continues on a compatible new plan (`RunState.migrated(to:)`): `fromHash`
    /// is the plan the run was on, `toHash` the plan it is on now. Legal only right after
    /// the migration; changes nothing but `seq` and `nowMs`, then re-arms the live timers
    /// under the new plan's ids and runs a scheduling pass.
    case planUpgraded(fromHash: String, toHash: String, atMs: Millis)
    /// `ezrun` was asked to stop (SIGINT/SIGTERM, named in `signal`): nothing new is
    /// dispatched until `resumed`; with `drain` the attempts in flight finish and their
    /// results are folded, else they are ended and stay open for the resume to offer again.
    case interrupted(signal: String, drain: Bool, atMs: Millis)
    /// An operator re-drove a dead-lettered task (`ezrun dlq retry`, through the inbox):
    /// it is ready again with a fresh retry rule, and the tasks skipped because of it
    /// wait again (docs/RUNTIME.md, "Dead letters"). A finished run runs again. A no-op
    /// when the task is not dead-lettered, the run was stopped (budget, deadline,
    /// cancel) or it is past its deadline or a time budget.
    case taskRedriven(task: Int, principal: String, atMs: Millis)
    /// The run was created on the fallback backend because the primary (`primary`,
    /// its URL without a password) could not be reached (`reason`, one line): written
    /// right after `runStarted`, for audit only; changes nothing but `seq` and `nowMs`
    /// (docs/DISTRIBUTED.md, "Failover").
    case backendFallback(primary: String, reason: String, atMs: Millis)

    /// The event's timestamp.
    public var atMs: Millis {
        switch self {
        case .runStarted(_, _, _, _, let t, _, _), .taskSucceeded(_, _, _, _, _, let t), .taskFailed(_, _, _, _, _, _, let t, _),
             .timerFired(_, let t), .approvalGiven(_, _, _, let t), .agentHealth(_, _, let t),
             .cancelRequested(_, let t), .resumed(let t, _), .approvalRefused(_, _, _, let t), .planUpgraded(_, _, let t),
             .interrupted(_, _, let t), .taskRedriven(_, _, let t), .backendFallback(_, _, let t):
            t
        }
    }
}

/// Why an approval is requested.
public enum ApprovalReason: Sendable, Equatable {
    /// An `approve` task is ready.
    case gate
    /// A write to an output whose `on_conflict` is `escalate` conflicts with an earlier one.
    case conflict(output: String)
}

/// The run's outcome.
public enum Verdict: String, Sendable, Equatable {
    case success, failed, budgetExceeded = "budget_exceeded", deadlineExceeded = "deadline_exceeded"
    case waitingForApproval = "waiting_for_approval", cancelled

    /// The process exit code `ezrun` uses (DESIGN.md §4).
    public var exitCode: Int32 {
        switch self {
        case .success: 0
        case .failed, .cancelled: 1
        case .budgetExceeded, .deadlineExceeded: 3
        case .waitingForApproval: 4
        }
    }
}

/// One attempt as it ended, for the dead-letter record and the selector's statistics.
public struct AttemptRecord: Sendable, Equatable {
    public var attempt: Int
    /// -1 for the shell's local executor.
    public var agent: Int
    /// Error class, or nil for a success.
    public var errorClass: String?
    public var message: String
    public var startedAtMs: Millis
    public var endedAtMs: Millis
    public var costMicros: Int64
    public var tokens: Int64

    public init(attempt: Int, agent: Int, errorClass: String?, message: String, startedAtMs: Millis, endedAtMs: Millis,
                costMicros: Int64, tokens: Int64) {
        self.attempt = attempt
        self.agent = agent
        self.errorClass = errorClass
        self.message = message
        self.startedAtMs = startedAtMs
        self.endedAtMs = endedAtMs
        self.costMicros = costMicros
        self.tokens = tokens
    }
}

/// Something the shell must do. Commands are a pure function of the journal so far.
public enum Command: Sendable, Equatable {
    /// Run attempt `attempt` of `task` on `agent` (-1: the shell's local executor).
    /// `workflow` tasks are joins (their nested tasks are plan tasks) and never dispatched. `idempotencyKey` (`<run>/<task name>`) is the
    /// same for every attempt, so a driver can deduplicate work after a resume.
    /// `tokenCap`: for a `prompt` task under a token cap (its prompt's bound plus its
    /// `max_tokens`, a token budget, a money budget over an agent that prices tokens), the
    /// tokens the attempt may be charged in all, prompt and completion (the core's
    /// reservation; docs/DRIVERS.md).
    case dispatch(task: Int, attempt: Int, agent: Int, idempotencyKey: String, tokenCap: Int64? = nil)
    /// Send `timerFired(id)` at `atMs`.
    case setTimer(TimerID, atMs: Millis)
    /// Stop a running attempt (timeout, deadline, cancel); its late result is ignored.
    case cancel(task: Int, attempt: Int)
    /// Ask for an approval; the answer comes as `approvalGiven` (or the gate's timeout
    /// fires). `text`: a gate's `approve:` question rendered from the state's (redacted)
    /// values, journalled so the approver sees what was asked; nil for a conflict, and
    /// in journals written before it existed.
    case requestApproval(task: Int, reason: ApprovalReason, text: String? = nil)
    /// `task` exhausted its rule; `history` has every attempt.
    case deadLetter(task: Int, history: [AttemptRecord])
    /// The run ended with `verdict` (`waitingForApproval` is not final: a later
    /// `approvalGiven` continues the run).
    case finishRun(Verdict)
}

// MARK: - State

/// A task's lifecycle state. Legal transitions are listed in Core.swift and docs/RUNTIME.md.
public enum TaskState: Sendable, Equatable, CustomStringConvertible {
    case waiting
    case ready
    case running(attempt: Int, agent: Int)
    case backoff(attempt: Int, untilMs: Millis)
    case awaitingApproval
    case succeeded
    case failed
    case skipped
    case deadLettered
    case cancelled

    /// Succeeded, failed, skipped, dead-lettered or cancelled: never changes again.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .skipped, .deadLettered, .cancelled: true
        case .waiting, .ready, .running, .backoff, .awaitingApproval: false
        }
    }

    /// The stable snake_case name (no attempt numbers), for reports, metrics and the CLI.
    public var name: String {
        switch self {
        case .waiting: "waiting"
        case .ready: "ready"
        case .running: "running"
        case .backoff: "backoff"
        case .awaitingApproval: "awaiting_approval"
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .skipped: "skipped"
        case .deadLettered: "dead_lettered"
        case .cancelled: "cancelled"
        }
    }

    /// The state as a person reads it: the agent by its name (`running(attempt: 2, agent: `sh`)`,
    /// `local` for the runner's own executor), never its id.
    public func text(agents: [String]) -> String {
        guard case .running(let a, let g) = self else { return description }
        return "running(attempt: \(a), agent: \(g >= 0 && g < agents.count ? "`\(agents[g])`" : "local"))"
    }

    public var description: String {
        switch self {
        case .running(let a, let g): "running(attempt: \(a), agent: \(g))"
        case .backoff(let a, let u): "backoff(attempt: \(a), until: \(u))"
        case .waiting, .ready, .awaitingApproval, .succeeded, .failed, .skipped, .deadLettered, .cancelled: name
        }
    }
}

/// An agent's circuit-breaker position (maintained by a `BreakerPolicy`).
public enum BreakerState: Sendable, Equatable {
    case closed
    /// No new attempts before `untilMs`.
    case open(untilMs: Millis)
    /// Cool-down over: a probe attempt may go.
    case halfOpen
}

/// Per-agent health and statistics the core keeps and selectors read.
public struct AgentHealth: Sendable, Equatable {
    /// Set by `Event.agentHealth`; an unhealthy agent gets nothing.
    public var healthy: Bool = true
    public var breaker: BreakerState = .closed
    public var consecutiveFailures: Int = 0
    public var successes: Int = 0
    public var failures: Int = 0
    /// Sum of ended attempts' durations, for mean latency.
    public var totalLatencyMs: Int64 = 0
    public var totalCostMicros: Int64 = 0
    /// The task whose attempt is the half-open probe (-1 none). The core sets it when it
    /// dispatches to a half-open agent and admits no other attempt to that agent until
    /// the probe ends; a policy may read it to tell the probe's result from late ones.
    public var probeTask: Int = -1
    public init() {}
}

/// An ended attempt as a `BreakerPolicy` sees it.
public struct AttemptOutcome: Sendable, Equatable {
    public var task: Int
    public var agent: Int
    /// nil for a success.
    public var errorClass: String?
    public var latencyMs: Int64
    public var costMicros: Int64
    public init(task: Int, agent: Int, errorClass: String?, latencyMs: Int64, costMicros: Int64) {
        self.task = task
        self.agent = agent
        self.errorClass = errorClass
        self.latencyMs = latencyMs
        self.costMicros = costMicros
    }
}

/// What a selector may plan against besides the agents: the run's clock, deadline and
/// budgets, as the core sees them when it chooses an agent for one task.
public struct SelectorLimits: Sendable, Equatable {
    /// When `runStarted` happened.
    public var runStartedAtMs: Millis = 0
    /// `runStartedAtMs + deadline_ms`, -1 = no deadline.
    public var deadlineAtMs: Millis = -1
    /// The workflow's money and tokens charged by results and reserved by running attempts.
    public var chargedMicros: Int64 = 0
    public var chargedTokens: Int64 = 0
    public var reservedMicros: Int64 = 0
    public var reservedTokens: Int64 = 0
    /// The workflow budget's limits, -1 = none.
    public var budgetMoneyMicros: Int64 = -1
    public var budgetTokens: Int64 = -1
    /// The tightest room left for the task being placed over the workflow and every
    /// enclosing group/task budget: `limit − charged − reserved` (≥ 0), -1 = unlimited.
    public var remainingMoneyMicros: Int64 = -1
    public var remainingTokens: Int64 = -1
    /// The earliest instant the run or an enclosing budget scope is stopped (deadline,
    /// workflow `time_ms`, started groups' `time_ms`), -1 = none.
    public var stopAtMs: Millis = -1
    public init() {}
}

/// The plan behind one reference: a `Plan` is ~100 arrays, and copying it into every
/// `SelectorView` (one per dispatch) would cost a retain and a release per array.
final class PlanBox: Sendable {
    let plan: Plan
    init(_ plan: Plan) { self.plan = plan }
}

/// A read-only view of the agents for a selector: load, limits, cost model, health,
/// and the run's clock and remaining budget for the task (`limits`).
public struct SelectorView: Sendable {
    let box: PlanBox
    var plan: Plan { box.plan }
    let load: [Int]
    let health: [AgentHealth]
    /// The time of the event being handled.
    public let nowMs: Millis
    /// Deadline and budget room for the task being placed.
    public let limits: SelectorLimits
    /// The model fitted from earlier runs that `run_started` journalled (`RunState.learned`),
    /// nil in a run without one: a `learned` selector prefers it to its own predictor.
    public let learned: PerformancePredictor?

    init(plan: Plan, load: [Int], health: [AgentHealth], nowMs: Millis, limits: SelectorLimits = SelectorLimits()) {
        self.init(box: PlanBox(plan), load: load, health: health, nowMs: nowMs, limits: limits)
    }

    init(box: PlanBox, load: [Int], health: [AgentHealth], nowMs: Millis, limits: SelectorLimits,
         learned: PerformancePredictor? = nil) {
        self.box = box
        self.load = load
        self.health = health
        self.nowMs = nowMs
        self.limits = limits
        self.learned = learned
    }

    public var agentCount: Int { plan.agentNames.count }
    public func name(_ agent: Int) -> String { plan.agentNames[agent] }
    /// Attempts running on `agent` now.
    public func load(_ agent: Int) -> Int { load[agent] }
    /// The agent's `concurrency` (bulkhead).
    public func concurrency(_ agent: Int) -> Int { plan.agentConcurrency[agent] }
    public func hasCapacity(_ agent: Int) -> Bool { load[agent] < plan.agentConcurrency[agent] }
    public func costPerCallMicros(_ agent: Int) -> Int64 { plan.agentCostPerCallMicros[agent] }
    public func costPer1kTokensMicros(_ agent: Int) -> Int64 { plan.agentCostPer1kTokensMicros[agent] }
    public func costPerSecondMicros(_ agent: Int) -> Int64 { plan.agentCostPerSecondMicros[agent] }
    public func health(_ agent: Int) -> AgentHealth { health[agent] }
    /// The worst-case cost of one attempt of `task` on `agent` (what budgets reserve).
    public func worstCostMicros(task: Int, agent: Int) -> Int64 { plan.worstCostMicros(task: task, agent: agent) }
    public func taskName(_ task: Int) -> String { plan.taskNames[task] }
    public func taskTimeoutMs(_ task: Int) -> Int64 { plan.timeoutMs[task] }

    /// When `runStarted` happened.
    public var runStartedAtMs: Millis { limits.runStartedAtMs }
    /// The workflow deadline as an instant, -1 = none.
    public var deadlineAtMs: Millis { limits.deadlineAtMs }
    /// The workflow's money and tokens charged so far and reserved by running attempts,
    /// and its limits (-1 = none).
    public var chargedMicros: Int64 { limits.chargedMicros }
    public var chargedTokens: Int64 { limits.chargedTokens }
    public var reservedMicros: Int64 { limits.reservedMicros }
    public var reservedTokens: Int64 { limits.reservedTokens }
    public var budgetMoneyMicros: Int64 { limits.budgetMoneyMicros }
    public var budgetTokens: Int64 { limits.budgetTokens }
    /// Milliseconds until the run or an enclosing budget scope stops (nil: never).
    public var timeLeftMs: Int64? { limits.stopAtMs >= 0 ? max(0, limits.stopAtMs - nowMs) : nil }
    /// Money the task may still plan on (nil: unlimited); see `SelectorLimits.remainingMoneyMicros`.
    public var remainingMoneyMicros: Int64? { limits.remainingMoneyMicros >= 0 ? limits.remainingMoneyMicros : nil }
    public var remainingTokens: Int64? { limits.remainingTokens >= 0 ? limits.remainingTokens : nil }
    /// Whether the worst case of one attempt of `task` on `agent` fits the remaining
    /// money and tokens (what the core checks before dispatching; a misfit drains the run).
    public func worstCaseFits(task: Int, agent: Int) -> Bool {
        if let m = remainingMoneyMicros, plan.worstCostMicros(task: task, agent: agent) > m { return false }
        if let k = remainingTokens, plan.worstTokens(task: task) > k { return false }
        return true
    }
}

/// Chooses the agent for an attempt. `candidates` are the task's agents that are healthy,
/// admitted by the breaker and have free capacity, in id order (never empty when called).
/// Return one of them, or nil to leave the task ready for now. Must be a pure function
/// of its arguments: draw randomness only from `rng` (it is journaled state).
public protocol AgentSelector: Sendable {
    func choose(task: Int, candidates: [Int], view: SelectorView, rng: inout SeededRandom) -> Int?
}

/// Updates an agent's breaker from attempt outcomes and decides admission. Pure: state
/// lives in `AgentHealth` inside `RunState`.
public protocol BreakerPolicy: Sendable {
    /// Called once per ended attempt on a real agent (not for stale results).
    func record(_ outcome: AttemptOutcome, nowMs: Millis, health: inout AgentHealth)
    /// Whether `agent` may take a new attempt now; may move `open` → `halfOpen`.
    func admit(agent: Int, nowMs: Millis, health: inout AgentHealth) -> Bool
}

/// The code half of a run's configuration (the data half is in `runStarted`): which
/// selector and breaker the core calls. Replay must use the same environment.
public struct RunEnvironment: Sendable {
    public var selector: any AgentSelector
    public var breaker: any BreakerPolicy
    public init(selector: any AgentSelector = FirstFitSelector(), breaker: any BreakerPolicy = NoBreaker()) {
        self.selector = selector
        self.breaker = breaker
    }
}

/// Run-level phase.
public enum RunPhase: Sendable, Equatable {
    /// Before `runStarted`.
    case notStarted
    case running
    /// No new dispatches; finish with the verdict when the running attempts end.
    case draining(Verdict)
    case finished(Verdict)
}

/// One recorded state change of a task, for illegal-transition reports.
public struct TransitionRecord: Sendable, Equatable, CustomStringConvertible {
    /// Index of the event in the journal.
    public var seq: Int
    public var from: TaskState
    public var to: TaskState
    public var description: String { "#\(seq) \(from) -> \(to)" }

    /// `description` with agents named (`TaskState.text(agents:)`).
    public func text(agents: [String]) -> String { "#\(seq) \(from.text(agents: agents)) -> \(to.text(agents: agents))" }
}

/// An event that is not legal in the current state: a bug in the shell or a journal
/// that does not belong to this plan. The state is left unchanged.
public struct TransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable code: `R0001` unknown task/agent, `R0002` illegal task transition,
    /// `R0003` event before `runStarted` or a second `runStarted`, `R0004` bad values.
    public var code: String
    public var message: String
    public var task: Int?
    public var history: [TransitionRecord]
    /// The plan's agent names, so the history a person reads names agents, never their ids.
    public var agents: [String]

    public init(code: String, message: String, task: Int?, history: [TransitionRecord], agents: [String] = []) {
        self.code = code
        self.message = message
        self.task = task
        self.history = history
        self.agents = agents
    }

    public var description: String {
        var s = "error[\(code)]: \(message)"
        if !history.isEmpty { s += "\n  history: " + history.map { $0.text(agents: agents) }.joined(separator: ", ") }
        return s
    }
}

/// Everything the core knows about a run: a value, rebuilt exactly by folding the journal.
/// Mutated only by `Core.step`. Fields are readable for shells, reports and tests.
public struct RunState: Sendable {
    public let plan: Plan
    /// The same plan behind one reference, for the selector views.
    let planBox: PlanBox
    public let environment: RunEnvironment
    public internal(set) var runID: String = ""
    public internal(set) var phase: RunPhase = .notStarted
    public internal(set) var rng: SeededRandom = SeededRandom(seed: 0)
    /// Time of the last event.
    public internal(set) var nowMs: Millis = 0
    public internal(set) var startedAtMs: Millis = 0
    /// Number of events folded so far (the next event's journal index).
    public internal(set) var seq: Int = 0
    public internal(set) var tasks: [TaskState]
    /// Attempts started per task (the current or last attempt number).
    public internal(set) var attempts: [Int]
    /// Ended attempts per task, oldest first.
    public internal(set) var history: [[AttemptRecord]]
    /// Attempts started before the task's last re-drive (`taskRedriven`): its retry rule
    /// counts only the attempts after it. Attempt numbers keep growing across re-drives.
    public internal(set) var attemptBase: [Int]
    /// The `learned` selector's model from `run_started`'s prior (nil: none journalled).
    public internal(set) var learned: PerformancePredictor? = nil
    /// Last state changes per task (bounded by `Core.historyMax`).
    public internal(set) var transitions: [[TransitionRecord]]
    /// Attempts running per agent.
    public internal(set) var agentLoad: [Int]
    public internal(set) var agentHealth: [AgentHealth]
    /// Attempts running per tag id, and the limit per tag id (-1 none).
    public internal(set) var tagLoad: [Int]
    public internal(set) var tagLimit: [Int]
    public internal(set) var runningCount: Int = 0
    /// Money and tokens charged from results so far.
    public internal(set) var chargedMicros: Int64 = 0
    public internal(set) var chargedTokens: Int64 = 0
    /// Worst-case money and tokens reserved by running attempts.
    public internal(set) var reservedMicros: Int64 = 0
    public internal(set) var reservedTokens: Int64 = 0
    /// Workflow output values by output id (nil: not written yet) and who wrote them.
    public internal(set) var outputs: [JSONValue?]
    public internal(set) var outputWriter: [Int]
    /// The outputs object of each task's last accepted success (`taskSucceeded` of a live
    /// attempt), as journalled; nil before one, and for an empty object. Read them with
    /// `readOutputs(ofTask:)` (which also answers for joins); carried across plan
    /// upgrades by task name.
    public internal(set) var taskOutputs: [JSONValue?]
    /// Escalated conflicts waiting for approval: task → its pending outputs object.
    public internal(set) var pendingConflict: [Int: JSONValue]
    /// For a task whose `catch: task` fallback was started: the fallback's id (else -1).
    public internal(set) var substitute: [Int]
    /// Reverse of `substitute`: the failed tasks waiting on each fallback, so settling a
    /// fallback does not scan every task.
    var substituteWaiters: [Int: [Int]] = [:]
    /// The task a fallback task stands in for (else -1).
    public internal(set) var standsInFor: [Int]
    /// Start time of the running attempt, per task.
    public internal(set) var attemptStartMs: [Millis]
    /// Agent of the running attempt's reservation, per task.
    public internal(set) var reservedCost: [Int64]
    public internal(set) var reservedTok: [Int64]
    /// Previous backoff delay per task (decorrelated jitter).
    public internal(set) var prevDelayMs: [Int64]
    /// True after a task's `catch: agent` attempt was used.
    public internal(set) var usedCatchAgent: [Bool]
    /// Ready tasks in dispatch order (sorted by `plan.rank`).
    public internal(set) var readyQueue: [Int] = []
    /// Unfinished dependencies per task.
    public internal(set) var pendingDeps: [Int]
    /// The main graph's verdict once it ended and the `finally` tasks were opened (the
    /// run is then still `running`); nil before, and in a run without them.
    public internal(set) var finishing: Verdict? = nil
    /// The main graph's verdict once it settled without success and its compensations
    /// began (they run before `finally`); nil before, and in a run that needs none.
    public internal(set) var compensating: Verdict? = nil
    /// The compensations still to run, in order; the first one runs now (`undoCurrent`).
    public internal(set) var undoQueue: [Int] = []
    /// The compensation running now (opened by `nextUndo`), -1 for none.
    public internal(set) var undoCurrent: Int = -1
    /// Per task: why it was skipped (nil: not skipped, or skipped because the run ended).
    public internal(set) var skipReason: [SkipReason?]
    /// Per task: dependencies that ended failed / skipped so far (a `run_on: failure` gate).
    public internal(set) var depFailed: [Int]
    public internal(set) var depSkipped: [Int]
    /// Whether `finishRun(.waitingForApproval)` was already emitted for the current pause.
    public internal(set) var announcedWaiting = false
    /// Escalated approval gates (`on_timeout: escalate` fired): task → when the
    /// escalation was asked, which starts its second timeout.
    public internal(set) var escalatedAtMs: [Int: Millis] = [:]
    /// Between `interrupted` and the next `resumed`: the runner is stopping, so nothing is
    /// dispatched and ready tasks are not taken for stalled.
    public internal(set) var interrupted = false
    /// The latest `wake` timer set, to avoid setting it twice.
    public internal(set) var wakeAtMs: Millis = -1
    /// Since when ready tasks wait only for an unhealthy agent to recover (-1: they do not):
    /// without a deadline the wait ends `Core.unhealthyWaitMs` later (docs/RUNTIME.md).
    public internal(set) var unhealthySinceMs: Millis = -1
    /// Attempts the core stopped (timeout, cancel) whose late result may still arrive.
    public internal(set) var abandoned: [[Int]]
    /// Whether a task's outcome has been passed on to its dependents (and to the tasks
    /// it stands in for).
    public internal(set) var finalized: [Bool]
    /// The task whose worst case could never fit the budget (drain reason), else -1.
    public internal(set) var refusedTask: Int = -1
    /// The budget that stopped the run: a group id (refusal, overrun or group `time_ms`),
    /// -1 = the workflow's budget (or no budget stop).
    public internal(set) var refusedGroup: Int = -1
    /// Per group: money and tokens charged by results, reserved by running attempts, and
    /// the time of the first dispatch inside it (-1: none yet; starts its `time_ms`).
    public internal(set) var groupChargedMicros: [Int64]
    public internal(set) var groupChargedTokens: [Int64]
    public internal(set) var groupReservedMicros: [Int64]
    public internal(set) var groupReservedTokens: [Int64]
    public internal(set) var groupStartedAtMs: [Millis]
    /// The hash of the plan the run was on before its last migration (`migrated(to:)`),
    /// nil if it never changed plans.
    public internal(set) var previousPlanHash: String? = nil
    /// True between `migrated(to:)` and the `planUpgraded` event that journals it: no
    /// other event is legal meanwhile.
    public internal(set) var upgradePending = false
    /// The run's `tag_limits` by name, as `runStarted` gave them (a migration applies
    /// them to tags the new plan adds).
    var runTagLimits: [String: Int] = [:]

    /// A fresh state for `plan`; the run begins with `Event.runStarted`.
    public init(plan: Plan, environment: RunEnvironment = RunEnvironment()) {
        self.plan = plan
        self.planBox = PlanBox(plan)
        self.environment = environment
        let n = plan.taskCount
        tasks = Array(repeating: .waiting, count: n)
        attempts = Array(repeating: 0, count: n)
        history = Array(repeating: [], count: n)
        attemptBase = Array(repeating: 0, count: n)
        transitions = Array(repeating: [], count: n)
        agentLoad = Array(repeating: 0, count: plan.agentNames.count)
        agentHealth = Array(repeating: AgentHealth(), count: plan.agentNames.count)
        tagLoad = Array(repeating: 0, count: plan.tagNames.count)
        tagLimit = Array(repeating: -1, count: plan.tagNames.count)
        outputs = Array(repeating: nil, count: plan.outputNames.count)
        outputWriter = Array(repeating: -1, count: plan.outputNames.count)
        precondition(plan.nodeKind.count == n, "a plan's node kinds are derived by `fillDefaults()`")
        taskOutputs = Array(repeating: nil, count: n)
        pendingConflict = [:]
        substitute = Array(repeating: -1, count: n)
        standsInFor = Array(repeating: -1, count: n)
        attemptStartMs = Array(repeating: 0, count: n)
        reservedCost = Array(repeating: 0, count: n)
        reservedTok = Array(repeating: 0, count: n)
        prevDelayMs = Array(repeating: 0, count: n)
        usedCatchAgent = Array(repeating: false, count: n)
        abandoned = Array(repeating: [], count: n)
        finalized = Array(repeating: false, count: n)
        pendingDeps = (0..<n).map { plan.depStart[$0 + 1] - plan.depStart[$0] }
        skipReason = Array(repeating: nil, count: n)
        depFailed = Array(repeating: 0, count: n)
        depSkipped = depFailed
        let g = plan.groupNames.count
        groupChargedMicros = Array(repeating: 0, count: g)
        groupChargedTokens = Array(repeating: 0, count: g)
        groupReservedMicros = Array(repeating: 0, count: g)
        groupReservedTokens = Array(repeating: 0, count: g)
        groupStartedAtMs = Array(repeating: -1, count: g)
    }

    /// The verdict once the run finished, or `waitingForApproval` while it is paused for
    /// approval (reports written at the pause say so, exit code 4), else nil.
    public var verdict: Verdict? {
        if case .finished(let v) = phase { return v }
        return pausedForApproval ? .waitingForApproval : nil
    }

    /// Only approvals can move the run on: the core announced the pause
    /// (`finishRun(.waitingForApproval)`) and nothing has happened since.
    public var pausedForApproval: Bool { phase == .running && announcedWaiting && runningCount == 0 }
}
