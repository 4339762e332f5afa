import EzflowIR
import EzflowLSP
import EzflowTestSupport
import Foundation
import XCTest

/// Parses JSON text written in a test (expected values and messages to send).
func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue {
    do { return try JSONParser.parse(Array(text.utf8)) } catch {
        XCTFail("bad JSON in the test: \(error)", file: file, line: line)
        return .null
    }
}

/// A JSON string literal of `s`, to splice a document's text into a message.
func quoted(_ s: String) -> String { String(decoding: CanonicalJSON.encode(.string(s)), as: UTF8.self) }

/// The built `ezc lsp` as a real subprocess on pipes: messages are written framed to its
/// stdin; everything on its stdout must be frames of JSON (anything else is recorded
/// and fails `assertOnlyProtocol`).
final class LSPClient: @unchecked Sendable {
    let process = Process()
    let input = Pipe(), output = Pipe(), errors = Pipe()
    let lock = NSLock()
    var reader = FrameReader()
    var messages: [JSONValue] = []
    var notProtocol: [String] = []
    var stderrBytes: [UInt8] = []

    init(_ args: [String] = ["lsp", "--stdlib", Repo.url("stdlib").path]) throws {
        var exe = Repo.executable("ezc")
        if let dir = ProcessInfo.processInfo.environment["EZFLOW_BIN_DIR"], !dir.isEmpty {
            exe = URL(fileURLWithPath: dir).appendingPathComponent("ezc")
        }
        process.executableURL = exe
        process.arguments = args
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        output.fileHandleForReading.readabilityHandler = { [weak self] h in self?.received(h.availableData) }
        errors.fileHandleForReading.readabilityHandler = { [weak self] h in
            guard let self else { return }
            let d = h.availableData
            self.lock.withLock { self.stderrBytes += d }
        }
        try process.run()
    }

    func received(_ data: Data) {
        lock.withLock {
            reader.append(data)
            while let f = reader.next() {
                switch f {
                case .message(let body):
                    if let v = try? JSONParser.parse(body) { messages.append(v) } else { notProtocol.append(String(decoding: body, as: UTF8.self)) }
                case .malformed(let why): notProtocol.append(why)
                }
            }
        }
    }

    var stderr: String { lock.withLock { String(decoding: stderrBytes, as: UTF8.self) } }

    func send(raw bytes: [UInt8]) { input.fileHandleForWriting.write(Data(bytes)) }
    func send(_ text: String) { send(raw: FrameReader.frame(Array(text.utf8))) }

    func notify(_ method: String, _ params: String) {
        send(#"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params)}"#)
    }

    /// Sends a request and waits for its response.
    func request(_ id: Int, _ method: String, _ params: String = "{}") -> JSONValue? {
        send(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#)
        return next { $0["id"] == .int(Int64(id)) }
    }

    /// The first message (removed) that `matches`, waiting for it up to `timeout` seconds.
    func next(timeout: Double = 30, _ matches: (JSONValue) -> Bool) -> JSONValue? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let found: JSONValue? = lock.withLock {
                guard let i = messages.firstIndex(where: matches) else { return nil }
                return messages.remove(at: i)
            }
            if let found { return found }
            usleep(5_000)
        }
        return nil
    }

    /// The next `publishDiagnostics` of `uri`.
    func diagnostics(_ uri: String) -> JSONValue? {
        next { $0["method"] == .string("textDocument/publishDiagnostics") && $0["params"]?["uri"] == .string(uri) }?["params"]
    }

    /// Closes stdin and waits for the exit status.
    func exitStatus(closing: Bool = true, timeout: Double = 30) -> Int32? {
        if closing { try? input.fileHandleForWriting.close() }
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { usleep(5_000) }
        if process.isRunning { process.terminate(); return nil }
        return process.terminationStatus
    }

    func assertOnlyProtocol(file: StaticString = #filePath, line: UInt = #line) {
        lock.withLock {
            XCTAssertEqual(notProtocol, [], "ezc lsp wrote something other than protocol on stdout", file: file, line: line)
            XCTAssertEqual(reader.pending, 0, "ezc lsp left half a message on stdout", file: file, line: line)
        }
    }

    deinit { if process.isRunning { process.terminate() } }
}

/// Compares JSON values and shows both, pretty, when they differ.
func assertJSON(_ actual: JSONValue?, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
    let want = json(expected, file: file, line: line)
    XCTAssertTrue(actual == want, "got\n\(actual.map(CanonicalJSON.pretty) ?? "nothing")\nexpected\n\(CanonicalJSON.pretty(want))", file: file, line: line)
}

extension JSONValue {
    var items: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    var text: String? { if case .string(let s) = self { return s } else { return nil } }
}
