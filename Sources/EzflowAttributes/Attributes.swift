/// Every attribute of every block kind, declared once. The checker's `Schema`, its range
/// checks, lowering's IR keys, the IR validator and docs/ATTRIBUTES.md all read this
/// table (grammar/ezflow.ebnf gives the shape of blocks, not their attributes).
public enum AttributeTable {
    /// Block kinds in reference order, each with its attributes in declaration order
    /// (the order "`task` takes: ..." lists them).
    public static let blocks: [(kind: String, attributes: [AttrFact])] = [
        ("workflow", workflow), ("task", task), ("matrix", matrix), ("group", group), ("repeat", repeatBlock), ("agent", agent), ("role", role), ("policy", policy),
        ("secret", secret), ("retry", retry), ("budget", budget), ("input", input), ("output", output), ("error", error),
        ("enum", []), ("type", []), ("finally", []),
    ]

    static let hour: Int64 = 3_600_000

    /// At most this many `stop` sequences (OpenAI's limit; Anthropic takes more, the
    /// smaller holds for both formats).
    public static let stopSequencesMax = 4

    static let workflow: [AttrFact] = [
        .init("workflow", "deadline", .duration, min: 1, ir: "deadline_ms", "the whole run must finish within this time"),
        .init("workflow", "agents", .refs(["agent"]), "imported agents added to the pool this workflow picks from"),
        description("workflow"),
        .init("workflow", "selector", .word(["cheapest", "fastest", "learned", "auction"]), ir: "selector",
              "how an agent is picked among a task's candidates (default: the first free one by name)"),
        .init("workflow", "max_parallel", .int, min: 1, ir: "max_parallel", "at most this many tasks run at once (default: no limit)"),
    ]

    static let task: [AttrFact] = [
        .init("task", "run", .custom("a command line (string)"), ir: "template", "action: run a command"),
        .init("task", "prompt", .custom("a prompt (string)"), ir: "template", "action: ask a language model"),
        .init("task", "call", .custom("a URL (string)"), ir: "template", "action: call an HTTP endpoint"),
        .init("task", "approve", .custom("a question (string)"), ir: "template", "action: wait for a person to approve"),
        .init("task", "workflow", .ref(["workflow"]), ir: "workflow", "action: run an imported workflow"),
        .init("task", "with", .custom("a record of the nested workflow's inputs"), ir: "with", "inputs passed to a `workflow` action"),
        .init("task", "agent", .ref(["agent"]), ir: "agent", "pin the task to one agent"),
        .init("task", "needs", .strings, ir: "needs", "capabilities a candidate agent must have"),
        .init("task", "role", .ref(["role"]), ir: "role", "the role the task runs as (default: its group's)"),
        .init("task", "timeout", .duration, min: 1, ir: "timeout_ms", "each attempt is stopped after this long"),
        .init("task", "retry", .ref(["retry"]), ir: "retry", "the retry rule (or nested `retry { }` blocks, one per rule: a failure goes to the first that retries its class)"),
        .init("task", "priority", .int, min: 0, max: 9, default: "0", ir: "priority",
              "among ready tasks, higher runs first (default: the enclosing group's, else 0)", rangeHelp: "9 runs first"),
        .init("task", "tags", .strings, ir: "tags", "labels for reports and policies (groups' tags are added)"),
        .init("task", "after", .custom("a list of task or group names"), ir: "deps", "run only after these tasks finish"),
        .init("task", "writes", .custom("a list of workflow output names"), ir: "writes", "workflow outputs this task sets"),
        .init("task", "secrets", .refs(["secret"]), ir: "secrets", "secrets the task may read"),
        .init("task", "for_each", .custom("a list expression"), ir: "for_each", "run once per item (`item` names it)"),
        .init("task", "max_items", .int, min: 1, max: 1024, ir: "max_items",
              "the most items a `for_each` over a task's output may have: that many slots are planned, a longer list fails the task",
              rangeHelp: "1024 is Airflow's `max_map_length` default"),
        .init("task", "env", .custom("a map of strings"), ir: "env", "environment variables of a `run` action"),
        .init("task", "approvers", .refs(["role"]), ir: "approvers", action: "approve", "roles that may approve an `approve` task"),
        .init("task", "self_approval", .word(["refused", "allowed"]), default: "refused", ir: "self_approval", action: "approve",
              "whether the principal who started the run may approve this gate"),
        .init("task", "on_timeout", .word(["reject", "approve", "fail", "escalate"]), default: "reject", ir: "on_timeout", action: "approve",
              "what an `approve` task does when its `timeout` passes unanswered: reject (a no), approve, fail (class `timeout`), or escalate to `escalate_to`"),
        .init("task", "escalate_to", .refs(["role"]), ir: "escalate_to", action: "approve",
              "the roles asked once an `on_timeout: escalate` gate timed out (they replace `approvers`)"),
        .init("task", "escalate_timeout", .duration, min: 1, ir: "escalate_timeout_ms", action: "approve",
              "how long the escalated gate waits before it is rejected (default: its `timeout`)"),
        .init("task", "model", .string, ir: "model", "the model a `prompt` action asks for"),
        .init("task", "max_tokens", .tokens, min: 0, ir: "max_tokens", "at most this many tokens per attempt"),
        .init("task", "system", .custom("a prompt (string)"), ir: "system", action: "prompt",
              "the system prompt of a `prompt` action (interpolations allowed, rendered like the prompt)"),
        .init("task", "messages", .custom("a list of `{role, content}` records"), ir: "messages", action: "prompt",
              "the conversation before the prompt (roles `user` and `assistant`), e.g. `draft.outputs.messages`"),
        .init("task", "temperature", .float, min: 0, max: 2_000_000, ir: "temperature_ppm", action: "prompt",
              "sampling temperature passed to the model (default: the server's)"),
        .init("task", "stop", .strings, ir: "stop", action: "prompt", "at most 4 sequences that end the model's answer"),
        .init("task", "max_cost", .money, min: 0, ir: "max_cost_micros", "at most this much money per attempt"),
        .init("task", "when", .custom("a bool expression"), ir: "when",
              "run only if this holds once the task's gate opens; false skips it (reason `condition`)"),
        .init("task", "run_on", .word(["success", "failure", "always"]), default: "success", ir: "run_on",
              "which outcomes of its dependencies let the task run: all succeeded, at least one failed, or any (not after a cancel)"),
        .init("task", "allow_failure", .bool, default: "false", ir: "allow_failure",
              "a failure of this task is shown `failed (allowed)` and fails neither the run nor its dependents' gates"),
        .init("task", "compensate", .custom("a task name"), ir: "compensate",
              "the task that undoes this one when the run fails after it succeeded (a saga's compensation, docs/RUNTIME.md)"),
        description("task"),
    ]

