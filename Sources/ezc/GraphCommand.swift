import EzflowCLI
import EzflowCompiler
import EzflowDiagnostics
import Foundation

/// `ezc graph FILE [--format dot|mermaid] [-o OUT]`: the task graph with the critical
/// path marked. A file with errors prints its diagnostics and exits 1, like `check`.
enum GraphCommand {
    static func run(_ inv: Invocation) -> Int32 {
        let format = inv.value("--format").flatMap(GraphRenderer.Format.init(rawValue:)) ?? .dot
        let output = inv.value("--output"), stdlib = inv.value("--stdlib"), files = inv.positional
        guard FileManager.default.isReadableFile(atPath: files[0]) else { return EzcCommand.fail("cannot read `\(files[0])`: no such file") }
        let result = Compiler.check(paths: files, stdlibRoot: stdlib)
        if result.hasErrors {
            let r = TextRenderer(color: EzcCommand.useColor(inv))
            var text = r.render(result.diagnostics, sources: result.sources)
            if let s = r.summary(result.diagnostics) { text += s + "\n" }
            Console.err(text)
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
            Console.out(text)
        }
        return 0
    }
}
