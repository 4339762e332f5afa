import EzflowCompiler
import EzflowIR
import EzflowRuntime
import EzflowTestSupport
import Foundation
import XCTest

/// The promise of `ezc check`: a file it accepts (no errors) builds, its IR validates, the
/// runtime plans it and a simulated run of the core steps through it without refusing an
/// event. Checked over every example, the stdlib, the golden fixtures that check clean and
/// a few thousand seeded mutants of them that still check clean.
///
/// `MutationTests` (EzcTests) damages bytes to show `ezc check` never crashes; the mutants
/// here change meaning instead (values, numbers, names, lines, tokens) so that most still
/// check clean. Each mutant has its own seed, derived from the run seed and its index;
/// the run seed can be set with `EZFLOW_CHECK_CLEAN_SEED=0x...`, and a failure prints the
/// mutant's text and how to reproduce it.
final class CheckCleanPropertyTests: XCTestCase {
    static let defaultSeed: UInt64 = 0xC1EA_0B11_D500_0001
    /// Mutants that check clean, at least (mutants with errors are drawn and dropped);
    /// `EZFLOW_CHECK_CLEAN_MUTANTS=N` asks for more in a deeper run.
    static let cleanMutants = ProcessInfo.processInfo.environment["EZFLOW_CHECK_CLEAN_MUTANTS"].flatMap { Int($0) } ?? 2_000
    /// Draws at most this many mutants to find them (about a third check clean).
    static let drawsMax = cleanMutants * 4

    var seed: UInt64 {
        guard let s = ProcessInfo.processInfo.environment["EZFLOW_CHECK_CLEAN_SEED"] else { return Self.defaultSeed }
        let hex = s.hasPrefix("0x")
        return UInt64(hex ? String(s.dropFirst(2)) : s, radix: hex ? 16 : 10) ?? Self.defaultSeed
    }

    // MARK: - the corpus

    func testCorpusThatChecksCleanBuildsPlansAndRuns() {
        let corpus = CheckCleanCorpus.load()
        XCTAssertGreaterThan(corpus.subjects.count, 20, "corpus too small")
        var clean = 0
        for s in corpus.subjects {
            switch CheckCleanInvariant.verify(root: s.path, files: corpus.files(with: s.path, s.bytes)) {
            case .rejected: continue
            case .held: clean += 1
            case .broken(let why): XCTFail("\(s.path) checks clean but \(why)")
            }
        }
        // examples (both surfaces), stdlib workflows and the warning-only fixtures.
        XCTAssertGreaterThan(clean, 15, "too few corpus files check clean")
        print("CheckCleanPropertyTests: \(clean) of \(corpus.subjects.count) corpus files check clean; the invariant holds for all")
    }

    // MARK: - mutants

    func testMutantsThatCheckCleanBuildPlanAndRun() {
        let corpus = CheckCleanCorpus.load()
        // Mutants of the files that check clean (most fixtures exist to show an error).
        let subjects = corpus.subjects.filter {
            guard $0.path.hasSuffix(".ezflow"), case .held = CheckCleanInvariant.verify(root: $0.path, files: corpus.library) else { return false }
            return true
        }
        XCTAssertGreaterThan(subjects.count, 10, "too few clean subjects to mutate")
        let runSeed = seed
        let found = Findings()
        let workers = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
        let t0 = Date()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var i = w
            while i < Self.drawsMax && found.clean < Self.cleanMutants && found.broken.count < 10 {
                let mseed = runSeed &+ UInt64(i) &* 0xD1B5_4A32_D192_ED03
                var rng = SeededRandom(seed: mseed)
                let s = subjects[Int(rng.next() % UInt64(subjects.count))]
                var text = String(decoding: s.bytes, as: UTF8.self)
                for _ in 0..<(1 + Int(rng.next() % 2)) { text = SemanticMutator.mutate(text, &rng) }
                switch CheckCleanInvariant.verify(root: s.path, files: corpus.files(with: s.path, Array(text.utf8))) {
                case .rejected(let code): found.add(rejected: code)
                case .held: found.add(clean: 1)
                case .broken(let why):
                    found.add(broken: "mutant \(i) of \(s.path) (mutant seed 0x\(String(mseed, radix: 16))) checks clean but \(why)"
                        + "\n  reproduce: EZFLOW_CHECK_CLEAN_SEED=0x\(String(runSeed, radix: 16)) swift test --filter CheckCleanPropertyTests"
                        + "\n--- mutant ---\n\(text)\n--- end ---")
                }
                i += workers
            }
        }
        for b in found.broken { XCTFail(b) }
        print("CheckCleanPropertyTests: run seed 0x\(String(runSeed, radix: 16)): \(found.clean) mutants checked clean and held,"
              + " \(found.rejected) rejected by check (\(found.topCodes)), in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
        XCTAssertGreaterThanOrEqual(found.clean, Self.cleanMutants, "too few mutants checked clean to mean anything")
    }

