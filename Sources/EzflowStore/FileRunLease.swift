// The embedded store's run lease: an exclusive `flock` on `<db>.locks/<run>`. The kernel
// drops it when the holder exits, kill -9 included, so a crash never leaves a run stuck;
// the file keeps the holder's pid (for the refusal message) and the last epoch.
import EzflowPorts
import Foundation
import Synchronization

/// `RunLease` over `flock`, one lock file per run beside the database.
public final class FileRunLease: RunLease {
    public let directory: String
    private let fds = Mutex<[String: Int32]>([:])

    /// Locks live in `<storePath>.locks/`.
    public init(storePath: String) { directory = storePath + ".locks" }

    deinit { fds.withLock { for fd in $0.values { close(fd) } } }

    func path(_ runID: String) -> String {
        directory + "/" + String(runID.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    }

    public func acquire(run runID: String, owner: String, nowMs: Int64) throws(LeaseError) -> Int {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw LeaseError(runID: runID, holder: "", message: "\(directory): cannot create the lock directory: \(error.localizedDescription)")
        }
        let path = path(runID)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LeaseError(runID: runID, holder: "", message: "\(path): cannot open the run lock: \(String(cString: strerror(errno)))")
        }
        let previous = Self.read(fd)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            let pid = previous.first ?? ""
            throw LeaseError(runID: runID, holder: pid,
                             message: "run `\(runID)` is being run by another ezrun\(pid.isEmpty ? "" : " (pid \(pid))"); wait for it or stop it first")
        }
        let epoch = (previous.count > 1 ? Int(previous[1]) ?? 0 : 0) + 1
        _ = ftruncate(fd, 0)
        let text = Array("\(owner)\n\(epoch)\n".utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        fds.withLock { $0[runID] = fd }
        return epoch
    }

    public func release(run runID: String, owner: String) {
        fds.withLock { f in
            if let fd = f.removeValue(forKey: runID) { close(fd) }
        }
    }

    /// Who holds run `runID`'s lease now (the pid in its file, or "" when unknown), nil
    /// when nobody does. Takes nothing: a probe for `ezrun dlq retry`, which hands a
    /// request to a live writer and otherwise resumes the run itself.
    public func holder(run runID: String) -> String? {
        let fd = open(path(runID), O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }  // never locked: no lock file yet
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        return Self.read(fd).first ?? ""
    }

    /// The lock file's lines: holder, epoch.
    static func read(_ fd: Int32) -> [String] {
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 256, 0) }
        guard n > 0 else { return [] }
        return String(decoding: buf[..<n], as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
