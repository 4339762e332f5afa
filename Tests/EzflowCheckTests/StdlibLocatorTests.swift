import EzflowCompiler
import Foundation
import XCTest

/// The stdlib search rule (README.md, "Where the standard library is found") on directory
/// layouts made here; InstallTests drives the same rule through installed binaries.
final class StdlibLocatorTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("stdlib-locator-\(UUID().uuidString)").path
        for dir in ["prefix/bin", "prefix/share/ezflow/stdlib", "checkout/.build/x86_64-unknown-linux-gnu/release", "checkout/stdlib",
                    "other", "lone/bin", "empty"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        for dir in ["prefix/share/ezflow/stdlib", "checkout/stdlib", "other"] {
            try Data("retry r { attempts: 2 }\n".utf8).write(to: URL(fileURLWithPath: root + "/" + dir + "/retry.ezflow"))
        }
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    func find(flag: String? = nil, env: String? = nil, exe: String = "prefix/bin/ezc") -> StdlibLocation {
        StdlibLocator.find(flag: flag, environment: env.map { ["EZFLOW_STDLIB": $0] } ?? [:], executable: root + "/" + exe)
    }

    func testAnInstallPrefixAndASourceCheckoutAreFoundBesideTheExecutable() {
        XCTAssertEqual(find(), .found(root + "/prefix/share/ezflow/stdlib"))
        XCTAssertEqual(find(exe: "checkout/.build/x86_64-unknown-linux-gnu/release/ezc"), .found(root + "/checkout/stdlib"))
    }

    func testTheFlagWinsOverTheVariableWhichWinsOverTheExecutable() {
        XCTAssertEqual(find(flag: root + "/checkout/stdlib", env: root + "/other"), .found(root + "/checkout/stdlib"))
        XCTAssertEqual(find(env: root + "/other"), .found(root + "/other"))
        XCTAssertEqual(find(env: ""), .found(root + "/prefix/share/ezflow/stdlib"), "an empty EZFLOW_STDLIB is unset")
    }

    func testANamedDirectoryThatIsNoStdlibIsNotSkipped() {
        XCTAssertEqual(find(flag: root + "/nope", env: root + "/other"), .missing("--stdlib \(root)/nope: no such directory"))
        XCTAssertEqual(find(env: root + "/nope"), .missing("EZFLOW_STDLIB=\(root)/nope: no such directory"))
        XCTAssertEqual(find(flag: root + "/other/retry.ezflow"), .missing("--stdlib \(root)/other/retry.ezflow: not a directory"))
        XCTAssertEqual(find(flag: root + "/empty"), .missing("--stdlib \(root)/empty: holds no standard library modules (*.ezflow)"))
    }

    /// Nothing beside the executable: an error that says where it looked, whatever the
    /// working directory holds.
    func testNothingBesideTheExecutableIsMissingNeverTheWorkingDirectory() {
        let cwd = FileManager.default.currentDirectoryPath
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        FileManager.default.changeCurrentDirectoryPath(root + "/checkout")
        XCTAssertEqual(find(exe: "lone/bin/ezc"), .missing("no standard library beside \(root)/lone/bin/ezc (looked for share/ezflow/stdlib and stdlib/ above it); pass --stdlib DIR or set EZFLOW_STDLIB"))
    }
}
