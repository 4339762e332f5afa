// `ezrun run` end to end with `file` outputs (docs/RUNTIME.md, "Files"): a task's file is
// stored once by its SHA-256, read-only, its mode kept; later tasks read the stored copy's
// path; the path a task reports is data, and nothing outside its working directory is
// ever copied into the store.
import EzflowIR
import EzflowRunner
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class FileArtifactRunTests: XCTestCase {
    static let agent = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
        }

        """

    /// `build` leaves `dist/app.tar` and an executable `run.sh`; `test` reads both.
    static let buildAndTest = agent + """
        workflow ship {
          output app: file

          task build {
            run: "mkdir -p dist && printf 'app bytes\\\\n' > dist/app.tar && printf '#!/bin/sh\\\\necho hi\\\\n' > run.sh && chmod 755 run.sh && echo '{\\"app\\": \\"dist/app.tar\\", \\"script\\": \\"run.sh\\"}'"
            output app: file
            output script: file
            output notes: file?
            writes: [app]
          }

          task test {
            env: { APP: build.outputs.app, SCRIPT: build.outputs.script }
            run: "test \\"$(cat \\"$APP\\")\\" = 'app bytes' && test -x \\"$SCRIPT\\" && \\"$SCRIPT\\" && test \\"${build.outputs.app}\\" = \\"$APP\\" && test \\"$APP\\" -ef \\".ezflow/ezflow.db.files/sha256/$(sha256sum < \\"$APP\\" | cut -c1-2)/$(sha256sum < \\"$APP\\" | cut -c1-64)\\" && echo checked"
          }
        }
        """

    static func blobs(_ dir: String) -> [String] {
        let root = dir + "/.ezflow/ezflow.db.files/sha256"
        let all = (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []
        return all.filter { $0.count == 67 }.sorted()
    }

    static func outputs(_ dir: String, _ run: String, task: Int) throws -> JSONValue? {
        try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: run).state.taskOutputs[task]
    }

    func testBuildHandsItsArtifactToTestThroughTheStore() throws {
        let dir = tempDir("files")
        write(Self.buildAndTest, to: dir + "/ship.ezflow")
        let r = ezrun(["run", "ship.ezflow", "--run-id", "f1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let app = try XCTUnwrap(FileRecord(try XCTUnwrap(try Self.outputs(dir, "f1", task: 0)?["app"])))
        let digest = IRDocument.sha256(Array("app bytes\n".utf8))
        XCTAssertEqual(app, FileRecord(digest: digest, name: "app.tar", size: 10, mode: "0644"))
        let script = try XCTUnwrap(FileRecord(try XCTUnwrap(try Self.outputs(dir, "f1", task: 0)?["script"])))
        XCTAssertEqual(script.mode, "0755")
        XCTAssertEqual(try Self.outputs(dir, "f1", task: 0)?["notes"], .null)
        // Stored once each, read-only, named by digest; the script keeps its executable bit.
        let hex = String(digest.dropFirst(7))
        XCTAssertEqual(Self.blobs(dir), [String(script.hex.prefix(2)) + "/" + script.hex, String(hex.prefix(2)) + "/" + hex].sorted())
        let blob = dir + "/.ezflow/ezflow.db.files/sha256/\(hex.prefix(2))/\(hex)"
        XCTAssertEqual(read(blob), "app bytes\n")
        let attrs = try FileManager.default.attributesOfItem(atPath: blob)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o444)
        let scriptBlob = dir + "/.ezflow/ezflow.db.files/sha256/\(script.hex.prefix(2))/\(script.hex)"
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: scriptBlob)[.posixPermissions] as? NSNumber)?.intValue, 0o555)
        // `test` read the stored copy's absolute path; no attempt directory is left.
        let logs = ezrun(["logs", "f1", "test"], in: dir)
        XCTAssertTrue(logs.stdout.hasSuffix("hi\nchecked\n"), logs.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/.ezflow/ezflow.db.files/work/") &&
                       !((try? FileManager.default.contentsOfDirectory(atPath: dir + "/.ezflow/ezflow.db.files/work/")) ?? []).isEmpty)
        // The journal holds no path of this machine.
        let journal = ezrun(["replay", "f1", "--export", "f1.jsonl"], in: dir)
        XCTAssertEqual(journal.status, 0, journal.stderr)
        XCTAssertFalse(read(dir + "/f1.jsonl").contains(dir), "an absolute path reached the journal")
    }

    /// A task that runs `script` and reports `path` as its `file` output `out`.
    static func reporting(_ script: String, _ path: String, type: String = "file") -> String {
        agent + """
            workflow w {
              task make {
                run: "\(script); echo '{\\"out\\": \\"\(path)\\"}'"
                output out: \(type)
              }
            }
            """
    }

    func testHostilePathsFailTheAttemptAndNothingOutsideReachesTheStore() throws {
        let dir = tempDir("files")
        let attacks: [(String, String, String, String)] = [
            ("dots", "true", "../../etc/passwd", "climbs out of the working directory (`..`)"),
            ("absolute", "true", "/etc/passwd", "is absolute"),
            ("device", "true", "/dev/zero", "is absolute"),
            ("link", "ln -s /etc/passwd p", "p", "resolves outside the working directory (through a symbolic link)"),
            ("linkdir", "ln -s /etc d", "d/passwd", "resolves outside the working directory"),
            ("fifo", "mkfifo f", "f", "is a fifo, not a regular file"),
            ("directory", "mkdir d", "d", "is a directory, not a regular file"),
            ("dangling", "ln -s /nonexistent/x p", "p", "is a symbolic link to nothing"),
            ("big", "truncate -s 1100M big", "big", "over the limit of 1073741824 bytes (1 GiB)"),
            ("control", #"printf x > \"$(printf 'a\\tb')\""#, #"a\\\\tb"#, "contains a control character"),
            ("itself", "true", ".", "is the working directory itself"),
        ]
        for (id, script, path, why) in attacks {
            write(Self.reporting(script, path), to: dir + "/\(id).ezflow")
            let start = Date()
            let r = ezrun(["run", "\(id).ezflow", "--run-id", id], in: dir, timeout: 30)
            XCTAssertEqual(r.status, 1, "\(id): \(r.stderr)")
            XCTAssertLessThan(Date().timeIntervalSince(start), 20, "\(id) blocked")
            XCTAssertTrue(r.stderr.contains("output_error: task `make`: output `out`: "), "\(id): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(why), "\(id): \(r.stderr)")
            XCTAssertEqual(Self.blobs(dir), [], "\(id) stored something")
        }
        // A 0-byte file is a file.
        write(Self.reporting("touch empty", "empty"), to: dir + "/empty.ezflow")
        let r = ezrun(["run", "empty.ezflow", "--run-id", "empty"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let e3 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        XCTAssertEqual(Self.blobs(dir), ["e3/" + e3])
        XCTAssertEqual(FileRecord(try XCTUnwrap(try Self.outputs(dir, "empty", task: 0)?["out"]))?.size, 0)
    }

    func testAMissingFileFailsUnlessTheOutputIsOptional() throws {
        let dir = tempDir("files")
        write(Self.reporting("true", "dist/none.tar"), to: dir + "/must.ezflow")
        let r = ezrun(["run", "must.ezflow", "--run-id", "must"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("output `out`: the file `dist/none.tar` does not exist in the task's working directory"), r.stderr)
        write(Self.reporting("true", "dist/none.tar", type: "file?"), to: dir + "/may.ezflow")
        let ok = ezrun(["run", "may.ezflow", "--run-id", "may"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try Self.outputs(dir, "may", task: 0)?["out"], .null)
        // A refused path still fails an optional output.
        write(Self.reporting("true", "../x", type: "file?"), to: dir + "/bad.ezflow")
        XCTAssertEqual(ezrun(["run", "bad.ezflow", "--run-id", "bad"], in: dir).status, 1)
    }

    func testEachAttemptStartsInItsOwnEmptyDirectory() throws {
        // Attempt 1 leaves the file and fails; attempt 2 reports it without writing it:
        // it must not find attempt 1's file.
        let dir = tempDir("files")
        write(Self.agent + """
            workflow w {
              task make {
                run: "if [ \\"$EZFLOW_ATTEMPT\\" = 1 ]; then echo stale > out.txt; exit 3; fi; test -z \\"$(ls -A)\\" && test -d \\"$EZFLOW_PROJECT_DIR\\" && echo '{\\"out\\": \\"out.txt\\"}'"
                output out: file
                retry { attempts: 2, delay: 1ms }
              }
            }
            """, to: dir + "/w.ezflow")
        let r = ezrun(["run", "w.ezflow", "--run-id", "w"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("output `out`: the file `out.txt` does not exist"), r.stderr)
        XCTAssertEqual(Self.blobs(dir), [])
    }

    func testTheSameContentIsStoredOnce() throws {
        let dir = tempDir("files")
        write(Self.agent + """
            workflow w {
              task a {
                run: "echo same > x && echo '{\\"f\\": \\"x\\"}'"
                output f: file
              }
              task b {
                run: "mkdir sub && echo same > sub/y && echo '{\\"f\\": [\\"sub/y\\", \\"sub/y\\"]}'"
                output f: list[file]
              }
            }
            """, to: dir + "/w.ezflow")
        XCTAssertEqual(ezrun(["run", "w.ezflow", "--run-id", "d1"], in: dir).status, 0)
        XCTAssertEqual(ezrun(["run", "w.ezflow", "--run-id", "d2"], in: dir).status, 0)
        XCTAssertEqual(Self.blobs(dir).count, 1)
        let a = FileRecord(try XCTUnwrap(try Self.outputs(dir, "d1", task: 0)?["f"]))
        guard case .array(let bs)? = try Self.outputs(dir, "d2", task: 1)?["f"] else { return XCTFail("no list") }
        XCTAssertEqual(bs.compactMap(FileRecord.init).map(\.digest), [a?.digest, a?.digest])
        XCTAssertEqual(bs.compactMap(FileRecord.init).map(\.name), ["y", "y"])
    }

    func testFilesListsAndCopiesOutAndTheReportsNameThem() throws {
        let dir = tempDir("files")
        write(Self.buildAndTest, to: dir + "/ship.ezflow")
        let r = ezrun(["run", "ship.ezflow", "--run-id", "f2", "--summary", "s.json"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let list = ezrun(["files", "f2"], in: dir)
        XCTAssertEqual(list.status, 0, list.stderr)
        let app = IRDocument.sha256(Array("app bytes\n".utf8))
        XCTAssertTrue(list.stdout.hasPrefix("build.app     app.tar  10 bytes  0644  \(app)\nbuild.script  run.sh   "), list.stdout)
        // Copied out byte for byte, with the mode the task left.
        let out = ezrun(["files", "f2", "build.script", "--out", "copy.sh"], in: dir)
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertEqual(out.stdout, "wrote copy.sh (run.sh, 18 bytes, mode 0755)\n")
        XCTAssertEqual(read(dir + "/copy.sh"), "#!/bin/sh\necho hi\n")
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: dir + "/copy.sh")[.posixPermissions] as? NSNumber)?.intValue, 0o755)
        XCTAssertEqual(ezrun(["files", "f2", "build.app", "--out", "app.tar"], in: dir).status, 0)
        XCTAssertEqual(read(dir + "/app.tar"), "app bytes\n")
        let none = ezrun(["files", "f2", "build.nope"], in: dir)
        XCTAssertEqual(none.status, 2)
        XCTAssertTrue(none.stderr.contains("run `f2` has no file `build.nope` (it has `build.app`, `build.script`)"), none.stderr)
        // The summary and the status list them.
        let summary = read(dir + "/s.json")
        XCTAssertTrue(summary.contains(#""files":[{"digest":"\#(app)","file":"build.app","mode":"0644","name":"app.tar","size":10}"#), summary)
        let status = ezrun(["status", "f2"], in: dir)
        XCTAssertTrue(status.stdout.contains("FILES (ezrun files f2 FILE --out PATH)\nbuild.app "), status.stdout)
        // A blob that changed on disk is refused, not copied out.
        let blob = dir + "/.ezflow/ezflow.db.files/sha256/\(app.dropFirst(7).prefix(2))/\(app.dropFirst(7))"
        chmod(blob, 0o644)
        write("tampered\n", to: blob)
        let bad = ezrun(["files", "f2", "build.app", "--out", "t.tar"], in: dir)
        XCTAssertEqual(bad.status, 6, bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/t.tar"))
    }

    /// `--out` writes into a directory under the file's name, `-` is standard output, and
    /// something there that is not a regular file (a fifo here; `/dev/stdout` or `/dev/full`
    /// run as root) is refused, never replaced.
    func testCopyOutTargetsDirectoryStdoutAndNoDevice() throws {
        let dir = tempDir("files")
        write(Self.buildAndTest, to: dir + "/ship.ezflow")
        XCTAssertEqual(ezrun(["run", "ship.ezflow", "--run-id", "f3"], in: dir).status, 0)
        let stdout = ezrun(["files", "f3", "build.app", "--out", "-"], in: dir)
        XCTAssertEqual(stdout.status, 0, stdout.stderr)
        XCTAssertEqual(stdout.stdout, "app bytes\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/-"))
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        let into = ezrun(["files", "f3", "build.app", "--out", "sub/"], in: dir)
        XCTAssertEqual(into.stdout, "wrote sub/app.tar (app.tar, 10 bytes, mode 0644)\n", into.stderr)
        XCTAssertEqual(read(dir + "/sub/app.tar"), "app bytes\n")
        XCTAssertEqual(mkfifo(dir + "/pipe", 0o644), 0)
        let fifo = ezrun(["files", "f3", "build.app", "--out", "pipe"], in: dir)
        XCTAssertEqual(fifo.status, 5, fifo.stdout)
        XCTAssertTrue(fifo.stderr.contains("pipe: it exists and is not a regular file"), fifo.stderr)
        var st = stat()
        XCTAssertEqual(lstat(dir + "/pipe", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO, "the fifo is still there")
    }

    /// `ezrun gc` never deletes the working directory of an attempt of a run not finished,
    /// however old its time: a long attempt does not touch its directory.
    func testGCLeavesTheAttemptsOfARunInFlight() throws {
        let dir = tempDir("files")
        write(Self.agent + """
            workflow gcf {
              task build {
                run: "mkdir out; echo part1 > out/app; sleep 2; echo part2 >> out/app; echo '{\\"app\\": \\"out/app\\"}'"
                output app: file
              }
            }
            """, to: dir + "/gcf.ezflow")
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = ["run", "gcf.ezflow", "--run-id", "gc1", "--quiet"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let work = dir + "/.ezflow/ezflow.db.files/work"
        var dirs: [String] = []
        for _ in 0..<100 where dirs.isEmpty {
            usleep(20_000)
            dirs = ((try? FileManager.default.subpathsOfDirectory(atPath: work)) ?? []).filter { !$0.contains("/out") }
        }
        XCTAssertFalse(dirs.isEmpty, "the attempt's directory appears")
        for d in dirs {
            var times = [timeval(tv_sec: time(nil) - 3600, tv_usec: 0), timeval(tv_sec: time(nil) - 3600, tv_usec: 0)]
            _ = utimes(work + "/" + d, &times)
        }
        let gc = ezrun(["gc"], in: dir)
        XCTAssertEqual(gc.status, 0, gc.stderr)
        XCTAssertFalse(gc.stdout.contains("leftover"), gc.stdout)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "the run still finds its working directory")
        let out = ezrun(["files", "gc1", "build.app", "--out", "-"], in: dir)
        XCTAssertEqual(out.stdout, "part1\npart2\n")
    }

    func testGCKeepsWhatJournalsReferToAndDeletesTheRest() throws {
        let dir = tempDir("files")
        write(Self.reporting("echo same > x", "x"), to: dir + "/w.ezflow")
        XCTAssertEqual(ezrun(["run", "w.ezflow", "--run-id", "g1"], in: dir).status, 0)
        XCTAssertEqual(ezrun(["run", "w.ezflow", "--run-id", "g2"], in: dir).status, 0)
        // An orphan: a blob whose attempt never reached the journal (a kill -9 in between).
        let root = dir + "/.ezflow/ezflow.db.files"
        let orphan = String(repeating: "ab", count: 32)
        try FileManager.default.createDirectory(atPath: root + "/sha256/ab", withIntermediateDirectories: true)
        write("orphan bytes", to: root + "/sha256/ab/" + orphan)
        try FileManager.default.createDirectory(atPath: root + "/work/deadrun/0.1", withIntermediateDirectories: true)
        // Fresh files are kept (their attempt may not be journalled yet)...
        let fresh = ezrun(["gc"], in: dir)
        XCTAssertEqual(fresh.stdout, "deleted 0 files no run refers to (0 bytes freed); kept 2 files (17 bytes)\n", fresh.stderr)
        // ...until the grace period is over.
        for p in [root + "/sha256/ab/" + orphan, root + "/work/deadrun"] + Self.blobs(dir).map({ root + "/sha256/" + $0 }) {
            var times = [timeval(tv_sec: time(nil) - 3600, tv_usec: 0), timeval(tv_sec: time(nil) - 3600, tv_usec: 0)]
            XCTAssertEqual(utimes(p, &times), 0, p)
        }
        let dry = ezrun(["gc", "--dry-run"], in: dir)
        XCTAssertEqual(dry.stdout, "would delete 1 file no run refers to (12 bytes freed) and 1 leftover of ended attempts; kept 1 file (5 bytes)\n")
        XCTAssertEqual(Self.blobs(dir).count, 2, "a dry run deletes nothing")
        let gc = ezrun(["gc", "--json"], in: dir)
        XCTAssertEqual(gc.stdout, #"{"dry_run":false,"freed_bytes":12,"kept_bytes":5,"kept_files":1,"leftovers":1,"removed_files":1}"# + "\n")
        // Two runs refer to the one kept blob, counted once; both can still copy it out.
        let same = String(IRDocument.sha256(Array("same\n".utf8)).dropFirst(7))
        XCTAssertEqual(Self.blobs(dir), [same.prefix(2) + "/" + same])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/work/deadrun"))
        XCTAssertEqual(ezrun(["files", "g1", "make.out", "--out", "a"], in: dir).status, 0)
        XCTAssertEqual(ezrun(["files", "g2", "make.out", "--out", "b"], in: dir).status, 0)
        XCTAssertEqual(read(dir + "/b"), "same\n")
    }

    func testSimulateJournalsSyntheticDigestsAndReplayVerifiesARealRun() throws {
        let dir = tempDir("files")
        write(Self.buildAndTest, to: dir + "/ship.ezflow")
        let sim = ezrun(["simulate", "ship.ezflow", "--seed", "5", "--runs", "2", "--journal-dir", "jd"], in: dir)
        XCTAssertEqual(sim.status, 0, sim.stderr)
        let synthetic = FileRecord.synthetic(task: "build", output: "app")
        XCTAssertEqual(synthetic.digest, IRDocument.sha256(Array("sim:build.app".utf8)))
        let journal = read(dir + "/jd/run-0.jsonl")
        XCTAssertTrue(journal.contains(String(decoding: CanonicalJSON.encode(synthetic.json), as: UTF8.self)), journal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/.ezflow"), "simulate touched the disk")
        let replaySim = ezrun(["replay", "jd/run-0.jsonl", "--workflow", "ship.ezflow"], in: dir)
        XCTAssertEqual(replaySim.status, 0, replaySim.stderr)
        XCTAssertEqual(ezrun(["run", "ship.ezflow", "--run-id", "real"], in: dir).status, 0)
        let replay = ezrun(["replay", "real"], in: dir)
        XCTAssertEqual(replay.status, 0, replay.stderr + replay.stdout)
    }

    /// kill -9 of the runner at seeded moments while files are being made and read; each
    /// resume goes on. In the end the store holds exactly the blobs the journal refers to:
    /// none lost, none twice (content addressing makes a re-stored file the same blob).
    func testKill9WhileFilesAreStoredLosesNoBlob() throws {
        let dir = tempDir("files")
        write(Self.agent + """
            workflow w {
              task build {
                run: "sleep 0.05; head -c 300000 /dev/zero | tr '\\\\0' b > b.bin; sleep 0.05; echo '{\\"out\\": \\"b.bin\\"}'"
                output out: file
              }
              task pack {
                env: { IN: build.outputs.out }
                run: "sleep 0.05; cp \\"$IN\\" p.bin; echo p >> p.bin; chmod 644 p.bin; echo '{\\"out\\": \\"p.bin\\"}'"
                output out: file
              }
              task check {
                env: { IN: pack.outputs.out }
                run: "sleep 0.05; tail -c 2 \\"$IN\\" | grep -q p"
              }
            }
            """, to: dir + "/w.ezflow")
        let exe = Repo.executable("ezrun")
        var rng: UInt64 = 2026
        var args = ["run", "w.ezflow", "--run-id", "k", "--quiet"]
        var kills = 0
        for generation in 0..<40 {
            let p = Process()
            p.executableURL = exe
            p.arguments = args
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            p.standardError = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let deadline = Date().addingTimeInterval(Double((rng >> 33) % 250) / 1000)
            while p.isRunning && Date() < deadline { usleep(1_000) }
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                kills += 1
                // Killed before the run was committed (the store may exist without it):
                // start it again; once it exists, resume it.
                args = ezrun(["status", "k"], in: dir).status == 0 ? ["resume", "k", "--quiet"] : ["run", "w.ezflow", "--run-id", "k", "--quiet"]
                continue
            }
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "generation \(generation)")
            break
        }
        XCTAssertGreaterThan(kills, 0)
        let status = ezrun(["status", "k", "--json"], in: dir)
        XCTAssertTrue(status.stdout.contains(#""verdict":"success""#), status.stdout)
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/.ezflow/ezflow.db"), runID: "k")
        let referenced = Set(run.files.map { String($0.record.hex.prefix(2)) + "/" + $0.record.hex })
        XCTAssertEqual(referenced.count, 2)
        // Orphans (stored, never journalled) can only be copies of the same two contents.
        XCTAssertEqual(Set(Self.blobs(dir)), referenced)
        XCTAssertEqual(ezrun(["replay", "k"], in: dir).status, 0)
    }

    /// examples/build_artifacts.ezflow (after Argo's artifact-passing example) runs for
    /// real, simulates under faults, and its file comes back out byte for byte.
    func testTheArtifactPassingExampleRunsSimulatesAndHandsItsFileBack() throws {
        let dir = tempDir("files")
        let example = Repo.url("examples/build_artifacts.ezflow").path
        let r = ezrun(["run", example, "--run-id", "ex"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let banner = " _____________\n< hello world >\n -------------\n"
        XCTAssertTrue(ezrun(["logs", "ex", "print_message"], in: dir).stdout.hasSuffix(banner))
        XCTAssertEqual(ezrun(["files", "ex", "cowsay.message", "--out", "hello_world.txt"], in: dir).status, 0)
        XCTAssertEqual(read(dir + "/hello_world.txt"), banner)
        XCTAssertEqual(ezrun(["replay", "ex"], in: dir).status, 0)
        let sim = ezrun(["simulate", example, "--seed", "2026", "--runs", "200",
                         "--faults", "runner:crash=0.1;store:fail=0.05;completion:duplicate=0.2,delay=x5;clock:jump=600000"], in: dir)
        XCTAssertEqual(sim.status, 0, sim.stdout + sim.stderr)
    }
}
