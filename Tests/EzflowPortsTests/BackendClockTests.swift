// `BackendClock`: a process's clock moved to the backend server's, so leases stamped by
// one machine and reaped by another agree however far their own clocks are apart.
@testable import EzflowPorts
@testable import EzflowPostgres
import EzflowRedis
import EzflowRuntime
import Foundation
import Synchronization
import XCTest

final class BackendClockTests: XCTestCase {
    /// A local clock and a server clock the test moves.
    final class Clocks: Sendable {
        let local = Mutex<Millis>(1_000_000)
        let server = Mutex<Millis>(1_000_000)
        /// How far the local clock moves during a server call (the round trip).
        let roundTrip = Mutex<Millis>(4)
    }

    func clock(_ c: Clocks) -> BackendClock {
        BackendClock(serverTime: { () throws(StoreError) -> Millis in
            c.local.withLock { $0 += c.roundTrip.withLock { $0 } }
            return c.server.withLock { $0 }
        }, local: { c.local.withLock { $0 } })
    }

    func testAProcessReadsTheServersTimeWhateverItsOwnClockSays() throws {
        let c = Clocks()
        c.server.withLock { $0 = 1_045_000 }  // this machine is 45 s behind
        let k = clock(c)
        XCTAssertEqual(k.nowMs(), 1_000_000, "not measured yet: its own clock")
        XCTAssertEqual(try k.align(), 45_000 - 2, "half the round trip is on the way there")
        XCTAssertEqual(k.nowMs(), 1_000_004 + 44_998, "its own clock moved by the offset")
        XCTAssertEqual(BackendClock.describe(offsetMs: k.offsetMs), "45.0 s behind")
        XCTAssertEqual(BackendClock.describe(offsetMs: -1_500), "1.5 s ahead")
    }

    func testANewMeasurementNeverMovesTimeBack() throws {
        let c = Clocks()
        c.server.withLock { $0 = 1_010_000 }
        let k = clock(c)
        try k.align()
        let before = k.nowMs()
        c.server.withLock { $0 = 1_000_004 }  // the server's clock was stepped back 10 s
        try k.align()
        XCTAssertEqual(k.nowMs(), before, "held until this machine's time catches up")
        c.local.withLock { $0 += 20_000 }
        XCTAssertEqual(k.nowMs(), 1_020_008 - 2, "then the new offset")
    }

    func testASlowRoundTripMeasuresNothing() throws {
        let c = Clocks()
        c.server.withLock { $0 = 1_005_000 }
        let k = clock(c)
        try k.align()
        let offset = k.offsetMs
        c.roundTrip.withLock { $0 = 3_000 }
        c.server.withLock { $0 = 9_999_999 }
        XCTAssertEqual(try k.align(), offset, "a 3 s round trip is not believed")
    }

    func testTheServersSayWhatTimeItIs() throws {
        let local = BackendClock.systemMs()
        if let c = Servers.postgres {
            let b = try PostgresBackend(conninfo: c, schema: "ez_clock")
            XCTAssertLessThan(abs(try b.serverTimeMs() - local), 5_000, "one machine: PostgreSQL's clock is this one's")
        }
        if let r = Servers.redis {
            let b = try RedisBackend(url: "redis://\(r)", prefix: "ez_clock:")
            XCTAssertLessThan(abs(try b.serverTimeMs() - local), 5_000, "one machine: Redis's clock is this one's")
        }
    }
}
