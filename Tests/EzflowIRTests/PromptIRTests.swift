// A prompt task's `system`, `messages`, `temperature` and `stop` in the IR, its implicit
// output `messages`, and its declared outputs read back as types and as a JSON schema.
import EzflowCompiler
import EzflowIR
import EzflowTestSupport
import Foundation
import XCTest

final class PromptIRTests: XCTestCase {
    func task(_ doc: JSONValue, _ name: String) -> JSONValue? {
        guard case .array(let ts)? = doc["tasks"] else { return nil }
        return ts.first { $0["name"] == .string(name) }
    }

    func testPromptAttributesReachTheIR() throws {
        let bytes = try XCTUnwrap(irBytes("Tests/Fixtures/check/clean_prompt_conversation.ezflow"))
        let doc = try JSONParser.parse(bytes)
        XCTAssertNoThrow(try EzflowIR.validate(bytes))
        let draft = try XCTUnwrap(task(doc, "draft")), polish = try XCTUnwrap(task(doc, "polish")), review = try XCTUnwrap(task(doc, "review"))
        XCTAssertEqual(draft["system"], .array([
            .object([("text", .string("You write release notes for version "))]), .object([("ref", .array([.string("inputs"), .string("version")]))]),
            .object([("text", .string("."))]),
        ]))
        XCTAssertEqual(draft["temperature_ppm"], .int(700_000))
        XCTAssertNil(draft["messages"])
        XCTAssertNil(draft["stop"])
        XCTAssertEqual(polish["stop"], .array([.string("\n\n\n")]))
        // `draft.outputs.messages`: a reference to the dependency's output.
        XCTAssertEqual(polish["messages"], .object([("ref", .array([.string("task"), .int(0), .string("outputs"), .string("messages")]))]))
        XCTAssertEqual(polish["deps"], .array([.int(0)]))
        XCTAssertEqual(review["temperature_ppm"], .int(0))
        XCTAssertEqual(review["retry"]?["on"], .array([.string("output_error"), .string("transient")]))
        XCTAssertEqual(review["outputs"], .array([
            .object([("name", .string("messages")), ("type", .string("list[{content: string, role: string}]"))]),
            .object([("name", .string("note")), ("type", .string("string?"))]),
            .object([("name", .string("reasons")), ("type", .string("list[string]"))]),
            .object([("name", .string("text")), ("type", .string("string"))]),
            .object([("name", .string("tokens")), ("type", .string("tokens"))]),
            .object([("name", .string("verdict")), ("type", .string("Verdict"))]),
        ]))
        // A `run` task has none of them, not even as null: earlier IR keeps its hash.
        let other = try JSONParser.parse(try XCTUnwrap(irBytes("examples/ci_pipeline.ezflow")))
        guard case .array(let ts)? = other["tasks"] else { return XCTFail("no tasks") }
        for t in ts { for k in ["system", "messages", "temperature_ppm", "stop"] { XCTAssertNil(t[k], k) } }
    }

