import EzflowIR
import Foundation

/// Runs a `LanguageServer` over file descriptors (standard input and output): reads
/// what arrived, hands the whole frames to the server as one batch, writes its answers.
/// Only framed protocol goes to `output`; everything else goes to the log.
public enum StdioTransport {
    /// Returns the exit status: 0 after `shutdown` then `exit` (or the end of input after
    /// `shutdown`), 1 otherwise; 1 also when the client stops reading our answers.
    public static func run(_ server: LanguageServer, input: Int32 = 0, output: Int32 = 1,
                           log: (String) -> Void) -> Int32 {
        // A client that closes its end must end the server by status, not by signal.
        signal(SIGPIPE, SIG_IGN)
        var reader = FrameReader()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                log("reading standard input failed: \(String(cString: strerror(errno)))")
                return 1
            }
            if n == 0 {
                if reader.pending > 0 { log("standard input ended inside a message (\(reader.pending) bytes unread)") }
                return server.statusAtEndOfInput
            }
            reader.append(buffer[0..<n])
            // Debounce by backlog: what the editor sent while the last batch was being
            // handled (a burst of keystrokes) joins this batch, so one check covers them
            // all and no check runs on a text already replaced. A lone edit is never held.
            var drained = n
            while drained < Self.batchBytesMax, readable(input) {
                let m = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if m <= 0 { break }  // the end of input or an error: the outer read sees it again
                reader.append(buffer[0..<m])
                drained += m
            }
            var batch: [[UInt8]] = []
            while let frame = reader.next() {
                switch frame {
                case .message(let body): batch.append(body)
                case .malformed(let why): log(why)
                }
            }
            guard !batch.isEmpty else { continue }
            for message in server.handle(batch) {
                guard write(output, FrameReader.frame(CanonicalJSON.encode(message))) else {
                    log("writing standard output failed: the client is gone")
                    return 1
                }
            }
            if let code = server.exitCode { return code }
        }
    }

    /// At most this much input joins one batch: a client that never stops sending still
    /// gets answers.
    static let batchBytesMax = 16 << 20

    /// Whether `fd` has input now (poll with no wait).
    static func readable(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 1 && p.revents & Int16(POLLIN) != 0
    }

    /// Writes all of `bytes`, retrying short writes and interruptions (`ezbench lsp` writes
    /// to the server with it too).
    public static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += n
        }
        return true
    }
}
