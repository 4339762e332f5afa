import EzflowDiagnostics
import EzflowSyntax

/// Turns YAML nodes into the ezflow syntax tree (mapping rules: docs/YAML.md).
struct YAMLMapper {
    let bytes: [UInt8]
    let file: Int
    var bridge: ExprBridge
    var diagnostics: [Diagnostic] = []

    /// Block kinds written without a name whose mapping value is a block, not a record.
    static let anonymousKinds: Set<String> = ["budget", "retry", "matrix", "finally", "repeat"]
    static let reserved: Set<String> = ["import", "as", "true", "false", "null", "in"]
    static let exprTag = "!expr"
    static let blockTag = "!block"

    init(bytes: [UInt8], file: Int) {
        self.bytes = bytes
        self.file = file
        self.bridge = ExprBridge(file: file, bytes: bytes)
    }

    func span(_ n: YNode) -> Span { Span(file: file, start: n.start, end: n.end) }
    func span(_ a: Int, _ b: Int) -> Span { Span(file: file, start: a, end: b) }

    mutating func error(_ code: String, _ message: String, at s: Span, label: String = "", help: String? = nil) {
        if diagnostics.count + bridge.diagnostics.count >= Parser.errorsMax { return }
        diagnostics.append(.error(code, message, at: s, label: label, help: help))
    }

    var allDiagnostics: [Diagnostic] { diagnostics + bridge.diagnostics }

    // MARK: - scalars

    /// Where the decoded value of a scalar lies in the file.
    func offsetMap(_ n: YNode) -> OffsetMap {
        guard case .scalar(let v, let style) = n.kind, n.end <= bytes.count else { return .none }
        switch style {
        case .plain:
            return bytes[n.start..<n.end].elementsEqual(v) ? .identity(n.start) : .none
        case .single, .double:
            guard n.end - n.start >= 2 else { return .none }
            return bytes[(n.start + 1)..<(n.end - 1)].elementsEqual(v) ? .identity(n.start + 1) : .none
        case .literal:
            return literalTable(n, v)
        case .folded:
            return .none
        }
    }

    /// Literal block scalar: each decoded line is a raw line minus the indentation.
    func literalTable(_ n: YNode, _ v: [UInt8]) -> OffsetMap {
        var p = n.start
        while p < n.end && bytes[p] != 0x0A { p += 1 }
        p += 1  // first content line
        var table: [Int] = []
        table.reserveCapacity(v.count)
        var indent: Int?
        var i = 0
        while i < v.count {
            guard p <= bytes.count else { return .none }
            var lineEnd = p
            while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var contentEnd = lineEnd
            if contentEnd > p && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            var j = i
            while j < v.count && v[j] != 0x0A { j += 1 }
            let line = v[i..<j]
            if line.isEmpty {
                guard bytes[p..<contentEnd].allSatisfy({ $0 == 0x20 }) else { return .none }
            } else {
                if indent == nil {
                    var k = p
                    while k < contentEnd && bytes[k] == 0x20 { k += 1 }
                    indent = k - p
                }
                let s = p + indent!
                guard s <= contentEnd, bytes[s..<contentEnd].elementsEqual(line) else { return .none }
                for k in 0..<line.count { table.append(s + k) }
            }
            if j < v.count { table.append(min(contentEnd, bytes.count)) }  // the newline
            i = j + 1
            p = lineEnd + 1
        }
        return table.count == v.count ? .table(table) : .none
    }

