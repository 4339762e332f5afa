// Where runs live when more than one process works on them: a backend URL opened into
// the ports a coordinator and a worker need. `sqlite:PATH` is the embedded store shared
// by processes on one machine (its queue is the store's own `work_items` table, leases are
// `flock`s); `postgres://…`/`postgresql://…` and `redis://…` are the distributed ones.
// Each opened backend is one connection's worth of ports: a process opens one per role.
import EzflowPorts
import EzflowPostgres
import EzflowRedis
import EzflowRuntime
import EzflowStore
import Foundation
import Synchronization

/// The ports one process gets from a backend.
public struct BackendPorts: Sendable {
    public var store: any JournalStore & RunInbox
    public var queue: any WorkQueue
    public var lease: any RunLease
    /// Waits up to the given milliseconds for a wake-up of a kind (a worker: `.offers`, a
    /// coordinator: `.results`).
    public var wait: @Sendable (WakeUp, Int64) -> Void
    /// Wakes the other processes' waits of a kind (`.offers` after an offer, `.results`
    /// after a completion).
    public var notify: @Sendable (WakeUp) -> Void
    /// The backend as messages name it: the URL without a password.
    public var location: String
    /// Makes a worker's death visible to the reapers at once, where the backend can
    /// (PostgreSQL: a session advisory lock per worker); called once before it claims.
    public var registerWorker: @Sendable (String, Millis) throws(StoreError) -> Void = { _, _ throws(StoreError) in }
    /// Whether some coordinator holds a run's lease now (a cheap probe: a standby asks it
    /// before it opens anything to adopt the run).
    public var leaseHeld: @Sendable (String) throws(StoreError) -> Bool = { _ throws(StoreError) in false }
    /// The backend server's wall clock in ms (`BackendClock`); this machine's for sqlite.
    public var serverTimeMs: @Sendable () throws(StoreError) -> Millis = { () throws(StoreError) in BackendClock.systemMs() }
    /// The store writes the queue's rows in its journal appends (`RunPorts.queueInStore`).
    public var queueInStore = false
    /// Brings the backend's schema to this ezrun's version (`ezrun db migrate`): from and to.
    public var migrate: @Sendable () throws(StoreError) -> (from: Int, to: Int) = { () throws(StoreError) in (0, 0) }
}

public enum Backend {
    public enum Kind: String, Sendable { case sqlite, postgres, redis }

    /// A URL that names a backend, with its kind; nil for anything else (a plain path).
    public static func kind(of url: String) -> Kind? {
        if url.hasPrefix("sqlite:") { return .sqlite }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") { return .postgres }
        if url.hasPrefix("redis://") { return .redis }
        return nil
    }

    /// `url` for messages: a password in it is replaced by `***`, in the user part (up to
    /// the last `@`: a password may hold one) and in `password=`/`sslpassword=` query or
    /// key=value parameters, which libpq also reads.
    public static func redacted(_ url: String) -> String {
        var out = url
        if let scheme = out.range(of: "://") {
            // The user part ends at the LAST `@`: a password may hold `@`, `/` or `?`
            // unencoded (a `@` in a query makes this hide more than the user part: safe).
            let rest = out[scheme.upperBound...]
            if let at = rest.lastIndex(of: "@") {
                if let colon = rest[..<at].firstIndex(of: ":") {
                    out = String(out[..<colon]) + ":***" + String(out[at...])
                } else if out.hasPrefix("redis://") {
                    // `redis://SECRET@host`: a user part without `:` is a password there
                    // (in a PostgreSQL URL it is the user name).
                    out = String(out[..<rest.startIndex]) + "***" + String(out[at...])
                }
            }
        }
        for key in ["password=", "sslpassword="] {
            var searchFrom = out.startIndex
            while let r = out.range(of: key, range: searchFrom..<out.endIndex) {
                let before = r.lowerBound == out.startIndex ? " " : out[out.index(before: r.lowerBound)]
                guard before == "?" || before == "&" || before == " " else { searchFrom = r.upperBound; continue }
                let end = out[r.upperBound...].firstIndex { $0 == "&" || $0 == " " } ?? out.endIndex
                out.replaceSubrange(r.upperBound..<end, with: "***")
                searchFrom = out.index(r.upperBound, offsetBy: 3, limitedBy: out.endIndex) ?? out.endIndex
            }
        }
        return out
    }

