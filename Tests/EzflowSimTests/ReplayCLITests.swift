import EzflowTestSupport
import Foundation
import XCTest

/// `ezrun replay`: journals written by `ezrun simulate` reproduce; a tampered one is
/// reported at the first divergent event; a learned run replays given its earlier runs.
final class ReplayCLITests: XCTestCase {
    let exe = ezrunExecutable()
    let example = Repo.url("examples/multi_agent_feature.ezflow").path

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("ezreplay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func testSimulatedJournalsReplay() throws {
        let dir = try tempDir()
        let sim = runProcess(exe, ["simulate", example, "--seed", "11", "--runs", "4", "--faults", "agent=coder:fail=0.4", "--journal-dir", dir.path])
        XCTAssertTrue([0, 1, 3].contains(sim.status), sim.stderr)
        for i in 0..<4 {
            let r = runProcess(exe, ["replay", dir.appendingPathComponent("run-\(i).jsonl").path, "--workflow", example,
                                     "--faults", "agent=coder:fail=0.4"])
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            XCTAssertTrue(r.stdout.hasPrefix("journal reproduced: "), r.stdout)
        }
    }

    func testTamperedJournalIsReportedAtTheFirstDivergence() throws {
        let dir = try tempDir()
        _ = runProcess(exe, ["simulate", example, "--seed", "5", "--runs", "1", "--journal-dir", dir.path])
        let path = dir.appendingPathComponent("run-0.jsonl")
        var lines = try String(contentsOf: path, encoding: .utf8).split(separator: "\n").map(String.init)
        // Record 2 is the first task's completion: claim it was attempt 2.
        let i = try XCTUnwrap(lines.firstIndex { $0.contains("\"type\":\"task_succeeded\"") })
        lines[i] = lines[i].replacingOccurrences(of: "\"attempt\":1", with: "\"attempt\":2")
        try (lines.joined(separator: "\n") + "\n").write(to: path, atomically: true, encoding: .utf8)
        // The export's chain hash catches the edit first (exit 6)…
        let r = runProcess(exe, ["replay", path.path, "--workflow", example])
        XCTAssertEqual(r.status, 6, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("ezrun: \(path.path): journal record \(i) (task_succeeded of task `"), r.stderr)
        XCTAssertTrue(r.stderr.hasSuffix("`) does not match its chain hash: the file was edited\n"), r.stderr)
        // …and without the hashes, replay finds the first divergence.
        let plain = lines.map { $0.replacingOccurrences(of: #"^\{"chain":"sha256:[0-9a-f]{64}","#, with: "{", options: .regularExpression) }
        try (plain.joined(separator: "\n") + "\n").write(to: path, atomically: true, encoding: .utf8)
        let unchained = runProcess(exe, ["replay", path.path, "--workflow", example])
        XCTAssertEqual(unchained.status, 1, unchained.stdout + unchained.stderr)
        XCTAssertTrue(unchained.stdout.hasPrefix("determinism violation (illegal_event) at event #\(i) `task_succeeded`"), unchained.stdout)
    }

    func testLearnedRunReplaysWithItsPriors() throws {
        let dir = try tempDir()
        _ = runProcess(exe, ["simulate", example, "--seed", "3", "--runs", "5", "--selector", "learned", "--journal-dir", dir.path])
        let priors = (0..<4).flatMap { ["--prior", dir.appendingPathComponent("run-\($0).jsonl").path] }
        let r = runProcess(exe, ["replay", dir.appendingPathComponent("run-4.jsonl").path, "--workflow", example, "--selector", "learned"] + priors)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    }

    func testMissingWorkflowIsUsageError() {
        let r = runProcess(exe, ["replay", "/nonexistent.jsonl"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("missing --workflow"), r.stderr)
    }
}
