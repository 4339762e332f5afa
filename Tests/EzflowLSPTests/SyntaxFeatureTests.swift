import EzflowIR
import EzflowLSP
import EzflowTestSupport
import XCTest

/// Document symbols, folding ranges, semantic tokens and range formatting through the
/// server in process: the exact JSON an editor receives.
final class SyntaxFeatureTests: XCTestCase {
    let uri = "file:///nowhere/main.ezflow"

    func session(_ text: String, encodings: String = "[]") -> LanguageServer {
        let s = LanguageServer(version: "test", stdlibRoot: Repo.url("stdlib").path)
        _ = send(s, #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"general":{"positionEncodings":\#(encodings)}}}}"#)
        _ = send(s, #"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"\#(uri)","languageId":"ezflow","version":1,"text":\#(quoted(text))}}}"#)
        return s
    }

    func send(_ s: LanguageServer, _ messages: String...) -> [JSONValue] { s.handle(messages.map { Array($0.utf8) }) }

    func request(_ s: LanguageServer, _ method: String, _ extra: String = "") -> JSONValue? {
        send(s, #"{"jsonrpc":"2.0","id":2,"method":"\#(method)","params":{"textDocument":{"uri":"\#(uri)"}\#(extra)}}"#).first
    }

    func range(_ l0: Int, _ c0: Int, _ l1: Int, _ c1: Int) -> String {
        #"{"start":{"line":\#(l0),"character":\#(c0)},"end":{"line":\#(l1),"character":\#(c1)}}"#
    }

    func testCapabilitiesAnnounceTheLegend() {
        let s = LanguageServer(version: "test")
        let caps = send(s, #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).first?["result"]?["capabilities"]
        XCTAssertEqual(caps?["documentSymbolProvider"], .bool(true))
        XCTAssertEqual(caps?["foldingRangeProvider"], .bool(true))
        XCTAssertEqual(caps?["documentRangeFormattingProvider"], .bool(true))
        assertJSON(caps?["semanticTokensProvider"], #"""
            {"legend":{"tokenTypes":["namespace","type","class","enum","interface","struct","parameter","variable","property",
                                     "enumMember","event","function","macro","decorator","keyword","comment","string","number"],
                       "tokenModifiers":["declaration","readonly","defaultLibrary"]},
             "range":true,"full":true}
            """#)
    }

    func testDocumentSymbols() {
        let s = session("import \"std/retry\"\nworkflow w {\n  input n: int = 2\n  task a {\n    run: \"x\"\n    output o: string\n  }\n}\n")
        assertJSON(request(s, "textDocument/documentSymbol"), #"""
            {"jsonrpc":"2.0","id":2,"result":[
              {"name":"retry","detail":"std/retry","kind":4,"range":\#(range(0, 0, 0, 18)),"selectionRange":\#(range(0, 7, 0, 18))},
              {"name":"w","kind":2,"range":\#(range(1, 0, 7, 1)),"selectionRange":\#(range(1, 9, 1, 10)),"children":[
                {"name":"n","detail":"int = 2","kind":13,"range":\#(range(2, 2, 2, 18)),"selectionRange":\#(range(2, 8, 2, 9))},
                {"name":"a","detail":"run","kind":12,"range":\#(range(3, 2, 6, 3)),"selectionRange":\#(range(3, 7, 3, 8)),"children":[
                  {"name":"o","detail":"string","kind":8,"range":\#(range(5, 4, 5, 20)),"selectionRange":\#(range(5, 11, 5, 12))}]}]}]}
            """#)
    }

    func testFoldingRanges() {
        let s = session("# one\n# two\nworkflow w {\n  task a {\n    run: \"x\"\n  }\n}\n")
        assertJSON(request(s, "textDocument/foldingRange"), #"""
            {"jsonrpc":"2.0","id":2,"result":[
              {"startLine":0,"endLine":1,"kind":"comment"},{"startLine":2,"endLine":5},{"startLine":3,"endLine":4}]}
            """#)
    }

    /// `b` after 😀 in the string: 2 UTF-16 units but 4 bytes, so its start differs by 2
    /// between the encodings; the `"""` string is one token per line.
    static let tokensText = "workflow w {\n  task b { run: \"😀 ${b.status}\" timeout: 1m }\n  task c { run: \"\"\"\n    x\n    \"\"\" timeout: 1m }\n}\n"

    /// `data` from five-number groups (line delta, start delta, length, type, modifiers).
    func data(_ groups: [[Int]]) -> JSONValue {
        .object([("jsonrpc", .string("2.0")), ("id", .int(2)),
                 ("result", .object([("data", .array(groups.joined().map { .int(Int64($0)) }))]))])
    }

    func testSemanticTokensInUTF16AndUTF8() {
        // Types: 8 property, 11 function, 14 keyword, 16 string, 17 number; modifier 1: declaration.
        let line1Head = [[1, 2, 4, 14, 0], [0, 5, 1, 11, 1], [0, 4, 3, 8, 0]]
        let line1Tail = [[0, 2, 6, 8, 0], [0, 7, 1, 16, 0], [0, 2, 7, 8, 0], [0, 9, 2, 17, 0]]
        // The `"""` string: its first line's quotes, then each line whole, without the breaks.
        let rest = [[1, 2, 4, 14, 0], [0, 5, 1, 11, 1], [0, 4, 3, 8, 0], [0, 5, 3, 16, 0], [1, 0, 5, 16, 0], [1, 0, 7, 16, 0],
                    [0, 8, 7, 8, 0], [0, 9, 2, 17, 0]]
        let workflow = [[0, 0, 8, 14, 0], [0, 9, 1, 11, 1]]
        // `"😀 `: 4 UTF-16 units, 6 bytes; `b` after `${` starts 6 units or 8 bytes later.
        XCTAssertEqual(request(session(Self.tokensText), "textDocument/semanticTokens/full"),
                       data(workflow + line1Head + [[0, 5, 4, 16, 0], [0, 6, 1, 11, 0]] + line1Tail + rest))
        XCTAssertEqual(request(session(Self.tokensText, encodings: #"["utf-8"]"#), "textDocument/semanticTokens/full"),
                       data(workflow + line1Head + [[0, 5, 6, 16, 0], [0, 8, 1, 11, 0]] + line1Tail + rest))
        // A range: the tokens on line 1 only, still relative to the document's start.
        XCTAssertEqual(request(session(Self.tokensText), "textDocument/semanticTokens/range", #","range":\#(range(1, 0, 2, 0))"#),
                       data(line1Head + [[0, 5, 4, 16, 0], [0, 6, 1, 11, 0]] + line1Tail))
    }

    /// Only the member on the requested line is reprinted; a document that is not open
    /// is an error, one that does not parse gets no edit.
    func testRangeFormatting() {
        let s = session("workflow w {\n  task a {run: \"x\" timeout: 1m}\n   task b {run: \"y\" timeout: 1m}\n}\n")
        let options = #","options":{"tabSize":2,"insertSpaces":true}"#
        assertJSON(request(s, "textDocument/rangeFormatting", #","range":\#(range(2, 0, 2, 5))"# + options), #"""
            {"jsonrpc":"2.0","id":2,"result":[{"range":\#(range(2, 0, 3, 0)),"newText":"  task b {\n    run: \"y\"\n    timeout: 1m\n  }\n"}]}
            """#)
        let elsewhere = #"{"jsonrpc":"2.0","id":3,"method":"textDocument/rangeFormatting","params":{"textDocument":{"uri":"file:///not/open.ezflow"},"range":\#(range(0, 0, 0, 1))}}"#
        assertJSON(send(s, elsewhere).first, #"""
            {"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"`file:///not/open.ezflow` is not open"}}
            """#)
        _ = send(s, #"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"\#(uri)","version":2},"contentChanges":[{"text":"workflow w {"}]}}"#)
        assertJSON(request(s, "textDocument/rangeFormatting", #","range":\#(range(0, 0, 0, 5))"#), #"{"jsonrpc":"2.0","id":2,"result":[]}"#)
    }

    /// Every request on a document that does not parse answers (what parsed), and a
    /// missing `textDocument` is a -32602 naming it.
    func testABrokenDocumentAnswersAndBadParamsAreErrors() {
        let s = session("workflow w {\n  task a { run: \"x\n  task b {")
        for method in ["textDocument/documentSymbol", "textDocument/foldingRange", "textDocument/semanticTokens/full"] {
            XCTAssertNil(request(s, method)?["error"], method)
        }
        XCTAssertEqual(request(s, "textDocument/documentSymbol")?["result"]?.items?.first?["name"], .string("w"))
        assertJSON(send(s, #"{"jsonrpc":"2.0","id":4,"method":"textDocument/documentSymbol","params":{}}"#).first, #"""
            {"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"`params.textDocument` must be an object"}}
            """#)
        assertJSON(request(s, "textDocument/semanticTokens/range"), #"""
            {"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"`params.range` must be an object"}}
            """#)
    }

    /// Every example, with non-ASCII text in its comments and strings, in both encodings:
    /// decoding the relative data and reading each token back through the positions
    /// gives the same texts in UTF-8 and UTF-16, none empty, none crossing a line.
    func testTokensOfEveryExampleDecodeToTheSameTextsInBothEncodings() throws {
        for name in Repo.files(in: "examples", ext: ["ezflow"]) {
            let text = try String(contentsOf: Repo.url(name), encoding: .utf8)
                .replacingOccurrences(of: "# ", with: "# é😀 ").replacingOccurrences(of: "\"\"\"", with: "\u{1}")
                .replacingOccurrences(of: " \"", with: " \"😀").replacingOccurrences(of: "\u{1}", with: "\"\"\"")
            let lines = LineMap(Array(text.utf8))
            XCTAssertFalse(text.contains("\"😀\"\""), name)
            var texts: [PositionEncoding: [String]] = [:]
            for encoding in [PositionEncoding.utf16, .utf8] {
                let s = session(text, encodings: encoding == .utf8 ? #"["utf-8"]"# : "[]")
                let data = try XCTUnwrap(request(s, "textDocument/semanticTokens/full")?["result"]?["data"]?.items).map { v -> Int in
                    if case .int(let i) = v { return Int(i) } else { return -1 }
                }
                XCTAssertEqual(data.count % 5, 0)
                var line = 0, character = 0
                for i in stride(from: 0, to: data.count, by: 5) {
                    character = data[i] == 0 ? character + data[i + 1] : data[i + 1]
                    line += data[i]
                    XCTAssertGreaterThan(data[i + 2], 0, name)
                    let start = lines.offset(Position(line: line, character: character), encoding)
                    let end = lines.offset(Position(line: line, character: character + data[i + 2]), encoding)
                    let piece = String(decoding: lines.bytes[start..<end], as: UTF8.self)
                    XCTAssertFalse(piece.contains("\n"), name)
                    texts[encoding, default: []].append(piece)
                }
            }
            XCTAssertEqual(texts[.utf16], texts[.utf8], name)
            XCTAssertTrue(texts[.utf8]?.contains { $0.hasPrefix("\"😀") } ?? false, name)
        }
    }

    /// Mutants of every example (a run of bytes cut, garbage and line breaks pasted in,
    /// seeded so a failure reproduces) answer every one of these requests without an
    /// error, and the tokens decode to lines that exist.
    func testMutatedExamplesAnswerEveryRequest() throws {
        var seed: UInt64 = 0x5eed
        func next(_ bound: Int) -> Int {
            // SplitMix64.
            seed &+= 0x9E37_79B9_7F4A_7C15
            var z = seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(max(1, bound)))
        }
        let garbage: [[UInt8]] = [[0xF0, 0x9F, 0x98, 0x80], [13], [13, 10], [0xFF], Array("\"\"\"".utf8), Array("${".utf8), Array("}".utf8),
                                  Array("{\n".utf8), Array("# c\n".utf8), Array("import".utf8)]
        for name in Repo.files(in: "examples", ext: ["ezflow"]) {
            let original = Array(try String(contentsOf: Repo.url(name), encoding: .utf8).utf8)
            for round in 0..<8 {
                var bytes = original
                let cut = next(bytes.count)
                bytes.removeSubrange(cut..<min(bytes.count, cut + next(40)))
                for _ in 0..<3 { bytes.insert(contentsOf: garbage[next(garbage.count)], at: next(bytes.count + 1)) }
                let text = String(decoding: bytes, as: UTF8.self)
                let s = session(text, encodings: round % 2 == 0 ? "[]" : #"["utf-8"]"#)
                let lineCount = text.utf8.split(separator: 10, omittingEmptySubsequences: false).count
                for method in ["textDocument/documentSymbol", "textDocument/foldingRange", "textDocument/semanticTokens/full"] {
                    let r = request(s, method)
                    XCTAssertNil(r?["error"], "\(name) round \(round) seed \(seed): \(method)")
                    if method.hasSuffix("full"), let data = r?["result"]?["data"]?.items {
                        let lines = stride(from: 0, to: data.count, by: 5).reduce(0) { sum, i in
                            if case .int(let d) = data[i] { return sum + Int(d) } else { return sum }
                        }
                        XCTAssertLessThan(lines, lineCount + 1, "\(name) round \(round)")
                    }
                }
                let r = request(s, "textDocument/rangeFormatting", #","range":\#(range(next(40), 0, next(40) + 40, 0))"#)
                XCTAssertTrue(r?["error"] == nil || r?["error"]?["code"] == .int(-32803), "\(name) round \(round)")
            }
        }
    }
}