    /// A quoted or block scalar: ezflow string content (escapes, `${...}`).
    mutating func stringExpr(_ n: YNode, _ v: [UInt8]) -> Expr {
        let map = offsetMap(n)
        let fallback = span(n.start, n.start)
        func at(_ i: Int, _ len: Int) -> Span {
            if let a = map.at(i) { return span(a, a + len) }
            return fallback
        }
        var parts: [StringPart] = []
        var buf: [UInt8] = []
        func flush() {
            if !buf.isEmpty {
                parts.append(.text(String(decoding: buf, as: UTF8.self)))
                buf.removeAll(keepingCapacity: true)
            }
        }
        var i = 0
        while i < v.count {
            let c = v[i]
            if c == UInt8(ascii: "\\") {
                let e = i + 1 < v.count ? v[i + 1] : 0
                switch e {
                case UInt8(ascii: "n"): buf.append(0x0A)
                case UInt8(ascii: "t"): buf.append(0x09)
                case UInt8(ascii: "r"): buf.append(0x0D)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "$"): buf.append(e)
                default:
                    error("E0102", "invalid escape sequence", at: at(i, min(2, v.count - i)),
                          help: "valid escapes are \\n \\t \\r \\\" \\\\ and \\$ (in YAML double quotes, write `\\\\` for one backslash)")
                }
                i += 2
            } else if c == UInt8(ascii: "$"), i + 1 < v.count, v[i + 1] == UInt8(ascii: "{") {
                flush()
                let close: Int
                if let c = interpolationClose(v, from: i + 2) {
                    close = c
                } else {
                    close = v.count
                    error("E0105", "unclosed `${`", at: at(i, 2), label: "this interpolation is never closed",
                          help: "add `}` to close it")
                }
                let bodyAt = map.contiguous(i, min(close + 1, v.count)).map { $0 + 2 }
                parts.append(.interpolation(bridge.interpolation(v[(i + 2)..<close], at: bodyAt, fallback: fallback)))
                i = close + 1
            } else {
                buf.append(c)
                i += 1
            }
        }
        flush()
        return Expr(.string(parts), span(n))
    }

    // MARK: - expressions

    mutating func checkTag(_ n: YNode, allowed: [String]) {
        guard let t = n.tag, !allowed.contains(t) else { return }
        error("E0104", "YAML tag `\(t)` is not supported here", at: span(n.start, n.start + t.utf8.count),
              help: "plain scalars are expressions and quoted scalars strings; `!expr \"...\"` forces an expression")
    }

    mutating func expr(_ n: YNode) -> Expr {
        switch n.kind {
        case .scalar(let v, let style):
            checkTag(n, allowed: [YAMLMapper.exprTag])
            if n.tag == YAMLMapper.exprTag {
                let map = offsetMap(n)
                let at: Int? = style == .plain ? n.start : map.contiguous(0, v.count)
                if style == .plain && n.end <= bytes.count {
                    return bridge.expression(bytes[n.start..<n.end], at: n.start, fallback: span(n.start, n.start))
                }
                return bridge.expression(v[...], at: at, fallback: span(n.start, n.start))
            }
            if style == .plain {
                if v.isEmpty {
                    error("E0104", "expected an expression, found an empty value", at: span(n.start, n.start),
                          label: "expected an expression", help: "write a value, or `null`")
                    return Expr(.error, span(n))
                }
                // Plain scalars are parsed in place: their bytes are the file's bytes.
                let raw = n.end <= bytes.count ? bytes[n.start..<n.end] : v[...]
                return bridge.expression(raw, at: n.start, fallback: span(n.start, n.start))
            }
            return stringExpr(n, v)
        case .sequence(let items):
            checkTag(n, allowed: [])
            return Expr(.list(items.map { expr($0) }), span(n))
        case .mapping(let pairs):
            checkTag(n, allowed: [])
            var entries: [RecordEntry] = []
            for (k, v) in pairs {
                guard let text = k.scalarText else {
                    error("E0104", "expected a field name, found \(k.typeDescription)", at: span(k), label: "expected a field name")
                    continue
                }
                checkTag(k, allowed: [])
                entries.append(Make.entry(Name(text, span(k)), expr(v)))
            }
            return Expr(.record(entries), span(n))
        case .invalid:
            return Expr(.error, span(n))
        }
    }

    // MARK: - keys and blocks

    static func isIdent(_ s: Substring) -> Bool {
        guard let f = s.utf8.first, f == UInt8(ascii: "_") || (f | 0x20 >= 0x61 && f | 0x20 <= 0x7A) else { return false }
        return s.utf8.allSatisfy { ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// Splits a key into its words (`task build` → two names with their spans).
    mutating func keyWords(_ k: YNode) -> [Name]? {
        guard case .scalar(let v, _) = k.kind else {
            error("E0104", "expected an attribute name or `KIND NAME` as the key, found \(k.typeDescription)", at: span(k.start, k.start + 1),
                  label: "expected a key", help: "keys are `name: value` (an attribute) or `kind name:` (a block), e.g. `task build:`")
            return nil
        }
        checkTag(k, allowed: [])
        let map = offsetMap(k)
        var words: [Name] = []
        var i = 0
        while i < v.count {
            if v[i] == 0x20 || v[i] == 0x09 { i += 1; continue }
            var j = i
            while j < v.count && v[j] != 0x20 && v[j] != 0x09 { j += 1 }
            let text = String(decoding: v[i..<j], as: UTF8.self)
            let s = map.contiguous(i, j).map { span($0, $0 + (j - i)) } ?? span(k)
            words.append(Name(text, s))
            i = j
        }
        let text = String(decoding: v, as: UTF8.self)
        guard (1...2).contains(words.count), words.allSatisfy({ YAMLMapper.isIdent(Substring($0.text)) }) else {
            error("E0104", "expected an attribute name or `KIND NAME` as the key, found `\(text.prefix(40))`", at: span(k),
                  label: "expected a key", help: "keys are `name: value` (an attribute) or `kind name:` (a block), e.g. `task build:`")
            return nil
        }
        if let r = words.first(where: { YAMLMapper.reserved.contains($0.text) }) {
            error("E0104", "`\(r.text)` is a reserved word and cannot name an attribute or a block", at: r.span, label: "reserved word")
            return nil
        }
        return words
    }

    mutating func member(key: YNode, value: YNode, topLevel: Bool) -> Member? {
        guard let words = keyWords(key) else { return nil }
        // An alias or an unfinished construct: already reported, and a member without
        // its value would only cause follow-on errors.
        if case .invalid = value.kind { return nil }
        let whole = span(key).to(span(value))
        if words.count == 2 {
            return .block(namedBlock(kind: words[0], name: words[1], value: value, span: whole))
        }
        let word = words[0]
        if case .mapping = value.kind, YAMLMapper.anonymousKinds.contains(word.text) || value.tag == YAMLMapper.blockTag {
            var b = Block(kind: word, name: nil, span: whole)
            body(value, into: &b)
            return .block(b)
        }
        if topLevel {
            error("E0202", "attribute `\(word.text)` must be inside a block", at: word.span, help: "move it into the `workflow` block")
            return nil
        }
        let v = expr(value)
        return .attribute(Make.attribute(word, v, whole))
    }

    /// The members of a mapping value into a block.
    mutating func body(_ value: YNode, into b: inout Block) {
        checkTag(value, allowed: [YAMLMapper.blockTag])
        guard case .mapping(let pairs) = value.kind else { return }
        b.hasBody = true
        for (k, v) in pairs {
            // `retry: [{...}, {...}]`: a task's several rules, one block each, in order.
            if let w = k.scalarText, YAMLMapper.anonymousKinds.contains(w), case .sequence(let items) = v.kind, !items.isEmpty,
               items.allSatisfy({ if case .mapping = $0.kind { return true } else { return false } }),
               let words = keyWords(k), words.count == 1 {
                for it in items {
                    var r = Block(kind: words[0], name: nil, span: span(k).to(span(it)))
                    body(it, into: &r)
                    b.members.append(.block(r))
                }
                continue
            }
            if let m = member(key: k, value: v, topLevel: false) { b.members.append(m) }
        }
    }

    mutating func namedBlock(kind: Name, name: Name, value: YNode, span whole: Span) -> Block {
        var b = Block(kind: kind, name: name, span: whole)
        let label = "\(kind.text) \(name.text)"
        switch kind.text {
        case "input", "output":
            switch value.kind {
            case .scalar(let v, let style) where !value.isNull:
                checkTag(value, allowed: [])
                b.type = typeExpr(value, v, style)
            case .mapping(let pairs):
                checkTag(value, allowed: [YAMLMapper.blockTag])
                var typeKey: YNode?, defaultKey: YNode?
                for (k, v) in pairs {
                    let kt = k.scalarText
                    if kt == "type" || kt == "default" {
                        if let prev = kt == "type" ? typeKey : defaultKey {
                            diagnostics.append(.error("E0205", "attribute `\(kt!)` is given twice", at: span(k), label: "given again here",
                                                      secondary: [Label(span(prev), "first given here")], help: "remove one of them"))
                            continue
                        }
                        if kt == "type" {
                            typeKey = k
                            if case .scalar(let tv, let st) = v.kind, !v.isNull {
                                checkTag(v, allowed: [])
                                b.type = typeExpr(v, tv, st)
                            } else {
                                error("E0104", "expected a type after `type:`, found \(v.isNull ? "nothing" : v.typeDescription)", at: span(v),
                                      help: "types are written as in ezflow: `string`, `list[string]`, `Env?`")
                            }
                        } else {
                            defaultKey = k
                            b.defaultValue = expr(v)
                        }
                        continue
                    }
                    if let m = member(key: k, value: v, topLevel: false) { b.members.append(m) }
                }
                b.hasBody = !b.members.isEmpty
                if b.type == nil && typeKey == nil {
                    error("E0104", "expected `type:` in `\(label)`", at: name.span,
                          help: "write `\(label): string`, or a mapping with `type: string`")
                }
            default:
                error("E0104", "expected `:` and a type after `\(label)`", at: name.span,
                      help: "write `\(label): string`, or a mapping with `type: string`")
            }
        case "enum":
            checkTag(value, allowed: [])
            b.hasBody = true
            guard case .sequence(let items) = value.kind else {
                error("E0104", "expected a sequence of enum cases after `\(label)`, found \(value.isNull ? "nothing" : value.typeDescription)",
                      at: span(value.start, max(value.end, value.start)), help: "write `\(label): [a, b, c]`")
                break
            }
            for c in items {
                if let t = c.scalarText, YAMLMapper.isIdent(Substring(t)) {
                    checkTag(c, allowed: [])
                    b.cases.append(Name(t, span(c)))
                } else {
                    error("E0104", "expected an enum case name, found \(c.scalarText.map { "`\($0)`" } ?? c.typeDescription)", at: span(c),
                          label: "expected an enum case name")
                }
            }
        case "type":
            checkTag(value, allowed: [])
            b.hasBody = true
            guard case .mapping(let pairs) = value.kind else {
                error("E0104", "expected a mapping of record fields after `\(label)`, found \(value.isNull ? "nothing" : value.typeDescription)",
                      at: span(value.start, max(value.end, value.start)), help: "write `\(label): {name: string, score: int}`")
                break
            }
            for (k, v) in pairs {
                guard let t = k.scalarText, YAMLMapper.isIdent(Substring(t)) else {
                    error("E0104", "expected a field name", at: span(k), label: "expected a field name")
                    continue
                }
                guard case .scalar(let tv, let st) = v.kind, !v.isNull else {
                    error("E0104", "expected a type for field `\(t)`", at: span(v.start, max(v.end, v.start)),
                          help: "write `\(t): string`")
                    continue
                }
                b.fields.append(Make.field(Name(t, span(k)), typeExpr(v, tv, st)))
            }
        default:
            if value.isNull { break }
            guard case .mapping = value.kind else {
                error("E0104", "expected a mapping of members after `\(label):`, found \(value.typeDescription)", at: span(value),
                      help: "write the members indented under `\(label):`, or `{}` for none")
                break
            }
            body(value, into: &b)
        }
        return b
    }

    mutating func typeExpr(_ n: YNode, _ v: [UInt8], _ style: YNode.Style) -> TypeExpr {
        let map = offsetMap(n)
        return bridge.type(v[...], at: map.contiguous(0, v.count), fallback: span(n.start, n.start))
    }

    // MARK: - file

    mutating func tree(_ documents: [YNode]) -> SyntaxTree {
        var t = Make.tree(file: file)
        guard let root = documents.first, !root.isNull else { return t }
        if case .invalid = root.kind { return t }
        guard case .mapping(let pairs) = root.kind else {
            error("E0104", "expected a mapping at the top of a `.ezflow.yaml` file, found \(root.typeDescription)", at: span(root.start, root.start + 1),
                  label: "expected `kind name:` keys", help: "write `workflow NAME:` and indent its members below it")
            return t
        }
        checkTag(root, allowed: [])
        for (k, v) in pairs {
            if k.scalarText == "import" {
                imports(v, into: &t)
                continue
            }
            switch member(key: k, value: v, topLevel: true) {
            case .block(let b)?: t.items.append(b)
            default: break
            }
        }
        return t
    }

    mutating func imports(_ v: YNode, into t: inout SyntaxTree) {
        checkTag(v, allowed: [])
        let items: [YNode]
        switch v.kind {
        case .sequence(let xs): items = xs
        case .scalar, .mapping: items = [v]
        case .invalid: return
        }
        for it in items {
            switch it.kind {
            case .scalar(let p, _) where !it.isNull:
                checkTag(it, allowed: [])
                t.imports.append(Make.importDecl(path: String(decoding: p, as: UTF8.self), pathSpan: span(it), alias: nil, span: span(it)))
            case .mapping(let pairs):
                var path: (String, Span)?
                var alias: Name?
                for (k, val) in pairs {
                    switch (k.scalarText, val.scalarText) {
                    case ("path", let p?) where !val.isNull: path = (p, span(val))
                    case ("as", let a?) where YAMLMapper.isIdent(Substring(a)): alias = Name(a, span(val))
                    default:
                        error("E0104", "expected `path: \"...\"` or `as: alias` in an import", at: span(k),
                              help: "write `- {path: std/retry, as: r}`")
                    }
                }
                if let path {
                    t.imports.append(Make.importDecl(path: path.0, pathSpan: path.1, alias: alias, span: span(it)))
                } else {
                    error("E0104", "an import needs `path:`", at: span(it), help: "write `- {path: std/retry, as: r}`")
                }
            default:
                error("E0104", "expected a module path after `import`, found \(it.isNull ? "nothing" : it.typeDescription)",
                      at: span(it.start, max(it.start + 1, it.end)), help: "write `import: [std/retry]`")
            }
        }
    }
}
