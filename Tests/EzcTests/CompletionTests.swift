import EzflowCLI
import EzflowTestSupport
import Foundation
import XCTest

/// `TOOL completions bash|zsh|fish`, asked of the real shells: bash's completion function
/// is called as bash calls it; fish answers `complete -C`; zsh parses and loads the script.
final class CompletionTests: XCTestCase {
    func script(_ tool: String, _ shell: String) throws -> URL {
        let exe = tool == "ezc" ? ezcBinary() : Repo.executable(tool)
        let r = runProcess(exe, ["completions", shell])
        XCTAssertEqual(r.status, 0, r.stderr)
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("ezflow-\(tool)-completion-\(UUID().uuidString).\(shell)")
        try Data(r.stdout.utf8).write(to: u)
        addTeardownBlock { try? FileManager.default.removeItem(at: u) }
        return u
    }

    func shell(_ name: String) throws -> URL {
        for dir in ["/usr/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return URL(fileURLWithPath: "\(dir)/\(name)")
        }
        throw XCTSkip("\(name) is not installed (scripts/test.sh installs it)")
    }

    /// What bash offers for the command line `line` (the cursor at its end).
    func bash(_ tool: String, _ line: String, cwd: URL? = nil) throws -> [String] {
        let s = try script(tool, "bash")
        let words = line.split(separator: " ", omittingEmptySubsequences: false).map { "'\($0)'" }.joined(separator: " ")
        let program = """
            source '\(s.path)'
            COMP_WORDS=(\(words)); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE='\(line)'; COMP_POINT=${#COMP_LINE}
            _\(tool); printf '%s\\n' "${COMPREPLY[@]}"
            """
        let r = runProcess(try shell("bash"), ["--norc", "-c", program], cwd: cwd)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        return r.stdout.split(separator: "\n").map(String.init).sorted()
    }

    func testBashCompletesCommandsFlagsChoicesAndFiles() throws {
        XCTAssertEqual(try bash("ezc", "ezc ch"), ["check"])
        XCTAssertEqual(try bash("ezc", "ezc c"), ["check", "completions"])
        XCTAssertEqual(try bash("ezc", "ezc check --f"), ["--format"])
        XCTAssertEqual(try bash("ezc", "ezc check --format "), ["github", "json", "sarif", "text"])
        XCTAssertEqual(try bash("ezc", "ezc completions "), ["bash", "fish", "zsh"])
        XCTAssertEqual(try bash("ezrun", "ezrun dlq "), ["--help", "list", "retry", "show"])
        XCTAssertEqual(try bash("ezrun", "ezrun dlq list --j"), ["--json"])
        XCTAssertEqual(try bash("ezrun", "ezrun run --on-signal "), ["drain", "stop"])
        XCTAssertEqual(try bash("ezrun", "ezrun run --input "), [], "free text: nothing offered")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ezflow-compl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data().write(to: dir.appendingPathComponent("flow.ezflow"))
        XCTAssertEqual(try bash("ezc", "ezc check fl", cwd: dir), ["flow.ezflow"])
        // Hostile names are one word each, never split, globbed or run.
        for name in ["my flow.ezflow", "*", "$(touch pwned).ezflow", "-rf.ezflow"] { try Data().write(to: dir.appendingPathComponent(name)) }
        XCTAssertEqual(try bash("ezc", "ezc check my", cwd: dir), ["my flow.ezflow"])
        XCTAssertEqual(try bash("ezc", "ezc check -r", cwd: dir), [], "a dash starts a flag")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("pwned").path))
        XCTAssertEqual(try bash("ezrun", "ezrun help st"), ["status"])
    }

    func testFishCompletes() throws {
        let fish = try shell("fish")
        let s = try script("ezrun", "fish")
        func complete(_ line: String) -> [String] {
            let r = runProcess(fish, ["--no-config", "-c", "source '\(s.path)'; complete -C '\(line)'"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stdout.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }.sorted()
        }
        XCTAssertEqual(complete("ezrun sta"), ["status"])
        XCTAssertEqual(complete("ezrun dlq "), ["list", "retry", "show"])
        XCTAssertEqual(complete("ezrun run --on-signal "), ["drain", "stop"])
        XCTAssertTrue(complete("ezrun status --").contains("--json"))
        XCTAssertFalse(complete("ezrun status --").contains("--input"), "flags of another command")
    }

    func testZshLoadsTheScript() throws {
        let zsh = try shell("zsh")
        for tool in ["ezc", "ezrun", "ezbench"] {
            let s = try script(tool, "zsh")
            let syntax = runProcess(zsh, ["-n", s.path])
            XCTAssertEqual(syntax.status, 0, "\(tool): \(syntax.stderr)")
            // Loaded as compinit would from $fpath: the function is defined, no error.
            let dir = s.deletingLastPathComponent().appendingPathComponent("zfunc-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            try FileManager.default.copyItem(at: s, to: dir.appendingPathComponent("_\(tool)"))
            let load = runProcess(zsh, ["-f", "-c", "fpath=('\(dir.path)' $fpath); autoload -U compinit; compinit -u -D; autoload -U +X _\(tool) && whence -w _\(tool)"])
            XCTAssertEqual(load.status, 0, load.stderr)
            XCTAssertEqual(load.stdout, "_\(tool): function\n")
        }
    }
}
