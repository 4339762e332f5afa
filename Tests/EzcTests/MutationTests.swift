import EzflowCompiler
import EzflowTestSupport
import Foundation
import XCTest

/// Seeded mutation of every example: whatever damage a mutant carries, `ezc check` ends
/// in exit 0 or 1 (never 2 for a readable file, never a signal) within the bound, and
/// in-process every diagnostic span lies inside its file.
///
/// Each mutant has its own seed derived from the run seed and its index, so one failing
/// mutant reproduces alone. The run seed is printed and can be set with
/// `EZFLOW_MUTATION_SEED=0x...`; failing mutants are saved and their paths printed.
final class MutationTests: XCTestCase {
    static let defaultSeed: UInt64 = 0xE2F1_0A7E_5EED_0001
    let batches = 8
    let batchSize = 50
    let inProcessCount = 2_000
    /// Seconds one `ezc check` of a batch may take (a mutant is a few KB).
    let bound = 10.0

    var seed: UInt64 {
        guard let s = ProcessInfo.processInfo.environment["EZFLOW_MUTATION_SEED"] else { return Self.defaultSeed }
        let digits = s.hasPrefix("0x") ? String(s.dropFirst(2)) : s
        return UInt64(digits, radix: s.hasPrefix("0x") ? 16 : 10) ?? Self.defaultSeed
    }

    var seedText: String { "0x" + String(seed, radix: 16) }

    /// The examples, as (repo-relative path, bytes).
    lazy var subjects: [(path: String, bytes: [UInt8])] = Repo.files(in: "examples", ext: [".ezflow"]).map {
        ($0, [UInt8]((try? Data(contentsOf: Repo.url($0))) ?? Data()))
    }

