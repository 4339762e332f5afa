import EzflowUnits

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
        if e > 0 { parts.append(Units.counted(e, "error")) }
        if w > 0 { parts.append(Units.counted(w, "warning")) }
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
            (l.0.span.file == d.primary.span.file ? 0 : 1, sources.rank(l.0.span.file), l.0.span.start, l.1 ? 0 : 1)
        }
        labels.sort { order($0) < order($1) }
        let lineNumbers = labels.map { sources[$0.0.span.file].position(of: $0.0.span.start).line }
        let gutter = String(repeating: " ", count: String(lineNumbers.max() ?? line).count)
        let sev = d.severity.rawValue
        var out = paint("\(sev)[\(d.code)]", d.severity == .error ? .red : .yellow) + paint(": \(Self.clean(d.message))", .bold) + "\n"
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
            let (l, col) = f.position(of: label.span.start)
            let (endLine, endCol) = f.position(of: label.span.end)
            // Multi-line spans underline to the end of their first line.
            let full = f.lineText(l)
            let rawWidth = max(1, endLine == l ? endCol - col : full.unicodeScalars.count - col + 1)
            let (text, c, width) = Self.excerpt(full, column: col, width: rawWidth)
            if lastLine != -1 && l > lastLine + 1 { out += paint("...", .blue) + "\n" }
            if l != lastLine {
                let num = String(l)
                out += paint(String(repeating: " ", count: gutter.count - num.count) + num + " |", .blue)
                out += text.isEmpty ? "\n" : " \(expandTabs(text))\n"
            }
            let prefix = expandTabs(String(text.unicodeScalars.prefix(c - 1)))
            let pad = String(repeating: " ", count: prefix.count)
            let mark = String(repeating: isPrimary ? "^" : "-", count: width)
            let tail = label.message.isEmpty ? "" : " " + Self.clean(label.message)
            out += "\(gutter) \(paint("|", .blue)) \(pad)"
                + paint(mark + tail, isPrimary ? (d.severity == .error ? .red : .yellow) : .blue) + "\n"
            lastLine = l
        }
        if !d.notes.isEmpty || d.help != nil { out += "\(gutter) \(paint("|", .blue))\n" }
        for n in d.notes { out += "\(gutter) \(paint("=", .blue)) \(paint("note", .bold)): \(Self.clean(n))\n" }
        if let h = d.help { out += "\(gutter) \(paint("=", .blue)) \(paint("help", .bold)): \(Self.clean(h))\n" }
        return out
    }

    private func expandTabs(_ s: String) -> String { s.replacingTabs() }

    /// Longest source line shown whole; longer ones are cut to a window around the span.
    static let excerptMax = 160

    /// The part of a source line to show, with control characters made harmless
    /// (a source file must not be able to drive the user's terminal), and the
    /// column and caret width within that part.
    static func excerpt(_ line: String, column: Int, width: Int) -> (String, Int, Int) {
        let scalars = Array(clean(line).unicodeScalars)
        guard scalars.count > excerptMax else { return (String(String.UnicodeScalarView(scalars)), column, width) }
        let start = max(0, min(column - 1 - 60, scalars.count - 140))
        let end = min(scalars.count, start + 140)
        var text = start > 0 ? "..." : ""
        text += String(String.UnicodeScalarView(scalars[start..<end]))
        if end < scalars.count { text += "..." }
        let c = column - start + (start > 0 ? 3 : 0)
        return (text, c, max(1, min(width, end - (column - 1))))
    }

    /// Replaces C0/C1 control characters (but tab) with U+FFFD, one for one, so columns stay put.
    static func clean(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        return String(String.UnicodeScalarView(s.unicodeScalars.map { isControl($0) ? "\u{FFFD}" : $0 }))
    }

    static func isControl(_ u: Unicode.Scalar) -> Bool {
        (u.value < 0x20 && u.value != 0x09) || (u.value >= 0x7F && u.value < 0xA0)
    }

    private func paint(_ s: String, _ tint: TerminalColor.Tint) -> String {
        tint == .bold ? TerminalColor.paint(s, .bold, enabled: color) : TerminalColor.paint(s, .bold, tint, enabled: color)
    }
}

extension String {
    /// Tabs shown as four spaces so carets line up.
    func replacingTabs() -> String {
        guard contains("\t") else { return self }
        return split(separator: "\t", omittingEmptySubsequences: false).joined(separator: "    ")
    }
}
