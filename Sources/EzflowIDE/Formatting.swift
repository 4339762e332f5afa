import EzflowDiagnostics
import EzflowSyntax

/// What formatting a document comes to, for an editor: the `ezc fmt` printer's text, or
/// why the document is left as it is.
public enum FormatAnswer: Sendable, Equatable {
    /// The canonical text (equal to the input when it is formatted already).
    case text(String)
    /// The document has syntax errors: nothing to do (its diagnostics say why).
    case doesNotParse
    /// The printer would have changed the meaning or lost a comment (a bug in it), in
    /// words: the document must not be touched.
    case refused(String)
}

/// `ezc fmt` for an open document: the same printer and the same safety check (the
/// output parses back to the same tree and keeps every comment).
public enum Formatting {
    public static func format(_ bytes: [UInt8], path: String) -> FormatAnswer {
        switch Formatter.reformat(SourceFile(path: path, bytes: bytes)) {
        case .formatted(let text): .text(text)
        case .syntaxErrors: .doesNotParse
        case .unsafe(let why): .refused(why)
        }
    }
}
