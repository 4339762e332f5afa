// The virtual clock of a simulation: a min-heap of future events ordered by
// (time, insertion number), so two events at the same millisecond are delivered in the
// order they were scheduled — never in hash or address order.
import EzflowPorts
import EzflowRuntime
import EzflowSim

/// What the simulated world does at a virtual time.
enum SimItem: Sendable {
    /// A simulated worker finishes its attempt and completes it on the queue.
    case completion(WorkItem, WorkOutcome)
    /// The simulated approver answers yes (through the run's inbox).
    case approval(task: Int)
    /// Run the agents' health checks.
    case healthCheck
}

/// The simulation's clock: a `TimeQueue` whose time never runs backwards.
struct EventQueue {
    private var queue: TimeQueue<SimItem>
    /// The virtual clock: the time of the last item popped (or moved to).
    private(set) var nowMs: Millis = 0

    var isEmpty: Bool { queue.isEmpty }
    var count: Int { queue.count }
    /// When the earliest item is due.
    var nextAtMs: Millis? { queue.nextAtMs }

    init(capacity: Int = 0) { queue = TimeQueue(capacity: capacity) }

    /// Schedules `item` at `atMs` (never before now: the clock does not run backwards).
    mutating func push(_ item: SimItem, atMs: Millis) { queue.push(item, atMs: max(atMs, nowMs)) }

    /// Every item due at or before `t`, in order; the clock moves to `t`.
    mutating func popDue(until t: Millis) -> [SimItem] {
        precondition(t >= nowMs, "virtual clock ran backwards")
        nowMs = t
        return queue.popDue(nowMs: t).map(\.item)
    }
}
