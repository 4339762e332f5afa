import EzflowDiagnostics
import Foundation
import XCTest

final class SARIFRendererTests: XCTestCase {
    /// The cycle fixture plus the cases SARIF treats specially: an absolute path with a
    /// space, a `./` path, a note, a code used twice, a code the catalogue lacks.
    private func sample() -> (SourceMap, [Diagnostic]) {
        var (s, diags) = CycleFixture.make()
        let abs = s.add("/work/my flows/deploy.ezflow", "role deployer { allow: [run] }\n")
        let rel = s.add("./lib/roles.ezflow", "role deployer { allow: [approve] }\n")
        diags.append(
            Diagnostic.warning("W0101", "unused role `deployer`", at: s.span(abs, "deployer")))
        diags.append(
            Diagnostic(
                "W0101", .note, "role `deployer` is also declared here", at: Label(s.span(rel, "deployer"))))
        diags.append(Diagnostic.error("X9999", "a code missing from the catalogue", at: s.span(rel, "role")))
        return (s.map, diags)
    }

    /// The sample plus a diagnostic with two fixes: one edit in each of two files, and a deletion.
    private func sampleWithFixes() -> (SourceMap, [Diagnostic]) {
        var s = TestSources()
        let a = s.add("/work/my flows/deploy.ezflow", "role deployer { allow: [run] }\n")
        let b = s.add("./lib/roles.ezflow", "role deployer { allow: [approve] }\n")
        let d = Diagnostic.error("E0200", "cannot find role `deployr`", at: s.span(a, "role"))
            .fixing(Fix("rename", [TextEdit(s.span(a, "deployer"), "deploy"), TextEdit(s.span(b, "deployer"), "deploy")]))
            .fixing(.remove(s.span(b, "role "), "the keyword"))
        return (s.map, [d])
    }

    /// Fixes are SARIF `fixes`: one `artifactChange` per file, each with its replacements.
    func testFixes() throws {
        let (sources, diags) = sampleWithFixes()
        let out = SARIFRenderer(toolVersion: "0.1.0").render(diags, sources: sources)
        let log = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let run = try XCTUnwrap((log["runs"] as? [[String: Any]])?.first)
        let result = try XCTUnwrap((run["results"] as? [[String: Any]])?.first)
        let fixes = try XCTUnwrap(result["fixes"] as? [[String: Any]])
        XCTAssertEqual(fixes.map { ($0["description"] as? [String: Any])?["text"] as? String }, ["rename", "remove the keyword"])
        let changes = try XCTUnwrap(fixes[0]["artifactChanges"] as? [[String: Any]])
        XCTAssertEqual(changes.map { ($0["artifactLocation"] as? [String: Any])?["uri"] as? String },
                       ["file:///work/my%20flows/deploy.ezflow", "lib/roles.ezflow"])
        let replacement = try XCTUnwrap((changes[0]["replacements"] as? [[String: Any]])?.first)
        XCTAssertEqual(replacement["deletedRegion"] as? [String: Int], ["startLine": 1, "startColumn": 6, "endLine": 1, "endColumn": 14])
        XCTAssertEqual((replacement["insertedContent"] as? [String: Any])?["text"] as? String, "deploy")
    }

    func testValidatesAgainstTheSARIFSchema() async throws {
        let schema = Repo.shared.appendingPathComponent("schemas/sarif-schema-2.1.0.json")
        guard FileManager.default.fileExists(atPath: schema.path) else {
            throw XCTSkip("SARIF schema not found at \(schema.path)")
        }
        let probe = try await Self.run(["python3", "-c", "import json, jsonschema"])
        guard probe.status == 0 else { throw XCTSkip("python3 with jsonschema is not available: \(probe.output)") }

        let (sources, diags) = sample()
        let (fixSources, fixDiags) = sampleWithFixes()
        let log = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("ezflow-sarif-\(UUID().uuidString).json")
        try SARIFRenderer(toolVersion: "0.1.0").render(diags, sources: sources).write(
            to: log, atomically: true, encoding: .utf8)
        let fixLog = log.deletingPathExtension().appendingPathExtension("fixes.json")
        try SARIFRenderer(toolVersion: "0.1.0").render(fixDiags, sources: fixSources).write(
            to: fixLog, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(at: log)
            try? FileManager.default.removeItem(at: fixLog)
        }

        for file in [log, fixLog] {
            let validate = try await Self.run([
                "python3", "-c",
                "import json,jsonschema,sys; "
                    + "jsonschema.Draft4Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))",
                schema.path, file.path,
            ])
            XCTAssertEqual(validate.status, 0, "schema validation of \(file.lastPathComponent) failed:\n\(validate.output)")
        }
    }

