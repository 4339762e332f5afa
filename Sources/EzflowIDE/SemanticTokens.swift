import EzflowCheck
import EzflowDiagnostics
import EzflowSyntax

/// What a token is, for an editor's colours: LSP's standard token type names, in the
/// order of the legend the server announces (`allCases`). What colours differ from the
/// TextMate grammar is what the checker resolved: a reference to a task is a `function`,
/// to an input a `parameter`, to an agent a `class`, to a secret a read-only `variable`.
public enum SemanticTokenType: String, Sendable, Hashable, CaseIterable {
    /// An import alias, a group.
    case namespace
    /// A type name in a type (`string`, `list`), not a declared enum or record.
    case type
    /// An agent.
    case `class`
    /// A declared enum.
    case `enum`
    /// A role: what a principal may do.
    case interface
    /// A record type.
    case `struct`
    /// A workflow input (the workflow's parameters).
    case parameter
    /// A secret, `item`, `iteration`, `principal`, `run`.
    case variable
    /// An attribute name, a task or workflow output, a record field or key.
    case property
    /// An enum case.
    case enumMember
    /// An error class (it happens).
    case event
    /// A task, a workflow, a built-in function.
    case function
    /// A retry rule: a named preset copied where it is used.
    case macro
    /// A policy: a rule attached to what it governs.
    case decorator
    /// `import`, `as`, `true`, `false`, `null`, `in`, block kinds, `inputs`, `secrets`, `outputs`, `previous`.
    case keyword
    case comment
    case string
    /// Numbers and unit literals: `3`, `1.5`, `90m`, `$2.50`, `100k tokens`.
    case number
}

/// LSP's standard modifiers, a bit each in the legend's order.
public struct SemanticTokenModifiers: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Where the name is declared.
    public static let declaration = SemanticTokenModifiers(rawValue: 1)
    /// A secret, or a built-in value that cannot be assigned.
    public static let readonly = SemanticTokenModifiers(rawValue: 2)
    /// A built-in: a function, an error class, a type, `status.failed`, `item`.
    public static let defaultLibrary = SemanticTokenModifiers(rawValue: 4)

    /// The names of the bits, lowest first: the legend's `tokenModifiers`.
    public static let names = ["declaration", "readonly", "defaultLibrary"]
}

/// One token: a byte range of the document (end exclusive; it may span lines in a
/// `"""` string, which the protocol layer splits) and what it is.
public struct SemanticToken: Sendable, Hashable {
    public var start: Int
    public var end: Int
    public var type: SemanticTokenType
    public var modifiers: SemanticTokenModifiers

    public init(start: Int, end: Int, type: SemanticTokenType, modifiers: SemanticTokenModifiers = []) {
        self.start = start
        self.end = end
        self.type = type
        self.modifiers = modifiers
    }
}

extension Analysis {
    /// The tokens of `path` by position, none overlapping: keywords, block kinds, names
    /// and literals from the syntax tree, references coloured by what the checker bound
    /// them to, comments. Empty for a `.ezflow.yaml` file (its editor colours YAML).
    public func semanticTokens(path: String) -> [SemanticToken] {
        guard let m = module(path) else { return [] }
        let module = model.modules[m], file = result.sources[module.file]
        guard !module.key.hasSuffix(".yaml"), !file.path.hasSuffix(".yaml") else { return [] }
        // The modules imported from the stdlib: what they declare is `defaultLibrary`.
        let stdlib = Set(module.tree.imports.filter { $0.path.hasPrefix("std/") }.compactMap {
            module.imports[$0.alias?.text ?? Outline.defaultAlias($0.path)]?.module
        })
        var c = TokenCollector(bytes: file.bytes, bindings: model.bindings, decls: module.decls, stdlib: stdlib)
        c.collect(module.tree)
        return c.sorted()
    }
}

/// Walks one tree and collects its tokens.
struct TokenCollector {
    typealias Style = (type: SemanticTokenType, modifiers: SemanticTokenModifiers)
    let bytes: [UInt8]
    let bindings: Bindings
    let decls: [String: Decl]
    /// Modules imported from the stdlib (`import "std/…"`).
    let stdlib: Set<Int>
    var out: [SemanticToken] = []

    static let builtinTypes: Set<String> = ["string", "int", "float", "bool", "duration", "money", "tokens", "path", "json", "file"]

    mutating func add(_ start: Int, _ end: Int, _ style: Style) {
        guard start < end, start >= 0, end <= bytes.count else { return }
        out.append(SemanticToken(start: start, end: end, type: style.type, modifiers: style.modifiers))
    }

    mutating func add(_ s: Span, _ style: Style) { add(s.start, s.end, style) }

