import EzflowCompiler
import EzflowIR
import EzflowTestSupport
import Foundation
import XCTest

/// Builds a repo-relative workflow in memory (with its sibling files), as `ezc build` would.
func buildRepoFile(_ relativePath: String, text: String? = nil) -> BuildResult {
    func read(_ f: String) -> [UInt8] { (try? Data(contentsOf: Repo.url(f))).map { [UInt8]($0) } ?? [] }
    var files = [relativePath: text.map { Array($0.utf8) } ?? read(relativePath)]
    let dir = (relativePath as NSString).deletingLastPathComponent
    for f in Repo.files(in: dir, ext: [".ezflow"]) where files[f] == nil { files[f] = read(f) }
    return Compiler.build(root: relativePath, bytes: files, stdlibRoot: Repo.url("stdlib").path)
}

/// The IR bytes of a clean build, or a test failure.
func irBytes(_ relativePath: String, text: String? = nil, file: StaticString = #filePath, line: UInt = #line) -> [UInt8]? {
    let r = buildRepoFile(relativePath, text: text)
    guard let ir = r.ir else {
        XCTFail("\(relativePath) did not build: \(r.failure ?? "") \(r.check.diagnostics.map(\.message))", file: file, line: line)
        return nil
    }
    return ir
}

final class LoweringGoldenTests: XCTestCase {
    /// One golden per example: `Tests/Fixtures/lower/<example>.ezir.json`, pretty-printed
    /// (the hash inside is over the canonical bytes, so the golden validates as is).
    /// The golden leaves out `source_map`, so editing an example's comments changes no
    /// golden; `testSourceMapPointsAtTaskNames` covers positions.
    func testExamplesMatchGoldens() throws {
        let examples = Repo.files(in: "examples", ext: [".ezflow"])
        XCTAssertFalse(examples.isEmpty)
        var failures: [String] = []
        for ex in examples {
            guard let bytes = irBytes(ex) else { continue }
            let doc = edit(try JSONParser.parse(bytes), [.key("source_map")], { _ in nil })
            let name = ((ex as NSString).lastPathComponent as NSString).deletingPathExtension
            let golden = "Tests/Fixtures/lower/\(name).ezir.json"
            if let f = compareGolden(actual: CanonicalJSON.pretty(doc), expectedPath: golden) { failures.append(f) }
            // The golden itself is valid IR with the same hash.
            let stored = try Data(contentsOf: Repo.url(golden))
            let program = try EzflowIR.validate([UInt8](stored))
            XCTAssertEqual(.string(program.hash), doc["hash"], golden)
        }
        XCTAssert(failures.isEmpty, failures.joined(separator: "\n\n"))
    }

    /// Every example and every stdlib file with a workflow lowers and validates; library
    /// modules report that there is nothing to build.
    func testEveryExampleAndStdlibWorkflowLowersAndValidates() throws {
        var built = 0
        for f in Repo.files(in: "examples", ext: [".ezflow"]) + Repo.files(in: "stdlib", ext: [".ezflow"]) {
            let r = buildRepoFile(f)
            XCTAssertFalse(r.check.hasErrors, f)
            let text = try String(contentsOf: Repo.url(f), encoding: .utf8)
            let hasWorkflow = text.split(separator: "\n").contains { $0.hasPrefix("workflow ") }
            if hasWorkflow {
                guard let ir = r.ir else { XCTFail("\(f): no IR: \(r.failure ?? "")"); continue }
                let p = try EzflowIR.validate(ir)
                XCTAssertEqual(p.version, 1)
                XCTAssertEqual(p.hash, r.hash)
                XCTAssertFalse(p.workflow.tasks.isEmpty, f)
                built += 1
            } else {
                XCTAssertNil(r.ir, f)
                XCTAssertEqual(r.failure, "`\(f)` declares no workflow; only a file with a `workflow` can be built")
            }
        }
        XCTAssertGreaterThanOrEqual(built, 6)
    }