    /// How long a sqlite backend's waits last at most: it has no wake-up across processes.
    static let sqlitePollMs: Int64 = 20

    /// Checks `url` as written, without connecting: a URL ezflow cannot use is `misuse`
    /// (the caller's input; a worker checks its fallback before the loop that opens it).
    public static func check(_ url: String) throws(StoreError) {
        switch kind(of: url) {
        case .sqlite?:
            let path = String(url.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw usage(url, "a sqlite backend needs a path") }
            // `sqlite://x` would name the file `//x` (and keep any user:password in its name).
            guard !path.hasPrefix("//") else { throw usage(url, "write sqlite:PATH (sqlite:/abs/path.db or sqlite:rel/path.db), not sqlite://") }
        case .redis?:
            try RedisBackend.checkAddress(try splitNamespace(url).url)
        case .postgres?:
            let (plain, namespace) = try splitNamespace(url)
            // libpq ends the user part at the first `@` and would read the rest of the
            // password as the host, then echo that host in its error: refuse it here.
            if let scheme = plain.range(of: "://") {
                let rest = plain[scheme.upperBound...]
                let authority = rest.prefix { $0 != "/" && $0 != "?" }
                if authority.filter({ $0 == "@" }).count > 1 {
                    throw usage(url, "the URL has more than one `@` before its host: write an `@` of the password as %40")
                }
                // A `/` or `?` in the password ends the host for libpq, which would then
                // echo the rest of the password in its error.
                if let lastAt = rest.lastIndex(of: "@"), let cut = rest.firstIndex(where: { $0 == "/" || $0 == "?" }), cut < lastAt {
                    throw usage(url, "the URL has a `/` or `?` before its `@`: write those of the password as %2F and %3F")
                }
            }
            _ = try PostgresBackend(conninfo: plain, schema: namespace ?? "ezflow")  // checks the schema name; connects on first use
        case nil:
            throw usage(url, "not a backend URL")
        }
    }

