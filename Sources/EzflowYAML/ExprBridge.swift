import EzflowDiagnostics
import EzflowSyntax

/// Where the bytes of a decoded YAML scalar lie in the file.
enum OffsetMap {
    /// decoded[i] is at file offset base + i.
    case identity(Int)
    /// decoded[i] is at table[i] (literal block scalars, indentation removed).
    case table([Int])
    /// The value cannot be mapped byte for byte (escapes, folding).
    case none

    func at(_ i: Int) -> Int? {
        switch self {
        case .identity(let b): return b + i
        case .table(let t): return i < t.count ? t[i] : (t.last.map { $0 + 1 })
        case .none: return nil
        }
    }

    /// The file offset of decoded[a] when decoded[a..<b] is one contiguous run of the file.
    func contiguous(_ a: Int, _ b: Int) -> Int? {
        switch self {
        case .identity(let base): return base + a
        case .table(let t):
            guard a < t.count else { return nil }
            let hi = min(b, t.count)
            for i in a..<hi where i > a && t[i] != t[i - 1] + 1 { return nil }
            return t[a]
        case .none: return nil
        }
    }
}

/// Parses expressions and types written inside YAML scalars with the ezflow parser.
///
/// EzflowSyntax has no public entry point for "an expression from a byte range", so
/// each scalar is wrapped in a tiny synthetic ezflow file (`a{b:` SCALAR `}`), parsed
/// with `Parser.parse(_:file:)` under the YAML file's index, and every span of the
/// result (and of its diagnostics) is shifted back onto the scalar's bytes in the
/// YAML file. When the scalar's bytes do not appear verbatim in the file (escaped or
/// folded YAML scalars), every span points at the scalar's start instead.
struct ExprBridge {
    let file: Int
    /// The YAML file's bytes: a quick fix looks at what follows a scalar on its line.
    let bytes: [UInt8]
    var diagnostics: [Diagnostic] = []

    init(file: Int, bytes: [UInt8] = []) {
        self.file = file
        self.bytes = bytes
    }

    /// Whether only blanks or a comment follow `offset` on its line: the scalar there is
    /// the whole value, so quoting it makes the line a string.
    func endsItsLine(_ offset: Int) -> Bool {
        var i = offset
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
        return i >= bytes.count || bytes[i] == 0x0A || bytes[i] == 0x0D || (bytes[i] == UInt8(ascii: "#") && i > offset)
    }

    /// How a parsed sub-tree's spans go back into the YAML file.
    struct Remap {
        var delta: Int
        var lo: Int
        var hi: Int
        var fixed: Span?
        let file: Int

        func callAsFunction(_ s: Span) -> Span {
            if let fixed { return fixed }
            let a = min(max(s.start + delta, lo), hi)
            let b = min(max(s.end + delta, lo), hi)
            return Span(file: file, start: a, end: b)
        }
    }

    func remap(at: Int?, prefix: Int, count: Int, fallback: Span) -> Remap {
        if let at {
            return Remap(delta: at - prefix, lo: at, hi: at + count, fixed: nil, file: file)
        }
        return Remap(delta: 0, lo: 0, hi: 0, fixed: fallback, file: file)
    }

    func parseWrapped(_ prefix: String, _ body: ArraySlice<UInt8>, _ suffix: String) -> (SyntaxTree, [Diagnostic], [UInt8]) {
        let buf = Array(prefix.utf8) + body + Array(suffix.utf8)
        let (t, d) = Parser.parse(SourceFile(path: "", bytes: buf), file: file)
        return (t, d, buf)
    }

    mutating func take(_ ds: [Diagnostic], _ r: Remap) {
        for var d in ds {
            d.primary.span = r(d.primary.span)
            d.secondary = d.secondary.map { Label(r($0.span), $0.message) }
            diagnostics.append(d)
        }
    }

    /// First non-whitespace byte at or after `from` and before `end`, or nil.
    static func junk(_ buf: [UInt8], from: Int, end: Int) -> Int? {
        var i = from
        while i < end, [0x20, 0x09, 0x0A, 0x0D].contains(buf[i]) { i += 1 }
        return i < end ? i : nil
    }

    static func trimmedEnd(_ buf: [UInt8], from: Int, end: Int) -> Int {
        var e = end
        while e > from, [0x20, 0x09, 0x0A, 0x0D].contains(buf[e - 1]) { e -= 1 }
        return e
    }

