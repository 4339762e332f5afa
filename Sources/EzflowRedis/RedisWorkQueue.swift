// The work queue on Redis Streams (DISTRIBUTED-NOTES.md §2). Per (queue, priority) two
// streams in one consumer group `ezflow`: `m` takes offers, `r` takes items put back
// (expired or released), so a re-queued item, older than anything still undelivered in
// `m`, is not queued behind newer offers; a claim merges the undelivered heads of a
// priority's streams by offer order, then XREADGROUPs exactly those (consumer = the
// owner). Each item also has a hash (its fields, state, lease owner, lease end,
// deliveries) created with the first offer, which makes `offer` idempotent; a ZSET of
// leases scored by their end (the CALLER's clock: `nowMs + leaseMs`) drives `expire`.
// Every operation is one Lua script, so the stream, the PEL and the hash never disagree
// after a crash of the client. `complete` checks the hash's owner AND the PEL entry's
// consumer (XACK alone does not check the owner), then XACK + XDEL and stores the
// completion in the same script. Entries are removed only by XDEL after XACK: never a
// MAXLEN trim, never a DELCONSUMER (both silently drop pending entries, notes §3).
// Keys are built inside the scripts from the prefix (a single server, not a cluster).
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Foundation
import Synchronization

/// `WorkQueue` on Redis Streams (from `RedisBackend.queue()`).
public final class RedisWorkQueue: WorkQueue {
    let backend: RedisBackend
    let conn: RedisConnection
    let p: String
    /// How long (server time) a pending entry may sit without a lease record before
    /// `expire` takes it back: the backstop for a client that died inside a claim.
    let orphanIdleMs = Atomic<Int>(60_000)

    init(backend: RedisBackend) {
        self.backend = backend
        conn = backend.connection()
        p = backend.prefix
    }

    var location: String { backend.location + " (prefix \(p))" }

    /// `read`: the script only reads (retried once on a connection found gone).
    func eval(_ s: RedisScript, _ args: [[UInt8]], read: Bool = false) throws(StoreError) -> RedisReply {
        do { return try conn.eval(s, keys: [], args: [Array(p.utf8)] + args, retry: read) } catch {
            var e = error
            e.path = location
            throw e
        }
    }

    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    static func b(_ i: Int) -> [UInt8] { Array(String(i).utf8) }
    static func b(_ i: Int64) -> [UInt8] { Array(String(i).utf8) }

    func itemKey(_ runID: String, _ task: Int, _ attempt: Int) -> String { "\(p)wq:i:\(task):\(attempt):\(runID)" }

    public func offer(_ items: [WorkItem], nowMs: Millis) throws(StoreError) {
        guard !items.isEmpty else { return }
        var args: [[UInt8]] = []
        for i in items {
            args += [Self.b(i.runID), Self.b(i.task), Self.b(i.attempt), Self.b(i.agent), Self.b(i.idempotencyKey), Self.b(i.queue),
                     Self.b(i.priority), i.payload]
        }
        _ = try eval(Self.offer, args)
    }

    /// An item as the scripts return it: run, task, attempt, agent, key, queue, priority,
    /// payload, deliveries, lease end, offer order.
    static func item(_ a: ArraySlice<RedisReply>) -> (WorkItem, deliveries: Int, until: Millis, order: Int64) {
        let a = Array(a)
        let item = WorkItem(runID: a[0].text ?? "", task: Int(a[1].int ?? 0), attempt: Int(a[2].int ?? 0), agent: Int(a[3].int ?? 0),
                            idempotencyKey: a[4].text ?? "", queue: a[5].text ?? "", priority: Int(a[6].int ?? 0), payload: a[7].bytes ?? [])
        return (item, Int(a[8].int ?? 0), a[9].int ?? 0, a[10].int ?? 0)
    }

    static let itemWidth = 11

