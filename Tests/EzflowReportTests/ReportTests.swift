import EzflowIR
@testable import EzflowReport
import EzflowRuntime
import EzflowTestSupport
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

final class ReportTests: XCTestCase {
    func testJUnitGolden() throws {
        let (snap, _) = try failedRun()
        let xml = JUnitReport.render(snap, redact: redactor)
        assertGolden(xml, "ci.junit.xml")
        XCTAssertFalse(xml.contains(secret))
        XCTAssertFalse(xml.contains("\u{1B}"), "control characters are stripped")
        XCTAssertFalse(xml.contains("\u{07}"))
        let parser = XMLParser(data: Data(xml.utf8))
        XCTAssertTrue(parser.parse(), "well-formed XML: \(String(describing: parser.parserError))")
        XCTAssertTrue(xml.contains("<testsuite name=\"ci\" tests=\"6\" failures=\"1\" errors=\"0\" skipped=\"1\""))
    }

    func testSummaryJSONGolden() throws {
        let (snap, _) = try failedRun()
        let bytes = SummaryReport.json(snap, redact: redactor)
        let parsed = try JSONParser.parse(bytes)
        XCTAssertEqual(CanonicalJSON.encode(parsed), bytes, "output is canonical JSON")
        assertGolden(CanonicalJSON.pretty(parsed), "ci.summary.json")
        XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains(secret))
        XCTAssertEqual(parsed["verdict"], .string("failed"))
        XCTAssertEqual(parsed["exit_code"], .int(1))
        // Per-task costs add up to the run's charge.
        guard case .array(let tasks)? = parsed["tasks"], case .int(let total)? = parsed["cost_micros"] else { return XCTFail() }
        let sum = tasks.reduce(Int64(0)) { acc, t in if case .int(let c)? = t["cost_micros"] { acc + c } else { acc } }
        XCTAssertEqual(sum, total)
        XCTAssertEqual(total, 40_000)
    }

    func testMarkdownGolden() throws {
        let (snap, _) = try failedRun()
        let md = SummaryReport.markdown(snap, redact: redactor)
        assertGolden(md, "ci.summary.md")
        XCTAssertFalse(md.contains(secret))
        // Agent text appears only inside fenced code blocks, where markup is inert.
        var outside = "", inFence = false
        for l in md.split(separator: "\n", omittingEmptySubsequences: false) {
            if l.hasPrefix("```") { inFence.toggle(); continue }
            if !inFence { outside += l + "\n" }
        }
        XCTAssertFalse(outside.contains("<b>"), outside)
        XCTAssertTrue(md.contains("```text\nattempt 1 on runner_small (1.3s): fatal: 3 problems: <b>&\"x\" red token=***\n"))
    }

    func testOTLPGoldenAndShape() throws {
        let (snap, _) = try failedRun()
        let bytes = OTLPExport.json(snap, redact: redactor)
        let v = try JSONParser.parse(bytes)
        XCTAssertEqual(CanonicalJSON.encode(v), bytes)
        assertGolden(CanonicalJSON.pretty(v), "ci.otlp.json")
        guard case .array(let rs)? = v["resourceSpans"], rs.count == 1,
              case .array(let ss)? = rs[0]["scopeSpans"], ss.count == 1,
              case .array(let spans)? = ss[0]["spans"] else { return XCTFail("shape") }
        XCTAssertEqual(ss[0]["scope"]?["name"], .string("ezflow"))
        // 1 run + 6 tasks + attempts (build 1, test 2, lint 1, docs 1, docs_fallback 1).
        XCTAssertEqual(spans.count, 1 + 6 + 6)
        var ids: [String: JSONValue] = [:]
        let hex = Set("0123456789abcdef")
        for s in spans {
            guard case .string(let trace)? = s["traceId"], case .string(let id)? = s["spanId"] else { return XCTFail() }
            XCTAssertEqual(trace.count, 32)
            XCTAssertEqual(id.count, 16)
            XCTAssertTrue(trace.allSatisfy(hex.contains) && id.allSatisfy(hex.contains))
            XCTAssertNil(ids[id], "span ids are unique")
            ids[id] = s
            guard case .string(let start)? = s["startTimeUnixNano"], case .string(let end)? = s["endTimeUnixNano"],
                  let a = UInt64(start), let b = UInt64(end) else { return XCTFail("times are decimal strings") }
            XCTAssertLessThanOrEqual(a, b)
            XCTAssertEqual(s["kind"], .int(1))
        }
        // Every parent exists; attempts hang under their task, tasks under the run.
        let root = spans.filter { $0["parentSpanId"] == nil }
        XCTAssertEqual(root.count, 1)
        XCTAssertEqual(root[0]["status"]?["code"], .int(2))
        for s in spans {
            if case .string(let p)? = s["parentSpanId"] { XCTAssertNotNil(ids[p]) }
        }
        let lint = spans.first { $0["name"] == .string("lint") }
        XCTAssertEqual(lint?["status"]?["code"], .int(2))
        let attr = lint.flatMap { s -> JSONValue? in
            guard case .array(let attrs)? = s["attributes"] else { return nil }
            return attrs.first { $0["key"] == .string("ezflow.cost_micros") }?["value"]
        }
        XCTAssertEqual(attr, .object([("intValue", .string("10000"))]))
        // Deterministic ids: same run id, same ids.
        XCTAssertEqual(OTLPExport.traceID(runID: "run-42"), OTLPExport.traceID(runID: "run-42"))
        XCTAssertNotEqual(OTLPExport.traceID(runID: "run-42"), OTLPExport.traceID(runID: "run-43"))
        XCTAssertNotEqual(OTLPExport.spanID("task", "r", "a/b"), OTLPExport.spanID("task", "r/a", "b"))
    }

    /// A run still going: running attempts are reported as such everywhere.
    func testUnfinishedRun() throws {
        var d = Driver(try fixturePlan())
        try d.send(.runStarted(runID: "live", seed: 1, planHash: d.plan.hash, tagLimits: [:], atMs: t0))
        let snap = try RunSnapshot.folding(workflowName: "ci", plan: d.plan, journal: d.journal, endedAtMs: t0 + 2_500)
        XCTAssertEqual(snap.durationMs, 2_500)
        let s = try JSONParser.parse(SummaryReport.json(snap))
        XCTAssertEqual(s["verdict"], .string("running"))
        XCTAssertEqual(s["exit_code"], .null)
        let xml = JUnitReport.render(snap)
        XCTAssertTrue(xml.contains("<skipped message=\"not finished (running)\"/>"), xml)
        XCTAssertTrue(xml.contains("outcome=running"))
        let otlp = String(decoding: OTLPExport.json(snap), as: UTF8.self)
        XCTAssertTrue(otlp.contains("\"name\":\"build #1\""))
        XCTAssertTrue(SummaryReport.markdown(snap).contains("## ezflow run `ci`: running"))
    }

    func testXMLEscaping() {
        XCTAssertEqual(XML.text("a<b>&c\u{0}\u{1B}d\u{FFFE}"), "a&lt;b&gt;&amp;cd")
        XCTAssertEqual(XML.attr("\"q\" 'a'\n\t"), "&quot;q&quot; &apos;a&apos;&#10;&#9;")
    }

    func testFormatting() {
        XCTAssertEqual(Format.money(0), "$0.00")
        XCTAssertEqual(Format.money(12_300), "$0.0123")
        XCTAssertEqual(Format.money(1_500_000), "$1.50")
        XCTAssertEqual(Format.money(1), "$0.000001")
        XCTAssertEqual(Format.duration(350), "350ms")
        XCTAssertEqual(Format.duration(1_234), "1.2s")
        XCTAssertEqual(Format.duration(59_960), "1m00s")
        XCTAssertEqual(Format.duration(123_000), "2m03s")
        XCTAssertEqual(Format.duration(3_720_000), "1h02m")
        XCTAssertEqual(Format.seconds3(1_005), "1.005")
        XCTAssertEqual(Format.grouped(1_234_567), "1,234,567")
        XCTAssertEqual(Format.rfc3339(ms: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Format.rfc3339(ms: t0 + 7), "2024-05-01T12:00:00.007Z")
        XCTAssertEqual(Format.rfc3339(ms: 951_782_400_000), "2000-02-29T00:00:00.000Z")
        XCTAssertEqual(Format.rfc3339(ms: -1), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(Format.rfc3339(ms: 4_102_444_799_999), "2099-12-31T23:59:59.999Z")
        XCTAssertEqual(Format.tail("a\nb\nc\n", maxLines: 2), "b\nc")
        XCTAssertEqual(MD.fence("x ``` y"), "````text\nx ``` y\n````\n")
        XCTAssertEqual(MD.cell("a|b<c>\n*d*"), "a\\|b&lt;c&gt; \\*d\\*")
    }
}
