// ezrun: argument parsing and printing only; the work is in EzflowHost.
import EzflowHost
import EzflowPorts
import EzflowRunner
import EzflowRuntime
import EzflowSim
import EzflowStore
import Foundation

enum CLI {
    static let usage = """
        usage: ezrun simulate FILE --seed N --runs K [--faults SPEC] [--scenario FILE.json]
                                   [--selector cheapest|fastest|learned|auction]
                                   [--journal-dir DIR] [--oracle on|off] [--breaker-failures N] [--breaker-cooldown MS]

          FILE            an .ezflow source (compiled) or an .ezir document (validated)
          --seed N        master seed (unsigned 64-bit); run i uses a seed derived from it
          --runs K        number of runs (1…1000000)
          --faults SPEC   injected faults, clauses separated by `;`:
                            agent=NAME:fail=P,class=C,latency=xF,down=FROM-TO
                            task=NAME:fail=P,class=C
                            runner:crash=P          the runner dies between port calls and resumes
                            store:fail=P            a journal append fails (before or after writing)
                            completion:duplicate=P,delay=xF[,late=P]   completions twice, or late
                            clock:jump=MS           the wall clock jumps forward
                          P in 0…1; C agent_error|transient|timeout; F > 0; FROM-TO in ms.
                          Infrastructure rates are ceilings: per run each kind is on with
                          probability 1/2 at a rate drawn from [0, P] (swarm testing).
                          e.g. 'agent=coder:fail=0.3,latency=x2;task=deploy:fail=1;runner:crash=0.05'
          --scenario F    JSON with per-agent model overrides and faults (see docs/SIMULATION.md)
          --selector S    override the workflow's selector (default: the workflow's, else cheapest)
          --journal-dir D write run i's journal to D/run-<i>.jsonl (JSON lines); a failed
                          run's journal to D/failed-run-<i>.jsonl
          --oracle off    skip the per-run oracle (it replays every journal: about twice
                          the core's work; for benchmarks of very large workflows)

        Every run goes through the real runner on memory ports; an oracle checks each one
        (results journalled once, no re-run of a finished task, budgets, terminal states,
        byte-for-byte replay). Same arguments, same output, byte for byte. Exit status:
        0 every run succeeded, 1 some run failed, 2 invalid input, 3 some run exceeded its
        budget or deadline; 127 the runner failed, 128 a run stalled, 129 the oracle.

               ezrun replay JOURNAL --workflow FILE [--selector S] [--scenario F] [--faults SPEC]
                                    [--breaker-failures N] [--breaker-cooldown MS] [--prior JOURNAL]...
               ezrun replay RUN [--db PATH] [--export FILE]

          Folds JOURNAL through the core and checks every event gives the recorded commands;
          reports the first divergent event otherwise. Pass the same workflow, selector,
          scenario, faults and breaker settings the run had; for `learned`, also the journals
          of the earlier runs of the same simulation, in order, with --prior. A line's `chain`
          hash (exports carry one) is checked from the workflow's IR hash first.
          RUN (a stored run: with --db or $EZFLOW_DB, or an argument that is not a file and
          does not end in .jsonl) is read from the store, its IR and hash chain checked, and
          replayed as the run itself did; --export writes it as JSON lines with chain hashes.
          Exit status: 0 reproduced, 1 determinism violation, 2 invalid input, 5 the store
          cannot be read, 6 a record or the IR does not match the hash chain (an edited journal).
        """

    static func fail(_ message: String, code: Int32 = 2) -> Never {
        FileHandle.standardError.write(Data("ezrun: \(message)\n".utf8))
        exit(code)
    }

    static func usageError(_ message: String, _ text: String = usage) -> Never { fail("\(message)\n\n\(text)") }

    /// Exit status when the store cannot be read or written: a corrupt journal row, a gap
    /// in a journal, a locked or unreadable file (RUNNING.md, "Exit codes").
    static let storeFailureStatus: Int32 = 5

    /// Exit status when the journal or the IR does not match the run's hash chain: the
    /// store was edited outside ezflow (RUNNING.md, "A journal that cannot be edited quietly").
    static let integrityFailureStatus: Int32 = 6

