// The time the processes of one backend agree on. A work lease is stamped by a worker
// (`nowMs + leaseMs`) and judged expired by a coordinator's reaper, so two machines whose
// clocks disagree by more than a third of the lease would take live attempts for dead.
// Each process therefore reads its own clock moved by its offset from the backend
// server's clock, measured at start and again every minute: every stamp and every reap
// is in the server's time, give or take half a round trip.
import EzflowRuntime
import Foundation
import Synchronization

public final class BackendClock: RunClock {
    struct State {
        var offsetMs: Millis = 0
        var last: Millis = 0
        var measured = false
    }
    private let state = Mutex(State())
    private let serverTime: @Sendable () throws(StoreError) -> Millis
    private let local: @Sendable () -> Millis
    /// A measurement whose round trip took longer says little: it is not taken.
    static let maxRoundTripMs: Millis = 1_000
    public static let realignEveryMs: Millis = 60_000

    /// `serverTime`: the server's wall clock in ms; `local`: this machine's (tests give both).
    public init(serverTime: @escaping @Sendable () throws(StoreError) -> Millis,
                local: @escaping @Sendable () -> Millis = BackendClock.systemMs) {
        self.serverTime = serverTime
        self.local = local
    }

    public static let systemMs: @Sendable () -> Millis = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Millis(ts.tv_sec) * 1000 + Millis(ts.tv_nsec) / 1_000_000
    }

    /// The server's clock minus this machine's, as last measured (0 before a measurement).
    public var offsetMs: Millis { state.withLock { $0.offsetMs } }

    /// Measures the offset now and returns it; a round trip slower than a second keeps
    /// the previous one. Throws when the server does not answer (the offset stays).
    @discardableResult
    public func align() throws(StoreError) -> Millis {
        let t0 = local()
        let server = try serverTime()
        let t1 = local()
        return state.withLock { s in
            if t1 - t0 <= Self.maxRoundTripMs {
                s.offsetMs = server - (t0 + t1) / 2
                s.measured = true
            }
            return s.offsetMs
        }
    }

    /// Measures again every `realignEveryMs` on a thread of its own, for the life of the
    /// process (a failed measurement keeps the last offset).
    public func keepAligned() {
        let t = Thread { [self] in
            while true {
                usleep(UInt32(Self.realignEveryMs) * 1000)
                do { _ = try align() } catch {}  // the next minute tries again; the offset stands
            }
        }
        t.start()
    }

    /// Never runs backwards, even when a new measurement moves the offset back.
    public func nowMs() -> Millis {
        let t = local()
        return state.withLock { s in
            s.last = max(s.last, t + s.offsetMs)
            return s.last
        }
    }

    /// `offset` for a person: "3.2 s behind", "1.0 s ahead".
    public static func describe(offsetMs: Millis) -> String {
        let s = String(format: "%.1f s", Double(abs(offsetMs)) / 1000)
        return offsetMs > 0 ? "\(s) behind" : "\(s) ahead"
    }
}
