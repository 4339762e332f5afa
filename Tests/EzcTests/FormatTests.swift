import EzflowTestSupport
import Foundation
import XCTest

/// `ezc check --format json|sarif|github`, `--deny-warnings` and `--color`, as a CI
/// job or an editor sees them. The fixture has exactly one error: `after: [nope]` at
/// line 10, columns 13..<17.
final class FormatTests: XCTestCase {
    var dir: TempDir!

    override func setUp() {
        dir = TempDir("ezc-format")
        dir.write("unknown_after.ezflow", cleanWorkflow.replacingOccurrences(of: "after: [a]", with: "after: [nope]"))
        dir.write("clean.ezflow", cleanWorkflow)
        dir.write("typo_after.ezflow", cleanWorkflow.replacingOccurrences(of: "after: [a]", with: "after: [aa]"))
        dir.write("warnings_only.ezflow", cleanWorkflow.replacingOccurrences(
            of: "workflow w {\n", with: "workflow w {\n  input unused_one: string = \"x\"\n"))
    }

    override func tearDown() { dir.remove() }

    func check(_ args: [String]) -> EzcRun { runEzc(["check"] + args, cwd: dir.url) }

    func testFixturesAreWhatTheTestsAssume() {
        XCTAssertEqual(check(["clean.ezflow"]).status, 0)
        let r = check(["--color", "never", "unknown_after.ezflow"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(diagnosticCodes(r.stderr), ["E0200"], r.stderr)
        XCTAssertTrue(r.stderr.contains("unknown_after.ezflow:9:13"), r.stderr)
    }

    func testJSON() throws {
        let r = check(["--format", "json", "unknown_after.ezflow"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr, "", "json goes to stdout only")
        XCTAssertTrue(r.stdout.hasSuffix("}\n"), r.stdout)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(doc["version"] as? Int, 1)
        XCTAssertEqual(doc["errors"] as? Int, 1)
        XCTAssertEqual(doc["warnings"] as? Int, 0)
        let diags = try XCTUnwrap(doc["diagnostics"] as? [[String: Any]])
        XCTAssertEqual(diags.count, 1, r.stdout)
        let d = try XCTUnwrap(diags.first)
        XCTAssertEqual(d["code"] as? String, "E0200")
        XCTAssertEqual(d["severity"] as? String, "error")
        XCTAssertEqual(d["file"] as? String, "unknown_after.ezflow")
        XCTAssertEqual(d["line"] as? Int, 9)
        XCTAssertEqual(d["column"] as? Int, 13)
        XCTAssertEqual(d["end_line"] as? Int, 9)
        XCTAssertEqual(d["end_column"] as? Int, 17)
        XCTAssertEqual(d["message"] as? String, "cannot find task `nope` in this workflow")
        XCTAssertTrue(d.keys.contains("help"), "every key is always present")
        let labels = try XCTUnwrap(d["labels"] as? [[String: Any]])
        XCTAssertEqual(labels.first?["primary"] as? Bool, true)
        XCTAssertEqual(labels.first?["line"] as? Int, 9)
        XCTAssertEqual(labels.first?["column"] as? Int, 13)

        // A clean file is an empty, still well-formed document.
        let clean = check(["--format", "json", "clean.ezflow"])
        XCTAssertEqual(clean.status, 0)
        let cdoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [String: Any], clean.stdout)
        XCTAssertEqual((cdoc["diagnostics"] as? [Any])?.count, 0)
        XCTAssertEqual(cdoc["errors"] as? Int, 0)
    }

    func testSARIFShapeAndSchema() throws {
        let r = check(["--format", "sarif", "unknown_after.ezflow"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(doc["version"] as? String, "2.1.0")
        let run = try XCTUnwrap((doc["runs"] as? [[String: Any]])?.first)
        let results = try XCTUnwrap(run["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 1)
        let res = try XCTUnwrap(results.first)
        XCTAssertEqual(res["ruleId"] as? String, "E0200")
        XCTAssertEqual(res["level"] as? String, "error")
        let loc = try XCTUnwrap((res["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
        XCTAssertEqual((loc["artifactLocation"] as? [String: Any])?["uri"] as? String, "unknown_after.ezflow")
        let region = try XCTUnwrap(loc["region"] as? [String: Any])
        XCTAssertEqual(region["startLine"] as? Int, 9)
        XCTAssertEqual(region["startColumn"] as? Int, 13)
        XCTAssertEqual(region["endColumn"] as? Int, 17)
        let driver = try XCTUnwrap((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        XCTAssertEqual(driver["name"] as? String, "ezc")

        try validateSARIF([
            "unknown_after": r.stdout,
            "clean": check(["--format", "sarif", "clean.ezflow"]).stdout,
            "warnings_only": check(["--format", "sarif", "warnings_only.ezflow"]).stdout,
        ])
    }

    /// A "did you mean" is a fix in JSON (range, offsets, replacement) and in SARIF
    /// (`fixes`, valid against the schema); applying it gives a clean file.
    func testFixesInJSONAndSARIF() throws {
        let json = check(["--format", "json", "typo_after.ezflow"])
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        let d = try XCTUnwrap((doc["diagnostics"] as? [[String: Any]])?.first)
        XCTAssertEqual(d["help"] as? String, "did you mean `a`?")
        let fix = try XCTUnwrap((d["fixes"] as? [[String: Any]])?.first)
        XCTAssertEqual(fix["title"] as? String, "replace with `a`")
        let edit = try XCTUnwrap((fix["edits"] as? [[String: Any]])?.first)
        XCTAssertEqual(edit["replacement"] as? String, "a")
        XCTAssertEqual(edit["line"] as? Int, 9)
        XCTAssertEqual(edit["column"] as? Int, 13)
        let source = try Data(contentsOf: dir.url.appendingPathComponent("typo_after.ezflow"))
        let (lo, hi) = (try XCTUnwrap(edit["start_offset"] as? Int), try XCTUnwrap(edit["end_offset"] as? Int))
        XCTAssertEqual(String(decoding: source[lo..<hi], as: UTF8.self), "aa")
        var fixed = [UInt8](source)
        fixed.replaceSubrange(lo..<hi, with: Array("a".utf8))
        dir.write("typo_fixed.ezflow", String(decoding: fixed, as: UTF8.self))
        XCTAssertEqual(check(["typo_fixed.ezflow"]).status, 0)

        let sarif = check(["--format", "sarif", "typo_after.ezflow"]).stdout
        XCTAssertTrue(sarif.contains("\"artifactChanges\""), sarif)
        XCTAssertTrue(sarif.contains("\"insertedContent\""), sarif)
        try validateSARIF(["typo_after": sarif])
    }

    /// Validates each document against the official SARIF 2.1.0 schema with python3's
    /// jsonschema, in one python run.
    func validateSARIF(_ documents: [String: String]) throws {
        let schema = Repo.root.appendingPathComponent("../shared/schemas/sarif-schema-2.1.0.json").standardized
        guard FileManager.default.fileExists(atPath: schema.path) else { throw XCTSkip("no SARIF schema at \(schema.path)") }
        let python = URL(fileURLWithPath: "/usr/bin/env")
        let probe = runProcess(python, ["python3", "-c", "import json, jsonschema"], timeout: 30)
        guard probe.status == 0 else { throw XCTSkip("python3 with jsonschema is not available: \(probe.stderr)") }
        let paths = documents.keys.sorted().map { dir.write("\($0).sarif", documents[$0]!).path }
        let script = """
            import json, jsonschema, sys
            v = jsonschema.Draft4Validator(json.load(open(sys.argv[1])))
            bad = 0
            for p in sys.argv[2:]:
                for e in v.iter_errors(json.load(open(p))):
                    bad += 1
                    print(p, "/".join(map(str, e.absolute_path)), e.message, file=sys.stderr)
            sys.exit(1 if bad else 0)
            """
        let r = runProcess(python, ["python3", "-c", script, schema.path] + paths, timeout: 60)
        XCTAssertEqual(r.status, 0, "SARIF does not validate:\n\(r.stderr)")
    }

    func testGitHub() {
        let r = check(["--format", "github", "unknown_after.ezflow"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.last, "", "ends with a newline")
        let commands = lines.dropLast()
        XCTAssertEqual(commands.count, 1, r.stdout)
        for l in commands { XCTAssertTrue(l.hasPrefix("::error file="), String(l)) }
        XCTAssertTrue(r.stdout.hasPrefix(
            "::error file=unknown_after.ezflow,line=9,col=13,endLine=9,endColumn=17,title=E0200::cannot find task `nope`"),
            r.stdout)

        let w = check(["--format", "github", "warnings_only.ezflow"])
        XCTAssertEqual(w.status, 0)
        XCTAssertTrue(w.stdout.hasPrefix("::warning file=warnings_only.ezflow,"), w.stdout)
        XCTAssertEqual(check(["--format", "github", "clean.ezflow"]).stdout, "")
    }

    func testDenyWarnings() {
        let plain = check(["warnings_only.ezflow"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(diagnosticCodes(plain.stderr), ["W0100"], plain.stderr)
        let denied = check(["--deny-warnings", "warnings_only.ezflow"])
        XCTAssertEqual(denied.status, 1, denied.stderr)
        XCTAssertTrue(denied.stderr.contains("warnings_only.ezflow:7:9"), denied.stderr)
        // Order of options and files does not matter; clean stays clean.
        XCTAssertEqual(check(["warnings_only.ezflow", "--deny-warnings"]).status, 1)
        XCTAssertEqual(check(["--deny-warnings", "clean.ezflow"]).status, 0)
        // Machine formats honour it too.
        XCTAssertEqual(check(["--format", "json", "--deny-warnings", "warnings_only.ezflow"]).status, 1)
    }

    func testColor() {
        let esc = "\u{1B}["
        let always = check(["--color", "always", "unknown_after.ezflow"])
        XCTAssertEqual(always.status, 1)
        XCTAssertTrue(always.stderr.contains(esc), always.stderr)
        let never = check(["--color", "never", "unknown_after.ezflow"])
        XCTAssertEqual(never.status, 1)
        XCTAssertFalse(never.stderr.contains(esc), never.stderr)
        // auto: stderr is a pipe here, so no colour.
        XCTAssertFalse(check(["unknown_after.ezflow"]).stderr.contains(esc))
        // Machine formats never carry colour, even when asked.
        for f in ["json", "sarif", "github"] {
            let r = check(["--format", f, "--color", "always", "unknown_after.ezflow"])
            XCTAssertFalse(r.stdout.contains(esc), "\(f): \(r.stdout)")
        }
    }

    func testBadOptionValuesAreUsageErrors() {
        for args in [["--format", "xml", "clean.ezflow"], ["--color", "sometimes", "clean.ezflow"], ["--format"]] {
            let r = check(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "")
            XCTAssertTrue(r.stderr.hasPrefix("ezc check: `--"), r.stderr)
            XCTAssertTrue(r.stderr.contains("\nusage: ezc check [OPTIONS] FILE...\n"), r.stderr)
        }
    }
}
