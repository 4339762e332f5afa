import EzflowTestSupport
import Foundation
import XCTest

/// Hostile inputs through the built `ezc check` (STYLE.md habit 10): whatever the bytes,
/// a readable file ends in exit 0 or 1 within the bound, with nothing on stdout, no crash
/// output, and a `file:line:col` on stderr when it fails. Each input is written to a
/// fresh temp directory and checked with that directory as the working directory, so
/// diagnostics show the bare file name.
final class RobustnessTests: XCTestCase {
    /// Seconds one `ezc check` may take.
    let bound = 20.0
    var dir: TempDir!

    override func setUp() { dir = TempDir("ezc-robust") }
    override func tearDown() { dir.remove() }

    /// Writes `bytes` as `name`, runs `ezc check name`, asserts the habit-10 invariants.
    @discardableResult
    func check(_ name: String, _ bytes: [UInt8], context: String = "",
               file: StaticString = #filePath, line: UInt = #line) -> EzcRun {
        dir.write(name, bytes)
        let r = runEzc(["check", name], cwd: dir.url, timeout: bound)
        assertUserFacing(r, names: [name], timeout: bound, context: context, file: file, line: line)
        return r
    }

    // (a)
    func testOneMegabyteOfRandomBytes() {
        for seed: UInt64 in [0xE2F1_0001, 0xE2F1_0002] {
            var rng = SplitMix64(seed: seed)
            check("random.ezflow", rng.bytes(1 << 20), context: "seed 0x\(String(seed, radix: 16))")
        }
    }

    // (b)
    func testInvalidUTF8InAValidWorkflowIsE0108() {
        // Line 7 is `  task a { run: "echo a" }`; the `a` at column 23 becomes C3 28 20 FF.
        var bytes = Array(cleanWorkflow.utf8)
        let needle = Array("run: \"echo a\"".utf8)
        let at = (0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle }!
        bytes.replaceSubrange((at + 11)..<(at + 12), with: [0xC3, 0x28, 0x20, 0xFF])
        let r = check("bad_utf8.ezflow", bytes)
        XCTAssertEqual(r.status, 1, r.stderrHead)
        XCTAssertTrue(diagnosticCodes(r.stderr).contains("E0108"), r.stderrHead)
        XCTAssertTrue(r.stderr.contains("bad_utf8.ezflow:7:23"), "E0108 should point at the first bad byte\n\(r.stderrHead)")

        // A lone 0xFF between two members, outside any string.
        var lone = Array(cleanWorkflow.utf8)
        lone.insert(0xFF, at: at)
        let r2 = check("lone_ff.ezflow", lone)
        XCTAssertEqual(r2.status, 1, r2.stderrHead)
        XCTAssertTrue(diagnosticCodes(r2.stderr).contains("E0108"), r2.stderrHead)
    }

    // (c) A realistic large file: a valid workflow whose body is padded with comment
    // lines (as a generator or a pasted log would). 50 MB (EZFLOW_BIG_FILE_MB overrides);
    // a debug `ezc` takes about 10 s for it on a loaded 2-core box, a release one < 1 s.
    func testLargeFileEndsWithinTheBound() {
        let megabytes = ProcessInfo.processInfo.environment["EZFLOW_BIG_FILE_MB"].flatMap(Int.init) ?? 50
        var bytes = Array(cleanWorkflow.dropLast(2).utf8)  // open workflow body: drop "}\n"
        precondition(bytes.last == UInt8(ascii: "\n"))
        let pad = Array(("  # " + String(repeating: "a", count: 75) + "\n").utf8)
        bytes.reserveCapacity(megabytes << 20 + 100)
        while bytes.count < megabytes << 20 { bytes += pad }
        bytes += Array("}\n".utf8)
        let r = check("large.ezflow", bytes, context: "\(megabytes) MB")
        XCTAssertEqual(r.status, 0, "a valid workflow padded with comments is clean\n\(r.stderrHead)")
        print("large file: \(megabytes) MB checked in \(String(format: "%.2f", r.seconds)) s by \(ezcBinary().path)")
    }