    /// Counts and failures from the worker threads.
    final class Findings: @unchecked Sendable {
        private let lock = NSLock()
        private var counts = (clean: 0, rejected: 0)
        private var failures: [String] = []
        func add(clean n: Int) { lock.lock(); counts.clean += n; lock.unlock() }
        private var codes: [String: Int] = [:]
        func add(rejected code: String) { lock.lock(); counts.rejected += 1; codes[code, default: 0] += 1; lock.unlock() }
        /// The most frequent first error codes of rejected mutants, for tuning the mutator.
        var topCodes: String { lock.lock(); defer { lock.unlock() }; return codes.sorted { $0.value > $1.value }.prefix(6).map { "\($0.key) \($0.value)" }.joined(separator: ", ") }
        func add(broken why: String) { lock.lock(); failures.append(why); lock.unlock() }
        var clean: Int { lock.lock(); defer { lock.unlock() }; return counts.clean }
        var rejected: Int { lock.lock(); defer { lock.unlock() }; return counts.rejected }
        var broken: [String] { lock.lock(); defer { lock.unlock() }; return failures }
    }
}

/// The files the property is checked over, with the files they may import.
struct CheckCleanCorpus {
    var subjects: [(path: String, bytes: [UInt8])]
    /// Every file an import may reach (siblings, `lib/` helpers), by repo-relative path.
    var library: [String: [UInt8]]

    static func load() -> CheckCleanCorpus {
        func read(_ f: String) -> [UInt8] { (try? Data(contentsOf: Repo.url(f))).map { [UInt8]($0) } ?? [] }
        let fixtures = "Tests/Fixtures/check"
        var paths = Repo.files(in: "examples", ext: [".ezflow", ".ezflow.yaml"]) + Repo.files(in: "stdlib", ext: [".ezflow"])
        paths += Repo.files(in: fixtures, ext: [".ezflow"]).filter { !$0.contains("/lib/") }
        var library: [String: [UInt8]] = [:]
        for f in paths + Repo.files(in: fixtures + "/lib", ext: [".ezflow"]) { library[f] = read(f) }
        return CheckCleanCorpus(subjects: paths.map { ($0, library[$0] ?? []) }, library: library)
    }

    /// The library with `root` replaced by `bytes`.
    func files(with root: String, _ bytes: [UInt8]) -> [String: [UInt8]] {
        var f = library
        f[root] = bytes
        return f
    }
}

/// One check of the invariant.
enum CheckCleanInvariant {
    enum Outcome { case rejected(String), held, broken(String) }

    static let stdlib = Repo.url("stdlib").path

    static func verify(root: String, files: [String: [UInt8]]) -> Outcome {
        let r = Compiler.build(root: root, bytes: files, stdlibRoot: stdlib)
        if r.check.hasErrors { return .rejected(r.check.diagnostics.first { $0.severity == .error }?.code ?? "") }
        guard let ir = r.ir else {
            // A library module (no workflow) has nothing to build; that is said, not crashed.
            return r.failure?.contains("declares no workflow") == true ? .held : .broken("builds nothing: \(r.failure ?? "no reason")")
        }
        let program: IRProgram
        do { program = try EzflowIR.validate(ir) } catch { return .broken("its IR does not validate: \(error)") }
        let plan: Plan
        do { plan = try Plan(program, inputs: RunValues.inputs(program)) } catch { return .broken("the runtime refuses its plan: \(error)") }
        do { try SimulatedRun.run(plan) } catch { return .broken("a simulated run is refused by the core: \(error)") }
        return .held
    }
}

