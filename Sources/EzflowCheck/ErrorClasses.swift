import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    static var builtinErrorClasses: [String] { SchemaInfo.builtinErrorClasses }

    /// The classes a retry rule's `on` names: built-in words, `error` declarations of this
    /// module, and those of imported modules as `alias.name` (resolved like any imported
    /// declaration). A class travels as its bare name: that is what a task reports in
    /// `{"error": {"class": ...}}`, whichever module declared it.
    mutating func errorClasses(_ e: Expr, module m: Int) -> [String] {
        guard case .list(let items) = e.kind else {
            if case .error = e.kind { return [] }
            report(error("E0300", "`on` takes a list of error classes", e.span, help: "write `[timeout, transient]`"))
            return []
        }
        var out: [String] = []
        for i in items {
            switch i.kind {
            case .error: continue
            case .name(let w):
                if Self.builtinErrorClasses.contains(w) { out.append(w); bindings.record(i.span, w, .builtin(w)); continue }
                if findDecl(w, kind: .error, module: m) != nil {
                    out.append(w)
                    bindings.record(i.span, w, .decl(.error, DeclID(module: m, name: w)))
                    continue
                }
                reportUnknownErrorClass(w, i.span, module: m)
            case .member where i.path?.count == 2:
                if let r = resolveRef(i, kinds: [.error], module: m) { out.append(r.id.name) }
            default:
                report(error("E0209", "`on` takes an error class", i.span,
                             help: "write a bare word (`transient`) or an imported class (`retry.rate_limited`)"))
            }
        }
        return out
    }

    /// E0604, suggesting a close local class, or `alias.name` when an import declares it.
    mutating func reportUnknownErrorClass(_ w: String, _ span: Span, module m: Int) {
        for (alias, imp) in modules[m].imports.sorted(by: { $0.key < $1.key }) {
            guard let tm = imp.module, findDecl(w, kind: .error, module: tm) != nil else { continue }
            // The import is what the fix uses: no "unused import" beside it.
            usedImports.insert("\(m):\(alias)")
            report(error("E0604", "unknown error class `\(w)`", span, help: "did you mean `\(alias).\(w)`? it is declared in module `\(alias)`")
                .fixing(.replace(span, with: "\(alias).\(w)")))
            return
        }
        let candidates = Self.builtinErrorClasses + modules[m].decls.values.filter { $0.kind == .error }.map(\.name.text)
        report(error("E0604", "unknown error class `\(w)`", span)
            .suggesting(suggest(w, among: candidates), at: span,
                        otherwise: "built-in classes are timeout, transient, agent_error and output_error; declare others with `error \(w)`"))
    }
}
