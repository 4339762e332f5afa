// The PostgreSQL backend: `JournalStore`, `RunInbox`, `WorkQueue` and `RunLease` over
// libpq (DISTRIBUTED-NOTES.md §2). One `PostgresBackend` names a database and a schema;
// its factories open one connection per object (a PGconn serves one caller at a time),
// and share the book of run leases this process holds, so the store fences its appends
// with the epoch the lease was granted.
import CPostgres
import EzflowPorts
import Foundation
import Synchronization

/// The libpq version this was built against, e.g. 150018.
public func postgresLibraryVersion() -> Int { Int(PQlibVersion()) }

/// The run leases this process holds, by run: the epoch granted, and whether the
/// lease's session has since been lost (a lost session is a lost lease).
final class LeaseBook: Sendable {
    struct Held: Sendable {
        var epoch: Int
        var owner: String
        var lost = false
        /// The lease session's server process and advisory lock key: an append checks
        /// the lock is still held by it (the keep-alive notices a dead session only
        /// within a second).
        var pid: Int32? = nil
        var key = ""
    }
    let held = Mutex<[String: Held]>([:])

    subscript(run: String) -> Held? { held.withLock { $0[run] } }
}

/// A PostgreSQL database and schema holding ezflow's runs and work queue.
public final class PostgresBackend: Sendable {
    public let schema: String
    /// The conninfo without its password, with the schema (for messages).
    public let location: String
    let conninfo: String
    let book = LeaseBook()
    private let admin: PGConnection

    /// `conninfo`: as libpq takes it, key=value pairs or a `postgres://` URI (`sslmode`,
    /// `sslrootcert`, `passfile`, several hosts with `target_session_attrs` pass through).
    /// `schema`: lower-case letters, digits and `_`. Connects on first use.
    public init(conninfo: String, schema: String = "ezflow") throws(StoreError) {
        guard PostgresSchema.isValidName(schema) else {
            throw StoreError(.misuse, path: PG.redact(conninfo), message: "`\(schema)` is not a schema name ezflow uses",
                             nextStep: "name a schema with lower-case letters, digits and _ (at most 63)")
        }
        // libpq's own parser, without connecting: a URL it refuses (a port that is no
        // number, an unknown parameter) is the caller's input, not an outage.
        var err: UnsafeMutablePointer<CChar>? = nil
        if let options = PQconninfoParse(conninfo, &err) {
            // The parser takes any value (the connect refuses a bad one, which would read as
            // an outage): check the port and the usual settings here too.
            var values: [String: String] = [:]
            var o = options
            while let k = o.pointee.keyword {
                if let v = o.pointee.val { values[String(cString: k)] = String(cString: v) }
                o += 1
            }
            PQconninfoFree(options)
            if let why = Self.settingRefusal(values) {
                throw StoreError(.misuse, path: PG.redact(conninfo), message: why, nextStep: "fix the URL (libpq's connection parameters)")
            }
        } else {
            let why = err.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "out of memory"
            if let err { PQfreemem(err) }
            // libpq quotes the part it refused, which may be a password: say it only when
            // the URL holds none.
            let authority = conninfo.components(separatedBy: "://").dropFirst().first?.prefix { $0 != "/" && $0 != "?" } ?? ""
            let password = conninfo.lowercased().contains("password") || (authority.contains("@") && authority.split(separator: "@")[0].contains(":"))
            throw StoreError(.misuse, path: PG.redact(conninfo), message: "libpq cannot read this connection string" + (password ? "" : ": \(why)"),
                             nextStep: "fix the URL (libpq's form: postgresql://[user[:password]@]host[:port]/dbname[?param=value&...])")
        }
        self.conninfo = conninfo
        self.schema = schema
        self.admin = PGConnection(conninfo: conninfo, schema: schema)
        self.location = admin.location
    }

    /// Why libpq would refuse these parsed settings at connect time, or nil: ports are
    /// 1…65535 (one per host), `connect_timeout` a whole number, and the usual choices
    /// one of libpq's words. Values named are never a password.
    static func settingRefusal(_ v: [String: String]) -> String? {
        for p in (v["port"] ?? "").split(separator: ",", omittingEmptySubsequences: false) where !p.isEmpty {
            guard let n = Int(p), (1...65_535).contains(n) else { return "`\(p)` is not a port (1…65535)" }
        }
        if let t = v["connect_timeout"], !t.isEmpty, Int(t) == nil { return "connect_timeout `\(t)` is not a whole number of seconds" }
        let choices = ["sslmode": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
                       "target_session_attrs": ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"],
                       "gssencmode": ["disable", "prefer", "require"], "channel_binding": ["disable", "prefer", "require"]]
        for (key, allowed) in choices.sorted(by: { $0.key < $1.key }) {
            if let x = v[key], !x.isEmpty, !allowed.contains(x) { return "\(key) `\(x)` is not one of \(allowed.joined(separator: ", "))" }
        }
        return nil
    }

