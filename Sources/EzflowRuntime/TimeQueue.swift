// A binary min-heap of items due at a time, ordered by (time, insertion number): two items
// due at the same millisecond come out in the order they went in — never in hash or
// address order. Shared by the simulator's virtual clock, the real runner's timers and
// the benchmarks. Inlinable so each user gets a specialized copy.
public struct TimeQueue<Item> {
    @usableFromInline var heap: [(at: Millis, seq: UInt64, item: Item)] = []
    @usableFromInline var nextSeq: UInt64 = 0

    @inlinable public init(capacity: Int = 0) { heap.reserveCapacity(capacity) }

    @inlinable public var isEmpty: Bool { heap.isEmpty }
    @inlinable public var count: Int { heap.count }
    /// When the earliest item is due.
    @inlinable public var nextAtMs: Millis? { heap.first?.at }

    @inlinable
    public mutating func push(_ item: Item, atMs: Millis) {
        heap.append((atMs, nextSeq, item))
        nextSeq &+= 1
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard less(i, p) else { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    /// Removes and returns the earliest item.
    @inlinable
    public mutating func pop() -> (at: Millis, item: Item)? {
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
        return (top.at, top.item)
    }

    /// Removes and returns every item due at `nowMs`, in order.
    @inlinable
    public mutating func popDue(nowMs: Millis) -> [(item: Item, at: Millis)] {
        var out: [(item: Item, at: Millis)] = []
        while let at = nextAtMs, at <= nowMs, let top = pop() { out.append((top.item, top.at)) }
        return out
    }

    @inlinable @inline(__always)
    func less(_ a: Int, _ b: Int) -> Bool {
        heap[a].at < heap[b].at || (heap[a].at == heap[b].at && heap[a].seq < heap[b].seq)
    }
}
