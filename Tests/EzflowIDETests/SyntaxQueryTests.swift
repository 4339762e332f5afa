import EzflowIDE
import EzflowTestSupport
import Foundation
import XCTest

/// Outline, folding ranges, semantic tokens and range formatting as plain values: the
/// exact answers an editor turns into its outline view, folds, colours and edits.
final class SyntaxQueryTests: XCTestCase {
    /// A text with 1-based `line:column` positions (columns in characters) for byte offsets.
    struct SourceFile {
        let path: String
        let bytes: [UInt8]
        init(path: String, text: String) {
            self.path = path
            self.bytes = Array(text.utf8)
        }

        func position(of offset: Int) -> (line: Int, column: Int) {
            let before = bytes[..<offset]
            let lineStart = (before.lastIndex(of: 10) ?? -1) + 1
            return (before.filter { $0 == 10 }.count + 1, String(decoding: bytes[lineStart..<offset], as: UTF8.self).count + 1)
        }

        func text(_ start: Int, _ end: Int) -> String { String(decoding: bytes[start..<end], as: UTF8.self) }
    }

    func example(_ path: String) throws -> (Analysis, SourceFile) {
        let text = try String(contentsOf: Repo.url(path), encoding: .utf8)
        return (Analysis(root: path, files: [path: text], stdlibRoot: Repo.url("stdlib").path), SourceFile(path: path, text: text))
    }

    func snippet(_ text: String) -> (Analysis, SourceFile) {
        (Analysis(root: "main.ezflow", files: ["main.ezflow": text], stdlibRoot: Repo.url("stdlib").path),
         SourceFile(path: "main.ezflow", text: text))
    }

    /// A symbol tree as lines: kind, name, [detail], `line:column` of its range and @ of its name.
    func outline(_ symbols: [DocumentSymbol], _ file: SourceFile, depth: Int = 0) -> String {
        func at(_ o: Int) -> String { let p = file.position(of: o); return "\(p.line):\(p.column)" }
        return symbols.map { s in
            String(repeating: "  ", count: depth) + "\(s.kind) \(s.name)" + (s.detail.isEmpty ? "" : " [\(s.detail)]")
                + " \(at(s.range.lowerBound))-\(at(s.range.upperBound)) @\(at(s.selection.lowerBound))-\(at(s.selection.upperBound))\n"
                + outline(s.children, file, depth: depth + 1)
        }.joined()
    }

    func testTheOutlineOfAnExample() throws {
        let (a, file) = try example("examples/llm_code_review.ezflow")
        XCTAssertEqual(outline(a.symbols(path: "examples/llm_code_review.ezflow"), file), """
            constant openai_key [env] 13:1-16:2 @13:8-13:18
            class git [exec] 18:1-23:2 @18:7-18:10
            class review_model [llm] 26:1-35:2 @26:7-26:19
            enum Verdict [APPROVE, REQUEST_CHANGES] 37:1-37:42 @37:6-37:13
              enumMember APPROVE 37:16-37:23 @37:16-37:23
              enumMember REQUEST_CHANGES 37:25-37:40 @37:25-37:40
            object llm_retry [attempts: 3, backoff: exponential, delay: 2s] 41:1-48:2 @41:7-41:16
            interface author [[run]] 51:1-54:2 @51:6-51:12
            interface code_reviewer [[run]] 57:1-61:2 @57:6-57:19
            interface maintainer [[approve]] 64:1-66:2 @64:6-64:16
            module llm_code_review 68:1-146:2 @68:10-68:25
              variable repo [string = "example/app"] 74:3-74:37 @74:9-74:13
              variable base [string = "main"] 75:3-75:30 @75:9-75:13
              variable head [string = "feature/dry-run"] 76:3-76:41 @76:9-76:13
              property review_comment [string] 78:3-78:32 @78:10-78:24
              object budget [money: $2, tokens: 100k tokens, time: 90m] 80:3-84:4 @80:3-80:9
              function fetch_diff [run] 86:3-94:4 @86:8-86:18
                field diff [string] 93:5-93:24 @93:12-93:16
              function review [prompt] 96:3-123:4 @96:8-96:14
                field review_comment [string] 114:5-114:34 @114:12-114:26
                field verdict [Verdict] 115:5-115:28 @115:12-115:19
                object budget [money: $0.30, tokens: 24k tokens, time: 13m] 118:5-122:6 @118:5-118:11
              function approve_review [approve] 126:3-135:4 @126:8-126:22
              function post_review [run] 137:3-145:4 @137:8-137:19

            """)
    }