/// Values for a run: what `ezrun run` would resolve with every required input given a
/// value of its type, and task outputs of their declared types.
enum RunValues {
    static func inputs(_ p: IRProgram) -> [String: JSONValue] {
        let w = p.workflow.json
        var out: [String: JSONValue] = [:]
        guard case .array(let xs)? = w["inputs"] else { return out }
        for x in xs {
            guard case .string(let name)? = x["name"], case .string(let type)? = x["type"] else { continue }
            if let d = x["default"], d != .null { out[name] = d; continue }
            if let e = x["default_expr"], e != .null, let v = try? IRExpr.evaluate(e, in: Env(inputs: out)) { out[name] = v; continue }
            out[name] = x["required"] == .bool(true) ? value(type, types: w["types"]) : .null
        }
        return out
    }

    /// A value of IR type `type` (`list[Cell]`, `string?`, an enum or record name).
    static func value(_ type: String, types: JSONValue?) -> JSONValue {
        if type.hasSuffix("?") { return .null }
        if type.hasPrefix("list["), type.hasSuffix("]") {
            let el = value(String(type.dropFirst(5).dropLast()), types: types)
            return .array([el, el])
        }
        if type.hasPrefix("map["), type.hasSuffix("]") { return .object([("k", value(String(type.dropFirst(4).dropLast()), types: types))]) }
        switch type {
        case "string", "path": return .string("x")
        case "int", "duration", "money", "tokens": return .int(1_000)
        case "float": return .float(0.5)
        case "bool": return .bool(true)
        case "json": return .object([])
        default: break
        }
        if case .array(let cases)? = types?[type]?["enum"], let first = cases.first { return first }
        if case .object(let fields)? = types?[type]?["record"] {
            return .object(fields.map { ($0.0, value(IRExpr.text($0.1), types: types)) })
        }
        return .string("x")
    }

    struct Env: ExprEnvironment {
        var inputs: [String: JSONValue]
        func input(_ name: String) -> JSONValue? { inputs[name] }
        func outputs(ofTask id: Int) -> JSONValue? { nil }
        var item: JSONValue? { nil }
        func secret(_ name: String) -> String? { nil }
    }
}

/// Drives the pure core as the runner would, with every attempt succeeding (outputs of
/// their declared types), every approval given and timers fired in order.
enum SimulatedRun {
    struct Stalled: Error, CustomStringConvertible { var description: String }

    static func run(_ plan: Plan, eventsMax: Int = 20_000) throws {
        var run = JournaledRun(plan: plan)
        var now: Int64 = 0
        var pending: [Event] = []
        var timers: [(TimerID, Int64)] = []
        func take(_ cs: [Command]) -> Bool {
            for c in cs {
                switch c {
                case .dispatch(let t, let a, _, _, _):
                    pending.append(.taskSucceeded(task: t, attempt: a, outputs: outputs(plan, t), costMicros: 0, tokens: 0, atMs: now))
                case .setTimer(let id, let at): timers.append((id, at))
                case .cancel: break
                case .requestApproval(let t, _, _): pending.append(.approvalGiven(task: t, principal: "alice", approved: true, atMs: now))
                case .deadLetter: break
                case .finishRun: return true
                }
            }
            return false
        }
        if take(try run.apply(.runStarted(runID: "r1", seed: 1, planHash: plan.hash, tagLimits: [:], atMs: 0))) { return }
        for _ in 0..<eventsMax {
            now += 1
            let e: Event
            if !pending.isEmpty {
                e = retimed(pending.removeFirst(), now)
            } else if let i = timers.indices.min(by: { timers[$0].1 < timers[$1].1 }) {
                let (id, at) = timers.remove(at: i)
                now = max(now, at)
                e = .timerFired(id, atMs: now)
            } else {
                throw Stalled(description: "the run stalled: no event left and no verdict")
            }
            if take(try run.apply(e)) { return }
        }
        throw Stalled(description: "no verdict after \(eventsMax) events")
    }

    static func retimed(_ e: Event, _ at: Int64) -> Event {
        switch e {
        case .taskSucceeded(let t, let a, let o, let c, let k, _): .taskSucceeded(task: t, attempt: a, outputs: o, costMicros: c, tokens: k, atMs: at)
        case .approvalGiven(let t, let p, let ok, _): .approvalGiven(task: t, principal: p, approved: ok, atMs: at)
        default: e
        }
    }

    /// An outputs object with a value of each declared output's type.
    static func outputs(_ plan: Plan, _ t: Int) -> JSONValue {
        guard case .array(let os)? = plan.taskJSON[t]["outputs"] else { return .object([]) }
        return .object(os.compactMap { o in
            guard case .string(let n)? = o["name"], case .string(let ty)? = o["type"] else { return nil }
            return (n, RunValues.value(ty, types: nil))
        })
    }
}
