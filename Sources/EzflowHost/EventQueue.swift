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

/// A binary min-heap of `(atMs, seq, item)`; `seq` breaks ties deterministically.
struct EventQueue {
    private var heap: [(at: Millis, seq: UInt64, item: SimItem)] = []
    private var nextSeq: UInt64 = 0
    /// The virtual clock: the time of the last item popped.
    private(set) var nowMs: Millis = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    init(capacity: Int = 0) { heap.reserveCapacity(capacity) }

    /// Schedules `item` at `atMs` (never before now: the clock does not run backwards).
    mutating func push(_ item: SimItem, atMs: Millis) {
        heap.append((max(atMs, nowMs), nextSeq, item))
        nextSeq &+= 1
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if less(i, p) { heap.swapAt(i, p); i = p } else { break }
        }
    }

    /// Removes the earliest item and advances the clock to it.
    mutating func pop() -> (at: Millis, item: SimItem)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && less(l, m) { m = l }
            if r < n && less(r, m) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        precondition(top.at >= nowMs, "virtual clock ran backwards")
        nowMs = top.at
        return (top.at, top.item)
    }

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        heap[a].at < heap[b].at || (heap[a].at == heap[b].at && heap[a].seq < heap[b].seq)
    }
}
