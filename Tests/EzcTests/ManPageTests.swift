import EzflowCLI
import EzflowTestSupport
import Foundation
import XCTest

/// `TOOL help --man` is a manual page groff renders without a warning, with every command.
final class ManPageTests: XCTestCase {
    func testManPagesRenderCleanly() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/groff") else { throw XCTSkip("groff is not installed") }
        for tool in [Tool.ezc, .ezrun] {
            let exe = tool.name == "ezc" ? ezcBinary() : Repo.executable(tool.name)
            let page = runProcess(exe, ["help", "--man"])
            XCTAssertEqual(page.status, 0, page.stderr)
            XCTAssertTrue(page.stdout.hasPrefix(".TH \(tool.name.uppercased()) 1 "))
            let r = runProcess(URL(fileURLWithPath: "/usr/bin/groff"), ["-man", "-Tutf8", "-ww", "-rLL=100n", "-rHY=0"], stdin: Data(page.stdout.utf8))
            XCTAssertEqual(r.status, 0)
            XCTAssertEqual(r.stderr, "", "\(tool.name): groff warnings")
            // Overstrikes (bold: `c\bc`) read as plain text; troff's minus and hyphen signs as `-`.
            let text = r.stdout.replacingOccurrences(of: "\u{8}.", with: "", options: .regularExpression)
                .replacingOccurrences(of: "\u{2212}", with: "-").replacingOccurrences(of: "\u{2010}", with: "-")
            for path in tool.paths {
                XCTAssertTrue(text.contains(([tool.name] + path).joined(separator: " ")), "\(tool.name) man page lacks \(path)")
            }
            for flag in tool.paths.flatMap({ tool.command(at: $0)!.flags }) {
                XCTAssertTrue(text.contains(flag.name), "\(tool.name) man page lacks \(flag.name)")
            }
        }
    }
}