    static func fail(_ error: StoreError) -> Never {
        fail(error.description, code: error.kind == .integrity ? integrityFailureStatus : storeFailureStatus)
    }

    /// A runner error's message, with the store's exit status for store failures.
    static func fail(_ error: RunnerError) -> Never {
        switch error {
        case .store: fail(error.description, code: storeFailureStatus)
        case .integrity: fail(error.description, code: integrityFailureStatus)
        case .invalid, .refused: fail(error.description)
        }
    }

    static func quote(_ s: String) -> String {
        let safe = s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./=:,".unicodeScalars.contains($0) }
        return safe && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func simulate(_ args: ArraySlice<String>) -> Int32 {
        var rest = args
        var file: String? = nil, seed: UInt64? = nil, runs: Int? = nil, faults: String? = nil
        var scenarioPath: String? = nil, selector: SelectorName? = nil, journalDir: String? = nil, oracle = true
        var breaker = (failures: 5, coolDown: Int64(30_000))
        var echo: [String] = []
        while let arg = rest.popFirst() {
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
            case "--seed":
                guard let v = UInt64(value()) else { usageError("--seed needs an unsigned 64-bit integer") }
                seed = v
            case "--runs":
                guard let v = Int(value()), (1...1_000_000).contains(v) else { usageError("--runs needs an integer in 1…1000000") }
                runs = v
            case "--faults": faults = value(); echo += ["--faults", quote(faults!)]
            case "--scenario": scenarioPath = value(); echo += ["--scenario", quote(scenarioPath!)]
            case "--selector":
                let v = value()
                guard let s = SelectorName(rawValue: v) else { usageError("unknown selector `\(v)` (expected cheapest, fastest, learned, auction)") }
                selector = s
                echo += ["--selector", v]
            case "--journal-dir": journalDir = value()
            case "--oracle":
                switch value() {
                case "on": oracle = true
                case "off": oracle = false; echo += ["--oracle", "off"]
                case let v: usageError("--oracle takes on or off, not `\(v)`")
                }
            case "--breaker-failures":
                guard let v = Int(value()), v >= 1 else { usageError("--breaker-failures needs an integer >= 1") }
                breaker.failures = v
                echo += ["--breaker-failures", String(v)]
            case "--breaker-cooldown":
                guard let v = Int64(value()), v >= 0 else { usageError("--breaker-cooldown needs milliseconds >= 0") }
                breaker.coolDown = v
                echo += ["--breaker-cooldown", String(v)]
            case "-h", "--help":
                print(usage)
                return 0
            default:
                if arg.hasPrefix("-") || file != nil { usageError("unknown argument `\(arg)`") }
                file = arg
            }
        }
        guard let file else { usageError("missing FILE") }
        guard let seed else { usageError("missing --seed N (every simulation is seeded; pick any number)") }
        let runCount = runs ?? 1

        let infra: InfraFaultSpec, agentFaults: String
        do { (infra, agentFaults) = try InfraFaultSpec.split(spec: faults ?? "") } catch { fail("--faults: \(error)") }
        let (input, world) = loadWorld(file, scenarioPath: scenarioPath, faults: agentFaults)

        var options = SimulationOptions(seed: seed, runs: runCount, selector: selector,
                                        breaker: CircuitBreaker(failuresToOpen: breaker.failures, coolDownMs: breaker.coolDown),
                                        keepJournals: journalDir != nil)
        options.infra = infra
        options.oracle = oracle
        var sim = Simulator(world: world, options: options)
        let command = (["ezrun", "simulate", quote(file), "--seed", String(seed), "--runs", String(runCount)] + echo).joined(separator: " ")
        let results: [SimRunResult]
        do { results = try sim.runAll() } catch {
            if let journalDir {
                let path = URL(fileURLWithPath: journalDir).appendingPathComponent("failed-run-\(error.runIndex).jsonl")
                do {
                    try FileManager.default.createDirectory(atPath: journalDir, withIntermediateDirectories: true)
                    try Data(Journal.encode(error.journal, chainSeed: input.plan.hash)).write(to: path)
                    FileHandle.standardError.write(Data("ezrun: the failed run's journal: \(path.path)\n".utf8))
                } catch let write {
                    // The run's own failure below is the news; say why its journal is missing.
                    FileHandle.standardError.write(Data("ezrun: --journal-dir \(journalDir): the failed run's journal was not kept: \(write.localizedDescription)\n".utf8))
                }
            }
            fail("\(error)\nreproduce: \(command)", code: error.exitCode)
        }
        if let journalDir {
            do {
                try FileManager.default.createDirectory(atPath: journalDir, withIntermediateDirectories: true)
                let width = String(results.count - 1).count
                for r in results {
                    let i = String(r.index)
                    let name = "run-" + String(repeating: "0", count: width - i.count) + i + ".jsonl"
                    try Data(Journal.encode(r.journal, chainSeed: input.plan.hash)).write(to: URL(fileURLWithPath: journalDir).appendingPathComponent(name))
                }
            } catch { fail("--journal-dir \(journalDir): \(error.localizedDescription)") }
        }
        let report = SimReport(workflow: file, options: options, selector: sim.selectorName, faultsSpec: faults,
                               runs: results, plan: input.plan)
        FileHandle.standardOutput.write(Data(report.render(command: command).utf8))
        return report.exitCode
    }

