import EzflowIR
import EzflowLSP
import EzflowTestSupport
import Foundation
import XCTest

/// References and rename across files: a workspace folder with a library module and a
/// workflow importing it, one of them open (the other read from disk as the editor
/// leaves it), and the edits a rename sends back, exact.
final class NavigationTests: XCTestCase {
    var dir: URL!
    let lib = """
        # Shared declarations.
        error flaky

        retry careful {
          attempts: 3
          on: [flaky, timeout]
        }

        agent builder {
          driver: exec
          capabilities: ["shell"]
        }

        """
    let main = """
        import "lib"

        workflow ship {
          agents: [lib.builder]
          input branch: string = "main"

          task build {
            run: "make ${inputs.branch}"
            timeout: 5m
            retry: lib.careful
            output sha: string
          }

          task deploy {
            run: "deploy ${build.outputs.sha} ${inputs.branch}"
            timeout: 5m
            after: [build]
          }
        }

        """

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ezflow-nav-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try lib.write(to: dir.appendingPathComponent("lib.ezflow"), atomically: true, encoding: .utf8)
        try main.write(to: dir.appendingPathComponent("main.ezflow"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try FileManager.default.removeItem(at: dir) }

    var mainURI: String { FileURI.uri(dir.appendingPathComponent("main.ezflow").path) }
    var libURI: String { FileURI.uri(dir.appendingPathComponent("lib.ezflow").path) }

    /// A server with the folder as its workspace and `open` open.
    func server(open uri: String, _ text: String, clean: Bool = true) -> LanguageServer {
        let s = LanguageServer(version: "test", stdlibRoot: Repo.url("stdlib").path)
        _ = s.handle([Array(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{},"workspaceFolders":[{"uri":"\#(FileURI.uri(dir.path))","name":"w"}]}}"#.utf8)])
        let published = s.handle([Array(#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"\#(uri)","languageId":"ezflow","version":1,"text":\#(quoted(text))}}}"#.utf8)])
        if clean { XCTAssertEqual(published.first?["params"]?["diagnostics"], .array([]), "\(published)") }
        return s
    }

    func request(_ s: LanguageServer, _ method: String, _ uri: String, _ line: Int, _ character: Int, _ extra: String = "") -> JSONValue? {
        let body = #"{"jsonrpc":"2.0","id":7,"method":"\#(method)","params":{"textDocument":{"uri":"\#(uri)"},"position":{"line":\#(line),"character":\#(character)}\#(extra)}}"#
        return s.handle([Array(body.utf8)]).first
    }

    /// `"uri line:col-line:col"` per location, to compare lists at a glance.
    func spots(_ v: JSONValue?) -> [String] {
        guard case .array(let list)? = v else { return ["not a list: \(String(describing: v))"] }
        return list.map { l in
            let r = l["range"]
            func n(_ v: JSONValue?) -> String { if case .int(let i)? = v { "\(i)" } else { "?" } }
            func p(_ k: String) -> String { "\(n(r?[k]?["line"])):\(n(r?[k]?["character"]))" }
            let name = (l["uri"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "?").split(separator: "/").last ?? "?"
            return "\(name) \(p("start"))-\(p("end"))"
        }
    }

    func testReferencesOfATaskAnInputAndAnOutput() {
        let s = server(open: mainURI, main)
        // `build` in `after: [build]` (line 16): its declaration, its use in `deploy`'s run and the `after`.
        XCTAssertEqual(spots(request(s, "textDocument/references", mainURI, 16, 13, #","context":{"includeDeclaration":true}"#)?["result"]),
                       ["main.ezflow 6:7-6:12", "main.ezflow 14:19-14:24", "main.ezflow 16:12-16:17"])
        XCTAssertEqual(spots(request(s, "textDocument/references", mainURI, 16, 13, #","context":{"includeDeclaration":false}"#)?["result"]),
                       ["main.ezflow 14:19-14:24", "main.ezflow 16:12-16:17"])
        // The input `branch`, from its declaration: the name segment of each `inputs.branch`.
        XCTAssertEqual(spots(request(s, "textDocument/references", mainURI, 4, 9, #","context":{"includeDeclaration":true}"#)?["result"]),
                       ["main.ezflow 4:8-4:14", "main.ezflow 7:24-7:30", "main.ezflow 14:47-14:53"])
        // The output `sha` from its use `build.outputs.sha`.
        XCTAssertEqual(spots(request(s, "textDocument/references", mainURI, 14, 36, #","context":{"includeDeclaration":true}"#)?["result"]),
                       ["main.ezflow 10:11-10:14", "main.ezflow 14:33-14:36"])
        // The same from the output's declaration in its task.
        XCTAssertEqual(spots(request(s, "textDocument/references", mainURI, 10, 12, #","context":{"includeDeclaration":true}"#)?["result"]),
                       ["main.ezflow 10:11-10:14", "main.ezflow 14:33-14:36"])
        // On `inputs` of `inputs.branch`: the name to rename is further right.
        XCTAssertEqual(request(s, "textDocument/prepareRename", mainURI, 7, 20)?["error"]?["message"], .string("put the cursor on `branch` to rename it"))
    }

    /// The library is open, the workflow is not: its uses are found through the
    /// workspace folder (the workflow is checked as a root, reading the library).
    func testReferencesFromALibraryFindTheImportersOnDisk() {
        let s = server(open: libURI, lib)
        // `flaky` (line 1) is used in `careful`'s `on:` in its own file only.
        XCTAssertEqual(spots(request(s, "textDocument/references", libURI, 1, 7, #","context":{"includeDeclaration":true}"#)?["result"]),
                       ["lib.ezflow 1:6-1:11", "lib.ezflow 5:7-5:12"])
        // `careful` is used by main.ezflow as `lib.careful`.
        XCTAssertEqual(spots(request(s, "textDocument/references", libURI, 3, 8, #","context":{"includeDeclaration":true}"#)?["result"]),
                       ["lib.ezflow 3:6-3:13", "main.ezflow 9:15-9:22"])
    }

    func testRenameEditsEveryFileAndRefusesWhatWouldBreak() {
        let s = server(open: libURI, lib)
        // prepareRename: the name's range and text.
        assertJSON(request(s, "textDocument/prepareRename", libURI, 8, 8), #"""
            {"jsonrpc":"2.0","id":7,"result":{"range":{"start":{"line":8,"character":6},"end":{"line":8,"character":13}},"placeholder":"builder"}}
            """#)
        assertJSON(request(s, "textDocument/rename", libURI, 8, 8, #","newName":"compiler""#), #"""
            {"jsonrpc":"2.0","id":7,"result":{"changes":{
              "\#(libURI)":[{"range":{"start":{"line":8,"character":6},"end":{"line":8,"character":13}},"newText":"compiler"}],
              "\#(mainURI)":[{"range":{"start":{"line":3,"character":15},"end":{"line":3,"character":22}},"newText":"compiler"}]}}}
            """#)
        // A clash with another declaration of the module, a keyword, not a name: refused, nothing edited.
        assertJSON(request(s, "textDocument/rename", libURI, 8, 8, #","newName":"careful""#), #"""
            {"jsonrpc":"2.0","id":7,"error":{"code":-32803,"message":"renaming agent `builder` to `careful` would make E0201: `careful` is declared twice"}}
            """#)
        assertJSON(request(s, "textDocument/rename", libURI, 8, 8, #","newName":"import""#), #"""
            {"jsonrpc":"2.0","id":7,"error":{"code":-32803,"message":"`import` is not a name: use letters, digits and `_`, starting with a letter or `_`"}}
            """#)
        assertJSON(request(s, "textDocument/rename", libURI, 8, 8, #","newName":"a b""#), #"""
            {"jsonrpc":"2.0","id":7,"error":{"code":-32803,"message":"`a b` is not a name: use letters, digits and `_`, starting with a letter or `_`"}}
            """#)
    }

    /// A task, an input and an error class: every use, and only the name in each.
    func testRenameATaskAnInputAndAnErrorClass() {
        let s = server(open: mainURI, main)
        func edits(_ r: JSONValue?, _ uri: String) -> [String] {
            guard case .array(let list)? = r?["result"]?["changes"]?[uri] else { return ["no edits: \(String(describing: r))"] }
            return spots(.array(list)).map { $0.split(separator: " ").last.map(String.init) ?? "" }
        }
        let task = request(s, "textDocument/rename", mainURI, 16, 13, #","newName":"compile""#)
        XCTAssertEqual(edits(task, mainURI), ["6:7-6:12", "14:19-14:24", "16:12-16:17"])
        let input = request(s, "textDocument/rename", mainURI, 7, 26, #","newName":"ref""#)
        XCTAssertEqual(edits(input, mainURI), ["4:8-4:14", "7:24-7:30", "14:47-14:53"])
        // The error class is declared in lib.ezflow (on disk), used there by `careful`.
        let s2 = server(open: libURI, lib)
        let flaky = request(s2, "textDocument/rename", libURI, 5, 8, #","newName":"brittle""#)
        XCTAssertEqual(edits(flaky, libURI), ["1:6-1:11", "5:7-5:12"])
        // A problem the file already had, naming the task, does not block its rename.
        let broken = main.replacingOccurrences(of: "${build.outputs.sha}", with: "${build.outputs.nope}")
        let s3 = server(open: mainURI, broken, clean: false)
        XCTAssertEqual(edits(request(s3, "textDocument/rename", mainURI, 16, 13, #","newName":"compile""#), mainURI),
                       ["6:7-6:12", "14:19-14:24", "16:12-16:17"])
        // A task renamed onto the name of another is refused by the check.
        let clash = request(s, "textDocument/rename", mainURI, 16, 13, #","newName":"deploy""#)
        XCTAssertEqual(clash?["error"]?["code"], .int(-32803))
    }

    /// A YAML workflow on disk that uses the library is found and renamed too.
    func testAYAMLImporterOnDiskIsSearched() throws {
        try """
            import:
              - {path: lib, as: lib}

            workflow other:
              agents: [lib.builder]
              task t:
                run: "true"
                timeout: 1m

            """.write(to: dir.appendingPathComponent("other.ezflow.yaml"), atomically: true, encoding: .utf8)
        let s = server(open: libURI, lib)
        XCTAssertEqual(spots(request(s, "textDocument/references", libURI, 8, 8, #","context":{"includeDeclaration":false}"#)?["result"]),
                       ["main.ezflow 3:15-3:22", "other.ezflow.yaml 4:15-4:22"])
    }

    /// Past the limit of files searched, a rename is refused (it could miss uses) and
    /// references answer what they found.
    func testAWorkspaceTooLargeToSearchRefusesRename() throws {
        let many = dir.appendingPathComponent("many")
        try FileManager.default.createDirectory(at: many, withIntermediateDirectories: true)
        for i in 0..<2_000 { try Data().write(to: many.appendingPathComponent("f\(i).ezflow")) }
        let s = server(open: libURI, lib)
        XCTAssertEqual(request(s, "textDocument/rename", libURI, 8, 8, #","newName":"compiler""#)?["error"]?["message"],
                       .string("the workspace folders hold more than 2000 ezflow files: a rename could miss uses in the others; open a smaller folder"))
        XCTAssertNotNil(request(s, "textDocument/references", libURI, 8, 8, #","context":{"includeDeclaration":true}"#)?["result"])
    }

    func testRenameAnImportAliasAddsAsAndAStdlibNameIsRefused() throws {
        let text = main.replacingOccurrences(of: "retry: lib.careful", with: "retry: retry.standard")
            .replacingOccurrences(of: "import \"lib\"", with: "import \"lib\"\nimport \"std/retry\"")
        let s = server(open: mainURI, text)
        // `lib` in `lib.builder` (line 4): the import gains `as tools`, each use is renamed.
        assertJSON(request(s, "textDocument/rename", mainURI, 4, 12, #","newName":"tools""#), #"""
            {"jsonrpc":"2.0","id":7,"result":{"changes":{"\#(mainURI)":[
              {"range":{"start":{"line":0,"character":12},"end":{"line":0,"character":12}},"newText":" as tools"},
              {"range":{"start":{"line":4,"character":11},"end":{"line":4,"character":14}},"newText":"tools"}]}}}
            """#)
        // `standard` lives in the stdlib: not the workspace's to edit.
        let r = request(s, "textDocument/prepareRename", mainURI, 10, 20)
        XCTAssertEqual(r?["error"]?["message"], .string("`standard` is declared in the standard library (stdlib/retry.ezflow), which a rename does not edit"), "\(String(describing: r))")
    }
}
