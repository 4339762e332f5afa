// The Redis backend: `JournalStore`, `RunInbox`, `WorkQueue` and `RunLease` over hiredis
// and Redis Streams (DISTRIBUTED-NOTES.md §2). One `RedisBackend` is one server and one
// key prefix: every key it writes starts with the prefix, so several deployments (and
// the tests, each with its own `ez_t_<uuid>:`) share a server without seeing each other.
// The factories share the process's run leases, so a store can fence a journal append by
// the epoch its own process was granted (`RedisStore.append`).
import CRedis
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Foundation
import Synchronization

/// The hiredis version this was built against, e.g. "0.14.1".
public func redisLibraryVersion() -> String { "\(HIREDIS_MAJOR).\(HIREDIS_MINOR).\(HIREDIS_PATCH)" }

/// The run leases this process holds through `RedisRunLease`: run → (owner, epoch).
final class HeldLeases: Sendable {
    private let held = Mutex<[String: (owner: String, epoch: Int)]>([:])
    func get(_ runID: String) -> (owner: String, epoch: Int)? { held.withLock { $0[runID] } }
    func set(_ runID: String, _ v: (owner: String, epoch: Int)?) { held.withLock { $0[runID] = v } }
    func all() -> [(run: String, owner: String, epoch: Int)] { held.withLock { $0.map { ($0.key, $0.value.owner, $0.value.epoch) } } }
}

/// One Redis server (`host:port` or `redis://[user:password@]host:port[/db]`) under one key prefix.
public final class RedisBackend: Sendable {
    public let prefix: String
    /// The server's address without its password (for messages).
    public let location: String
    let address: RedisAddress
    let held = HeldLeases()
    let admin: RedisConnection

    /// Connects and refuses a server that could lose queued work or journals (not
    /// `appendonly yes`, or an eviction policy other than `noeviction`).
    public init(url: String, prefix: String = "ezflow:") throws(StoreError) {
        address = try RedisAddress(url)
        location = address.location
        self.prefix = prefix
        admin = RedisConnection(address: address)
        try admin.checkDurability()
    }

    /// Checks a `redis://` URL (or `host:port`) as written, without connecting.
    public static func checkAddress(_ url: String) throws(StoreError) { _ = try RedisAddress(url) }

    func connection() -> RedisConnection { RedisConnection(address: address) }

    public func store() -> RedisStore { RedisStore(backend: self) }
    public func queue() -> RedisWorkQueue { RedisWorkQueue(backend: self) }
    /// A run lease whose keys live `ttlMs` unless renewed (a thread renews held ones every ttl/3).
    public func lease(ttlMs: Millis = 30_000) -> RedisRunLease { RedisRunLease(backend: self, ttlMs: ttlMs) }

    /// The wake-up channel (`PUBLISH`): a hint that there is something to do, never the
    /// work itself (a listener that was disconnected misses it and polls).
    func wakeChannel(_ kind: WakeUp) -> String { prefix + (kind == .offers ? "wake" : "wake:results") }

    /// Whether some coordinator holds run `runID`'s lease: a standby's probe before it
    /// tries to adopt the run (one command on this backend's connection).
    public func runLeaseHeld(_ runID: String) throws(StoreError) -> Bool {
        try admin.read("EXISTS", prefix + "lease:" + runID).int == 1
    }

    /// The server's wall clock in ms (`TIME`): what `BackendClock` aligns to.
    public func serverTimeMs() throws(StoreError) -> Millis {
        let r = try admin.read("TIME").array
        guard r.count == 2, let s = r[0].int ?? r[0].text.flatMap({ Int64($0) }), let us = r[1].int ?? r[1].text.flatMap({ Int64($0) }) else {
            throw StoreError(.integrity, path: location, message: "TIME answered something other than seconds and microseconds")
        }
        return s * 1000 + us / 1000
    }

    /// Wakes every `RedisWakeListener` of `kind` of this prefix (retried on a cut
    /// connection: a second wake-up is harmless).
    public func notify(_ kind: WakeUp = .offers) throws(StoreError) { _ = try admin.checked("PUBLISH", wakeChannel(kind), "1", retry: true) }

    /// A listener of `kind` on its own connection, subscribed before this returns (a
    /// notify sent after it returns is never missed while the connection lives).
    public func listener(_ kind: WakeUp = .offers) throws(StoreError) -> RedisWakeListener { try RedisWakeListener(backend: self, kind: kind) }

    /// Deletes every key under the prefix (SCAN + DEL; tests' tearDown).
    public func removeAllKeys() throws(StoreError) {
        var cursor = "0"
        repeat {
            let r = try admin.read("SCAN", cursor, "MATCH", Self.globEscaped(prefix) + "*", "COUNT", "500")
            cursor = r.array.first?.text ?? "0"
            let keys = (r.array.count > 1 ? r.array[1].array : []).compactMap(\.bytes)
            if !keys.isEmpty { _ = try admin.checked([Array("DEL".utf8)] + keys, retry: true) }
        } while cursor != "0"
    }

    static func globEscaped(_ s: String) -> String {
        String(s.flatMap { "*?[]\\".contains($0) ? ["\\", $0] : [$0] })
    }
}

/// Waits for `RedisBackend.notify` on its own subscribed connection.
public final class RedisWakeListener: Sendable {
    private let conn: RedisConnection
    private let channel: String

    init(backend: RedisBackend, kind: WakeUp) throws(StoreError) {
        conn = backend.connection()
        channel = backend.wakeChannel(kind)
        try conn.subscribe(channel)
    }

    /// True when a wake-up came within `timeoutMs`; false on timeout. After `unavailable`
    /// open a new listener and poll once: wake-ups sent meanwhile are gone.
    public func wait(timeoutMs: Int) throws(StoreError) -> Bool { try conn.waitForMessage(timeoutMs: timeoutMs) }
}