    func testSourceMapPointsAtTaskNames() throws {
        for ex in Repo.files(in: "examples", ext: [".ezflow"]) {
            let bytes = try XCTUnwrap(irBytes(ex))
            let p = try EzflowIR.validate(bytes)
            let lines = try String(contentsOf: Repo.url(ex), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            guard case .array(let locs)? = p.document["source_map"]?["tasks"] else { XCTFail("\(ex): no source_map.tasks"); continue }
            XCTAssertEqual(locs.count, p.workflow.tasks.count)
            for (t, loc) in zip(p.workflow.tasks, locs) {
                guard case .string(let s)? = loc["loc"] else { XCTFail("\(ex): task \(t.id) has no loc"); continue }
                let parts = s.split(separator: ":")
                XCTAssertEqual(parts.count, 3, s)
                XCTAssertEqual(String(parts[0]), ex)
                let line = Int(parts[1])!, col = Int(parts[2])!
                let text = lines[line - 1].utf8.dropFirst(col - 1)
                // A loop's instance `draft[iteration=2]` points at `draft`.
                let name = t.name.split(separator: "[").first.map(String.init) ?? t.name
                XCTAssert(String(decoding: text, as: UTF8.self).hasPrefix(name), "\(s) should point at `\(name)`")
            }
        }
    }

    func testNestedWorkflowIsEmbedded() throws {
        let p = try EzflowIR.validate(XCTUnwrap(irBytes("examples/stdlib_pipeline.ezflow")))
        let btr = try XCTUnwrap(p.workflow.tasks.first { $0.name == "btr" })
        XCTAssertEqual(btr.action, "workflow")
        XCTAssertEqual(btr.workflow?.name, "build_test_review")
        XCTAssertEqual(btr.workflow?.tasks.map(\.name), ["build", "test", "review"])
        // Task reads become deps pointing backwards.
        let release = try XCTUnwrap(p.workflow.tasks.first { $0.name == "release" })
        XCTAssert(release.deps.allSatisfy { $0 < release.id })
    }

    func testSecretsAreNamesNeverValues() throws {
        setenv("OPENAI_API_KEY", "sk-do-not-leak", 1)
        let bytes = try XCTUnwrap(irBytes("examples/llm_code_review.ezflow"))
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertFalse(text.contains("sk-do-not-leak"))
        XCTAssert(text.contains(#"{"key":"OPENAI_API_KEY","name":"openai_key","provider":"env"}"#))
    }
}

final class DeterminismTests: XCTestCase {
    func testBuildingTwiceGivesIdenticalBytes() throws {
        for ex in Repo.files(in: "examples", ext: [".ezflow"]) {
            let a = irBytes(ex), b = irBytes(ex)
            XCTAssertNotNil(a)
            XCTAssertEqual(a, b, ex)
        }
    }

    /// Comments, blank lines and indentation do not change the hash (positions do
    /// change: they live in the unhashed `source_map`).
    func testCommentsAndWhitespaceDoNotChangeTheHash() throws {
        for ex in Repo.files(in: "examples", ext: [".ezflow"]) {
            let text = try String(contentsOf: Repo.url(ex), encoding: .utf8)
            // Outside multi-line strings: drop comment and blank lines, re-indent, add
            // trailing comments. Lines of a """ string are left exactly as they are.
            var out: [String] = []
            var inString = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                let quotes = line.components(separatedBy: "\"\"\"").count - 1
                if inString || quotes > 0 {
                    out.append(String(line))
                    if quotes % 2 == 1 { inString.toggle() }
                    continue
                }
                let t = line.trimmingCharacters(in: .whitespaces)
                if t.isEmpty || t.hasPrefix("#") { continue }
                out.append("\t" + t + "   # note")
            }
            let stripped = out.joined(separator: "\n")
            let a = buildRepoFile(ex), b = buildRepoFile(ex, text: stripped)
            XCTAssertNotNil(b.hash, "\(ex): \(b.check.diagnostics.map(\.message))")
            XCTAssertEqual(a.hash, b.hash, ex)
            XCTAssertNotEqual(a.ir, b.ir, "\(ex): the source map should differ")
        }
    }

    static let original = """
        retry r {
          attempts: 3
          backoff: exponential
          delay: 1s
          max_delay: 10s
          on: [timeout, transient]
        }
        agent sh {
          driver: exec
          capabilities: ["shell"]
          cost_per_second: $0.001
          concurrency: 2
        }
        role dev {
          allow: [run]
          agents: [sh]
        }
        workflow w {
          input who: string = "world"
          budget { money: $1, time: 1h }
          task a {
            role: dev
            needs: ["shell"]
            run: "echo hello ${inputs.who}"
            timeout: 1m
            retry: r
            tags: ["x", "y"]
            output greeting: string
          }
          task b {
            role: dev
            env: { A: a.outputs.greeting, B: inputs.who }
            run: "echo $A"
            timeout: 2m
            priority: 5
          }
        }
        """

    /// The same program with attributes reordered inside every block, entries of
    /// `env` reordered, one-line blocks split, and comments added.
    static let reordered = """
        # a retry rule
        retry r {
          on: [timeout, transient]
          max_delay: 10s
          delay: 1s
          backoff: exponential
          attempts: 3
        }
        agent sh { concurrency: 2, cost_per_second: $0.001, capabilities: ["shell"], driver: exec }
        role dev { agents: [sh]; allow: [run] }
        workflow w {
          budget {
            time: 1h
            money: $1
          }
          input who: string = "world"
          task a {
            output greeting: string
            tags: ["x", "y"]   # kept in order: a list is not a set of attributes
            retry: r
            timeout: 1m
            run: "echo hello ${inputs.who}"
            needs: ["shell"]
            role: dev
          }
          task b {
            priority: 5
            timeout: 2m
            run: "echo $A"
            env: { B: inputs.who, A: a.outputs.greeting }
            role: dev
          }
        }
        """

    func testAttributeOrderDoesNotChangeTheHash() throws {
        let a = Compiler.build(root: "w.ezflow", files: ["w.ezflow": Self.original])
        let b = Compiler.build(root: "w.ezflow", files: ["w.ezflow": Self.reordered])
        XCTAssertEqual(a.check.diagnostics.map(\.message), [])
        XCTAssertEqual(b.check.diagnostics.map(\.message), [])
        XCTAssertNotNil(a.hash)
        XCTAssertEqual(a.hash, b.hash)
        // ...but a change of meaning does.
        let c = Compiler.build(root: "w.ezflow", files: ["w.ezflow": Self.original.replacingOccurrences(of: "timeout: 2m", with: "timeout: 3m")])
        XCTAssertNotNil(c.hash)
        XCTAssertNotEqual(a.hash, c.hash)
    }

    func testUnitsAreExactIntegers() throws {
        let r = Compiler.build(root: "w.ezflow", files: ["w.ezflow": Self.original])
        let p = try EzflowIR.validate(XCTUnwrap(r.ir))
        XCTAssertEqual(p.workflow.budget, IRBudget(moneyMicros: 1_000_000, tokens: nil, timeMs: 3_600_000))
        XCTAssertEqual(p.workflow.agents.first?.costPerSecondMicros, 1_000)
        XCTAssertEqual(p.workflow.tasks[0].retry, IRRetry(attempts: 3, backoff: "exponential", delayMs: 1_000, maxDelayMs: 10_000,
                                                          jitter: "none", on: ["timeout", "transient"]))
        XCTAssertEqual(p.workflow.tasks[1].deps, [0])
        // Interpolation lowered to parts.
        let tpl = p.workflow.tasks[0].json["template"]
        XCTAssertEqual(tpl, .array([.object([("text", .string("echo hello "))]), .object([("ref", .array([.string("inputs"), .string("who")]))])]))
        let env = p.workflow.tasks[1].json["env"]
        XCTAssertEqual(env?["A"], .object([("ref", .array([.string("task"), .int(0), .string("outputs"), .string("greeting")]))]))
    }
}

/// Edits one value inside a JSON document by path (`"tasks", 1, "retry", "attempts"`).
enum PathStep { case key(String), index(Int) }

func edit(_ v: JSONValue, _ path: [PathStep], _ change: (JSONValue?) -> JSONValue?) -> JSONValue {
    guard let step = path.first else { return change(v) ?? .null }
    let rest = Array(path.dropFirst())
    switch (step, v) {
    case (.key(let k), .object(var m)):
        if let i = m.firstIndex(where: { $0.0 == k }) {
            if rest.isEmpty {
                if let nv = change(m[i].1) { m[i].1 = nv } else { m.remove(at: i) }
            } else {
                m[i].1 = edit(m[i].1, rest, change)
            }
        } else if rest.isEmpty, let nv = change(nil) {
            m.append((k, nv))
        }
        return .object(m)
    case (.index(let i), .array(var a)):
        a[i] = edit(a[i], rest, change)
        return .array(a)
    default:
        return v
    }
}

final class ValidatorTests: XCTestCase {
    var base: JSONValue!

    override func setUpWithError() throws {
        let bytes = try XCTUnwrap(irBytes("examples/ci_pipeline.ezflow"))
        base = try JSONParser.parse(bytes)
        _ = try EzflowIR.validate(bytes)
    }

    func check(_ doc: JSONValue, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        check(CanonicalJSON.encode(doc), expected, file: file, line: line)
    }

    func check(_ bytes: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try EzflowIR.validate(bytes)
            XCTFail("accepted; expected: \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.description, expected, file: file, line: line)
        }
    }

    func set(_ path: PathStep..., to value: JSONValue?) -> JSONValue { edit(base, path, { _ in value }) }

    func testTaskOrderOfTheBaseline() {
        // The cases below rely on ci_pipeline's topological order.
        guard case .array(let tasks)? = base["tasks"] else { return XCTFail("no tasks") }
        XCTAssertEqual(tasks.map { $0["name"] }, ["build", "test", "lint", "typecheck", "approve_deploy", "deploy"].map { .string($0) })
    }

    /// A file is stored by the runner from a `run` task's working directory: no model,
    /// service or approver is ever asked for one, so hand-written IR cannot declare it.
    func testAFileOutputNeedsARunTask() {
        let out: JSONValue = .array([.object([("name", .string("notes")), ("type", .string("list[file]"))])])
        check(set(.key("tasks"), .index(4), .key("outputs"), to: out),
              "tasks[4].outputs[0].type: a `file` output needs a `run` task, not `approve`")
    }

    /// A file output takes a path (a string) from the task, never a record naming a digest.
    func testAFileOutputIsReportedAsAPath() {
        let fields = [OutputField(name: "app", type: .file)]
        let record = FileRecord(digest: "sha256:" + String(repeating: "0", count: 64), name: "x", size: 1, mode: "0644").json
        guard case .failure(let m) = OutputContract.check(task: "b", fields: fields, reply: .object([("app", record)]), undeclared: .kept) else {
            return XCTFail("a record was accepted for a file output")
        }
        XCTAssertTrue(m.message.hasPrefix("task `b`: output `app` should be a file (a relative path in the task's working directory), got {"), m.message)
        guard case .success = OutputContract.check(task: "b", fields: fields, reply: .object([("app", .string("dist/a"))])) else {
            return XCTFail("a path was refused")
        }
        XCTAssertEqual(OutputType(ir: "list[file]?", types: nil), .optional(.list(.file)))
        XCTAssertNil(FileRecord(.object([("digest", .string("sha256:../../x")), ("mode", .string("0644")), ("name", .string("x")),
                                         ("size", .int(1))])), "a digest that is not 64 hex digits is no record")
    }

    func testWrongVersion() {
        check(set(.key("ezir"), to: .int(2)), "ezir: unsupported version 2 (this build reads 1)")
    }

    func testMissingField() {
        check(set(.key("tasks"), .index(2), .key("name"), to: nil), "tasks[2].name: required field is missing")
        check(set(.key("tasks"), .index(1), .key("retry"), .key("jitter"), to: nil), "tasks[1].retry.jitter: required field is missing")
    }

    func testDependencyPointingForward() {
        check(set(.key("tasks"), .index(1), .key("deps"), to: .array([.int(4)])),
              "tasks[1].deps[0]: must point to an earlier task (< 1), found 4")
    }

    func testZeroAttempts() {
        check(set(.key("tasks"), .index(1), .key("retry"), .key("attempts"), to: .int(0)),
              "tasks[1].retry.attempts: must be >= 1, found 0")
    }

    func testBadHash() {
        let doc = set(.key("tasks"), .index(0), .key("priority"), to: .int(8))
        guard case .object(let m) = doc else { return XCTFail() }
        check(doc, "hash: does not match the content (computed \(IRDocument.hash(of: m)))")
        check(set(.key("hash"), to: .string("sha256:00")), "hash: does not match the content (computed \(base["hash"].map { if case .string(let s) = $0 { s } else { "" } } ?? ""))")
    }

    func testUnknownTaskReference() {
        let ref: JSONValue = .object([("ref", .array([.string("task"), .int(9), .string("outputs"), .string("image")]))])
        check(set(.key("tasks"), .index(1), .key("env"), .key("IMAGE"), to: ref), "tasks[1].env.IMAGE.ref[1]: no task 9 (the workflow has 6)")
        check(set(.key("tasks"), .index(1), .key("retry"), .key("catch"), to: .object([("task", .int(6))])),
              "tasks[1].retry.catch.task: no task 6 (the workflow has 6)")
    }

    func testReadingATaskThatIsNotADependency() {
        let ref: JSONValue = .object([("ref", .array([.string("task"), .int(2), .string("outputs"), .string("stdout")]))])
        check(set(.key("tasks"), .index(5), .key("env"), .key("IMAGE"), to: ref),
              "tasks[5].env.IMAGE.ref[1]: reads task 2, which is not among the task's deps")
    }

    func testIdsMustBeDense() {
        check(set(.key("tasks"), .index(2), .key("id"), to: .int(5)), "tasks[2].id: must be 2 (its position), found 5")
    }

    func testNegativeQuantities() {
        check(set(.key("tasks"), .index(0), .key("timeout_ms"), to: .int(0)), "tasks[0].timeout_ms: must be >= 1, found 0")
        check(set(.key("budget"), .key("money_micros"), to: .int(-5)), "budget.money_micros: must be >= 0, found -5")
    }

    func testUnknownNamesAndFields() {
        check(set(.key("tasks"), .index(0), .key("agents"), to: .array([.string("nope")])), "tasks[0].agents[0]: unknown agent `nope`")
        check(set(.key("tasks"), .index(0), .key("colour"), to: .string("red")), "tasks[0].colour: unknown field")
        check(set(.key("tasks"), .index(0), .key("priority"), to: .string("high")), "tasks[0].priority: expected int, found string")
    }

    func testNotJSON() {
        check(Array("{\"ezir\": 1,".utf8), "invalid JSON at byte 11: unexpected end of input")
        check(Array("[]".utf8), "expected a JSON object, found array")
    }
}

final class CanonicalJSONTests: XCTestCase {
    func testKeysSortByUTF8BytesAndStringsEscapeMinimally() {
        let v: JSONValue = .object([("é", .int(1)), ("b", .int(-9_223_372_036_854_775_808)), ("B", .null), ("a", .array([.bool(true), .float(0.05)]))])
        let s = String(decoding: CanonicalJSON.encode(v), as: UTF8.self)
        XCTAssertEqual(s, #"{"B":null,"a":[true,0.05],"b":-9223372036854775808,"é":1}"#)
        let esc = String(decoding: CanonicalJSON.encode(.string("q\"b\\n\n\t\u{01}\u{7F}/ü")), as: UTF8.self)
        XCTAssertEqual(esc, "\"q\\\"b\\\\n\\n\\t\\u0001\u{7F}/ü\"")
    }

    func testParserRoundTrip() throws {
        let text = #"{"z":[1,2.5,"\u00e9\ud83d\ude00",null,false],"a":{"b":-3}}"#
        let v = try JSONParser.parse(Array(text.utf8))
        XCTAssertEqual(String(decoding: CanonicalJSON.encode(v), as: UTF8.self), #"{"a":{"b":-3},"z":[1,2.5,"é😀",null,false]}"#)
        XCTAssertThrowsError(try JSONParser.parse(Array(#"{"a":1,"a":2}"#.utf8)))
        XCTAssertThrowsError(try JSONParser.parse(Array("01".utf8)))
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xFF, 0x22]))
    }
}

/// The one expression evaluator (`IRExpr`), over an environment of its own.
final class ExprEvaluatorTests: XCTestCase {
    struct Env: ExprEnvironment {
        var outputs: [Int: JSONValue] = [0: .object([("n", .int(4))])]
        var item: JSONValue? = nil
        func input(_ name: String) -> JSONValue? { name == "min" ? .int(3) : nil }
        func outputs(ofTask id: Int) -> JSONValue? { outputs[id] }
        func secret(_ name: String) -> String? { nil }
    }

    /// `Env` that knows its tasks' declared names, as every real run's environment does.
    struct NamedEnv: ExprEnvironment {
        let item: JSONValue? = nil
        func input(_ name: String) -> JSONValue? { nil }
        func outputs(ofTask id: Int) -> JSONValue? { id == 0 ? .object([("n", .int(5))]) : nil }
        func secret(_ name: String) -> String? { nil }
        func taskName(_ id: Int) -> String? { ["build", "lint"][id] }
    }

    func ref(_ parts: JSONValue...) -> JSONValue { .object([("ref", .array(parts))]) }

    func testMessagesNameTasksNeverTheirIds() {
        XCTAssertThrowsError(try IRExpr.evaluate(ref(.string("task"), .int(1), .string("outputs"), .string("n")), in: NamedEnv())) { e in
            XCTAssertEqual(e as? ExprError, ExprError("task `lint` has no outputs (it has not succeeded)", kind: .noOutputs(task: 1)))
        }
        XCTAssertThrowsError(try IRExpr.evaluate(ref(.string("task"), .int(0), .string("outputs"), .string("patch")), in: NamedEnv())) { e in
            XCTAssertEqual((e as? ExprError)?.message, "task `build`'s output `patch` is missing")
        }
        // Without names (a bare environment) the message still says no number.
        XCTAssertThrowsError(try IRExpr.evaluate(ref(.string("task"), .int(0), .string("outputs"), .string("patch")), in: Env())) { e in
            XCTAssertEqual((e as? ExprError)?.message, "an upstream task's output `patch` is missing")
        }
    }

    func testAConditionAndATypedMissingOutput() throws {
        let cond: JSONValue = .object([("op", .string(">")), ("args", .array([ref(.string("task"), .int(0), .string("outputs"), .string("n")),
                                                                              ref(.string("inputs"), .string("min"))]))])
        XCTAssertEqual(try IRExpr.evaluate(cond, in: Env()), .bool(true))
        XCTAssertThrowsError(try IRExpr.evaluate(ref(.string("task"), .int(1), .string("outputs"), .string("n")), in: Env())) { e in
            XCTAssertEqual(e as? ExprError, ExprError("an upstream task has no outputs (it has not succeeded)", kind: .noOutputs(task: 1)))
        }
        XCTAssertThrowsError(try IRExpr.evaluate(ref(.string("inputs"), .string("max")), in: Env())) { e in
            XCTAssertEqual((e as? ExprError)?.kind, .invalid)
        }
        XCTAssertEqual(try IRExpr.render([.object([("text", .string("n="))]), ref(.string("task"), .int(0), .string("outputs"), .string("n"))],
                                         in: Env()), "n=4")
        XCTAssertEqual(IRExpr.text(.array([.int(1), .null])), "[1,null]")
    }
}
