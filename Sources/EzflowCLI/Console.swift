import Foundation

/// Standard output and error for the tools, written with write(2). `FileHandle.write` traps
/// when a write fails (a full disk, a closed descriptor) and a buffered `print` can lose
/// output in silence; here a failed write to standard output is one line on standard error
/// and exit 2, and nothing is lost without a word.
public enum Console {
    /// Writes all of `text` to standard output, or ends the process: one line, exit 2.
    public static func out(_ text: String) { out(Array(text.utf8)) }

    /// Writes all of `text` to standard output; false (errno set) when it could not.
    public static func tryOut(_ text: String) -> Bool { write(1, Array(text.utf8)) }

    public static func out(_ bytes: [UInt8]) {
        guard !write(1, bytes) else { return }
        let reason = String(cString: strerror(errno))
        err("\(ProcessInfo.processInfo.processName): cannot write to standard output: \(reason)\n")
        exit(2)
    }

    /// Standard error: a failure there has nowhere to be reported, so it is ignored.
    public static func err(_ text: String) { _ = write(2, Array(text.utf8)) }

    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += n
        }
        return true
    }

    /// Installed by `Tool.resolve`: what `print` buffered and could not write at exit is an
    /// I/O error (exit 2), not a silent success.
    static func checkStandardOutputAtExit() {
        atexit {
            guard fflush(nil) != 0 else { return }
            let reason = String(cString: strerror(errno))
            Console.err("\(ProcessInfo.processInfo.processName): cannot write to standard output: \(reason)\n")
            _exit(2)
        }
    }
}
