import EzflowCompiler
import EzflowDiagnostics
import EzflowCLI
import Foundation

/// `ezbench check`: times `Compiler.check(root:files:)` on generated workflows.
///
/// For every (shape, size) the workflow is generated once (not timed), then checked
/// `repeat` times from the in-memory source; the best wall time is reported. A row
/// with any diagnostic is a failure: the generator must produce clean files.
struct CheckBench {
    struct Options: Sendable {
        var sizes = [1_000, 10_000, 100_000]
        var shapes = Shape.allCases
        var repeats = 3
        var emitDirectory: String? = nil
    }

    struct Row: Sendable {
        var shape: Shape
        var tasks: Int
        var lines: Int
        var bytes: Int
        var bestSeconds: Double
        var peakRSSKiB: Int?
        var diagnostics: Int
    }

    var options: Options

    /// Runs the benchmark and prints the table; returns the process exit code.
    func run() -> Int32 {
        let generator = WorkflowGenerator()
        var rows: [Row] = []
        var failed = false

        if let dir = options.emitDirectory {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                printError("ezbench: cannot create \(dir): \(error)")
                return 2
            }
        }

        print("ezbench check: best of \(options.repeats), Compiler.check(root:files:) on in-memory source")
        print(Self.header)
        print(String(repeating: "-", count: Self.header.count))
        fflush(nil)
        for shape in options.shapes {
            for size in options.sizes {
                let workflow = generator.generate(shape: shape, tasks: size)
                if let dir = options.emitDirectory {
                    let path = (dir as NSString).appendingPathComponent(workflow.fileName)
                    do {
                        try workflow.text.write(toFile: path, atomically: true, encoding: .utf8)
                    } catch {
                        printError("ezbench: cannot write \(path): \(error)")
                        return 2
                    }
                }
                let files = [workflow.fileName: workflow.text]
                var best = Double.infinity
                var diagnostics: [Diagnostic] = []
                var sources: SourceMap? = nil
                for _ in 0..<max(1, options.repeats) {
                    let clock = ContinuousClock()
                    let start = clock.now
                    let result = Compiler.check(root: workflow.fileName, files: files)
                    let elapsed = start.duration(to: clock.now)
                    best = min(best, elapsed.seconds)
                    // Keep `result` alive past the clock read so its teardown is not timed.
                    diagnostics = result.diagnostics
                    sources = result.sources
                }
                let row = Row(
                    shape: shape, tasks: workflow.tasks, lines: workflow.lines, bytes: workflow.bytes,
                    bestSeconds: best, peakRSSKiB: Self.peakRSSKiB(), diagnostics: diagnostics.count)
                rows.append(row)
                print(Self.format(row))
                fflush(nil) // rows appear as they finish, also through a pipe
                if !diagnostics.isEmpty {
                    failed = true
                    reportFailure(workflow, diagnostics, sources)
                }
            }
        }
        print(String(repeating: "-", count: Self.header.count))
        for line in linearityLines(rows) { print(line) }
        print("peak RSS is VmHWM of the whole process (monotone: includes generated sources and earlier rows)")
        if failed {
            print("FAIL: generated workflows produced diagnostics (see above); the generator must emit clean files")
            return 1
        }
        return 0
    }

    private func reportFailure(_ workflow: GeneratedWorkflow, _ diagnostics: [Diagnostic], _ sources: SourceMap?) {
        let bar = String(repeating: "!", count: 72)
        print(bar)
        print("FAIL: \(workflow.fileName): \(diagnostics.errorCount) errors, \(diagnostics.warningCount) warnings (expected none)")
        var counts: [String: Int] = [:]
        for d in diagnostics { counts[d.code, default: 0] += 1 }
        print("  by code: " + counts.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))
        if let sources {
            let shown = Array(diagnostics.prefix(5))
            print(TextRenderer(color: false).render(shown, sources: sources), terminator: "")
            if diagnostics.count > shown.count { print("  ... and \(diagnostics.count - shown.count) more") }
        }
        print(bar)
    }

    // MARK: output

    static let header = [
        pad("shape", 8, left: true), pad("tasks", 8), pad("lines", 9), pad("bytes", 11),
        pad("best s", 9), pad("lines/s", 11), pad("tasks/s", 11), pad("peak RSS", 10), pad("diags", 6),
    ].joined(separator: " ")

    static func format(_ r: Row) -> String {
        let rss = r.peakRSSKiB.map { String(format: "%.1f MiB", Double($0) / 1024) } ?? "n/a"
        return [
            pad(r.shape.rawValue, 8, left: true), pad("\(r.tasks)", 8), pad("\(r.lines)", 9), pad("\(r.bytes)", 11),
            pad(String(format: "%.4f", r.bestSeconds), 9),
            pad(rate(Double(r.lines) / r.bestSeconds), 11), pad(rate(Double(r.tasks) / r.bestSeconds), 11),
            pad(rss, 10), pad(r.diagnostics == 0 ? "0" : "\(r.diagnostics) FAIL", 6),
        ].joined(separator: " ")
    }

    /// time(largest)/time(next size) per shape, against the size ratio: linear check
    /// time gives equal numbers. The brief's headline case is 100k/10k.
    private func linearityLines(_ rows: [Row]) -> [String] {
        var lines: [String] = []
        for shape in options.shapes {
            let r = rows.filter { $0.shape == shape }.sorted { $0.tasks < $1.tasks }
            guard r.count >= 2 else { continue }
            let big = r[r.count - 1], small = r[r.count - 2]
            let ratio = big.bestSeconds / small.bestSeconds
            let sizeRatio = Double(big.tasks) / Double(small.tasks)
            lines.append(String(
                format: "linearity %@: time(%d)/time(%d) = %.2f (size ratio %.1f; %.2f = linear)",
                shape.rawValue, big.tasks, small.tasks, ratio, sizeRatio, ratio / sizeRatio))
        }
        return lines
    }

    private static func rate(_ x: Double) -> String {
        if x >= 1e6 { return String(format: "%.2fM", x / 1e6) }
        if x >= 1e3 { return String(format: "%.1fk", x / 1e3) }
        return String(format: "%.0f", x)
    }

    private static func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return left ? s + fill : fill + s
    }

    /// Peak resident set size of this process (VmHWM), in KiB; nil off Linux.
    static func peakRSSKiB() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.dropFirst("VmHWM:".count).filter { $0.isNumber }
            return Int(digits)
        }
        return nil
    }
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

func printError(_ s: String, terminator: String = "\n") {
    Console.err((s + terminator))
}