    /// A task's `matrix { }` block. Every other attribute is an axis: `name: [values]`.
    static let matrix: [AttrFact] = [
        .init("matrix", "exclude", .custom("a list of records binding some axes"), ir: "for_each",
              "drop every cell whose values match all the keys of an entry"),
        .init("matrix", "include", .custom("a list of records binding every axis"), ir: "for_each",
              "add one cell per entry, after `exclude` (every axis must be given)"),
        .init("matrix", "fail_fast", .custom("a bool"), default: "true", ir: "matrix.fail_fast",
              "the first failed cell cancels the matrix's other cells"),
        .init("matrix", "max_parallel", .custom("a whole number, at least 1"), ir: "matrix.max_parallel",
              "at most this many cells of the matrix run at once (default: no limit of its own)"),
    ]

    /// A group's `repeat { }` block: the group is a bounded loop (docs/RUNTIME.md "Loops").
    static let repeatBlock: [AttrFact] = [
        .init("repeat", "max", .int, min: 1, max: 100, ir: "loop.max",
              "at most this many iterations (required, a constant: the budget and deadline proofs count every one)"),
        .init("repeat", "until", .custom("a bool expression over the body's outputs"), ir: "loop.until",
              "evaluated after each iteration; once it holds, the loop ends and the rest are skipped (required)"),
        .init("repeat", "on_exhausted", .word(["fail", "succeed"]), default: "fail", ir: "loop.on_exhausted",
              "what the loop does when `until` still does not hold after `max` iterations: fail (class `loop_exhausted`) or succeed"),
    ]

