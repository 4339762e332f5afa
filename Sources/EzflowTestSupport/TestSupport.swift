import EzflowCompiler
import EzflowDiagnostics
import Foundation

/// Paths of this source tree, found through `#filePath` so golden updates land in it.
public enum Repo {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Files under a repo-relative directory with one of the extensions, sorted, as repo-relative paths.
    public static func files(in dir: String, ext: [String]) -> [String] {
        let base = url(dir)
        guard let e = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { return [] }
        var out: [String] = []
        for case let u as URL in e where ext.contains(where: { u.path.hasSuffix($0) }) {
            out.append(dir + "/" + u.path.dropFirst(base.path.count + 1))
        }
        return out.sorted()
    }

    /// A built executable of this package (debug build used by `swift test`).
    public static func executable(_ name: String) -> URL {
        for dir in [".build/debug", ".build/x86_64-unknown-linux-gnu/debug", ".build/release"] {
            let u = url(dir).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        return url(".build/debug").appendingPathComponent(name)
    }
}

/// Checks a repo-relative file in memory (plus every file it may import from the
/// same tree) and renders what `ezc check` prints on stderr, without colour.
public func renderCheck(_ relativePath: String) -> (text: String, result: CompileResult) {
    func read(_ f: String) -> [UInt8] { (try? Data(contentsOf: Repo.url(f))).map { [UInt8]($0) } ?? [] }
    var files = [relativePath: read(relativePath)]
    // Sibling files, so fixtures can import each other by relative path.
    let dir = (relativePath as NSString).deletingLastPathComponent
    for f in Repo.files(in: dir, ext: [".ezflow"]) where files[f] == nil { files[f] = read(f) }
    let result = Compiler.check(root: relativePath, bytes: files, stdlibRoot: Repo.url("stdlib").path)
    let r = TextRenderer(color: false)
    var out = r.render(result.diagnostics, sources: result.sources)
    if let s = r.summary(result.diagnostics) { out += s + "\n" }
    return (out, result)
}

/// Golden comparison. A missing expected file is written; `EZFLOW_UPDATE_GOLDEN=1`
/// rewrites changed ones. Returns a failure message with a diff, or nil.
public func compareGolden(actual: String, expectedPath: String) -> String? {
    let url = Repo.url(expectedPath)
    let update = ProcessInfo.processInfo.environment["EZFLOW_UPDATE_GOLDEN"] == "1"
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        try? actual.write(to: url, atomically: true, encoding: .utf8)
        return nil
    }
    if expected == actual { return nil }
    if update {
        try? actual.write(to: url, atomically: true, encoding: .utf8)
        return nil
    }
    return "golden mismatch for \(expectedPath)\n" + lineDiff(expected: expected, actual: actual)
        + "\nrerun with EZFLOW_UPDATE_GOLDEN=1 swift test to accept the new output"
}

/// A minimal line diff: the first differing lines with context.
public func lineDiff(expected: String, actual: String) -> String {
    let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    var out = ""
    var shown = 0
    for i in 0..<max(e.count, a.count) where shown < 12 {
        let el = i < e.count ? String(e[i]) : "<none>"
        let al = i < a.count ? String(a[i]) : "<none>"
        if el != al {
            out += "line \(i + 1):\n  - \(el)\n  + \(al)\n"
            shown += 1
        }
    }
    return out
}

/// Runs an executable with arguments and optional stdin; returns exit status, stdout, stderr.
/// Kills it after `timeout` seconds (status -9 then), so a hang fails the test instead of CI.
public func runProcess(_ exe: URL, _ args: [String], stdin: Data? = nil, cwd: URL? = nil, timeout: Double = 60,
                       environment: [String: String]? = nil) -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = exe
    p.arguments = args
    if let cwd { p.currentDirectoryURL = cwd }
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    do { try p.run() } catch { return (-1, "", "spawn failed: \(error)") }
    if let stdin { inp.fileHandleForWriting.write(stdin) }
    try? inp.fileHandleForWriting.close()
    let group = DispatchGroup()
    nonisolated(unsafe) var o = Data(), e = Data()
    group.enter()
    DispatchQueue.global().async { o = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { e = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(2_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    group.wait()
    let status = p.terminationReason == .uncaughtSignal ? -p.terminationStatus : p.terminationStatus
    return (status, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}
