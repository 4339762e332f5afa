// A thin, non-Sendable wrapper over one sqlite3 connection: open/close, prepared
// statements kept for the connection's lifetime, typed errors naming the file.
// Only `DurableStore` touches it (and `SQLiteWorkQueue` through it), always under its
// Mutex (SWIFT-NOTES §5).
import CSQLite
import Foundation
import EzflowPorts

/// `SQLITE_TRANSIENT`: SQLite copies bound text/blobs (the macro is a cast, not imported).
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

extension StoreError {
    /// Classifies an SQLite (extended) result code.
    static func kind(ofSQLiteCode code: Int32) -> Kind {
        switch code & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED: .busy
        case SQLITE_CORRUPT, SQLITE_NOTADB: .corrupt
        case SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_PERM, SQLITE_NOLFS, SQLITE_PROTOCOL: .io
        case SQLITE_CONSTRAINT: .conflict
        case SQLITE_SCHEMA: .schema
        default: .misuse
        }
    }

    /// An SQLite failure as the user meets it: what happened to the file and what to do,
    /// in words. The statement that failed is never shown (no SQL in a message); SQLite's
    /// generic text for the code (`sqlite3_errstr`) closes an I/O or internal error.
    static func sqlite(_ rc: Int32, path: String, readOnly: Bool) -> StoreError {
        let generic = String(cString: sqlite3_errstr(rc))
        let other = "another store (--db PATH or EZFLOW_DB)"
        let (message, next): (String, String?) = switch rc & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED:
            ("it is locked by another process", nil)
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            ("the file is damaged or is not a database", "restore it from a backup, or start afresh with \(other)")
        case SQLITE_FULL:
            ("the disk is full", "free some space, then run the command again (`ezrun resume RUN` continues a run where it stopped)")
        case SQLITE_READONLY, SQLITE_PERM:
            readOnly
                ? ("this user cannot read it: it is another user's store and its -wal and -shm files are missing",
                   "ask its owner to run `ezrun runs --db PATH` with this ezrun once, which keeps them, or read a copy")
                : ("this user cannot write it (the file or its directory is read-only)",
                   "run the command as a user who can write it, or use \(other); reading commands (runs, status, logs) work read-only")
        case SQLITE_CANTOPEN where access(path, R_OK) != 0 && access(path, F_OK) == 0:
            ("this user may not read the file", "ask its owner for read access, or use \(other)")
        case SQLITE_CANTOPEN:
            ("cannot open the file (\(generic))", "check that the path and its directory are right and readable, or use \(other)")
        case SQLITE_IOERR:
            ("an I/O error (\(generic))", nil)
        default:
            ("internal error (\(generic))", nil)
        }
        return StoreError(kind(ofSQLiteCode: rc), path: path, code: rc, message: message, nextStep: next)
    }
}

/// One prepared statement, reset after every use.
struct Statement {
    let handle: OpaquePointer

    func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(handle, i, v) }
    func bind(_ i: Int32, _ v: Int) { sqlite3_bind_int64(handle, i, Int64(v)) }
    func bind(_ i: Int32, _ s: String) {
        var s = s
        s.withUTF8 { b in bindText(i, UnsafeRawBufferPointer(b)) }
    }
    func bind(_ i: Int32, text bytes: [UInt8]) {
        bytes.withUnsafeBytes { b in bindText(i, b) }
    }
    private func bindText(_ i: Int32, _ b: UnsafeRawBufferPointer) {
        if let p = b.baseAddress, b.count > 0 {
            sqlite3_bind_text(handle, i, p.assumingMemoryBound(to: CChar.self), Int32(b.count), sqliteTransient)
        } else {
            sqlite3_bind_text(handle, i, "", 0, sqliteTransient)
        }
    }
    func bind(_ i: Int32, blob bytes: [UInt8]) {
        bytes.withUnsafeBytes { b in _ = sqlite3_bind_blob(handle, i, b.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(b.count), sqliteTransient) }
    }
    func bindNull(_ i: Int32) { sqlite3_bind_null(handle, i) }
    func bind(_ i: Int32, _ s: String?) { if let s { bind(i, s) } else { bindNull(i) } }

    func int(_ col: Int32) -> Int64 { sqlite3_column_int64(handle, col) }
    func isNull(_ col: Int32) -> Bool { sqlite3_column_type(handle, col) == SQLITE_NULL }
    func bytes(_ col: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(handle, col))
        guard n > 0, let p = sqlite3_column_blob(handle, col) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
    func text(_ col: Int32) -> String {
        guard let p = sqlite3_column_text(handle, col) else { return "" }
        let n = Int(sqlite3_column_bytes(handle, col))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }
    func optionalText(_ col: Int32) -> String? { isNull(col) ? nil : text(col) }
}

