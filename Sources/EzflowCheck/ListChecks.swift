import EzflowAttributes
import EzflowDiagnostics
import EzflowSyntax

/// Checks of what list-valued attributes and output declarations say, beyond their types.
extension WorkflowChecker {
    /// Attributes whose list is a set of names or words: an entry given twice says nothing
    /// more, and usually means another entry was meant (W0105). `for_each` lists are data.
    static func isNameSet(_ f: AttrFact) -> Bool {
        switch f.value {
        case .strings, .words, .refs: return true
        case .custom: return f.name == "after" || f.name == "writes"
        default: return false
        }
    }

    /// Warns once for each entry of `e` (a list literal) that repeats an earlier one, with
    /// a fix that removes the repeat and the comma before it.
    mutating func checkDuplicateEntries(_ e: Expr, _ f: AttrFact) {
        guard Self.isNameSet(f), case .list(let items) = e.kind else { return }
        var seen: [String: Span] = [:]
        for (k, i) in items.enumerated() {
            guard let key = Self.entryKey(i) else { continue }
            guard let first = seen[key] else { seen[key] = i.span; continue }
            let cut = Span(file: i.span.file, start: items[k - 1].span.end, end: i.span.end)
            report(Diagnostic.warning("W0105", "`\(key)` is listed twice in `\(f.name)`", at: i.span, label: "listed again here",
                                      secondary: [Label(first, "first listed here")], help: "remove the second one")
                .fixing(.remove(cut, "the second `\(key)`")))
        }
    }

    /// How an entry reads (`build`, `lib.test`, `"linux"` as `linux`); nil for anything else.
    static func entryKey(_ e: Expr) -> String? {
        if let p = e.path { return p.map(\.text).joined(separator: ".") }
        if case .string(let s)? = Constant.fold(e) { return s }
        return nil
    }

    /// `on_conflict: merge` combines two writes key by key (records, maps) or by
    /// concatenation (lists); the runtime fails the run for any other value (E0701).
    mutating func checkMergeable(_ ty: Ty, onConflict: String?, at span: Span?, output: Name) {
        guard onConflict == "merge", let span, !Self.isMergeable(ty) else { return }
        report(error("E0701", "output `\(output.text)` of type `\(ty)` cannot be merged", span,
                     label: "`merge` needs a list, a map or a record",
                     secondary: [Label(output.span, "declared as `\(ty)` here")],
                     help: "use `on_conflict: last_writer` (the later write wins), `fail` or `escalate`, or make the output a list")
            .fixing(.replace(span, with: "last_writer")))
    }

    static func isMergeable(_ ty: Ty) -> Bool {
        switch ty {
        case .list, .map, .record, .json, .error: return true
        case .optional(let t): return isMergeable(t)
        default: return false
        }
    }

    /// The `on_conflict` an output's writers should be told to use in help lines.
    static func conflictHint(_ ty: Ty) -> String { isMergeable(ty) ? "merge" : "last_writer" }
}
