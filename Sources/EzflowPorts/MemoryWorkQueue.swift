// The in-memory work queue: the embedded runner's queue (its workers are threads of the
// same process) and the simulation's. Items are keyed by (run, task, attempt), so a
// resumed coordinator's second offer of a running attempt is a no-op, and completions
// are fenced by the lease owner.
import EzflowIR
import EzflowRuntime
import Synchronization

/// A `WorkQueue` in memory. Thread-safe; `onOffer` and `onComplete` let the embedded
/// runner wake its workers and its coordinator without polling.
public final class MemoryWorkQueue: WorkQueue {
    struct Key: Hashable { var run: String; var task: Int; var attempt: Int }
    enum Phase { case queued, leased(owner: String, untilMs: Millis), completed }
    struct Entry {
        var item: WorkItem
        var phase: Phase
        var deliveries = 0
        var cancelled = false
        var order: Int
    }
    struct Done { var completion: WorkCompletion; var readers: Set<String>; var order: Int }
    struct State {
        var entries: [Key: Entry] = [:]
        var queued: [Key] = []
        var done: [Key: Done] = [:]
        var order = 0
        /// Entries dropped by `cancel` (for `depth`'s count of offers).
        var removed = 0
        /// The dead-letter feed, and its keys (run, seq, task, kind) for idempotence.
        var deadLetters: [DeadLetterEntry] = []
        var deadLetterKeys = Set<[String]>()
    }
    private let state = Mutex(State())
    private let onOffer: (@Sendable () -> Void)?
    private let onComplete: (@Sendable () -> Void)?

    public init(onOffer: (@Sendable () -> Void)? = nil, onComplete: (@Sendable () -> Void)? = nil) {
        self.onOffer = onOffer
        self.onComplete = onComplete
    }

    static func key(_ i: WorkItem) -> Key { Key(run: i.runID, task: i.task, attempt: i.attempt) }

    public func offer(_ items: [WorkItem], nowMs: Millis) throws(StoreError) {
        let added = state.withLock { s -> Bool in
            var any = false
            for i in items {
                let k = Self.key(i)
                guard s.entries[k] == nil else { continue }
                s.order += 1
                s.entries[k] = Entry(item: i, phase: .queued, order: s.order)
                s.queued.append(k)
                any = true
            }
            return any
        }
        if added { onOffer?() }
    }