    /// By position; a token starting inside an earlier one is dropped (none should).
    func sorted() -> [SemanticToken] {
        var result: [SemanticToken] = []
        for t in out.sorted(by: { ($0.start, $0.end) < ($1.start, $1.end) }) where t.start >= (result.last?.end ?? 0) {
            result.append(t)
        }
        return result
    }

    /// Whether the bytes at `at` spell `word` and no identifier character follows.
    func spells(_ word: String, at: Int) -> Bool {
        let w = Array(word.utf8)
        guard at >= 0, at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else { return false }
        guard at + w.count < bytes.count else { return true }
        let next = bytes[at + w.count]
        return !(next == 95 || (next >= 48 && next <= 57) || (next | 0x20 >= 97 && next | 0x20 <= 122))
    }

    mutating func collect(_ tree: SyntaxTree) {
        for i in tree.imports {
            if spells("import", at: i.span.start) { add(i.span.start, i.span.start + 6, (.keyword, [])) }
            add(i.pathSpan, (.string, []))
            if let alias = i.alias {
                // `as` sits between the path and the alias.
                var at = i.pathSpan.end
                while at < alias.span.start, bytes[at] == 32 || bytes[at] == 9 { at += 1 }
                if spells("as", at: at) { add(at, at + 2, (.keyword, [])) }
                add(alias.span, (.namespace, .declaration))
            }
        }
        for b in tree.items { block(b) }
        for c in tree.comments {
            var end = c.span.end
            while end > c.span.start, bytes[end - 1] == 13 { end -= 1 }
            add(c.span.start, end, (.comment, []))
        }
    }

    /// The colour of a declaration's name, by its kind.
    static func style(_ kind: DeclKind) -> Style {
        switch kind {
        case .workflow, .task: (.function, [])
        case .group: (.namespace, [])
        case .agent: (.class, [])
        case .role: (.interface, [])
        case .policy: (.decorator, [])
        case .secret: (.variable, .readonly)
        case .retry: (.macro, [])
        case .enumeration: (.enum, [])
        case .record: (.struct, [])
        case .error: (.event, [])
        }
    }

    mutating func block(_ b: Block) {
        add(b.kind.span, (.keyword, []))
        if let n = b.name {
            var style: Style
            switch b.kind.text {
            case "input": style = (.parameter, [])
            case "output": style = (.property, [])
            default: style = DeclKind(rawValue: b.kind.text).map(Self.style) ?? (.variable, [])
            }
            style.modifiers.insert(.declaration)
            add(n.span, style)
        }
        if let t = b.type { type(t) }
        if let d = b.defaultValue { expr(d) }
        for c in b.cases { add(c.span, (.enumMember, .declaration)) }
        for f in b.fields {
            add(f.name.span, (.property, .declaration))
            type(f.type)
        }
        for m in b.members {
            switch m {
            case .attribute(let a):
                add(a.key.span, (.property, []))
                expr(a.value)
            case .block(let nb): block(nb)
            }
        }
    }

    mutating func type(_ t: TypeExpr) {
        switch t.kind {
        case .named(let path):
            if path.count == 1, Self.builtinTypes.contains(path[0].text) {
                add(path[0].span, (.type, .defaultLibrary))
                return
            }
            for n in path {
                switch bindings.binding(at: n.span, text: n.text) {
                case .decl(let kind, _)?: add(n.span, Self.style(kind))
                case .module?: add(n.span, (.namespace, []))
                default:
                    // Unresolved (a file that does not check): a type all the same.
                    if let d = decls[n.text], path.count == 1 { add(n.span, Self.style(d.kind)) } else { add(n.span, (.type, [])) }
                }
            }
        case .list(let inner), .map(let inner):
            let word = spells("list", at: t.span.start) ? 4 : spells("map", at: t.span.start) ? 3 : 0
            add(t.span.start, t.span.start + word, (.type, .defaultLibrary))
            type(inner)
        case .optional(let inner): type(inner)
        case .error: break
        }
    }

    mutating func expr(_ e: Expr) {
        switch e.kind {
        case .string(let parts): string(e, parts)
        case .int, .float, .duration, .money, .tokens: add(e.span, (.number, []))
        case .bool, .null: add(e.span, (.keyword, []))
        case .name, .member:
            if reference(e) { return }
            if case .member(let base, let field) = e.kind {
                // Not a resolved path: a member of some other value.
                expr(base)
                add(field.span, (.property, []))
            }
        case .index(let base, let i):
            expr(base)
            expr(i)
        case .call(let f, let args):
            expr(f)
            for a in args { expr(a) }
        case .unary(_, let x): expr(x)
        case .binary(let op, let l, let r):
            expr(l)
            if op == .in {
                // The one operator that is a word.
                var at = l.span.end
                while at < r.span.start, bytes[at] == 32 || bytes[at] == 9 { at += 1 }
                if spells("in", at: at) { add(at, at + 2, (.keyword, [])) }
            }
            expr(r)
        case .list(let items): for x in items { expr(x) }
        case .record(let entries):
            for x in entries {
                add(x.key.span, (.property, []))
                expr(x.value)
            }
        case .error: break
        }
    }

