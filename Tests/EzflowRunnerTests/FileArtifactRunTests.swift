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
}