    // (c) Files over 64 MiB are refused by design (E0107), within the same bound.
    func testFileOver64MiBIsE0107() {
        var bytes = Array(cleanWorkflow.utf8)
        bytes += Array("# ".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 65 << 20) + [UInt8(ascii: "\n")]
        let r = check("huge.ezflow", bytes)
        XCTAssertEqual(r.status, 1, r.stderrHead)
        XCTAssertEqual(diagnosticCodes(r.stderr), ["E0107"], r.stderrHead)
        XCTAssertTrue(r.stderr.contains("huge.ezflow:1:1"), r.stderrHead)
    }

    /// "Larger files are refused outright (E0107)" (Parser.fileBytesMax): a 200 MiB file
    /// (sparse, so cheap to make) should be refused from its size, without reading it,
    /// indexing its lines or echoing it.
    func testVeryLargeFileIsRefusedFromItsSize() throws {
        let u = dir.url.appendingPathComponent("sparse.ezflow")
        FileManager.default.createFile(atPath: u.path, contents: Data(cleanWorkflow.utf8))
        let fh = try FileHandle(forWritingTo: u)
        try fh.truncate(atOffset: 200 << 20)
        try fh.close()
        let r = runEzc(["check", "sparse.ezflow"], cwd: dir.url, timeout: 5)
        assertUserFacing(r, names: ["sparse.ezflow"], timeout: 5)
        XCTAssertEqual(r.status, 1, r.stderrHead)
        XCTAssertEqual(diagnosticCodes(r.stderr), ["E0107"], r.stderrHead)
        XCTAssertLessThan(r.stderr.utf8.count, 4_096, "stderr should not echo the file")
    }

    /// A diagnostic's source excerpt shows the line, but a 1 MB line should not put
    /// megabytes on the terminal (minified or generated files have such lines).
    func testExcerptOfAVeryLongLineIsBounded() {
        let text = "workflow w { nope: 1 " + String(repeating: " ", count: 1 << 20) + "}\n"
        let r = check("one_line.ezflow", Array(text.utf8))
        XCTAssertEqual(r.status, 1, r.stderrHead)
        XCTAssertLessThan(r.stderr.utf8.count, 64 << 10, "stderr is \(r.stderr.utf8.count) bytes for one diagnostic")
    }

    /// Bytes from the file must not reach the terminal as control sequences: an ESC or
    /// BEL in a source line would otherwise retitle, clear or recolour the user's terminal.
    func testControlCharactersInSourceAreNotEchoedRaw() {
        let text = cleanWorkflow.replacingOccurrences(
            of: "run: \"echo a\"", with: "run: \"echo a\" nope: \u{1B}]0;pwned\u{07}\u{1B}[2J\u{1B}[31m")
        let r = runEzcChecked("escape.ezflow", Array(text.utf8), ["--color", "never"])
        XCTAssertEqual(r.status, 1, r.stderrHead)
        XCTAssertFalse(r.stderr.contains("\u{1B}"), "raw ESC on stderr with --color never:\n\(r.stderrHead.debugDescription)")
        XCTAssertFalse(r.stderr.contains("\u{07}"), "raw BEL on stderr")
    }

    func runEzcChecked(_ name: String, _ bytes: [UInt8], _ options: [String]) -> EzcRun {
        dir.write(name, bytes)
        let r = runEzc(["check"] + options + [name], cwd: dir.url, timeout: bound)
        assertUserFacing(r, names: [name], timeout: bound)
        return r
    }

    // (d)
    func testTenThousandNestedBracketsIsE0106() {
        let n = 10_000
        let text = "workflow w {\n  task a {\n    run: \"x\"\n    tags: " + String(repeating: "[", count: n)
            + String(repeating: "]", count: n) + "\n  }\n}\n"
        let r = check("brackets.ezflow", Array(text.utf8))
        XCTAssertEqual(r.status, 1, r.stderrHead)
        XCTAssertTrue(diagnosticCodes(r.stderr).contains("E0106"), r.stderrHead)
    }