    /// Opens `url` for one process.
    public static func open(_ url: String) throws(StoreError) -> BackendPorts {
        try check(url)
        switch kind(of: url) {
        case .sqlite?:
            let path = String(url.dropFirst("sqlite:".count))
            let store = try openSQLite(path)
            let lease = FileRunLease(storePath: path)
            return BackendPorts(store: store, queue: SQLiteWorkQueue(store: store), lease: lease,
                                wait: { _, ms in usleep(UInt32(max(1, min(ms, sqlitePollMs))) * 1000) }, notify: { _ in }, location: path,
                                leaseHeld: { run in lease.holder(run: run) != nil })
        case .redis?:
            let (plain, namespace) = try splitNamespace(url)
            let backend = try RedisBackend(url: plain, prefix: (namespace ?? "ezflow") + ":")
            // Subscribed now, one connection per kind: a wake-up sent after `open` returns is
            // never missed, whichever role the process takes.
            let listeners = (offers: WakeSlot(try backend.listener(.offers)), results: WakeSlot(try backend.listener(.results)))
            // A run lease of 5 s renewed every third of it: a frozen or killed coordinator's
            // runs are adopted within about 6 s.
            return BackendPorts(store: backend.store(), queue: backend.queue(), lease: backend.lease(ttlMs: 5_000),
                                wait: { kind, ms in
                                    // A subscriber whose connection was lost (a server restart)
                                    // is replaced; meanwhile a wait is a short sleep, never a spin.
                                    let slot = kind == .offers ? listeners.offers : listeners.results
                                    let l = slot.listener.withLock { l -> RedisWakeListener? in
                                        if l == nil { l = try? backend.listener(kind) }
                                        return l
                                    }
                                    do throws(StoreError) {
                                        guard let l else { throw StoreError(.unavailable, path: backend.location, message: "no subscriber") }
                                        _ = try l.wait(timeoutMs: Int(max(1, ms)))
                                    } catch {
                                        slot.listener.withLock { $0 = nil }
                                        usleep(UInt32(min(max(1, ms), 200)) * 1000)
                                    }
                                },
                                notify: { kind in try? backend.notify(kind) }, location: backend.location,
                                leaseHeld: { run throws(StoreError) in try backend.runLeaseHeld(run) },
                                serverTimeMs: { () throws(StoreError) in try backend.serverTimeMs() })
        case .postgres?:
            let (plain, namespace) = try splitNamespace(url)
            let backend = try PostgresBackend(conninfo: plain, schema: namespace ?? "ezflow")
            let queue = backend.queue()
            // Each connects (and LISTENs) at its first wait: a process uses one.
            let listeners = (offers: backend.listener(.offers), results: backend.listener(.results))
            return BackendPorts(store: backend.store(), queue: queue, lease: backend.lease(),
                                wait: { kind, ms in
                                    // LISTEN again after a lost session; a wait that fails is
                                    // a short sleep: the caller polls anyway.
                                    let listener = kind == .offers ? listeners.offers : listeners.results
                                    do throws(StoreError) {
                                        try listener.listen()
                                        _ = try listener.wait(timeoutMs: Int(max(1, ms)))
                                    } catch { usleep(UInt32(min(max(1, ms), 200)) * 1000) }
                                },
                                // Results: `PostgresWorkQueue.complete` notifies in its own statement.
                                notify: { kind in if kind == .offers { try? backend.notify("", kind) } }, location: backend.location,
                                registerWorker: { owner, now throws(StoreError) in try queue.registerWorker(owner: owner, nowMs: now) },
                                leaseHeld: { run throws(StoreError) in try backend.runLeaseHeld(run) },
                                serverTimeMs: { () throws(StoreError) in try backend.serverTimeMs() }, queueInStore: true,
                                migrate: { () throws(StoreError) in try backend.migrate() })
        case nil:
            throw usage(url, "not a backend URL")
        }
    }

    /// Opens the store, waiting out another process that is creating or migrating the
    /// same new file (workers started together).
    static func openSQLite(_ path: String) throws(StoreError) -> DurableStore {
        var tries = 0
        while true {
            do { return try DurableStore(path: path) } catch where error.kind == .busy && tries < 50 {
                tries += 1
                usleep(100_000)
            }
        }
    }

    /// The URL without its `namespace=NAME` query parameter (ezflow's, not the server's:
    /// the key prefix or schema that keeps several ezflow installations on one server
    /// apart), and that name.
    static func splitNamespace(_ url: String) throws(StoreError) -> (url: String, namespace: String?) {
        guard let q = url.firstIndex(of: "?") else { return (url, nil) }
        var kept: [Substring] = []
        var namespace: String?
        for p in url[url.index(after: q)...].split(separator: "&") {
            if p.hasPrefix("namespace=") {
                let n = String(p.dropFirst("namespace=".count))
                guard !n.isEmpty, n.count <= 48, n.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    throw usage(url, "namespace= takes 1…48 ASCII letters, digits and `_`")
                }
                namespace = n
            } else {
                kept.append(p)
            }
        }
        let base = String(url[..<q])
        return (kept.isEmpty ? base : base + "?" + kept.joined(separator: "&"), namespace)
    }

    static let forms = "sqlite:PATH, postgres://[USER@]HOST[:PORT]/DB (or postgresql://, any libpq URI) or redis://HOST:PORT"

    /// A URL ezflow cannot use as written (`misuse`: the caller's input, exit 2).
    static func usage(_ url: String, _ what: String) -> StoreError {
        StoreError(.misuse, path: redacted(url), message: what, nextStep: "a backend is one of \(forms)")
    }
}

/// A Redis subscriber of one kind, replaced when its connection is lost (nil meanwhile).
final class WakeSlot: Sendable {
    let listener: Mutex<RedisWakeListener?>
    init(_ l: RedisWakeListener) { listener = Mutex(l) }
}
