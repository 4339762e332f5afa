// A tiny HTTP/1.1 server on 127.0.0.1 for tests of drivers and of `ezrun run` against
// http and llm agents (moved here so every test target can start one).
import EzflowIR
import Foundation
import Glibc
import Synchronization

public struct LoopbackServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A request as the loopback server received it.
public struct ReceivedRequest: Sendable {
    public var method: String
    public var target: String
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]
    public var json: JSONValue? { try? JSONParser.parse(body) }
}

/// What the loopback server answers.
public struct CannedResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    public var headers: [(String, String)] = [("Content-Type", "application/json")]
    /// Wait this long before answering (timeout tests).
    public var delayMs: Int = 0
    /// A streamed body: called after the head (sent without `Content-Length`) with a
    /// function that writes a piece and says whether the client still reads; the
    /// connection closes when it returns (a stream that never ends, or drops mid-way).
    public var stream: (@Sendable (_ send: ([UInt8]) -> Bool) -> Void)?

    public init(status: Int, body: [UInt8], headers: [(String, String)] = [("Content-Type", "application/json")], delayMs: Int = 0) {
        self.status = status
        self.body = body
        self.headers = headers
        self.delayMs = delayMs
    }

    public static func json(_ status: Int, _ text: String, delayMs: Int = 0) -> CannedResponse {
        CannedResponse(status: status, body: Array(text.utf8), delayMs: delayMs)
    }

    /// A `text/event-stream` answer written by `write`.
    public static func events(_ write: @escaping @Sendable (_ send: ([UInt8]) -> Bool) -> Void) -> CannedResponse {
        var r = CannedResponse(status: 200, body: [], headers: [("Content-Type", "text/event-stream")])
        r.stream = write
        return r
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 (port chosen by the OS) inside the test process:
/// one thread accepts, one thread per connection, `Connection: close`. Written with
/// sockets rather than python so tests start in microseconds and can read every request.
public final class LoopbackServer: Sendable {
    public let port: Int
    private let listener: Int32
    private let log = Mutex<[ReceivedRequest]>([])
    private let handler: @Sendable (ReceivedRequest) -> CannedResponse

    public var base: String { "http://127.0.0.1:\(port)" }
    public var requests: [ReceivedRequest] { log.withLock { $0 } }

    public init(_ handler: @escaping @Sendable (ReceivedRequest) -> CannedResponse) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackServerError(message: "socket() failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw LoopbackServerError(message: "cannot listen on 127.0.0.1") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listener = fd
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    /// Stops accepting (connections being served finish on their own).
    public func stop() {
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
        if resp.stream == nil { out += "Content-Length: \(resp.body.count)\r\n" }
        out += "Connection: close\r\n\r\n"
        guard write(c, Array(out.utf8) + resp.body) else { return }
        resp.stream?({ write(c, $0) })
    }

    /// Writes all of `bytes`; false when the client is gone.
    private func write(_ c: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a client that gave up (timeout test) must not SIGPIPE the test runner.
            let n = bytes[sent...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }
}

/// A loopback port nothing listens on (bound, then closed): connecting is refused.
public func closedPort() -> Int {
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

/// One raw HTTP/1.1 GET on 127.0.0.1 over a blocking socket; the whole response.
public func httpGet(port: UInt16, path: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { throw LoopbackServerError(message: "connect to 127.0.0.1:\(port) failed (errno \(errno))") }
    var tv = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    let req = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    _ = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}
