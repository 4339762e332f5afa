@testable import EzflowReport
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

final class MetricsTests: XCTestCase {
    func testExpositionGolden() throws {
        let (snap, d) = try failedRun()
        let m = RunMetrics()
        m.update(from: d.states[2])  // mid-run: test in backoff, lint and docs running
        m.recordAttempt(agent: "runner_small", outcome: "succeeded")
        m.recordAttempt(agent: "runner_small", outcome: "succeeded")
        m.recordAttempt(agent: "flaky_box", outcome: "transient")
        m.recordAttempt(agent: "we\"ird\\agent\n", outcome: "fatal")
        m.observeAssignment(seconds: 0.000_002)
        m.observeAssignment(seconds: 0.03)
        m.observeAssignment(seconds: 5)
        m.observeAssignment(seconds: -1)  // dropped
        m.recordAppend(records: 3)
        m.recordAppend(records: 1)
        assertGolden(m.exposition(), "metrics.prom")
        m.update(from: snap.state)
        let text = m.exposition()
        XCTAssertTrue(text.contains("ezflow_tasks{state=\"dead_lettered\"} 1\n"))
        XCTAssertTrue(text.contains("ezflow_tasks{state=\"waiting\"} 0\n"), "every state, zeros included")
        XCTAssertTrue(text.contains("ezflow_budget_used{kind=\"money_micros\"} 40000\n"))
        XCTAssertTrue(text.contains("ezflow_budget_limit{kind=\"tokens\"} 50000\n"))
        XCTAssertTrue(text.contains("ezflow_attempts_total{agent=\"we\\\"ird\\\\agent\\n\",outcome=\"fatal\"} 1\n"))
    }

    func testServerServesMetricsOverHTTP() throws {
        let m = RunMetrics()
        m.recordAttempt(agent: "a", outcome: "succeeded")
        let server = try MetricsServer(metrics: m, port: 0)
        defer { server.stop() }
        XCTAssertGreaterThan(server.port, 0)
        let ok = try httpGet(port: server.port, path: "/metrics")
        XCTAssertTrue(ok.hasPrefix("HTTP/1.1 200 OK\r\n"), ok)
        XCTAssertTrue(ok.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        XCTAssertTrue(ok.contains("Connection: close\r\n"))
        XCTAssertTrue(ok.contains("ezflow_attempts_total{agent=\"a\",outcome=\"succeeded\"} 1\n"))
        let body = ok.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        XCTAssertEqual(body, m.exposition())
        XCTAssertTrue(try httpGet(port: server.port, path: "/nope").hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        XCTAssertTrue(try httpGet(port: server.port, path: "/metrics?x=1").hasPrefix("HTTP/1.1 200"))
        // A client that connects and says nothing does not wedge the server for others
        // beyond the read timeout; a second server on another port coexists.
        let other = try MetricsServer(port: 0, render: { "x 1\n" })
        XCTAssertNotEqual(other.port, server.port)
        XCTAssertTrue(try httpGet(port: other.port, path: "/metrics").hasSuffix("\r\n\r\nx 1\n"))
        other.stop()
        other.stop()  // idempotent
    }

    func testStopJoinsAndFreesThePort() throws {
        let server = try MetricsServer(port: 0, render: { "" })
        let port = server.port
        let start = Date()
        server.stop()
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        XCTAssertThrowsError(try httpGet(port: port, path: "/metrics"), "nothing listens after stop")
    }
}
