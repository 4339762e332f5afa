import EzflowDiagnostics
import Foundation
import XCTest

final class JSONRendererTests: XCTestCase {
    func testDocumentShape() {
        let (s, diags) = CycleFixture.make()
        let expected =
            #"{"diagnostics":["#
            + #"{"code":"E0400","column":37,"end_column":41,"end_line":3,"file":"ci.ezflow","fixes":[],"#
            + #""help":"remove one of the two `after` entries","labels":["#
            + #"{"column":37,"end_column":41,"end_line":3,"file":"ci.ezflow","line":3,"#
            + #""message":"`build` waits for `test`","primary":true},"#
            + #"{"column":41,"end_column":46,"end_line":4,"file":"ci.ezflow","line":4,"#
            + #""message":"`test` waits for `build`","primary":false}],"#
            + #""line":3,"message":"dependency cycle between `build` and `test`","#
            + #""notes":["every task waits for the tasks in its `after` list"],"severity":"error"},"#
            + #"{"code":"W0100","column":9,"end_column":16,"end_line":2,"file":"ci.ezflow","fixes":[],"#
            + #""help":"remove it, or read it as `inputs.verbose`","labels":["#
            + #"{"column":9,"end_column":16,"end_line":2,"file":"ci.ezflow","line":2,"#
            + #""message":"never read","primary":true}],"#
            + #""line":2,"message":"unused input `verbose`","notes":[],"severity":"warning"}],"#
            + #""errors":1,"version":1,"warnings":1}"#
            + "\n"
        XCTAssertEqual(JSONRenderer().render(diags, sources: s.map), expected)
    }

    func testNoDiagnostics() {
        XCTAssertEqual(
            JSONRenderer().render([], sources: SourceMap()),
            #"{"diagnostics":[],"errors":0,"version":1,"warnings":0}"# + "\n")
    }

    /// Strings are escaped per RFC 8259 (plus U+2028/U+2029); other non-ASCII text is
    /// written as UTF-8. A missing help is `null`, an empty label message `""`.
    func testEscapingAndNulls() throws {
        var s = TestSources()
        let f = s.add("dir/\"odd\" name.ezflow", "x\n")
        let message = "quote \" backslash \\ newline \n tab \t cr \r bell \u{07} ls \u{2028} del \u{7F} é 🙂 /"
        let d = Diagnostic(
            "E0100", .error, message, at: Label(s.span(f, "x")), notes: ["a\u{0}b"])
        let out = JSONRenderer().render([d], sources: s.map)
        XCTAssertEqual(
            out,
            #"{"diagnostics":[{"code":"E0100","column":1,"end_column":2,"end_line":1,"#
                + #""file":"dir/\"odd\" name.ezflow","fixes":[],"help":null,"labels":[{"column":1,"end_column":2,"#
                + #""end_line":1,"file":"dir/\"odd\" name.ezflow","line":1,"message":"","primary":true}],"#
                + #""line":1,"message":"quote \" backslash \\ newline \n tab \t cr \r bell \u0007 ls \u2028 "#
                + #"del \u007f é 🙂 /","notes":["a\u0000b"],"severity":"error"}],"#
                + #""errors":1,"version":1,"warnings":0}"# + "\n")

        // And a standard parser reads back exactly what went in.
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let first = try XCTUnwrap((parsed["diagnostics"] as? [[String: Any]])?.first)
        XCTAssertEqual(first["message"] as? String, message)
        XCTAssertEqual(first["notes"] as? [String], ["a\u{0}b"])
        XCTAssertTrue(first["help"] is NSNull)
    }

    /// A fix is data: its title, and each edit's range (positions and byte offsets) and text.
    func testFixesCarryTheirEdits() {
        var s = TestSources()
        let f = s.add("w.ezflow", "task a { after: [biuld] }\n")
        let d = Diagnostic.error("E0200", "cannot find task `biuld` in this workflow", at: s.span(f, "biuld"))
            .suggesting("build", at: s.span(f, "biuld"))
        XCTAssertEqual(d.help, "did you mean `build`?")
        let out = JSONRenderer().render([d], sources: s.map)
        XCTAssertTrue(
            out.contains(
                #""fixes":[{"edits":[{"column":18,"end_column":23,"end_line":1,"end_offset":22,"file":"w.ezflow","#
                    + #""line":1,"replacement":"build","start_offset":17}],"title":"replace with `build`"}]"#), out)
    }

    /// Columns count Unicode scalars; the end is exclusive and may be on a later line.
    func testPositionsAreScalarColumnsWithExclusiveEnds() throws {
        var s = TestSources()
        let f = s.add("u.ezflow", "task é {\n  run: \"ü\" }\n")
        let block = s.span(f, "{").to(s.span(f, "}"))
        let d = Diagnostic.error("E0208", "task `é` has no action", at: block)
        let out = JSONRenderer().render([d], sources: s.map)
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let first = try XCTUnwrap((parsed["diagnostics"] as? [[String: Any]])?.first)
        XCTAssertEqual(first["line"] as? Int, 1)
        XCTAssertEqual(first["column"] as? Int, 8)
        XCTAssertEqual(first["end_line"] as? Int, 2)
        XCTAssertEqual(first["end_column"] as? Int, 13)
    }
}
