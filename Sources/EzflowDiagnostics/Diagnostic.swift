/// How bad a diagnostic is. Errors fail `ezc check` (exit 1); warnings fail it only
/// under `--deny-warnings`.
public enum Severity: String, Sendable, Hashable, Codable {
    case error, warning, note
}

/// A labelled span: the primary label says what is wrong where; secondary labels
/// point at related places (the other declaration, each task of a cycle).
public struct Label: Sendable, Hashable {
    public var span: Span
    public var message: String
    public init(_ span: Span, _ message: String = "") {
        self.span = span
        self.message = message
    }
}

/// One finding. Diagnostics are data: code that finds a problem builds one of these
/// and never formats text itself; `DiagnosticRenderer` turns them into text, JSON,
/// SARIF or GitHub annotations.
public struct Diagnostic: Sendable, Hashable {
    /// Stable code, `E0xxx` or `W0xxx`; never reused for another meaning.
    public var code: String
    public var severity: Severity
    /// Headline: lowercase, terse, names in backticks.
    public var message: String
    public var primary: Label
    public var secondary: [Label]
    /// Free-standing notes (`= note: ...`), e.g. the arithmetic behind a budget error.
    public var notes: [String]
    /// The fix or a "did you mean", when one is known.
    public var help: String?
    /// The edits `help` proposes, as data (empty when there is no mechanical fix).
    public var fixes: [Fix] = []

    public init(
        _ code: String, _ severity: Severity, _ message: String, at primary: Label,
        secondary: [Label] = [], notes: [String] = [], help: String? = nil, fixes: [Fix] = []
    ) {
        self.code = code
        self.severity = severity
        self.message = message
        self.primary = primary
        self.secondary = secondary
        self.notes = notes
        self.help = help
        self.fixes = fixes
    }

    public static func error(
        _ code: String, _ message: String, at span: Span, label: String = "",
        secondary: [Label] = [], notes: [String] = [], help: String? = nil
    ) -> Diagnostic {
        Diagnostic(code, .error, message, at: Label(span, label), secondary: secondary, notes: notes, help: help)
    }

    public static func warning(
        _ code: String, _ message: String, at span: Span, label: String = "",
        secondary: [Label] = [], notes: [String] = [], help: String? = nil
    ) -> Diagnostic {
        Diagnostic(code, .warning, message, at: Label(span, label), secondary: secondary, notes: notes, help: help)
    }
}

extension Array where Element == Diagnostic {
    /// Sorted by position, then code, so output is stable whatever order checks ran in.
    public func sortedByPosition() -> [Diagnostic] {
        sorted { a, b in
            if a.primary.span != b.primary.span { return a.primary.span < b.primary.span }
            if a.code != b.code { return a.code < b.code }
            return a.message < b.message
        }
    }

    /// Sorted by file (in the order `sources` loaded them), position, then code.
    public func sortedByPosition(in sources: SourceMap) -> [Diagnostic] {
        func key(_ d: Diagnostic) -> (Int, Int, Int) { (sources.rank(d.primary.span.file), d.primary.span.start, d.primary.span.end) }
        return sorted { a, b in
            if key(a) != key(b) { return key(a) < key(b) }
            if a.code != b.code { return a.code < b.code }
            return a.message < b.message
        }
    }

    public var errorCount: Int { lazy.filter { $0.severity == .error }.count }
    public var warningCount: Int { lazy.filter { $0.severity == .warning }.count }
}
