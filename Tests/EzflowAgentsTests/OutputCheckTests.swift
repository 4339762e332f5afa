// Declared outputs held where the attempt ends (OutputCheck.swift): an exec task's
// result object (the whole of stdout, else its last line), an http body, checked against
// the declared types; `output_error` when one is missing or mistyped, null for an optional
// one left out, nothing checked without declared outputs.
import EzflowAgents
import EzflowIR
import EzflowTestSupport
import XCTest

final class OutputCheckTests: XCTestCase {
    /// `irTask` with declared outputs (IR type strings).
    func declaring(_ task: JSONValue, _ outputs: [(String, String)]) -> JSONValue {
        guard case .object(var m) = task else { return task }
        m.append(("outputs", .array(outputs.map { .object([("name", .string($0.0)), ("type", .string($0.1))]) })))
        return .object(m)
    }

    func run(_ script: String, outputs: [(String, String)]) async -> DriverResult {
        await runTask(driver([declaring(irTask("make", [text(script)]), outputs)]))
    }

    func testALogLineBeforeTheJSONIsLogTheLastLineIsTheResult() async {
        let r = await run(#"echo building; echo '{"patch": "diff"}'"#, outputs: [("patch", "string")])
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["patch"], .string("diff"))
        XCTAssertEqual(r.out["stdout"], .string("building\n{\"patch\": \"diff\"}"))
        // The same without declared outputs: the last line is the result there too.
        let plain = await runTask(driver([irTask("make", [text(#"echo building; echo '{"patch": "diff"}'"#)])]))
        XCTAssertEqual(plain.out["patch"], .string("diff"))
        // A pretty-printed object is read whole; one after log lines is not (print it on one line).
        let pretty = await run(#"printf '{\n  "patch": "p"\n}\n'"#, outputs: [("patch", "string")])
        XCTAssertEqual(pretty.out["patch"], .string("p"), pretty.message)
        // An error object on the last line is that error.
        let failed = await run(#"echo trying; echo '{"error": {"class": "bad_input", "message": "no"}}'"#, outputs: [("patch", "string")])
        XCTAssertEqual(failed.errorClass, "bad_input")
    }

    func testProseFailsTheAttemptWithOutputErrorNamingTaskOutputAndWhatWasPrinted() async {
        let r = await run("echo building; echo here is your patch", outputs: [("patch", "string")])
        XCTAssertEqual(r.errorClass, "output_error")
        XCTAssertEqual(r.message, "task `make`: output `patch` is missing (it should be a string); stdout's last line is not a JSON object: "
                       + "`here is your patch`")
        XCTAssertEqual(r.exitCode, 0)
        XCTAssertEqual(r.stdout, "building\nhere is your patch\n", "the log keeps what it printed")
        let empty = await run("true", outputs: [("patch", "string")])
        XCTAssertEqual(empty.message, "task `make`: output `patch` is missing (it should be a string); stdout was empty (print the "
                       + "outputs as one JSON object on its last line)")
    }

    func testAMistypedOutputFailsWithAShortExcerpt() async {
        let r = await run(#"echo '{"count": "many", "patch": "x"}'"#, outputs: [("count", "int"), ("patch", "string")])
        XCTAssertEqual(r.errorClass, "output_error")
        XCTAssertEqual(r.message, #"task `make`: output `count` should be an int, got "many""#)
        let long = await run(#"printf '{"count": "%s"}' $(seq 1 100 | tr -d '\n')"#, outputs: [("count", "int")])
        XCTAssertTrue(long.message.hasSuffix("…"), long.message)
        XCTAssertLessThan(long.message.count, 140, long.message)
    }

    func testOptionalOutputsLeftOutReadAsNullOthersStay() async {
        let r = await run(#"echo '{"patch": "d", "extra": 1}'"#, outputs: [("note", "string?"), ("patch", "string")])
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["note"], .null)
        XCTAssertEqual(r.out["extra"], .int(1), "members not declared stay, as today")
        XCTAssertEqual(r.out["exit_code"], .int(0))
        // An integral float where an int is due is the int.
        let f = await run(#"echo '{"n": 3.0}'"#, outputs: [("n", "int")])
        XCTAssertEqual(f.out["n"], .int(3))
    }

    func testTheDriversImplicitOutputsCanBeDeclared() async {
        let r = await run("echo plain text", outputs: [("stdout", "string")])
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["stdout"], .string("plain text"))
    }

    func testAFailedAttemptKeepsItsOwnClass() async {
        let r = await run("echo nope >&2; exit 3", outputs: [("patch", "string")])
        XCTAssertEqual(r.errorClass, "agent_error")
    }

    func testAnHTTPBodyWithoutARequiredOutputIsAnOutputError() async throws {
        let server = try LoopbackServer { req in
            req.target.hasSuffix("prose") ? CannedResponse(status: 200, body: Array("all good!\n".utf8), headers: [("Content-Type", "text/plain")])
                : req.target.hasSuffix("typed") ? .json(200, #"{"id": "17"}"#) : .json(200, #"{"id": 17}"#)
        }
        defer { server.stop() }
        func call(_ path: String) async throws -> DriverResult {
            let p = try buildProgram("""
                agent hook {
                  driver: http
                  capabilities: ["http"]
                  url: "\(server.base)"
                }
                workflow w {
                  task notify {
                    agent: hook
                    call: "\(path)"
                    output id: int
                  }
                }
                """)
            let resolver = SecretResolver(specs: [], config: SecretConfig(environment: [:]), redactor: Redactor())
            return await HTTPDriver(program: p, secrets: resolver).run(task: taskIndex(p, "notify"), attempt: 1, agent: agentIndex(p, "hook"),
                                                                       idempotencyKey: "k", runID: "r", values: RenderValues())
        }
        let prose = try await call("prose")
        XCTAssertEqual(prose.errorClass, "output_error")
        XCTAssertEqual(prose.message, "task `notify`: output `id` is missing (it should be an int); the response body is not a JSON object: "
                       + "`all good!`")
        let typed = try await call("typed")
        XCTAssertEqual(typed.message, #"task `notify`: output `id` should be an int, got "17""#)
        let fine = try await call("fine")
        XCTAssertNil(fine.errorClass, fine.message)
        XCTAssertEqual(fine.out["id"], .int(17))
        XCTAssertEqual(fine.out["status"], .int(200))
    }
}
