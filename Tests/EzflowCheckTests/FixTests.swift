import EzflowCompiler
import EzflowDiagnostics
import EzflowTestSupport
import Foundation
import XCTest

/// Fixes are data: applying one to the source makes its diagnostic go away.
final class FixTests: XCTestCase {
    /// Every check fixture: each diagnostic's fixes are applied, one at a time, and the
    /// file is checked again; the same code and message must not come back.
    func testApplyingEachFixRemovesItsDiagnostic() throws {
        var applied: [String: Int] = [:]
        var failures: [String] = []
        for fixture in Repo.files(in: "Tests/Fixtures/check", ext: [".ezflow"]) {
            let (_, result) = renderCheck(fixture)
            let files = siblings(of: fixture)
            for d in result.diagnostics {
                for fix in d.fixes {
                    let file = fix.edits[0].span.file
                    XCTAssertTrue(fix.edits.allSatisfy { $0.span.file == file }, "\(d.code): a checker fix stays in one file")
                    let path = result.sources[file].path
                    guard files[path] != nil else { continue }  // a stdlib file
                    var edited = files
                    edited[path] = result.sources[file].applying(fix.edits)
                    let again = Compiler.check(root: fixture, bytes: edited, stdlibRoot: Repo.url("stdlib").path)
                    if again.diagnostics.contains(where: { $0.code == d.code && $0.message == d.message }) {
                        failures.append("\(fixture): \(d.code) \(d.message): `\(fix.title)` did not remove it")
                    }
                    applied[d.code, default: 0] += 1
                }
            }
        }
        XCTAssertEqual(failures, [])
        print("fixes applied per code: \(applied.sorted { $0.key < $1.key })")
        // The fixtures exercise the fixes of these codes (so this test cannot pass empty).
        for code in ["E0200", "E0202", "E0203", "E0205", "E0209", "E0211", "E0602", "E0604", "E0608", "W0104"] {
            XCTAssertNotNil(applied[code], "no fixture exercises a fix of \(code)")
        }
    }

    func siblings(of fixture: String) -> [String: [UInt8]] {
        func read(_ f: String) -> [UInt8] { (try? Data(contentsOf: Repo.url(f))).map { [UInt8]($0) } ?? [] }
        var files: [String: [UInt8]] = [:]
        for f in Repo.files(in: (fixture as NSString).deletingLastPathComponent, ext: [".ezflow"]) { files[f] = read(f) }
        return files
    }
}