    /// The workflow, scenario and faults a simulation (or its replay) runs against.
    static func loadWorld(_ file: String, scenarioPath: String?, faults: String?) -> (SimInput, SimWorld) {
        let input: SimInput
        do { input = try SimInput.load(path: file) } catch { fail(error.description) }
        var scenario = SimScenario()
        if let scenarioPath {
            guard let d = FileManager.default.contents(atPath: scenarioPath) else { fail("\(scenarioPath): cannot read the file") }
            do { scenario = try SimScenario.parse([UInt8](d)) } catch { fail("\(scenarioPath): \(error)") }
        }
        let faultList: [SimFault]
        do { faultList = try SimFault.parse(spec: faults ?? "") } catch { fail("--faults: \(error)") }
        do { return (input, try SimWorld(program: input.program, plan: input.plan, scenario: scenario, faults: faultList)) } catch { fail(error.description) }
    }

    static func readJournal(_ path: String) -> [JournalRecord] {
        guard let d = FileManager.default.contents(atPath: path) else { fail("\(path): cannot read the file") }
        do { return try Journal.decode([UInt8](d)) } catch { fail("\(path): \(error)") }
    }

    static func replay(_ args: ArraySlice<String>) -> Int32 {
        var rest = args
        var journalPath: String?, workflow: String?, selector: SelectorName?, scenarioPath: String?, faults: String?
        var db: String?, export: String?
        var priors: [String] = []
        var breaker = (failures: 5, coolDown: Int64(30_000))
        while let arg = rest.popFirst() {
            func value() -> String {
                guard let v = rest.popFirst() else { usageError("\(arg) needs a value") }
                return v
            }
            switch arg {
            case "--workflow": workflow = value()
            case "--selector":
                let v = value()
                guard let s = SelectorName(rawValue: v) else { usageError("unknown selector `\(v)`") }
                selector = s
            case "--scenario": scenarioPath = value()
            case "--faults": faults = value()
            case "--prior": priors.append(value())
            case "--db": db = value()
            case "--export": export = value()
            case "--breaker-failures":
                guard let v = Int(value()), v >= 1 else { usageError("--breaker-failures needs an integer >= 1") }
                breaker.failures = v
            case "--breaker-cooldown":
                guard let v = Int64(value()), v >= 0 else { usageError("--breaker-cooldown needs milliseconds >= 0") }
                breaker.coolDown = v
            default:
                if arg.hasPrefix("-") || journalPath != nil { usageError("unknown argument `\(arg)`") }
                journalPath = arg
            }
        }
        guard let journalPath else { usageError("missing JOURNAL") }
        let envDB = ProcessInfo.processInfo.environment["EZFLOW_DB"].flatMap { $0.isEmpty ? nil : $0 }
        let isFile = FileManager.default.fileExists(atPath: journalPath) || journalPath.hasSuffix(".jsonl")
        if db != nil || (workflow == nil && (envDB != nil || !isFile)) {
            guard workflow == nil, scenarioPath == nil, faults == nil, priors.isEmpty, selector == nil else {
                usageError("a stored run replays with its own IR and settings: drop --workflow, --selector, --scenario, --faults and --prior")
            }
            return replayStored(runID: journalPath, db: db ?? envDB ?? DurableStore.defaultPath, export: export)
        }
        guard export == nil else { usageError("--export writes a stored run (ezrun replay RUN --db PATH --export FILE)") }
        guard let workflow else { usageError("missing --workflow FILE (the .ezflow or .ezir the run used)") }
        let agentFaults: String
        do { agentFaults = try InfraFaultSpec.split(spec: faults ?? "").1 } catch { fail("--faults: \(error)") }
        let (_, world) = loadWorld(workflow, scenarioPath: scenarioPath, faults: agentFaults)
        let lines = readChainedJournal(journalPath)
        if let brk = JournalChain.firstBreak(seed: world.plan.hash, lines) {
            let names = world.plan.taskNames
            fail("\(journalPath): " + brk.message(holder: "the file") { $0 >= 0 && $0 < names.count ? names[$0] : nil },
                 code: integrityFailureStatus)
        }
        let tool = ReplayTool(world: world, selector: selector,
                              breaker: CircuitBreaker(failuresToOpen: breaker.failures, coolDownMs: breaker.coolDown))
        let outcome = tool.replay(lines.map(\.record), priors: priors.map(readJournal))
        FileHandle.standardOutput.write(Data(outcome.report.utf8))
        return outcome.exitCode
    }

