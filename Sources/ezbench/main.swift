// ezbench: benchmarks for ezflow. Argument parsing only; the work is in CheckBench.
import EzflowCLI
import Foundation

enum CLI {
    static let tool = Tool.ezbench

    /// A usage error found after parsing: the message and the command's usage, exit 2.
    static func usageError(_ a: Invocation, _ message: String) -> Never { tool.usageFailure(a, message) }

    /// Every option given, with its value (nil for a switch), in a stable order.
    static func options(_ a: Invocation) -> [(String, String?)] {
        a.values.keys.sorted().flatMap { k in a.all(k).map { (k, Optional($0)) } } + a.flags.sorted().map { ($0, nil) }
    }

    static func parseSize(_ text: Substring) -> Int? {
        var s = text.trimmingCharacters(in: .whitespaces)
        var scale = 1
        if s.hasSuffix("k") { scale = 1_000; s.removeLast() } else if s.hasSuffix("M") { scale = 1_000_000; s.removeLast() }
        guard let n = Int(s.replacingOccurrences(of: "_", with: "")), n > 0 else { return nil }
        return n * scale
    }

    static func parseCheckOptions(_ a: Invocation) -> CheckBench.Options {
        var parsed = CheckBench.Options()
        for (flag, given) in options(a) {
            func value() -> String { given ?? "" }
            switch flag {
            case "--sizes":
                let parts = value().split(separator: ",")
                let sizes = parts.compactMap(parseSize)
                guard !parts.isEmpty, sizes.count == parts.count else { usageError(a, "bad --sizes list") }
                guard sizes.allSatisfy({ $0 >= 3 }) else { usageError(a, "sizes must be at least 3 tasks") }
                parsed.sizes = sizes
            case "--shapes":
                let parts = value().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                var shapes: [Shape] = []
                for p in parts {
                    guard let s = Shape(rawValue: p) else {
                        usageError(a, "unknown shape `\(p)` (expected \(Shape.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    shapes.append(s)
                }
                guard !shapes.isEmpty else { usageError(a, "empty --shapes list") }
                parsed.shapes = shapes
            case "--repeat":
                guard let n = Int(value()), n >= 1 else { usageError(a, "--repeat needs a positive integer") }
                parsed.repeats = n
            case "--emit":
                parsed.emitDirectory = value()
            default: break
            }
        }
        return parsed
    }

    static func main() {
        let a = tool.resolve(Array(CommandLine.arguments.dropFirst()))
        switch a.path {
        case ["check"]: exit(CheckBench(options: parseCheckOptions(a)).run())
        case ["build"]: exit(BuildBench(options: parseCheckOptions(a)).run())
        case ["schedule"]: exit(ScheduleBench(options: ScheduleBench.parse(a)).run())
        case ["durable"]: exit(DurableBench(options: DurableBench.parse(a)).run())
        case ["exec"]: exit(ExecBench(options: ExecBench.parse(a)).run())
        case ["distributed"]: exit(DistributedBench(options: DistributedBench.parse(a)).run())
        case ["sweep"]: exit(SweepBench(options: SweepBench.parse(a)).run())
        case ["lsp"]: exit(LSPBench(options: LSPBench.parse(a)).run())
        default: usageError(a, "no such command")
        }
    }
}

CLI.main()
