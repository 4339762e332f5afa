// One hiredis connection. hiredis 0.14's `redisCommand` is variadic (not imported into
// Swift), so every command goes as an argv array through `redisCommandArgv`, which is
// also binary safe (payloads, IR bytes). The context is not thread-safe: a Mutex guards
// every C call. A lost connection is `unavailable` and the context is dropped, so the
// next call reconnects (the caller re-reads: nothing may be assumed about the last write).
import CRedis
import EzflowPorts
import Foundation
import Synchronization

/// A decoded reply.
enum RedisReply: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case int(Int64)
    case null
    case array([RedisReply])
    case error(String)

    var text: String? {
        switch self {
        case .string(let b): String(decoding: b, as: UTF8.self)
        case .status(let s): s
        case .int(let i): String(i)
        default: nil
        }
    }
    var bytes: [UInt8]? { if case .string(let b) = self { b } else { text.map { Array($0.utf8) } } }
    var int: Int64? {
        switch self {
        case .int(let i): i
        case .string, .status: text.flatMap { Int64($0) }
        default: nil
        }
    }
    var array: [RedisReply] { if case .array(let a) = self { a } else { [] } }
    var isNull: Bool { self == .null }
}

/// Where to connect: `host:port` or `redis://[user:password@]host:port[/db]`.
struct RedisAddress: Sendable, Equatable {
    var host = "127.0.0.1"
    var port: Int32 = 6379
    var user: String?
    var password: String?
    var db: Int?

    init(_ url: String) throws(StoreError) {
        var rest = Substring(url)
        if rest.hasPrefix("redis://") { rest = rest.dropFirst("redis://".count) }
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                user = info[..<colon].isEmpty ? nil : String(info[..<colon]).removingPercentEncoding
                password = String(info[info.index(after: colon)...]).removingPercentEncoding
            } else if !info.isEmpty {
                password = String(info).removingPercentEncoding
            }
        }
        if let slash = rest.firstIndex(of: "/") {
            let d = rest[rest.index(after: slash)...]
            if !d.isEmpty {
                guard let n = Int(d), n >= 0 else {
                    throw StoreError(.misuse, path: Self.safe(url), message: "`\(d)` is not a database number",
                                     nextStep: "use redis://HOST:PORT/N with N a number")
                }
                db = n
            }
            rest = rest[..<slash]
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let p = Int32(rest[rest.index(after: colon)...]), (1...65_535).contains(p) else {
                throw StoreError(.misuse, path: Self.safe(url), message: "`\(rest[rest.index(after: colon)...])` is not a port",
                                 nextStep: "use HOST:PORT or redis://HOST:PORT")
            }
            port = p
            rest = rest[..<colon]
        }
        if !rest.isEmpty { host = String(rest) }
    }

    /// The address without its password, for messages.
    var location: String { "redis://\(user.map { "\($0)@" } ?? "")\(host):\(port)\(db.map { "/\($0)" } ?? "")" }

    /// `url` with any userinfo password removed (for a message about an address that did not parse).
    static func safe(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        let start = url.hasPrefix("redis://") ? url.index(url.startIndex, offsetBy: 8) : url.startIndex
        let info = url[start..<at]
        // `user:password`: the user is shown; `:password` or `password` alone: nothing (a
        // split would drop the empty user and show the password as one).
        let user = info.firstIndex(of: ":").map { String(info[..<$0]) } ?? ""
        return "redis://" + (user.isEmpty ? "" : user + "@") + url[url.index(after: at)...]
    }
}

/// A Lua script run by SHA (EVALSHA), loaded on first use and again after NOSCRIPT
/// (a restarted or flushed server forgets its scripts).
struct RedisScript: Sendable {
    let source: String
    let name: String
    init(_ name: String, _ source: String) {
        self.name = name
        self.source = source
    }
}

final class RedisConnection: @unchecked Sendable {
    let address: RedisAddress
    let timeoutMs: Int
    private let mutex = Mutex(())
    /// Guarded by `mutex`; nil after a connection loss (reconnected on the next call).
    private var ctx: UnsafeMutablePointer<redisContext>?
    private var shas: [String: String] = [:]

    var location: String { address.location }

    init(address: RedisAddress, timeoutMs: Int = 10_000) {
        self.address = address
        self.timeoutMs = timeoutMs
    }

    deinit { if let ctx { redisFree(ctx) } }

    func error(_ kind: StoreError.Kind, _ message: String, nextStep: String? = nil) -> StoreError {
        StoreError(kind, path: location, message: message, nextStep: nextStep)
    }

