import CYAML
import EzflowDiagnostics
import EzflowSyntax

/// What a value prints as before it is laid out.
indirect enum YOut {
    /// One-line scalar text (plain, double-quoted, tagged, `{}` or `[]`); `flowOK`:
    /// may stand inside a flow collection.
    case scalar(String, flowOK: Bool)
    /// A literal block scalar: header (`|`, `|-`, `|+`) and content lines.
    case literal(String, [String])
    case seq([YOut])
    case map([(String, YOut)], tag: String?)
}

/// Emits the YAML surface of a syntax tree (see docs/YAML.md), from values.
struct YAMLPrinter {
    var lines: [String] = []

    // MARK: - libyaml probes: only emit what reads back exactly

    /// The scalars libyaml reads from `doc`, or nil on a YAML error.
    static func scalars(_ doc: String) -> [(String, YNode.Style)]? {
        var r = YAMLReader(bytes: Array(doc.utf8), file: 0)
        let docs = r.read()
        guard r.diagnostics.isEmpty, docs.count == 1 else { return nil }
        var out: [(String, YNode.Style)] = []
        var stack = [docs[0]]
        while let n = stack.popLast() {
            switch n.kind {
            case .scalar(let v, let s): out.append((String(decoding: v, as: UTF8.self), s))
            case .sequence(let xs): stack.append(contentsOf: xs.reversed())
            case .mapping(let ps): for p in ps.reversed() { stack.append(p.value); stack.append(p.key) }
            case .invalid: return nil
            }
        }
        return out
    }

    static func plainOK(_ t: String, flow: Bool) -> Bool {
        guard !t.isEmpty, !t.contains("\n") else { return false }
        let doc = flow ? "k: [\(t)]\n" : "k: \(t)\n"
        guard let s = scalars(doc), s.count == 2 else { return false }
        return s[1].0 == t && s[1].1 == .plain
    }

    static func plainKeyOK(_ t: String) -> Bool {
        guard !t.isEmpty, !t.contains("\n") else { return false }
        guard let s = scalars("\(t): v\n"), s.count == 2 else { return false }
        return s[0].0 == t && s[0].1 == .plain
    }

