// Wake-ups over LISTEN/NOTIFY (DISTRIBUTED-NOTES.md §2): a listener owns its connection
// (a LISTEN lives in one session), waits with poll(2) on the socket and drains
// `PQnotifies`. Notifications sent while it was disconnected are lost, so a reconnect
// re-LISTENs and reports a wake-up: callers treat a wake-up as "look now" and poll on a
// timer anyway.
import CPostgres
import EzflowPorts
import Foundation
import Synchronization

/// Waits for `PostgresBackend.notify()` of one kind.
public final class PostgresListener: Sendable {
    /// The channel of `kind`'s wake-ups in `schema` (an installation's processes wake only
    /// each other). Schema names are ASCII letters, digits and `_`: quoted as they are.
    public static func channel(_ kind: WakeUp, schema: String) -> String { "ez_\(kind.rawValue)_\(schema)" }
    private let conn: PGConnection
    /// Set when a session opens after the first: notifications may have been missed.
    private let flag: ReopenFlag

    final class ReopenFlag: Sendable { let set = Atomic<Bool>(false) }

    init(conninfo: String, schema: String, kind: WakeUp) {
        let opens = Mutex<Int>(0)
        let flag = ReopenFlag()
        let channel = Self.channel(kind, schema: schema)
        conn = PGConnection(conninfo: conninfo, schema: schema) { s throws(StoreError) in
            try s.execScript("LISTEN \"\(channel)\"")
            let n = opens.withLock { n -> Int in
                n += 1
                return n
            }
            if n > 1 { flag.set.store(true, ordering: .relaxed) }
        }
        self.flag = flag
    }

    /// Connects and listens now (notifications from before this are not seen).
    public func listen() throws(StoreError) {
        try conn.with { _ throws(StoreError) in }
    }

    /// The server process of the listening connection (tests end it), nil when not connected.
    var backendPID: Int32? { conn.backendPID }

    /// Closes the connection for good.
    public func close() { conn.close() }

    /// Waits up to `timeoutMs` for a notification: true when one came (or the
    /// connection was reopened, so one may have been missed), false on timeout. A lost
    /// connection is `.unavailable`; the next call reconnects.
    public func wait(timeoutMs: Int) throws(StoreError) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, timeoutMs)) * 1_000_000
        return try conn.with { s throws(StoreError) -> Bool in
            if flag.set.exchange(false, ordering: .relaxed) { return true }
            while true {
                guard PQconsumeInput(s.conn) == 1 else {
                    throw StoreError(.unavailable, path: s.location, message: "the listening connection was lost (\(PGSession.firstLine(PQerrorMessage(s.conn))))")
                }
                var got = false
                while let n = PQnotifies(s.conn) {
                    PQfreemem(n)
                    got = true
                }
                if got { return true }
                let now = DispatchTime.now().uptimeNanoseconds
                guard now < deadline else { return false }
                var fd = pollfd(fd: PQsocket(s.conn), events: Int16(POLLIN), revents: 0)
                let ms = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
                if poll(&fd, 1, ms) < 0 && errno != EINTR {
                    throw StoreError(.unavailable, path: s.location, message: "poll on the listening connection failed: \(String(cString: strerror(errno)))")
                }
            }
        }
    }
}
