import EzflowCLI
import EzflowLSP

/// `ezc lsp`: the language server on standard input and output. Its log lines go to
/// standard error, where editors show them; standard output carries only protocol.
enum LSPCommand {
    static func run(_ inv: Invocation) -> Int32 {
        let log: (String) -> Void = { Console.err("ezc lsp: \($0)\n") }
        let server = LanguageServer(version: EzcCommand.tool.version, stdlibRoot: inv.value("--stdlib"), log: log)
        return StdioTransport.run(server, log: log)
    }
}
