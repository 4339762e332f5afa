// The throwaway servers `scripts/test.sh` starts on loopback (scripts/servers.sh). Tests
// of the PostgreSQL and Redis backends run against them and skip when they are not set
// (a plain `swift test`).
import EzflowPostgres
import EzflowRedis
import Foundation
import XCTest

enum Servers {
    /// `EZ_PG`: a libpq conninfo.
    static var postgres: String? { value("EZ_PG") }
    /// `EZ_REDIS`: host:port.
    static var redis: String? { value("EZ_REDIS") }

    static func value(_ name: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        return v
    }
}

final class BackendLibraryTests: XCTestCase {
    /// The system libraries link and are the Debian ones the notes were measured with.
    func testLibpqAndHiredisAreLinked() {
        XCTAssertGreaterThanOrEqual(postgresLibraryVersion(), 140000, "libpq ≥ 14 (pipeline mode)")
        XCTAssertTrue(redisLibraryVersion().hasPrefix("0.") || redisLibraryVersion().hasPrefix("1."), redisLibraryVersion())
    }
}
