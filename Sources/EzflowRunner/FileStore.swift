// The store's files (docs/RUNTIME.md, "Files"): `<store>.files/`, beside the SQLite file.
//   sha256/<2 hex>/<64 hex>  one immutable, read-only blob per content (written under tmp/,
//                            then renamed: a reader never sees half a file)
//   tmp/                     copies in progress (a crash leaves one; `ezrun gc` removes it)
//   work/<run>/<task>.<n>/   the working directory of attempt n of a task that declares
//                            a `file` output, fresh and empty; removed once its files
//                            are stored
// The path a task reports is data from outside: it is refused unless it names a regular
// file inside the attempt's working directory, symbolic links resolved (`capture`).
import EzflowIR
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The content-addressed files of one store.
public struct FileStore: Sendable {
    /// Absolute: paths handed to tasks must not depend on their working directory.
    public let root: String

    /// The largest file a task may hand over (1 GiB): past it the attempt fails
    /// `output_error`, before a byte is copied.
    public static let sizeMax: Int64 = 1 << 30

    /// The files of the store at `storePath` (`.ezflow/ezflow.db` → `.ezflow/ezflow.db.files`).
    public init(storePath: String) {
        let abs = storePath.hasPrefix("/") ? storePath : FileManager.default.currentDirectoryPath + "/" + storePath
        root = abs + ".files"
    }

    /// The stored copy of `record` (it may be gone: `ezrun gc` after the run was deleted).
    public func blobPath(_ record: FileRecord) -> String { record.blobPath(root: root) }

    /// The directory holding the working directories of run `runID`'s attempts. A run id
    /// may be any word (even `..`), so the directory is named by its digest.
    func runWorkDir(_ runID: String) -> String { root + "/work/" + Self.workName(runID) }

    /// The name, under `work/`, of run `runID`'s attempt directories.
    static func workName(_ runID: String) -> String {
        String(IRDocument.sha256(Array(runID.utf8)).dropFirst(FileRecord.prefix.count).prefix(24))
    }

    /// A fresh, empty working directory for attempt `attempt` of plan task `task`.
    func makeWorkDir(runID: String, task: Int, attempt: Int) throws(FileError) -> String {
        let dir = runWorkDir(runID) + "/\(task).\(attempt)"
        remove(dir)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch { throw FileError("cannot create the working directory \(dir): \(error.localizedDescription)") }
        return dir
    }

    /// Removes `path` and everything under it; symbolic links are removed, never followed.
    func remove(_ path: String) {
        // Best effort, on purpose: a directory left behind holds nothing the journal refers
        // to, and `ezrun gc` removes it as a leftover of an ended attempt.
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Why a file could not be stored; the message is the attempt's `output_error`.
public struct FileError: Error, Sendable, Equatable {
    public var message: String
    /// The task left no file at the path (a `file?` output then reads null).
    public var missing = false
    public init(_ message: String, missing: Bool = false) {
        self.message = message
        self.missing = missing
    }
}

extension FileStore {
    /// The file at `relative` in `workDir` stored as a blob, or why it is refused; nil
    /// when there is no such file (the caller decides whether that is allowed).
    func capture(relative: String, workDir: String) throws(FileError) -> FileRecord? {
        let shown = "`" + String(relative.unicodeScalars.prefix(120).map { $0.value < 0x20 ? "?" : Character($0) }) + "`"
        if relative.isEmpty { throw FileError("the path is empty") }
        if relative.utf8.contains(0) { throw FileError("the path \(shown) contains a NUL byte") }
        // A file's name is shown by `ezrun files`, `status` and the reports: it must not
        // carry an escape sequence or a line break to the terminal.
        if relative.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw FileError("the path \(shown) contains a control character; name files with printable characters")
        }
        if relative.hasPrefix("/") {
            throw FileError("the path \(shown) is absolute; report a path relative to the task's working directory")
        }
        if relative.split(separator: "/").contains("..") {
            throw FileError("the path \(shown) climbs out of the working directory (`..`)")
        }
        guard let base = Self.realPath(workDir) else { throw FileError("the working directory is gone") }
        guard let full = Self.realPath(workDir + "/" + relative) else {
            var st = stat()
            // A dangling link is refused as a link, not reported missing.
            if lstat(workDir + "/" + relative, &st) == 0 { throw FileError("the path \(shown) is a symbolic link to nothing") }
            return nil
        }
        if full == base { throw FileError("the path \(shown) is the working directory itself, not a file in it") }
        guard full.hasPrefix(base + "/") else {
            throw FileError("the path \(shown) resolves outside the working directory (through a symbolic link)")
        }
        var st = stat()
        guard lstat(full, &st) == 0 else { return nil }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw FileError("the path \(shown) is \(Self.kind(st.st_mode)), not a regular file")
        }
        guard Int64(st.st_size) <= Self.sizeMax else {
            throw FileError("the file \(shown) is \(st.st_size) bytes, over the limit of \(Self.sizeMax) bytes (1 GiB)")
        }
        let name = String(full.split(separator: "/").last ?? "")
        return try store(full, expect: st, name: name, shown: shown)
    }

    /// Copies the regular file at `path` (checked with `expect`) into a blob.
    func store(_ path: String, expect: stat, name: String, shown: String) throws(FileError) -> FileRecord {
        // O_NONBLOCK: were it swapped for a fifo since `lstat`, opening it still returns.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw FileError("cannot open \(shown): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_ino == expect.st_ino, st.st_dev == expect.st_dev else {
            throw FileError("the file \(shown) changed while it was being stored")
        }
        try makeDirectory(root + "/tmp")
        let tmp = root + "/tmp/" + UUID().uuidString
        let out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw FileError("cannot write to the store's files (\(root)): \(String(cString: strerror(errno)))") }
        var keep = false
        defer { if !keep { unlink(tmp) } }
        let hasher = SHA256Stream()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let copied: Bool = buffer.withUnsafeMutableBytes { b in
            while true {
                let n = read(fd, b.baseAddress, b.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return n == 0 }
                size += Int64(n)
                if size > Self.sizeMax { return false }
                hasher.update(UnsafeRawBufferPointer(rebasing: b[0..<n]))
                var off = 0
                while off < n {
                    let w = write(out, b.baseAddress! + off, n - off)
                    if w < 0 && errno == EINTR { continue }
                    if w <= 0 { return false }
                    off += w
                }
            }
        }
        let executable = st.st_mode & 0o111 != 0
        guard copied, fsync(out) == 0, fchmod(out, executable ? 0o555 : 0o444) == 0, close(out) == 0 else {
            throw FileError("cannot store \(shown): \(String(cString: strerror(errno)))")
        }
        let record = FileRecord(digest: hasher.finish(), name: name, size: size, mode: FileRecord.modeText(UInt32(st.st_mode) & 0o777))
        let blob = blobPath(record)
        try makeDirectory(String(blob.dropLast(65)))
        if access(blob, F_OK) == 0 {
            // The same content is stored once; the executable bit is no part of it, so a
            // blob some producer left executable stays so (the records keep each mode).
            if executable { chmod(blob, 0o555) }
            // Fresh again, so `ezrun gc` keeps it until this attempt is journalled.
            utimes(blob, nil)
            return record
        }
        guard rename(tmp, blob) == 0 else { throw FileError("cannot store \(shown): \(String(cString: strerror(errno)))") }
        keep = true
        return record
    }

    func makeDirectory(_ dir: String) throws(FileError) {
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw FileError("cannot create \(dir): \(error.localizedDescription)")
        }
    }

    static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a fifo"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "not a file"
        }
    }
}