    /// Every kind of declaration, nested blocks included, from a file that does not parse
    /// to its end: what parsed is outlined.
    func testTheOutlineHasEveryDeclarationAndSurvivesABrokenFile() {
        let (a, file) = snippet("""
            import "std/retry"
            import "lib.ezflow" as l
            import ""
            error flaky
            type Report { path: string, size: int }
            policy no_prod { effect: deny }
            workflow w {
              group g {
                repeat { max: 3 until: true }
                task t {
                  for_each: [1, 2]
                  run: "x"
                  retry { attempts: 2 }
                }
              }
              finally {
                task f { approve: "ok?" }
              }
              task broken { run:
            """)
        XCTAssertEqual(outline(a.symbols(path: "main.ezflow"), file), """
            package retry [std/retry] 1:1-1:19 @1:8-1:19
            package l [lib.ezflow] 2:1-2:25 @2:24-2:25
            package import 3:1-3:10 @3:8-3:10
            event flaky 4:1-4:12 @4:7-4:12
            struct Report 5:1-5:40 @5:6-5:12
              field path [string] 5:15-5:27 @5:15-5:19
              field size [int] 5:29-5:38 @5:29-5:33
            object no_prod 6:1-6:32 @6:8-6:15
            module w 7:1-19:21 @7:10-7:11
              namespace g 8:3-15:4 @8:9-8:10
                object repeat [max: 3] 9:5-9:34 @9:5-9:11
                function t [run, for_each] 10:5-14:6 @10:10-10:11
                  object retry [attempts: 2] 13:7-13:28 @13:7-13:12
              namespace finally 16:3-18:4 @16:3-16:10
                function f [approve] 17:5-17:30 @17:10-17:11
              function broken [run] 19:3-19:21 @19:8-19:14

            """)
    }

    func testFoldingRanges() {
        let (a, _) = snippet("""
            # A workflow
            # in two comment lines.
            import "std/retry"
            import "std/roles"

            workflow w {  # trailing, not a run
              input files: list[string] = [
                "a",
                "b",
              ]
              # one line: no fold
              task t {
                prompt: \"\"\"
                  Say hi.
                  \"\"\"
                run: "x" }
            }
            """)
        XCTAssertEqual(a.foldingRanges(path: "main.ezflow"), [
            FoldingRange(startLine: 0, endLine: 1, kind: .comment),
            FoldingRange(startLine: 2, endLine: 3, kind: .imports),
            FoldingRange(startLine: 5, endLine: 15),
            FoldingRange(startLine: 6, endLine: 8),
            // The task's `}` ends a line of code: that line folds too.
            FoldingRange(startLine: 11, endLine: 15),
            FoldingRange(startLine: 12, endLine: 13),
        ])
    }

    /// Tokens as `text:type[+modifiers]`, by position.
    func tokens(_ a: Analysis, _ file: SourceFile) -> [String] {
        a.semanticTokens(path: file.path).map { t in
            var mods: [String] = []
            if t.modifiers.contains(.declaration) { mods.append("declaration") }
            if t.modifiers.contains(.readonly) { mods.append("readonly") }
            if t.modifiers.contains(.defaultLibrary) { mods.append("defaultLibrary") }
            return file.text(t.start, t.end) + ":" + t.type.rawValue + mods.map { "+" + $0 }.joined()
        }
    }

