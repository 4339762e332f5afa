// Which error classes a retry rule retries when it names none (`on:` left out): every
// class except those a retry cannot fix, the Temporal model ("retry everything except
// the non-retryable"). One list, read by the runtime's `Plan` (what is retried) and by the
// checker (`ezc check --explain-retry`, hover), so what a user is told is what runs.

/// The error classes of the runtime and what a retry rule does with them by default.
public enum RetryClasses {
    /// A class a rule without `on:` does not retry, and why a retry cannot fix it.
    public struct Refused: Sendable, Equatable {
        public var name: String
        public var why: String
    }

    /// Classes never retried by default, sorted by name. A rule may still name the ones
    /// the checker knows (none of these is a built-in `on:` word today).
    public static let notByDefault: [Refused] = [
        Refused(name: "cancelled", why: "the run or the attempt was stopped on purpose"),
        Refused(name: "cap_exceeded", why: "the agent broke the token cap it was sent; it would again"),
        Refused(name: "config_error", why: "the agent cannot run this task (no command, no url, wrong driver)"),
        Refused(name: "conflict", why: "the output was already written and `on_conflict` refuses a second write"),
        Refused(name: "denied", why: "a person denied the approval"),
        Refused(name: "forbidden", why: "a role or policy refuses the task"),
        Refused(name: "no_agent", why: "no healthy agent with capacity can ever take it"),
        Refused(name: "prompt_too_large", why: "the prompt leaves no room for an answer within the cap or budget"),
        Refused(name: "render_error", why: "the template reads a value that is not there"),
        Refused(name: "secret_error", why: "a secret is not granted or cannot be read"),
        Refused(name: "worker_lost", why: "the attempt stopped its worker 3 times (killed, frozen or cut off); it would again"),
    ]

    /// The built-in classes a rule without `on:` retries (any class an agent reports
    /// itself, declared with `error NAME` or not, is retried too).
    public static let retriedByDefault = ["timeout", "transient", "agent_error", "output_error"]

    /// Whether a rule whose `on` is `on` retries `errorClass` (`on` nil: left out, the default).
    public static func retries(on: [String]?, errorClass: String) -> Bool {
        guard let on else { return !notByDefault.contains { $0.name == errorClass } }
        return on.contains(errorClass)
    }
}
