/// Renders diagnostics as GitHub Actions workflow commands, one per line, so that
/// `ezc check --format github` in a CI step annotates the pull request's diff:
///
///     ::error file=ci.ezflow,line=3,col=5,endLine=3,endColumn=10,title=E0400::dependency cycle ...
///
/// A command is a single line, so the body's line breaks are escaped as `%0A`; GitHub
/// shows them as line breaks. The body is the message, then one line per labelled span
/// (`path:line:col: label`, the primary first), then notes and help, so the annotation
/// says everything the terminal output does except the source excerpt.
public struct GitHubRenderer: DiagnosticRenderer {
    public init() {}

    public func render(_ diags: [Diagnostic], sources: SourceMap) -> String {
        var out = ""
        for d in diags { out += render(d, sources: sources) + "\n" }
        return out
    }

    /// One workflow command, without the trailing newline.
    public func render(_ d: Diagnostic, sources: SourceMap) -> String {
        let at = sources.resolve(d.primary.span)
        let command: String
        switch d.severity {
        case .error: command = "error"
        case .warning: command = "warning"
        case .note: command = "notice"
        }
        let properties = [
            ("file", at.path), ("line", String(at.line)), ("col", String(at.column)),
            ("endLine", String(at.endLine)), ("endColumn", String(at.endColumn)), ("title", d.code),
        ].map { "\($0.0)=\(Self.escapeProperty($0.1))" }

        var body = [d.message]
        for label in [d.primary] + d.secondary where !label.message.isEmpty {
            let p = sources.resolve(label.span)
            body.append("\(p.path):\(p.line):\(p.column): \(label.message)")
        }
        body += d.notes.map { "note: \($0)" }
        if let help = d.help { body.append("help: \(help)") }
        return "::\(command) \(properties.joined(separator: ","))::\(Self.escapeData(body.joined(separator: "\n")))"
    }

    /// Escaping for the text after `::`, as the Actions runner decodes it.
    static func escapeData(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "%": out += "%25"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Property values additionally escape `:` and `,`, which delimit the properties.
    static func escapeProperty(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in escapeData(s).unicodeScalars {
            switch c {
            case ":": out += "%3A"
            case ",": out += "%2C"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
