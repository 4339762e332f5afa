import EzflowInstall
import Foundation

/// Where `import "std/NAME"` looks, or why there is nowhere to look.
public enum StdlibLocation: Sendable, Equatable {
    case found(String)
    /// No usable directory; the message says what was named or searched and what to do.
    case missing(String)

    /// The directory, when one was found.
    public var root: String? {
        if case .found(let dir) = self { return dir }
        return nil
    }
}

/// Finds the stdlib; the first rule that names a directory decides (README.md, "Where the
/// standard library is found"): `--stdlib DIR`, then `$EZFLOW_STDLIB` when non-empty, then
/// the real executable's ancestors (symlinks resolved): `share/ezflow/stdlib` of an
/// install prefix (`PREFIX/bin/ezc`), `stdlib/` of a source checkout. Never the working
/// directory: the same command finds the same stdlib wherever it is run.
public enum StdlibLocator {
    /// The environment variable of the second rule.
    public static let environmentVariable = "EZFLOW_STDLIB"
    /// How many directories above the executable's are searched.
    static let ancestorsSearched = 6

    /// `flag` is `--stdlib`'s value (nil: not given). A directory named by the flag or the
    /// variable must exist and hold `.ezflow` modules; it is never skipped for the next rule.
    public static func find(flag: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                            executable: String? = Executable.path) -> StdlibLocation {
        if let flag { return named(flag, as: "--stdlib \(flag)") }
        if let env = environment[environmentVariable], !env.isEmpty { return named(env, as: "\(environmentVariable)=\(env)") }
        let help = "pass --stdlib DIR or set \(environmentVariable)"
        guard let executable else { return .missing("no standard library: the executable's path is unknown; \(help)") }
        if let dir = besideExecutable(executable) { return .found(dir) }
        return .missing("no standard library beside \(executable) (looked for share/ezflow/stdlib and stdlib/ above it); \(help)")
    }

    /// A directory the user named, made absolute against the working directory.
    static func named(_ dir: String, as label: String) -> StdlibLocation {
        let path = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return .missing("\(label): no such directory") }
        guard isDir.boolValue else { return .missing("\(label): not a directory") }
        guard holdsModules(path) else { return .missing("\(label): holds no standard library modules (*.ezflow)") }
        return .found((path as NSString).standardizingPath)
    }

    static func besideExecutable(_ executable: String) -> String? {
        var dir = URL(fileURLWithPath: executable).deletingLastPathComponent()
        for _ in 0...ancestorsSearched {
            for candidate in ["share/ezflow/stdlib", "stdlib"] {
                let path = dir.appendingPathComponent(candidate).path
                if holdsModules(path) { return path }
            }
            if dir.path == "/" { break }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    static func holdsModules(_ dir: String) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.contains { $0.hasSuffix(".ezflow") }
    }

    /// The stdlib of this source tree, for tests (located from this file's path).
    public static func sourceTree(_ file: String = #filePath) -> String {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("stdlib").path
    }
}
