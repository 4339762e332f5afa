import EzflowIR
import EzflowLSP
import EzflowTestSupport
import XCTest

/// Quick fixes as an editor applies them: each is asked for at its diagnostic, its edit
/// applied to the text, and the file checked again: the diagnostic is gone and nothing
/// new appeared.
final class CodeActionTests: XCTestCase {
    func server() -> LanguageServer {
        let s = LanguageServer(version: "test", stdlibRoot: Repo.url("stdlib").path)
        _ = s.handle([Array(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#.utf8)])
        return s
    }

    /// Opens `text` as `uri`, asks for the code actions at the first diagnostic with
    /// `code`, and returns them with the text after applying the one titled `title`
    /// (and the diagnostics of that text).
    func fix(_ text: String, _ code: String, _ title: String, uri: String = "file:///nowhere/main.ezflow")
        -> (titles: [String], fixed: String, after: [String]) {
        let s = server()
        let open = s.handle([Array(#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"\#(uri)","languageId":"ezflow","version":1,"text":\#(quoted(text))}}}"#.utf8)])
        guard case .array(let diags)? = open.first?["params"]?["diagnostics"],
              let d = diags.first(where: { $0["code"] == .string(code) }), let range = d["range"] else {
            XCTFail("no \(code) in \(open)")
            return ([], text, [])
        }
        let body = #"{"jsonrpc":"2.0","id":2,"method":"textDocument/codeAction","params":{"textDocument":{"uri":"\#(uri)"},"range":\#(String(decoding: CanonicalJSON.encode(range), as: UTF8.self)),"context":{"diagnostics":[]}}}"#
        guard case .array(let actions)? = s.handle([Array(body.utf8)]).first?["result"] else {
            XCTFail("no code actions")
            return ([], text, [])
        }
        let titles = actions.compactMap { if case .string(let t)? = $0["title"] { t } else { nil } }
        guard let action = actions.first(where: { $0["title"] == .string(title) }) else { return (titles, text, []) }
        XCTAssertEqual(action["kind"], .string("quickfix"))
        if case .array(let ds)? = action["diagnostics"] { XCTAssertEqual(ds.first?["code"], .string(code)) }
        guard case .array(let edits)? = action["edit"]?["changes"]?[uri] else {
            XCTFail("no edits of \(uri): \(action)")
            return (titles, text, [])
        }
        // Applied from the last edit back, as an editor does.
        var bytes = Array(text.utf8)
        let lines = LineMap(bytes)
        let spans = edits.map { e -> (Int, Int, String) in
            func at(_ k: String) -> Int {
                guard case .int(let l)? = e["range"]?[k]?["line"], case .int(let c)? = e["range"]?[k]?["character"] else { return 0 }
                return lines.offset(Position(line: Int(l), character: Int(c)), .utf16)
            }
            guard case .string(let t)? = e["newText"] else { return (0, 0, "") }
            return (at("start"), at("end"), t)
        }
        for (a, b, t) in spans.sorted(by: { $0.0 > $1.0 }) { bytes.replaceSubrange(a..<b, with: Array(t.utf8)) }
        let fixed = String(decoding: bytes, as: UTF8.self)
        let change = s.handle([Array(#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"\#(uri)","version":2},"contentChanges":[{"text":\#(quoted(fixed))}]}}"#.utf8)])
        var after: [String] = []
        if case .array(let list)? = change.first?["params"]?["diagnostics"] {
            after = list.compactMap { if case .string(let c)? = $0["code"] { c } else { nil } }
        }
        return (titles, fixed, after)
    }

    let header = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
        }

        secret token {
          provider: env
          key: "TOKEN"
        }

        """

    func testDidYouMeanReplacesTheName() {
        let r = fix("""
            import "std/retry"

            agent sh {
              driver: exec
              capabilities: ["shell"]
            }

            workflow w {
              agents: [sh]
              task build {
                run: "make"
                timeout: 1m
                retry: retry.standrd
              }
            }

            """, "E0200", "replace with `standard`")
        XCTAssertEqual(r.titles, ["replace with `standard`"])
        XCTAssertTrue(r.fixed.contains("retry: retry.standard\n"), r.fixed)
        XCTAssertEqual(r.after, [])
    }

    func testAGrantIsAddedToTheRolesList() {
        let r = fix(header + """
            role deployer {
              allow: [run]
              agents: [sh]
            }

            workflow w {
              agents: [sh]
              task deploy {
                role: deployer
                run: "printf %s ${secrets.token} | deploy"
                timeout: 1m
              }
            }

            """, "E0502", "add `token` to the `secrets` of role `deployer`")
        XCTAssertTrue(r.fixed.contains("role deployer {\n  secrets: [token]\n  allow: [run]\n"), r.fixed)
        XCTAssertEqual(r.after, [])

        // Into an existing list, and an agent grant into a one-line role.
        let s = fix(header + """
            role deployer { allow: [run] }

            workflow w {
              agents: [sh]
              task deploy {
                role: deployer
                agent: sh
                run: "deploy"
                timeout: 1m
              }
            }

            """, "E0503", "add `sh` to the `agents` of role `deployer`")
        XCTAssertTrue(s.fixed.contains("role deployer { agents: [sh] allow: [run] }"), s.fixed)
        XCTAssertEqual(s.after, [])

        let t = fix(header + """
            role deployer {
              allow: []
              agents: [sh]
            }

            workflow w {
              agents: [sh]
              task deploy {
                role: deployer
                run: "deploy"
                timeout: 1m
              }
            }

            """, "E0501", "add `run` to the `allow` of role `deployer`")
        XCTAssertTrue(t.fixed.contains("  allow: [run]\n"), t.fixed)
        XCTAssertEqual(t.after, [])
    }

    func testOnConflictIsAddedToAnOutputWrittenInParallel() {
        let r = fix(header + """
            workflow w {
              agents: [sh]
              output version: string

              task a {
                run: "echo 1"
                timeout: 1m
                output version: string
                writes: [version]
              }

              task b {
                run: "echo 2"
                timeout: 1m
                output version: string
                writes: [version]
              }
            }

            """, "E0700", "add `on_conflict: last_writer`")
        XCTAssertTrue(r.fixed.contains("  output version: string { on_conflict: last_writer }\n"), r.fixed)
        XCTAssertEqual(r.after, [])
    }

    func testAnUnquotedYAMLValueIsQuoted() {
        let r = fix("""
            agent sh:
              driver: exec
              capabilities: ["shell"]

            workflow w:
              agents: [sh]
              task build:
                run: make all
                timeout: 1m

            """, "E0104", "quote the value", uri: "file:///nowhere/main.ezflow.yaml")
        XCTAssertTrue(r.fixed.contains("    run: \"make all\"\n"), r.fixed)
        XCTAssertEqual(r.after, [])
    }

    /// A client asking only for refactorings gets no quick fix.
    func testOnlyOtherKindsGetNone() {
        let s = server()
        _ = s.handle([Array(#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///n/m.ezflow","languageId":"ezflow","version":1,"text":"workflow w { task a { run: \"x\" timeout: 1m retry: nope } }"}}}"#.utf8)])
        let r = s.handle([Array(#"{"jsonrpc":"2.0","id":3,"method":"textDocument/codeAction","params":{"textDocument":{"uri":"file:///n/m.ezflow"},"range":{"start":{"line":0,"character":0},"end":{"line":0,"character":60}},"context":{"diagnostics":[],"only":["refactor"]}}}"#.utf8)])
        XCTAssertEqual(r.first?["result"], .array([]))
    }
}
