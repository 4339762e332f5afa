// One libpq connection behind a `Mutex` (every C call is made with the lock held: a
// PGconn is not thread-safe). Queries are UNNAMED `PQexecParams` in text format: named
// prepared statements flip to generic plans after five runs and the queue's statistics
// are always stale (DISTRIBUTED-NOTES.md §2, "libpq from Swift"). `bytea` travels as hex
// text (`\x…`) both ways. A lost connection is `.unavailable`; a reconnecting connection
// opens a new session on the next call, a session connection (a run lease) never does:
// its advisory lock went with it.
import CPostgres
import EzflowPorts
import Foundation
import Synchronization

/// Rows copied out of a `PGresult` (text values; nil is SQL NULL).
struct PGRows: Sendable {
    var rows: [[String?]] = []
    /// `PQcmdTuples`: rows an INSERT/UPDATE/DELETE touched.
    var affected = 0

    var isEmpty: Bool { rows.isEmpty }
    var first: [String?]? { rows.first }
}

extension Array where Element == String? {
    func text(_ i: Int) -> String { self[i] ?? "" }
    func int(_ i: Int) -> Int64 { self[i].flatMap { Int64($0) } ?? 0 }
    func optionalInt(_ i: Int) -> Int64? { self[i].flatMap { Int64($0) } }
    func bool(_ i: Int) -> Bool { self[i] == "t" }
    func bytes(_ i: Int) -> [UInt8] { PG.decodeBytea(self[i] ?? "") }
}

/// Text encodings of parameter values.
enum PG {
    static func int(_ v: some BinaryInteger) -> String? { String(v) }
    static func bool(_ v: Bool) -> String? { v ? "t" : "f" }