    public func claim(owner: String, queues: [String], max: Int, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> [Lease] {
        state.withLock { s in
            var out: [Lease] = []
            // Lowest priority first; `queued` is in offer order and the sort is stable.
            let live = s.queued.filter { k in
                guard let e = s.entries[k], case .queued = e.phase, !e.cancelled else { return false }
                return true
            }
            var taken = Set<Key>()
            for k in live.sorted(by: { s.entries[$0]!.item.priority < s.entries[$1]!.item.priority }) where out.count < max {
                var e = s.entries[k]!
                guard queues.isEmpty || queues.contains(e.item.queue) else { continue }
                e.deliveries += 1
                e.phase = .leased(owner: owner, untilMs: nowMs + leaseMs)
                s.entries[k] = e
                taken.insert(k)
                out.append(Lease(item: e.item, owner: owner, expiresAtMs: nowMs + leaseMs, deliveries: e.deliveries))
            }
            s.queued = live.filter { !taken.contains($0) }
            return out
        }
    }

    public func complete(_ c: WorkCompletion, nowMs: Millis) throws(StoreError) -> Bool {
        let accepted = state.withLock { s -> Bool in
            let k = Self.key(c.item)
            guard var e = s.entries[k], case .leased(let owner, _) = e.phase, owner == c.owner else { return false }
            e.phase = .completed
            s.entries[k] = e
            s.order += 1
            s.done[k] = Done(completion: c, readers: [], order: s.order)
            return true
        }
        if accepted { onComplete?() }
        return accepted
    }

    public func expire(nowMs: Millis) throws(StoreError) -> [WorkItem] {
        let (out, lost) = state.withLock { s -> ([WorkItem], Bool) in
            var out: [WorkItem] = []
            var lost = false
            for (k, e) in s.entries.sorted(by: { $0.value.order < $1.value.order }) {
                guard case .leased(_, let until) = e.phase, until <= nowMs else { continue }
                out.append(e.item)
                if e.deliveries >= WorkQueueLimits.maxDeliveries {
                    s.entries[k]!.phase = .completed
                    s.order += 1
                    s.done[k] = Done(completion: WorkQueueLimits.lost(e.item, deliveries: e.deliveries), readers: [], order: s.order)
                    lost = true
                    continue
                }
                s.entries[k]!.phase = .queued
                s.queued.append(k)
            }
            s.queued.sort { s.entries[$0]!.order < s.entries[$1]!.order }
            return (out, lost)
        }
        if lost { onComplete?() }
        if out.count > 0 { onOffer?() }
        return out
    }

    public func renew(owner: String, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> Int {
        state.withLock { s in
            var n = 0
            for (k, e) in s.entries {
                guard case .leased(let o, _) = e.phase, o == owner else { continue }
                s.entries[k]!.phase = .leased(owner: owner, untilMs: nowMs + leaseMs)
                n += 1
            }
            return n
        }
    }

    public func release(owner: String) throws(StoreError) {
        let any = state.withLock { s -> Bool in
            var any = false
            for (k, e) in s.entries.sorted(by: { $0.value.order < $1.value.order }) {
                guard case .leased(let o, _) = e.phase, o == owner else { continue }
                s.entries[k]!.phase = .queued
                s.entries[k]!.deliveries -= 1
                if !e.cancelled { s.queued.append(k) }
                any = true
            }
            // Keep offer order among the queued.
            s.queued.sort { s.entries[$0]!.order < s.entries[$1]!.order }
            return any
        }
        if any { onOffer?() }
    }

    public func cancel(run runID: String, task: Int, attempt: Int) throws(StoreError) {
        state.withLock { s in
            let k = Key(run: runID, task: task, attempt: attempt)
            guard var e = s.entries[k] else { return }
            e.cancelled = true
            if case .queued = e.phase {
                s.entries[k] = nil
                s.removed += 1
            } else {
                s.entries[k] = e
            }
        }
    }

    public func forget(run runID: String) throws(StoreError) {
        state.withLock { s in
            for (k, var e) in s.entries where k.run == runID {
                e.item.payload = []
                switch e.phase {
                case .queued: e.phase = .completed
                case .leased: e.cancelled = true
                case .completed: break
                }
                s.entries[k] = e
            }
            s.queued.removeAll { $0.run == runID }
            for k in s.done.keys where k.run == runID { s.done[k] = nil }
        }
    }

    public func cancelled(owner: String) throws(StoreError) -> [WorkItem] {
        state.withLock { s in
            s.entries.values.filter { e in
                guard e.cancelled, case .leased(let o, _) = e.phase else { return false }
                return o == owner
            }.sorted { $0.order < $1.order }.map(\.item)
        }
    }

    public func deadLetter(_ entries: [DeadLetterEntry]) throws(StoreError) {
        state.withLock { s in
            for e in entries where s.deadLetterKeys.insert([e.runID, String(e.seq), String(e.task), e.kind.rawValue]).inserted {
                s.deadLetters.append(e)
            }
        }
    }

    public func deadLetters(run runID: String?) throws(StoreError) -> [DeadLetterEntry] {
        state.withLock { s in s.deadLetters.filter { runID == nil || $0.runID == runID } }
    }

    public func completions(run runID: String, reader: String) throws(StoreError) -> [WorkCompletion] {
        state.withLock { s in
            var out: [(Int, WorkCompletion)] = []
            for (k, d) in s.done where k.run == runID && !d.readers.contains(reader) {
                s.done[k]!.readers.insert(reader)
                out.append((d.order, d.completion))
            }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    public func acknowledge(run runID: String, _ items: [WorkItem]) throws(StoreError) {
        state.withLock { s in
            for i in items {
                let k = Self.key(i)
                s.done[k] = nil
            }
        }
    }

    public func depth() throws(StoreError) -> QueueDepth {
        state.withLock { s in
            var d = QueueDepth(offered: Int64(s.entries.count + s.removed))
            var owners = Set<String>()
            for e in s.entries.values where !e.cancelled {
                switch e.phase {
                case .queued: d.queued[e.item.queue, default: 0] += 1
                case .leased(let o, _):
                    d.leased[e.item.queue, default: 0] += 1
                    owners.insert(o)
                case .completed: break
                }
            }
            d.owners = owners.count
            return d
        }
    }

    /// Items leased and not cancelled, per task (the simulation's oracle: at most one).
    public func liveLeases(run runID: String) -> [Int: [WorkItem]] {
        state.withLock { s in
            var out: [Int: [WorkItem]] = [:]
            for (k, e) in s.entries where k.run == runID && !e.cancelled {
                if case .leased = e.phase { out[k.task, default: []].append(e.item) }
            }
            return out
        }
    }
}
