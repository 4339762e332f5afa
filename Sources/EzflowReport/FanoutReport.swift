// How reports show a dynamic fan-out's unused slots (docs/RUNTIME.md, "Dynamic fan-out"):
// one line per fan-out ("lint[3…19]: 17 unused slots"), never one per slot, so a
// `max_items: 1024` fan-out over three items reads as four lines.
import EzflowRuntime
import EzflowUnits

/// A run of consecutive unused slots of one fan-out.
public struct UnusedSlots: Sendable, Equatable {
    /// Plan ids of the first and last slot of the run.
    public var first: Int
    public var last: Int
    public var count: Int
    /// `lint[3…19]` (or `lint[4]` for one slot).
    public var name: String
    /// `17 unused slots`.
    public var text: String { Units.counted(count, "unused slot") }
}

extension UnusedSlots {
    /// The unused slots of the run, by their first slot's plan id.
    public static func all(_ state: RunState) -> [Int: UnusedSlots] {
        var out: [Int: UnusedSlots] = [:]
        var open: UnusedSlots?
        func close() {
            guard let u = open else { return }
            out[u.first] = u
            open = nil
        }
        for t in 0..<state.plan.taskCount {
            guard state.isUnusedSlot(t), let s = state.plan.dynamicSlot[t] else { close(); continue }
            if var u = open, u.last == t - 1, state.plan.dynamicSlot[u.first]?.taskName == s.taskName {
                u.last = t
                u.count += 1
                u.name = "\(s.taskName)[\(state.plan.dynamicSlot[u.first]!.index)…\(s.index)]"
                open = u
            } else {
                close()
                open = UnusedSlots(first: t, last: t, count: 1, name: "\(s.taskName)[\(s.index)]")
            }
        }
        close()
        return out
    }
}

extension Progress {
    /// The progress line for slots a list left unused (one line, however many).
    static func unusedSlotsLine(_ names: [String]) -> String {
        names.count <= 3 ? "unused slots: " + names.joined(separator: ", ")
            : "unused slots: \(names[0]) … \(names[names.count - 1]) (\(names.count))"
    }
}

extension UnusedSlots {
    /// A fan-out's own failure message as a status line shows it: one line, no control
    /// characters (it quotes the list's source text), at most 300 characters.
    public static func failureLine(_ message: String) -> String {
        Format.truncate(Format.stripControls(message, keepNewlines: false), 300)
    }
}
