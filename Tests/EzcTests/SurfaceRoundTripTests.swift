import EzflowTestSupport
import Foundation
import XCTest

/// `ezc fmt --to yaml` and back: both printers share `ExprText`, so record keys with
/// backslashes and quotes survive the trip (they used to be escaped by one printer only).
final class SurfaceRoundTripTests: XCTestCase {
    static let source = #"""
    agent sh { driver: exec, capabilities: ["shell"] }

    workflow w {
      input opts: map[int] = { "a\\b": 1, "say \"hi\"": 2, plain: 3 }
      task t {
        run: "echo hi"
        for_each: [inputs.opts, { "k\\1": 5, "q\"x": 6 }]
        env: { "BACK\\SLASH": "1", "QUO\"TE": "2", "DOLLAR$": "3" }
        timeout: 90s
        max_cost: $0.5
      }
    }
    """#

    func testRecordKeysRoundTripThroughYAML() throws {
        let dir = TempDir("ezc-surface")
        defer { dir.remove() }
        dir.write("w.ezflow", Self.source)
        let toYAML = runEzc(["fmt", "--to", "yaml", "w.ezflow", "-o", "w.ezflow.yaml"], cwd: dir.url)
        XCTAssertEqual(toYAML.status, 0, toYAML.stderr)
        let back = runEzc(["fmt", "--to", "ezflow", "w.ezflow.yaml", "-o", "back.ezflow"], cwd: dir.url)
        XCTAssertEqual(back.status, 0, back.stderr)
        let canonical = runEzc(["fmt", "w.ezflow"], cwd: dir.url)
        XCTAssertEqual(canonical.status, 0, canonical.stderr)
        let backText = try String(contentsOf: dir.url.appendingPathComponent("back.ezflow"), encoding: .utf8)
        XCTAssertEqual(backText, try String(contentsOf: dir.url.appendingPathComponent("w.ezflow"), encoding: .utf8))
        XCTAssertTrue(backText.contains(#""BACK\\SLASH": "1""#), backText)
        XCTAssertTrue(backText.contains(#""QUO\"TE": "2""#), backText)
        XCTAssertTrue(backText.contains(#""a\\b": 1"#), backText)
        // Inside an expression the record goes through the YAML printer as `!expr` text.
        XCTAssertTrue(backText.contains(#"[inputs.opts, { "k\\1": 5, "q\"x": 6 }]"#), backText)
        // Both surfaces build to the same IR, with the keys decoded.
        let irs = ["w.ezflow", "w.ezflow.yaml"].map { runEzc(["build", $0, "-o", "-"], cwd: dir.url) }
        for r in irs { XCTAssertEqual(r.status, 0, r.stderr) }
        XCTAssertEqual(Self.hash(irs[0].stdout), Self.hash(irs[1].stdout))
        XCTAssertNotNil(Self.hash(irs[0].stdout))
        XCTAssertTrue(irs[0].stdout.contains(#""BACK\\SLASH""#), irs[0].stdout)
        XCTAssertTrue(irs[0].stdout.contains(#""QUO\"TE""#), irs[0].stdout)
    }

    /// A task's several `retry` rules with an attribute between them convert to YAML (one
    /// `retry:` sequence, where the first rule stood) and build the same IR, rules in order
    /// (before: "internal error: ... does not round-trip").
    func testRetryRulesWithAnAttributeBetweenThemConvertToYAML() throws {
        let dir = TempDir("ezc-surface")
        defer { dir.remove() }
        dir.write("w.ezflow", """
            agent sh { driver: exec, capabilities: ["shell"] }

            workflow w {
              task t {
                run: "x"
                timeout: 1s
                retry { on: [timeout], attempts: 3 }
                priority: 3
                retry { attempts: 2 }
              }
            }
            """)
        let toYAML = runEzc(["fmt", "--to", "yaml", "w.ezflow", "-o", "w.ezflow.yaml"], cwd: dir.url)
        XCTAssertEqual(toYAML.status, 0, toYAML.stderr)
        let yaml = try String(contentsOf: dir.url.appendingPathComponent("w.ezflow.yaml"), encoding: .utf8)
        XCTAssertEqual(yaml.components(separatedBy: "retry:").count, 2, yaml)
        let irs = ["w.ezflow", "w.ezflow.yaml"].map { runEzc(["build", $0, "-o", "-"], cwd: dir.url) }
        for r in irs { XCTAssertEqual(r.status, 0, r.stderr) }
        XCTAssertEqual(Self.hash(irs[0].stdout), Self.hash(irs[1].stdout))
        XCTAssertTrue(irs[1].stdout.contains(#""retry_more":[{"attempts":2"#), irs[1].stdout)
    }

    /// The content hash of an IR document (the source map, which names the file, is not hashed).
    static func hash(_ ir: String) -> String? {
        guard let r = ir.range(of: #""hash":"sha256:[0-9a-f]+""#, options: .regularExpression) else { return nil }
        return String(ir[r])
    }
}
