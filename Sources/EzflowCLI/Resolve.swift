import Foundation

extension Tool {
    /// The command to run, or — for help, version, completions and usage errors — the
    /// text printed and the process ended with its status. The executables' entry point.
    public func resolve(_ argv: [String]) -> Invocation {
        Console.checkStandardOutputAtExit()
        switch parse(argv) {
        case .invoke(let inv): return inv
        case .output(let text, let toStandardError, let status):
            if toStandardError { Console.err(text) } else { Console.out(text) }
            exit(status)
        }
    }

    /// A usage error found after parsing (two flags that do not go together, a bad
    /// number): the message, the command's usage, exit 2 — as the parser's own errors.
    public func usageFailure(_ inv: Invocation, _ message: String) -> Never {
        guard case .output(let text, _, let status) = usageError(inv.path, message) else { exit(Tool.usageStatus) }
        Console.err(text)
        exit(status)
    }
}