    static func readChainedJournal(_ path: String) -> [(record: JournalRecord, chain: String?)] {
        guard let d = FileManager.default.contents(atPath: path) else { fail("\(path): cannot read the file") }
        do { return try Journal.decodeChained([UInt8](d)) } catch { fail("\(path): \(error)") }
    }

    /// `replay RUN`: the stored run's IR and chain are checked, then its journal is folded
    /// with the run's own plans and settings (what `status` and `resume` do).
    static func replayStored(runID: String, db: String, export: String?) -> Int32 {
        let store = openStore(db, readOnly: true)
        let replayed: StoredRun.Replayed
        do { replayed = try StoredRun.replay(store: store, runID: runID) } catch { fail(error) }
        switch replayed {
        case .diverged(let v):
            FileHandle.standardOutput.write(Data(ReplayTool.Outcome.diverged(v).report.utf8))
            return 1
        case .reproduced(let run):
            if let export {
                let journal: [JournalRecord]
                do { journal = try store.journal(run: runID, from: 0) } catch { fail(error) }
                do { try Data(Journal.encode(journal, chainSeed: run.info.irHash)).write(to: URL(fileURLWithPath: export)) } catch {
                    fail("--export \(export): \(error.localizedDescription)")
                }
            }
            let report = ReplayTool.Outcome.reproduced(records: run.records, phase: run.state.phase).report
            FileHandle.standardOutput.write(Data((report + "chain verified from the IR hash; head \(run.head)\n").utf8))
            return 0
        }
    }

    static func main() -> Never {
        var arguments = CommandLine.arguments.dropFirst()
        switch arguments.popFirst() {
        case "simulate": exit(simulate(arguments))
        case "replay": exit(replay(arguments))
        case "run":
            Signals.prepareRunner()
            exit(run(arguments))
        case "resume":
            Signals.prepareRunner()
            exit(resume(arguments))
        case "approve": exit(approve(arguments))
        case "cancel": exit(cancel(arguments))
        case "status": exit(status(arguments))
        case "runs": exit(runs(arguments))
        case "logs": exit(logs(arguments))
        case "dlq": exit(dlq(arguments))
        case "-h", "--help", "help":
            print(runUsage + "\n\n" + dlqUsage + "\n\n" + usage)
            exit(0)
        case let other?: usageError("unknown command `\(other)`")
        case nil: usageError("missing command")
        }
    }
}

CLI.main()
