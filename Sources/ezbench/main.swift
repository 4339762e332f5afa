// ezbench: benchmarks for ezflow. Argument parsing only; the work is in CheckBench.
import Foundation

enum CLI {
    static let usage = """
        usage: ezbench check [--sizes 1000,10000,100000] [--shapes chain,fanout,layered]
                             [--repeat 3] [--emit DIR]

          --sizes   task counts, comma-separated (k and M suffixes allowed: 10k, 1M)
          --shapes  DAG shapes: chain, fanout, layered
          --repeat  runs per (shape, size); the best wall time is reported
          --emit    also write each generated workflow to DIR (for `ezc check DIR/*.ezflow`)

               ezbench exec [--sizes 1k,10k] [--jobs 2] [--repeat 3] [--sync full,normal]
          (also: ezbench build, schedule, durable, sweep; each takes --help)

        Exit status: 0 all workflows checked clean, 1 a workflow had diagnostics, 2 usage error.
        """

    static func usageError(_ message: String) -> Never {
        printError("ezbench: \(message)\n\n\(usage)")
        exit(2)
    }

    static func parseSize(_ text: Substring) -> Int? {
        var s = text.trimmingCharacters(in: .whitespaces)
        var scale = 1
        if s.hasSuffix("k") { scale = 1_000; s.removeLast() } else if s.hasSuffix("M") { scale = 1_000_000; s.removeLast() }
        guard let n = Int(s.replacingOccurrences(of: "_", with: "")), n > 0 else { return nil }
        return n * scale
    }

    static func parseCheckOptions(_ args: ArraySlice<String>) -> CheckBench.Options {
        var options = CheckBench.Options()
        var rest = args
        while let arg = rest.popFirst() {
            // Accept both `--flag value` and `--flag=value`.
            var flag = arg, inline: String? = nil
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                flag = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            func value() -> String {
                if let inline { return inline }
                guard let v = rest.popFirst() else { usageError("\(flag) needs a value") }
                return v
            }
            switch flag {
            case "--sizes":
                let parts = value().split(separator: ",")
                let sizes = parts.compactMap(parseSize)
                guard !parts.isEmpty, sizes.count == parts.count else { usageError("bad --sizes list") }
                guard sizes.allSatisfy({ $0 >= 3 }) else { usageError("sizes must be at least 3 tasks") }
                options.sizes = sizes
            case "--shapes":
                let parts = value().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                var shapes: [Shape] = []
                for p in parts {
                    guard let s = Shape(rawValue: p) else {
                        usageError("unknown shape `\(p)` (expected \(Shape.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    shapes.append(s)
                }
                guard !shapes.isEmpty else { usageError("empty --shapes list") }
                options.shapes = shapes
            case "--repeat":
                guard let n = Int(value()), n >= 1 else { usageError("--repeat needs a positive integer") }
                options.repeats = n
            case "--emit":
                options.emitDirectory = value()
            case "-h", "--help":
                print(usage)
                exit(0)
            default:
                usageError("unknown argument `\(arg)`")
            }
        }
        return options
    }

    static func main() {
        var arguments = CommandLine.arguments.dropFirst()
        switch arguments.popFirst() {
        case "check":
            exit(CheckBench(options: parseCheckOptions(arguments)).run())
        case "build":
            exit(BuildBench(options: parseCheckOptions(arguments)).run())
        case "schedule":
            exit(ScheduleBench(options: ScheduleBench.parse(arguments)).run())
        case "durable":
            exit(DurableBench(options: DurableBench.parse(arguments)).run())
        case "exec":
            exit(ExecBench(options: ExecBench.parse(arguments)).run())
        case "sweep":
            exit(SweepBench(options: SweepBench.parse(arguments)).run())
        case "-h", "--help", "help":
            print(usage)
        case let other?:
            usageError("unknown command `\(other)`")
        case nil:
            usageError("missing command")
        }
    }
}

CLI.main()
