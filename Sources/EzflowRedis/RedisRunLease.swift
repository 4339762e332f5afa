// The run lease on Redis: one key per run, `P lease:<run>` = "<epoch> <owner>", set with
// a TTL (PX) so a holder that dies (kill -9, a lost machine) keeps the run only until the
// TTL runs out; a thread renews the leases this object holds every ttl/3. The epoch is an
// INCR counter (`P epoch:<run>`) that never goes back, so every grant is greater than the
// last; `RedisStore.append` compares the key with the epoch this process was granted, so
// a coordinator that stalled past its TTL cannot write after another one took over. The
// TTL runs on the server's clock: a lease must end for a dead holder whatever the callers'
// clocks say (the work queue's leases, by contrast, follow the caller's `nowMs`).
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Foundation
import Synchronization

/// `RunLease` on Redis (from `RedisBackend.lease(ttlMs:)`).
public final class RedisRunLease: RunLease {
    let backend: RedisBackend
    public let ttlMs: Millis
    private let conn: RedisConnection
    private let renewer: RedisConnection
    /// Runs this object holds (renewed by the thread), and whether the thread still renews.
    private let mine = Mutex<(runs: Set<String>, paused: Bool, stopped: Bool)>(([], false, false))
    /// Runs whose renewal found the key expired or another holder's.
    private let lost = Mutex<Set<String>>([])

    init(backend: RedisBackend, ttlMs: Millis) {
        self.backend = backend
        self.ttlMs = max(ttlMs, 30)
        conn = backend.connection()
        renewer = backend.connection()
        let weak = WeakLease(self)
        let period = UInt32(clamping: self.ttlMs / 3 * 1000)
        // One tick holds the lease object only while it renews, never across the sleep.
        @Sendable func tick() -> Bool {
            guard let lease = weak.value else { return false }
            lease.renewAll()
            return !lease.mine.withLock { $0.stopped }
        }
        let t = Thread {
            while tick() { usleep(period) }
        }
        t.name = "ezflow-redis-lease"
        t.start()
    }

    deinit { mine.withLock { $0.stopped = true } }

    func key(_ runID: String) -> String { backend.prefix + "lease:" + runID }
    func epochKey(_ runID: String) -> String { backend.prefix + "epoch:" + runID }

    public func acquire(run runID: String, owner: String, nowMs: Millis) throws(LeaseError) -> Int {
        let r: RedisReply
        do throws(StoreError) {
            r = try conn.eval(Self.acquire, keys: [key(runID), epochKey(runID)], args: [Array(owner.utf8), Array(String(ttlMs).utf8)])
        } catch {
            throw LeaseError(runID: runID, holder: "", message: "run `\(runID)`: cannot take the run lease: \(error.description)")
        }
        let a = r.array
        guard a.count >= 2, let granted = a[0].int else {
            throw LeaseError(runID: runID, holder: "", message: "run `\(runID)`: the server gave an unexpected answer to the lease request")
        }
        guard granted == 1, let epoch = a[1].int else {
            let holder = a[1].text ?? ""
            let ms = a.count > 2 ? a[2].int ?? 0 : 0
            throw LeaseError(runID: runID, holder: holder,
                             message: "run `\(runID)` is being run by \(holder) (its lease ends in \(ms) ms unless renewed); wait for it or stop it first")
        }
        backend.held.set(runID, (owner, Int(epoch)))
        mine.withLock { _ = $0.runs.insert(runID) }
        lost.withLock { _ = $0.remove(runID) }
        return Int(epoch)
    }

    public func release(run runID: String, owner: String) {
        mine.withLock { _ = $0.runs.remove(runID) }
        if backend.held.get(runID)?.owner == owner { backend.held.set(runID, nil) }
        // Best effort: a release that does not reach the server leaves the key to its TTL.
        _ = try? conn.eval(Self.release, keys: [key(runID)], args: [Array(owner.utf8)], retry: true)
    }

    /// Extends every lease this object holds that is still ours. A lease found taken
    /// stays in `held`, so the store goes on refusing this process's appends.
    func renewAll() {
        let (runs, paused) = mine.withLock { ($0.runs, $0.paused) }
        guard !paused else { return }
        for run in runs {
            guard let h = backend.held.get(run) else { continue }
            // A renewal the server did not answer says nothing; one it refused says the
            // key expired or another holder has it.
            guard let r = try? renewer.eval(Self.renew, keys: [key(run)], args: [Array("\(h.epoch) \(h.owner)".utf8), Array(String(ttlMs).utf8)],
                                            retry: true) else { continue }
            if r.int == 0 { lost.withLock { _ = $0.insert(run) } }
        }
    }

    public func holds(run runID: String) -> Bool { !lost.withLock { $0.contains(runID) } }

    /// A test hook: stops renewing (a frozen holder), so the leases run out after the TTL.
    func pauseRenewal() { mine.withLock { $0.paused = true } }

    static let acquire = RedisScript("leaseAcquire", """
        local cur = redis.call('GET', KEYS[1])
        if cur then
          local holder = string.sub(cur, (string.find(cur, ' ') or 0) + 1)
          if holder ~= ARGV[1] then return {0, holder, redis.call('PTTL', KEYS[1])} end
        end
        local e = redis.call('INCR', KEYS[2])
        redis.call('SET', KEYS[1], e .. ' ' .. ARGV[1], 'PX', ARGV[2])
        return {1, e}
        """)

    static let release = RedisScript("leaseRelease", """
        local cur = redis.call('GET', KEYS[1])
        if cur and string.sub(cur, (string.find(cur, ' ') or 0) + 1) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)

    static let renew = RedisScript("leaseRenew", """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """)
}

/// The renewing thread's reference: it must not keep the lease object alive.
private final class WeakLease: @unchecked Sendable {
    weak var value: RedisRunLease?
    init(_ v: RedisRunLease) { value = v }
}
