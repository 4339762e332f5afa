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

/// The ports one process gets from a backend.
public struct BackendPorts: Sendable {
    public var store: any JournalStore & RunInbox
    public var queue: any WorkQueue
    public var lease: any RunLease
    /// Waits up to the given milliseconds for a wake-up (new work or a completion).
    public var wait: @Sendable (Int64) -> Void
    /// Wakes the other processes' `wait` (after an offer or a completion).
    public var notify: @Sendable () -> Void
    /// The backend as messages name it: the URL without a password.
    public var location: String
    /// Makes a worker's death visible to the reapers at once, where the backend can
    /// (PostgreSQL: a session advisory lock per worker); called once before it claims.
    public var registerWorker: @Sendable (String, Millis) throws(StoreError) -> Void = { _, _ throws(StoreError) in }
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

    /// `url` for messages: a password in it is replaced by `***`.
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        let user = url[scheme.upperBound..<at]
        guard let colon = user.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    /// How long a sqlite backend's waits last at most: it has no wake-up across processes.
    static let sqlitePollMs: Int64 = 20

    /// Opens `url` for one process.
    public static func open(_ url: String) throws(StoreError) -> BackendPorts {
        switch kind(of: url) {
        case .sqlite?:
            let path = String(url.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw usage(url, "a sqlite backend needs a path") }
            let store = try openSQLite(path)
            return BackendPorts(store: store, queue: SQLiteWorkQueue(store: store), lease: FileRunLease(storePath: path),
                                wait: { ms in usleep(UInt32(max(1, min(ms, sqlitePollMs))) * 1000) }, notify: {}, location: path)
        case .redis?:
            let (plain, namespace) = try splitNamespace(url)
            let backend = try RedisBackend(url: plain, prefix: (namespace ?? "ezflow") + ":")
            let listener = try backend.listener()
            // A run lease of 5 s renewed every third of it: a frozen or killed coordinator's
            // runs are adopted within about 6 s.
            return BackendPorts(store: backend.store(), queue: backend.queue(), lease: backend.lease(ttlMs: 5_000),
                                wait: { ms in _ = try? listener.wait(timeoutMs: Int(max(1, ms))) },
                                notify: { try? backend.notify() }, location: backend.location)
        case .postgres?:
            let (plain, namespace) = try splitNamespace(url)
            let backend = try PostgresBackend(conninfo: plain, schema: namespace ?? "ezflow")
            let queue = backend.queue()
            let listener = backend.listener()
            return BackendPorts(store: backend.store(), queue: queue, lease: backend.lease(),
                                wait: { ms in
                                    // LISTEN again after a lost session; a wait that fails is
                                    // a short sleep: the caller polls anyway.
                                    do throws(StoreError) {
                                        try listener.listen()
                                        _ = try listener.wait(timeoutMs: Int(max(1, ms)))
                                    } catch { usleep(UInt32(min(max(1, ms), 200)) * 1000) }
                                },
                                notify: { try? backend.notify() }, location: backend.location,
                                registerWorker: { owner, now throws(StoreError) in try queue.registerWorker(owner: owner, nowMs: now) },
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

    static func usage(_ url: String, _ what: String) -> StoreError {
        StoreError(.schema, path: redacted(url), message: what, nextStep: "a backend is one of \(forms)")
    }
}
