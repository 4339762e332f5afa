import EzflowDiagnostics
import XCTest

final class TextRendererTests: XCTestCase {
    func testPrimaryAndSecondaryLabelsWithNotesAndHelp() {
        let (s, diags) = CycleFixture.make()
        let expected = """
            error[E0400]: dependency cycle between `build` and `test`
             --> ci.ezflow:3:37
              |
            3 |   task build { run: "make", after: [test] }
              |                                     ^^^^ `build` waits for `test`
            4 |   task test { run: "make test", after: [build] }
              |                                         ----- `test` waits for `build`
              |
              = note: every task waits for the tasks in its `after` list
              = help: remove one of the two `after` entries

            warning[W0100]: unused input `verbose`
             --> ci.ezflow:2:9
              |
            2 |   input verbose: bool = false
              |         ^^^^^^^ never read
              |
              = help: remove it, or read it as `inputs.verbose`


            """
        let renderer = TextRenderer()
        XCTAssertEqual(renderer.render(diags, sources: s.map), expected)
        XCTAssertEqual(renderer.summary(diags), "error: 1 error and 1 warning emitted")
        XCTAssertEqual(renderer.summary([diags[1], diags[1]]), "warning: 2 warnings emitted")
        XCTAssertNil(renderer.summary([]))
    }

    func testLabelsInAnotherFile() {
        var s = TestSources()
        let a = s.add("a.ezflow", "import \"./b.ezflow\"\n\nworkflow a {}\n")
        let b = s.add("lib/b.ezflow", "# shared helpers\nimport \"../a.ezflow\"\n")
        let d = Diagnostic.error(
            "E0207", "import cycle: `a.ezflow` -> `lib/b.ezflow` -> `a.ezflow`",
            at: s.span(a, "\"./b.ezflow\""), label: "`a.ezflow` imports `lib/b.ezflow`",
            secondary: [Label(s.span(b, "\"../a.ezflow\""), "`lib/b.ezflow` imports `a.ezflow`")],
            help: "move what both modules need into a third module")
        XCTAssertEqual(
            TextRenderer().render(d, sources: s.map),
            """
            error[E0207]: import cycle: `a.ezflow` -> `lib/b.ezflow` -> `a.ezflow`
             --> a.ezflow:1:8
              |
            1 | import "./b.ezflow"
              |        ^^^^^^^^^^^^ `a.ezflow` imports `lib/b.ezflow`
             ::: lib/b.ezflow:2:8
              |
            2 | import "../a.ezflow"
              |        ------------- `lib/b.ezflow` imports `a.ezflow`
              |
              = help: move what both modules need into a third module

            """)
    }

    /// Labels in files other than the primary's are grouped per file and ordered by
    /// position, whatever order the checker listed them in.
    func testLabelsAcrossThreeFilesAreGroupedByFile() {
        var s = TestSources()
        let a = s.add("a.ezflow", "import \"./b.ezflow\"\n")
        let b = s.add("b.ezflow", "import \"./c.ezflow\"\n\n\nrole deployer { allow: [run] }\n")
        let c = s.add("c.ezflow", "import \"./a.ezflow\"\n")
        let d = Diagnostic.error(
            "E0207", "import cycle", at: s.span(a, "\"./b.ezflow\""), label: "a imports b",
            secondary: [
                Label(s.span(c, "\"./a.ezflow\""), "c imports a"),
                Label(s.span(b, "deployer"), "declared here"),
                Label(s.span(b, "\"./c.ezflow\""), "b imports c"),
            ])
        XCTAssertEqual(
            TextRenderer().render(d, sources: s.map),
            """
            error[E0207]: import cycle
             --> a.ezflow:1:8
              |
            1 | import "./b.ezflow"
              |        ^^^^^^^^^^^^ a imports b
             ::: b.ezflow:1:8
              |
            1 | import "./c.ezflow"
              |        ------------ b imports c
            ...
            4 | role deployer { allow: [run] }
              |      -------- declared here
             ::: c.ezflow:1:8
              |
            1 | import "./a.ezflow"
              |        ------------ c imports a

            """)
    }

    /// Columns count Unicode scalars and a tab shows as four spaces, so the caret still
    /// sits under the name.
    func testTabsAndNonASCIIKeepCaretsAligned() {
        var s = TestSources()
        let f = s.add("t.ezflow", "task résumé {\n\trun: \"é\", timout: 5m\n}\n")
        let d = Diagnostic.error(
            "E0203", "unknown attribute `timout`", at: s.span(f, "timout"), help: "did you mean `timeout`?")
        XCTAssertEqual(
            TextRenderer().render(d, sources: s.map),
            """
            error[E0203]: unknown attribute `timout`
             --> t.ezflow:2:12
              |
            2 |     run: "é", timout: 5m
              |               ^^^^^^
              |
              = help: did you mean `timeout`?

            """)
    }

    func testColorOnlyWhenAsked() {
        let (s, diags) = CycleFixture.make()
        let plain = TextRenderer(color: false).render(diags, sources: s.map)
        let colored = TextRenderer(color: true).render(diags, sources: s.map)
        XCTAssertFalse(plain.contains("\u{1B}"))
        XCTAssertTrue(colored.contains("\u{1B}[1;31merror[E0400]\u{1B}[0m"))
        let stripped = colored.replacingOccurrences(
            of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        XCTAssertEqual(stripped, plain)
    }
}
