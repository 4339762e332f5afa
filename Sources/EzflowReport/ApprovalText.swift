// What a person sees of an open approval gate: its rendered `approve:` question (journalled
// on the request, built from redacted values) and what happens if nobody answers. Shared by
// `ezrun status`, `ezrun approve` and the run summary.
import EzflowRuntime

/// An open approval gate, for people.
public struct WaitingGate: Sendable, Equatable {
    public var task: Int
    public var name: String
    /// The rendered question; nil for an escalated output conflict (it has none).
    public var question: String?
    /// "rejected if nobody answers within 1h", "escalated to `oncall`; …"; nil: no timeout.
    public var onTimeout: String?

    /// The gates of `state` waiting for an answer, in task order.
    public static func all(_ state: RunState) -> [WaitingGate] {
        (0..<state.plan.taskCount).filter { state.tasks[$0] == .awaitingApproval }.map { t in
            let conflict = state.pendingConflict[t] != nil
            return WaitingGate(task: t, name: state.plan.taskNames[t], question: conflict ? nil : state.approvalQuestion(t),
                               onTimeout: conflict ? nil : state.gateTimeoutNote(t))
        }
    }

    /// The question as a terminal may show it: control characters and escape sequences
    /// removed, each line indented by `indent`.
    public func questionLines(indent: String = "  ") -> String? {
        question.map { q in Format.stripControls(q).split(separator: "\n", omittingEmptySubsequences: false).map { indent + $0 }.joined(separator: "\n") }
    }
}
