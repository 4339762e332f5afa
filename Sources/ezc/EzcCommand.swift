import EzflowCompiler
import EzflowDiagnostics
import Foundation

/// `ezc` argument handling. Exit codes: 0 clean, 1 errors found (or warnings under
/// `--deny-warnings`), 2 usage or I/O error (an unreadable file among several: the
/// others are still checked, and 2 wins).
enum EzcCommand {
    static let version = "0.1.0"

    static let usage = """
        usage: ezc <command> [options]

        commands:
          check FILE...        report every diagnostic in FILE and its imports (`-`: standard input)
          build FILE -o OUT    compile FILE to IR (JSON, see docs/IR.md)
          fmt [--check] FILE...  format files in place (canonical layout, comments kept)
          graph FILE           print the task graph as DOT or Mermaid
          explain CODE         print the long explanation of a diagnostic code
          version              print the version

        check options:
          --format FORMAT      text (default), json, sarif or github
          --deny-warnings      exit 1 when there are warnings
          --explain-budget     also print, per budget and the deadline, the proven
                               worst and best case and the tasks or path behind them
          --explain-retry      also print, per task and retry rule, its attempts, delays
                               and the error classes it retries (`on` left out: every
                               class a retry can fix)
          --color WHEN         auto (default), always or never
          --stdlib DIR         where `import "std/..."` looks (default: found near ezc)

        exit codes: 0 clean, 1 errors found, 2 usage or I/O error (a file that cannot be
        read is reported and the other files are still checked; the exit code is then 2)
        """

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("ezc: error: \(message)\n\(usageHint)\n".utf8))
        return 2
    }

    static let usageHint = "run `ezc help` for usage"

    static func main(_ args: [String]) -> Int32 {
        guard let command = args.first else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            return 2
        }
        let rest = Array(args.dropFirst())
        switch command {
        case "check": return check(rest)
        case "build": return BuildCommand.run(rest)
        case "fmt": return FmtCommand.run(rest)
        case "graph": return GraphCommand.run(rest)
        case "explain": return explain(rest)
        case "version", "--version": print("ezc \(version)"); return 0
        case "help", "--help", "-h": print(usage); return 0
        default: return fail("unknown command `\(command)`")
        }
    }

    static func explain(_ args: [String]) -> Int32 {
        guard args.count == 1 else { return fail("`explain` takes one code, e.g. `ezc explain E0400`") }
        guard let text = Catalogue.explain(args[0]) else {
            return fail("no such diagnostic code `\(args[0])`")
        }
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        return 0
    }

    static func check(_ args: [String]) -> Int32 {
        var format = "text", denyWarnings = false, explainBudget = false, explainRetry = false, color = "auto", stdlib: String?
        var files: [String] = []
        var i = 0
        func value(_ flag: String) -> String? {
            i += 1
            return i < args.count ? args[i] : nil
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--format":
                guard let v = value(a), ["text", "json", "sarif", "github"].contains(v) else {
                    return fail("`--format` takes text, json, sarif or github")
                }
                format = v
            case "--deny-warnings": denyWarnings = true
            case "--explain-budget": explainBudget = true
            case "--explain-retry": explainRetry = true
            case "--color":
                guard let v = value(a), ["auto", "always", "never"].contains(v) else { return fail("`--color` takes auto, always or never") }
                color = v
            case "--stdlib":
                guard let v = value(a) else { return fail("`--stdlib` takes a directory") }
                stdlib = v
            default:
                if a.hasPrefix("-") && a != "-" { return fail("unknown option `\(a)`") }
                files.append(a)
            }
            i += 1
        }
        guard !files.isEmpty else { return fail("`check` needs at least one file") }
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
        case "sarif": print(SARIFRenderer(toolVersion: version).render(diags, sources: result.sources), terminator: "")
        case "github": print(GitHubRenderer().render(diags, sources: result.sources), terminator: "")
        default:
            let useColor = color == "always" || (color == "auto" && isatty(2) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
            let r = TextRenderer(color: useColor)
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
