import Foundation

// docs/CLI.md, generated from the table: the commands, their options and exit statuses.
// `Tests/EzcTests/CLIDocsTests` fails when the file differs (EZFLOW_UPDATE_GOLDEN=1 rewrites it).

public enum Markdown {
    /// The reference of one tool: a table of its commands, then each command's options.
    public static func reference(_ tool: Tool) -> String {
        var out = "## `\(tool.name)`\n\n\(Help.sentence(tool.summary)).\n\n"
        out += commandTable(tool) + "\n"
        for path in tool.paths { out += section(tool, path) }
        out += "### Exit status of `\(tool.name)`\n\n" + codes(tool.exitCodes) + "\n"
        if !tool.environment.isEmpty {
            out += "### Environment of `\(tool.name)`\n\n| variable | meaning |\n|---|---|\n"
            for v in tool.environment { out += "| `\(v.name)` | \(cell(v.meaning)) |\n" }
            out += "\n"
        }
        return out
    }

    /// `| command | what it does |`, one row per command and subcommand.
    public static func commandTable(_ tool: Tool) -> String {
        var out = "| command | what it does |\n|---|---|\n"
        for path in tool.paths {
            let c = tool.command(at: path)!
            let synopsis = Help.synopses(tool, path)[0]
            out += "| `\(cell(synopsis))` | \(cell(c.summary)) |\n"
        }
        return out
    }

    static func section(_ tool: Tool, _ path: [String]) -> String {
        let c = tool.command(at: path)!
        var out = "### `\(([tool.name] + path).joined(separator: " "))`\n\n"
        out += "```text\n\(Help.usage(tool, path))\n```\n\n\(cell(Help.sentence(c.summary))).\n\n"
        if !c.arguments.isEmpty || !c.flags.isEmpty {
            out += "| argument or option | meaning |\n|---|---|\n"
            for a in c.arguments { out += "| `\(cell(a.synopsis))` | \(cell(a.help)) |\n" }
            for f in c.flags { out += "| `\(cell(Help.flagColumn(f).trimmingCharacters(in: .whitespaces)))` | \(cell(Help.flagHelp(f))) |\n" }
            out += "\n"
        }
        if !c.details.isEmpty { out += "```text\n\(c.details)\n```\n\n" }
        if !c.exitCodes.isEmpty { out += "Exit status:\n\n" + codes(c.exitCodes) + "\n" }
        return out
    }

    static func codes(_ codes: [ExitCode]) -> String {
        "| status | meaning |\n|---|---|\n" + codes.map { "| \($0.code) | \(cell($0.meaning)) |\n" }.joined()
    }

    /// A table cell: one line, pipes escaped.
    static func cell<S: StringProtocol>(_ text: S) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
