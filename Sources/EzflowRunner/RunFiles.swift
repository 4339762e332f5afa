// What `ezrun files`, `ezrun status` and the summary list, and what `ezrun gc` keeps: the
// files a run's journal refers to (docs/RUNNING.md, "Files"). A run refers to a file
// while a record of it is in its journal; the store keeps one blob per digest.
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension StoredRun {
    /// The files the run's tasks left (`RunState.files`).
    public var files: [RunFile] { state.files }
}

extension FileRecord {
    /// Every file record anywhere in `v` (a journalled outputs object).
    static func all(in v: JSONValue, into out: inout Set<String>) {
        if let r = FileRecord(v) { out.insert(r.digest); return }
        switch v {
        case .array(let xs): for x in xs { all(in: x, into: &out) }
        case .object(let ms): for (_, x) in ms { all(in: x, into: &out) }
        default: break
        }
    }
}

/// What `ezrun gc` found (and, unless a dry run, deleted).
public struct FileCollection: Sendable {
    public var removedBlobs = 0
    public var removedBytes: Int64 = 0
    public var keptBlobs = 0
    public var keptBytes: Int64 = 0
    /// Copies in progress and attempt directories left by a crash.
    public var removedLeftovers = 0
}

extension FileStore {
    /// Files stored or directories left this recently are kept: the attempt that made them
    /// may have ended without its completion journalled yet.
    public static let gcGraceSeconds: Double = 600

    /// The digests every journal of `store` refers to.
    public static func referenced(_ store: any JournalStore) throws(StoreError) -> Set<String> {
        var out = Set<String>()
        for run in try store.runs() {
            for r in try store.journal(run: run.runID, from: 0) {
                if case .taskSucceeded(_, _, let outputs, _, _, _) = r.event { FileRecord.all(in: outputs, into: &out) }
            }
        }
        return out
    }

    /// The names, under `work/`, of the attempt directories of every run not finished:
    /// one may be running now (a long attempt leaves its directory's time unchanged), and a
    /// crashed one's are collected once it has been resumed to its end; `collect` skips them.
    public func unfinishedWork(_ store: any JournalStore) throws(StoreError) -> Set<String> {
        var out = Set<String>()
        for run in try store.runs() where run.status != .finished {
            out.insert(Self.workName(run.runID))
        }
        return out
    }

    /// Deletes the blobs not in `keep` and the leftovers older than the grace period (but
    /// not the attempt directories of the runs in `busy`, `unfinishedWork`); with `dryRun`
    /// only counts them. Throws the first path that cannot be deleted.
    public func collect(keep: Set<String>, busy: Set<String> = [], dryRun: Bool, now: Date = Date()) throws(FileError) -> FileCollection {
        var c = FileCollection()
        let fm = FileManager.default
        let old = now.addingTimeInterval(-Self.gcGraceSeconds)
        func age(_ p: String) -> Date { ((try? fm.attributesOfItem(atPath: p))?[.modificationDate] as? Date) ?? .distantPast }
        func delete(_ p: String) throws(FileError) {
            guard !dryRun else { return }
            do { try fm.removeItem(atPath: p) } catch { throw FileError("cannot delete \(p): \(error.localizedDescription)") }
        }
        for prefix in ((try? fm.contentsOfDirectory(atPath: root + "/sha256")) ?? []).sorted() {
            for hex in ((try? fm.contentsOfDirectory(atPath: root + "/sha256/" + prefix)) ?? []).sorted() {
                let p = root + "/sha256/" + prefix + "/" + hex
                var st = stat()
                guard lstat(p, &st) == 0 else { continue }
                if keep.contains(FileRecord.prefix + hex) || age(p) > old {
                    c.keptBlobs += 1
                    c.keptBytes += Int64(st.st_size)
                } else {
                    try delete(p)
                    c.removedBlobs += 1
                    c.removedBytes += Int64(st.st_size)
                }
            }
        }
        for area in ["/tmp", "/work"] {
            for name in ((try? fm.contentsOfDirectory(atPath: root + area)) ?? []).sorted()
                where age(root + area + "/" + name) <= old && !(area == "/work" && busy.contains(name)) {
                try delete(root + area + "/" + name)
                c.removedLeftovers += 1
            }
        }
        return c
    }

    /// The blob of `record`, its digest checked; `.corrupt` when the bytes do not match.
    public func contents(_ record: FileRecord) throws(CopyOutError) -> Data {
        let blob = blobPath(record)
        guard let data = FileManager.default.contents(atPath: blob) else { throw .missing(blob) }
        let hasher = SHA256Stream()
        data.withUnsafeBytes { hasher.update($0) }
        guard hasher.finish() == record.digest else { throw .corrupt(blob) }
        return data
    }

    /// Copies the blob of `record` to `path` with the recorded mode, checking its digest on
    /// the way, and returns the path written. A directory receives the file under its
    /// recorded name (as `cp` does); an existing regular file is replaced (a new file renamed
    /// over it); anything else that exists there (a device, a fifo, a symbolic link) is
    /// refused, never replaced: `--out /dev/stdout` run as root must not delete the device.
    @discardableResult
    public func copyOut(_ record: FileRecord, to given: String) throws(CopyOutError) -> String {
        let data = try contents(record)
        var path = given
        var st = stat()
        if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            path = (path.hasSuffix("/") ? path : path + "/") + record.name
        }
        if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
            throw .unwritable("\(path): it exists and is not a regular file (a device, a fifo or a link); name another path, or `-` for standard output")
        }
        let tmp = path + ".ezflow-" + UUID().uuidString.prefix(8)
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: Int(record.modeBits)]),
              chmod(tmp, mode_t(record.modeBits)) == 0, rename(tmp, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            throw .unwritable("\(path): \(why)")
        }
        return path
    }
}

/// Why `copyOut` failed.
public enum CopyOutError: Error, Sendable {
    /// The blob is gone (collected after every run referring to it was deleted).
    case missing(String)
    case corrupt(String)
    case unwritable(String)
}
