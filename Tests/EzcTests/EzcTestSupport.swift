import EzflowTestSupport
import Foundation
import XCTest

/// The `ezc` these tests run. `EZFLOW_BIN_DIR` wins (for a non-default scratch path,
/// e.g. `EZFLOW_BIN_DIR=$PWD/.build-cli/debug swift test --scratch-path .build-cli`);
/// otherwise the usual `.build` locations.
func ezcBinary() -> URL {
    if let dir = ProcessInfo.processInfo.environment["EZFLOW_BIN_DIR"], !dir.isEmpty {
        let u = URL(fileURLWithPath: dir).appendingPathComponent("ezc")
        if FileManager.default.isExecutableFile(atPath: u.path) { return u }
    }
    return Repo.executable("ezc")
}

/// A fresh directory under the system temp dir, removed by `remove()`.
final class TempDir {
    let url: URL

    init(_ label: String = "ezc-test") {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> URL {
        let u = url.appendingPathComponent(name)
        try! Data(bytes).write(to: u)
        return u
    }

    @discardableResult
    func write(_ name: String, _ text: String) -> URL { write(name, Array(text.utf8)) }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Output of one `ezc` run plus how long it took.
struct EzcRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double

    /// The stderr head, for failure messages (garbage input can echo megabytes).
    var stderrHead: String { String(stderr.prefix(2_000)) }
}

/// Runs `ezc args` in `cwd`, killed after `timeout` seconds.
func runEzc(_ args: [String], cwd: URL? = nil, timeout: Double = 20) -> EzcRun {
    let t0 = Date()
    let r = runProcess(ezcBinary(), args, cwd: cwd, timeout: timeout)
    return EzcRun(status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: Date().timeIntervalSince(t0))
}

/// Strings that mean the compiler crashed instead of reporting.
let crashMarkers = ["Fatal error", "Stack dump", "backtrace", "SIGSEGV"]

/// STYLE.md habit 10: what a user sees from `ezc check` on any readable file: exit 0 or
/// 1 within the bound, nothing on stdout (text format), no crash output, and on exit 1
/// a `name:line:col` location for one of `names` (the input's display path).
func assertUserFacing(
    _ r: EzcRun, names: [String], timeout: Double = 20, context: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    let ctx = context.isEmpty ? "" : " [\(context)]"
    XCTAssertLessThan(r.seconds, timeout, "ezc took \(r.seconds)s\(ctx)", file: file, line: line)
    XCTAssertTrue(r.status == 0 || r.status == 1,
                  "exit status \(r.status) (negative = killed by that signal; -9 = timeout)\(ctx)\n\(r.stderrHead)",
                  file: file, line: line)
    XCTAssertEqual(r.stdout, "", "stdout must be empty for --format text\(ctx)", file: file, line: line)
    for m in crashMarkers {
        XCTAssertFalse(r.stderr.contains(m), "stderr contains `\(m)`\(ctx)\n\(r.stderrHead)", file: file, line: line)
    }
    if r.status == 1 {
        let found = names.contains { stderrHasLocation(r.stderr, of: $0) }
        XCTAssertTrue(found, "no `\(names.joined(separator: "|")):LINE:COL` on stderr\(ctx)\n\(r.stderrHead)",
                      file: file, line: line)
    }
}

/// Whether `stderr` contains `name:LINE:COL` (both positive integers).
func stderrHasLocation(_ stderr: String, of name: String) -> Bool {
    location(in: stderr, of: name) != nil
}

/// The first `name:LINE:COL` in `text`.
func location(in text: String, of name: String) -> (line: Int, column: Int)? {
    var rest = Substring(text)
    while let r = rest.range(of: name + ":") {
        let after = rest[r.upperBound...]
        let lineDigits = after.prefix { $0.isASCII && $0.isNumber }
        let afterLine = after.dropFirst(lineDigits.count)
        if !lineDigits.isEmpty, afterLine.first == ":" {
            let colDigits = afterLine.dropFirst().prefix { $0.isASCII && $0.isNumber }
            if let l = Int(lineDigits), let c = Int(colDigits), l > 0, c > 0 { return (l, c) }
        }
        rest = rest[r.upperBound...]
    }
    return nil
}

/// Codes of the diagnostics in text output (`error[E0108]`, `warning[W0100]`).
func diagnosticCodes(_ stderr: String) -> Set<String> {
    var out = Set<String>()
    for line in stderr.split(separator: "\n") {
        for prefix in ["error[", "warning["] where line.hasPrefix(prefix) {
            let rest = line.dropFirst(prefix.count)
            if let close = rest.firstIndex(of: "]") { out.insert(String(rest[..<close])) }
        }
    }
    return out
}

/// SplitMix64: a tiny deterministic PRNG, so a failing seed reproduces on any platform.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n` (n > 0).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count {
            var v = next()
            for _ in 0..<8 { out.append(UInt8(truncatingIfNeeded: v)); v >>= 8 }
        }
        return Array(out.prefix(count))
    }
}

/// A small workflow `ezc check` accepts with no diagnostics.
let cleanWorkflow = """
    agent runner {
      driver: exec
      capabilities: ["shell"]
    }

    workflow w {
      task a { run: "echo a" }
      task b {
        after: [a]
        run: "echo b"
      }
    }

    """
