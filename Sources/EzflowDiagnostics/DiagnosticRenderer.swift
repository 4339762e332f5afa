/// Turns diagnostics into one output format. `ezc check --format` picks a conformer;
/// the diagnostics and the sources are the same whatever the format, so every
/// format shows the same findings at the same positions.
///
/// Renderers print diagnostics in the order given; callers sort first with
/// `sortedByPosition()` so that output does not depend on the order checks ran in.
public protocol DiagnosticRenderer: Sendable {
    /// The complete output for `diagnostics`, ending with a newline unless empty.
    func render(_ diagnostics: [Diagnostic], sources: SourceMap) -> String
}

extension TextRenderer: DiagnosticRenderer {}

/// A span resolved to the 1-based positions every machine-readable format reports.
/// The end is exclusive: `endColumn` is the column just after the last character,
/// as in SARIF.
struct ResolvedSpan: Hashable {
    var path: String
    var line: Int
    var column: Int
    var endLine: Int
    var endColumn: Int
}

extension SourceMap {
    func resolve(_ span: Span) -> ResolvedSpan {
        let file = self[span.file]
        let start = file.position(of: span.start)
        let end = file.position(of: span.end)
        return ResolvedSpan(
            path: file.path, line: start.line, column: start.column, endLine: end.line, endColumn: end.column)
    }
}
