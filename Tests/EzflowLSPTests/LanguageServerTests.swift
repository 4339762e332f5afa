import EzflowIR
import EzflowLSP
import EzflowTestSupport
import XCTest

/// The server's state machine in process: batches of message bodies in, messages out.
final class LanguageServerTests: XCTestCase {
    var logged: [String] = []

    func server() -> LanguageServer {
        LanguageServer(version: "test", stdlibRoot: Repo.url("stdlib").path, log: { [unowned self] in logged.append($0) })
    }

    func send(_ s: LanguageServer, _ messages: String...) -> [JSONValue] {
        s.handle(messages.map { Array($0.utf8) })
    }

    let uri = "file:///nowhere/main.ezflow"

    func open(_ text: String) -> String {
        #"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"\#(uri)","languageId":"ezflow","version":1,"text":\#(quoted(text))}}}"#
    }

    func initialize(_ encodings: String = "[]") -> String {
        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"general":{"positionEncodings":\#(encodings)}}}}"#
    }

    func testUTF8IsTakenWhenOfferedAndPositionsAreBytes() {
        let s = server()
        let r = send(s, initialize(#"["utf-16","utf-8"]"#))
        XCTAssertEqual(r.first?["result"]?["capabilities"]?["positionEncoding"], .string("utf-8"))
        // `é` is two bytes: in UTF-8, `build` in the run line starts at character 11.
        let out = send(s, open("workflow w {\n  task build { run: \"é\" timeout: 1m }\n  task b2 { run: \"é${build.outputs.stdout}\" timeout: 1m }\n}\n"),
                       #"{"jsonrpc":"2.0","id":2,"method":"textDocument/definition","params":{"textDocument":{"uri":"\#(uri)"},"position":{"line":2,"character":23}}}"#)
        assertJSON(out.first { $0["id"] == .int(2) }, #"""
            {"jsonrpc":"2.0","id":2,"result":{"uri":"\#(uri)","range":{"start":{"line":1,"character":7},"end":{"line":1,"character":12}}}}
            """#)
    }

    /// JSON sets no range on numbers: a 20-digit process id or `1e400` in a field the server
    /// does not read leaves the request answered (the IR's parser stays strict).
    func testNumbersBeyond64BitsDoNotLoseTheRequest() {
        let s = server()
        let r = send(s, #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":12345678901234567890,"x":1e400,"y":-1e400,"z":\#(String(repeating: "9", count: 400)),"capabilities":{}}}"#)
        XCTAssertEqual(r.first?["id"], .int(1))
        XCTAssertNotNil(r.first?["result"]?["capabilities"], "\(r)")
        XCTAssertThrowsError(try JSONParser.parse(Array("12345678901234567890".utf8)))
        XCTAssertEqual(try JSONParser.parse(Array("-1e400".utf8), wideNumbers: true), .float(-Double.greatestFiniteMagnitude))
    }

    /// Inside an import string the stdlib's modules are offered, each replacing the whole
    /// path typed so far (its `/` included, which editors do not count as a word).
    func testImportPathsReplaceWhatWasTyped() {
        let s = server()
        _ = send(s, initialize())
        _ = send(s, open("import \"std/re\"\n"))
        let r = send(s, #"{"jsonrpc":"2.0","id":2,"method":"textDocument/completion","params":{"textDocument":{"uri":"\#(uri)"},"position":{"line":0,"character":14}}}"#)
        assertJSON(r.first, #"""
            {"jsonrpc":"2.0","id":2,"result":[
              {"label":"std/retry","kind":9,"detail":"standard library module","textEdit":{"range":{"start":{"line":0,"character":8},"end":{"line":0,"character":14}},"newText":"std/retry"}}]}
            """#)
    }

    /// A `$/cancelRequest` that arrives with the request (the server has not started it)
    /// cancels it; the rest of the batch is answered.
    func testACancelInTheSameBatchCancels() {
        let s = server()
        _ = send(s, initialize())
        let out = send(s, #"{"jsonrpc":"2.0","id":5,"method":"textDocument/hover","params":{}}"#,
                       #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":5}}"#,
                       #"{"jsonrpc":"2.0","id":6,"method":"shutdown"}"#)
        XCTAssertEqual(out.count, 2)
        assertJSON(out.first, #"{"jsonrpc":"2.0","id":5,"error":{"code":-32800,"message":"`textDocument/hover` was cancelled"}}"#)
        assertJSON(out.last, #"{"jsonrpc":"2.0","id":6,"result":null}"#)
    }

    /// `textDocument/formatting` is `ezc fmt`: one edit of the whole document, none when it
    /// is formatted already or does not parse; pull diagnostics give the published list.
    func testFormattingIsEzcFmtAndPullDiagnosticsThePublishedList() {
        let s = server()
        let caps = send(s, initialize()).first?["result"]?["capabilities"]
        XCTAssertEqual(caps?["documentFormattingProvider"], .bool(true))
        XCTAssertEqual(caps?["diagnosticProvider"]?["interFileDependencies"], .bool(true))
        let messy = "workflow   w {\n task build {run: \"make\"   timeout: 90m}\n}\n"
        _ = send(s, open(messy))
        let format = #"{"jsonrpc":"2.0","id":2,"method":"textDocument/formatting","params":{"textDocument":{"uri":"\#(uri)"},"options":{"tabSize":2,"insertSpaces":true}}}"#
        let edits = send(s, format).first?["result"]
        XCTAssertEqual(first(edits)?["range"], JSONValue.object([("start", .object([("line", .int(0)), ("character", .int(0))])),
                                                             ("end", .object([("line", .int(3)), ("character", .int(0))]))]))
        let formatted = text(first(edits)?["newText"])
        XCTAssertEqual(formatted, "workflow w {\n  task build {\n    run: \"make\"\n    timeout: 90m\n  }\n}\n")
        // Formatted already: no edit. Not parsing: no edit, the diagnostics say why.
        _ = send(s, #"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"\#(uri)","version":2},"contentChanges":[{"text":\#(quoted(formatted))}]}}"#)
        XCTAssertEqual(send(s, format).first?["result"], .array([]))
        _ = send(s, #"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"\#(uri)","version":3},"contentChanges":[{"text":"workflow w {"}]}}"#)
        XCTAssertEqual(send(s, format).first?["result"], .array([]))
        let pulled = send(s, #"{"jsonrpc":"2.0","id":3,"method":"textDocument/diagnostic","params":{"textDocument":{"uri":"\#(uri)"}}}"#).first?["result"]
        XCTAssertEqual(pulled?["kind"], .string("full"))
        XCTAssertEqual(first(pulled?["items"])?["source"], .string("ezc"))
        XCTAssertEqual(first(pulled?["items"])?["severity"], .int(1), "\(String(describing: pulled))")
        assertJSON(send(s, #"{"jsonrpc":"2.0","id":4,"method":"textDocument/formatting","params":{"textDocument":{"uri":"file:///not/open.ezflow"}}}"#).first, #"""
            {"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"`file:///not/open.ezflow` is not open"}}
            """#)
    }

    func first(_ v: JSONValue?) -> JSONValue? { if case .array(let a)? = v { a.first } else { nil } }
    func text(_ v: JSONValue?) -> String { if case .string(let s)? = v { s } else { "" } }

    func testLifecycleErrors() {
        let s = server()
        _ = send(s, initialize())
        assertJSON(send(s, initialize()).first, #"{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"`initialize` was already sent"}}"#)
        _ = send(s, #"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#)
        assertJSON(send(s, #"{"jsonrpc":"2.0","id":3,"method":"textDocument/hover","params":{}}"#).first, #"""
            {"jsonrpc":"2.0","id":3,"error":{"code":-32600,"message":"the server is shutting down: only `exit` is accepted"}}
            """#)
        XCTAssertNil(s.exitCode)
        XCTAssertEqual(s.statusAtEndOfInput, 0)
        // Nothing after `exit` is read.
        XCTAssertEqual(send(s, #"{"jsonrpc":"2.0","method":"exit"}"#, #"{"jsonrpc":"2.0","id":4,"method":"shutdown"}"#), [])
        XCTAssertEqual(s.exitCode, 0)
    }

    func testABadEditIsLoggedAndLeavesTheDocumentAsItWas() {
        let s = server()
        _ = send(s, initialize())
        XCTAssertEqual(send(s, open("workflow w {}\n")).count, 1)
        // The second change's range is not positions: the whole notification is refused.
        let out = send(s, #"""
            {"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"\#(uri)","version":2},"contentChanges":[
              {"text":"garbage"},{"range":{"start":{"line":0},"end":{"line":0,"character":1}},"text":"x"}]}}
            """#)
        XCTAssertEqual(out, [])
        XCTAssertEqual(logged, ["`textDocument/didChange`: `range.start.character` must be an integer"])
        // Still the opened text: hover finds the workflow's name.
        let hover = send(s, #"{"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":{"textDocument":{"uri":"\#(uri)"},"position":{"line":0,"character":9}}}"#)
        XCTAssertEqual(hover.first?["result"]?["contents"]?["value"], .string("```ezflow\nworkflow `w`\n```"))
    }

    func testAnEditThatChangesNothingPublishesOnlyTheNewVersion() {
        let s = server()
        _ = send(s, initialize())
        _ = send(s, open("workflow w {}\n"))
        let change = #"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"\#(uri)","version":2},"contentChanges":[{"text":"workflow w {}\n"}]}}"#
        assertJSON(send(s, change).first, #"{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"\#(uri)","version":2,"diagnostics":[]}}"#)
        // A save re-checks but publishes nothing new.
        XCTAssertEqual(send(s, #"{"jsonrpc":"2.0","method":"textDocument/didSave","params":{"textDocument":{"uri":"\#(uri)"}}}"#), [])
    }

    /// Labels elsewhere and notes become related information; the label's own words and
    /// the help line join the message.
    func testDiagnosticsCarryLabelsNotesAndHelp() {
        let s = server()
        _ = send(s, initialize())
        let out = send(s, open("workflow w {\n  task a { run: \"x\" timeout: 1m }\n  task a { run: \"y\" timeout: 1m }\n}\n"))
        func range(_ l: Int, _ a: Int, _ b: Int) -> String {
            #"{"start":{"line":\#(l),"character":\#(a)},"end":{"line":\#(l),"character":\#(b)}}"#
        }
        // Each code links to its section of the codes' reference beside the stdlib.
        let codes = FileURI.uri(Repo.url("docs/DIAGNOSTICS.md").path)
        assertJSON(out.first, #"""
            {"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"\#(uri)","version":1,"diagnostics":[
              {"range":\#(range(1, 11, 14)),"severity":1,"code":"E0500","codeDescription":{"href":"\#(codes)#E0500"},"source":"ezc",
               "message":"no agent can run task `a`\nneeds an exec agent\nhelp: declare an agent with these capabilities, or add one to the workflow's `agents` list",
               "relatedInformation":[{"location":{"uri":"\#(uri)","range":\#(range(1, 11, 14))},"message":"note: the pool has: no agents"}]},
              {"range":\#(range(2, 7, 8)),"severity":1,"code":"E0201","codeDescription":{"href":"\#(codes)#E0201"},"source":"ezc",
               "message":"`a` is declared twice in this workflow\nredeclared here\nhelp: task and group names must be unique",
               "relatedInformation":[{"location":{"uri":"\#(uri)","range":\#(range(1, 7, 8))},"message":"first declared here"}]}]}}
            """#)
    }

    /// Editing an open module re-checks the open files that import it: the importer's
    /// list is published again only because it changed.
    func testAnEditToAnImportedModuleRepublishesItsImporter() {
        let s = server()
        _ = send(s, initialize())
        let lib = "file:///nowhere/lib.ezflow"
        let main = "workflow w {\n  input t: l.Tier = l.Tier.high\n}\nimport \"lib\" as l\n"
        let opened = send(s, open(main), #"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"\#(lib)","languageId":"ezflow","version":1,"text":"enum Tier { low, high }\n"}}}"#)
        // The importer only warns (its input is never read).
        XCTAssertEqual(opened.map { $0["params"]?["diagnostics"]?.items?.compactMap { $0["code"]?.text } }, [[], ["W0100"]])
        let out = send(s, #"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"\#(lib)","version":2},"contentChanges":[{"range":{"start":{"line":0,"character":18},"end":{"line":0,"character":22}},"text":"top"}]}}"#)
        XCTAssertEqual(out.compactMap { $0["params"]?["uri"]?.text }, [lib, uri])
        XCTAssertEqual(out.last?["params"]?["diagnostics"]?.items?.compactMap { $0["code"]?.text }, ["W0100", "E0211"])
        XCTAssertEqual(s.checks, 4, "the module and its importer, twice")
    }

    /// An edit re-checks the edited document and the open ones that import it, not the
    /// others: their checks are kept and answer requests as before.
    func testAnEditRechecksOnlyTheDocumentsThatReadIt() {
        let s = server()
        _ = send(s, initialize())
        let other = "file:///nowhere/other.ezflow"
        let opened = send(s, open("workflow w {}\n"),
                          #"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"\#(other)","languageId":"ezflow","version":1,"text":"workflow other {}\n"}}}"#)
        XCTAssertEqual(opened.compactMap { $0["params"]?["uri"]?.text }, [uri, other])
        XCTAssertEqual(s.checks, 2)
        let out = send(s, #"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"\#(uri)","version":2},"contentChanges":[{"text":"workflow w2 {}\n"}]}}"#)
        assertJSON(out.first, #"{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"\#(uri)","version":2,"diagnostics":[]}}"#)
        XCTAssertEqual(out.count, 1)
        XCTAssertEqual(s.checks, 3)
        let hover = send(s, #"{"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":{"textDocument":{"uri":"\#(other)"},"position":{"line":0,"character":10}}}"#)
        XCTAssertEqual(hover.first?["result"]?["contents"]?["value"], .string("```ezflow\nworkflow `other`\n```"))
        XCTAssertEqual(s.checks, 3, "the other document's check was kept")
        // Closing a document re-checks every open one: what an import finds may have changed.
        _ = send(s, #"{"jsonrpc":"2.0","method":"textDocument/didClose","params":{"textDocument":{"uri":"\#(other)"}}}"#)
        XCTAssertEqual(s.checks, 4)
    }

    /// Every position of an example, with non-ASCII text in it, answers hover, definition
    /// and completion without a crash or an error (positions past a line's end included).
    func testEveryPositionOfAnExampleAnswers() throws {
        let s = server()
        _ = send(s, initialize())
        let text = try String(contentsOf: Repo.url("examples/stdlib_pipeline.ezflow"), encoding: .utf8)
            .replacingOccurrences(of: "Release ", with: "Reléase 😀 ")
        _ = send(s, open(text))
        var id = 10, answered = 0
        for (line, content) in text.components(separatedBy: "\n").enumerated() {
            for character in 0...(content.utf16.count + 1) {
                let at = #"{"textDocument":{"uri":"\#(uri)"},"position":{"line":\#(line),"character":\#(character)}}"#
                let batch = ["textDocument/hover", "textDocument/definition", "textDocument/completion"].map { m -> String in
                    id += 1
                    return #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(m)","params":\#(at)}"#
                }
                for r in s.handle(batch.map { Array($0.utf8) }) {
                    XCTAssertNil(r["error"], "\(line):\(character)")
                    answered += 1
                }
            }
        }
        XCTAssertGreaterThan(answered, 3 * text.utf16.count)
    }
}
