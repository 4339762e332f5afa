// `ezbench sweep`: the long fault sweep that does not fit in CI. Runs the real runner under
// simulated infrastructure faults over a range of seeds (a shard: `--from`, `--runs`), so
// several processes can share a large range; stops at the first seed the oracle rejects
// and prints the command that reproduces it.
import EzflowCLI
import EzflowHost
import EzflowRuntime
import EzflowSim
import Foundation

struct SweepBench {
    struct Options {
        var file = ""
        var seed: UInt64 = 1
        var from = 0
        var runs = 100_000
        var faults = "runner:crash=0.1;store:fail=0.05;completion:duplicate=0.2,delay=x5;clock:jump=600000"
    }
    let options: Options

    static func parse(_ a: Invocation) -> Options {
        var o = Options()
        o.file = a.positional[0]
        for (arg, given) in CLI.options(a) {
            func value() -> String { given ?? "" }
            switch arg {
            case "--seed": guard let n = UInt64(value()) else { CLI.usageError(a, "--seed needs an unsigned integer") }; o.seed = n
            case "--from": guard let n = Int(value()), n >= 0 else { CLI.usageError(a, "--from needs a run index ≥ 0") }; o.from = n
            case "--runs": guard let n = CLI.parseSize(Substring(value())) else { CLI.usageError(a, "--runs needs a positive count") }; o.runs = n
            case "--faults": o.faults = value()
            default: break
            }
        }
        return o
    }

    func run() -> Int32 {
        let world: SimWorld
        var sim: Simulator
        do {
            let input = try SimInput.load(path: options.file)
            let (infra, rest) = try InfraFaultSpec.split(spec: options.faults)
            world = try SimWorld(program: input.program, plan: input.plan, scenario: SimScenario(), faults: try SimFault.parse(spec: rest))
            var o = SimulationOptions(seed: options.seed, runs: options.from + options.runs)
            o.infra = infra
            sim = Simulator(world: world, options: o)
        } catch {
            printError("ezbench: \(error)")
            return 2
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        var crashes = 0, storeFailures = 0, duplicates = 0
        for i in options.from..<(options.from + options.runs) {
            do {
                let r = try sim.runOne(index: i)
                crashes += r.crashes
                storeFailures += r.storeFailures
                duplicates += r.duplicates
            } catch {
                printError("ezbench: \(error)\nreproduce: ezrun simulate \(options.file) --seed \(options.seed) --runs \(i + 1) --faults '\(options.faults)'")
                return 1
            }
        }
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        print(String(format: "sweep %@ runs %d…%d: %.0f runs/s, %.1f s", options.file, options.from, options.from + options.runs - 1,
                     Double(options.runs) / s, s))
        print("crashes injected: \(crashes)  store failures injected: \(storeFailures)  duplicate completions: \(duplicates)")
        print("oracle: \(options.runs)/\(options.runs) runs held")
        return 0
    }
}
