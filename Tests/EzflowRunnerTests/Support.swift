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

/// `ezrun replay ID` in `dir` exits 0: the run's journal replays.
func assertReplays(_ dir: String, _ id: String, store: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
    let r = ezrun(["replay", id] + (store.map { ["--db", $0] } ?? []), in: dir)
    XCTAssertEqual(r.status, 0, "the journal replays: \(r.stdout)\(r.stderr)", file: file, line: line)
}

/// `ezrun run f.ezflow --run-id ID --quiet` in `dir`, in the background, returned once a
/// task touched `started` (at most 20 s), for a kill -9 at a chosen moment.
func startUntilStarted(_ dir: String, _ id: String, _ more: [String] = []) throws -> Process {
    let p = Process()
    p.executableURL = Repo.executable("ezrun")
    p.arguments = ["run", "f.ezflow", "--run-id", id, "--quiet"] + more
    p.currentDirectoryURL = URL(fileURLWithPath: dir)
    p.standardError = FileHandle.nullDevice
    try p.run()
    let until = Date().addingTimeInterval(20)
    while !FileManager.default.fileExists(atPath: dir + "/started") && Date() < until { usleep(10_000) }
    return p
}

func write(_ text: String, to path: String) {
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
}

func read(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// Processes (not zombies) whose environment holds `marker` (e.g. `D=/tmp/dir`): a
/// task's whole tree inherits its environment, so this finds grandchildren too.
func liveProcesses(marker: String) -> [String] {
    var out: [String] = []
    let me = getpid()
    let items = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for name in items {
        guard let pid = Int32(name), pid != me,
              let env = FileManager.default.contents(atPath: "/proc/\(name)/environ") else { continue }
        let vars = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard vars.contains(marker) else { continue }
        let stat = read("/proc/\(name)/stat")
        guard let close = stat.lastIndex(of: ")") else { continue }
        let f = stat[stat.index(after: close)...].split(separator: " ")
        guard f.count > 2, f[0] != "Z", f[0] != "X" else { continue }
        let cmd = read("/proc/\(name)/cmdline").replacingOccurrences(of: "\0", with: " ")
        out.append("\(pid) [\(f[0]) ppid \(f[1]) pgid \(f[2])] \(cmd)")
    }
    return out.sorted()
}

/// `liveProcesses` once it is empty, or what is left after `seconds`.
func liveProcesses(marker: String, within seconds: Double) -> [String] {
    let end = Date().addingTimeInterval(seconds)
    var left = liveProcesses(marker: marker)
    while !left.isEmpty && Date() < end {
        usleep(20_000)
        left = liveProcesses(marker: marker)
    }
    return left
}
