import EzflowCLI
import EzflowCompiler
import EzflowDiagnostics
import Foundation

/// `ezc` argument handling. Exit codes: 0 clean, 1 errors found (or warnings under
/// `--deny-warnings`), 2 usage or I/O error (an unreadable file among several: the
/// others are still checked, and 2 wins).
enum EzcCommand {
    static let tool = Tool.ezc

    /// An I/O or input error after parsing: one line, exit 2.
    static func fail(_ message: String) -> Int32 {
        Console.err("ezc: error: \(message)\n")
        return 2
    }

    static func main(_ args: [String]) -> Int32 {
        let inv = tool.resolve(args)
        switch inv.path {
        case ["check"]: return check(inv)
        case ["build"]: return BuildCommand.run(inv)
        case ["fmt"]: return FmtCommand.run(inv)
        case ["graph"]: return GraphCommand.run(inv)
        case ["explain"]: return explain(inv)
        case ["lsp"]: return LSPCommand.run(inv)
        default: tool.usageFailure(inv, "no such command")
        }
    }

    static func explain(_ inv: Invocation) -> Int32 {
        let code = inv.positional[0]
        guard let text = Catalogue.explain(code) else { return fail("no such diagnostic code `\(code)` (codes look like E0400 or W0101)") }
        Console.out(text + (text.hasSuffix("\n") ? "" : "\n"))
        return 0
    }

    static func check(_ inv: Invocation) -> Int32 {
        let format = inv.value("--format") ?? "text", denyWarnings = inv.has("--deny-warnings")
        let explainBudget = inv.has("--explain-budget"), explainRetry = inv.has("--explain-retry")
        let stdlib = inv.value("--stdlib"), files = inv.positional
        // The explanations are text on stdout: beside a JSON or SARIF document they would break it.
        if format != "text", let flag = ["--explain-budget", "--explain-retry"].first(where: inv.has) {
            tool.usageFailure(inv, "`\(flag)` prints text; it does not go with `--format \(format)` (run it as a second `ezc check`)")
        }
        // Unreadable roots are I/O errors (exit 2), not diagnostics; the others are still checked.
        let inputs = CheckInputs(files)
        guard !inputs.paths.isEmpty else { return 2 }
        let result = Compiler.check(paths: inputs.paths, stdlibRoot: stdlib, stdin: inputs.stdin)
        let diags = result.diagnostics
        // The proofs go to stdout; the diagnostics stay on stderr.
        if explainBudget { Console.out(result.budgetReport(roots: files)) }
        if explainRetry { Console.out(result.retryReport(roots: files)) }
        switch format {
        case "json": Console.out(JSONRenderer().render(diags, sources: result.sources))
        case "sarif": Console.out(SARIFRenderer(toolVersion: tool.version).render(diags, sources: result.sources))
        case "github": Console.out(GitHubRenderer().render(diags, sources: result.sources))
        default:
            let r = TextRenderer(color: useColor(inv))
            var out = r.render(diags, sources: result.sources)
            if let s = r.summary(diags) { out += s + "\n" }
            Console.err(out)
        }
        let code: Int32 = inputs.ioFailed ? 2 : diags.errorCount > 0 || (denyWarnings && diags.warningCount > 0) ? 1 : 0
        // Exit while the program is still alive: freeing a large tree costs more than the
        // process teardown that reclaims it anyway (clang's -disable-free, for the same reason).
        withExtendedLifetime(result) { exit(code) }
    }
}

extension EzcCommand {
    /// Colour on standard error, by `--color` (default auto).
    static func useColor(_ inv: Invocation) -> Bool {
        stderrColor(inv.value("--color").flatMap(ColorChoice.init(rawValue:)) ?? .auto)
    }

    /// The decision `ezrun` shares (`TerminalColor`): `always`/`never`, or with `auto` a
    /// terminal on stderr, NO_COLOR unset or empty, TERM not `dumb`.
    static func stderrColor(_ choice: ColorChoice) -> Bool {
        TerminalColor.enabled(choice, fd: 2, environment: ProcessInfo.processInfo.environment)
    }
}
