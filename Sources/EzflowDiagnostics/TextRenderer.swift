/// Renders diagnostics the way rustc does: headline, `--> file:line:col`, the source
/// lines with carets (`^` primary, `-` secondary), then notes and help.
/// Colour is used only when the caller says the output is a terminal.
public struct TextRenderer: Sendable {
    public var color: Bool
    public init(color: Bool = false) { self.color = color }

    public func render(_ diagnostics: [Diagnostic], sources: SourceMap) -> String {
        var out = ""
        for d in diagnostics { out += render(d, sources: sources) + "\n" }
        return out
    }

    /// The closing summary line, e.g. `error: 2 errors and 1 warning emitted`.
    public func summary(_ diagnostics: [Diagnostic]) -> String? {
        let e = diagnostics.errorCount, w = diagnostics.warningCount
        if e == 0 && w == 0 { return nil }
        var parts: [String] = []
        if e > 0 { parts.append("\(e) error\(e == 1 ? "" : "s")") }
        if w > 0 { parts.append("\(w) warning\(w == 1 ? "" : "s")") }
        let head = e > 0 ? paint("error", .red) : paint("warning", .yellow)
        return "\(head): \(parts.joined(separator: " and ")) emitted"
    }

    public func render(_ d: Diagnostic, sources: SourceMap) -> String {
        let file = sources[d.primary.span.file]
        let (line, col) = file.position(of: d.primary.span.start)
        var labels = [(d.primary, true)] + d.secondary.map { ($0, false) }
        // The primary's file first, then other files in map order, each by position: a
        // total order, so labels of one file stay together under one `:::` header.
        func order(_ l: (Label, Bool)) -> (Int, Int, Int, Int) {
            (l.0.span.file == d.primary.span.file ? 0 : 1, l.0.span.file, l.0.span.start, l.1 ? 0 : 1)
        }
        labels.sort { order($0) < order($1) }
        let lineNumbers = labels.map { sources[$0.0.span.file].position(of: $0.0.span.start).line }
        let gutter = String(repeating: " ", count: String(lineNumbers.max() ?? line).count)
        let sev = d.severity.rawValue
        var out = paint("\(sev)[\(d.code)]", d.severity == .error ? .red : .yellow) + paint(": \(d.message)", .bold) + "\n"
        out += "\(gutter)\(paint("-->", .blue)) \(file.path):\(line):\(col)\n"
        out += "\(gutter) \(paint("|", .blue))\n"
        var currentFile = d.primary.span.file
        var lastLine = -1
        for (label, isPrimary) in labels {
            let f = sources[label.span.file]
            if label.span.file != currentFile {
                let p = f.position(of: label.span.start)
                out += "\(gutter)\(paint(":::", .blue)) \(f.path):\(p.line):\(p.column)\n"
                out += "\(gutter) \(paint("|", .blue))\n"
                currentFile = label.span.file
                lastLine = -1
            }
            let (l, c) = f.position(of: label.span.start)
            let text = f.lineText(l)
            let (endLine, endCol) = f.position(of: label.span.end)
            // Multi-line spans underline to the end of their first line.
            let width = max(1, endLine == l ? endCol - c : text.unicodeScalars.count - c + 1)
            if lastLine != -1 && l > lastLine + 1 { out += paint("...", .blue) + "\n" }
            if l != lastLine {
                let num = String(l)
                out += paint(String(repeating: " ", count: gutter.count - num.count) + num + " |", .blue)
                out += text.isEmpty ? "\n" : " \(expandTabs(text))\n"
            }
            let prefix = expandTabs(String(text.unicodeScalars.prefix(c - 1)))
            let pad = String(repeating: " ", count: prefix.count)
            let mark = String(repeating: isPrimary ? "^" : "-", count: width)
            let tail = label.message.isEmpty ? "" : " " + label.message
            out += "\(gutter) \(paint("|", .blue)) \(pad)"
                + paint(mark + tail, isPrimary ? (d.severity == .error ? .red : .yellow) : .blue) + "\n"
            lastLine = l
        }
        if !d.notes.isEmpty || d.help != nil { out += "\(gutter) \(paint("|", .blue))\n" }
        for n in d.notes { out += "\(gutter) \(paint("=", .blue)) \(paint("note", .bold)): \(n)\n" }
        if let h = d.help { out += "\(gutter) \(paint("=", .blue)) \(paint("help", .bold)): \(h)\n" }
        return out
    }

    private func expandTabs(_ s: String) -> String { s.replacingTabs() }

    enum Tint: String { case red = "31", yellow = "33", blue = "34", bold = "1" }

    private func paint(_ s: String, _ tint: Tint) -> String {
        color ? "\u{1B}[\(tint == .bold ? "1" : "1;" + tint.rawValue)m\(s)\u{1B}[0m" : s
    }
}

extension String {
    /// Tabs shown as four spaces so carets line up.
    func replacingTabs() -> String {
        guard contains("\t") else { return self }
        return split(separator: "\t", omittingEmptySubsequences: false).joined(separator: "    ")
    }
}
