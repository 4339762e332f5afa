import EzflowDiagnostics
import EzflowSyntax

/// What an attribute's value must be.
enum Shape {
    /// An expression of this type.
    case value(Ty)
    /// A bare word from a fixed set (`driver: exec`).
    case word([String])
    /// A list of bare words (`allow: [run, approve]`); nil = checked by the caller.
    case words([String]?)
    /// A name of a declaration of one of these kinds.
    case ref([DeclKind])
    /// A list of such names.
    case refs([DeclKind])
    /// Checked by the caller (e.g. `after`, `with`, `for_each`, `when`).
    case custom
}

struct AttrSpec {
    var name: String
    var shape: Shape
}

/// Attribute and nested-block schemas of every block kind (see grammar/ezflow.ebnf).
enum Schema {
    static let actions = ["run", "prompt", "call", "approve", "workflow"]

    static let attributes: [String: [AttrSpec]] = [
        "workflow": [
            .init(name: "deadline", shape: .value(.duration)),
            .init(name: "agents", shape: .refs([.agent])),
            .init(name: "description", shape: .value(.string)),
            .init(name: "selector", shape: .word(["cheapest", "fastest", "learned", "auction"])),
            .init(name: "max_parallel", shape: .value(.int)),
        ],
        "task": [
            .init(name: "run", shape: .custom), .init(name: "prompt", shape: .custom),
            .init(name: "call", shape: .custom), .init(name: "approve", shape: .custom),
            .init(name: "workflow", shape: .ref([.workflow])),
            .init(name: "with", shape: .custom),
            .init(name: "agent", shape: .ref([.agent])),
            .init(name: "needs", shape: .value(.list(.string))),
            .init(name: "role", shape: .ref([.role])),
            .init(name: "timeout", shape: .value(.duration)),
            .init(name: "retry", shape: .ref([.retry])),
            .init(name: "priority", shape: .value(.int)),
            .init(name: "tags", shape: .value(.list(.string))),
            .init(name: "after", shape: .custom),
            .init(name: "writes", shape: .custom),
            .init(name: "secrets", shape: .refs([.secret])),
            .init(name: "for_each", shape: .custom),
            .init(name: "env", shape: .custom),
            .init(name: "approvers", shape: .refs([.role])),
            .init(name: "model", shape: .value(.string)),
            .init(name: "max_tokens", shape: .value(.tokens)),
            .init(name: "max_cost", shape: .value(.money)),
            .init(name: "description", shape: .value(.string)),
        ],
        "group": [
            .init(name: "role", shape: .ref([.role])),
            .init(name: "tags", shape: .value(.list(.string))),
            .init(name: "after", shape: .custom),
            .init(name: "priority", shape: .value(.int)),
            .init(name: "description", shape: .value(.string)),
        ],
        "agent": [
            .init(name: "driver", shape: .word(["exec", "http", "llm", "sim"])),
            .init(name: "capabilities", shape: .value(.list(.string))),
            .init(name: "cost_per_call", shape: .value(.money)),
            .init(name: "cost_per_1k_tokens", shape: .value(.money)),
            .init(name: "cost_per_second", shape: .value(.money)),
            .init(name: "concurrency", shape: .value(.int)),
            .init(name: "command", shape: .value(.string)),
            .init(name: "url", shape: .value(.string)),
            .init(name: "model", shape: .value(.string)),
            .init(name: "api_key", shape: .ref([.secret])),
            .init(name: "latency", shape: .value(.duration)),
            .init(name: "failure_rate", shape: .value(.float)),
            .init(name: "description", shape: .value(.string)),
        ],
        "role": [
            .init(name: "inherits", shape: .refs([.role])),
            .init(name: "allow", shape: .words(["run", "approve"])),
            .init(name: "agents", shape: .refs([.agent])),
            .init(name: "secrets", shape: .refs([.secret])),
            .init(name: "description", shape: .value(.string)),
        ],
        "policy": [
            .init(name: "effect", shape: .word(["allow", "deny"])),
            .init(name: "action", shape: .word(["run", "approve"])),
            .init(name: "roles", shape: .refs([.role])),
            .init(name: "when", shape: .custom),
            .init(name: "description", shape: .value(.string)),
        ],
        "secret": [
            .init(name: "provider", shape: .word(["env", "file", "vault"])),
            .init(name: "key", shape: .value(.string)),
            .init(name: "description", shape: .value(.string)),
        ],
        "retry": [
            .init(name: "attempts", shape: .value(.int)),
            .init(name: "backoff", shape: .word(["fixed", "linear", "exponential"])),
            .init(name: "delay", shape: .value(.duration)),
            .init(name: "max_delay", shape: .value(.duration)),
            .init(name: "jitter", shape: .word(["none", "full", "equal", "decorrelated"])),
            .init(name: "on", shape: .words(nil)),
            .init(name: "catch", shape: .custom),
        ],
        "budget": [
            .init(name: "money", shape: .value(.money)),
            .init(name: "tokens", shape: .value(.tokens)),
            .init(name: "time", shape: .value(.duration)),
        ],
        "input": [.init(name: "description", shape: .value(.string))],
        "output": [
            .init(name: "description", shape: .value(.string)),
            .init(name: "on_conflict", shape: .word(["fail", "last_writer", "merge", "escalate"])),
        ],
        "error": [.init(name: "description", shape: .value(.string))],
        "enum": [],
        "type": [],
    ]

    /// Nested block kinds allowed inside each kind.
    static let blocks: [String: Set<String>] = [
        "workflow": ["input", "output", "task", "group", "budget", "agent", "role", "policy", "secret", "retry", "enum", "type", "error"],
        "task": ["budget", "retry", "output"],
        "group": ["task", "group", "budget"],
        "agent": [], "role": [], "policy": [], "secret": [], "retry": [], "budget": [],
        "input": [], "output": [], "error": [], "enum": [], "type": [],
    ]

    static let required: [String: [String]] = [
        "agent": ["driver", "capabilities"],
        "secret": ["provider", "key"],
        "retry": ["attempts"],
        "policy": ["effect", "action", "when"],
    ]
}
