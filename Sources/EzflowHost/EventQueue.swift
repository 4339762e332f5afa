// The virtual clock of a simulation: a min-heap of future events ordered by
// (time, insertion number), so two events at the same millisecond are delivered in the
// order they were scheduled — never in hash or address order.
import EzflowRuntime

/// What the simulator delivers at a virtual time. Compact on purpose (no strings or
/// JSON inside): the heap moves these around, and the `Event` is built on delivery.
enum SimItem: Sendable {
    /// A timer the core set.
    case timer(TimerID)
    /// The simulated approver answers yes.
    case approval(task: Int)
    /// A sim agent finished attempt `attempt` of `task` (checked against the task's
    /// current attempt before it becomes an `Event`). `error` nil is a success.
    case completion(task: Int32, attempt: Int32, error: SimErrorClass?, costMicros: Int64, tokens: Int64)
    /// Run the agents' health checks.
    case healthCheck
}

/// The simulation's clock: a `TimeQueue` whose time never runs backwards.
struct EventQueue {
    private var queue: TimeQueue<SimItem>
    /// The virtual clock: the time of the last item popped.
    private(set) var nowMs: Millis = 0

    var isEmpty: Bool { queue.isEmpty }
    var count: Int { queue.count }

    init(capacity: Int = 0) { queue = TimeQueue(capacity: capacity) }

    /// Schedules `item` at `atMs` (never before now: the clock does not run backwards).
    mutating func push(_ item: SimItem, atMs: Millis) { queue.push(item, atMs: max(atMs, nowMs)) }

    /// Removes the earliest item and advances the clock to it.
    mutating func pop() -> (at: Millis, item: SimItem)? {
        guard let top = queue.pop() else { return nil }
        precondition(top.at >= nowMs, "virtual clock ran backwards")
        nowMs = top.at
        return top
    }
}
