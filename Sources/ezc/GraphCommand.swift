import EzflowCompiler
import EzflowDiagnostics
import Foundation

/// `ezc graph FILE [--format dot|mermaid] [-o OUT]`: the task graph with the critical
/// path marked. A file with errors prints its diagnostics and exits 1, like `check`.
enum GraphCommand {
    static let usage = "usage: ezc graph FILE [--format dot|mermaid] [-o OUT] [--stdlib DIR]"

    static func run(_ args: [String]) -> Int32 {
        var format = GraphRenderer.Format.dot, output: String?, stdlib: String?
        var files: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            switch a {
            case "--format":
                i += 1
                guard i < args.count, let f = GraphRenderer.Format(rawValue: args[i]) else { return EzcCommand.fail("`--format` takes dot or mermaid") }
                format = f
            case "-o":
                i += 1
                guard i < args.count else { return EzcCommand.fail("`-o` takes a file") }
                output = args[i]
            case "--stdlib":
                i += 1
                guard i < args.count else { return EzcCommand.fail("`--stdlib` takes a directory") }
                stdlib = args[i]
            case "-h", "--help":
                print(usage)
                return 0
            default:
                if a.hasPrefix("-") { return EzcCommand.fail("unknown option `\(a)` for `graph`") }
                files.append(a)
            }
            i += 1
        }
        guard files.count == 1 else { return EzcCommand.fail("`graph` takes exactly one workflow file") }
        guard FileManager.default.isReadableFile(atPath: files[0]) else { return EzcCommand.fail("cannot read `\(files[0])`: no such file") }
        let result = Compiler.check(paths: files, stdlibRoot: stdlib)
        if result.hasErrors {
            let r = TextRenderer(color: isatty(2) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
            var text = r.render(result.diagnostics, sources: result.sources)
            if let s = r.summary(result.diagnostics) { text += s + "\n" }
            FileHandle.standardError.write(Data(text.utf8))
            return 1
        }
        guard let w = result.workflows.first(where: { $0.module == 0 }) else {
            return EzcCommand.fail("`\(files[0])` declares no workflow")
        }
        let text = GraphRenderer.render(w, format: format)
        if let output, output != "-" {
            guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8)) else {
                return EzcCommand.fail("cannot write `\(output)`")
            }
        } else {
            print(text, terminator: "")
        }
        return 0
    }
}
