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
        FileHandle.standardError.write(Data("ezc: error: \(message)\n".utf8))
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
        default: tool.usageFailure(inv, "no such command")
        }
    }

    static func explain(_ inv: Invocation) -> Int32 {
        let code = inv.positional[0]
        guard let text = Catalogue.explain(code) else { return fail("no such diagnostic code `\(code)` (codes look like E0400 or W0101)") }
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        return 0
    }

    static func check(_ inv: Invocation) -> Int32 {
        let format = inv.value("--format") ?? "text", denyWarnings = inv.has("--deny-warnings")
        let explainBudget = inv.has("--explain-budget"), explainRetry = inv.has("--explain-retry")
        let stdlib = inv.value("--stdlib"), files = inv.positional
        // Unreadable roots are I/O errors (exit 2), not diagnostics; the others are still checked.
        let inputs = CheckInputs(files)
        guard !inputs.paths.isEmpty else { return 2 }
        let result = Compiler.check(paths: inputs.paths, stdlibRoot: stdlib, stdin: inputs.stdin)
        let diags = result.diagnostics
        // The proofs go to stdout; the diagnostics stay on stderr.
        if explainBudget { print(result.budgetReport(roots: files), terminator: "") }
        if explainRetry { print(result.retryReport(roots: files), terminator: "") }
        switch format {
        case "json": print(JSONRenderer().render(diags, sources: result.sources), terminator: "")
        case "sarif": print(SARIFRenderer(toolVersion: tool.version).render(diags, sources: result.sources), terminator: "")
        case "github": print(GitHubRenderer().render(diags, sources: result.sources), terminator: "")
        default:
            let r = TextRenderer(color: useColor(inv))
            var out = r.render(diags, sources: result.sources)
            if let s = r.summary(diags) { out += s + "\n" }
            FileHandle.standardError.write(Data(out.utf8))
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
