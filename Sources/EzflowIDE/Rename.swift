import EzflowCheck
import EzflowDiagnostics
import EzflowSyntax

/// What a rename asks of the user before it runs, or why it cannot.
public enum RenameTarget: Sendable, Hashable {
    /// The name under the cursor (its range and text) and the symbol it names.
    case symbol(Symbol, range: Location)
    case refused(String)
}

extension Analysis {
    /// Whether `s` can be a declaration's name (letters, digits and `_`, not a keyword).
    public static func isName(_ s: String) -> Bool { isBareIdentifier(s) }

    /// Whether the thing at `offset` can be renamed: its name's range there, or why not.
    public func renameTarget(path: String, offset: Int) -> RenameTarget? {
        guard let s = symbol(path: path, offset: offset) else { return nil }
        guard let here = references(to: s, includeDeclaration: true).first(where: { l in
            source(l.path)?.key == source(path)?.key && l.start <= offset && offset <= l.end
        }) else {
            // An import without `as`: the cursor is on the path, which implies the alias.
            if s.fileLocal { return .symbol(s, range: s.declaration) }
            // On `inputs` of `inputs.files`, `build` of `build.outputs.sha` names something else.
            if let m = module(path), let b = model.bindings.bindings(file: model.modules[m].file, containing: offset).first,
               segment(b.span, index: nameIndex(b.binding, b.span), name: s.name) != nil {
                return .refused("put the cursor on `\(s.name)` to rename it")
            }
            return .refused("`\(s.name)` is not written plainly here (an escaped YAML value?): rename it where it is declared")
        }
        return .symbol(s, range: here)
    }

    /// The edits renaming `symbol` to `newName` in the files of this check: each place
    /// that names it, the declaration included. An import without `as` gains one
    /// (`import "std/retry" as NEW`) instead of its path being rewritten. The caller checks
    /// the result (a rename must not add a diagnostic) and merges edits across roots.
    public func renameEdits(_ symbol: Symbol, to newName: String) -> [FileEdit] {
        var edits: [FileEdit] = []
        for l in references(to: symbol, includeDeclaration: true) {
            if symbol.fileLocal, l.start == symbol.declaration.start, l.end == symbol.declaration.end, impliedAlias(symbol) {
                edits.append(FileEdit(range: Location(path: l.path, start: l.end, end: l.end), newText: " as " + newName))
            } else {
                edits.append(FileEdit(range: l, newText: newName))
            }
        }
        return edits
    }

    /// Whether an import alias symbol comes from the path, not from `as`.
    func impliedAlias(_ symbol: Symbol) -> Bool {
        guard let m = model.modules.firstIndex(where: { $0.key == symbol.key }) else { return false }
        return model.modules[m].tree.imports.contains {
            $0.alias == nil && $0.pathSpan.start == symbol.declaration.start && $0.pathSpan.end == symbol.declaration.end
        }
    }
}