    public func claim(owner: String, queues: [String], max: Int, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> [Lease] {
        guard max > 0 else { return [] }
        let a = try eval(Self.claim, [Self.b(owner), Self.b(nowMs), Self.b(leaseMs), Self.b(max)] + queues.map(Self.b)).array
        var out: [Lease] = []
        var i = 0
        while i + Self.itemWidth <= a.count {
            let (item, d, until, _) = Self.item(a[i..<(i + Self.itemWidth)])
            out.append(Lease(item: item, owner: owner, expiresAtMs: until, deliveries: d))
            i += Self.itemWidth
        }
        return out
    }

    public func complete(_ c: WorkCompletion, nowMs: Millis) throws(StoreError) -> Bool {
        let i = c.item
        let r = try eval(Self.complete, [Self.b(itemKey(i.runID, i.task, i.attempt)), Self.b(c.owner), Self.b(i.runID), Self.b("\(i.task):\(i.attempt)"),
                                         Self.completionBytes(c)])
        return r.int == 1
    }

    public func expire(nowMs: Millis) throws(StoreError) -> [WorkItem] {
        // Phase 1 reads the leases past their end; phase 2 re-checks each under the
        // script's atomicity and puts it back, or ends it with the reaper's completion
        // (encoded here: the journal codec lives in Swift).
        let a = try eval(Self.expired, [Self.b(nowMs)], read: true).array
        var candidates: [(key: [UInt8], item: WorkItem, order: Int64)] = []
        var args: [[UInt8]] = [Self.b(nowMs), Self.b(WorkQueueLimits.maxDeliveries), Self.b(orphanIdleMs.load(ordering: .relaxed))]
        var i = 0
        while i + 1 + Self.itemWidth <= a.count {
            let key = a[i].bytes ?? []
            let (item, d, _, order) = Self.item(a[(i + 1)..<(i + 1 + Self.itemWidth)])
            candidates.append((key, item, order))
            let lost = d >= WorkQueueLimits.maxDeliveries ? Self.completionBytes(WorkQueueLimits.lost(item, deliveries: d)) : []
            args += [key, Self.b("\(item.task):\(item.attempt)"), Self.b(item.runID), lost]
            i += 1 + Self.itemWidth
        }
        let done = try eval(Self.expire, args).array
        var out: [(Int64, WorkItem)] = []
        var j = 0
        while j + Self.itemWidth <= done.count {
            let (item, _, _, order) = Self.item(done[j..<(j + Self.itemWidth)])
            out.append((order, item))
            j += Self.itemWidth
        }
        return out.sorted { $0.0 < $1.0 }.map(\.1)
    }

    public func renew(owner: String, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> Int {
        Int(try eval(Self.renew, [Self.b(owner), Self.b(nowMs), Self.b(leaseMs)]).int ?? 0)
    }

    public func release(owner: String) throws(StoreError) {
        _ = try eval(Self.release, [Self.b(owner)])
    }

    public func cancel(run runID: String, task: Int, attempt: Int) throws(StoreError) {
        _ = try eval(Self.cancel, [Self.b(itemKey(runID, task, attempt))])
    }

    public func completions(run runID: String, reader: String) throws(StoreError) -> [WorkCompletion] {
        let a = try eval(Self.completions, [Self.b(runID), Self.b(reader)]).array
        var out: [WorkCompletion] = []
        for r in a { out.append(try decodeCompletion(r.bytes ?? [], runID: runID)) }
        return out
    }

    public func acknowledge(run runID: String, _ items: [WorkItem]) throws(StoreError) {
        guard !items.isEmpty else { return }
        _ = try eval(Self.acknowledge, [Self.b(runID)] + items.map { Self.b("\($0.task):\($0.attempt)") })
    }

    public func forget(run runID: String) throws(StoreError) {
        _ = try eval(Self.forget, [Self.b(runID)])
    }

    public func cancelled(owner: String) throws(StoreError) -> [WorkItem] {
        let a = try eval(Self.cancelled, [Self.b(owner)], read: true).array
        var out: [(WorkItem, Int64)] = []
        var i = 0
        while i + Self.itemWidth <= a.count {
            let (item, _, _, order) = Self.item(a[i..<(i + Self.itemWidth)])
            out.append((item, order))
            i += Self.itemWidth
        }
        return out.sorted { $0.1 < $1.1 }.map(\.0)
    }

    public func deadLetter(_ entries: [DeadLetterEntry]) throws(StoreError) {
        guard !entries.isEmpty else { return }
        _ = try eval(Self.deadLetter, Self.deadLetterArgs(entries))
    }

    public func deadLetters(run runID: String?) throws(StoreError) -> [DeadLetterEntry] {
        let a = try eval(Self.deadLetters, [Self.b(runID ?? "")], read: true).array
        let n = Self.deadLetterFields.count
        return stride(from: 0, to: a.count - a.count % n, by: n).map { i in
            let f = a[i..<(i + n)].map { $0.text ?? "" }
            return DeadLetterEntry(runID: f[0], seq: Int(f[1]) ?? 0, task: Int(f[2]) ?? 0, taskName: f[3],
                                   kind: DeadLetterEntry.Kind(rawValue: f[4]) ?? .deadLettered, errorClass: f[5], message: f[6],
                                   attempts: Int(f[7]) ?? 0, atMs: Int64(f[8]) ?? 0, principal: f[9])
        }
    }

    public func depth() throws(StoreError) -> QueueDepth {
        let a = try eval(Self.depth, [], read: true).array
        guard a.count >= 2 else { return QueueDepth() }
        var d = QueueDepth(owners: Int(a[1].int ?? 0), offered: a[0].int ?? 0)
        var i = 2
        while i + 2 < a.count {
            let queue = a[i + 1].text ?? "", n = Int(a[i + 2].int ?? 0)
            if a[i].text == "q" { d.queued[queue] = n } else { d.leased[queue] = n }
            i += 3
        }
        return d
    }

    // MARK: Completion codec

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    static func unhex(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let v = UInt8(String(decoding: u[i..<(i + 2)], as: UTF8.self), radix: 16) else { return nil }
            out.append(v)
            i += 2
        }
        return out
    }

    /// The completion as stored: its item, owner, log, and the outcome as the journal
    /// event it becomes (at time 0), so the journal codec decodes it.
    static func completionBytes(_ c: WorkCompletion) -> [UInt8] {
        let i = c.item
        let outcome = Journal.eventBytes(c.outcome.event(task: i.task, attempt: i.attempt, atMs: 0))
        let v: JSONValue = .object([
            ("item", .object([("run", .string(i.runID)), ("task", .int(Int64(i.task))), ("attempt", .int(Int64(i.attempt))),
                              ("agent", .int(Int64(i.agent))), ("key", .string(i.idempotencyKey)), ("queue", .string(i.queue)),
                              ("priority", .int(Int64(i.priority))), ("payload", .string(hex(i.payload)))])),
            ("owner", .string(c.owner)), ("outcome", .string(String(decoding: outcome, as: UTF8.self))),
            ("log", c.log.map(RedisStore.logJSON) ?? .null),
        ])
        return CanonicalJSON.encode(v)
    }

    func decodeCompletion(_ bytes: [UInt8], runID: String) throws(StoreError) -> WorkCompletion {
        func corrupt(_ why: String) -> StoreError {
            StoreError(.corrupt, path: location, message: "run `\(runID)`: a work completion \(why)")
        }
        let v: JSONValue
        do { v = try JSONParser.parse(bytes) } catch { throw corrupt("is not JSON: \(error.description)") }
        guard let it = v["item"], case .string(let run)? = it["run"], case .int(let task)? = it["task"], case .int(let attempt)? = it["attempt"],
              case .int(let agent)? = it["agent"], case .string(let key)? = it["key"], case .string(let queue)? = it["queue"],
              case .int(let priority)? = it["priority"], case .string(let payloadHex)? = it["payload"], let payload = Self.unhex(payloadHex),
              case .string(let owner)? = v["owner"], case .string(let outcomeText)? = v["outcome"] else { throw corrupt("lacks a field") }
        let event: Event
        do { event = try Event.decode(try JSONParser.parse(Array(outcomeText.utf8))) } catch { throw corrupt("has an outcome that does not decode: \(error)") }
        let outcome: WorkOutcome
        if case .taskSucceeded(_, _, let o, let cost, let tokens, _) = event {
            outcome = .succeeded(outputs: o, costMicros: cost, tokens: tokens)
        } else if case .taskFailed(_, _, let e, let m, let cost, let tokens, _, let wait) = event {
            outcome = .failed(errorClass: e, message: m, costMicros: cost, tokens: tokens, retryAfterMs: wait)
        } else {
            throw corrupt("has an outcome that is not a task's end")
        }
        var log: AttemptLogRow?
        if let l = v["log"], l != .null {
            guard let parsed = RedisStore.log(l) else { throw corrupt("has a log that lacks a field") }
            log = parsed
        }
        let item = WorkItem(runID: run, task: Int(task), attempt: Int(attempt), agent: Int(agent), idempotencyKey: key, queue: queue,
                            priority: Int(priority), payload: payload)
        return WorkCompletion(item: item, owner: owner, outcome: outcome, log: log)
    }
}
