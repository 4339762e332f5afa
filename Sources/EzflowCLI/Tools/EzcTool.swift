// `ezc`'s commands, flags and help: the one table its parser, help, completions, man page
// and docs/CLI.md are made from.

extension Tool {
    public static let ezc = Tool(
        name: "ezc", version: ezflowVersion,
        summary: "the ezflow compiler: checks, builds, formats and draws workflows",
        commands: [
            CommandSpec("check", "report every diagnostic in FILE and its imports",
                    arguments: [Argument("FILE", "a workflow (.ezflow or .ezflow.yaml); `-` reads standard input (shown as <stdin>)",
                                         variadic: true, complete: .file)],
                    flags: [
                        Flag.choice("--format", value: "FORMAT", ["text", "json", "sarif", "github"],
                                    "text (default, on standard error), json, sarif (SARIF 2.1.0) or github (workflow commands)"),
                        Flag("--deny-warnings", "exit 1 when there are warnings"),
                        Flag("--explain-budget", "also print, per budget and the deadline, the proven worst and best case and the tasks or path behind them"),
                        Flag("--explain-retry", "also print, per task and retry rule, its attempts, delays and the error classes it retries"),
                        SharedFlags.color, SharedFlags.stdlib,
                    ],
                    details: "A file that cannot be read is reported and the other files are still checked; the exit status is then 2.",
                    exitCodes: [ExitCode(0, "clean (warnings allowed)"), ExitCode(1, "errors found (or warnings, under --deny-warnings)"),
                                ExitCode(2, "usage error, or a file could not be read")]),
            CommandSpec("build", "compile FILE to IR (canonical JSON with a content hash, docs/IR.md)",
                    arguments: [Argument("FILE", "the workflow to compile (required unless --validate)", optional: true, complete: .file)],
                    flags: [
                        Flag("--output", short: "-o", value: "OUT", "where the IR goes, required with FILE (`-`: standard output)", complete: .file),
                        Flag("--validate", value: "FILE.ezir", "validate an IR file instead of compiling (no FILE, no -o)", complete: .file),
                        SharedFlags.color, SharedFlags.stdlib,
                    ],
                    alternatives: ["--validate FILE.ezir"],
                    exitCodes: [ExitCode(0, "IR written (or the IR file is valid)"),
                                ExitCode(1, "errors found (diagnostics on standard error, nothing written) or invalid IR"),
                                ExitCode(2, "usage or I/O error")]),
            CommandSpec("fmt", "format files in place: canonical layout (an .ezflow file keeps its comments; a YAML file does not, docs/YAML.md)",
                    arguments: [Argument("FILE", "a workflow; `-` formats standard input to standard output", variadic: true, complete: .file)],
                    flags: [
                        Flag("--check", "change nothing; list the files that would change (exit 1 if any)"),
                        Flag.choice("--to", value: "SURFACE", ["yaml", "ezflow"], "convert one file to the other surface (to standard output, or -o)"),
                        Flag("--output", short: "-o", value: "OUT", "with --to: where the converted file goes", complete: .file),
                    ],
                    alternatives: ["--to yaml|ezflow FILE [-o OUT]"],
                    exitCodes: [ExitCode(0, "nothing to do, or every file written"),
                                ExitCode(1, "a file has syntax errors (left untouched), or under --check a file would change"),
                                ExitCode(2, "usage or I/O error, or the formatter's own check failed (nothing written)")]),
            CommandSpec("graph", "print the task graph as DOT or Mermaid, the critical path marked",
                    arguments: [Argument("FILE", "the workflow", complete: .file)],
                    flags: [
                        Flag.choice("--format", value: "FORMAT", ["dot", "mermaid"], "dot (default) or mermaid"),
                        Flag("--output", short: "-o", value: "OUT", "write to OUT instead of standard output", complete: .file),
                        SharedFlags.color, SharedFlags.stdlib,
                    ],
                    exitCodes: [ExitCode(0, "graph printed"), ExitCode(1, "the file has errors (printed as by check)"),
                                ExitCode(2, "usage or I/O error")]),
            CommandSpec("lsp", "run the language server (LSP 3.17) on standard input and output, for editors",
                    flags: [SharedFlags.stdlib],
                    details: """
                        Diagnostics, hover, go to definition and completion over the files the editor has open;
                        the files they import are read from disk. Log lines go to standard error, standard output
                        carries only the protocol. docs/EDITORS.md shows how to set up Neovim and Helix.
                        """,
                    exitCodes: [ExitCode(0, "the client sent `shutdown`, then `exit`"), ExitCode(1, "`exit` without `shutdown`, or the input ended first"),
                                ExitCode(2, "usage error")]),
            CommandSpec("explain", "print the long explanation of a diagnostic code, with examples",
                    arguments: [Argument("CODE", "a diagnostic code, e.g. E0400")],
                    exitCodes: [ExitCode(0, "explained"), ExitCode(2, "no such code, or a usage error")]),
        ],
        exitCodes: [ExitCode(0, "success"), ExitCode(1, "the input has errors (see each command)"), ExitCode(2, "usage or I/O error")],
        environment: [stdlibVariable, noColorVariable])
}