/// The connection: owns the sqlite3 handle and its cached statements.
final class Connection {
    let path: String
    /// Opened with `SQLITE_OPEN_READONLY` (reading commands).
    let readOnly: Bool
    private(set) var db: OpaquePointer?
    private var cache: [String: OpaquePointer] = [:]

    init(path: String, flags: Int32) throws(StoreError) {
        self.path = path
        readOnly = flags & SQLITE_OPEN_READONLY != 0
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_NOMUTEX, nil)
        if rc != SQLITE_OK {
            let code = handle.map { sqlite3_extended_errcode($0) } ?? rc
            sqlite3_close_v2(handle)
            throw StoreError.sqlite(code, path: path, readOnly: readOnly)
        }
        db = handle
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit { close() }

    func close() {
        for (_, s) in cache { sqlite3_finalize(s) }
        cache = [:]
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    /// `rc` as a user-facing error (the statement is not part of it: no SQL in messages).
    func error(_ rc: Int32) -> StoreError {
        StoreError.sqlite(db.map { sqlite3_extended_errcode($0) } ?? rc, path: path, readOnly: readOnly)
    }

    private func handle() throws(StoreError) -> OpaquePointer {
        guard let db else { throw StoreError(.misuse, path: path, message: "the store is closed") }
        return db
    }

    /// Runs SQL without results (several statements allowed).
    func exec(_ sql: String) throws(StoreError) {
        let db = try handle()
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            sqlite3_free(err)
            throw error(rc)
        }
    }

    /// The cached prepared statement for `sql` (prepared once per connection).
    func statement(_ sql: String) throws(StoreError) -> Statement {
        if let s = cache[sql] { return Statement(handle: s) }
        let db = try handle()
        var s: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
        guard rc == SQLITE_OK, let s else { throw error(rc) }
        cache[sql] = s
        return Statement(handle: s)
    }

    /// Binds with `bind`, steps to completion (no rows expected), resets.
    func run(_ sql: String, _ bind: (Statement) -> Void = { _ in }) throws(StoreError) {
        let st = try statement(sql)
        defer { sqlite3_reset(st.handle); sqlite3_clear_bindings(st.handle) }
        bind(st)
        let rc = sqlite3_step(st.handle)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw error(rc) }
    }

    /// Binds with `bind`, then calls `row` for each result row; resets.
    func query(_ sql: String, _ bind: (Statement) -> Void = { _ in }, row: (Statement) throws(StoreError) -> Void) throws(StoreError) {
        let st = try statement(sql)
        defer { sqlite3_reset(st.handle); sqlite3_clear_bindings(st.handle) }
        bind(st)
        while true {
            let rc = sqlite3_step(st.handle)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(rc) }
            try row(st)
        }
    }

    /// The first column of the first row as an integer (nil: no row or NULL).
    func scalarInt(_ sql: String, _ bind: (Statement) -> Void = { _ in }) throws(StoreError) -> Int64? {
        var out: Int64?
        try query(sql, bind) { st in if out == nil && !st.isNull(0) { out = st.int(0) } }
        return out
    }

    func scalarText(_ sql: String, _ bind: (Statement) -> Void = { _ in }) throws(StoreError) -> String? {
        var out: String?
        try query(sql, bind) { st in if out == nil { out = st.optionalText(0) } }
        return out
    }

    /// `BEGIN IMMEDIATE` … `COMMIT`; rolls back if `body` throws.
    /// Runs `body`'s reads in one read transaction (one snapshot of the file).
    func snapshot<R>(_ body: () throws(StoreError) -> R) throws(StoreError) -> R {
        try run("BEGIN DEFERRED")
        defer { if let db, sqlite3_get_autocommit(db) == 0 { _ = sqlite3_exec(db, "COMMIT", nil, nil, nil) } }
        return try body()
    }

    func transaction<R>(_ body: () throws(StoreError) -> R) throws(StoreError) -> R {
        try run("BEGIN IMMEDIATE")
        do {
            let r = try body()
            try run("COMMIT")
            return r
        } catch {
            if let db, sqlite3_get_autocommit(db) == 0 {
                do { try run("ROLLBACK") } catch let rollback {
                    // SQLite rolls back on close or on the next open anyway; say that both failed.
                    throw StoreError(error.kind, path: error.path, code: error.code,
                                     message: "\(error.message); the rollback failed too: \(rollback.message)")
                }
            }
            throw error
        }
    }
}
