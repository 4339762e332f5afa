import Foundation

// `TOOL help --man`: the manual page, in roff (man(7) macros), from the table.

enum ManPage {
    static func render(_ tool: Tool) -> String {
        let upper = tool.name.uppercased()
        var out = ".TH \(upper) 1 \"\" \"\(tool.name) \(tool.version)\" \"ezflow\"\n"
        out += ".SH NAME\n\(tool.name) \\- \(escape(tool.summary))\n"
        out += ".SH SYNOPSIS\n.B \(tool.name)\n.I COMMAND\n[\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]\n"
        out += ".SH DESCRIPTION\n\(escape(Help.sentence(tool.summary))).\n"
        out += "Every command answers \\fB\\-h\\fR, \\fB\\-\\-help\\fR and \\fB\(tool.name) help\\fR \\fICOMMAND\\fR.\n"
        out += ".SH COMMANDS\n"
        for path in tool.paths { out += command(tool, path) }
        out += ".SH EXIT STATUS\n" + codes(tool.exitCodes)
        if !tool.environment.isEmpty {
            out += ".SH ENVIRONMENT\n"
            for v in tool.environment { out += ".TP\n.B \(v.name)\n\(escape(v.meaning))\n" }
        }
        return out
    }

    static func command(_ tool: Tool, _ path: [String]) -> String {
        let c = tool.command(at: path)!
        var out = ".SS \(escape(([tool.name] + path).joined(separator: " ")))\n"
        for line in Help.synopses(tool, path) { out += ".nf\n\\fB\(escape(line))\\fR\n.fi\n" }
        out += ".PP\n\(escape(Help.sentence(c.summary))).\n"
        for a in c.arguments { out += ".TP\n.I \(escape(a.synopsis))\n\(escape(a.help))\n" }
        for f in c.flags {
            let names = (f.short.map { "\\fB\(escape($0))\\fR, " } ?? "") + "\\fB\(escape(f.name))\\fR" + (f.value.map { " \\fI\(escape($0))\\fR" } ?? "")
            out += ".TP\n\(names)\n\(escape(Help.flagHelp(f)))\n"
        }
        if !c.details.isEmpty { out += ".PP\n.nf\n\(escape(c.details))\n.fi\n" }
        if !c.exitCodes.isEmpty { out += ".PP\nExit status:\n" + codes(c.exitCodes) }
        return out
    }

    static func codes(_ codes: [ExitCode]) -> String {
        codes.map { ".TP\n.B \($0.code)\n\(escape($0.meaning))\n" }.joined()
    }

    /// Text as roff reads it: backslashes doubled, hyphens as `\-`, no line starting a request.
    static func escape<S: StringProtocol>(_ text: S) -> String {
        var out = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var l = line.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
            if l.hasPrefix(".") || l.hasPrefix("'") { l = "\\&" + l }
            // troff reads bytes, not UTF-8: other characters by their code point.
            l = l.unicodeScalars.map { $0.isASCII ? String($0) : "\\[u" + String(format: "%04X", $0.value) + "]" }.joined()
            out += (out.isEmpty ? "" : "\n") + l
        }
        return out
    }
}