    /// A string's text between its interpolations, then each interpolation's tokens.
    mutating func string(_ e: Expr, _ parts: [StringPart]) {
        var cursor = e.span.start
        for case .interpolation(let x) in parts {
            // `${` before the expression, blanks allowed inside.
            var k = x.span.start - 1
            while k > cursor, bytes[k] == 32 || bytes[k] == 9 { k -= 1 }
            guard k > cursor, k < bytes.count, bytes[k] == 123, bytes[k - 1] == 36 else { continue }
            add(cursor, k - 1, (.string, []))
            expr(x)
            cursor = interpolationClose(bytes, from: k + 1).map { $0 + 1 } ?? x.span.end
        }
        add(cursor, e.span.end, (.string, []))
    }

    /// A name or dotted path the checker resolved: each segment coloured by the binding.
    /// False when nothing in it was resolved.
    mutating func reference(_ e: Expr) -> Bool {
        guard let segs = e.path else { return false }
        var styles: [Style?]
        if let b = bindings.binding(of: e) {
            styles = Self.styles(segs, b)
            // A stdlib declaration, and the alias it is reached through.
            if fromStdlib(b) {
                styles = styles.map { $0.map { ($0.type, $0.modifiers.union($0.type == .property || $0.type == .keyword ? [] : .defaultLibrary)) } }
            }
        } else {
            styles = segs.map { n in bindings.binding(at: n.span, text: n.text).flatMap { Self.styles([n], $0).first ?? nil } }
            guard styles.contains(where: { $0 != nil }) else { return false }
        }
        for (n, s) in zip(segs, styles) { if let s { add(n.span, s) } }
        return true
    }

    /// Whether `b` names something a stdlib module declares.
    func fromStdlib(_ b: Binding) -> Bool {
        switch b {
        case .decl(_, let id), .enumCase(let id, _): stdlib.contains(id.module)
        case .module(let m): stdlib.contains(m)
        default: false
        }
    }

    /// The colours of a path's segments, for what the whole path resolved to.
    static func styles(_ segs: [Name], _ b: Binding) -> [Style?] {
        var out = [Style?](repeating: (.property, []), count: segs.count)
        guard !segs.isEmpty else { return out }
        let builtin: Style = (.variable, [.readonly, .defaultLibrary])
        /// The segments before `j` name modules (or the `inputs`/`secrets`/`previous` words).
        func prefix(_ j: Int) {
            for i in 0..<min(j, segs.count) {
                out[i] = ["inputs", "secrets", "previous", "outputs"].contains(segs[i].text) ? (.keyword, []) : (.namespace, [])
            }
        }
        func last(of text: String) -> Int { segs.lastIndex { $0.text == text } ?? segs.count - 1 }
        switch b {
        case .input(_, let name):
            let j = segs.firstIndex { $0.text == name } ?? 0
            prefix(j)
            out[j] = (.parameter, [])
        case .taskOutput, .previousOutput:
            // TASK.outputs.NAME (after `previous.` in a loop).
            if let k = segs.indices.dropFirst().first(where: { segs[$0].text == "outputs" }) {
                prefix(k - 1)
                out[k - 1] = (.function, [])
                out[k] = (.keyword, [])
            } else {
                out[0] = (.function, [])
            }
        case .taskStatus:
            out[0] = (.function, [])
        case .task:
            prefix(segs.count - 1)
            out[segs.count - 1] = (.function, [])
        case .group:
            prefix(segs.count)
        case .decl(let kind, let id):
            let j = last(of: id.name)
            prefix(j)
            out[j] = style(kind)
        case .enumCase(let id, _):
            let j = segs.count >= 2 ? segs.count - 2 : 0
            prefix(j)
            if segs.count >= 2, segs[j].text == id.name { out[j] = (.enum, []) }
            out[segs.count - 1] = (.enumMember, [])
        case .builtinEnumCase:
            out[0] = (.enum, .defaultLibrary)
            out[segs.count - 1] = (.enumMember, .defaultLibrary)
        case .module:
            prefix(segs.count)
            for i in segs.indices { out[i] = (.namespace, []) }
        case .item, .iteration, .runValue, .principal, .policyTask:
            out[0] = builtin
        case .builtin(let name):
            out[segs.count - 1] = SchemaInfo.functions[name] != nil ? (.function, .defaultLibrary) : (.event, .defaultLibrary)
        case .output:
            break
        }
        return out
    }
}
