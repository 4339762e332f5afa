import EzflowIR
import EzflowLSP
import EzflowTestSupport
import Foundation
import XCTest

/// Inlay hints and the hovers that explain a task's and a role's bounds, on an example
/// whose comments state the worst cases the proofs count (stdlib_pipeline.ezflow).
final class HintTests: XCTestCase {
    let path = Repo.url("examples/stdlib_pipeline.ezflow").path
    var uri: String { FileURI.uri(path) }

    func server() throws -> LanguageServer {
        let s = LanguageServer(version: "test", stdlibRoot: Repo.url("stdlib").path)
        _ = s.handle([Array(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#.utf8)])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        _ = s.handle([Array(#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"\#(uri)","languageId":"ezflow","version":1,"text":\#(quoted(text))}}}"#.utf8)])
        return s
    }

    func testEachTaskShowsItsWorstCaseAfterItsName() throws {
        let s = try server()
        let r = s.handle([Array(#"{"jsonrpc":"2.0","id":2,"method":"textDocument/inlayHint","params":{"textDocument":{"uri":"\#(uri)"},"range":{"start":{"line":0,"character":0},"end":{"line":200,"character":0}}}}"#.utf8)])
        guard case .array(let hints)? = r.first?["result"] else { return XCTFail("\(r)") }
        let shown = hints.map { h -> String in
            guard case .int(let line)? = h["position"]?["line"], case .int(let c)? = h["position"]?["character"],
                  case .string(let label)? = h["label"] else { return "?" }
            return "\(line):\(c) \(label)"
        }
        // The file's own comment: btr 1h, approval 1h, release 3 x 5m + 1s + 2s, notify 4 x 1m + 2s + 4s + 8s;
        // money: 3 x 300 s of `shell` at $0.0001/s, 4 calls of `webhook` at $0.0001.
        XCTAssertEqual(shown, ["32:10 ≤ 1h", "46:22 ≤ 1h", "54:14 ≤ 15m3s · ≤ $0.09", "67:13 ≤ 4m14s · ≤ $0.0004"])
        XCTAssertEqual(hints.first?["paddingLeft"], .bool(true))
    }

    func testHoverOfATaskGivesItsWorstTimeAndOfARoleItsEffectivePermissions() throws {
        let s = try server()
        func hover(_ line: Int, _ c: Int) -> String {
            let r = s.handle([Array(#"{"jsonrpc":"2.0","id":3,"method":"textDocument/hover","params":{"textDocument":{"uri":"\#(uri)"},"position":{"line":\#(line),"character":\#(c)}}}"#.utf8)])
            if case .string(let v)? = r.first?["result"]?["contents"]?["value"] { return v }
            return "\(r)"
        }
        XCTAssertTrue(hover(54, 8).contains("worst case time: 15m3s (all attempts, their timeouts and backoff)"), hover(54, 8))
        // A unit literal: `deadline: 3h` (line 19), and `money: $3` of the budget (line 26).
        XCTAssertTrue(hover(19, 13).contains("duration `3h`: duration\n```\n\n3h = 10,800,000 ms"), hover(19, 13))
        XCTAssertTrue(hover(26, 12).contains("$3.00 = 3,000,000 micro-dollars"), hover(26, 12))
        // `roles.developer` in the `release` task: allow run, the std/agents templates.
        let role = hover(55, 16)
        XCTAssertTrue(role.contains("effective permissions: allow run; agents: claude, gpt, shell, simulated, webhook; secrets: none"), role)
    }
}