    /// The declared outputs as types (implicit ones left out) and as the schema sent.
    func testDeclaredOutputsAsTypesAndSchema() throws {
        let doc = try JSONParser.parse(try XCTUnwrap(irBytes("Tests/Fixtures/check/clean_prompt_conversation.ezflow")))
        let review = try XCTUnwrap(task(doc, "review"))
        let fields = try XCTUnwrap(OutputSchema.declared(task: review, types: doc["types"]))
        XCTAssertEqual(fields, [
            OutputField(name: "note", type: .optional(.string)), OutputField(name: "reasons", type: .list(.string)),
            OutputField(name: "verdict", type: .enumeration(name: "Verdict", cases: ["APPROVE", "REQUEST_CHANGES"])),
        ])
        XCTAssertNil(OutputSchema.declared(task: try XCTUnwrap(task(doc, "draft")), types: doc["types"]))
        let schema = try XCTUnwrap(OutputSchema.of(task: review, types: doc["types"]))
        XCTAssertTrue(OutputSchema.isStrict(schema))
        XCTAssertEqual(String(decoding: CanonicalJSON.encode(schema), as: UTF8.self),
                       #"{"additionalProperties":false,"properties":{"note":{"type":["string","null"]},"#
                       + #""reasons":{"items":{"type":"string"},"type":"array"},"verdict":{"enum":["APPROVE","REQUEST_CHANGES"],"type":"string"}},"#
                       + #""required":["note","reasons","verdict"],"type":"object"}"#)
    }

    /// Every type the language has, read from its IR spelling, as the schema says it.
    func testTypeMapping() throws {
        let types: JSONValue = .object([
            ("Finding", .object([("record", .object([("line", .string("int")), ("file", .string("path")), ("fix", .string("string?"))]))])),
            ("Level", .object([("enum", .array([.string("LOW"), .string("HIGH")]))])),
        ])
        func schema(_ ir: String) throws -> String {
            let t = try XCTUnwrap(OutputType(ir: ir, types: types), ir)
            return String(decoding: CanonicalJSON.encode(OutputSchema.schema(t)), as: UTF8.self)
        }
        XCTAssertEqual(try schema("float"), #"{"type":"number"}"#)
        XCTAssertEqual(try schema("bool?"), #"{"type":["boolean","null"]}"#)
        XCTAssertEqual(try schema("duration"), #"{"description":"milliseconds","type":"integer"}"#)
        XCTAssertEqual(try schema("money"), #"{"description":"micro-dollars","type":"integer"}"#)
        XCTAssertEqual(try schema("Level?"), #"{"enum":["LOW","HIGH",null],"type":["string","null"]}"#)
        XCTAssertEqual(try schema("list[Finding]?"),
                       #"{"anyOf":[{"items":{"additionalProperties":false,"properties":{"file":{"type":"string"},"#
                       + #""fix":{"type":["string","null"]},"line":{"type":"integer"}},"required":["file","fix","line"],"type":"object"},"#
                       + #""type":"array"},{"type":"null"}]}"#)
        XCTAssertEqual(try schema("json"), "{}")
        XCTAssertNil(OutputType(ir: "list[Nope]", types: types))
        XCTAssertNil(OutputType(ir: "list[int", types: types))
        // A record's optional field left out reads as null; an extra field is refused.
        let finding = try XCTUnwrap(OutputType(ir: "Finding", types: types))
        let ok = OutputContract.check(task: "t", fields: [OutputField(name: "f", type: finding)],
                                      reply: .object([("f", .object([("file", .string("a.swift")), ("line", .float(3))]))]))
        XCTAssertEqual(try ok.get().first?.1, .object([("file", .string("a.swift")), ("fix", .null), ("line", .int(3))]))
        let extra = OutputContract.check(task: "t", fields: [OutputField(name: "f", type: finding)],
                                         reply: .object([("f", .object([("file", .string("a")), ("line", .int(1)), ("col", .int(2))]))]))
        XCTAssertEqual(extra.failureMessage, "task `t`: output `f` has a field `col` that a record `Finding` does not have")
    }

    /// The IR validator knows the prompt's fields: only on `prompt` tasks, `stop` at most 4.
    func testValidatorRefusesPromptFieldsElsewhere() throws {
        let bytes = try XCTUnwrap(irBytes("Tests/Fixtures/check/clean_prompt_conversation.ezflow"))
        let doc = try JSONParser.parse(bytes)
        func refused(_ change: (JSONValue) -> JSONValue?) -> String? {
            var d = edit(doc, [.key("tasks"), .index(2)], { $0.flatMap(change) })
            d = rehash(d)
            do { _ = try EzflowIR.validate(CanonicalJSON.encode(d)); return nil } catch { return error.description }
        }
        XCTAssertEqual(refused { self.set($0, "stop", .array((1...5).map { .string("s\($0)") })) },
                       "tasks[2].stop: at most 4 sequences, found 5")
        XCTAssertEqual(refused { self.set($0, "temperature_ppm", .int(2_000_001)) }, "tasks[2].temperature_ppm: must be <= 2000000, found 2000001")
        XCTAssertEqual(refused { self.set(self.set($0, "action", .string("call")), "system", .array([])) },
                       "tasks[2].system: only a `prompt` task takes `system`")
    }

    func set(_ o: JSONValue, _ key: String, _ v: JSONValue) -> JSONValue {
        guard case .object(var m) = o else { return o }
        if let i = m.firstIndex(where: { $0.0 == key }) { m[i].1 = v } else { m.append((key, v)) }
        return .object(m)
    }

    func rehash(_ d: JSONValue) -> JSONValue {
        guard case .object(var m) = d, let h = m.firstIndex(where: { $0.0 == "hash" }) else { return d }
        m[h].1 = .string(IRDocument.hash(of: m))
        return .object(m)
    }
}

extension Result where Failure == OutputMismatch {
    var failureMessage: String? { if case .failure(let m) = self { m.message } else { nil } }
}
