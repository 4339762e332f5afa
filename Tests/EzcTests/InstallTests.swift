import EzflowTestSupport
import Foundation
import XCTest

/// The tools as `make install` leaves them: scripts/test.sh installs a release build (Swift
/// runtime linked in) into a temporary prefix and names it in `EZFLOW_TEST_PREFIX`; these
/// tests run those binaries from other directories, through PATH and symlinks, with a
/// clean environment (no LD_LIBRARY_PATH, no EZFLOW_STDLIB unless a test sets it).
final class InstallTests: XCTestCase {
    var prefix = ""
    var work: TempDir!

    static let usesStd = """
        import "std/retry"

        agent sh { driver: exec, capabilities: ["shell"] }

        workflow w {
          task hello { run: "echo hello", needs: ["shell"], timeout: 1m, retry: retry.standard }
        }
        """

    override func setUpWithError() throws {
        guard let p = ProcessInfo.processInfo.environment["EZFLOW_TEST_PREFIX"], !p.isEmpty else {
            throw XCTSkip("the installed tools are tested by scripts/test.sh (make install into a temporary prefix, EZFLOW_TEST_PREFIX); run it instead of a bare `swift test`")
        }
        prefix = p
        work = TempDir("ezflow-install")
        work.write("w.ezflow", Self.usesStd)
    }

    override func tearDown() { work?.remove() }

