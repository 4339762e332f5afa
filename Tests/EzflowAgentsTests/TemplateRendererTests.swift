import EzflowAgents
import EzflowIR
import XCTest

final class TemplateRendererTests: XCTestCase {
    func op(_ o: String, _ a: JSONValue...) -> JSONValue { .object([("op", .string(o)), ("args", .array(a))]) }
    func call(_ f: String, _ a: JSONValue...) -> JSONValue { .object([("call", .string(f)), ("args", .array(a))]) }
    func int(_ i: Int64) -> JSONValue { .object([("int", .int(i))]) }

    let values = RenderValues(
        inputs: ["name": .string("web"), "n": .int(3), "files": .array([.string("a.csv"), .string("b.csv")]),
                 "cfg": .object([("region", .string("eu")), ("opt", .null)])],
        taskOutputs: [0: .object([("image", .string("app:1"))]),
                      1: .array([.object([("rows", .string("10"))]), .object([("rows", .string("20"))])])],
        item: .object([("path", .string("x/y"))]),
        secrets: ["tok": "s3cr3t"])

    func testPartsAndRefs() throws {
        let r = TemplateRenderer(values: values)
        XCTAssertEqual(try r.render([text("deploy "), inputRef("name"), text(" "), outputRef(0, "image"), text(" to "),
                                     inputRef("cfg", "region")]), "deploy web app:1 to eu")
        XCTAssertEqual(try r.render([outputRef(1, "rows")]), #"["10","20"]"#)
        XCTAssertEqual(try r.render([call("join", outputRef(1, "rows"), text("+"))]), "10+20")
        XCTAssertEqual(try r.render([.object([("item", .array([.string("path")]))])]), "x/y")
        XCTAssertEqual(try r.render([secretRef("tok")]), "s3cr3t")
        XCTAssertEqual(try r.render([inputRef("cfg", "opt")]), "")
        XCTAssertEqual(try r.render([.object([("enum", .array([.string("Env"), .string("prod")]))])]), "prod")
        XCTAssertEqual(try r.render([.object([("duration_ms", .int(1500))])]), "1500")
    }

    func testMissingValuesAreErrors() {
        let r = TemplateRenderer(values: values)
        XCTAssertThrowsError(try r.render([inputRef("nope")]))
        XCTAssertThrowsError(try r.render([inputRef("cfg", "zone")]))
        XCTAssertThrowsError(try r.render([outputRef(0, "missing")]))
        XCTAssertThrowsError(try r.render([outputRef(7, "x")]))
        XCTAssertThrowsError(try r.render([secretRef("other")])) { e in
            XCTAssertEqual((e as? RenderError)?.message, "secret `other` is not granted to this task")
        }
        XCTAssertThrowsError(try TemplateRenderer(values: RenderValues()).render([.object([("item", .array([]))])]))
    }

    func testOperatorsAndCalls() throws {
        let r = TemplateRenderer(values: values)
        XCTAssertEqual(try r.evaluate(op("+", inputRef("n"), int(4))), .int(7))
        XCTAssertEqual(try r.evaluate(op("+", inputRef("name"), text("-x"))), .string("web-x"))
        XCTAssertEqual(try r.evaluate(op("*", inputRef("n"), .object([("float", .float(0.5))]))), .float(1.5))
        XCTAssertEqual(try r.evaluate(op("/", int(7), int(2))), .int(3))
        XCTAssertThrowsError(try r.evaluate(op("/", int(7), int(0))))
        XCTAssertEqual(try r.evaluate(op("==", inputRef("name"), text("web"))), .bool(true))
        XCTAssertEqual(try r.evaluate(op("<", int(2), inputRef("n"))), .bool(true))
        XCTAssertEqual(try r.evaluate(op("in", text("a.csv"), inputRef("files"))), .bool(true))
        XCTAssertEqual(try r.evaluate(op("&&", .object([("bool", .bool(false))]), inputRef("nope"))), .bool(false))
        XCTAssertEqual(try r.evaluate(op("??", inputRef("cfg", "opt"), text("dflt"))), .string("dflt"))
        XCTAssertEqual(try r.evaluate(op("!", .object([("bool", .bool(false))]))), .bool(true))
        XCTAssertEqual(try r.evaluate(op("neg", int(5))), .int(-5))
        XCTAssertEqual(try r.evaluate(call("len", inputRef("files"))), .int(2))
        XCTAssertEqual(try r.evaluate(call("upper", inputRef("name"))), .string("WEB"))
        XCTAssertEqual(try r.evaluate(call("contains", inputRef("name"), text("e"))), .bool(true))
        XCTAssertEqual(try r.evaluate(call("keys", inputRef("cfg"))), .array([.string("opt"), .string("region")]))
        XCTAssertEqual(try r.evaluate(call("default", inputRef("cfg", "opt"), int(1))), .int(1))
        XCTAssertEqual(try r.evaluate(.object([("index", .array([inputRef("files"), int(1)]))])), .string("b.csv"))
        XCTAssertThrowsError(try r.evaluate(.object([("index", .array([inputRef("files"), int(5)]))])))
        XCTAssertEqual(try r.evaluate(.object([("field", .array([inputRef("cfg"), .string("region")]))])), .string("eu"))
        XCTAssertEqual(try r.renderText(.object([("list", .array([int(1), text("a")]))])), #"[1,"a"]"#)
    }
}
