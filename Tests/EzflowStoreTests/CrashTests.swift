import EzflowPorts
import EzflowRuntime
import EzflowSim
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

/// kill -9 of a writer (`ezbench durable --crash-probe`) at seeded random moments: the
/// file stays sound, no committed record is lost, no record is torn, the queue matches.
final class CrashTests: XCTestCase {
    /// The ezbench binary built next to this test bundle (any scratch path), else the repo default.
    static func ezbench() -> String? {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["EZBENCH"] { candidates.append(env) }
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        var dir = me.deletingLastPathComponent()
        for _ in 0..<3 {
            candidates.append(dir.appendingPathComponent("ezbench").path)
            dir = dir.deletingLastPathComponent()
        }
        for d in [".build-store/debug", ".build/debug"] { candidates.append(Repo.url(d).appendingPathComponent("ezbench").path) }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func testKillNineLeavesACommittedPrefix() throws {
        guard let exe = Self.ezbench() else { return XCTFail("ezbench not built (set EZBENCH=path)") }
        let dir = try tempDir(self)
        var rng = SeededRandom(seed: 20_240_601)
        let tasks = 20_000, seed: UInt64 = 3
        let plan = Plan.synthetic(SyntheticPlanSpec(tasks: tasks, agents: 16, candidatesPerTask: 4, concurrency: 4, attempts: 3,
                                                    retryDelayMs: 100, seed: seed))
        var kills = 0
        var killedWithData = 0
        for db in 0..<4 {
            let path = dir + "/crash-\(db).db"
            var previous: [JournalRecord] = []
            for round in 0..<6 {
                let out = dir + "/out-\(db)-\(round).txt"
                _ = FileManager.default.createFile(atPath: out, contents: nil)
                let p = Process()
                p.executableURL = URL(fileURLWithPath: exe)
                p.arguments = ["durable", "--crash-probe", path, "--records", "1000000", "--tasks", String(tasks), "--seed", String(seed)]
                p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
                p.standardError = FileHandle.nullDevice
                try p.run()
                // Wait for the child's first commit, then a seeded random delay.
                let start = Date()
                while Date().timeIntervalSince(start) < 10,
                      ((try? Data(contentsOf: URL(fileURLWithPath: out)))?.count ?? 0) == 0, p.isRunning {
                    usleep(2_000)
                }
                usleep(useconds_t(5_000 + rng.uniform(150_000)))
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                if p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL { kills += 1 }

                // Every complete "committed N" line the child printed.
                let text = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data(), as: UTF8.self)
                var reported: [Int] = []
                for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                    guard line.hasPrefix("committed "), let n = Int(line.dropFirst(10)) else { continue }
                    reported.append(n)
                }

                let store = try DurableStore(path: path)
                XCTAssertEqual(try store.integrityCheck(), ["ok"], "db \(db) round \(round)")
                let journal = try store.journal(run: "probe")
                XCTAssertEqual(journal.map(\.seq), Array(0..<journal.count), "a prefix: seqs 0..<n, no gaps")
                if let maxSeq = reported.max() {
                    XCTAssertLessThan(maxSeq, journal.count, "db \(db) round \(round): committed seq \(maxSeq) lost (journal has \(journal.count))")
                    killedWithData += 1
                }
                XCTAssertEqual(Array(journal.prefix(previous.count)), previous, "earlier records unchanged")
                XCTAssertGreaterThanOrEqual(journal.count, previous.count)
                // No torn record: the prefix replays, and the queue matches the replayed state.
                let state = try Replay.verify(plan: plan, journal: journal)
                let open = Set(try store.openAttempts(run: "probe").map { [$0.task, $0.attempt] })
                XCTAssertEqual(open, runningAttempts(state), "db \(db) round \(round): queue and journal disagree")
                previous = journal
                store.close()
            }
        }
        XCTAssertGreaterThanOrEqual(kills, 20, "children killed by SIGKILL")
        XCTAssertGreaterThanOrEqual(killedWithData, 20)
    }
}