    /// Opens from what a user passes as a database (`--db`): a `postgres://` or
    /// `postgresql://` URI, or key=value pairs, either of which may name the schema
    /// (`?schema=NAME` / `schema=NAME`, default `ezflow`); the schema is taken out before
    /// libpq sees the rest (libpq refuses keys it does not know).
    public convenience init(url: String) throws(StoreError) {
        let (conninfo, schema) = Self.splitSchema(url)
        try self.init(conninfo: conninfo, schema: schema ?? "ezflow")
    }

    /// `url` without its schema parameter, and the schema it named.
    static func splitSchema(_ url: String) -> (conninfo: String, schema: String?) {
        let s = url.trimmingCharacters(in: .whitespaces)
        var schema: String?
        if s.hasPrefix("postgres://") || s.hasPrefix("postgresql://") {
            guard let q = s.firstIndex(of: "?") else { return (s, nil) }
            var kept: [Substring] = []
            for pair in s[s.index(after: q)...].split(separator: "&") {
                if pair.hasPrefix("schema=") { schema = String(pair.dropFirst("schema=".count)) } else { kept.append(pair) }
            }
            return (String(s[..<q]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&")), schema)
        }
        var kept: [Substring] = []
        for pair in s.split(separator: " ") {
            if pair.hasPrefix("schema=") { schema = String(pair.dropFirst("schema=".count)) } else { kept.append(pair) }
        }
        return (kept.joined(separator: " "), schema)
    }

    /// The schema version this build writes.
    public static var schemaVersion: Int { PostgresSchema.current }

    /// Creates the schema or brings it to this build's version (`ezrun db migrate`).
    @discardableResult
    public func migrate() throws(StoreError) -> (from: Int, to: Int) {
        try admin.with { s throws(StoreError) in try PostgresSchema.migrate(s, schema: schema) }
    }

    /// A journal store and inbox on a connection of its own.
    public func store() -> PostgresStore { PostgresStore(backend: self) }

    /// A work queue on a connection of its own (a worker's `registerWorker` lock lives on it).
    public func queue() -> PostgresWorkQueue { PostgresWorkQueue(backend: self) }

    /// Run leases, one session per run held.
    public func lease() -> PostgresRunLease { PostgresRunLease(backend: self) }

    /// A listener for `notify` of `kind` on a connection of its own (connected at its first wait).
    public func listener(_ kind: WakeUp = .offers) -> PostgresListener { PostgresListener(conninfo: conninfo, schema: schema, kind: kind) }

    /// Whether some session holds run `runID`'s lease (its advisory lock): a standby's
    /// probe before it tries to adopt the run, on this backend's own connection instead of
    /// a lease session of its own.
    public func runLeaseHeld(_ runID: String) throws(StoreError) -> Bool {
        try admin.with { s throws(StoreError) in
            try s.exec("""
                SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
                               AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0))
                """, [lockName("run:" + runID)]).first?.bool(0) == true
        }
    }

    /// The server's wall clock in ms: what `BackendClock` aligns to.
    public func serverTimeMs() throws(StoreError) -> Int64 {
        try admin.with { s throws(StoreError) in
            try s.exec("SELECT \(PG.serverMs)").first?.int(0) ?? 0
        }
    }

    /// One wake-up of `kind` (workers and coordinators poll anyway: a wake-up only makes
    /// them look sooner).
    public func notify(_ payload: String = "", _ kind: WakeUp = .offers) throws(StoreError) {
        try admin.with { s throws(StoreError) in
            _ = try s.exec("SELECT pg_notify($1, $2)", [PostgresListener.channel(kind, schema: schema), String(payload.prefix(200))])
        }
    }

    /// A connection for one store or queue object: schema checked on every new session.
    func connection(setUp: @escaping @Sendable (PGSession) throws(StoreError) -> Void = { _ throws(StoreError) in })
        -> PGConnection {
        PGConnection(conninfo: conninfo, schema: schema) { s throws(StoreError) in
            try PostgresSchema.check(s)
            try setUp(s)
        }
    }

    /// A session that is never reopened behind the caller's back (a run lease).
    func session() -> PGConnection { PGConnection(conninfo: conninfo, schema: schema, reconnects: false) }

    /// Runs one statement on the backend's own connection (tests).
    @discardableResult
    func rawExec(_ sql: String, _ params: [String?] = []) throws(StoreError) -> [[String?]] {
        try admin.with { s throws(StoreError) in try s.exec(sql, params).rows }
    }

    /// Drops the schema and everything in it (tests).
    func dropSchema() throws(StoreError) {
        try admin.with { s throws(StoreError) in try s.execScript("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE") }
        admin.close()
    }

    /// The advisory lock key of `what` in this schema (runs and workers of two schemas
    /// never share a lock).
    func lockName(_ what: String) -> String { schema + ":ezflow:" + what }
}
