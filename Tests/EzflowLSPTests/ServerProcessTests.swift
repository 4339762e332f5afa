import EzflowIR
import EzflowLSP
import EzflowTestSupport
import Foundation
import XCTest

/// `ezc lsp` as an editor runs it: a separate process on pipes, driven through a session
/// on an example (open, a breaking edit, hover, definition, completion, shutdown), and
/// fed garbage. Every value asserted is what the editor would show.
final class ServerProcessTests: XCTestCase {
    let path = Repo.url("examples/stdlib_pipeline.ezflow").path
    var uri: String { FileURI.uri(path) }

    func initialize(_ c: LSPClient, encodings: String = #"["utf-16"]"#) -> JSONValue? {
        let r = c.request(1, "initialize", #"{"processId":null,"rootUri":null,"capabilities":{"general":{"positionEncodings":\#(encodings)}}}"#)
        c.notify("initialized", "{}")
        return r
    }

    /// (line, UTF-16 character) of the `n`th occurrence of `needle` in `text`, plus `skip` characters.
    func position(of needle: String, in text: String, _ n: Int = 1, skip: Int = 0) -> (Int, Int) {
        var seen = 0
        for (i, line) in text.components(separatedBy: "\n").enumerated() {
            var rest = line[...]
            while let r = rest.range(of: needle) {
                seen += 1
                if seen == n { return (i, line[..<r.lowerBound].utf16.count + skip) }
                rest = rest[r.upperBound...]
            }
        }
        XCTFail("`\(needle)` not found")
        return (0, 0)
    }

    func at(_ p: (Int, Int)) -> String {
        #"{"textDocument":{"uri":"\#(uri)"},"position":{"line":\#(p.0),"character":\#(p.1)}}"#
    }

    func testASessionOnAnExample() throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let c = try LSPClient()
        assertJSON(initialize(c), #"""
            {"jsonrpc":"2.0","id":1,"result":{"capabilities":{
              "positionEncoding":"utf-16",
              "textDocumentSync":{"openClose":true,"change":2,"save":{"includeText":false}},
              "hoverProvider":true,"definitionProvider":true,"completionProvider":{"triggerCharacters":["."]},
              "documentFormattingProvider":true,"referencesProvider":true,"codeActionProvider":{"codeActionKinds":["quickfix"]},"inlayHintProvider":true,"renameProvider":{"prepareProvider":true},
              "diagnosticProvider":{"interFileDependencies":true,"workspaceDiagnostics":false},
              "workspace":{"workspaceFolders":{"supported":true,"changeNotifications":true}},
              "documentSymbolProvider":true,"foldingRangeProvider":true,
              "semanticTokensProvider":{"legend":{
                "tokenTypes":["namespace","type","class","enum","interface","struct","parameter","variable","property",
                              "enumMember","event","function","macro","decorator","keyword","comment","string","number"],
                "tokenModifiers":["declaration","readonly","defaultLibrary"]},"range":true,"full":true},
              "documentRangeFormattingProvider":true},
             "serverInfo":{"name":"ezc","version":"0.1.0"}}}
            """#)

        // The example is clean: an empty list, for the version opened.
        c.notify("textDocument/didOpen", #"{"textDocument":{"uri":"\#(uri)","languageId":"ezflow","version":1,"text":\#(quoted(text))}}"#)
        assertJSON(c.diagnostics(uri), #"{"uri":"\#(uri)","version":1,"diagnostics":[]}"#)

        // One didChange with two incremental edits: a typo in a stdlib retry rule's name,
        // and non-ASCII text ahead of `btr` on the approval line (é: 1 UTF-16 unit, 2
        // bytes; 😀: 2 units, 4 bytes), so positions after it differ in bytes and units.
        let typo = position(of: "retry.standard", in: text, skip: 11)  // the second `a` of `standard`
        let release = position(of: "\"Release", in: text, skip: 1)
        c.notify("textDocument/didChange", #"""
            {"textDocument":{"uri":"\#(uri)","version":2},"contentChanges":[
              {"range":{"start":{"line":\#(typo.0),"character":\#(typo.1)},"end":{"line":\#(typo.0),"character":\#(typo.1 + 1)}},"text":""},
              {"range":{"start":{"line":\#(release.0),"character":\#(release.1)},"end":{"line":\#(release.0),"character":\#(release.1 + 7)}},"text":"Reléase 😀"}]}
            """#)
        assertJSON(c.diagnostics(uri), #"""
            {"uri":"\#(uri)","version":2,"diagnostics":[{
              "range":{"start":{"line":\#(typo.0),"character":\#(typo.1 - 5)},"end":{"line":\#(typo.0),"character":\#(typo.1 + 2)}},
              "severity":1,"code":"E0200","codeDescription":{"href":"\#(FileURI.uri(Repo.url("docs/DIAGNOSTICS.md").path))#E0200"},"source":"ezc",
              "message":"cannot find retry `standrd` in module `retry`\nhelp: did you mean `standard`?"}]}
            """#)

        // Hover on `btr` in `${btr.outputs.artifact}`, after the edit: 3 UTF-16 units
        // further right than before (7 characters became 10).
        let btr = position(of: "${btr.outputs.artifact}", in: text, skip: 2 + 3)
        XCTAssertEqual(btr.0, release.0)
        assertJSON(c.request(2, "textDocument/hover", at((btr.0, btr.1 + 1))), #"""
            {"jsonrpc":"2.0","id":2,"result":{
              "contents":{"kind":"markdown","value":"```ezflow\ntask `btr`\n```\n\nRuns std/build_test_review with its own agents, roles and budget.\naction `workflow`; agent: picked from the pool\nworst case time: 1h"},
              "range":{"start":{"line":\#(btr.0),"character":\#(btr.1)},"end":{"line":\#(btr.0),"character":\#(btr.1 + 3)}}}}
            """#)

        // Definition: the task's name in this file, and a retry rule in the stdlib.
        let decl = position(of: "task btr", in: text, skip: 5)
        assertJSON(c.request(3, "textDocument/definition", at((btr.0, btr.1 + 2))), #"""
            {"jsonrpc":"2.0","id":3,"result":{"uri":"\#(uri)",
              "range":{"start":{"line":\#(decl.0),"character":\#(decl.1)},"end":{"line":\#(decl.0),"character":\#(decl.1 + 3)}}}}
            """#)
        let network = position(of: "retry.network", in: text, skip: 8)
        let stdlibFile = Repo.url("stdlib/retry.ezflow").path
        let stdlibText = try String(contentsOfFile: stdlibFile, encoding: .utf8)
        let rule = position(of: "retry network", in: stdlibText, skip: 6)
        assertJSON(c.request(4, "textDocument/definition", at(network)), #"""
            {"jsonrpc":"2.0","id":4,"result":{"uri":"\#(FileURI.uri(stdlibFile))",
              "range":{"start":{"line":\#(rule.0),"character":\#(rule.1)},"end":{"line":\#(rule.0),"character":\#(rule.1 + 7)}}}}
            """#)

        // Completion after `inputs.` and after `btr.outputs.`.
        let inputs = position(of: "inputs.repo", in: text, skip: 7)
        assertJSON(c.request(5, "textDocument/completion", at(inputs)), #"""
            {"jsonrpc":"2.0","id":5,"result":[
              {"label":"branch","kind":6,"detail":"string"},{"label":"repo","kind":6,"detail":"string"},{"label":"version","kind":6,"detail":"string"}]}
            """#)
        let outputs = position(of: "btr.outputs.artifact", in: text, 2, skip: 12)
        let items = c.request(6, "textDocument/completion", at(outputs))?["result"]?.items?.compactMap { $0["label"] }
        XCTAssertEqual(items, [.string("artifact"), .string("verdict")])

        // Unknown requests are refused by code; unknown notifications are ignored.
        c.notify("workspace/didChangeConfiguration", #"{"settings":{}}"#)
        assertJSON(c.request(7, "workspace/symbol", #"{"query":""}"#),
                   #"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no method `workspace/symbol`"}}"#)

        // Closing clears the file's diagnostics.
        c.notify("textDocument/didClose", #"{"textDocument":{"uri":"\#(uri)"}}"#)
        assertJSON(c.diagnostics(uri), #"{"uri":"\#(uri)","diagnostics":[]}"#)

        assertJSON(c.request(8, "shutdown"), #"{"jsonrpc":"2.0","id":8,"result":null}"#)
        c.notify("exit", "null")
        XCTAssertEqual(c.exitStatus(closing: false), 0)
        c.assertOnlyProtocol()
        XCTAssertEqual(c.stderr, "")
    }

    /// `exit` without `shutdown` is an abnormal end: status 1.
    func testExitWithoutShutdownIsStatusOne() throws {
        let c = try LSPClient()
        XCTAssertNotNil(initialize(c))
        c.notify("exit", "null")
        XCTAssertEqual(c.exitStatus(closing: false), 1)
        c.assertOnlyProtocol()
    }

    /// Garbage gets an error response or is skipped with a log line, and the server
    /// goes on answering; the input ending without `shutdown` is status 1.
    func testGarbageNeverStopsTheServer() throws {
        let c = try LSPClient()
        c.send(raw: Array("Content-Length: lots\r\n\r\n\u{0}\u{1}binary".utf8))
        c.send("this is not JSON")
        assertJSON(c.next { $0["error"] != nil }, #"""
            {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the message is not JSON: invalid JSON at byte 0: invalid literal"}}
            """#)
        c.send(#"{"jsonrpc":"2.0","id":"x","method":7}"#)
        assertJSON(c.next { $0["id"] == .string("x") },
                   #"{"jsonrpc":"2.0","id":"x","error":{"code":-32600,"message":"`method` must be a string"}}"#)
        // Before `initialize`, requests are refused with -32002.
        assertJSON(c.request(2, "textDocument/hover", at((0, 0))), #"""
            {"jsonrpc":"2.0","id":2,"error":{"code":-32002,"message":"the server is not initialized: send `initialize` first"}}
            """#)
        XCTAssertNotNil(initialize(c)?["result"]?["capabilities"])
        // Bad params: -32602 naming what is wrong.
        assertJSON(c.request(3, "textDocument/hover", #"{"textDocument":{"uri":"\#(uri)"},"position":{"line":"one","character":0}}"#),
                   #"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"`position.line` must be an integer"}}"#)
        // A file that does not parse is diagnostics, and hover on it is an answer.
        let broken = FileURI.uri("/nonexistent/broken.ezflow")
        c.notify("textDocument/didOpen", #"{"textDocument":{"uri":"\#(broken)","languageId":"ezflow","version":1,"text":"workflow w { task t { run: \"x"}}"#)
        let codes = c.diagnostics(broken)?["diagnostics"]?.items?.compactMap { $0["code"]?.text }
        XCTAssertEqual(codes?.first, "E0105")  // the unclosed `{`, first by position
        XCTAssertNotNil(c.request(4, "textDocument/hover", #"{"textDocument":{"uri":"\#(broken)"},"position":{"line":0,"character":20}}"#)?["result"])
        XCTAssertEqual(c.exitStatus(), 1)
        c.assertOnlyProtocol()
        XCTAssertEqual(c.stderr, "ezc lsp: Content-Length `lots` is not a byte count; the message was skipped\n")
    }
}
