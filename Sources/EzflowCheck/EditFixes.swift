import EzflowDiagnostics
import EzflowSyntax

/// Fixes that edit a declaration rather than the reference that failed: a grant added
/// to a role, an attribute added to a block. Each is offered only where the edit is
/// plain text in an `.ezflow` file (a YAML file's spans are not ezflow syntax), so
/// `ezc check --format sarif` and the editor's quick fixes apply it as written.
extension WorkflowChecker {
    /// Adds `item` to the list attribute `key` of `block`: into the list when there is
    /// one, else as a new attribute (`key: [item]`).
    func listFix(_ title: String, _ block: Block, key: String, item: String) -> Fix? {
        guard let a = block.attribute(key) else { return attributeFix(title, block, "\(key): [\(item)]") }
        guard case .list(let items) = a.value.kind, let file = editable(a.value.span) else { return nil }
        let bytes = file.bytes
        let close = a.value.span.end - 1
        guard close > a.value.span.start, bytes[close] == UInt8(ascii: "]") else { return nil }
        // After a trailing comma (`[a,\n]`) the item goes in without another one.
        var k = close - 1
        while k > a.value.span.start, [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r")].contains(bytes[k]) { k -= 1 }
        let text = items.isEmpty ? item : bytes[k] == UInt8(ascii: ",") ? " \(item)" : ", \(item)"
        let at = items.isEmpty || bytes[k] == UInt8(ascii: ",") ? close : k + 1
        return Fix(title, [TextEdit(Span(file: a.value.span.file, start: at, end: at), text)])
    }

    /// Adds the attribute `text` as the first member of `block`: on a line of its own,
    /// indented like the block's members, or after the `{` of a one-line block.
    func attributeFix(_ title: String, _ block: Block, _ text: String) -> Fix? {
        guard let file = editable(block.span), block.hasBody else { return nil }
        let bytes = file.bytes
        var brace = block.name?.span.end ?? block.kind.span.end
        while brace < block.span.end, bytes[brace] != UInt8(ascii: "{") { brace += 1 }
        guard brace < block.span.end else { return nil }
        let at = Span(file: block.span.file, start: brace + 1, end: brace + 1)
        let open = file.position(of: brace)
        guard file.position(of: block.span.end).line != open.line else { return Fix(title, [TextEdit(at, " \(text)")]) }
        // Indent like the first member, else two spaces deeper than the block's line.
        let member = block.members.first.map { file.position(of: $0.span.start).column - 1 }
        let line = file.lineText(open.line)
        let indent = member ?? (line.prefix { $0 == " " }.count + 2)
        return Fix(title, [TextEdit(at, "\n" + String(repeating: " ", count: indent) + text)])
    }

    /// `output NAME: T` gains `{ on_conflict: HOW }`, or the attribute when it has a body.
    func onConflictFix(_ output: Block?, _ how: String) -> Fix? {
        guard let output, editable(output.span) != nil else { return nil }
        let title = "add `on_conflict: \(how)`"
        if output.hasBody { return attributeFix(title, output, "on_conflict: \(how)") }
        return Fix(title, [TextEdit(Span(file: output.span.file, start: output.span.end, end: output.span.end), " { on_conflict: \(how) }")])
    }

    /// A grant of `id` added to role `role`'s list `key` (`agents`, `secrets`), written as
    /// the role's module names it (through its import alias when declared elsewhere).
    func grantFix(_ role: DeclID, _ key: String, _ id: DeclID) -> Fix? {
        guard let block = modules[role.module].decls[role.name]?.block else { return nil }
        var name = id.name
        if id.module != role.module {
            guard let alias = modules[role.module].imports.values.first(where: { $0.module == id.module })?.alias else { return nil }
            name = alias + "." + id.name
        }
        return listFix("add `\(name)` to the `\(key)` of role `\(role.name)`", block, key: key, item: name)
    }

    /// The declaration of workflow output `name`.
    func outputBlock(_ w: WorkflowContext, _ name: String) -> Block? {
        w.block.blocks.first { $0.kind.text == "output" && $0.name?.text == name }
    }

    /// The file of `span` when fixes may edit it as ezflow text.
    func editable(_ span: Span) -> SourceFile? {
        let file = sources[span.file]
        return file.path.hasSuffix(".ezflow") && span.end <= file.bytes.count ? file : nil
    }
}