    static let group: [AttrFact] = [
        .init("group", "role", .ref(["role"]), ir: "role", "the role of tasks inside that name none"),
        .init("group", "tags", .strings, ir: "tags", "tags added to every task inside"),
        .init("group", "after", .custom("a list of task or group names"), "every task inside runs after these"),
        .init("group", "priority", .int, min: 0, max: 9, "priority of tasks inside that give none (innermost group wins)",
              rangeHelp: "9 runs first"),
        .init("group", "when", .custom("a bool expression"), "every task inside runs only if this holds (and its own `when`)"),
        description("group"),
    ]

    static let agent: [AttrFact] = [
        .init("agent", "driver", .word(["exec", "http", "llm", "sim"]), ir: "driver", required: true, "how the agent is reached"),
        .init("agent", "capabilities", .strings, ir: "capabilities", required: true, "what it can do (matched against a task's `needs`)"),
        .init("agent", "cost_per_call", .money, min: 0, default: "$0", ir: "cost_per_call_micros", "price of one attempt"),
        .init("agent", "cost_per_1k_tokens", .money, min: 0, default: "$0", ir: "cost_per_1k_tokens_micros", "price per 1000 tokens"),
        .init("agent", "cost_per_1k_input_tokens", .money, min: 0, default: "$0", ir: "cost_per_1k_input_tokens_micros",
              "price per 1000 prompt (input) tokens of an `llm` agent"),
        .init("agent", "cost_per_1k_output_tokens", .money, min: 0, default: "$0", ir: "cost_per_1k_output_tokens_micros",
              "price per 1000 completion (output) tokens of an `llm` agent"),
        .init("agent", "prices", .custom("a record of model names to `{ input: $…, output: $… }`"), ir: "prices",
              "per-model prices per 1000 input and output tokens (a task's `model` picks its entry; others use the two above)"),
        .init("agent", "cost_per_second", .money, min: 0, default: "$0", ir: "cost_per_second_micros", "price per second of an attempt"),
        .init("agent", "concurrency", .int, min: 1, default: "1", ir: "concurrency", "attempts it runs at once"),
        .init("agent", "command", .string, ir: "command", "command line template of an `exec` agent"),
        .init("agent", "url", .string, ir: "url", "endpoint of an `http` or `llm` agent"),
        .init("agent", "model", .string, ir: "model", "model of an `llm` agent"),
        .init("agent", "queue", .string, ir: "queue",
              "the queue of its attempts on a backend: `ezrun worker --queue NAME` takes them (default: `default`; docs/DISTRIBUTED.md)"),
        .init("agent", "format", .word(["openai", "anthropic"]), default: "openai", ir: "format",
              "wire format of an `llm` agent: OpenAI-compatible chat completions or the Anthropic Messages API"),
        .init("agent", "api_key", .ref(["secret"]), ir: "api_key", "the secret holding its API key"),
        .init("agent", "stream", .bool, default: "false", ir: "stream",
              "an `llm` agent asks for its answers as server-sent events (the token cap is enforced while they arrive)"),
        .init("agent", "breaker_failures", .int, min: 1, max: 1_000, default: "5", ir: "breaker_failures",
              "outage failures in a row (`timeout`, `transient`) that open its circuit breaker (`ezrun run --breaker-failures` overrides)"),
        .init("agent", "breaker_cool_down", .duration, min: 0, max: 24 * hour, default: "30s", ir: "breaker_cool_down_ms",
              "how long an open breaker refuses work before one probe may go (`ezrun run --breaker-cool-down` overrides)"),
        .init("agent", "health", .string, ir: "health_url",
              "URL of an `http` or `llm` agent's health check: a GET, healthy on 2xx; an unhealthy agent gets no work"),
        .init("agent", "health_command", .string, ir: "health_command",
              "an `exec` agent's health check: a command line (run as an exec agent's `command`), healthy on exit 0"),
        .init("agent", "health_interval", .duration, min: 100, max: hour, default: "10s", ir: "health_interval_ms",
              "how often the health check runs"),
        .init("agent", "latency", .duration, min: 0, ir: "latency_ms", "simulated time per attempt (`sim` driver)"),
        .init("agent", "failure_rate", .float, min: 0, max: 1_000_000, ir: "failure_rate_ppm", "simulated share of failed attempts"),
        description("agent"),
    ]

    static let role: [AttrFact] = [
        .init("role", "inherits", .refs(["role"]), ir: "inherits", "roles whose grants this one has too"),
        .init("role", "allow", .words(["run", "approve"]), ir: "allow", "what holders may do"),
        .init("role", "agents", .refs(["agent"]), ir: "agents", "agents holders may use"),
        .init("role", "secrets", .refs(["secret"]), ir: "secrets", "secrets holders may read"),
        description("role"),
    ]