    // (d)
    func testTenThousandNestedBlocksIsE0106() {
        let n = 10_000
        let text = "workflow w {\n" + String(repeating: "group g {\n", count: n) + String(repeating: "}\n", count: n) + "}\n"
        let r = check("blocks.ezflow", Array(text.utf8))
        XCTAssertEqual(r.status, 1, r.stderrHead)
        XCTAssertTrue(diagnosticCodes(r.stderr).contains("E0106"), r.stderrHead)
        // An unclosed run of braces too.
        let r2 = check("open_blocks.ezflow", Array(("workflow w {\n" + String(repeating: "group g {", count: n)).utf8))
        XCTAssertEqual(r2.status, 1, r2.stderrHead)
        XCTAssertTrue(diagnosticCodes(r2.stderr).contains("E0106"), r2.stderrHead)
    }

    /// Long flat chains: the parser caps *nesting* at 128, but `1 + 1 + ... + 1`,
    /// `a ?? a ?? ...`, `x.a.a.a...`, `x[0][0]...` and `f(1)(1)...` are parsed with
    /// loops into left-deep trees of the same depth, which later passes walk
    /// recursively. Nobody writes these by hand; generators and mutation do.
    func testLongOperatorAndPostfixChainsDoNotCrash() {
        let n = 50_000
        let chains: [(String, String)] = [
            ("sum", Array(repeating: "1", count: n).joined(separator: " + ")),
            ("concat", Array(repeating: "\"a\"", count: n).joined(separator: " + ")),
            ("coalesce", Array(repeating: "inputs.i", count: n).joined(separator: " ?? ")),
            ("and", Array(repeating: "true", count: n).joined(separator: " && ")),
            ("member", "inputs.i" + String(repeating: ".a", count: n)),
            ("index", "inputs.i" + String(repeating: "[0]", count: n)),
            ("call", "len" + String(repeating: "(1)", count: n)),
        ]
        for (name, expr) in chains {
            let text = cleanWorkflow.replacingOccurrences(
                of: "workflow w {\n", with: "workflow w {\n  input i: int = 1\n")
                .replacingOccurrences(of: "run: \"echo a\"", with: "run: \"echo a\"\n    priority: \(expr)")
            check("chain_\(name).ezflow", Array(text.utf8), context: "\(n)-term `\(name)` chain")
        }
    }

    /// Small malformed inputs a user types every day.
    func testTruncatedAndOddInputs() {
        let cases: [(String, [UInt8])] = [
            ("unterminated_string", Array("workflow w {\n  task a { run: \"echo\n}\n".utf8)),
            ("unterminated_triple", Array("workflow w {\n  task a { prompt: \"\"\"\n hello\n".utf8)),
            ("unterminated_interp", Array("workflow w {\n  task a { run: \"${inputs.x\" }\n}\n".utf8)),
            ("nested_interp", Array(("workflow w {\n  task a { run: \"" + String(repeating: "${\"", count: 5_000) + "\" }\n}\n").utf8)),
            ("lone_dollar", Array("workflow w {\n  budget { money: $ }\n}\n".utf8)),
            ("closing_only", Array("}\n}\n]\n".utf8)),
            ("nul_bytes", [UInt8](repeating: 0, count: 4096)),
            ("bom", [0xEF, 0xBB, 0xBF] + Array(cleanWorkflow.utf8)),
            ("crlf", Array(cleanWorkflow.replacingOccurrences(of: "\n", with: "\r\n").utf8)),
            ("cr_only", Array(cleanWorkflow.replacingOccurrences(of: "\n", with: "\r").utf8)),
            ("huge_number", Array("workflow w {\n  deadline: 99999999999999999999999999999999h\n  max_parallel: 99999999999999999999\n}\n".utf8)),
            ("huge_money", Array("workflow w {\n  budget { money: $99999999999999999999999.9999999999 }\n}\n".utf8)),
            ("only_import", Array("import".utf8)),
            ("long_line", Array(("# " + String(repeating: "é", count: 200_000) + "\nworkflow").utf8)),
        ]
        for (name, bytes) in cases { check("\(name).ezflow", bytes, context: name) }
    }

