import EzflowLSP
import XCTest

/// Content-Length framing: whatever a read returns — half a header, two messages at
/// once — the reader hands back whole bodies, and skips what is not a frame.
final class FramingTests: XCTestCase {
    func frames(_ chunks: [String]) -> [FrameReader.Frame] {
        var r = FrameReader()
        var out: [FrameReader.Frame] = []
        for c in chunks {
            r.append(Array(c.utf8))
            while let f = r.next() { out.append(f) }
        }
        return out
    }

    func body(_ s: String) -> FrameReader.Frame { .message(Array(s.utf8)) }

    func testAMessageSplitAnywhereIsReadWhole() {
        let whole = "Content-Length: 11\r\n\r\n{\"id\":\"é\"}"
        XCTAssertEqual(whole.utf8.count, 22 + 11)
        let bytes = Array(whole.utf8)
        for cut in 1..<bytes.count {
            var r = FrameReader()
            r.append(bytes[..<cut])
            XCTAssertNil(r.next(), "cut at \(cut)")
            r.append(bytes[cut...])
            XCTAssertEqual(r.next(), body("{\"id\":\"é\"}"), "cut at \(cut)")
            XCTAssertNil(r.next())
        }
    }

    func testJoinedMessagesComeOutInOrder() {
        XCTAssertEqual(frames(["Content-Length: 2\r\n\r\n{}Content-Length: 3\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n[1]content-length:1\r\n\r\n7"]),
                       [body("{}"), body("[1]"), body("7")])
    }

    func testABadContentLengthIsSkippedAndTheNextMessageRead() {
        XCTAssertEqual(frames(["Content-Length: twelve\r\n\r\n{\"a\":1}Content-Length: 2\r\n\r\n{}"]),
                       [.malformed("Content-Length `twelve` is not a byte count; the message was skipped"), body("{}")])
        XCTAssertEqual(frames(["Content-Length: -3\r\n\r\n", "Content-Length: 2\r\n\r\n{}"]),
                       [.malformed("Content-Length `-3` is not a byte count; the message was skipped"), body("{}")])
        XCTAssertEqual(frames(["Content-Length: 99999999999\r\n\r\nContent-Length: 2\r\n\r\n{}"]),
                       [.malformed("Content-Length 99999999999 is above the 67108864-byte limit; the header was skipped"), body("{}")])
    }

    func testAMissingHeaderIsSkipped() {
        XCTAssertEqual(frames(["Content-Type: text/plain\r\n\r\n{\"x\":1}", "Content-Len", "gth: 2\r\n\r\n{}"]),
                       [.malformed("a message header without Content-Length; the message was skipped"), body("{}")])
        XCTAssertEqual(frames(["hello world\r\n\r\nContent-Length: 2\r\n\r\n{}"]),
                       [.malformed("header line `hello world` is not `Name: value`; the message was skipped"), body("{}")])
    }

    /// Found by driving the server by hand: bare newlines, a stray line break, a body a
    /// few bytes longer than its length, two lengths — the next good message still comes.
    func testLenientEndingsAndRecoveryFromAFrameThatWasOff() {
        XCTAssertEqual(frames(["Content-Length: 2\n\n{}\r\nContent-Length: 3\r\n\r\n[1]"]), [body("{}"), body("[1]")])
        // The body says 2 but is 4: its tail runs into the next header, which is found.
        let off = frames(["Content-Length: 2\r\n\r\n{}}}Content-Length: 7\r\n\r\n{\"a\":1}"])
        XCTAssertEqual(off.first, body("{}"))
        XCTAssertEqual(off.last, body("{\"a\":1}"))
        XCTAssertEqual(frames(["Content-Length: 2\r\nContent-Length: 300\r\n\r\n{}Content-Length: 2\r\n\r\n[]"]),
                       [.malformed("two Content-Length fields (2 and 300); the message was skipped"), body("[]")])
    }

    func testEndlessGarbageIsDroppedNotKept() {
        var r = FrameReader()
        r.append(Array(repeating: UInt8(ascii: "x"), count: FrameReader.headerMax + 1))
        XCTAssertEqual(r.next(), .malformed("no message header in 8192 bytes; the bytes were skipped"))
        XCTAssertEqual(r.pending, 0)
    }

    func testFrameWritesTheByteLength() {
        XCTAssertEqual(String(decoding: FrameReader.frame(Array("{\"a\":\"日本\"}".utf8)), as: UTF8.self), "Content-Length: 14\r\n\r\n{\"a\":\"日本\"}")
    }
}