    static let policy: [AttrFact] = [
        .init("policy", "effect", .word(["allow", "deny"]), ir: "effect", required: true, "what the policy does when it applies"),
        .init("policy", "action", .word(["run", "approve"]), ir: "action", required: true, "the action it governs"),
        .init("policy", "roles", .refs(["role"]), ir: "roles", "roles it applies to (default: every role)"),
        .init("policy", "when", .custom("a bool expression over inputs, `principal` and `task`"), ir: "when", required: true, "the condition"),
        description("policy"),
    ]

    static let secret: [AttrFact] = [
        .init("secret", "provider", .word(["env", "file", "vault"]), ir: "provider", required: true, "where the value is read at run time"),
        .init("secret", "key", .string, ir: "key", required: true, "the variable, path or vault key"),
        description("secret"),
    ]

    static let retry: [AttrFact] = [
        .init("retry", "attempts", .int, min: 1, max: 1_000, ir: "attempts", required: true, "tries in all, the first included"),
        .init("retry", "backoff", .word(["fixed", "linear", "exponential"]), default: "fixed", ir: "backoff", "how the delay grows"),
        .init("retry", "delay", .duration, min: 0, default: "0s", ir: "delay_ms", "wait before the first retry"),
        .init("retry", "max_delay", .duration, min: 0, ir: "max_delay_ms", "the delay never grows past this"),
        .init("retry", "factor", .float, min: 1_000_000, max: 10_000_000, default: "2", ir: "factor_ppm",
              "`exponential` backoff: each delay is the previous one times this (`delay × factor^(n-1)`)"),
        .init("retry", "jitter", .word(["none", "full", "equal", "decorrelated"]), default: "none", ir: "jitter", "randomness added to delays"),
        .init("retry", "on", .words(nil), ir: "on", "error classes retried: timeout, transient, agent_error, output_error, declared ones, or imported ones as `module.name` (default: every class a retry can fix; `ezc check --explain-retry`)"),
        .init("retry", "catch", .custom("a task or agent name"), ir: "catch", "the task's fallback once its retries end (in one of its rules)"),
    ]

    static let budget: [AttrFact] = [
        .init("budget", "money", .money, min: 0, ir: "money_micros", "money the scope may spend"),
        .init("budget", "tokens", .tokens, min: 0, ir: "tokens", "tokens the scope may use"),
        .init("budget", "time", .duration, min: 0, ir: "time_ms", "time the scope may take"),
        .init("budget", "strict", .bool, default: "false", ir: "strict",
              "a worst case over a limit is an error, not a warning (the workflow's also covers its `deadline`)"),
    ]

    static let input: [AttrFact] = [description("input")]

    static let output: [AttrFact] = [
        description("output"),
        .init("output", "on_conflict", .word(["fail", "last_writer", "merge", "escalate"]), ir: "on_conflict",
              "what happens when two tasks write it"),
    ]

    static let error: [AttrFact] = [description("error")]

    static func description(_ block: String) -> AttrFact {
        .init(block, "description", .string, "documentation; not used at run time")
    }

    /// The fact for `name` in block kind `block`; nil when the block has no such attribute.
    public static func fact(_ block: String, _ name: String) -> AttrFact? {
        index[block + "." + name]
    }

    /// The fact for an attribute the caller knows exists (a programming error otherwise).
    public static func declared(_ block: String, _ name: String) -> AttrFact {
        guard let f = fact(block, name) else { preconditionFailure("no attribute `\(name)` in `\(block)`") }
        return f
    }

    static let index: [String: AttrFact] = {
        var out: [String: AttrFact] = [:]
        for (kind, facts) in blocks { for f in facts { out[kind + "." + f.name] = f } }
        return out
    }()

    /// The attributes of `block` written to the IR as one number each.
    public static func numeric(_ block: String) -> [AttrFact] {
        (blocks.first { $0.kind == block }?.attributes ?? []).filter { $0.needsConstant && $0.irKey != nil }
    }

    /// The IR keys the attributes of `block` are written to.
    public static func irKeys(_ block: String) -> Set<String> {
        Set((blocks.first { $0.kind == block }?.attributes ?? []).compactMap(\.irKey))
    }
}