    static func timeval(ms: Int) -> timeval { Glibc.timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000) }

    /// Connects (AUTH, SELECT) when there is no live context. Called with the mutex held.
    private func connectLocked() throws(StoreError) -> UnsafeMutablePointer<redisContext> {
        if let ctx { return ctx }
        guard let c = redisConnectWithTimeout(address.host, address.port, Self.timeval(ms: timeoutMs)) else {
            throw error(.unavailable, "cannot allocate a connection", nextStep: "check the machine's memory, then try again")
        }
        if c.pointee.err != 0 {
            let why = Self.errstr(c)
            redisFree(c)
            throw error(.unavailable, "cannot connect: \(why)", nextStep: "check that the Redis server is running and reachable, then try again")
        }
        redisSetTimeout(c, Self.timeval(ms: timeoutMs))
        ctx = c
        do throws(StoreError) {
            if let password = address.password {
                let args = (address.user.map { [$0] } ?? []) + [password]
                if case .error(let e) = try commandLocked(["AUTH"] + args) {
                    // The server's message names no password; keep only its first word or two.
                    throw error(.unavailable, "authentication refused (\(e.prefix(60)))", nextStep: "check the user and password in the Redis URL")
                }
            }
            if let db = address.db, case .error(let e) = try commandLocked(["SELECT", String(db)]) {
                throw error(.unavailable, "cannot select database \(db): \(e)", nextStep: "check the database number in the Redis URL")
            }
        } catch {
            dropLocked()
            throw error
        }
        return c
    }

    private func dropLocked() {
        if let ctx { redisFree(ctx) }
        ctx = nil
        shas = [:]
    }

    static func errstr(_ c: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: c.pointee.errstr) { raw in
            let b = raw.bindMemory(to: UInt8.self)
            return String(decoding: b.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Runs one command with the mutex held.
    private func commandLocked(_ args: [[UInt8]]) throws(StoreError) -> RedisReply {
        let c = try connectLocked()
        let lengths = args.map { $0.count }
        // hiredis copies the arguments into its output buffer before it returns.
        let pointers = args.map { a -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(a.count, 1))
            a.withUnsafeBytes { raw in if a.count > 0 { UnsafeMutableRawPointer(p).copyMemory(from: raw.baseAddress!, byteCount: a.count) } }
            return p
        }
        defer { pointers.forEach { $0.deallocate() } }
        var argv: [UnsafePointer<CChar>?] = pointers.map { UnsafePointer($0) }
        let raw = argv.withUnsafeMutableBufferPointer { av in
            lengths.withUnsafeBufferPointer { lens in redisCommandArgv(c, Int32(args.count), av.baseAddress, lens.baseAddress) }
        }
        guard let raw else {
            let why = Self.errstr(c)
            dropLocked()
            throw error(.unavailable, "the connection was lost (\(why))")
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.decode(reply)
    }

    private func commandLocked(_ args: [String]) throws(StoreError) -> RedisReply { try commandLocked(args.map { Array($0.utf8) }) }

    static func decode(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let p = r.pointee
        func bytes() -> [UInt8] {
            guard let s = p.str, p.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: s, count: Int(p.len)))
        }
        switch p.type {
        case REDIS_REPLY_STRING: return .string(bytes())
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .int(p.integer)
        case REDIS_REPLY_ARRAY:
            var out: [RedisReply] = []
            out.reserveCapacity(Int(p.elements))
            for i in 0..<Int(p.elements) { out.append(p.element[i].map(decode) ?? .null) }
            return .array(out)
        default: return .null
        }
    }

    /// Runs `body` with the mutex held. `retry`: the command is idempotent (a read, a
    /// compare-and-delete), so when a connection that was up turns out to be gone (the
    /// server restarted since the last call) it is run once more on a new connection;
    /// anything else reports the loss as `unavailable`.
    private func locked(retry: Bool, _ body: () throws(StoreError) -> RedisReply) throws(StoreError) -> RedisReply {
        let r: Result<RedisReply, StoreError> = mutex.withLock { _ in
            let wasUp = ctx != nil
            do throws(StoreError) { return .success(try body()) } catch where retry && wasUp && error.kind == .unavailable && ctx == nil {
                do throws(StoreError) { return .success(try body()) } catch { return .failure(error) }
            } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// Runs one command; a server error reply comes back as `.error` (the caller decides).
    func command(_ args: [[UInt8]], retry: Bool = false) throws(StoreError) -> RedisReply {
        try locked(retry: retry) { () throws(StoreError) in try commandLocked(args) }
    }

    func command(_ args: String..., retry: Bool = false) throws(StoreError) -> RedisReply { try command(args.map { Array($0.utf8) }, retry: retry) }

    /// A command whose error reply is a failure: `io` (the server refused it).
    func checked(_ args: [[UInt8]], retry: Bool = false) throws(StoreError) -> RedisReply {
        let r = try command(args, retry: retry)
        if case .error(let e) = r { throw Self.serverError(e, location: location) }
        return r
    }

    func checked(_ args: String..., retry: Bool = false) throws(StoreError) -> RedisReply { try checked(args.map { Array($0.utf8) }, retry: retry) }

    /// A read-only command (retried once on a connection found gone).
    func read(_ args: String...) throws(StoreError) -> RedisReply { try checked(args.map { Array($0.utf8) }, retry: true) }

    /// The error a script or command reply stands for. Scripts report refusals as
    /// `EZ<KIND> message` (`conflict`, `not_found`); anything else the server says is `io`.
    static func serverError(_ e: String, location: String) -> StoreError {
        for kind in [StoreError.Kind.conflict, .notFound, .integrity] {
            let tag = "EZ\(kind.rawValue.uppercased()) "
            if let r = e.range(of: tag) { return StoreError(kind, path: location, message: String(e[r.upperBound...])) }
        }
        if e.hasPrefix("LOADING") || e.hasPrefix("BUSY") || e.hasPrefix("MASTERDOWN") || e.hasPrefix("TRYAGAIN") {
            return StoreError(.unavailable, path: location, message: "the server is not ready (\(e.prefix(80)))")
        }
        return StoreError(.io, path: location, message: "the server refused the command: \(e.prefix(200))",
                          nextStep: "check the Redis server's log and memory, then try again")
    }

    /// Runs `script` with EVALSHA (loading it first), falling back to EVAL on NOSCRIPT.
    func eval(_ script: RedisScript, keys: [String], args: [[UInt8]], retry: Bool = false) throws(StoreError) -> RedisReply {
        let reply = try locked(retry: retry) { () throws(StoreError) -> RedisReply in
            let tail = [Array(String(keys.count).utf8)] + keys.map { Array($0.utf8) } + args
            if shas[script.name] == nil {
                let loaded = try commandLocked(["SCRIPT", "LOAD", script.source])
                if let sha = loaded.text, case .string = loaded { shas[script.name] = sha }
            }
            if let sha = shas[script.name] {
                let r = try commandLocked([Array("EVALSHA".utf8), Array(sha.utf8)] + tail)
                if case .error(let e) = r, e.hasPrefix("NOSCRIPT") {
                    shas[script.name] = nil
                    return try commandLocked([Array("EVAL".utf8), Array(script.source.utf8)] + tail)
                }
                return r
            }
            return try commandLocked([Array("EVAL".utf8), Array(script.source.utf8)] + tail)
        }
        if case .error(let e) = reply { throw Self.serverError(e, location: location) }
        return reply
    }

    /// Refuses a server whose entries may be evicted or lost on a restart (bullmq#921):
    /// the queue and the journal are only durable with `appendonly yes` and `noeviction`.
    func checkDurability() throws(StoreError) {
        for (name, want) in [("appendonly", "yes"), ("maxmemory-policy", "noeviction")] {
            let r = try command("CONFIG", "GET", name)
            if case .error(let e) = r {
                throw error(.schema, "cannot read the server's `\(name)` setting (\(e.prefix(80)))",
                            nextStep: "allow CONFIG GET for this user, or use a server with `\(name) \(want)`")
            }
            let got = r.array.count >= 2 ? r.array[1].text ?? "" : ""
            guard got == want else {
                throw error(.schema, "the server runs with `\(name) \(got.isEmpty ? "(unset)" : got)`: queued work and journals could be lost",
                            nextStep: "set `\(name) \(want)` in the server's config (CONFIG SET \(name) \(want)), then try again")
            }
        }
    }

    // MARK: Subscriber

    /// Turns this connection into a subscriber of `channel` (it runs no other command after this).
    func subscribe(_ channel: String) throws(StoreError) {
        let r = try command("SUBSCRIBE", channel)
        if case .error(let e) = r { throw Self.serverError(e, location: location) }
    }

    /// Waits up to `timeoutMs` for one pushed message (a subscriber connection); true if one came.
    func waitForMessage(timeoutMs: Int) throws(StoreError) -> Bool {
        let r: Result<Bool, StoreError> = mutex.withLock { _ in
            guard let c = ctx else { return .failure(error(.unavailable, "the listener's connection was lost")) }
            var reply: UnsafeMutableRawPointer?
            func fromReader() -> Bool? {
                guard redisGetReplyFromReader(c, &reply) == REDIS_OK else { return nil }
                if let reply {
                    freeReplyObject(reply)
                    return true
                }
                return false
            }
            guard let buffered = fromReader() else { dropLocked(); return .failure(error(.unavailable, "the listener's connection broke")) }
            if buffered { return .success(true) }
            var pfd = pollfd(fd: c.pointee.fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&pfd, 1, Int32(clamping: timeoutMs))
            if n <= 0 { return .success(false) }
            guard redisBufferRead(c) == REDIS_OK, let got = fromReader() else {
                dropLocked()
                return .failure(error(.unavailable, "the listener's connection was lost"))
            }
            return .success(got)
        }
        return try r.get()
    }
}
