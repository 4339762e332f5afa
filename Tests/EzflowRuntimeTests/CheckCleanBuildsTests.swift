import EzflowCompiler
import EzflowIR
import EzflowRuntime
import XCTest

/// Issue 10, "a file that checks clean builds, and means what it says": each case checked
/// clean and then broke in `ezc build` or at run time, or silently changed meaning. Here
/// each is built, planned and its values read back as the runtime reads them.
final class CheckCleanBuildsTests: XCTestCase {
    static let agent = "agent sh { driver: exec, capabilities: [\"shell\", \"linux\"] }\n"

    func build(_ source: String, extra: [String: String] = [:]) -> BuildResult {
        var files = ["w/main.ezflow": source]
        for (k, v) in extra { files["w/" + k] = v }
        return Compiler.build(root: "w/main.ezflow", files: files)
    }

    func codes(_ r: BuildResult) -> [String] { r.check.diagnostics.filter { $0.severity == .error }.map(\.code) }

    /// What each instance of fan-out `task` renders its template to, as the exec driver does.
    func rendered(_ plan: Plan, _ task: String, inputs: [String: JSONValue] = [:]) throws -> [String] {
        var out: [String] = []
        for t in 0..<plan.taskCount where plan.taskNames[t].hasPrefix(task + "[") {
            guard case .array(let parts)? = plan.taskJSON[t]["template"] else { XCTFail("no template"); continue }
            out.append(try IRExpr.render(parts, in: Item(item: plan.taskItem[t], inputs: inputs)))
        }
        return out
    }

    struct Item: ExprEnvironment {
        var item: JSONValue?
        var inputs: [String: JSONValue]
        func input(_ name: String) -> JSONValue? { inputs[name] }
        func outputs(ofTask id: Int) -> JSONValue? { nil }
        func secret(_ name: String) -> String? { nil }
    }

    // `${item.image}` in a `for_each` task's `run:` (was: "the generated IR does not validate").
    func testItemFieldsOfRecordsRenderInEachInstance() throws {
        let r = build(Self.agent + """
            type Cell { image: string, os: string }
            workflow ci {
              input cells: list[Cell] = [{ image: "debian:12", os: "linux" }, { image: "alpine:3", os: "linux" }]
              task build {
                for_each: inputs.cells
                run: "docker build -t ${item.image} --platform ${item.os}"
              }
            }
            """)
        let ir = try XCTUnwrap(r.ir, "\(r.check.diagnostics.map(\.message))")
        let plan = try Plan(EzflowIR.validate(ir))
        XCTAssertEqual(try rendered(plan, "build"), ["docker build -t debian:12 --platform linux", "docker build -t alpine:3 --platform linux"])
    }

    // A list of records whose optional field is missing or null (was: E0300 "list elements
    // have different types"); the IR spells the missing field out as null.
    func testOptionalRecordFieldsMayBeMissingOrNull() throws {
        let r = build(Self.agent + """
            type Cell { image: string, tag: string? }
            workflow ci {
              input cells: list[Cell] = [{ image: "a" }, { image: "b", tag: null }, { image: "c", tag: "v1" }]
              task build {
                for_each: inputs.cells
                run: "docker build ${item.image}:${item.tag ?? "latest"}"
              }
              task inline {
                for_each: [{ image: "d" }, { image: "e", tag: "v2" }]
                run: "docker build ${item.image}:${item.tag ?? "latest"}"
              }
            }
            """)
        let ir = try XCTUnwrap(r.ir, "\(r.check.diagnostics.map(\.message))")
        let doc = try JSONParser.parse(ir)
        guard case .array(let inputs)? = doc["inputs"] else { return XCTFail("no inputs") }
        XCTAssertEqual(inputs.first?["default"], .array([
            .object([("image", .string("a")), ("tag", .null)]), .object([("image", .string("b")), ("tag", .null)]),
            .object([("image", .string("c")), ("tag", .string("v1"))]),
        ]))
        let plan = try Plan(EzflowIR.validate(ir))
        XCTAssertEqual(try rendered(plan, "build"), ["docker build a:latest", "docker build b:latest", "docker build c:v1"])
        XCTAssertEqual(try rendered(plan, "inline"), ["docker build d:latest", "docker build e:v2"])
    }

    // The same through `with`: a nested workflow fans out over records its caller wrote.
    func testOptionalRecordFieldsMayBeMissingInWith() throws {
        let lib = Self.agent + """
            type Cell { image: string, tag: string? }
            workflow inner {
              input cells: list[Cell]
              task build {
                for_each: inputs.cells
                run: "docker build ${item.image}:${item.tag ?? "latest"}"
              }
            }
            """
        let r = build("import \"./lib.ezflow\"\n" + """
            workflow ci {
              task call { workflow: lib.inner, with: { cells: [{ image: "a" }, { image: "b", tag: "v1" }] } }
            }
            """, extra: ["lib.ezflow": lib])
        let plan = try Plan(EzflowIR.validate(XCTUnwrap(r.ir, "\(r.check.diagnostics.map(\.message))")))
        XCTAssertEqual(try rendered(plan, "call.build"), ["docker build a:latest", "docker build b:v1"])
    }

