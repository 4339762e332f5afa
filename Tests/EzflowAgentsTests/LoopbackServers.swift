import EzflowAgents
import EzflowCompiler
import EzflowIR
import Foundation
import Glibc
import Synchronization
import XCTest

/// A request as the loopback server received it.
struct ReceivedRequest: Sendable {
    var method: String
    var target: String
    /// Header names lowercased.
    var headers: [String: String]
    var body: [UInt8]
    var json: JSONValue? { try? JSONParser.parse(body) }
}

/// What the loopback server answers.
struct CannedResponse: Sendable {
    var status: Int
    var body: [UInt8]
    var headers: [(String, String)] = [("Content-Type", "application/json")]
    /// Wait this long before answering (timeout tests).
    var delayMs: Int = 0

    static func json(_ status: Int, _ text: String, delayMs: Int = 0) -> CannedResponse {
        CannedResponse(status: status, body: Array(text.utf8), delayMs: delayMs)
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 (port chosen by the OS) inside the test process:
/// one thread accepts, one thread per connection, `Connection: close`. Written with
/// sockets rather than python so tests start in microseconds and can read every request.
final class LoopbackServer: Sendable {
    let port: Int
    private let listener: Int32
    private let log = Mutex<[ReceivedRequest]>([])
    private let handler: @Sendable (ReceivedRequest) -> CannedResponse

    var base: String { "http://127.0.0.1:\(port)" }
    var requests: [ReceivedRequest] { log.withLock { $0 } }

    init(_ handler: @escaping @Sendable (ReceivedRequest) -> CannedResponse) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw XCTSkip("socket() failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw XCTSkip("cannot listen on 127.0.0.1") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listener = fd
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    /// Stops accepting (connections being served finish on their own).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            let t = Thread { [self] in serve(c) }
            t.start()
        }
    }

    private func serve(_ c: Int32) {
        defer { close(c) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func readMore() -> Bool {
            let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return false }
            buf.append(contentsOf: chunk[0..<n])
            return true
        }
        let sep: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if buf.count >= 4 {
                for i in 0...(buf.count - 4) where Array(buf[i..<i + 4]) == sep { headEnd = i; break }
            }
            if headEnd == nil && !readMore() { return }
        }
        let head = String(decoding: buf[0..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for l in lines {
            guard let colon = l.firstIndex(of: ":") else { continue }
            headers[l[..<colon].lowercased()] = l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = headEnd! + 4
        while buf.count - bodyStart < length { if !readMore() { break } }
        let req = ReceivedRequest(method: requestLine.count > 0 ? String(requestLine[0]) : "",
                                  target: requestLine.count > 1 ? String(requestLine[1]) : "",
                                  headers: headers, body: Array(buf[bodyStart..<min(buf.count, bodyStart + length)]))
        log.withLock { $0.append(req) }
        let resp = handler(req)
        if resp.delayMs > 0 { usleep(UInt32(resp.delayMs) * 1000) }
        var out = "HTTP/1.1 \(resp.status) \(resp.status == 200 ? "OK" : "Status")\r\n"
        for (k, v) in resp.headers { out += "\(k): \(v)\r\n" }
        out += "Content-Length: \(resp.body.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array(out.utf8) + resp.body
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a client that gave up (timeout test) must not SIGPIPE the test runner.
            let n = bytes[sent...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

/// A loopback port nothing listens on (bound, then closed): connecting is refused.
func closedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    close(fd)
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Compiles an .ezflow source into a validated IR program.
func buildProgram(_ source: String, file: StaticString = #filePath, line: UInt = #line) throws -> IRProgram {
    let built = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source])
    let bytes = try XCTUnwrap(built.ir, "\(built.failure ?? "") \(built.check.diagnostics.map(\.message))", file: file, line: line)
    return try EzflowIR.validate(bytes)
}

/// Index of a task / an agent by name in the IR.
func taskIndex(_ p: IRProgram, _ name: String) -> Int {
    guard case .array(let ts)? = p.document["tasks"] else { return -1 }
    return ts.firstIndex { $0["name"] == .string(name) } ?? -1
}

func agentIndex(_ p: IRProgram, _ name: String) -> Int {
    guard case .array(let ags)? = p.document["agents"] else { return -1 }
    return ags.firstIndex { $0["name"] == .string(name) } ?? -1
}
