// `--help` and usage text, read off the table.

enum Help {
    static let width = 92

    /// "a, b or c"
    static func list(_ words: [String]) -> String {
        words.count <= 1 ? (words.first ?? "") : words.dropLast().joined(separator: ", ") + " or " + words.last!
    }

    static func moreHint(_ tool: Tool, _ path: [String]) -> String {
        path.isEmpty ? "run `\(tool.name) --help` for the commands" : "run `\(([tool.name] + path).joined(separator: " ")) --help` for more"
    }

    /// The command lines of one command: `ezc check [OPTIONS] FILE...`, then its alternatives.
    static func synopses(_ tool: Tool, _ path: [String]) -> [String] {
        guard let c = tool.command(at: path) else { return ["\(tool.name) COMMAND [OPTIONS] [ARGUMENTS]"] }
        let head = ([tool.name] + path).joined(separator: " ")
        var line = head
        if !c.subcommands.isEmpty {
            line += " COMMAND [OPTIONS]"
        } else {
            if !c.flags.isEmpty { line += " [OPTIONS]" }
            for a in c.arguments { line += " " + a.synopsis }
        }
        return [line] + c.alternatives.map { "\(head) \($0)" }
    }

    /// `usage: ezc check [OPTIONS] FILE...`, alternatives aligned under it.
    static func usage(_ tool: Tool, _ path: [String]) -> String {
        let lines = synopses(tool, path)
        return (["usage: " + lines[0]] + lines.dropFirst().map { "       " + $0 }).joined(separator: "\n")
    }

    /// A summary as a sentence's start: its first letter capitalised.
    static func sentence<S: StringProtocol>(_ summary: S) -> String { summary.prefix(1).uppercased() + summary.dropFirst() }

    static func usage(_ tool: Tool) -> String { usage(tool, []) }

    static func toolHelp(_ tool: Tool) -> String {
        var out = "\(tool.name) \(tool.version): \(tool.summary)\n\n\(usage(tool))\n\ncommands:\n"
        out += table(tool.commands.map { ($0.name, $0.summary) })
        out += "\noptions:\n" + table([("-h, --help", "print this help"), ("    --version", "print the version")])
        out += "\nRun `\(tool.name) help COMMAND` or `\(tool.name) COMMAND --help` for a command's arguments and options.\n"
        out += exitStatus(tool.exitCodes)
        out += environment(tool.environment)
        return out
    }

    static func commandHelp(_ tool: Tool, _ path: [String]) -> String {
        guard let c = tool.command(at: path) else { return toolHelp(tool) }
        let head = ([tool.name] + path).joined(separator: " ")
        var out = "\(head): \(c.summary)\n\n\(usage(tool, path))\n"
        if !c.subcommands.isEmpty {
            out += "\ncommands:\n" + table(c.subcommands.map { ($0.name, $0.summary) })
        }
        if !c.arguments.isEmpty {
            out += "\narguments:\n" + table(c.arguments.map { ($0.synopsis, $0.help) })
        }
        out += "\noptions:\n" + table((c.flags + [helpFlag]).map { (flagColumn($0), flagHelp($0)) })
        if !c.details.isEmpty { out += "\n" + c.details + (c.details.hasSuffix("\n") ? "" : "\n") }
        if !c.subcommands.isEmpty { out += "\nRun `\(head) COMMAND --help` for a command's arguments and options.\n" }
        out += exitStatus(c.exitCodes.isEmpty ? tool.exitCodes : c.exitCodes)
        return out
    }

    static func flagColumn(_ f: Flag) -> String {
        (f.short.map { "\($0), " } ?? "    ") + f.name + (f.value.map { " \($0)" } ?? "")
    }

    /// A flag's help; the values it takes are named when its text does not name them.
    static func flagHelp(_ f: Flag) -> String {
        var text = f.help
        let words = Set(text.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "-" && $0 != "_" }).map(String.init))
        if let c = f.choices, !c.allSatisfy(words.contains) { text += ": " + list(c) }
        return text + (f.repeatable ? " (repeatable)" : "")
    }

    static func exitStatus(_ codes: [ExitCode]) -> String {
        guard !codes.isEmpty else { return "" }
        return "\nexit status:\n" + table(codes.map { (String($0.code), $0.meaning) })
    }

    static func environment(_ vars: [EnvironmentVariable]) -> String {
        guard !vars.isEmpty else { return "" }
        return "\nenvironment:\n" + table(vars.map { ($0.name, $0.meaning) })
    }

    /// Two columns; the second wrapped to `width`, or on its own lines when the first is long.
    static func table(_ rows: [(String, String)]) -> String {
        let left = min(30, (rows.map(\.0.count).max() ?? 0) + 2)
        var out = ""
        for (name, text) in rows {
            let lines = wrap(text, width - 2 - left)
            if name.count + 2 > left {
                out += "  \(name)\n"
                for l in lines { out += String(repeating: " ", count: 2 + left) + l + "\n" }
            } else {
                out += "  " + name + String(repeating: " ", count: left - name.count) + (lines.first ?? "") + "\n"
                for l in lines.dropFirst() { out += String(repeating: " ", count: 2 + left) + l + "\n" }
            }
        }
        return out
    }

    /// Greedy word wrap; explicit newlines are kept.
    static func wrap(_ text: String, _ width: Int) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                if !line.isEmpty && line.count + 1 + word.count > width {
                    lines.append(line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            lines.append(line)
        }
        return lines
    }
}
