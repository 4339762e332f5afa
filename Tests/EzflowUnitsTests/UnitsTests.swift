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
        XCTAssertEqual(Units.moneyLiteral(2_500_000), "$2.50")
        XCTAssertEqual(Units.moneyLiteral(10_000_000), "$10")
        XCTAssertEqual(Units.moneyLiteral(-1), "-$0.000001")
        XCTAssertEqual(Units.parseTokens("200k"), 200_000)
        XCTAssertEqual(Units.parseTokens("2M tokens"), 2_000_000)
        XCTAssertEqual(Units.tokens(200_000), "200k tokens")
        XCTAssertEqual(Units.tokens(1_500), "1500 tokens")
        XCTAssertEqual(Units.tokens(1), "1 token")
        XCTAssertEqual(Units.tokensLiteral(1), "1 tokens")
    }

    /// The one rule for money people read: three significant digits, at least cents, at
    /// most micro-dollars, half up, grouped; never `$0.00` for a non-zero amount.
    func testMoneyForPeople() {
        let cases: [(Int64, String)] = [
            (0, "$0.00"), (1, "$0.000001"), (9, "$0.000009"), (2_204, "$0.0022"), (4_408, "$0.00441"),
            (1_250, "$0.00125"), (12_300, "$0.0123"), (12_345, "$0.0123"), (12_350, "$0.0124"),
            (99_950, "$0.10"), (99_949, "$0.0999"), (123_456, "$0.123"), (600_000, "$0.60"), (999_999, "$1.00"),
            (1_000_000, "$1.00"), (4_286_000, "$4.29"), (4_284_999, "$4.28"), (9_995_000, "$10.00"),
            (12_500_000, "$12.50"), (10_004_000, "$10.00"), (1_234_000_000, "$1,234.00"),
            (1_234_567_891, "$1,234.57"), (-2_204, "-$0.0022"),
            (Int64.max, "$9,223,372,036,854.78"), (Int64.min, "-$9,223,372,036,854.78"),
        ]
        for (micros, text) in cases { XCTAssertEqual(Units.money(micros), text, "\(micros) micros") }
        for micros in stride(from: Int64(1), to: 10_000_000, by: 997) {
            XCTAssertNotEqual(Units.money(micros), "$0.00", "\(micros) micros")
            XCTAssertEqual(Units.parseMoney(Units.money(micros).replacingOccurrences(of: ",", with: "")).map { $0 > 0 }, true)
        }
    }

    func testCountedNouns() {
        XCTAssertEqual(Units.counted(0, "task"), "0 tasks")
        XCTAssertEqual(Units.counted(1, "task"), "1 task")
        XCTAssertEqual(Units.counted(2, "task"), "2 tasks")
        XCTAssertEqual(Units.counted(1, "process group"), "1 process group")
        XCTAssertEqual(Units.counted(3, "process", "processes"), "3 processes")
        XCTAssertEqual(Units.noun(1, "attempt"), "attempt")
        XCTAssertEqual(Units.noun(-1, "attempt"), "attempts")
    }
}
