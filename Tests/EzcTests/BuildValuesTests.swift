import EzflowTestSupport
import Foundation
import XCTest

/// Values `ezc check` used to accept and `ezc build` then lost or choked on.
final class BuildValuesTests: XCTestCase {
    func testOutOfRangeValuesAreDiagnosticsNotInternalErrors() {
        let dir = TempDir("ezc-values")
        defer { dir.remove() }
        let cases = [
            ("max_parallel: 0", "task t { run: \"x\" }", "E0306"),
            ("", "task t { run: \"x\", timeout: -5s }", "E0306"),
            ("", "task t { run: \"x\", priority: -1 }", "E0306"),
            ("", "group g { priority: 10\n task t { run: \"x\" } }", "E0306"),
            ("input n: int", "task t { run: \"x\", priority: inputs.n }", "E0307"),
        ]
        for (i, (head, body, code)) in cases.enumerated() {
            dir.write("w\(i).ezflow", "agent sh { driver: exec, capabilities: [\"shell\"] }\nworkflow w {\n  \(head)\n  \(body)\n}\n")
            for cmd in ["check", "build"] {
                let r = runEzc(cmd == "check" ? [cmd, "w\(i).ezflow"] : [cmd, "w\(i).ezflow", "-o", "-"], cwd: dir.url)
                XCTAssertEqual(r.status, 1, "\(cmd) \(body): \(r.stderr)")
                XCTAssertEqual(diagnosticCodes(r.stderr), [code] as Set, "\(cmd) \(body): \(r.stderr)")
                XCTAssertFalse(r.stderr.contains("internal error"), r.stderr)
                XCTAssertEqual(r.stdout, "", "\(cmd) \(body)")
            }
        }
    }
}