    /// YAML double-quoted scalar.
    static func doubleQuoted(_ t: String) -> String {
        var out = "\""
        for c in t.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{85}": out += "\\N"
            case "\u{2028}": out += "\\L"
            case "\u{2029}": out += "\\P"
            case "\u{FEFF}": out += "\\uFEFF"
            default:
                if c.value < 0x20 || c.value == 0x7F || (c.value >= 0x80 && c.value < 0xA0) {
                    let h = String(c.value, radix: 16, uppercase: true)
                    out += "\\x" + String(repeating: "0", count: 2 - h.count) + h
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }

    /// A literal block scalar for multi-line text, when libyaml reads it back exactly.
    static func literal(_ content: String) -> YOut? {
        guard content.contains("\n") else { return nil }
        for c in content.unicodeScalars where (c.value < 0x20 && c != "\n" && c != "\t") || c.value == 0x7F
            || (c.value >= 0x80 && c.value < 0xA0) || c == "\u{2028}" || c == "\u{2029}" || c == "\u{FEFF}" {
            return nil
        }
        var body = Substring(content)
        var chomp = "-"
        if body.hasSuffix("\n") {
            body.removeLast()
            chomp = body.hasSuffix("\n") || body.isEmpty ? "+" : ""
            if chomp == "+" { body = Substring(content) }
        }
        var ls = body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if chomp == "+", ls.last == "" { ls.removeLast() }
        guard let firstText = ls.first(where: { !$0.allSatisfy { $0 == " " } }) else { return nil }
        let header = "|" + (firstText.hasPrefix(" ") || firstText.isEmpty ? "2" : "") + chomp
        var doc = "k: \(header)\n"
        for l in ls { doc += l.isEmpty ? "\n" : "  " + l + "\n" }
        guard let s = scalars(doc), s.count == 2, s[1].0 == content else { return nil }
        return .literal(header, ls)
    }

    // MARK: - values

    static func string(_ parts: [StringPart], allowBlock: Bool) -> YOut {
        let content = ExprPrinter.stringContent(parts)
        if allowBlock, let l = literal(content) { return l }
        return .scalar(doubleQuoted(content), flowOK: true)
    }

    static func exprScalar(_ text: String) -> YOut {
        if plainOK(text, flow: false) { return .scalar(text, flowOK: plainOK(text, flow: true)) }
        return .scalar("!expr " + doubleQuoted(text), flowOK: true)
    }

    static func key(_ k: String) -> String {
        plainKeyOK(k) ? k : doubleQuoted(k)
    }

    static func flowText(_ v: YOut) -> String? {
        if case .scalar(let s, true) = v { return s }
        return nil
    }

    static func value(_ e: Expr, allowBlock: Bool = true) -> YOut {
        switch e.kind {
        case .string(let parts):
            return string(parts, allowBlock: allowBlock)
        case .list(let xs):
            if xs.isEmpty { return .scalar("[]", flowOK: true) }
            let items = xs.map { value($0, allowBlock: false) }
            let flat = items.compactMap(flowText)
            if flat.count == items.count {
                let t = "[" + flat.joined(separator: ", ") + "]"
                if t.count <= 80 { return .scalar(t, flowOK: false) }
            }
            return .seq(items)
        case .record(let es):
            if es.isEmpty { return .scalar("{}", flowOK: true) }
            let pairs = es.map { (key($0.key.text), value($0.value, allowBlock: true)) }
            let flat = pairs.compactMap { p in flowText(p.1).map { "\(p.0): \($0)" } }
            if flat.count == pairs.count && pairs.allSatisfy({ plainOK($0.0, flow: true) || $0.0.hasPrefix("\"") }) {
                let t = "{" + flat.joined(separator: ", ") + "}"
                if t.count <= 80 { return .scalar(t, flowOK: false) }
            }
            return .map(pairs, tag: nil)
        default:
            return exprScalar(ExprPrinter.print(e))
        }
    }

    // MARK: - blocks

    static func typeScalar(_ t: TypeExpr?) -> YOut {
        let text = t.map { ExprPrinter.print($0) } ?? ""
        return plainOK(text, flow: false) ? .scalar(text, flowOK: false) : .scalar(doubleQuoted(text), flowOK: true)
    }

    static func member(_ m: Member) -> (String, YOut) {
        switch m {
        case .attribute(let a):
            if case .record = a.value.kind, YAMLMapper.anonymousKinds.contains(a.key.text) {
                // A mapping here would read back as a block.
                return (a.key.text, .scalar("!expr " + doubleQuoted(ExprPrinter.print(a.value)), flowOK: true))
            }
            return (key(a.key.text), value(a.value))
        case .block(let b):
            return block(b)
        }
    }

    static func block(_ b: Block) -> (String, YOut) {
        guard let name = b.name else {
            let tag = YAMLMapper.anonymousKinds.contains(b.kind.text) ? nil : YAMLMapper.blockTag
            if b.members.isEmpty { return (b.kind.text, .scalar((tag.map { $0 + " " } ?? "") + "{}", flowOK: false)) }
            return (b.kind.text, .map(members(b.members), tag: tag))
        }
        let k = b.kind.text + " " + name.text
        switch b.kind.text {
        case "input", "output":
            if b.defaultValue == nil && b.members.isEmpty { return (k, typeScalar(b.type)) }
            var pairs: [(String, YOut)] = [("type", typeScalar(b.type))]
            if let d = b.defaultValue { pairs.append(("default", value(d))) }
            pairs += b.members.map(member)
            return (k, .map(pairs, tag: nil))
        case "enum":
            return (k, value(Expr(.list(b.cases.map { Expr(.name($0.text), $0.span) }), b.span)))
        case "type":
            if b.fields.isEmpty { return (k, .scalar("{}", flowOK: false)) }
            return (k, .map(b.fields.map { ($0.name.text, typeScalar($0.type)) }, tag: nil))
        default:
            if b.members.isEmpty { return (k, .scalar(b.hasBody ? "{}" : "", flowOK: false)) }
            return (k, .map(members(b.members), tag: nil))
        }
    }

    /// A block's members as key–value pairs. Several anonymous blocks of one kind (a
    /// task's `retry` rules) would repeat a key, so they print as one sequence of
    /// mappings where the first stands, in order.
    static func members(_ ms: [Member]) -> [(String, YOut)] {
        var repeated: [String: Int] = [:]
        for case .block(let b) in ms where b.name == nil && YAMLMapper.anonymousKinds.contains(b.kind.text) {
            repeated[b.kind.text, default: 0] += 1
        }
        var out: [(String, YOut)] = []
        var seqAt: [String: Int] = [:]
        for m in ms {
            guard case .block(let b) = m, b.name == nil, (repeated[b.kind.text] ?? 0) > 1 else {
                out.append(member(m))
                continue
            }
            let (_, v) = block(b)
            let item: YOut = b.members.isEmpty ? .map([], tag: nil) : v
            if let i = seqAt[b.kind.text], case .seq(var items) = out[i].1 {
                items.append(item)
                out[i].1 = .seq(items)
            } else {
                seqAt[b.kind.text] = out.count
                out.append((b.kind.text, .seq([item])))
            }
        }
        return out
    }

    // MARK: - layout

    mutating func keyValue(_ key: String, _ v: YOut, indent: Int) {
        let pad = String(repeating: " ", count: indent)
        switch v {
        case .scalar(let s, _):
            lines.append(s.isEmpty ? "\(pad)\(key):" : "\(pad)\(key): \(s)")
        case .literal(let h, let ls):
            lines.append("\(pad)\(key): \(h)")
            for l in ls { lines.append(l.isEmpty ? "" : pad + "  " + l) }
        case .seq(let items):
            lines.append("\(pad)\(key):")
            for it in items { item(it, indent: indent + 2) }
        case .map(let pairs, let tag):
            lines.append("\(pad)\(key):" + (tag.map { " " + $0 } ?? ""))
            for (i, (k, x)) in pairs.enumerated() {
                // A blank line before each named block with members, as the text surface does.
                if i > 0, k.contains(" "), !k.hasPrefix("\""), case .map = x { lines.append("") }
                keyValue(k, x, indent: indent + 2)
            }
        }
    }

    mutating func item(_ v: YOut, indent: Int) {
        let pad = String(repeating: " ", count: indent)
        switch v {
        case .scalar(let s, _):
            lines.append("\(pad)- \(s)")
        case .literal(let h, let ls):
            // Not produced for items (allowBlock is false there); kept valid anyway.
            lines.append("\(pad)- " + YAMLPrinter.doubleQuoted(ls.joined(separator: "\n") + (h.hasSuffix("-") ? "" : "\n")))
        case .seq(let items):
            lines.append("\(pad)-")
            for it in items { item(it, indent: indent + 2) }
        case .map(let pairs, _):
            let first = lines.count
            for (k, x) in pairs { keyValue(k, x, indent: indent + 2) }
            if first < lines.count {
                lines[first] = pad + "- " + lines[first].dropFirst(indent + 2)
            } else {
                lines.append("\(pad)- {}")
            }
        }
    }

    mutating func tree(_ t: SyntaxTree) {
        if !t.imports.isEmpty {
            var items: [YOut] = []
            for i in t.imports {
                let path = YAMLPrinter.plainOK(i.path, flow: true) ? YOut.scalar(i.path, flowOK: true)
                    : .scalar(YAMLPrinter.doubleQuoted(i.path), flowOK: true)
                if let a = i.alias {
                    items.append(.map([("path", path), ("as", .scalar(a.text, flowOK: true))], tag: nil))
                } else {
                    items.append(path)
                }
            }
            keyValue("import", .seq(items), indent: 0)
        }
        for b in t.items {
            if !lines.isEmpty { lines.append("") }
            let (k, v) = YAMLPrinter.block(b)
            keyValue(k, v, indent: 0)
        }
    }
}

extension YAMLSurface {
    /// YAML text for a tree from either surface, printed from values: strings as YAML
    /// double-quoted (or literal block) scalars holding ezflow string content, other
    /// expressions as plain scalars in ezflow syntax (`!expr "..."` when a plain
    /// scalar cannot hold them). `parse(print(t))` gives a tree of equal value.
    /// Comments are not carried over (`source` is accepted for symmetry with the formatter).
    public static func print(_ tree: SyntaxTree, source: SourceFile) -> String {
        var p = YAMLPrinter()
        p.tree(tree)
        return p.lines.isEmpty ? "{}\n" : p.lines.joined(separator: "\n") + "\n"
    }
}
