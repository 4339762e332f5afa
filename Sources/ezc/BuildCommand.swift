import EzflowCLI
import EzflowCompiler
import EzflowDiagnostics
import EzflowUnits
import Foundation

/// `ezc build FILE -o OUT`: checks FILE and writes its IR (docs/IR.md).
/// `ezc build --validate FILE.ezir`: validates an IR file.
///
/// Exit codes: 0 written (or valid), 1 errors found (diagnostics on stderr, nothing
/// written) or invalid IR, 2 usage or I/O error.
enum BuildCommand {
    static func run(_ inv: Invocation) -> Int32 {
        let output = inv.value("--output"), stdlib = inv.value("--stdlib"), validatePath = inv.value("--validate")
        let files = inv.positional
        if let path = validatePath {
            guard files.isEmpty, output == nil else { EzcCommand.tool.usageFailure(inv, "`--validate` takes one IR file and no FILE or -o") }
            return validateFile(path)
        }
        guard files.count == 1 else { EzcCommand.tool.usageFailure(inv, "missing FILE") }
        guard let out = output else { EzcCommand.tool.usageFailure(inv, "missing `-o OUT` (`-o -` writes to standard output)") }
        let file = files[0]
        if let problem = unreadable(file) { return EzcCommand.fail("cannot read `\(file)`: \(problem)") }

        let result = Compiler.build(path: file, stdlibRoot: stdlib)
        let diags = result.check.diagnostics
        if !diags.isEmpty {
            let r = TextRenderer(color: EzcCommand.useColor(inv))
            var text = r.render(diags, sources: result.check.sources)
            if let s = r.summary(diags) { text += s + "\n" }
            Console.err(text)
        }
        if result.check.hasErrors { return 1 }
        guard let bytes = result.ir else {
            Console.err("ezc: error: \(result.failure ?? "no IR was produced")\n")
            return 1
        }
        // Pair assertion: what we write must be what the runtime accepts.
        do {
            _ = try EzflowIR.validate(bytes)
        } catch {
            Console.err("ezc: internal error: the generated IR does not validate: \(error)\nplease report this bug\n")
            return 1
        }
        if out == "-" {
            Console.out(bytes)
            Console.out("\n")
            return 0
        }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            Console.err("ezc: error: cannot write `\(out)`: \(error.localizedDescription)\n")
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
            Console.out("\(path): valid ezir \(program.version), \(Units.counted(program.workflow.tasks.count, "task")), \(program.hash)" + "\n")
            return 0
        } catch {
            Console.err("\(path): invalid IR: \(error)\n")
            return 1
        }
    }
}
