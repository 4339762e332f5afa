// The single-writer lease of a run in PostgreSQL (DISTRIBUTED-NOTES.md §2, "Coordinator
// election"): per run held, a dedicated session holds `pg_try_advisory_lock` on the run.
// The server drops the lock when the session ends, so a killed coordinator frees its
// runs at once; a frozen or cut-off one is ended by `idle_session_timeout` (5 s) since
// its keep-alive (`SELECT 1` every second) stops. Each grant bumps the run's epoch in the
// `leases` table (the run row may not exist yet), and the store refuses an append whose
// epoch is no longer the run's. The session is never reopened behind the holder's back:
// a lost session is a lost lease, and the store is told so through the shared book.
import EzflowPorts
import EzflowRuntime
import Foundation
import Synchronization

/// `RunLease` over PostgreSQL advisory locks, one session per run held.
public final class PostgresRunLease: RunLease {
    private let backend: PostgresBackend
    private let sessions: Sessions
    private let keeper = Mutex<Thread?>(nil)

    /// The sessions held, shared with the keep-alive thread.
    final class Sessions: Sendable {
        struct Held: Sendable {
            var conn: PGConnection
            var owner: String
            var epoch: Int
        }
        let held = Mutex<[String: Held]>([:])
        let stop = Atomic<Bool>(false)
        /// Tests: a frozen process (its keep-alive stops, its sessions stay open).
        let frozen = Atomic<Bool>(false)
    }

    init(backend: PostgresBackend) {
        self.backend = backend
        sessions = Sessions()
    }

    deinit {
        sessions.stop.store(true, ordering: .relaxed)
        let all = sessions.held.withLock { h in
            defer { h.removeAll() }
            return h
        }
        for (run, h) in all {
            h.conn.close()
            forget(run, epoch: h.epoch)
        }
    }

    public func acquire(run runID: String, owner: String, nowMs: Millis) throws(LeaseError) -> Int {
        if let mine = sessions.held.withLock({ $0[runID] }) {
            guard mine.owner == owner else { throw refusal(runID, holder: mine.owner) }
            // A grant again (RunLease 2: every grant has a greater epoch), on the session
            // that holds the lock.
            let epoch: Int
            do {
                epoch = try mine.conn.with { s throws(StoreError) -> Int in
                    Int(try s.exec("UPDATE leases SET epoch = epoch + 1 WHERE run_id = $1 RETURNING epoch", [runID]).first?.int(0) ?? 0)
                }
            } catch {
                throw LeaseError(runID: runID, holder: "", message: "run `\(runID)`: cannot renew the run's lease: \(error.message); \(error.nextStep ?? error.advice)")
            }
            sessions.held.withLock { $0[runID]?.epoch = epoch }
            backend.book.held.withLock { $0[runID]?.epoch = epoch }
            return epoch
        }
        let session = backend.session()
        let key = backend.lockName("run:" + runID)
        let granted: (epoch: Int?, holder: String)
        do {
            granted = try session.with { s throws(StoreError) -> (epoch: Int?, holder: String) in
                try s.execScript("SET idle_session_timeout = '5s'")
                guard try s.exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [key]).first?.bool(0) == true else {
                    return (nil, try s.exec("SELECT owner FROM leases WHERE run_id = $1", [runID]).first?.text(0) ?? "")
                }
                let epoch = try s.exec("""
                    INSERT INTO leases(run_id, epoch, owner) VALUES ($1, 1, $2)
                    ON CONFLICT (run_id) DO UPDATE SET epoch = leases.epoch + 1, owner = excluded.owner RETURNING epoch
                    """, [runID, owner]).first?.int(0)
                return (epoch.map { Int($0) }, owner)
            }
        } catch {
            session.close()
            throw LeaseError(runID: runID, holder: "", message: "run `\(runID)`: cannot take the run's lease: \(error.message); \(error.nextStep ?? error.advice)")
        }
        guard let epoch = granted.epoch else {
            session.close()
            throw refusal(runID, holder: granted.holder)
        }
        sessions.held.withLock { $0[runID] = Sessions.Held(conn: session, owner: owner, epoch: epoch) }
        let pid = session.backendPID
        backend.book.held.withLock { $0[runID] = LeaseBook.Held(epoch: epoch, owner: owner, pid: pid, key: key) }
        startKeeper()
        return epoch
    }

    public func release(run runID: String, owner: String) {
        let h = sessions.held.withLock { held -> Sessions.Held? in
            guard let h = held[runID], h.owner == owner else { return nil }
            held[runID] = nil
            return h
        }
        guard let h else { return }
        forget(runID, epoch: h.epoch)
        // Closing the session ends the lock too; the unlock only makes it immediate for
        // a server that is slow to notice the disconnect.
        do {
            try h.conn.with { s throws(StoreError) in
                _ = try s.exec("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [backend.lockName("run:" + runID)])
            }
        } catch {}  // a lost session holds nothing
        h.conn.close()
    }

    /// Stops the keep-alive as a SIGSTOP would (tests).
    func freezeKeepAlive() { sessions.frozen.store(true, ordering: .relaxed) }

    /// The server process of the session holding `runID` (tests end it).
    func backendPID(run runID: String) -> Int32? { sessions.held.withLock { $0[runID] }?.conn.backendPID }

    private func refusal(_ runID: String, holder: String) -> LeaseError {
        LeaseError(runID: runID, holder: holder,
                   message: "run `\(runID)` is being run by another coordinator\(holder.isEmpty ? "" : " (\(holder))"); wait for it or stop it first")
    }

    private func forget(_ runID: String, epoch: Int) {
        backend.book.held.withLock { b in if b[runID]?.epoch == epoch { b[runID] = nil } }
    }

    /// False once the keep-alive found the run's lease session gone.
    public func holds(run runID: String) -> Bool { backend.book[runID]?.lost != true }

    /// One thread per lease object, started with the first grant: a `SELECT 1` on every
    /// session each second; a session that fails is a lost lease.
    private func startKeeper() {
        keeper.withLock { t in
            guard t == nil else { return }
            let sessions = self.sessions, book = backend.book
            let thread = Thread {
                while !sessions.stop.load(ordering: .relaxed) {
                    for _ in 0..<10 where !sessions.stop.load(ordering: .relaxed) { usleep(100_000) }
                    if sessions.stop.load(ordering: .relaxed) { break }
                    if sessions.frozen.load(ordering: .relaxed) { continue }
                    for (run, h) in sessions.held.withLock({ $0 }) {
                        do { try h.conn.with { s throws(StoreError) in _ = try s.exec("SELECT 1") } } catch {
                            sessions.held.withLock { held in if held[run]?.epoch == h.epoch { held[run] = nil } }
                            book.held.withLock { b in if b[run]?.epoch == h.epoch { b[run]?.lost = true } }
                            h.conn.close()
                        }
                    }
                }
            }
            thread.name = "ezflow-pg-lease"
            thread.start()
            t = thread
        }
    }
}