    /// What the checker resolved colours each reference: a task, an input, an agent, a
    /// secret, a stdlib rule through its module, a built-in; non-ASCII text before a token
    /// leaves its byte offsets right.
    func testSemanticTokensFollowTheBindings() {
        let marked = Marked("""
            import "std/retry"
            secret key { provider: env key: "K" }
            agent bot { driver: exec capabilities: ["sh"] }
            workflow w {
              input n: int = 2
              task a { run: "é😀 ${1️⃣inputs.n}" secrets: [key] agent: bot timeout: 1m retry: retry.standard }
              task b { run: "${len(a.outputs.stdout)}" after: [a] when: a.status == status.succeeded timeout: 1m }
            }
            """)
        let (a, file) = snippet(marked.text)
        XCTAssertEqual(tokens(a, file), [
            "import:keyword", "\"std/retry\":string",
            "secret:keyword", "key:variable+declaration+readonly", "provider:property", "key:property", "\"K\":string",
            "agent:keyword", "bot:class+declaration", "driver:property", "capabilities:property", "\"sh\":string",
            "workflow:keyword", "w:function+declaration",
            "input:keyword", "n:parameter+declaration", "int:type+defaultLibrary", "2:number",
            "task:keyword", "a:function+declaration", "run:property", "\"é😀 :string", "inputs:keyword", "n:parameter", "\":string",
            "secrets:property", "key:variable+readonly", "agent:property", "bot:class", "timeout:property", "1m:number",
            "retry:property", "retry:namespace+defaultLibrary", "standard:macro+defaultLibrary",
            "task:keyword", "b:function+declaration", "run:property", "\":string", "len:function+defaultLibrary", "a:function",
            "outputs:keyword", "stdout:property", "\":string", "after:property", "a:function", "when:property", "a:function",
            "status:property", "status:enum+defaultLibrary", "succeeded:enumMember+defaultLibrary", "timeout:property", "1m:number",
        ])
        // `inputs` starts 2 bytes after the `${`, past é (2 bytes) and 😀 (4 bytes).
        let inputs = a.semanticTokens(path: "main.ezflow").first { $0.start == marked["1️⃣"] }
        XCTAssertEqual(inputs?.type, .keyword)
        XCTAssertEqual(inputs?.end, marked["1️⃣"] + 6)
    }

    func testSemanticTokensOfAYAMLFileAreLeftToTheEditor() throws {
        let (a, _) = try example("examples/saga.ezflow.yaml")
        XCTAssertFalse(a.symbols(path: "examples/saga.ezflow.yaml").isEmpty)
        XCTAssertEqual(a.semanticTokens(path: "examples/saga.ezflow.yaml"), [])
    }

    static let messy = """
        workflow   w {
         task a {run: "x"   timeout: 90m}
         task b {
              run: "y"
         timeout: 1m }
        }

        """

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// Only the changed lines inside the range are edited; the rest stays as it is.
    func testRangeFormattingEditsOnlyTheLinesAsked() throws {
        let text = Self.messy
        // Line 2 (`task b {`) to line 4: task b's lines only.
        let start = Array(text.utf8).split(separator: 10, omittingEmptySubsequences: false).prefix(2).map { $0.count + 1 }.reduce(0, +)
        let end = text.utf8.count - "}\n".utf8.count
        guard case .edits(let edits) = Formatting.formatRange(bytes(text), path: "m.ezflow", start: start, end: end) else {
            return XCTFail("refused")
        }
        var patched = bytes(text)
        for e in edits.reversed() { patched.replaceSubrange(e.start..<e.end, with: bytes(e.text)) }
        XCTAssertEqual(String(decoding: patched, as: UTF8.self), """
            workflow   w {
             task a {run: "x"   timeout: 90m}
              task b {
                run: "y"
                timeout: 1m
              }
            }

            """)
        // The whole file: the printer's text.
        guard case .edits(let all) = Formatting.formatRange(bytes(text), path: "m.ezflow", start: 0, end: text.utf8.count) else {
            return XCTFail("refused")
        }
        var whole = bytes(text)
        for e in all.reversed() { whole.replaceSubrange(e.start..<e.end, with: bytes(e.text)) }
        guard case .text(let canonical) = Formatting.format(bytes(text), path: "m.ezflow") else { return XCTFail("no text") }
        XCTAssertEqual(String(decoding: whole, as: UTF8.self), canonical)
        // Formatted already, or not parsing: nothing to do.
        XCTAssertEqual(Formatting.formatRange(bytes(canonical), path: "m.ezflow", start: 0, end: 5), .edits([]))
        XCTAssertEqual(Formatting.formatRange(bytes("workflow w {"), path: "m.ezflow", start: 0, end: 5), .doesNotParse)
    }

