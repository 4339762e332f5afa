import EzflowIR
import EzflowLSP
import XCTest

/// LSP positions count UTF-16 code units (or UTF-8 bytes when negotiated) per line; the
/// compiler counts UTF-8 bytes from the file's start.
final class PositionTests: XCTestCase {
    // Line 1: "é" is 2 bytes, 1 unit; "日本" 3 bytes each; "😀" 4 bytes, 2 UTF-16 units.
    let text = "ab\n#é日本😀x\r\nlast"
    var lines: LineMap { LineMap(Array(text.utf8)) }

    func testUTF16CharactersToBytesAndBack() {
        // (character in UTF-16, byte offset) on line 1, which starts at byte 3.
        let table = [(0, 3), (1, 4), (2, 6), (3, 9), (4, 12), (6, 16), (7, 17)]
        for (character, offset) in table {
            XCTAssertEqual(lines.offset(Position(line: 1, character: character), .utf16), offset, "character \(character)")
            XCTAssertEqual(lines.position(offset, .utf16), Position(line: 1, character: character), "offset \(offset)")
        }
    }

    func testUTF8CharactersAreBytesWithinTheLine() {
        for (character, offset) in [(0, 3), (1, 4), (3, 6), (6, 9), (9, 12), (13, 16), (14, 17)] {
            XCTAssertEqual(lines.offset(Position(line: 1, character: character), .utf8), offset)
            XCTAssertEqual(lines.position(offset, .utf8), Position(line: 1, character: character))
        }
    }

    /// A lone `\r` ends a line too (LSP 3.17, and what an editor shows for an old Mac file).
    func testEveryLineEndingTheProtocolNames() {
        let mixed = LineMap(Array("a\rbb\r\nccc\nd".utf8))
        for (line, start) in [(0, 0), (1, 2), (2, 6), (3, 10)] {
            XCTAssertEqual(mixed.offset(Position(line: line, character: 0), .utf16), start, "line \(line)")
            XCTAssertEqual(mixed.position(start, .utf16), Position(line: line, character: 0), "offset \(start)")
        }
        XCTAssertEqual(mixed.offset(Position(line: 1, character: 9), .utf16), 4, "a line's end is before its \\r\\n")
        XCTAssertEqual(mixed.offset(Position(line: 0, character: 9), .utf16), 1, "and before a lone \\r")
    }

    func testOutOfRangePositionsClamp() {
        // Past the line's end: its end, before "\r\n"; half an emoji: the emoji's start.
        XCTAssertEqual(lines.offset(Position(line: 1, character: 99), .utf16), 17)
        XCTAssertEqual(lines.offset(Position(line: 1, character: 5), .utf16), 12)
        XCTAssertEqual(lines.offset(Position(line: 9, character: 0), .utf16), text.utf8.count)
        XCTAssertEqual(lines.position(14, .utf16), Position(line: 1, character: 4))
        XCTAssertEqual(lines.position(1000, .utf16), Position(line: 2, character: 4))
    }

    func testNegotiationPrefersUTF8WhenOffered() {
        XCTAssertEqual(PositionEncoding.negotiate(["utf-16", "utf-8"]), .utf8)
        XCTAssertEqual(PositionEncoding.negotiate(["utf-32", "utf-16"]), .utf16)
        XCTAssertEqual(PositionEncoding.negotiate(nil), .utf16)
    }

    func change(_ l0: Int, _ c0: Int, _ l1: Int, _ c1: Int, _ text: String) -> JSONValue {
        func p(_ l: Int, _ c: Int) -> JSONValue { .object([("line", .int(Int64(l))), ("character", .int(Int64(c)))]) }
        return .object([("range", .object([("start", p(l0, c0)), ("end", p(l1, c1))])), ("text", .string(text))])
    }

    func testIncrementalEditsApplyInOrder() throws {
        var d = TextDocument(uri: "file:///tmp/x.ezflow", version: 1, text: text)
        // Replace "日本" (UTF-16 characters 2..<4 of line 1), then insert after the emoji
        // using positions of the text the first edit left.
        try d.apply([change(1, 2, 1, 4, "Z"), change(1, 5, 1, 5, "!")], .utf16)
        XCTAssertEqual(String(decoding: d.bytes, as: UTF8.self), "ab\n#éZ😀!x\r\nlast")
        // Across lines, and a full replacement after it.
        try d.apply([change(0, 1, 2, 2, "")], .utf16)
        XCTAssertEqual(String(decoding: d.bytes, as: UTF8.self), "ast")
        try d.apply([.object([("text", .string("new"))]), change(0, 3, 0, 3, " text")], .utf16)
        XCTAssertEqual(String(decoding: d.bytes, as: UTF8.self), "new text")
        XCTAssertEqual(d.path, "/tmp/x.ezflow")
    }

    func testFileURIsRoundTrip() {
        XCTAssertEqual(FileURI.path("file:///a/b%20c/d%C3%A9.ezflow"), "/a/b c/dé.ezflow")
        XCTAssertEqual(FileURI.path("file://localhost/a/../b.ezflow"), "/b.ezflow")
        XCTAssertNil(FileURI.path("untitled:Untitled-1"))
        XCTAssertEqual(FileURI.uri("/a/b c/dé.ezflow"), "file:///a/b%20c/d%C3%A9.ezflow")
    }
}
