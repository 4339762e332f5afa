import EzflowUnits
import XCTest

/// `Literal.scan` reads a value as the lexer reads a literal: nothing else is a unit.
final class LiteralTests: XCTestCase {
    func testLiteralsReadAsTheLanguageWritesThem() {
        let cases: [(String, Literal.Scan)] = [
            ("5", .value(.int(5))), ("-5", .value(.int(-5))), ("1_000", .value(.int(1000))), ("0.5", .value(.float(0.5))),
            ("5s", .value(.duration(5000))), ("1.5s", .value(.duration(1500))), ("250ms", .value(.duration(250))), ("2d", .value(.duration(172_800_000))),
            ("$2.50", .value(.money(2_500_000))), ("$10", .value(.money(10_000_000))),
            ("200k tokens", .value(.tokens(200_000))), ("2M tokens", .value(.tokens(2_000_000))), ("7 tokens", .value(.tokens(7))),
            ("true", .value(.bool(true))), ("false", .value(.bool(false))),
            ("1h30m", .unknown), ("-5s", .unknown), ("5 s", .unknown), ("200k", .unknown), ("2.50", .value(.float(2.5))), (".5", .unknown),
            ("1.", .unknown), ("1e3", .unknown), ("0x10", .unknown), ("nan", .unknown), ("", .unknown), ("$", .unknown), ("$-1", .unknown),
            ("TRUE", .unknown), ("5tokens", .unknown), ("1.2.3", .unknown), ("٥s", .unknown),
            ("1.0001ms", .outOfRange(.duration)), ("$0.0000001", .outOfRange(.money)), ("1.5 tokens", .outOfRange(.tokens)),
            ("99999999999999999999", .outOfRange(.int)), ("9999999999999999d", .outOfRange(.duration)),
        ]
        for (text, want) in cases { XCTAssertEqual(Literal.scan(text), want, text) }
    }

    func testAPlainNumberWhereAUnitIsWantedIsToldToAddTheUnit() {
        XCTAssertEqual(LiteralKind.duration.help(found: .int), "add a unit: `30s`, `10m` or `2h`")
        XCTAssertEqual(LiteralKind.money.help(found: .float), "add a unit: `$2.50`")
        XCTAssertEqual(LiteralKind.tokens.help(found: .duration), "write `200k tokens`")
        XCTAssertEqual(LiteralKind.int.help(found: .duration), "write `3`")
    }
}
