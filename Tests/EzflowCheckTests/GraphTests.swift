import EzflowCompiler
import EzflowTestSupport
import XCTest

/// `ezc graph` output for every example, as DOT and Mermaid goldens.
final class GraphTests: XCTestCase {
    func testExampleGraphsMatchGoldens() throws {
        let examples = Repo.files(in: "examples", ext: [".ezflow"])
        XCTAssertFalse(examples.isEmpty)
        for f in examples {
            let (text, result) = renderCheck(f)
            let w = try XCTUnwrap(result.workflows.first { $0.module == 0 }, "\(f): no workflow\n\(text)")
            let name = ((f as NSString).lastPathComponent as NSString).deletingPathExtension
            for (format, ext) in [(GraphRenderer.Format.dot, "dot"), (.mermaid, "mmd")] {
                let out = GraphRenderer.render(w, format: format)
                if let failure = compareGolden(actual: out, expectedPath: "Tests/Fixtures/graph/\(name).\(ext)") { XCTFail(failure) }
            }
        }
    }

    /// The critical path is the longest chain by worst-case time, and it is marked.
    func testCriticalPathIsMarked() throws {
        let src = """
            workflow w {
              agent a { driver: exec, capabilities: ["shell"] }
              role r { allow: [run], agents: [a] }
              task short { run: "true", role: r, timeout: 1m }
              task long { run: "true", role: r, timeout: 10m }
              task join { run: "true", role: r, timeout: 1m, after: [short, long] }
            }
            """
        let result = Compiler.check(root: "w.ezflow", files: ["w.ezflow": src])
        XCTAssertEqual(result.diagnostics.map(\.code), [])
        let w = try XCTUnwrap(result.workflows.first)
        let dot = GraphRenderer.render(w, format: .dot)
        XCTAssertTrue(dot.contains("t1 -> t2 [color=red, penwidth=2];"), dot)
        XCTAssertTrue(dot.contains("t0 -> t2;\n"), dot)
        XCTAssertTrue(dot.contains("critical path 11m"), dot)
    }
}
