import EzflowTestSupport
import Foundation
import XCTest

/// A fresh directory under the system temp dir.
func tempDir(_ tag: String = "run") -> String {
    let d = NSTemporaryDirectory() + "ezflow-\(tag)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// Runs the built `ezrun` in `dir`.
@discardableResult
func ezrun(_ args: [String], in dir: String, timeout: Double = 60) -> (status: Int32, stdout: String, stderr: String) {
    runProcess(Repo.executable("ezrun"), args, cwd: URL(fileURLWithPath: dir), timeout: timeout)
}

func write(_ text: String, to path: String) {
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
}

func read(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}