    // (e)
    func testImportCycleIsE0207() {
        dir.write("a.ezflow", "import \"./b.ezflow\"\n\nagent x {\n  driver: exec\n  capabilities: [\"s\"]\n}\n")
        dir.write("b.ezflow", "import \"./a.ezflow\"\n\nagent y {\n  driver: exec\n  capabilities: [\"s\"]\n}\n")
        let r = runEzc(["check", "a.ezflow"], cwd: dir.url, timeout: bound)
        assertUserFacing(r, names: ["a.ezflow", "b.ezflow"], timeout: bound)
        XCTAssertEqual(r.status, 1, r.stderrHead)
        XCTAssertTrue(diagnosticCodes(r.stderr).contains("E0207"), r.stderrHead)
        // Both roots on one command line: still one cycle report, still ends.
        let r2 = runEzc(["check", "a.ezflow", "b.ezflow"], cwd: dir.url, timeout: bound)
        assertUserFacing(r2, names: ["a.ezflow", "b.ezflow"], timeout: bound)
        XCTAssertEqual(r2.status, 1, r2.stderrHead)
        XCTAssertTrue(diagnosticCodes(r2.stderr).contains("E0207"), r2.stderrHead)
    }

    // (f)
    func testMissingImportIsE0206() {
        dir.write("main.ezflow", "import \"./nowhere.ezflow\"\n" + cleanWorkflow)
        let r = runEzc(["check", "main.ezflow"], cwd: dir.url, timeout: bound)
        assertUserFacing(r, names: ["main.ezflow"], timeout: bound)
        XCTAssertEqual(r.status, 1, r.stderrHead)
        XCTAssertTrue(diagnosticCodes(r.stderr).contains("E0206"), r.stderrHead)
        XCTAssertTrue(r.stderr.contains("main.ezflow:1:8"), r.stderrHead)
    }

    // (g)
    func testEmptyFileIsClean() {
        let r = check("empty.ezflow", [])
        XCTAssertEqual(r.status, 0, r.stderrHead)
        XCTAssertEqual(r.stderr, "")
    }

    // (h)
    func testDirectoryIsUsageError() {
        let sub = dir.url.appendingPathComponent("adir.ezflow")
        try! FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        let r = runEzc(["check", "adir.ezflow"], cwd: dir.url, timeout: bound)
        XCTAssertEqual(r.status, 2, r.stderrHead)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.hasPrefix("ezc: error: cannot read `adir.ezflow`: is a directory"), r.stderrHead)
        for m in crashMarkers { XCTAssertFalse(r.stderr.contains(m)) }
    }

    // (i) Only regular files are read: a pipe, a device or a symlink to one would block or
    // never end (found driving `ezc lsp`: `import "zero.ezflow"` → /dev/zero grew 1.7 GB/s).
    func testAnImportOfADeviceOrAPipeIsRefusedNotRead() throws {
        XCTAssertEqual(mkfifo(dir.url.appendingPathComponent("fifo.ezflow").path, 0o600), 0)
        try FileManager.default.createSymbolicLink(atPath: dir.url.appendingPathComponent("zero.ezflow").path, withDestinationPath: "/dev/zero")
        for target in ["fifo", "zero"] {
            let main = dir.url.appendingPathComponent("imports_\(target).ezflow")
            try "import \"\(target).ezflow\" as lib\n".write(to: main, atomically: true, encoding: .utf8)
            let r = runEzc(["check", "imports_\(target).ezflow"], cwd: dir.url, timeout: bound)
            XCTAssertEqual(r.status, 1, "\(target): \(r.stderrHead)")
            XCTAssertTrue(r.stderr.contains("E0206") && r.stderr.contains("not a regular file (a device, a pipe or a socket)"), "\(target): \(r.stderrHead)")
        }
        let root = runEzc(["check", "fifo.ezflow"], cwd: dir.url, timeout: bound)
        XCTAssertEqual(root.status, 1, root.stderrHead)
        XCTAssertTrue(root.stderr.contains("error[E0206]: cannot read `fifo.ezflow`: not a regular file"), root.stderrHead)
    }
}