    // The same input twice in `with:` (was: a crash in `ezc build`, duplicate key).
    func testInputGivenTwiceInWithIsADiagnostic() {
        let lib = Self.agent + "workflow inner {\n  input a: string\n  task t { run: \"echo ${inputs.a}\" }\n}\n"
        let r = build("import \"./lib.ezflow\"\n" + """
            workflow ci {
              task call { workflow: lib.inner, with: { a: "x", a: "y" } }
            }
            """, extra: ["lib.ezflow": lib])
        XCTAssertEqual(codes(r), ["E0205"])
        XCTAssertNil(r.ir)
    }

    // `needs: [item.os]` compiled to `needs: []`; literal needs still reach the IR.
    func testNeedsFromAnItemIsRefusedAndLiteralNeedsAreKept() throws {
        let refused = build(Self.agent + """
            workflow ci {
              input oses: list[string] = ["linux"]
              task test { for_each: inputs.oses, needs: [item], run: "make" }
            }
            """)
        XCTAssertEqual(codes(refused), ["E0307"])
        let kept = build(Self.agent + """
            workflow ci {
              input oses: list[string] = ["linux"]
              task test { for_each: inputs.oses, needs: ["linux"], run: "make ${item}" }
            }
            """)
        let doc = try JSONParser.parse(XCTUnwrap(kept.ir))
        guard case .array(let tasks)? = doc["tasks"] else { return XCTFail("no tasks") }
        XCTAssertEqual(tasks.first?["needs"], .array([.string("linux")]))
    }

    // `on_conflict: merge` needs a value the runtime can merge.
    func testMergeIsRefusedOnAStringAndKeptOnAList() throws {
        func file(_ type: String) -> String {
            Self.agent + """
            workflow ci {
              output o: \(type) { on_conflict: merge }
              task a { run: "x", writes: [o], output o: \(type) }
              task b { run: "x", writes: [o], output o: \(type) }
            }
            """
        }
        XCTAssertEqual(codes(build(file("string"))), ["E0701"])
        let doc = try JSONParser.parse(XCTUnwrap(build(file("list[string]")).ir))
        guard case .array(let outputs)? = doc["outputs"] else { return XCTFail("no outputs") }
        XCTAssertEqual(outputs.first?["on_conflict"], .string("merge"))
    }

    // A duplicate in `after:` is a warning with a fix, and the build is unchanged.
    func testDuplicateAfterEntryWarnsAndBuilds() throws {
        let r = build(Self.agent + """
            workflow ci {
              task a { run: "x" }
              task b { run: "x", after: [a, a] }
            }
            """)
        XCTAssertEqual(r.check.diagnostics.map(\.code), ["W0105"])
        XCTAssertEqual(r.check.diagnostics.first?.fixes.first?.edits.first?.replacement, "")
        let doc = try JSONParser.parse(XCTUnwrap(r.ir))
        guard case .array(let tasks)? = doc["tasks"] else { return XCTFail("no tasks") }
        XCTAssertEqual(tasks.last?["deps"], .array([.int(0)]))
    }

    // std/retry's `rate_limited` named in `on:` (was: E0209 "takes a bare word"); the IR
    // carries the class's name, which is what a task reports.
    func testImportedErrorClassesCanBeRetried() throws {
        let r = build("import \"std/retry\"\n" + Self.agent + """
            retry polite { attempts: 3, on: [transient, retry.rate_limited] }
            workflow ci {
              task a { run: "x", retry: polite }
              task b { run: "x", retry: retry.patient }
            }
            """)
        XCTAssertEqual(r.check.diagnostics.map(\.code), [])
        let doc = try JSONParser.parse(XCTUnwrap(r.ir, "\(r.check.diagnostics.map(\.message))"))
        guard case .array(let tasks)? = doc["tasks"] else { return XCTFail("no tasks") }
        XCTAssertEqual(tasks[0]["retry"]?["on"], .array([.string("transient"), .string("rate_limited")]))
        XCTAssertEqual(tasks[1]["retry"]?["on"], .array([.string("timeout"), .string("transient"), .string("rate_limited")]))
        // The plan knows the class, so a task failing with it is retried.
        let plan = try Plan(EzflowIR.validate(XCTUnwrap(r.ir)))
        XCTAssertTrue(plan.errorClassNames.contains("rate_limited"))
    }

    // A fan-out over a task's output checked clean and the plan refused it: now it needs
    // `max_items` (E0970), and with it the plan reserves that many slots.
    func testForEachOverTaskOutputsNeedsMaxItemsAndThenPlans() throws {
        let source = Self.agent + """
            workflow ci {
              task gen { run: "x", output files: list[string] }
              task each { for_each: gen.outputs.files, MAXrun: "echo ${item}" }
            }
            """
        XCTAssertEqual(codes(build(source.replacingOccurrences(of: "MAX", with: ""))), ["E0970"])
        let r = build(source.replacingOccurrences(of: "MAX", with: "max_items: 3, "))
        XCTAssertEqual(codes(r), [])
        let plan = try Plan(EzflowIR.validate(XCTUnwrap(r.ir)))
        XCTAssertEqual(plan.taskNames, ["gen", "each[0]", "each[1]", "each[2]"])
        XCTAssertEqual(plan.dynamicSlot[3]?.index, 2)
        XCTAssertEqual(plan.dynamicSlot[3]?.listText, "gen.outputs.files")
    }
}
