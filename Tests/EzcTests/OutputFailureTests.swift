import EzflowTestSupport
import Foundation
import XCTest

/// Standard output that cannot be written (a full disk: /dev/full; a closed descriptor) is
/// one line on standard error and exit 2 — never a trap, never a silent success — and
/// `ezrun run` then runs nothing.
final class OutputFailureTests: XCTestCase {
    func sh(_ script: String, cwd: URL? = nil) -> (status: Int32, stdout: String, stderr: String) {
        runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", script], cwd: cwd)
    }

    func testAFullDiskIsAnErrorNotATrap() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full") }
        let ezc = ezcBinary().path, ezrun = Repo.executable("ezrun").path
        let example = Repo.url("examples/ci_pipeline.ezflow").path
        for (command, name) in [("'\(ezc)' --help", "ezc"), ("'\(ezc)' check --format json '\(example)'", "ezc"),
                                ("'\(ezc)' build '\(example)' -o -", "ezc"), ("'\(ezc)' graph '\(example)'", "ezc"),
                                ("'\(ezrun)' help run", "ezrun"), ("'\(ezrun)' completions bash", "ezrun")] {
            let r = sh("exec \(command) >/dev/full")
            XCTAssertEqual(r.status, 2, "\(command): \(r.stderr)")
            XCTAssertEqual(r.stderr, "\(name): cannot write to standard output: No space left on device\n", command)
        }
        let closed = sh("exec '\(ezc)' --version >&-")
        XCTAssertEqual(closed.status, 2, closed.stderr)
        XCTAssertEqual(closed.stderr, "ezc: cannot write to standard output: Bad file descriptor\n")
    }

    func testARunWhoseIdCannotBeWrittenRunsNothing() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ezflow-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("agent sh { driver: exec, capabilities: [\"shell\"] }\nworkflow w { task t { run: \"touch ran\" } }\n".utf8)
            .write(to: dir.appendingPathComponent("w.ezflow"))
        let ezrun = Repo.executable("ezrun").path
        let r = sh("exec '\(ezrun)' run w.ezflow --run-id r1 --db x.db >/dev/full", cwd: dir)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.stderr, "ezrun: cannot write to standard output: No space left on device; run r1 was created and nothing ran: "
                       + "`ezrun resume r1` runs it, `ezrun cancel r1` ends it\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("ran").path), "the task ran")
        // What the message says is true: resuming runs it.
        let resumed = runProcess(URL(fileURLWithPath: ezrun), ["resume", "r1", "--db", "x.db", "--quiet"], cwd: dir)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("ran").path), "resume did not run it")
    }

    func testMachineFormatsRefuseTheTextExplanations() {
        let r = runEzc(["check", "--explain-budget", "--format", "json", Repo.url("examples/ci_pipeline.ezflow").path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.hasPrefix("ezc check: `--explain-budget` prints text; it does not go with `--format json`"), r.stderr)
    }

    func testRunIdsAreNamesNotText() {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ezflow-runid-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try? Data("agent sh { driver: exec, capabilities: [\"shell\"] }\nworkflow w { task t { run: \"true\" } }\n".utf8)
            .write(to: dir.appendingPathComponent("w.ezflow"))
        for bad in ["..", "a\u{1B}[31mred", "a b", "-x", "a/b", String(repeating: "x", count: 201), "é"] {
            let r = runProcess(Repo.executable("ezrun"), ["run", "w.ezflow", "--db", "x.db", "--run-id", bad], cwd: dir)
            XCTAssertEqual(r.status, 2, "\(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("ezrun run: --run-id takes 1…200 ASCII letters"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.db").path))
    }
}
