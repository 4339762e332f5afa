// Store errors as `ezrun` users meet them, provoked for real through the built binary:
// another user's read-only store, a locked store, a damaged file, a missing one, one a
// newer ezrun wrote. Every message is one line, names no SQL, says what to do next, and
// comes with the documented exit status.
@testable import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class StoreErrorTests: XCTestCase {
    static let sqlWords = ["PRAGMA", "SELECT", "INSERT", "UPDATE", "CREATE", "DELETE", "BEGIN", "COMMIT", "sqlite3_", "sqlite code", "user_version"]

    /// A directory holding a finished `hello` run `r1` in `.ezflow/ezflow.db`.
    func finishedRun() -> String {
        let dir = tempDir("storeerr")
        write(RunCLITests.hello, to: dir + "/hello.ezflow")
        let r = ezrun(["run", "hello.ezflow", "--run-id", "r1", "--seed", "7", "--quiet"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        return dir
    }

    /// `r`'s stderr is one line with no SQL in it and a next step after `; `.
    func assertPlain(_ r: (status: Int32, stdout: String, stderr: String), _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "\(what): one line: \(r.stderr)", file: file, line: line)
        for word in Self.sqlWords {
            XCTAssertFalse(r.stderr.localizedCaseInsensitiveContains(word), "\(what): names `\(word)`: \(r.stderr)", file: file, line: line)
        }
        XCTAssertTrue(r.stderr.contains("; "), "\(what): no next step: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", what, file: file, line: line)
    }

    /// Each of `commands` on the store `db` exits 5 with exactly `stderr`, a plain line.
    func assertRefused(_ commands: [[String]], db: String, in dir: String, _ stderr: String, file: StaticString = #filePath, line: UInt = #line) {
        for command in commands {
            let r = ezrun(command + ["--db", db], in: dir)
            XCTAssertEqual(r.status, 5, "\(command): \(r.stderr)", file: file, line: line)
            XCTAssertEqual(r.stderr, stderr, "\(command)", file: file, line: line)
            assertPlain(r, "\(command)", file: file, line: line)
        }
    }

    /// Runs `ezrun` as the unprivileged user `nobody` (tests run as root, which ignores
    /// file permissions); as ourselves when we are not root.
    func asAnotherUser(_ args: [String], in dir: String) throws -> (status: Int32, stdout: String, stderr: String) {
        guard getuid() == 0 else { return ezrun(args, in: dir) }
        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv) else {
            throw XCTSkip("running as root and \(setpriv) is missing: no other user to read the store as")
        }
        let prefix = ["--reuid=65534", "--regid=65534", "--clear-groups", Repo.executable("ezrun").path]
        let probe = runProcess(URL(fileURLWithPath: setpriv), prefix + ["--help"], cwd: URL(fileURLWithPath: dir))
        guard probe.status == 0 else {
            throw XCTSkip("user 65534 cannot run \(Repo.executable("ezrun").path) (\(probe.stderr)): no other user to read the store as")
        }
        return runProcess(URL(fileURLWithPath: setpriv), prefix + args, cwd: URL(fileURLWithPath: dir))
    }

    static let readingCommands = [["runs"], ["status", "r1"], ["status", "r1", "--json"], ["logs", "r1"], ["logs", "r1", "greet"],
                                  ["dlq", "list"], ["dlq", "show", "r1", "greet"], ["replay", "r1", "--db", ".ezflow/ezflow.db"]]

    /// The issue's case: runs, status, logs, dlq and replay of a store in a directory this
    /// user can read but not write answer as they do for the store's owner.
    func testAnotherUsersStoreCanBeInspected() throws {
        let dir = finishedRun()
        let db = dir + "/.ezflow/ezflow.db"
        let before = try FileManager.default.attributesOfItem(atPath: db)[.modificationDate] as? Date
        for command in Self.readingCommands {
            let owner = ezrun(command, in: dir)
            let other = try asAnotherUser(command, in: dir)
            XCTAssertEqual(other.status, owner.status, "\(command): \(other.stderr)")
            XCTAssertEqual(other.stdout, owner.stdout, "\(command)")
            XCTAssertEqual(other.stderr, owner.stderr, "\(command)")
            XCTAssertFalse(other.stderr.contains("readonly"), other.stderr)
        }
        XCTAssertEqual(ezrun(["runs"], in: dir).stdout.split(separator: "\n").count, 2, "the run is listed")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: db)[.modificationDate] as? Date, before, "reading wrote nothing")
    }

    /// A store another ezrun is writing right now can be read by another user too.
    func testAStoreBeingWrittenCanBeInspectedByAnotherUser() throws {
        let dir = tempDir("storeerr")
        write("""
        agent sh { driver: exec, capabilities: ["shell"] }
        workflow slow {
          task a { run: "true" }
          task b { after: [a] run: "sleep 3" }
        }
        """, to: dir + "/slow.ezflow")
        _ = try asAnotherUser(["--help"], in: dir)
        let writer = Process()
        writer.executableURL = Repo.executable("ezrun")
        writer.arguments = ["run", "slow.ezflow", "--run-id", "s1", "--quiet"]
        writer.currentDirectoryURL = URL(fileURLWithPath: dir)
        try writer.run()
        defer { writer.waitUntilExit() }
        var seen = ""
        let end = Date().addingTimeInterval(2.5)
        while Date() < end && !seen.contains("b     running") {
            usleep(100_000)
            seen = try asAnotherUser(["status", "s1"], in: dir).stdout
        }
        XCTAssertTrue(seen.contains("status    running"), seen)
        XCTAssertTrue(seen.contains("b     running"), seen)
        writer.waitUntilExit()
        let done = try asAnotherUser(["status", "s1"], in: dir)
        XCTAssertEqual(done.status, 0, done.stderr)
        XCTAssertTrue(done.stdout.contains("status    finished (success)"), done.stdout)
    }

    static let readOnlyWrite = "io error: this user cannot write it (the file or its directory is read-only); run the command as a user who can write it, "
        + "or use another store (--db PATH or EZFLOW_DB); reading commands (runs, status, logs) work read-only\n"

    /// Writing commands on a store this user cannot write stop before doing anything, and say so.
    func testWritingCommandsOnAReadOnlyStoreSayWhatToDo() throws {
        let dir = finishedRun()
        for command in [["cancel", "r1"], ["run", "hello.ezflow", "--quiet"], ["resume", "r1"], ["dlq", "retry", "r1", "greet"]] {
            let r = try asAnotherUser(command, in: dir)
            XCTAssertEqual(r.status, 5, "\(command): \(r.stderr)")
            XCTAssertEqual(r.stderr, "ezrun: ezflow store .ezflow/ezflow.db: " + Self.readOnlyWrite, "\(command)")
            assertPlain(r, "\(command)")
        }
        XCTAssertEqual(ezrun(["runs"], in: dir).stdout.split(separator: "\n").count, 2, "no run was added")
    }

    func testAMissingStoreForAReadingCommandNamesThePath() {
        let dir = tempDir("storeerr")
        for command in Self.readingCommands {
            let r = ezrun(command.filter { $0 != ".ezflow/ezflow.db" && $0 != "--db" } + ["--db", "nope/ez.db"], in: dir)
            XCTAssertEqual(r.status, 2, "\(command): \(r.stderr)")
            XCTAssertEqual(r.stderr, "ezrun: no store at nope/ez.db; pass --db PATH or set EZFLOW_DB\n", "\(command)")
            assertPlain(r, "\(command)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/nope"), "a reading command creates nothing")
    }

    func testALockedStoreSaysAnotherProcessHoldsIt() throws {
        let dir = finishedRun()
        let holder = try Connection(path: dir + "/.ezflow/ezflow.db", flags: 2 /* SQLITE_OPEN_READWRITE */)
        try holder.exec("BEGIN IMMEDIATE; DELETE FROM audit WHERE 0")
        defer { holder.close() }
        let r = ezrun(["cancel", "r1"], in: dir)
        XCTAssertEqual(r.status, 5, r.stderr)
        XCTAssertEqual(r.stderr, "ezrun: ezflow store .ezflow/ezflow.db: busy error: it is locked by another process; another ezrun (or another program) holds it: "
                       + "wait for it to finish, or use another store (--db PATH or EZFLOW_DB)\n")
        assertPlain(r, "locked")
        // A reader is not held up by a writer (WAL).
        XCTAssertEqual(ezrun(["status", "r1"], in: dir).status, 0)
    }

    func testADamagedFileIsCorruptWithAWayOut() throws {
        let dir = tempDir("storeerr")
        write(RunCLITests.hello, to: dir + "/hello.ezflow")
        var garbage = Array("SQLite format 3\0".utf8)
        garbage += (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/bad.db", contents: Data(garbage)))
        assertRefused([["runs"], ["status", "r1"], ["logs", "r1"], ["run", "hello.ezflow", "--quiet"], ["cancel", "r1"]], db: "bad.db", in: dir,
                      "ezrun: ezflow store bad.db: corrupt error: the file is damaged or is not a database; "
                      + "restore it from a backup, or start afresh with another store (--db PATH or EZFLOW_DB)\n")
    }

    func testAStoreOfANewerEzrunAsksForAnUpgrade() throws {
        let dir = finishedRun()
        try DurableStore.rawExec(path: dir + "/.ezflow/ezflow.db", sql: "PRAGMA user_version = 99")
        assertRefused([["runs"], ["status", "r1"], ["cancel", "r1"], ["resume", "r1"]], db: ".ezflow/ezflow.db", in: dir,
                      "ezrun: ezflow store .ezflow/ezflow.db: schema error: a newer ezrun wrote it (store version 99; this ezrun reads up to "
                      + "\(DurableStore.schemaVersion)); upgrade ezrun to read it, or use another store (--db PATH or EZFLOW_DB)\n")
    }

    func testAnotherProgramsDatabaseIsNotTakenForAStore() throws {
        let dir = tempDir("storeerr")
        try DurableStore.rawExec(path: dir + "/other.db", sql: "CREATE TABLE t(x)")
        assertRefused([["runs"], ["cancel", "r1"]], db: "other.db", in: dir,
                      "ezrun: ezflow store other.db: schema error: not an ezflow store (a database with tables of its own); "
                      + "pass the path of an ezflow store (--db PATH or EZFLOW_DB)\n")
    }

    /// A store an older ezrun wrote (no -wal and -shm kept, an older schema): another user
    /// is told what to ask its owner; the owner's reading command upgrades it and keeps
    /// them, and then the other user can read it.
    func testAnOlderStoreIsUpgradedByItsOwnerAndExplainedToOthers() throws {
        let dir = finishedRun()
        let db = dir + "/.ezflow/ezflow.db"
        // rawExec's plain connection removes -wal and -shm on close, as an older ezrun did.
        try DurableStore.rawExec(path: db, sql: """
            DROP TABLE dead_letters; DROP TABLE attempt_processes; DROP INDEX work_items_queued; ALTER TABLE work_items DROP COLUMN queue;
            ALTER TABLE work_items DROP COLUMN priority; ALTER TABLE work_items DROP COLUMN payload;
            CREATE INDEX work_items_queued ON work_items(id) WHERE state = 0 AND cancelled = 0; PRAGMA user_version = 4
            """)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db + "-shm"))
        let other = try asAnotherUser(["runs"], in: dir)
        XCTAssertEqual(other.status, 5, other.stderr)
        XCTAssertEqual(other.stderr, "ezrun: ezflow store .ezflow/ezflow.db: io error: this user cannot read it: it is another user's store and its -wal and "
                       + "-shm files are missing; ask its owner to run `ezrun runs --db PATH` with this ezrun once, which keeps them, or read a copy\n")
        assertPlain(other, "older, another user")
        let owner = ezrun(["runs"], in: dir)
        XCTAssertEqual(owner.status, 0, owner.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: db + "-shm"))
        let after = try asAnotherUser(["status", "r1"], in: dir)
        XCTAssertEqual(after.status, 0, after.stderr)
        XCTAssertEqual(try DurableStore(path: db, options: StoreOptions(create: false, readOnly: true)).run("r1")?.runID, "r1", "upgraded")
    }

    /// A full disk, for real: the store copied onto a 1 MiB tmpfs (mounted in a private
    /// mount namespace, so nothing outside this test sees it) that is then filled.
    func testAFullDiskSaysToFreeSpaceAndReadingStillWorks() throws {
        let dir = finishedRun()
        let tiny = dir + "/tiny"
        try FileManager.default.createDirectory(atPath: tiny, withIntermediateDirectories: true)
        let script = """
            mount -t tmpfs -o size=1m tmpfs "$1" || exit 99
            cp .ezflow/ezflow.db "$1/ez.db" && "$2" runs --db "$1/ez.db" > /dev/null || exit 98
            dd if=/dev/zero of="$1/fill" bs=4k 2> /dev/null
            "$2" cancel r1 --db "$1/ez.db"; echo "cancel $?" >&2
            "$2" status r1 --db "$1/ez.db" > /dev/null; echo "status $?" >&2
            """
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else {
            throw XCTSkip("needs root and /usr/bin/unshare to mount a small file system in a private namespace")
        }
        let r = runProcess(URL(fileURLWithPath: "/usr/bin/unshare"), ["-m", "/bin/sh", "-c", script, "sh", tiny, Repo.executable("ezrun").path],
                           cwd: URL(fileURLWithPath: dir))
        if r.status == 99 { throw XCTSkip("cannot mount a tmpfs here: \(r.stderr)") }
        XCTAssertEqual(r.stderr, "ezrun: ezflow store \(tiny)/ez.db: io error: the disk is full; free some space, then run the command again "
                       + "(`ezrun resume RUN` continues a run where it stopped)\ncancel 5\nstatus 0\n")
        assertPlain((5, "", String(r.stderr.prefix { $0 != "\n" }) + "\n"), "disk full")
    }
}
