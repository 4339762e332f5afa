import EzflowCLI
import EzflowHost
import EzflowRuntime
import EzflowSim
import Foundation

/// `ezbench schedule`: in-process scheduling throughput with sim agents.
///
/// Each size runs in a child process (`ezbench schedule --one N …`) so that its peak
/// memory (VmHWM) is its own. A child builds a synthetic `Plan` directly as arrays
/// (`Plan.synthetic`: random layered DAG, 2 deps per task among the previous 1,000,
/// priorities 0…9, 4 candidate agents per task out of the pool, 4 slots per agent,
/// 1 % transient failures retried), then runs one simulation: the core, the `cheapest`
/// selector, the circuit breaker, the virtual clock, sim agents (lognormal latency), the
/// invariant checks at every dispatch, and the journal kept in memory as canonical JSON
/// lines. Reported: tasks/s (wall time of the run loop, plan build excluded), the
/// thread CPU time of each core step that made a dispatch decision (p50/p99/max), and
/// peak RSS per task: (VmHWM − RSS before the plan was built) / tasks.
struct ScheduleBench {
    struct Options: Sendable {
        var sizes = [10_000, 100_000, 1_000_000]
        var agents = 10_000
        var selector = SelectorName.cheapest
        var journal = "records"
        var one: Int? = nil
        var seed: UInt64 = 1
    }

    var options: Options

    static func parse(_ a: Invocation) -> Options {
        var o = Options()
        for (arg, given) in CLI.options(a) {
            func value() -> String { given ?? "" }
            switch arg {
            case "--sizes":
                let sizes = value().split(separator: ",").compactMap(CLI.parseSize)
                guard !sizes.isEmpty else { CLI.usageError(a, "bad --sizes") }
                o.sizes = sizes
            case "--agents":
                guard let n = CLI.parseSize(Substring(value())), n >= 4 else { CLI.usageError(a, "bad --agents") }
                o.agents = n
            case "--selector":
                guard let s = SelectorName(rawValue: value()) else { CLI.usageError(a, "bad --selector") }
                o.selector = s
            case "--journal":
                let j = value()
                guard ["bytes", "records", "none"].contains(j) else { CLI.usageError(a, "bad --journal") }
                o.journal = j
            case "--seed":
                guard let s = UInt64(value()) else { CLI.usageError(a, "bad --seed") }
                o.seed = s
            case "--one":
                guard let n = CLI.parseSize(Substring(value())) else { CLI.usageError(a, "bad --one") }
                o.one = n
            default: break
            }
        }
        return o
    }

    func run() -> Int32 {
        if let n = options.one { return runOne(tasks: n) }
        print("ezbench schedule: \(options.agents) sim agents, selector \(options.selector.rawValue), journal \(options.journal) (in memory), seed \(options.seed)")
        print("one child process per size; plan built directly as arrays (Plan.synthetic), not timed")
        print(Self.header)
        print(String(repeating: "-", count: Self.header.count))
        fflush(nil)
        var failed = false
        for n in options.sizes {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            p.arguments = ["schedule", "--one", String(n), "--agents", String(options.agents), "--selector", options.selector.rawValue,
                           "--journal", options.journal, "--seed", String(options.seed)]
            do { try p.run() } catch { printError("ezbench: cannot start child: \(error)"); return 2 }
            p.waitUntilExit()
            if p.terminationStatus != 0 { failed = true }
        }
        return failed ? 1 : 0
    }

    static let header = "     tasks   agents   events   build s    run s    tasks/s   decide p50   p99      max   journal MiB  peak MiB  B/task  verdict"

    /// Runs one size in this process and prints its row.
    func runOne(tasks n: Int) -> Int32 {
        let rssBefore = Self.status("VmRSS:") ?? 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        let plan = Plan.synthetic(SyntheticPlanSpec(tasks: n, agents: options.agents, attempts: 6, seed: options.seed))
        var models: [SimAgentModel] = []
        models.reserveCapacity(options.agents)
        for a in 0..<options.agents {
            models.append(SimAgentModel(latencyMedianMs: Double(100 + (a * 37) % 900), failure: [.transient: 0.01],
                                        costPerCallMicros: plan.agentCostPerCallMicros[a]))
        }
        let world = SimWorld(plan: plan, models: models)
        var opts = SimulationOptions(seed: options.seed, runs: 1, selector: options.selector, keepJournals: options.journal == "records",
                                     keepJournalBytes: options.journal == "bytes", eventsMaxPerRun: n * 16 + 1_000)
        opts.measureDispatchCPU = true
        var sim = Simulator(world: world, options: opts)
        let t1 = DispatchTime.now().uptimeNanoseconds
        let result: SimRunResult
        do { result = try sim.runOne(index: 0) } catch {
            printError("ezbench: \(error)\nreproduce: ezbench schedule --one \(n) --agents \(options.agents) --selector \(options.selector.rawValue) --seed \(options.seed)")
            return 1
        }
        let t2 = DispatchTime.now().uptimeNanoseconds
        let peak = Self.status("VmHWM:") ?? 0
        let build = Double(t1 - t0) / 1e9, runS = Double(t2 - t1) / 1e9
        let h = result.dispatchCPU
        func us(_ ns: Int64) -> String { String(format: "%.1fµs", Double(ns) / 1000) }
        let journalMiB = Double(result.journalBytes.count) / 1_048_576
        let perTask = Double((peak - rssBefore) * 1024) / Double(n)
        let row = String(format: "%10d %8d %8d %9.2f %8.2f %10.0f", n, options.agents, result.steps, build, runS, Double(n) / runS)
            + "   " + us(h.percentileNanos(50)).padding(toLength: 9, withPad: " ", startingAt: 0)
            + "  " + us(h.percentileNanos(99)).padding(toLength: 8, withPad: " ", startingAt: 0)
            + " " + us(h.maxNanos).padding(toLength: 9, withPad: " ", startingAt: 0)
            + String(format: " %11.1f %9.1f %7.0f  %@", journalMiB, Double(peak) / 1024, perTask, result.verdict.rawValue)
        print(row)
        fflush(nil)
        withExtendedLifetime(result) {}
        return result.verdict == .success ? 0 : 1
    }

    /// A `/proc/self/status` field in KiB (VmRSS, VmHWM); nil off Linux.
    static func status(_ key: String) -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix(key) {
            return Int(line.dropFirst(key.count).filter(\.isNumber))
        }
        return nil
    }
}
