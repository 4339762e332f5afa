// The crash matrix: kill -9 of the whole runner at 20 seeded moments of a 50-task DAG of
// real exec tasks, then `ezrun resume`, until the run ends. Asserts: no two attempts of
// one task ever run at once (a per-task `flock` held by the attempt and everything it
// starts, and the start/end intervals of the shared log), no process of the run is left
// afterwards (/proc walk for the run's marker), no task lost, no finished task started
// again, every succeeded attempt's effect made (once: a marker file), and the final
// journal replays.
import EzflowRunner
import EzflowRuntime
import EzflowPorts
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class CrashTests: XCTestCase {
    /// `layers` × `width` exec tasks, each depending on 2 of the previous layer. A task
    /// takes its task's lock (held by everything it starts: a second holder at the same
    /// time is an overlap), logs `start`/`end` with its attempt, its pid and its runner's
    /// pid (from `EZFLOW_RUNNER`, not `$PPID`: a task whose runner was killed as it
    /// spawned it has already been re-parented when its shell reads `$PPID`), leaves a `sleep 300` behind in its group, and writes its
    /// effect once per attempt, deduplicated by a marker named after its idempotency key
    /// and attempt — the way a real task uses `EZFLOW_IDEMPOTENCY_KEY`.
    static func workflow(layers: Int = 5, width: Int = 10) -> String {
        var s = """
            agent sh {
              driver: exec
              capabilities: ["shell"]
              concurrency: 4
            }
            workflow crashy {
              input dir: string
              max_parallel: 4

            """
        for l in 0..<layers {
            for i in 0..<width {
                let after = l == 0 ? "" : "    after: [t\(l - 1)_\(i), t\(l - 1)_\((i + 1) % width)]\n"
                s += """
                      task t\(l)_\(i) {
                    \(after)    env: { D: inputs.dir }
                        run: "exec 9>>\\"\\$D/lock.\\$EZFLOW_TASK\\"; flock -n 9 || echo \\"overlap \\$EZFLOW_TASK \\$EZFLOW_ATTEMPT\\" >> \\"\\$D/log\\"; R=\\${EZFLOW_RUNNER%%-*}; echo \\"start \\$EZFLOW_TASK \\$EZFLOW_ATTEMPT \\$\\$ \\$R\\" >> \\"\\$D/log\\"; sleep 300 >/dev/null 2>&1 & sleep 0.0\((l * width + i) % 4 + 1); M=\\"\\$D/m/\\$(echo \\"\\$EZFLOW_IDEMPOTENCY_KEY\\" | tr / _).\\$EZFLOW_ATTEMPT\\"; if (set -C; : > \\"\\$M\\") 2>/dev/null; then echo \\"\\$EZFLOW_TASK \\$EZFLOW_ATTEMPT\\" >> \\"\\$D/effects\\"; fi; echo \\"end \\$EZFLOW_TASK \\$EZFLOW_ATTEMPT \\$\\$ \\$R\\" >> \\"\\$D/log\\""
                      }

                    """
            }
        }
        return s + "}\n"
    }

    func testCrashMatrixKillNineAtSeededMomentsAndResume() throws {
        let dir = tempDir("crash")
        write(Self.workflow(), to: dir + "/crashy.ezflow")
        let exe = Repo.executable("ezrun")
        let taskCount = 50
        // EZFLOW_CRASH_SEED: another seed, for soak runs.
        var rng = SeededRandom(seed: ProcessInfo.processInfo.environment["EZFLOW_CRASH_SEED"].flatMap { UInt64($0) } ?? 20261203)
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
                if !finished.isEmpty && finished.count < taskCount { resumedMidway += 1 }
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
            // Nothing of the run is left: no task outlives its runner, none its run.
            XCTAssertEqual(liveProcesses(marker: "D=\(work)"), [], "processes of run \(runID) left after it ended")

            let store = try DurableStore(path: dir + "/crash.db")
            let run = try StoredRun.load(store: store, runID: runID)  // the final journal replays
            XCTAssertEqual(run.info.verdict, .success)
            XCTAssertEqual(run.plan.taskCount, taskCount)
            XCTAssertTrue(run.state.tasks.allSatisfy { $0 == .succeeded }, "lost tasks in run \(runID)")
            XCTAssertEqual(try store.integrityCheck(), ["ok"])
            XCTAssertEqual(try store.processes(run: runID), [], "process rows left of run \(runID)")

            // Every succeeded attempt's effect happened (its marker exists: at most once).
            let markers = Set((try FileManager.default.contentsOfDirectory(atPath: work + "/m")))
            for t in 0..<run.plan.taskCount {
                for h in run.state.history[t] where h.errorClass == nil {
                    let marker = "\(runID)_\(run.plan.taskNames[t]).\(h.attempt)"  // idempotency key, `/` → `_`
                    XCTAssertTrue(markers.contains(marker), "no effect of `\(run.plan.taskNames[t])` attempt \(h.attempt) (run \(runID))")
                }
            }

            let log = read(work + "/log").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            // No two attempts of one task at the same time: the lock, and the intervals.
            XCTAssertEqual(log.filter { $0.first == "overlap" }.map { $0.joined(separator: " ") }, [], "run \(runID)")
            var open: [String: String] = [:]  // task → the pid of its attempt between start and end
            var ended: [String] = []          // tasks whose success was logged (an end line)
            for f in log where f.count == 5 {
                let (kind, task, pid) = (f[0], f[1], f[3])
                if kind == "start" {
                    // An attempt still open here never logged its end: it was killed (with
                    // its dead runner or at resume); the lock shows it was gone by now.
                    open[task] = pid
                } else if kind == "end" {
                    XCTAssertEqual(open[task], pid, "`\(task)`: another attempt started between \(pid)'s start and end (run \(runID))")
                    open[task] = nil
                    ended.append(task)
                }
            }
            // No task lost: each one's succeeded attempt logged its end.
            XCTAssertEqual(Set(ended), Set(run.plan.taskNames), "run \(runID)")

            // No task the journal had finished was started again by a later runner.
            for f in log where f.count == 5 && f[0] == "start" {
                guard let runner = Int32(f[4]), let before = finishedBefore[runner] else {
                    XCTFail("start line without a known runner: \(f)")
                    continue
                }
                XCTAssertFalse(before.contains(f[1]), "`\(f[1])` ran again under runner \(runner) after it had finished")
            }
        }
        XCTAssertGreaterThanOrEqual(kills, 20)
        XCTAssertGreaterThanOrEqual(resumes, 20)
        XCTAssertGreaterThanOrEqual(resumedMidway, 10, "resumes that found some but not all tasks finished")
        print("crash matrix: \(kills) kills over \(runs) runs, \(resumes) resumes, \(resumedMidway) of them midway")
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
