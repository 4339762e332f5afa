// A minimal HTTP/1.1 endpoint for Prometheus scrapes (`--metrics-port`) and a worker's
// health probes (`ezrun worker --health-port`). One request per connection, answered on
// the server's own thread with plain Glibc sockets: a scrape or a probe is a few KiB
// every few seconds, so neither an event loop library nor a thread per connection is
// worth having. Bound to 127.0.0.1 unless the caller names another address (a probe from
// a Kubernetes kubelet comes to the pod's address): metrics name tasks and agents.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

public struct MetricsServerError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32
    public var description: String { "metrics server: \(operation) failed: \(String(cString: strerror(errno)))" }
}

public final class MetricsServer: Sendable {
    /// The port actually bound (the one asked for, or the kernel's pick for 0).
    public let port: UInt16
    let listenFD: Int32
    /// Written by `stop()` to wake the poll loop immediately.
    let wakeRead: Int32
    let wakeWrite: Int32
    /// The answer of each path: a status (200, 503…) and a plain-text body.
    public typealias Route = @Sendable () -> (status: Int, body: String)
    let routes: [String: Route]
    /// The server thread, until `stop()` joined it.
    let thread = Mutex<pthread_t?>(nil)

    /// Serves `metrics.exposition()` on `GET /metrics`.
    public convenience init(metrics: RunMetrics, port: UInt16 = 0) throws(MetricsServerError) {
        try self.init(port: port, render: { metrics.exposition() })
    }

    /// Serves `render()` on `GET /metrics`; starts listening before returning.
    public convenience init(port: UInt16 = 0, render: @escaping @Sendable () -> String) throws(MetricsServerError) {
        try self.init(host: "127.0.0.1", port: port, routes: ["/metrics": { (200, render()) }])
    }

    /// Serves each route on `GET PATH`, bound to `host` (an IPv4 address); starts listening
    /// before returning.
    public init(host: String, port: UInt16, routes: [String: Route]) throws(MetricsServerError) {
        self.routes = routes
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError(operation: "socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr(host)
        guard addr.sin_addr.s_addr != INADDR_NONE || host == "255.255.255.255" else { close(fd); throw MetricsServerError(operation: "bind", errno: EINVAL) }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { let e = errno; close(fd); throw MetricsServerError(operation: "bind", errno: e) }
        guard listen(fd, 16) == 0 else { let e = errno; close(fd); throw MetricsServerError(operation: "listen", errno: e) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        var actual = sockaddr_in()
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { let e = errno; close(fd); throw MetricsServerError(operation: "pipe", errno: e) }
        self.listenFD = fd
        self.port = UInt16(bigEndian: actual.sin_port)
        self.wakeRead = fds[0]
        self.wakeWrite = fds[1]
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let server = Unmanaged<MetricsServer>.fromOpaque(arg!).takeRetainedValue()
            server.loop()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<MetricsServer>.fromOpaque(box).release()
            close(fd); close(fds[0]); close(fds[1])
            throw MetricsServerError(operation: "pthread_create", errno: rc)
        }
        thread.withLock { $0 = tid }
    }

    /// Stops accepting, waits for the server thread to finish, closes the sockets.
    /// Idempotent. The thread keeps the server alive until then: call `stop()`.
    public func stop() {
        guard let tid = thread.withLock({ t -> pthread_t? in defer { t = nil }; return t }) else { return }
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
        pthread_join(tid, nil)
        close(listenFD)
        close(wakeRead)
        close(wakeWrite)
    }

    func loop() {
        while true {
            var pfds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                        pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let n = poll(&pfds, 2, -1)
            if n < 0 { if errno == EINTR { continue }; return }
            if pfds[1].revents != 0 { return }
            if pfds[0].revents & Int16(POLLIN) != 0 {
                let c = accept(listenFD, nil, nil)
                if c >= 0 { serve(c) }
            }
        }
    }

    /// Reads one request head (bounded size and time), writes one response, closes.
    func serve(_ c: Int32) {
        defer { close(c) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var head: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 2048)
        let end: [UInt8] = [13, 10, 13, 10]
        while head.count < 16 * 1024 {
            let r = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { break }
            head.append(contentsOf: buf[0..<r])
            if head.count >= 4 && Self.contains(head, end) { break }
        }
        let requestLine = String(decoding: head.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = requestLine.split(separator: " ")
        let response: (Int, String, String, String)  // status, reason, content type, body
        if parts.count >= 2 {
            let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
            if parts[0] != "GET" && parts[0] != "HEAD" {
                response = (405, "Method Not Allowed", "text/plain; charset=utf-8", "method not allowed\n")
            } else if let route = routes[String(path)] {
                let (status, body) = route()
                let type = path == "/metrics" ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8"
                response = (status, status == 200 ? "OK" : "Service Unavailable", type, body)
            } else {
                response = (404, "Not Found", "text/plain; charset=utf-8", "not found; try \(routes.keys.sorted().joined(separator: " or "))\n")
            }
        } else {
            response = (400, "Bad Request", "text/plain; charset=utf-8", "bad request\n")
        }
        let body = Array(response.3.utf8)
        var out = "HTTP/1.1 \(response.0) \(response.1)\r\nContent-Type: \(response.2)\r\n"
        out += "Content-Length: \(body.count)\r\nConnection: close\r\n"
        if response.0 == 405 { out += "Allow: GET, HEAD\r\n" }
        out += "\r\n"
        var bytes = Array(out.utf8)
        if parts.first != "HEAD" { bytes += body }
        var sent = 0
        while sent < bytes.count {
            let w = bytes[sent...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if w < 0 && errno == EINTR { continue }
            if w <= 0 { return }
            sent += w
        }
    }

    static func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard hay.count >= needle.count else { return false }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle {
            return true
        }
        return false
    }
}