    /// An expression from the bytes of a scalar: `at` is the file offset of body[0]
    /// when the bytes are verbatim in the file, nil otherwise (spans then go to `fallback`).
    mutating func expression(_ body: ArraySlice<UInt8>, at: Int?, fallback: Span) -> Expr {
        let prefix = "a{b:"
        let (tree, diags, buf) = parseWrapped(prefix, body, "\n}")
        let r = remap(at: at, prefix: prefix.utf8.count, count: body.count, fallback: fallback)
        guard let attr = tree.items.first?.attributes.first else {
            take(diags, r)
            return Expr(.error, r(Span(file: file, start: prefix.utf8.count, end: prefix.utf8.count + body.count)))
        }
        let bodyEnd = prefix.utf8.count + body.count
        if let j = ExprBridge.junk(buf, from: attr.value.span.end, end: bodyEnd) {
            // `run: make all` unquoted: the value ended before the scalar did.
            let kept = diags.filter { $0.primary.span.start < j }
            take(kept, r)
            if kept.isEmpty {
                let e = ExprBridge.trimmedEnd(buf, from: j, end: bodyEnd)
                let text = String(decoding: buf[j..<e], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
                let whole = String(decoding: body, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\r" || $0 == "\t" })
                    .joined(separator: " ")
                var d = Diagnostic.error("E0104", "unexpected `\(text.prefix(40))` after the value",
                                         at: r(Span(file: file, start: j, end: e)), label: "the expression ends before this",
                                         help: "quote the value to make it a string: `\"\(whole.prefix(60))\"`")
                // The fix quotes a one-line scalar that is verbatim in the file and needs no escape.
                let lead = body.prefix { $0 == 0x20 || $0 == 0x09 }.count
                let trail = body.reversed().prefix { $0 == 0x20 || $0 == 0x09 }.count
                let plain = String(decoding: body.dropFirst(lead).dropLast(trail), as: UTF8.self)
                if let at, !plain.isEmpty, !plain.contains(where: { "\"\\\n\r".contains($0) }), endsItsLine(at + body.count) {
                    d = d.fixing(Fix("quote the value", [TextEdit(Span(file: fallback.file, start: at + lead, end: at + lead + plain.utf8.count),
                                                                  "\"" + plain + "\"")]))
                }
                diagnostics.append(d)
            }
            return ExprBridge.remapExpr(attr.value, r)
        }
        take(diags, r)
        return ExprBridge.remapExpr(attr.value, r)
    }

    /// The expression of a `${...}` interpolation: `body` is what stands between the
    /// braces; `at` the file offset of body[0] if verbatim. Parsed as an interpolation
    /// of an ezflow string so the messages match the text surface exactly.
    mutating func interpolation(_ body: ArraySlice<UInt8>, at: Int?, fallback: Span) -> Expr {
        let prefix = "a{b:\"${"
        let (tree, diags, _) = parseWrapped(prefix, body, "}\"\n}")
        // The `${` and `}` are in the file too, just around the body.
        var r = remap(at: at, prefix: prefix.utf8.count, count: body.count, fallback: fallback)
        if at != nil { r.lo -= 2; r.hi += 1 }
        take(diags, r)
        if case .string(let parts)? = tree.items.first?.attributes.first?.value.kind {
            for p in parts { if case .interpolation(let e) = p { return ExprBridge.remapExpr(e, r) } }
        }
        return Expr(.error, r(Span(file: file, start: prefix.utf8.count, end: prefix.utf8.count + body.count)))
    }

    /// A type written as a scalar: `list[string]?`.
    mutating func type(_ body: ArraySlice<UInt8>, at: Int?, fallback: Span) -> TypeExpr {
        let prefix = "input a:"
        let (tree, diags, buf) = parseWrapped(prefix, body, "\n")
        let r = remap(at: at, prefix: prefix.utf8.count, count: body.count, fallback: fallback)
        guard let t = tree.items.first?.type else {
            take(diags, r)
            return Make.type(.error, fallback)
        }
        let bodyEnd = prefix.utf8.count + body.count
        if let j = ExprBridge.junk(buf, from: t.span.end, end: bodyEnd) {
            let kept = diags.filter { $0.primary.span.start < j }
            take(kept, r)
            if kept.isEmpty {
                let e = ExprBridge.trimmedEnd(buf, from: j, end: bodyEnd)
                diagnostics.append(.error("E0104", "unexpected `\(String(decoding: buf[j..<e], as: UTF8.self).prefix(40))` after the type",
                                          at: r(Span(file: file, start: j, end: e)),
                                          help: "types are string, int, float, bool, duration, money, tokens, path, json, list[T], map[T], or a declared enum or record"))
            }
        } else {
            take(diags, r)
        }
        return ExprBridge.remapType(t, r)
    }

    // MARK: - span remapping

    static func remapName(_ n: Name, _ r: Remap) -> Name { Name(n.text, r(n.span)) }

    static func remapExpr(_ e: Expr, _ r: Remap) -> Expr {
        let k: Expr.Kind
        switch e.kind {
        case .string(let parts):
            k = .string(parts.map {
                if case .interpolation(let x) = $0 { return .interpolation(remapExpr(x, r)) }
                return $0
            })
        case .member(let b, let n): k = .member(remapExpr(b, r), remapName(n, r))
        case .index(let b, let i): k = .index(remapExpr(b, r), remapExpr(i, r))
        case .call(let f, let args): k = .call(remapExpr(f, r), args.map { remapExpr($0, r) })
        case .unary(let op, let x): k = .unary(op, remapExpr(x, r))
        case .binary(let op, let a, let b): k = .binary(op, remapExpr(a, r), remapExpr(b, r))
        case .list(let xs): k = .list(xs.map { remapExpr($0, r) })
        case .record(let es): k = .record(es.map { Make.entry(remapName($0.key, r), remapExpr($0.value, r)) })
        default: k = e.kind
        }
        return Expr(k, r(e.span))
    }

    static func remapType(_ t: TypeExpr, _ r: Remap) -> TypeExpr {
        let k: TypeExpr.Kind
        switch t.kind {
        case .named(let ns): k = .named(ns.map { remapName($0, r) })
        case .list(let x): k = .list(remapType(x, r))
        case .map(let x): k = .map(remapType(x, r))
        case .optional(let x): k = .optional(remapType(x, r))
        case .error: k = .error
        }
        return Make.type(k, r(t.span))
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}


/// EzflowSyntax's tree types have public properties but internal memberwise
/// initialisers, so values are made by copying templates taken from a parse of a
/// fixed snippet and overwriting every property. (Asked for: public initialisers.)
enum Make {
    struct Templates: Sendable {
        var tree: SyntaxTree
        var imp: Import
        var field: Field
        var attribute: Attribute
        var entry: RecordEntry
    }

    static let templates: Templates = {
        let src = "import \"x\" as y\ntype T { f: string }\nworkflow w { a: {k: 1} }\n"
        let (t, _) = Parser.parse(SourceFile(path: "", bytes: Array(src.utf8)), file: 0)
        let attr = t.items[1].attributes[0]
        guard case .record(let es) = attr.value.kind else { fatalError("EzflowYAML: template parse changed") }
        return Templates(tree: t, imp: t.imports[0], field: t.items[0].fields[0], attribute: attr, entry: es[0])
    }()

    static func tree(file: Int) -> SyntaxTree {
        var t = templates.tree
        t.file = file
        t.imports = []
        t.items = []
        t.comments = []
        return t
    }

    static func importDecl(path: String, pathSpan: Span, alias: Name?, span: Span) -> Import {
        var i = templates.imp
        i.path = path
        i.pathSpan = pathSpan
        i.alias = alias
        i.span = span
        return i
    }

    static func type(_ kind: TypeExpr.Kind, _ span: Span) -> TypeExpr {
        var t = templates.field.type
        t.kind = kind
        t.span = span
        return t
    }

    static func field(_ name: Name, _ type: TypeExpr) -> Field {
        var f = templates.field
        f.name = name
        f.type = type
        return f
    }

    static func attribute(_ key: Name, _ value: Expr, _ span: Span) -> Attribute {
        var a = templates.attribute
        a.key = key
        a.value = value
        a.span = span
        return a
    }

    static func entry(_ key: Name, _ value: Expr) -> RecordEntry {
        var e = templates.entry
        e.key = key
        e.value = value
        return e
    }
}
