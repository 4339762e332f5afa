// The running binary's own path, read from the kernel: argv[0] is only the name it was
// called by (`ezc` from PATH, a symlink's name), so files installed beside the binary
// (ezguard, ../share/ezflow/stdlib) are found from /proc/self/exe instead.
import Foundation
import Glibc

/// The running program as the kernel started it, whatever name or symlink it was called by.
public enum Executable {
    /// The absolute path of the running binary with every symlink resolved
    /// (`/proc/self/exe`); nil where it cannot be read.
    public static var path: String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The program `name` in the running binary's directory, if it is there and executable.
    public static func sibling(_ name: String) -> String? {
        guard let path else { return nil }
        let candidate = (path as NSString).deletingLastPathComponent + "/" + name
        return access(candidate, X_OK) == 0 ? candidate : nil
    }
}
