import EzflowUnits
import XCTest

final class UnitsTests: XCTestCase {
    func testDurationsParseAndPrint() {
        XCTAssertEqual(Units.parseDuration("90s"), 90_000)
        XCTAssertEqual(Units.parseDuration("1h30m"), 5_400_000)
        XCTAssertEqual(Units.parseDuration("250ms"), 250)
        XCTAssertEqual(Units.parseDuration("1.5s"), 1_500)
        XCTAssertEqual(Units.parseDuration("1500"), 1_500)
        for bad in ["", "s", "5x", "1.0001s", "5s5", "-5s", "1..5s"] { XCTAssertNil(Units.parseDuration(bad), bad) }
        XCTAssertEqual(Units.duration(5_400_000), "90m")
        XCTAssertEqual(Units.durationCompound(5_400_000), "1h30m")
        XCTAssertEqual(Units.duration(-5_000), "-5s")
        XCTAssertEqual(Units.duration(0), "0s")
        for ms: Int64 in [1, 999, 60_000, 86_400_000, 90_061_001] {
            XCTAssertEqual(Units.parseDuration(Units.duration(ms)), ms)
            XCTAssertEqual(Units.parseDuration(Units.durationCompound(ms)), ms)
        }
    }

    /// Every way to leave 64 bits is nil, never a trap.
    func testOverflowIsNil() {
        XCTAssertNil(Units.parseDuration("9999999999999999d"))
        XCTAssertNil(Units.parseDuration("106751991167d106751991167d"))
        XCTAssertNil(Units.parseDuration("99999999999999999999"))
        XCTAssertEqual(Units.parseDuration("106751991167d"), 106_751_991_167 * 86_400_000)
        XCTAssertNil(Units.parseMoney("$9999999999999"))
        XCTAssertNil(Units.parseTokens("99999999999999999M"))
        XCTAssertNil(Units.scaled((Int64.max, 0), by: 10))
    }

    func testMoneyAndTokens() {
        XCTAssertEqual(Units.parseMoney("$2.50"), 2_500_000)
        XCTAssertEqual(Units.parseMoney("2.5"), 2_500_000)
        XCTAssertNil(Units.parseMoney("$0.0000001"))
        XCTAssertNil(Units.parseMoney("$"))
        XCTAssertEqual(Units.money(2_500_000), "$2.50")
        XCTAssertEqual(Units.money(10_000_000), "$10")
        XCTAssertEqual(Units.money(10_000_000, style: .cents), "$10.00")
        XCTAssertEqual(Units.money(12_300, style: .cents), "$0.0123")
        XCTAssertEqual(Units.money(-1), "-$0.000001")
        XCTAssertEqual(Units.money(1_234_500, style: .micros), "$1.234500")
        XCTAssertEqual(Units.money(2_000_000, style: .micros), "$2.000000")
        XCTAssertEqual(Units.parseTokens("200k"), 200_000)
        XCTAssertEqual(Units.parseTokens("2M tokens"), 2_000_000)
        XCTAssertEqual(Units.tokens(200_000), "200k tokens")
        XCTAssertEqual(Units.tokens(1_500), "1500 tokens")
    }
}
