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

    /// Writes all of `bytes`, retrying short writes and interruptions.
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
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
