import EzflowUnits
import XCTest

/// The backoff formula the runtime and the checker's proofs share.
final class RetryDelayTests: XCTestCase {
    func testEachKindCappedAndSaturating() {
        XCTAssertEqual((1...3).map { RetryDelay.ms(kind: "fixed", delayMs: 5, failedAttempt: $0) }, [5, 5, 5])
        XCTAssertEqual((1...3).map { RetryDelay.ms(kind: "linear", delayMs: 5, failedAttempt: $0) }, [5, 10, 15])
        XCTAssertEqual((1...4).map { RetryDelay.ms(kind: "exponential", delayMs: 5, failedAttempt: $0) }, [5, 10, 20, 40])
        XCTAssertEqual((1...3).map { RetryDelay.ms(kind: "exponential", delayMs: 10, failedAttempt: $0, factorPPM: 1_500_000) }, [10, 15, 22])
        XCTAssertEqual(RetryDelay.ms(kind: "exponential", delayMs: 1, failedAttempt: 200, factorPPM: 10_000_000), Int64.max)
        XCTAssertEqual(RetryDelay.ms(kind: "exponential", delayMs: 1, failedAttempt: 1_000, maxDelayMs: 60_000), 60_000)
        XCTAssertEqual(RetryDelay.ms(kind: "exponential", delayMs: 0, failedAttempt: 1_000), 0)
        XCTAssertEqual(RetryDelay.ms(kind: "exponential", delayMs: 3, failedAttempt: 9, factorPPM: 1_000_000), 3, "factor 1: fixed")
    }
}