    /// An attribute on a line of its own is reprinted with its trailing comment; one
    /// sharing its line with a `}` is left as it is (its block is not all in the range).
    func testRangeFormattingReprintsOnlyMembersWithLinesOfTheirOwn() {
        let text = "workflow w {\n  task a {\n        run:    \"x\"   # why\n    timeout: 90m }\n}\n"
        let line2 = text.utf8.count - "        run:    \"x\"   # why\n    timeout: 90m }\n}\n".utf8.count
        let line3 = line2 + "        run:    \"x\"   # why\n".utf8.count
        XCTAssertEqual(Formatting.formatRange(bytes(text), path: "m.ezflow", start: line2 + 3, end: line2 + 3),
                       .edits([LineEdit(start: line2, end: line3, text: "    run: \"x\" # why\n")]))
        XCTAssertEqual(Formatting.formatRange(bytes(text), path: "m.ezflow", start: line3, end: line3 + 4), .edits([]))
        // Lines that end in `\r\n` keep their ending.
        let crlf = text.replacingOccurrences(of: "\n", with: "\r\n")
        let crlfLine2 = line2 + 2, crlfLine3 = line3 + 3
        XCTAssertEqual(Formatting.formatRange(bytes(crlf), path: "m.ezflow", start: crlfLine2, end: crlfLine2),
                       .edits([LineEdit(start: crlfLine2, end: crlfLine3, text: "    run: \"x\" # why\r\n")]))
    }

    /// Every example and stdlib file: tokens in order, none overlapping, none empty, the
    /// names among them spelled as written; folds unique per start line and at least two
    /// lines long; every symbol's name inside its range.
    func testEveryExampleAnswersWellFormedValues() throws {
        let paths = Repo.files(in: "examples", ext: ["ezflow"]) + Repo.files(in: "stdlib", ext: ["ezflow"])
        XCTAssertGreaterThan(paths.count, 10)
        for path in paths {
            let (a, file) = try example(path)
            let tokens = a.semanticTokens(path: path)
            XCTAssertGreaterThan(tokens.count, 20, path)
            for (t, next) in zip(tokens, tokens.dropFirst()) { XCTAssertLessThanOrEqual(t.end, next.start, path) }
            for t in tokens {
                XCTAssertLessThan(t.start, t.end, path)
                let text = file.text(t.start, t.end)
                if [.function, .parameter, .class, .interface, .macro, .namespace, .enumMember].contains(t.type) {
                    XCTAssertTrue(text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "\(path): `\(text)` as \(t.type)")
                }
            }
            let folds = a.foldingRanges(path: path)
            XCTAssertEqual(Set(folds.map(\.startLine)).count, folds.count, path)
            XCTAssertTrue(folds.allSatisfy { $0.endLine > $0.startLine }, path)
            func check(_ s: DocumentSymbol) {
                XCTAssertTrue(s.range.contains(s.selection.lowerBound) && s.selection.upperBound <= s.range.upperBound, "\(path): \(s.name)")
                XCTAssertFalse(s.name.isEmpty, path)
                s.children.forEach(check)
            }
            let symbols = a.symbols(path: path)
            XCTAssertFalse(symbols.isEmpty, path)
            symbols.forEach(check)
        }
    }

    /// Each example with its indentation stripped, formatted a line at a time (every other
    /// line, to keep the test quick): never
    /// refused, and every answer leaves a file with the same tree (the pair check inside);
    /// a range over every line is the printer's text.
    func testRangeFormattingEveryLineOfEveryExample() throws {
        for name in Repo.files(in: "examples", ext: ["ezflow"]) {
            let text = try String(contentsOf: Repo.url(name), encoding: .utf8)
            // Indentation inside `"""` strings is content: those lines keep theirs.
            var inString = false
            let messy = text.components(separatedBy: "\n").map { line -> String in
                let stripped = inString ? line : String(line.drop { $0 == " " })
                if line.components(separatedBy: "\"\"\"").count % 2 == 0 { inString.toggle() }
                return stripped
            }.joined(separator: "\n")
            let bytes = Array(messy.utf8)
            guard case .text(let canonical) = Formatting.format(bytes, path: name) else { return XCTFail("\(name) does not format") }
            var starts = [0]
            for (i, b) in bytes.enumerated() where b == 10 { starts.append(i + 1) }
            var edited = 0
            for s in starts.enumerated().filter({ $0.offset % 2 == 0 }).map(\.element) {
                switch Formatting.formatRange(bytes, path: name, start: s, end: s) {
                case .edits(let e): edited += e.count
                case .doesNotParse, .refused: XCTFail("\(name): line at \(s) refused")
                }
            }
            XCTAssertGreaterThan(edited, 0, name)
            guard case .edits(let all) = Formatting.formatRange(bytes, path: name, start: 0, end: bytes.count) else { return XCTFail(name) }
            var whole = bytes
            for e in all.reversed() { whole.replaceSubrange(e.start..<e.end, with: Array(e.text.utf8)) }
            XCTAssertEqual(String(decoding: whole, as: UTF8.self), canonical, name)
        }
    }
}
