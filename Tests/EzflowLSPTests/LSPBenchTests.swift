// `ezbench lsp` on the built `ezc lsp` at a tiny size: the report's shape (a row per
// measure with its sample count, the completion items found, the memory line), never
// its timings.
import EzflowTestSupport
import Foundation
import XCTest

final class LSPBenchTests: XCTestCase {
    func testEzbenchLSPReportsEveryMeasurePerSize() throws {
        let r = runProcess(Repo.executable("ezbench"), ["lsp", "--sizes", "20,30", "--edits", "7", "--ezc", Repo.executable("ezc").path],
                           timeout: 120)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertEqual(r.stderr, "")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertTrue(lines.first?.hasSuffix("chain workflows, 7 edits per size in one task mid-file, cycling:") ?? false, r.stdout)
        XCTAssertTrue(lines.contains("diagnostics: didChange written → that version's publishDiagnostics read"), r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  tasks   lines     bytes   measure") && $0.hasSuffix("n   p50 ms   p99 ms   max ms") }, r.stdout)
        // The 7 edits cycle literal, error, fix: 3 + 2 + 2.
        let measures: [(String, Int)] = [
            ("didOpen → publish (first check)", 1), ("didChange → publish, all edits", 7),
            ("  change a literal (list unchanged: 0)", 3), ("  introduce an error (list: 1)", 2), ("  remove the error (list: 0)", 2),
            ("completion: members after `inputs.` (1)", 7),
        ]
        for tasks in [20, 30] {
            guard let first = lines.firstIndex(where: { $0.hasPrefix(String(repeating: " ", count: 5) + "\(tasks) ") }) else {
                XCTFail("no rows for \(tasks) tasks:\n\(r.stdout)")
                continue
            }
            let block = lines[first..<min(lines.count, first + 10)]
            for (label, n) in measures {
                guard let row = block.first(where: { $0.dropFirst(28).hasPrefix(label + " ") }) else {
                    XCTFail("\(tasks) tasks: no row `\(label)`:\n\(block.joined(separator: "\n"))")
                    continue
                }
                let cols = row.dropFirst(28 + 46).split(separator: " ")
                XCTAssertEqual(cols.count, 4, row)
                XCTAssertEqual(cols.first.flatMap { Int($0) }, n, row)
                XCTAssertTrue(cols.dropFirst().allSatisfy { Double($0) != nil }, row)
            }
            // Every task of the workflow is a candidate in `after: [`, with the other names in scope.
            let names = block.first { $0.contains("completion: task names in `after: [` (") } ?? ""
            let count = names.split(separator: "(").last?.prefix { $0.isNumber }
            XCTAssertGreaterThan(count.flatMap { Int($0) } ?? 0, tasks, names)
            XCTAssertTrue(block.contains { $0.contains("memory (VmRSS MiB): initialized ") && $0.contains(" for the file), after 7 edits ") },
                          block.joined(separator: "\n"))
        }
        XCTAssertFalse(r.stdout.contains("target:"), "the target line is for the 1,000-task size only")
    }

    /// With other files open, the edits still publish (only the edited file is re-checked)
    /// and the memory line says how much the others hold.
    func testOtherOpenFilesAreReported() {
        let r = runProcess(Repo.executable("ezbench"), ["lsp", "--sizes", "20", "--edits", "3", "--others", "2", "--ezc", Repo.executable("ezc").path],
                           timeout: 120)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("(all three publish: every new version does); 2 other files of the same size open\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains(" for the file), 2 others open "), r.stdout)
        XCTAssertTrue(r.stdout.contains("didChange → publish, all edits                     3 "), r.stdout)
    }

    func testBadOptionsAreUsageErrors() {
        let r = runProcess(Repo.executable("ezbench"), ["lsp", "--edits", "2"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.hasPrefix("ezbench lsp: --edits needs an integer from 3 to 100000, not `2`\n"), r.stderr)
        let others = runProcess(Repo.executable("ezbench"), ["lsp", "--others", "-1"])
        XCTAssertEqual(others.status, 2)
        XCTAssertTrue(others.stderr.hasPrefix("ezbench lsp: --others needs an integer from 0 to 100, not `-1`\n"), others.stderr)
        let missing = runProcess(Repo.executable("ezbench"), ["lsp", "--sizes", "20", "--ezc", "/nonexistent/ezc"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr, "ezbench: /nonexistent/ezc not found; build it first (swift build -c release --product ezc) or give --ezc PATH\n")
    }
}