    /// Runs `argv` (argv[0] looked up in `path`) in `cwd` with only PATH (and `env`) set.
    func runClean(_ argv: [String], path: String, env: [String: String] = [:], cwd: URL? = nil) -> (status: Int32, stdout: String, stderr: String) {
        let vars = ["PATH=\(path)"] + env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["-i"] + vars + argv, cwd: cwd ?? work.url, timeout: 120)
    }

    var systemPath: String { "/usr/bin:/bin" }

    func testCheckFindsTheStdlibThroughPATHFromAnotherDirectory() {
        let r = runClean(["ezc", "check", "w.ezflow"], path: "\(prefix)/bin:\(systemPath)")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
    }

    /// A symlink in another directory: argv[0] names the link's directory, /proc/self/exe the
    /// prefix's bin/, where ../share/ezflow/stdlib is.
    func testCheckFindsTheStdlibThroughASymlinkElsewhere() throws {
        let links = work.url.appendingPathComponent("links")
        try FileManager.default.createDirectory(at: links, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: links.path + "/ezc", withDestinationPath: prefix + "/bin/ezc")
        let direct = runClean([links.path + "/ezc", "check", "w.ezflow"], path: systemPath)
        XCTAssertEqual(direct.status, 0, direct.stderr)
        let viaPath = runClean(["ezc", "check", "w.ezflow"], path: "\(links.path):\(systemPath)")
        XCTAssertEqual(viaPath.status, 0, viaPath.stderr)
    }

    /// Never the working directory: a copy of ezc with no stdlib above it fails, even run
    /// in a directory that has a stdlib/, and says where it looked and what to do.
    func testNoStdlibBesideTheBinaryIsAClearErrorWhateverTheWorkingDirectory() throws {
        let loneDir = TempDir("ezflow-lone")
        defer { loneDir.remove() }
        let lone = loneDir.url
        try FileManager.default.copyItem(atPath: prefix + "/bin/ezc", toPath: lone.path + "/ezc")
        try FileManager.default.copyItem(atPath: prefix + "/share/ezflow/stdlib", toPath: work.url.path + "/stdlib")
        let r = runClean([lone.path + "/ezc", "check", "w.ezflow"], path: systemPath)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("error[E0206]: cannot find module `std/retry`"), r.stderr)
        XCTAssertTrue(r.stderr.contains("no standard library beside \(lone.path)/ezc (looked for share/ezflow/stdlib and stdlib/ above it); pass --stdlib DIR or set EZFLOW_STDLIB"), r.stderr)
    }

    /// `--stdlib` beats `EZFLOW_STDLIB`, which beats the installed stdlib; an empty variable
    /// counts as unset; a named directory that is not a stdlib is never skipped.
    func testStdlibPrecedenceFlagThenEnvironmentThenBesideTheBinary() throws {
        let a = work.url.appendingPathComponent("std_a"), b = work.url.appendingPathComponent("std_b")
        for (dir, preset) in [(a, "from_a"), (b, "from_b")] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data("retry \(preset) { attempts: 2 }\n".utf8).write(to: dir.appendingPathComponent("retry.ezflow"))
        }
        let uses = { (preset: String) in Self.usesStd.replacingOccurrences(of: "retry.standard", with: "retry.\(preset)") }
        work.write("a.ezflow", uses("from_a"))
        work.write("b.ezflow", uses("from_b"))
        let bin = "\(prefix)/bin:\(systemPath)"
        func status(_ file: String, flag: String? = nil, env: String? = nil) -> Int32 {
            let r = runClean(["ezc", "check", file] + (flag.map { ["--stdlib", $0] } ?? []), path: bin, env: env.map { ["EZFLOW_STDLIB": $0] } ?? [:])
            return r.status
        }
        XCTAssertEqual(status("a.ezflow", flag: a.path, env: b.path), 0, "--stdlib wins over EZFLOW_STDLIB")
        XCTAssertEqual(status("b.ezflow", flag: a.path, env: b.path), 1)
        XCTAssertEqual(status("b.ezflow", env: b.path), 0, "EZFLOW_STDLIB wins over the installed stdlib")
        XCTAssertEqual(status("w.ezflow", env: b.path), 1)
        XCTAssertEqual(status("w.ezflow", env: ""), 0, "an empty EZFLOW_STDLIB is unset")
        XCTAssertEqual(status("a.ezflow", flag: "std_a"), 0, "a relative --stdlib is read from the working directory")

        let missing = runClean(["ezc", "check", "w.ezflow", "--stdlib", "/nonexistent/std"], path: bin, env: ["EZFLOW_STDLIB": a.path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("--stdlib /nonexistent/std: no such directory"), missing.stderr)
        let empty = runClean(["ezc", "check", "w.ezflow"], path: bin, env: ["EZFLOW_STDLIB": work.url.appendingPathComponent("links-none").path])
        XCTAssertTrue(empty.stderr.contains("EZFLOW_STDLIB=\(work.url.path)/links-none: no such directory"), empty.stderr)
        let notStd = runClean(["ezc", "check", "w.ezflow", "--stdlib", prefix + "/bin"], path: bin)
        XCTAssertTrue(notStd.stderr.contains("--stdlib \(prefix)/bin: holds no standard library modules (*.ezflow)"), notStd.stderr)
        let ezrun = runClean(["ezrun", "run", "w.ezflow", "--stdlib", "/nonexistent/std"], path: bin, env: ["EZFLOW_STDLIB": a.path])
        XCTAssertEqual(ezrun.status, 2, ezrun.stderr)
        XCTAssertTrue(ezrun.stderr.contains("--stdlib /nonexistent/std: no such directory"), ezrun.stderr)
    }

    /// `ezrun run` from the prefix, through a symlink elsewhere: it compiles (stdlib found),
    /// starts the ezguard installed beside it (no warning) and runs the exec task.
    func testEzrunRunsAnExecWorkflowAndFindsEzguard() throws {
        let links = work.url.appendingPathComponent("links")
        try FileManager.default.createDirectory(at: links, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: links.path + "/ezrun", withDestinationPath: prefix + "/bin/ezrun")
        let r = runClean(["ezrun", "run", "w.ezflow", "--run-id", "installed", "--quiet"], path: "\(links.path):\(systemPath)")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("ezguard"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: work.url.path + "/.ezflow/ezflow.db"))
        let logs = runClean(["ezrun", "logs", "installed", "hello"], path: "\(prefix)/bin:\(systemPath)")
        XCTAssertEqual(logs.status, 0, logs.stderr)
        XCTAssertTrue(logs.stdout.contains("hello"), logs.stdout)
    }

    // MARK: the Swift runtime is linked in

    /// The toolchain's root (`…/usr`), from `swift` on PATH with symlinks resolved.
    func toolchainRoot() throws -> String {
        let r = runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "command -v swift"])
        let swift = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.status == 0, !swift.isEmpty else { throw XCTSkip("swift is not on PATH: cannot tell where the toolchain is") }
        return URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().path
    }

    func testNoInstalledBinaryLoadsALibraryFromTheToolchain() throws {
        let root = try toolchainRoot()
        for tool in ["ezc", "ezrun", "ezguard"] {
            let r = runProcess(URL(fileURLWithPath: "/usr/bin/ldd"), [prefix + "/bin/" + tool])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertFalse(r.stdout.contains(root), "\(tool) loads from the toolchain:\n\(r.stdout)")
            XCTAssertFalse(r.stdout.contains("libswiftCore"), r.stdout)
        }
    }

    /// The toolchain's lib/swift/linux hidden under an empty directory (a private mount
    /// namespace: `unshare -m` + a bind mount, for the child only): the installed tools
    /// still check and run, while the debug ezc (linked against that directory) cannot start.
    func testTheInstalledToolsRunWithTheToolchainHidden() throws {
        let libDir = try toolchainRoot() + "/lib/swift/linux"
        let empty = work.url.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        func hidden(_ argv: [String]) -> (status: Int32, stdout: String, stderr: String) {
            let script = "mount --bind \"$1\" \"$2\" || exit 99; shift 2; exec \"$@\""
            return runProcess(URL(fileURLWithPath: "/usr/bin/unshare"), ["-m", "/bin/sh", "-c", script, "sh", empty.path, libDir,
                                                                         "/usr/bin/env", "-i", "PATH=\(prefix)/bin:\(systemPath)"] + argv,
                              cwd: work.url, timeout: 120)
        }
        let probe = hidden(["/bin/true"])
        if probe.status != 0 { throw XCTSkip("cannot hide the toolchain here (unshare -m + mount --bind: exit \(probe.status) \(probe.stderr))") }

        let debug = hidden([Repo.executable("ezc").path, "--version"])
        XCTAssertNotEqual(debug.status, 0, "the toolchain was not hidden: a dynamically linked ezc still started")
        XCTAssertTrue(debug.stderr.contains("error while loading shared libraries"), debug.stderr)

        let check = hidden(["ezc", "check", "w.ezflow"])
        XCTAssertEqual(check.status, 0, check.stderr)
        let run = hidden(["ezrun", "run", "w.ezflow", "--run-id", "hidden", "--quiet"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertFalse(run.stderr.contains("ezguard"), run.stderr)
    }

    // MARK: install and uninstall

    /// What `make install` puts under a prefix is the documented list, and `make uninstall`
    /// removes every file of it. (A second prefix, filled by the install script's copy step
    /// from the first prefix's binaries: no second release build.)
    func testUninstallRemovesEveryFileInstallPutThere() throws {
        let other = work.url.appendingPathComponent("prefix")
        let copy = runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["PREFIX=\(other.path)", "EZ_BIN=\(prefix)/bin", "bash", "scripts/install.sh", "copy"],
                              cwd: Repo.root, timeout: 300)
        XCTAssertEqual(copy.status, 0, copy.stderr)
        let stdlib = Repo.files(in: "stdlib", ext: [".ezflow"]).map { "share/ezflow/stdlib/" + ($0 as NSString).lastPathComponent }
        // Each generated file and the command of the installed tools that writes it.
        let generated = [
            "share/bash-completion/completions/ezc": ["ezc", "completions", "bash"],
            "share/bash-completion/completions/ezrun": ["ezrun", "completions", "bash"],
            "share/zsh/site-functions/_ezc": ["ezc", "completions", "zsh"],
            "share/zsh/site-functions/_ezrun": ["ezrun", "completions", "zsh"],
            "share/fish/vendor_completions.d/ezc.fish": ["ezc", "completions", "fish"],
            "share/fish/vendor_completions.d/ezrun.fish": ["ezrun", "completions", "fish"],
            "share/man/man1/ezc.1": ["ezc", "help", "--man"],
            "share/man/man1/ezrun.1": ["ezrun", "help", "--man"],
        ]
        let expected = (["bin/ezc", "bin/ezguard", "bin/ezrun", "share/ezflow/doc/DIAGNOSTICS.md"] + stdlib + generated.keys).sorted()
        XCTAssertEqual(files(under: other), expected)
        for (file, argv) in generated {
            let printed = runClean(argv, path: "\(other.path)/bin:\(systemPath)")
            XCTAssertEqual(printed.status, 0, printed.stderr)
            XCTAssertFalse(printed.stdout.isEmpty, file)
            XCTAssertEqual(try String(contentsOfFile: other.path + "/" + file, encoding: .utf8), printed.stdout, file)
        }
        XCTAssertTrue(try String(contentsOfFile: other.path + "/share/man/man1/ezc.1", encoding: .utf8).contains(".TH"), "not a man page")

        let uninstall = runProcess(URL(fileURLWithPath: "/usr/bin/make"), ["-s", "uninstall", "PREFIX=\(other.path)"], cwd: Repo.root)
        XCTAssertEqual(uninstall.status, 0, uninstall.stderr)
        XCTAssertEqual(files(under: other), [], "left behind by make uninstall")
    }

    /// Every file or symlink under `dir`, relative to it.
    func files(under dir: URL) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir.path) else { return [] }
        return e.compactMap { $0 as? String }.filter {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir.path + "/" + $0, isDirectory: &isDir) && !isDir.boolValue
        }.sorted()
    }
}
