// Flags more than one command (or tool) shares: written once, listed wherever they apply.

/// The version of every ezflow tool (they ship together).
public let ezflowVersion = "0.1.0"

public enum SharedFlags {
    public static let stdlib = Flag("--stdlib", value: "DIR",
                                    "where `import \"std/...\"` looks (default: $EZFLOW_STDLIB, else the stdlib installed beside the executable)",
                                    complete: .directory)
    public static let color = Flag.choice("--color", value: "WHEN", ["auto", "always", "never"],
                                          "colour: auto (default: on a terminal, unless NO_COLOR is set and non-empty or TERM=dumb), always or never")
    public static let db = Flag("--db", value: "PATH", "the store (default: $EZFLOW_DB, else .ezflow/ezflow.db)", complete: .file)
    public static let json = Flag("--json", "print JSON on standard output instead of text")
    public static let selector = Flag.choice("--selector", value: "S", ["cheapest", "fastest", "learned", "auction"],
                                             "override the workflow's agent selector")
}

/// Environment variables both tools read.
let stdlibVariable = EnvironmentVariable("EZFLOW_STDLIB", "the standard library directory, when --stdlib is not given (ignored when empty)")
let noColorVariable = EnvironmentVariable("NO_COLOR", "when set and non-empty, no colour (https://no-color.org); TERM=dumb has the same effect")
