import EzflowCheck
import EzflowSyntax

/// What an outline entry is, so an editor can pick its icon. The names are LSP's
/// `SymbolKind`s; which ezflow construct takes which is `Outline.kind`.
public enum SymbolKind: String, Sendable, Hashable {
    case module, namespace, package, `class`, property, field, `enum`, interface, function, variable, constant
    case object, array, enumMember, `struct`, event
}

/// One entry of a document's outline: a declaration or a nested block, with what is
/// declared inside it. Offsets are UTF-8 bytes of the document, end exclusive.
public struct DocumentSymbol: Sendable, Hashable {
    /// The declared name; a block without one (`budget`, `matrix`, `finally`) shows its kind.
    public var name: String
    /// A short description: a task's action, an input's type, an agent's driver...
    public var detail: String
    public var kind: SymbolKind
    /// The whole declaration, keyword to closing brace.
    public var range: Range<Int>
    /// The name (or the keyword of a block without one): what the editor selects.
    public var selection: Range<Int>
    /// What is declared inside, in source order.
    public var children: [DocumentSymbol]

    public init(name: String, detail: String, kind: SymbolKind, range: Range<Int>, selection: Range<Int>,
                children: [DocumentSymbol] = []) {
        self.name = name
        self.detail = detail
        self.kind = kind
        self.range = range
        self.selection = selection
        self.children = children
    }
}

extension Analysis {
    /// The outline of `path`: its imports and declarations in source order, each block
    /// with the blocks, enum cases and record fields inside it. Built from the syntax
    /// tree, so a file that does not check (or does not fully parse) shows what parsed.
    public func symbols(path: String) -> [DocumentSymbol] {
        guard let m = module(path) else { return [] }
        return Outline.symbols(model.modules[m].tree)
    }
}

/// The outline of one syntax tree.
enum Outline {
    static func symbols(_ tree: SyntaxTree) -> [DocumentSymbol] {
        let imports = tree.imports.map { i -> DocumentSymbol in
            let alias = i.alias?.text ?? defaultAlias(i.path)
            let selection = i.alias?.span ?? i.pathSpan
            // Editors refuse a symbol without a name (`import ""` has none).
            return DocumentSymbol(name: alias.isEmpty ? "import" : alias, detail: i.path, kind: .package, range: i.span.start..<i.span.end,
                                  selection: selection.start..<selection.end)
        }
        return (imports + tree.items.map { symbol($0, in: nil) }).sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    /// `import "std/retry"` is known as `retry` (the checker's rule: the last path
    /// component without its extension).
    static func defaultAlias(_ path: String) -> String {
        var base = path.split(separator: "/").last.map(String.init) ?? path
        for ext in [".ezflow.yaml", ".ezflow"] where base.hasSuffix(ext) { base.removeLast(ext.count) }
        return base.isEmpty ? path : base
    }

    static func symbol(_ b: Block, in parent: String?) -> DocumentSymbol {
        let kind = b.kind.text
        let name = b.name ?? b.kind
        var children = b.blocks.map { symbol($0, in: kind) }
        children += b.cases.map { DocumentSymbol(name: $0.text, detail: "", kind: .enumMember, range: $0.span.start..<$0.span.end,
                                                 selection: $0.span.start..<$0.span.end) }
        children += b.fields.map {
            DocumentSymbol(name: $0.name.text, detail: ExprText.print($0.type), kind: .field,
                           range: $0.name.span.start..<max($0.name.span.end, $0.type.span.end),
                           selection: $0.name.span.start..<$0.name.span.end)
        }
        // A block cut short by a parse error ends where what parsed inside it ends.
        let end = children.reduce(max(b.span.end, name.span.end)) { max($0, $1.range.upperBound) }
        return DocumentSymbol(name: name.text.isEmpty ? kind : name.text, detail: detail(b), kind: self.kind(kind, in: parent),
                              range: min(b.span.start, name.span.start)..<end, selection: name.span.start..<name.span.end,
                              children: children)
    }

    /// The icon of a block kind: a task is a function (it runs), a workflow a module, a
    /// group or `finally` a namespace of tasks, an agent a class (it has instances that
    /// take work), a role an interface (what a principal may do), a secret a constant,
    /// an error class an event (it happens), a matrix an array of cells, budgets, retry
    /// rules, policies and loops objects (settings).
    static func kind(_ kind: String, in parent: String?) -> SymbolKind {
        switch kind {
        case "workflow": .module
        case "task": .function
        case "group", "finally": .namespace
        case "input": .variable
        case "output": parent == "task" ? .field : .property
        case "agent": .class
        case "role": .interface
        case "secret": .constant
        case "enum": .enum
        case "type": .struct
        case "error": .event
        case "matrix": .array
        default: .object  // budget, retry, policy, repeat, and kinds the checker will refuse
        }
    }

    /// A line on what the block is, from its own attributes (nothing resolved).
    static func detail(_ b: Block) -> String {
        func value(_ key: String) -> String? { b.attribute(key).map { ExprText.print($0.value) } }
        func settings(_ keys: [String]?) -> String {
            b.attributes.filter { keys?.contains($0.key.text) ?? true }
                .map { "\($0.key.text): \(ExprText.print($0.value))" }.joined(separator: ", ")
        }
        switch b.kind.text {
        case "task":
            // The action, and how it fans out.
            var words = b.attributes.map(\.key.text).filter { ["run", "prompt", "call", "approve", "workflow"].contains($0) }
            if b.attribute("for_each") != nil { words.append("for_each") }
            if b.firstBlock("matrix") != nil { words.append("matrix") }
            return words.joined(separator: ", ")
        case "input", "output":
            guard let t = b.type else { return "" }
            return ExprText.print(t) + (b.defaultValue.map { " = " + ExprText.print($0) } ?? "")
        case "agent": return value("driver") ?? ""
        case "secret": return value("provider") ?? ""
        case "role": return value("allow") ?? ""
        case "retry": return settings(["attempts", "backoff", "delay"])
        case "budget": return settings(["money", "tokens", "time"])
        case "repeat": return settings(["max"])
        case "matrix":
            // The axes: every attribute but the matrix's own settings.
            let own: Set<String> = ["exclude", "include", "fail_fast", "max_parallel"]
            return b.attributes.map(\.key.text).filter { !own.contains($0) }.joined(separator: " × ")
        case "enum": return b.cases.map(\.text).joined(separator: ", ")
        default: return ""
        }
    }
}
