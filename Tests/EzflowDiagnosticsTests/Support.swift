import EzflowDiagnostics
import Foundation

/// A `SourceMap` whose spans are found by quoting the source, so a test says what is
/// labelled ("the second `build`") instead of counting bytes.
struct TestSources {
    private(set) var map = SourceMap()
    private var texts: [Int: [UInt8]] = [:]

    @discardableResult
    mutating func add(_ path: String, _ text: String) -> Int {
        let id = map.add(SourceFile(path: path, text: text))
        texts[id] = Array(text.utf8)
        return id
    }

    /// The span of the `nth` (1-based) occurrence of `needle` in `file`.
    func span(_ file: Int, _ needle: String, _ nth: Int = 1) -> Span {
        let hay = texts[file] ?? []
        let n = Array(needle.utf8)
        var seen = 0
        for i in 0..<max(0, hay.count - n.count + 1) where hay[i..<i + n.count].elementsEqual(n) {
            seen += 1
            if seen == nth { return Span(file: file, start: i, end: i + n.count) }
        }
        preconditionFailure("occurrence \(nth) of `\(needle)` not found in file \(file)")
    }
}

/// Paths outside the test target, found from this file so tests work from any directory.
enum Repo {
    /// The package root: Tests/EzflowDiagnosticsTests/Support.swift, two levels up.
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
    /// Shared material lives beside the repository, at <repo>/../shared.
    static var shared: URL { root.deletingLastPathComponent().appendingPathComponent("shared") }
}

/// The example most renderer tests share: a two-task cycle (an error with a secondary
/// label, a note and help) and an unused input (a warning with help only).
enum CycleFixture {
    static let text = """
        workflow ci {
          input verbose: bool = false
          task build { run: "make", after: [test] }
          task test { run: "make test", after: [build] }
        }

        """

    static func make() -> (TestSources, [Diagnostic]) {
        var s = TestSources()
        let f = s.add("ci.ezflow", text)
        let cycle = Diagnostic.error(
            "E0400", "dependency cycle between `build` and `test`", at: s.span(f, "test"),
            label: "`build` waits for `test`",
            secondary: [Label(s.span(f, "build", 2), "`test` waits for `build`")],
            notes: ["every task waits for the tasks in its `after` list"],
            help: "remove one of the two `after` entries")
        let unused = Diagnostic.warning(
            "W0100", "unused input `verbose`", at: s.span(f, "verbose"), label: "never read",
            help: "remove it, or read it as `inputs.verbose`")
        return (s, [cycle, unused])
    }
}
