import EzflowDiagnostics
import XCTest

final class GitHubRendererTests: XCTestCase {
    func testOneCommandPerDiagnostic() {
        let (s, diags) = CycleFixture.make()
        let expected = """
            ::error file=ci.ezflow,line=3,col=37,endLine=3,endColumn=41,title=E0400::\
            dependency cycle between `build` and `test`\
            %0Aci.ezflow:3:37: `build` waits for `test`\
            %0Aci.ezflow:4:41: `test` waits for `build`\
            %0Anote: every task waits for the tasks in its `after` list\
            %0Ahelp: remove one of the two `after` entries
            ::warning file=ci.ezflow,line=2,col=9,endLine=2,endColumn=16,title=W0100::\
            unused input `verbose`%0Aci.ezflow:2:9: never read%0Ahelp: remove it, or read it as `inputs.verbose`

            """
        XCTAssertEqual(GitHubRenderer().render(diags, sources: s.map), expected)
    }

    /// Properties escape `%`, CR, LF, `:` and `,`; the message escapes only `%`, CR and LF.
    func testEscaping() {
        var s = TestSources()
        let f = s.add("dir,a:b/100%.ezflow", "x\n")
        let d = Diagnostic(
            "E0100", .note, "50% done,\r\nkey: value", at: Label(s.span(f, "x")))
        XCTAssertEqual(
            GitHubRenderer().render([d], sources: s.map),
            "::notice file=dir%2Ca%3Ab/100%25.ezflow,line=1,col=1,endLine=1,endColumn=2,title=E0100::"
                + "50%25 done,%0D%0Akey: value\n")
    }

    func testNoDiagnosticsNoOutput() {
        XCTAssertEqual(GitHubRenderer().render([], sources: SourceMap()), "")
    }
}
