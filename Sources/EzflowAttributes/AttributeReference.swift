extension AttributeTable {
    /// docs/ATTRIBUTES.md, generated from the table (a test keeps the file equal to this).
    public static func reference() -> String {
        var md = """
        # Attributes

        Every attribute of every block, with what it takes, its allowed range, its default
        and the IR field it becomes. Generated from `Sources/EzflowAttributes/Attributes.swift`
        (`EZFLOW_UPDATE_GOLDEN=1 swift test --filter AttributeTableTests` rewrites this file);
        do not edit by hand. A value outside its range is error E0306; a ranged or numeric
        value must be a constant (E0307).

        """
        for (kind, facts) in blocks where !facts.isEmpty {
            md += "\n## `\(kind)`\n\n| attribute | takes | range | default | IR field | meaning |\n|---|---|---|---|---|---|\n"
            for f in facts {
                let cells = ["`\(f.name)`", takes(f.value), f.rangeText ?? "", f.required ? "required" : f.defaultText.map { "`\($0)`" } ?? "",
                             f.irKey.map { "`\($0)`" } ?? "", f.doc + (f.action.map { " (`\($0)` tasks only)" } ?? "")]
                md += "| " + cells.map { $0.replacingBars() }.joined(separator: " | ") + " |\n"
            }
        }
        return md
    }

    static func takes(_ v: AttrValue) -> String {
        switch v {
        case .int: return "int"
        case .float: return "float"
        case .string: return "string"
        case .duration: return "duration"
        case .money: return "money"
        case .tokens: return "tokens"
        case .bool: return "`true` or `false`"
        case .strings: return "list of strings"
        case .word(let ws): return "one of " + ws.map { "`\($0)`" }.joined(separator: ", ")
        case .words(let ws?): return "list of " + ws.map { "`\($0)`" }.joined(separator: ", ")
        case .words(nil): return "list of words"
        case .ref(let ks): return ks.joined(separator: " or ") + " name"
        case .refs(let ks): return "list of " + ks.joined(separator: " or ") + " names"
        case .custom(let what): return what
        }
    }
}

extension String {
    /// A table cell: `|` would end the cell.
    func replacingBars() -> String {
        var out = ""
        for c in self { if c == "|" { out += "\\|" } else { out.append(c) } }
        return out
    }
}
