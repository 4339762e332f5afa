import EzflowCompiler
import EzflowDiagnostics

import Foundation

/// `ezc build FILE -o OUT`: checks FILE and writes its IR (docs/IR.md).
/// `ezc build --validate FILE.ezir`: validates an IR file.
///
/// Exit codes: 0 written (or valid), 1 errors found (diagnostics on stderr, nothing
/// written) or invalid IR, 2 usage or I/O error.
enum BuildCommand {
    static let usage = "usage: ezc build FILE -o OUT [--stdlib DIR] [--color WHEN]  |  ezc build --validate FILE.ezir"

    static func run(_ args: [String]) -> Int32 {
        var output: String?, stdlib: String?, validatePath: String?, color = "auto"
        var files: [String] = []
        var i = 0
        func value() -> String? {
            i += 1
            return i < args.count ? args[i] : nil
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "-o", "--output":
                guard let v = value() else { return EzcCommand.fail("`-o` takes a file name (or `-` for stdout)") }
                output = v
            case "--stdlib":
                guard let v = value() else { return EzcCommand.fail("`--stdlib` takes a directory") }
                stdlib = v
            case "--validate":
                guard let v = value() else { return EzcCommand.fail("`--validate` takes an IR file") }
                validatePath = v
            case "--color":
                guard let v = value(), ["auto", "always", "never"].contains(v) else { return EzcCommand.fail("`--color` takes auto, always or never") }
                color = v
            case "-h", "--help":
                print(usage)
                return 0
            default:
                if a.hasPrefix("-") && a != "-" { return EzcCommand.fail("unknown option `\(a)` for `build`") }
                files.append(a)
            }
            i += 1
        }
        if let path = validatePath {
            guard files.isEmpty, output == nil else { return EzcCommand.fail("`--validate` takes one IR file and no other arguments") }
            return validateFile(path)
        }
        guard files.count == 1 else { return EzcCommand.fail("`build` takes exactly one workflow file\n\(usage)") }
        guard let out = output else { return EzcCommand.fail("`build` needs `-o OUT` (`-o -` writes to stdout)") }
        let file = files[0]
        if let problem = unreadable(file) { return EzcCommand.fail("cannot read `\(file)`: \(problem)") }

        let result = Compiler.build(path: file, stdlibRoot: stdlib)
        let diags = result.check.diagnostics
        if !diags.isEmpty {
            let useColor = color == "always" || (color == "auto" && isatty(2) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
            let r = TextRenderer(color: useColor)
            var text = r.render(diags, sources: result.check.sources)
            if let s = r.summary(diags) { text += s + "\n" }
            FileHandle.standardError.write(Data(text.utf8))
        }
        if result.check.hasErrors { return 1 }
        guard let bytes = result.ir else {
            FileHandle.standardError.write(Data("ezc: error: \(result.failure ?? "no IR was produced")\n".utf8))
            return 1
        }
        // Pair assertion: what we write must be what the runtime accepts.
        do {
            _ = try EzflowIR.validate(bytes)
        } catch {
            FileHandle.standardError.write(Data("ezc: internal error: the generated IR does not validate: \(error)\nplease report this bug\n".utf8))
            return 1
        }
        if out == "-" {
            FileHandle.standardOutput.write(Data(bytes))
            FileHandle.standardOutput.write(Data("\n".utf8))
            return 0
        }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            FileHandle.standardError.write(Data("ezc: error: cannot write `\(out)`: \(error.localizedDescription)\n".utf8))
            return 2
        }
        return 0
    }

    /// Why `path` cannot be read as a file (`build`, `check`), or nil when it can.
    static func unreadable(_ path: String) -> String? {
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDir) { return "no such file" }
        if isDir.boolValue { return "is a directory" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        return nil
    }

    static func validateFile(_ path: String) -> Int32 {
        if let problem = unreadable(path) { return EzcCommand.fail("cannot read `\(path)`: \(problem)") }
        guard let data = FileManager.default.contents(atPath: path) else { return EzcCommand.fail("cannot read `\(path)`") }
        do {
            let program = try EzflowIR.validate([UInt8](data))
            print("\(path): valid ezir \(program.version), \(program.workflow.tasks.count) tasks, \(program.hash)")
            return 0
        } catch {
            FileHandle.standardError.write(Data("\(path): invalid IR: \(error)\n".utf8))
            return 1
        }
    }
}
