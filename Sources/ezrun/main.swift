// ezrun: argument parsing and printing only; the work is in EzflowHost.
import EzflowBackends
import EzflowCLI
import EzflowHost
import EzflowPorts
import EzflowRunner
import EzflowRuntime
import EzflowSim
import EzflowStore
import EzflowUnits
import Foundation

enum CLI {
    static let tool = Tool.ezrun

    static func fail(_ message: String, code: Int32 = 2) -> Never {
        Console.err("ezrun: \(message)\n")
        exit(code)
    }

    /// A usage error found after parsing: the message and the command's usage, exit 2.
    static func usageError(_ a: Args, _ message: String) -> Never { tool.usageFailure(a, message) }

    /// Exit status when the store cannot be read or written: a corrupt journal row, a gap
    /// in a journal, a locked or unreadable file (RUNNING.md, "Exit codes").
    static let storeFailureStatus: Int32 = 5

    /// Exit status when the journal or the IR does not match the run's hash chain: the
    /// store was edited outside ezflow (RUNNING.md, "A journal that cannot be edited quietly").
    static let integrityFailureStatus: Int32 = 6

    static func fail(_ error: StoreError) -> Never {
        switch error.kind {
        case .integrity: fail(error.description, code: integrityFailureStatus)
        // No such run: the command's input, not the store, is wrong (exit 2, RUNNING.md).
        case .notFound: fail(error.description)
        default: fail(error.description, code: storeFailureStatus)
        }
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

    static func simulate(_ a: Args) -> Int32 {
        let file = a.positional[0]
        guard let seedText = a.value("--seed") else { usageError(a, "missing --seed N (every simulation is seeded; pick any number)") }
        guard let seed = UInt64(seedText) else { usageError(a, "--seed needs an unsigned 64-bit integer") }
        var runCount = 1
        if let r = a.value("--runs") {
            guard let v = Int(r), (1...1_000_000).contains(v) else { usageError(a, "--runs needs an integer in 1…1000000") }
            runCount = v
        }
        let faults = a.value("--faults"), scenarioPath = a.value("--scenario"), journalDir = a.value("--journal-dir")
        let selector = a.value("--selector").flatMap(SelectorName.init(rawValue:))
        let oracle = a.value("--oracle") != "off"
        let breaker = breakerSettings(a)
        // The flags that change the outcome, echoed in the reproduce line.
        var echo: [String] = []
        if let faults { echo += ["--faults", quote(faults)] }
        if let scenarioPath { echo += ["--scenario", quote(scenarioPath)] }
        if let s = a.value("--selector") { echo += ["--selector", s] }
        if !oracle { echo += ["--oracle", "off"] }
        for f in ["--breaker-failures", "--breaker-cool-down", "--stdlib"] { if let v = a.value(f) { echo += [f, quote(v)] } }

        let infra: InfraFaultSpec, agentFaults: String
        do { (infra, agentFaults) = try InfraFaultSpec.split(spec: faults ?? "") } catch { fail("--faults: \(error)") }
        let (input, world) = loadWorld(file, scenarioPath: scenarioPath, faults: agentFaults, stdlib: a.value("--stdlib"))

        var options = SimulationOptions(seed: seed, runs: runCount, selector: selector,
                                        breaker: breaker,
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
                    Console.err("ezrun: the failed run's journal: \(path.path)\n")
                } catch let write {
                    // The run's own failure below is the news; say why its journal is missing.
                    Console.err("ezrun: --journal-dir \(journalDir): the failed run's journal was not kept: \(write.localizedDescription)\n")
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
        Console.out(report.render(command: command))
        return report.exitCode
    }

    /// The workflow, scenario and faults a simulation (or its replay) runs against.
    static func loadWorld(_ file: String, scenarioPath: String?, faults: String?, stdlib: String?) -> (SimInput, SimWorld) {
        let input: SimInput
        do { input = try SimInput.load(path: file, stdlib: stdlib) } catch { fail(error.description) }
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

    static func replay(_ a: Args) -> Int32 {
        let journalPath = a.positional[0], workflow = a.value("--workflow"), scenarioPath = a.value("--scenario")
        let faults = a.value("--faults"), priors = a.all("--prior"), db = a.value("--db"), export = a.value("--export")
        let selector = a.value("--selector").flatMap(SelectorName.init(rawValue:))
        let breaker = breakerSettings(a)
        let envDB = ProcessInfo.processInfo.environment["EZFLOW_DB"].flatMap { $0.isEmpty ? nil : $0 }
        let isFile = FileManager.default.fileExists(atPath: journalPath) || journalPath.hasSuffix(".jsonl")
        if db != nil || (workflow == nil && (envDB != nil || !isFile)) {
            guard workflow == nil, scenarioPath == nil, faults == nil, priors.isEmpty, selector == nil else {
                usageError(a, "a stored run replays with its own IR and settings: drop --workflow, --selector, --scenario, --faults and --prior")
            }
            return replayStored(runID: journalPath, db: db ?? envDB ?? DurableStore.defaultPath, export: export)
        }
        guard export == nil else { usageError(a, "--export writes a stored run (ezrun replay RUN --db PATH --export FILE)") }
        guard let workflow else { usageError(a, "missing --workflow FILE (the .ezflow or .ezir the run used)") }
        let agentFaults: String
        do { agentFaults = try InfraFaultSpec.split(spec: faults ?? "").1 } catch { fail("--faults: \(error)") }
        let (_, world) = loadWorld(workflow, scenarioPath: scenarioPath, faults: agentFaults, stdlib: a.value("--stdlib"))
        let lines = readChainedJournal(journalPath)
        if let brk = JournalChain.firstBreak(seed: world.plan.hash, lines) {
            let names = world.plan.taskNames
            fail("\(journalPath): " + brk.message(holder: "the file") { $0 >= 0 && $0 < names.count ? names[$0] : nil },
                 code: integrityFailureStatus)
        }
        let tool = ReplayTool(world: world, selector: selector,
                              breaker: breaker)
        let outcome = tool.replay(lines.map(\.record), priors: priors.map(readJournal))
        Console.out(outcome.report)
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
            Console.out(ReplayTool.Outcome.diverged(v).report)
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
            Console.out((report + "chain verified from the IR hash; head \(run.head)\n"))
            return 0
        }
    }

    /// The store every command uses: `--db`, else `$EZFLOW_DB` (when non-empty), else the default.
    static func storePath(_ a: Args) -> String {
        if a.value("--db") == "" { usageError(a, "--db needs a path (an empty one names no file)") }
        let db = a.value("--db") ?? ProcessInfo.processInfo.environment["EZFLOW_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? DurableStore.defaultPath
        // `sqlite:FILE` names the file FILE, as `--backend` reads it (never a file named
        // `sqlite:FILE`); a malformed one is left for `openStore` to refuse.
        if Backend.kind(of: db) == .sqlite, (try? Backend.check(db)) != nil { return String(db.dropFirst("sqlite:".count)) }
        return db
    }

    /// `--breaker-failures N` (1…1000) and `--breaker-cool-down D` (0s…24h), one rule for
    /// run, resume, simulate and replay; nil where the flag is not given.
    static func breakerFlags(_ a: Args) -> (failures: Int?, coolDownMs: Int64?) {
        var out: (failures: Int?, coolDownMs: Int64?) = (nil, nil)
        if let s = a.value("--breaker-failures") {
            guard let n = Int(s), (1...1_000).contains(n) else { usageError(a, "--breaker-failures needs an integer in 1…1000, not `\(s)`") }
            out.failures = n
        }
        if let s = a.value("--breaker-cool-down") {
            guard case .value(.duration(let d)) = Literal.scan(s), (0...86_400_000).contains(d) else {
                usageError(a, "--breaker-cool-down needs a duration from 0s to 24h (e.g. 30s), not `\(s)`")
            }
            out.coolDownMs = d
        }
        return out
    }

    /// The breaker of simulate and replay: the flags, else 5 failures and 30s.
    static func breakerSettings(_ a: Args) -> CircuitBreaker {
        let given = breakerFlags(a)
        return CircuitBreaker(failuresToOpen: given.failures ?? 5, coolDownMs: given.coolDownMs ?? 30_000)
    }

    static func main() -> Never {
        let a = tool.resolve(Array(CommandLine.arguments.dropFirst()))
        switch a.path {
        case ["simulate"]: exit(simulate(a))
        case ["replay"]: exit(replay(a))
        case ["run"]:
            Signals.prepareRunner()
            exit(run(a))
        case ["resume"]:
            Signals.prepareRunner()
            exit(resume(a))
        case ["worker"]:
            Signals.prepareRunner()
            exit(worker(a))
        case ["coordinator"]: exit(coordinator(a))
        case ["scale-hint"]: exit(scaleHint(a))
        case ["db", "migrate"]: exit(dbMigrate(a))
        case ["approve"]: exit(approve(a))
        case ["cancel"]: exit(cancel(a))
        case ["status"]: exit(status(a))
        case ["runs"]: exit(runs(a))
        case ["logs"]: exit(logs(a))
        case ["files"]: exit(files(a))
        case ["gc"]: exit(gc(a))
        case ["dlq", "list"]: exit(dlqList(a))
        case ["dlq", "show"]: exit(dlqShow(a))
        case ["dlq", "retry"]: exit(dlqRetry(a))
        default: usageError(a, "no such command")
        }
    }
}

CLI.main()
