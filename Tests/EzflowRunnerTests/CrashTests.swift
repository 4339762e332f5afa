// kill -9 of the whole runner at seeded random moments, then `ezrun resume`, until the
// run ends: no task that the journal shows finished starts again, every effect appears
// exactly once per attempt, and the final journal replays.
import EzflowRunner
import EzflowRuntime
import EzflowPorts
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class CrashTests: XCTestCase {
    /// 24 exec tasks in 4 layers, each depending on 2 of the previous layer. A task logs
    /// every start (with the runner's pid, its parent) and writes its effect once per
    /// attempt, deduplicated by a marker named after its idempotency key and attempt — the
    /// way a real task uses `EZFLOW_IDEMPOTENCY_KEY`.
    static func workflow(layers: Int = 4, width: Int = 6) -> String {
        var s = """
            agent sh {
              driver: exec
              capabilities: ["shell"]
              concurrency: 3
            }
            workflow crashy {
              input dir: string
              max_parallel: 3

            """
        for l in 0..<layers {
            for i in 0..<width {
                let after = l == 0 ? "" : "    after: [t\(l - 1)_\(i), t\(l - 1)_\((i + 1) % width)]\n"
                s += """
                      task t\(l)_\(i) {
                    \(after)    env: { D: inputs.dir }
                        run: "echo \\"\\$EZFLOW_TASK \\$EZFLOW_ATTEMPT \\$PPID\\" >> \\"\\$D/starts\\"; sleep 0.0\(2 + (l * width + i) % 5); M=\\"\\$D/m/\\$(echo \\"\\$EZFLOW_IDEMPOTENCY_KEY\\" | tr / _).\\$EZFLOW_ATTEMPT\\"; if (set -C; : > \\"\\$M\\") 2>/dev/null; then echo \\"\\$EZFLOW_TASK \\$EZFLOW_ATTEMPT\\" >> \\"\\$D/effects\\"; fi"
                      }

                    """
            }
        }
        return s + "}\n"
    }

    func testKillNineAtSeededMomentsAndResume() throws {
        let dir = tempDir("crash")
        write(Self.workflow(), to: dir + "/crashy.ezflow")
        let exe = Repo.executable("ezrun")
        var rng = SeededRandom(seed: 20261125)
        var kills = 0, runs = 0, resumes = 0, resumedMidway = 0
        while kills < 20 || runs == 0 {
            runs += 1
            let runID = "crash-\(runs)"
            let work = dir + "/\(runID)"
            try FileManager.default.createDirectory(atPath: work + "/m", withIntermediateDirectories: true)
            var finishedBefore: [Int32: Set<String>] = [:]  // runner pid → tasks the journal had finished when it started
            var args = ["run", "crashy.ezflow", "--run-id", runID, "--input", "dir=\(work)", "--db", "crash.db", "--quiet"]
            var done = false
            var generations = 0
            while !done {
                generations += 1
                XCTAssertLessThan(generations, 200, "the run never finished")
                if generations >= 200 { return }
                let finished = try succeededTasks(dir + "/crash.db", runID)
                let p = Process()
                p.executableURL = exe
                p.arguments = args
                p.currentDirectoryURL = URL(fileURLWithPath: dir)
                p.standardError = FileHandle.nullDevice
                try p.run()
                finishedBefore[p.processIdentifier] = finished
                if !finished.isEmpty && finished.count < 24 { resumedMidway += 1 }
                // Kill after a seeded delay (0–400 ms), unless the run ends first.
                let delayMs = Int(rng.uniform(400))
                let deadline = Date().addingTimeInterval(Double(delayMs) / 1000)
                while p.isRunning && Date() < deadline { usleep(1_000) }
                if p.isRunning {
                    kill(p.processIdentifier, SIGKILL)
                    p.waitUntilExit()
                    kills += 1
                } else {
                    p.waitUntilExit()
                    XCTAssertEqual(p.terminationStatus, 0, "run \(runID) generation \(generations)")
                    done = true
                }
                // Killed before the run row existed: start it again; else resume it.
                if try runExists(dir + "/crash.db", runID) { args = ["resume", runID, "--db", "crash.db", "--quiet"] }
                if !done { resumes += 1 }
            }
            // Let orphaned attempts of killed runners finish their writes.
            usleep(300_000)

            let store = try DurableStore(path: dir + "/crash.db")
            let run = try StoredRun.load(store: store, runID: runID)  // the final journal replays
            XCTAssertEqual(run.info.verdict, .success)
            XCTAssertTrue(run.state.tasks.allSatisfy { $0 == .succeeded })
            XCTAssertEqual(try store.integrityCheck(), ["ok"])

            // Every effect exactly once per attempt the journal shows succeeded.
            let effects = read(work + "/effects").split(separator: "\n").map(String.init)
            var expected: [String] = []
            for t in 0..<run.plan.taskCount {
                for h in run.state.history[t] where h.errorClass == nil { expected.append("\(run.plan.taskNames[t]) \(h.attempt)") }
            }
            XCTAssertEqual(effects.sorted(), expected.sorted(), "run \(runID)")

            // No task the journal had finished was started again by a later runner.
            for line in read(work + "/starts").split(separator: "\n") {
                let f = line.split(separator: " ")
                guard f.count == 3, let pid = Int32(f[2]), let before = finishedBefore[pid] else { continue }
                XCTAssertFalse(before.contains(String(f[0])), "`\(f[0])` ran again under runner \(pid) after it had finished")
            }
        }
        XCTAssertGreaterThanOrEqual(kills, 20)
        XCTAssertGreaterThanOrEqual(resumes, 20)
        XCTAssertGreaterThanOrEqual(resumedMidway, 10, "resumes that found some but not all tasks finished")
        print("crash test: \(kills) kills over \(runs) runs, \(resumes) resumes, \(resumedMidway) of them midway")
    }

    func runExists(_ db: String, _ runID: String) throws -> Bool {
        guard FileManager.default.fileExists(atPath: db) else { return false }
        let store = try DurableStore(path: db)
        defer { store.close() }
        return try store.run(runID) != nil
    }

    func succeededTasks(_ db: String, _ runID: String) throws -> Set<String> {
        guard FileManager.default.fileExists(atPath: db) else { return [] }
        let store = try DurableStore(path: db)
        defer { store.close() }
        guard try store.run(runID) != nil else { return [] }
        let run = try StoredRun.load(store: store, runID: runID)
        return Set((0..<run.plan.taskCount).filter { run.state.tasks[$0] == .succeeded }.map { run.plan.taskNames[$0] })
    }
}
