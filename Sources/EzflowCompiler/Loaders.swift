import EzflowCheck
import Foundation

/// Reads modules from disk. `std/NAME` resolves into the stdlib directory; other
/// paths are relative to the importing file; `.ezflow` is appended when missing.
/// Without a stdlib, a `std/` import stays `std/NAME` and fails to read with the
/// locator's reason (the E0206 label says why and what to do).
struct FileSystemLoader: SourceLoader {
    let stdlib: StdlibLocation
    /// The text of the root `-` (standard input), if one was given.
    var stdin: [UInt8]? = nil

    /// The key of standard input: its root path and display name (actionlint's too).
    static let stdinKey = Compiler.stdinPath

    func resolve(_ path: String, from importer: String?) -> String {
        if importer == nil, path == Self.stdinKey, stdin != nil { return Self.stdinKey }
        var p = path
        if p.hasPrefix("std/") {
            guard let root = stdlib.root else { return p }
            p = root + "/" + p.dropFirst(4)
        } else if importer == Self.stdinKey, !p.hasPrefix("/") {
            p = FileManager.default.currentDirectoryPath + "/" + p
        } else if let importer, !p.hasPrefix("/") {
            p = (importer as NSString).deletingLastPathComponent + "/" + p
        }
        if importer != nil && !p.hasSuffix(".ezflow") && !p.hasSuffix(".yaml") { p += ".ezflow" }
        // Absolute keys, so a file named on the command line and imported is one module.
        if !p.hasPrefix("/") { p = FileManager.default.currentDirectoryPath + "/" + p }
        return (p as NSString).standardizingPath
    }

    func display(_ key: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath + "/"
        return key.hasPrefix(cwd) ? String(key.dropFirst(cwd.count)) : key
    }

    func read(_ key: String) -> Result<[UInt8], LoadError> {
        if key == Self.stdinKey, let stdin { return .success(stdin) }
        if key.hasPrefix("std/"), case .missing(let why) = stdlib { return .failure(LoadError(why)) }
        // Followed through symlinks: only a regular file is read. A device, a pipe or the
        // server's own standard input (`/proc/self/fd/0`) would block or never end.
        var st = stat()
        guard stat(key, &st) == 0 else { return .failure(LoadError(errno == EACCES ? "permission denied" : "no such file")) }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .failure(LoadError("is a directory"))
        default: return .failure(LoadError("not a regular file (a device, a pipe or a socket); read standard input with `-`"))
        }
        guard let fh = FileHandle(forReadingAtPath: key) else { return .failure(LoadError("permission denied")) }
        defer { try? fh.close() }
        do {
            let data = try fh.readToEnd() ?? Data()
            return .success([UInt8](data))
        } catch {
            return .failure(LoadError("read failed"))
        }
    }
}

/// In-memory sources for tests, benchmarks and the language server.
struct MemoryLoader: SourceLoader {
    let files: [String: [UInt8]]
    let stdlib: StdlibLocation

    func resolve(_ path: String, from importer: String?) -> String {
        if path.hasPrefix("std/"), files[path] == nil {
            return FileSystemLoader(stdlib: stdlib).resolve(path, from: importer)
        }
        if files[path] != nil || importer == nil { return path }
        var p = (importer.map { ($0 as NSString).deletingLastPathComponent + "/" } ?? "") + path
        if !p.hasSuffix(".ezflow") && !p.hasSuffix(".yaml") { p += ".ezflow" }
        return (p as NSString).standardizingPath
    }

    /// Stdlib files show relative to the stdlib's parent (`stdlib/retry.ezflow`).
    func display(_ key: String) -> String {
        guard let root = stdlib.root else { return key }
        let base = (root as NSString).deletingLastPathComponent + "/"
        return key.hasPrefix(base) ? String(key.dropFirst(base.count)) : key
    }

    func read(_ key: String) -> Result<[UInt8], LoadError> {
        if let t = files[key] { return .success(t) }
        return FileSystemLoader(stdlib: stdlib).read(key)
    }
}