    /// Where failing mutants are kept (not removed).
    lazy var saveDir: URL = {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("ezflow-mutants-\(seedText)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }()

    func save(_ m: Mutant, _ why: String) -> String {
        let u = saveDir.appendingPathComponent("mutant-\(m.index).ezflow")
        try? Data(m.bytes).write(to: u)
        return "\(why)\n  mutant \(m.index) of run seed \(seedText) (mutant seed 0x\(String(m.seed, radix: 16)), from \(m.source))"
            + "\n  saved to \(u.path)\n  reproduce: EZFLOW_MUTATION_SEED=\(seedText) swift test --filter MutationTests; ezc check \(u.path)"
    }

    // MARK: - the built ezc, in batches

    func testMutantsThroughEzcInBatches() {
        XCTAssertFalse(subjects.isEmpty, "no examples found")
        print("MutationTests: run seed \(seedText), \(batches) batches of \(batchSize) through \(ezcBinary().path)")
        let dir = TempDir("ezc-mutants")
        defer { dir.remove() }
        for b in 0..<batches {
            let mutants = (0..<batchSize).map { mutant(index: b * batchSize + $0) }
            var names: [String] = []
            for m in mutants {
                let name = "m\(m.index).ezflow"
                dir.write(name, m.bytes)
                names.append(name)
            }
            let r = runEzc(["check"] + names, cwd: dir.url, timeout: bound)
            let ok = (r.status == 0 || r.status == 1) && r.seconds < bound && r.stdout.isEmpty
                && !crashMarkers.contains { r.stderr.contains($0) }
            if ok { continue }
            // Find the culprits one by one, so the report names single mutants.
            var culprits = 0
            for (m, name) in zip(mutants, names) {
                let one = runEzc(["check", name], cwd: dir.url, timeout: bound)
                let bad = !(one.status == 0 || one.status == 1) || one.seconds >= bound || !one.stdout.isEmpty
                    || crashMarkers.contains { one.stderr.contains($0) }
                if bad {
                    culprits += 1
                    XCTFail(save(m, "ezc check exited \(one.status) after \(String(format: "%.1f", one.seconds)) s"
                                 + " (negative = signal, -9 = killed at the bound)\n\(one.stderrHead)"))
                }
            }
            if culprits == 0 {
                XCTFail("batch \(b) (mutants \(b * batchSize)..<\((b + 1) * batchSize)) of run seed \(seedText) exited \(r.status)"
                        + " after \(r.seconds) s but no single mutant fails alone\n\(r.stderrHead)")
            }
        }
    }

    // MARK: - in-process

    func testMutantsInProcessKeepSpansInsideTheFile() {
        XCTAssertFalse(subjects.isEmpty, "no examples found")
        let stdlib = Repo.url("stdlib").path
        let first = batches * batchSize  // indices after the batch mutants, so the two sets differ
        let mutants = (first..<(first + inProcessCount)).map { mutant(index: $0) }
        let workers = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
        // If a mutant kills the test process, these files hold the ones in progress.
        let dir = saveDir
        print("MutationTests: run seed \(seedText), \(inProcessCount) in-process mutants on \(workers) threads;"
              + " a crash leaves the mutants in progress at \(dir.path)/in-process-worker-*.ezflow")
        let bound = self.bound
        let found = Findings()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let current = dir.appendingPathComponent("in-process-worker-\(w).ezflow")
            for i in stride(from: w, to: mutants.count, by: workers) where found.count < 20 {
                let m = mutants[i]
                try? Data(m.bytes).write(to: current)
                if let problems = Self.checkInProcess(m, stdlib: stdlib, bound: bound) { found.add(m, problems) }
            }
        }
        for (m, problems) in found.all.sorted(by: { $0.0.index < $1.0.index }) { XCTFail(save(m, problems)) }
        if found.count == 0 { try? FileManager.default.removeItem(at: saveDir) }
    }

    /// Checks one mutant in memory; nil when it returned in time with every span inside its file.
    static func checkInProcess(_ m: Mutant, stdlib: String, bound: Double) -> String? {
        // The in-memory loader takes text; invalid UTF-8 becomes U+FFFD, which the
        // batch test covers byte for byte.
        let text = String(decoding: m.bytes, as: UTF8.self)
        let t0 = Date()
        let result = Compiler.check(root: "mutant.ezflow", files: ["mutant.ezflow": text], stdlibRoot: stdlib)
        let seconds = Date().timeIntervalSince(t0)
        var problems: [String] = []
        if seconds >= bound { problems.append("check took \(seconds) s") }
        let files = result.sources.files
        for d in result.diagnostics {
            for label in [d.primary] + d.secondary {
                let s = label.span
                guard result.sources.contains(s.file) else {
                    problems.append("\(d.code) span names file \(s.file) of \(files.count)")
                    continue
                }
                let size = result.sources[s.file].bytes.count
                if !(0 <= s.start && s.start <= s.end && s.end <= size) {
                    problems.append("\(d.code) `\(d.message)` span \(s.start)..<\(s.end) outside \(result.sources[s.file].path) (\(size) bytes)")
                }
            }
        }
        return problems.isEmpty ? nil : problems.joined(separator: "\n")
    }

    /// Failures collected from worker threads.
    final class Findings: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(Mutant, String)] = []
        func add(_ m: Mutant, _ why: String) { lock.lock(); items.append((m, why)); lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return items.count }
        var all: [(Mutant, String)] { lock.lock(); defer { lock.unlock() }; return items }
    }

    // MARK: - mutation

    struct Mutant {
        var index: Int
        var seed: UInt64
        var source: String
        var bytes: [UInt8]
    }

    static let tokens: [String] = [
        "{", "}", "[", "]", ":", "\"", "\"\"\"", "${", "}", "task", "after: [x]", "$", "10m", "\u{0}",
        "#", "\n", "workflow w {", "import \"./m0\"", "1 + 1 + 1", "??", "é", "inputs.", "2M tokens", ",",
    ]

    /// Mutant `index`: one example with 1 to 4 mutations, all from the mutant's own seed.
    func mutant(index: Int) -> Mutant {
        let mseed = seed &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03
        var rng = SplitMix64(seed: mseed)
        let subject = subjects[rng.below(subjects.count)]
        var b = subject.bytes
        for _ in 0..<(1 + rng.below(4)) { b = Self.mutate(b, &rng) }
        return Mutant(index: index, seed: mseed, source: subject.path, bytes: b)
    }

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        if b.isEmpty { return Array(tokens[rng.below(tokens.count)].utf8) }
        switch rng.below(6) {
        case 0:  // delete a byte range
            let start = rng.below(b.count)
            let len = 1 + rng.below(min(64, b.count - start))
            b.removeSubrange(start..<(start + len))
        case 1:  // duplicate a line
            var lines = splitLines(b)
            let i = rng.below(lines.count)
            lines.insert(lines[i], at: i)
            b = Array(lines.joined())
        case 2:  // swap two lines
            var lines = splitLines(b)
            lines.swapAt(rng.below(lines.count), rng.below(lines.count))
            b = Array(lines.joined())
        case 3:  // insert a token
            b.insert(contentsOf: Array(tokens[rng.below(tokens.count)].utf8), at: rng.below(b.count + 1))
        case 4:  // replace a byte with a random one
            b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
        default:  // truncate
            b.removeSubrange(rng.below(b.count)...)
        }
        return b
    }

    /// Lines with their terminators, so joining restores the bytes.
    static func splitLines(_ b: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = [], cur: [UInt8] = []
        for c in b {
            cur.append(c)
            if c == UInt8(ascii: "\n") { out.append(cur); cur = [] }
        }
        if !cur.isEmpty || out.isEmpty { out.append(cur) }
        return out
    }
}