    func testContent() throws {
        let (sources, diags) = sample()
        let out = SARIFRenderer(toolVersion: "0.1.0").render(diags, sources: sources)
        XCTAssertEqual(out, SARIFRenderer(toolVersion: "0.1.0").render(diags, sources: sources))
        XCTAssertTrue(out.hasSuffix("}\n"))

        let log = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        XCTAssertEqual(log["$schema"] as? String, "https://json.schemastore.org/sarif-2.1.0.json")
        XCTAssertEqual(log["version"] as? String, "2.1.0")
        let runs = try XCTUnwrap(log["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 1)
        let run = runs[0]
        XCTAssertEqual(run["columnKind"] as? String, "unicodeCodePoints")

        let driver = try XCTUnwrap((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        XCTAssertEqual(driver["name"] as? String, "ezc")
        XCTAssertEqual(driver["version"] as? String, "0.1.0")
        XCTAssertEqual(driver["informationUri"] as? String, "https://github.com/ezflow/ezflow")

        // One rule per code used, sorted, with the catalogue's text.
        let rules = try XCTUnwrap(driver["rules"] as? [[String: Any]])
        XCTAssertEqual(rules.map { $0["id"] as? String }, ["E0400", "W0100", "W0101", "X9999"])
        let cycle = rules[0]
        XCTAssertEqual(cycle["name"] as? String, "DependencyCycle")
        XCTAssertEqual((cycle["shortDescription"] as? [String: Any])?["text"] as? String, "dependency cycle")
        XCTAssertEqual(
            (cycle["fullDescription"] as? [String: Any])?["text"] as? String, Catalogue.entries["E0400"]?.summary)
        XCTAssertEqual((cycle["defaultConfiguration"] as? [String: Any])?["level"] as? String, "error")
        XCTAssertEqual((rules[1]["defaultConfiguration"] as? [String: Any])?["level"] as? String, "warning")
        XCTAssertEqual(rules[3].keys.sorted(), ["id"])

        let results = try XCTUnwrap(run["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["ruleId"] as? String }, ["E0400", "W0100", "W0101", "W0101", "X9999"])
        XCTAssertEqual(results.map { $0["ruleIndex"] as? Int }, [0, 1, 2, 2, 3])
        XCTAssertEqual(results.map { $0["level"] as? String }, ["error", "warning", "warning", "note", "error"])

        let first = results[0]
        XCTAssertEqual(
            (first["message"] as? [String: Any])?["text"] as? String,
            "dependency cycle between `build` and `test`\n"
                + "note: every task waits for the tasks in its `after` list\n"
                + "help: remove one of the two `after` entries")
        let location = try XCTUnwrap((first["locations"] as? [[String: Any]])?.first)
        XCTAssertEqual((location["message"] as? [String: Any])?["text"] as? String, "`build` waits for `test`")
        XCTAssertEqual(artifact(location)?["uri"] as? String, "ci.ezflow")
        XCTAssertEqual(artifact(location)?["uriBaseId"] as? String, "%SRCROOT%")
        XCTAssertEqual(
            region(location), ["startLine": 3, "startColumn": 37, "endLine": 3, "endColumn": 41])
        let related = try XCTUnwrap(first["relatedLocations"] as? [[String: Any]])
        XCTAssertEqual(related.count, 1)
        XCTAssertEqual(related[0]["id"] as? Int, 0)
        XCTAssertEqual((related[0]["message"] as? [String: Any])?["text"] as? String, "`test` waits for `build`")
        XCTAssertEqual(region(related[0]), ["startLine": 4, "startColumn": 41, "endLine": 4, "endColumn": 46])
        XCTAssertNil(results[1]["relatedLocations"])

        // Absolute paths become file URIs; relative ones stay relative, without `./`.
        let absolute = try XCTUnwrap((results[2]["locations"] as? [[String: Any]])?.first)
        XCTAssertEqual(artifact(absolute)?["uri"] as? String, "file:///work/my%20flows/deploy.ezflow")
        XCTAssertNil(artifact(absolute)?["uriBaseId"])
        XCTAssertNil(absolute["message"])
        let relative = try XCTUnwrap((results[3]["locations"] as? [[String: Any]])?.first)
        XCTAssertEqual(artifact(relative)?["uri"] as? String, "lib/roles.ezflow")
        XCTAssertEqual(artifact(relative)?["uriBaseId"] as? String, "%SRCROOT%")
    }

    func testRuleNamesComeFromTitles() throws {
        var s = TestSources()
        let f = s.add("x.ezflow", "x\n")
        let codes = ["E0209", "E0605", "W0103"]
        let diags = codes.map { Diagnostic.error($0, "m", at: s.span(f, "x")) }
        let out = SARIFRenderer(toolVersion: "1").render(diags, sources: s.map)
        let log = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let run = try XCTUnwrap((log["runs"] as? [[String: Any]])?.first)
        let driver = try XCTUnwrap((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        let rules = try XCTUnwrap(driver["rules"] as? [[String: Any]])
        XCTAssertEqual(
            rules.map { $0["name"] as? String },
            ["InvalidValueForAttribute", "RetryFallbackIsNotATaskOrAgent", "AgentNoRoleMayUse"])
    }

    private func artifact(_ location: [String: Any]) -> [String: Any]? {
        (location["physicalLocation"] as? [String: Any])?["artifactLocation"] as? [String: Any]
    }

    private func region(_ location: [String: Any]) -> [String: Int]? {
        (location["physicalLocation"] as? [String: Any])?["region"] as? [String: Int]
    }

    /// Runs a command through /usr/bin/env, output and errors into a temporary file (a
    /// pipe could fill up and block the child before it exits).
    private static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let outURL = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("ezflow-run-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL) }
        let handle = try FileHandle(forWritingTo: outURL)
        defer { try? handle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        let status: Int32 = try await withCheckedThrowingContinuation { c in
            process.terminationHandler = { c.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { c.resume(throwing: error) }
        }
        return (status, String(decoding: try Data(contentsOf: outURL), as: UTF8.self))
    }
}
