import EzflowCheck
import EzflowDiagnostics

/// A quick fix: one of a diagnostic's `Fix`es, with its edits located for an editor.
public struct QuickFix: Sendable, Hashable {
    public var title: String
    /// The diagnostic it fixes (as `diagnostics(in:)` lists it).
    public var diagnostic: Diagnostic
    public var edits: [FileEdit]
    /// The only fix of its diagnostic: an editor may apply it on its own ("fix all").
    public var preferred: Bool
}

extension Analysis {
    /// The fixes of the diagnostics of `path` whose primary range meets `start...end`
    /// (byte offsets), in the order of the diagnostics: did-you-mean replacements, grants
    /// added to a role, `on_conflict` added to an output, a YAML value quoted, and every
    /// other fix the checker proposes. A fix may edit another file (a role declared in an
    /// imported module).
    public func quickFixes(path: String, start: Int, end: Int) -> [QuickFix] {
        var out: [QuickFix] = []
        for d in diagnostics(in: path) where d.primary.span.start <= end && start <= d.primary.span.end {
            for f in d.fixes {
                let edits = f.edits.map { FileEdit(range: location($0.span), newText: $0.replacement) }
                out.append(QuickFix(title: f.title, diagnostic: d, edits: edits, preferred: d.fixes.count == 1))
            }
        }
        return out
    }
}