    /// `bytea` in the hex input format.
    static func bytea(_ bytes: [UInt8]) -> String? {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        out.reserveCapacity(2 + bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The hex output format (`bytea_output = hex`, the default since 9.0).
    static func decodeBytea(_ text: String) -> [UInt8] {
        let u = Array(text.utf8)
        guard u.count >= 2, u[0] == UInt8(ascii: "\\"), u[1] == UInt8(ascii: "x") else { return u }
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: 0
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity((u.count - 2) / 2)
        var i = 2
        while i + 1 < u.count {
            out.append(nibble(u[i]) << 4 | nibble(u[i + 1]))
            i += 2
        }
        return out
    }

    /// A `text[]` literal (for `= ANY($n::text[])`).
    static func textArray(_ xs: [String]) -> String? {
        "{" + xs.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }

    /// `$a, $b, …` groups for a multi-row VALUES of `rows` × `columns` parameters from `$start`.
    static func values(rows: Int, columns: Int, start: Int = 1, last: String? = nil) -> String {
        (0..<rows).map { r in
            "(" + ((0..<columns).map { "$\(start + r * columns + $0)" } + (last.map { [$0] } ?? [])).joined(separator: ", ") + ")"
        }.joined(separator: ", ")
    }

    /// The server's clock in epoch ms, as SQL (read when the expression is evaluated).
    static let serverMs = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    /// The conninfo without its password (for messages: a conninfo is never shown whole).
    static func redact(_ conninfo: String) -> String {
        let s = conninfo.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("postgres://") || s.hasPrefix("postgresql://") {
            let scheme = s.hasPrefix("postgres://") ? "postgres://" : "postgresql://"
            var rest = String(s.dropFirst(scheme.count))
            // Query parameters may carry a password too: drop the query.
            if let q = rest.firstIndex(of: "?") { rest = String(rest[..<q]) }
            if let at = rest.lastIndex(of: "@") {
                // The user name ends at the first `:` (`postgresql://:PASSWORD@host` has none).
                let info = rest[..<at]
                let user = String(info[..<(info.firstIndex(of: ":") ?? info.endIndex)])
                rest = (user.isEmpty ? "" : user + "@") + rest[rest.index(after: at)...]
            }
            return scheme + rest
        }
        return pairs(s).filter { $0.key.lowercased() != "password" }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// key=value pairs as libpq reads them: blanks around `=`, values bare or in single
    /// quotes with `\'` and `\\` escapes (re-quoted when they hold a blank or a quote).
    static func pairs(_ s: String) -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        var i = s.startIndex
        func skipBlanks() { while i < s.endIndex, s[i].isWhitespace { i = s.index(after: i) } }
        while true {
            skipBlanks()
            guard i < s.endIndex else { return out }
            var key = ""
            while i < s.endIndex, !s[i].isWhitespace, s[i] != "=" { key.append(s[i]); i = s.index(after: i) }
            skipBlanks()
            if i < s.endIndex, s[i] == "=" { i = s.index(after: i) }
            skipBlanks()
            var value = "", quoted = false
            if i < s.endIndex, s[i] == "'" {
                quoted = true
                i = s.index(after: i)
                while i < s.endIndex, s[i] != "'" {
                    if s[i] == "\\", s.index(after: i) < s.endIndex { i = s.index(after: i) }
                    value.append(s[i])
                    i = s.index(after: i)
                }
                if i < s.endIndex { i = s.index(after: i) }
            } else {
                while i < s.endIndex, !s[i].isWhitespace { value.append(s[i]); i = s.index(after: i) }
            }
            let shown = quoted || value.contains(where: { $0.isWhitespace || $0 == "'" })
                ? "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'" : value
            out.append((key, shown))
        }
    }
}

/// What a query error was, for the retry loop and the error kind.
enum PGFailure {
    static let serialization: Int32 = 40001
    /// SQLSTATE 22012: the one-statement append's check failed (it divides by zero).
    static let divisionByZero: Int32 = 22012
}

/// A connection with its lock. `reconnects`: open a new session after a lost one.
final class PGConnection: @unchecked Sendable {
    let location: String
    let schema: String
    let reconnects: Bool
    private let conninfo: String
    /// Run on every new session, lock held (LISTEN, advisory locks, settings).
    private let setUp: @Sendable (PGSession) throws(StoreError) -> Void
    private let handle = Mutex<Handle>(Handle())

    private struct Handle {
        var conn: OpaquePointer?
        /// A session connection that was lost stays lost.
        var lost = false
        var closed = false
        var opened = false
        /// After a failed connect: no new attempt before this (monotonic ns), so a
        /// server that is down is not hammered by every call.
        var retryAt: UInt64 = 0
        var failures = 0
    }

    init(conninfo: String, schema: String, reconnects: Bool = true,
         setUp: @escaping @Sendable (PGSession) throws(StoreError) -> Void = { _ throws(StoreError) in }) {
        self.conninfo = conninfo
        self.schema = schema
        self.reconnects = reconnects
        self.location = "postgresql " + PG.redact(conninfo) + " (schema \(schema))"
        self.setUp = setUp
    }

    deinit { close() }

    func close() {
        handle.withLock { h in
            if let c = h.conn { PQfinish(c) }
            h.conn = nil
            h.closed = true
        }
    }

    /// Runs `body` on the session (connecting first if needed). A lost connection is
    /// dropped, so the next call reconnects (when `reconnects`).
    func with<R: Sendable>(_ body: (PGSession) throws(StoreError) -> R) throws(StoreError) -> R {
        let r: Result<R, StoreError> = handle.withLock { h in
            do throws(StoreError) {
                if h.conn == nil {
                    if h.closed { throw StoreError(.misuse, path: location, message: "the connection was closed") }
                    if h.lost || (h.opened && !reconnects) {
                        throw StoreError(.unavailable, path: location, message: "the session was lost (its locks went with it)")
                    }
                    let now = DispatchTime.now().uptimeNanoseconds
                    if now < h.retryAt {
                        throw StoreError(.unavailable, path: location,
                                         message: "the server could not be reached; the next try is in \((h.retryAt - now) / 1_000_000) ms")
                    }
                    let c: OpaquePointer
                    do throws(StoreError) { c = try PGConnection.open(conninfo, location: location) } catch {
                        // Jittered exponential backoff, 100 ms to 5 s.
                        h.failures += 1
                        let base = min(5_000, 100 << min(h.failures - 1, 6))
                        h.retryAt = now + UInt64(base / 2 + Int.random(in: 0...(base / 2))) * 1_000_000
                        throw error
                    }
                    h.failures = 0
                    h.retryAt = 0
                    let s = PGSession(conn: c, location: location)
                    do throws(StoreError) {
                        try s.execScript("SET search_path TO \"\(schema)\"; SET idle_in_transaction_session_timeout = '30s'")
                        try setUp(s)
                    } catch {
                        PQfinish(c)
                        throw error
                    }
                    h.conn = c
                    h.opened = true
                }
                let s = PGSession(conn: h.conn!, location: location)
                do throws(StoreError) { return .success(try body(s)) } catch {
                    if PQstatus(h.conn) != CONNECTION_OK {
                        PQfinish(h.conn)
                        h.conn = nil
                        if !reconnects { h.lost = true }
                    }
                    throw error
                }
            } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// The server process of the session (tests terminate it), or nil when not connected.
    var backendPID: Int32? { handle.withLock { h in h.conn.map { PQbackendPID($0) } } }

    static func open(_ conninfo: String, location: String) throws(StoreError) -> OpaquePointer {
        // Defaults first, the caller's conninfo (expanded from `dbname`) over them, and
        // our application name last (operators find ezflow's sessions by it).
        let pairs: [(String, String)] = [("keepalives", "1"), ("keepalives_idle", "5"), ("keepalives_interval", "2"),
                                         ("keepalives_count", "3"), ("connect_timeout", "10"), ("dbname", conninfo),
                                         ("application_name", "ezflow")]
        let keys = pairs.map { strdup($0.0) }
        let vals = pairs.map { strdup($0.1) }
        defer { keys.forEach { free($0) }; vals.forEach { free($0) } }
        var k: [UnsafePointer<CChar>?] = keys.map { UnsafePointer($0) } + [nil]
        var v: [UnsafePointer<CChar>?] = vals.map { UnsafePointer($0) } + [nil]
        guard let c = PQconnectdbParams(&k, &v, 1) else {
            throw StoreError(.unavailable, path: location, message: "libpq could not allocate a connection")
        }
        guard PQstatus(c) == CONNECTION_OK else {
            let why = PGSession.firstLine(PQerrorMessage(c))
            PQfinish(c)
            throw StoreError(.unavailable, path: location, message: "cannot connect: \(why)",
                             nextStep: "check that the server is up and the conninfo (host, port, user, dbname, sslmode) is right")
        }
        // libpq prints the server's notices (a WARNING as the server shuts down) on stderr
        // by default: ezflow's stderr carries its own lines only, and a lost session
        // surfaces as an error where it matters.
        PQsetNoticeProcessor(c, { _, _ in }, nil)
        return c
    }
}

/// The connection while its lock is held: queries and transactions.
struct PGSession {
    let conn: OpaquePointer
    let location: String

    /// One statement with parameters (unnamed, text format).
    @discardableResult
    func exec(_ sql: String, _ params: [String?] = []) throws(StoreError) -> PGRows {
        // PostgreSQL text holds no NUL byte and a C string ends at one: a NUL in a value (a
        // task's stderr) is written as U+FFFD instead of cutting the rest off.
        let copies = params.map { $0.map { strdup($0.utf8.contains(0) ? $0.replacingOccurrences(of: "\0", with: "\u{FFFD}") : $0) } ?? nil }
        defer { for p in copies { free(p) } }
        let values: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        let res = values.withUnsafeBufferPointer { buf in
            PQexecParams(conn, sql, Int32(params.count), nil, buf.baseAddress, nil, nil, 0)
        }
        return try rows(res)
    }

    /// Statements without parameters, separated by `;` (DDL, session settings).
    func execScript(_ sql: String) throws(StoreError) {
        _ = try rows(PQexec(conn, sql))
    }

    private func rows(_ res: OpaquePointer?) throws(StoreError) -> PGRows {
        guard let res else { throw lost("no reply from the server") }
        defer { PQclear(res) }
        let status = PQresultStatus(res)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY else {
            throw error(res)
        }
        var out = PGRows()
        out.affected = Int(String(cString: PQcmdTuples(res))) ?? 0
        let n = PQntuples(res), m = PQnfields(res)
        out.rows.reserveCapacity(Int(n))
        for i in 0..<n {
            var row: [String?] = []
            row.reserveCapacity(Int(m))
            for j in 0..<m { row.append(PQgetisnull(res, i, j) == 1 ? nil : String(cString: PQgetvalue(res, i, j))) }
            out.rows.append(row)
        }
        return out
    }

    private func lost(_ why: String) -> StoreError {
        StoreError(.unavailable, path: location, message: "the connection to the server was lost (\(why))")
    }

    /// SQLSTATE → kind. The server's primary message is kept (it names no SQL and no
    /// password), the statement never.
    private func error(_ res: OpaquePointer) -> StoreError {
        let state = PQresultErrorField(res, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        let message = PQresultErrorField(res, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            ?? Self.firstLine(PQerrorMessage(conn))
        if state.isEmpty && PQstatus(conn) != CONNECTION_OK || state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state) {
            return lost(message)
        }
        switch state {
        case "23505": return StoreError(.conflict, path: location, message: message)
        case "40001", "40P01": return StoreError(.busy, path: location, code: PGFailure.serialization, message: message)
        case "42P01", "3F000", "42703":
            return StoreError(.schema, path: location, message: "the ezflow tables are missing or older than this build (\(message))",
                              nextStep: "run `ezrun db migrate` against this database and schema")
        case "57014", "55P03": return StoreError(.busy, path: location, message: message)
        case "22012": return StoreError(.conflict, path: location, code: PGFailure.divisionByZero, message: message)
        default: return StoreError(.io, path: location, message: "the server refused the statement (SQLSTATE \(state)): \(message)")
        }
    }

    static func firstLine(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "unknown error" }
        let s = String(cString: p).split(separator: "\n").first.map(String.init) ?? ""
        return s.isEmpty ? "unknown error" : s
    }

    /// BEGIN … COMMIT around `body`; rolled back on error; a serialization failure or a
    /// deadlock is retried (three tries in all).
    func transaction<R>(if needed: Bool = true, _ body: () throws(StoreError) -> R) throws(StoreError) -> R {
        guard needed else { return try body() }
        var tries = 0
        while true {
            tries += 1
            do throws(StoreError) {
                try execScript("BEGIN")
                let r = try body()
                try execScript("COMMIT")
                return r
            } catch {
                if PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE {
                    do { try execScript("ROLLBACK") } catch {}  // the error being thrown is the one that matters
                }
                if error.code == PGFailure.serialization && error.kind == .busy && tries < 3 { continue }
                throw error
            }
        }
    }
}
