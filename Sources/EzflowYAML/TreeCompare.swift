import EzflowSyntax

extension YAMLSurface {
    /// The first difference in value between two trees (spans and comments ignored),
    /// or nil when they are equal. String literals compare by their parts with empty
    /// text parts dropped and adjacent text parts joined; `hasBody` is ignored where
    /// no surface can tell it apart (input/output without members).
    public static func difference(_ a: SyntaxTree, _ b: SyntaxTree) -> String? {
        if a.imports.count != b.imports.count { return "import count \(a.imports.count) vs \(b.imports.count)" }
        for (x, y) in zip(a.imports, b.imports) {
            if x.path != y.path || x.alias?.text != y.alias?.text {
                return "import `\(x.path)` as \(x.alias?.text ?? "-") vs `\(y.path)` as \(y.alias?.text ?? "-")"
            }
        }
        return blocks(a.items, b.items, path: "")
    }

    static func blocks(_ xs: [Block], _ ys: [Block], path: String) -> String? {
        if xs.count != ys.count {
            return "\(path): \(xs.count) vs \(ys.count) blocks (\(xs.map(label)) vs \(ys.map(label)))"
        }
        for (x, y) in zip(xs, ys) {
            if let d = block(x, y, path: path) { return d }
        }
        return nil
    }

    static func label(_ b: Block) -> String { b.kind.text + (b.name.map { " " + $0.text } ?? "") }

    static func block(_ x: Block, _ y: Block, path: String) -> String? {
        let here = path + "/" + label(x)
        if label(x) != label(y) { return "\(path): block `\(label(x))` vs `\(label(y))`" }
        let typed = x.kind.text == "input" || x.kind.text == "output"
        if x.hasBody != y.hasBody && !(typed && x.members.isEmpty && y.members.isEmpty) {
            return "\(here): hasBody \(x.hasBody) vs \(y.hasBody)"
        }
        if x.type.map(ExprPrinter.print) != y.type.map(ExprPrinter.print) {
            return "\(here): type \(x.type.map(ExprPrinter.print) ?? "-") vs \(y.type.map(ExprPrinter.print) ?? "-")"
        }
        switch (x.defaultValue, y.defaultValue) {
        case (nil, nil): break
        case (let a?, let b?): if let d = expr(a, b) { return "\(here): default: \(d)" }
        default: return "\(here): default present in one tree only"
        }
        if x.cases.map(\.text) != y.cases.map(\.text) { return "\(here): cases \(x.cases.map(\.text)) vs \(y.cases.map(\.text))" }
        let fx = x.fields.map { $0.name.text + ": " + ExprPrinter.print($0.type) }
        let fy = y.fields.map { $0.name.text + ": " + ExprPrinter.print($0.type) }
        if fx != fy { return "\(here): fields \(fx) vs \(fy)" }
        if x.members.count != y.members.count { return "\(here): \(x.members.count) vs \(y.members.count) members" }
        for (m, n) in zip(grouped(x.members), grouped(y.members)) {
            switch (m, n) {
            case (.attribute(let a), .attribute(let b)):
                if a.key.text != b.key.text { return "\(here): attribute `\(a.key.text)` vs `\(b.key.text)`" }
                if let d = expr(a.value, b.value) { return "\(here).\(a.key.text): \(d)" }
            case (.block(let a), .block(let b)):
                if let d = block(a, b, path: here) { return d }
            default:
                return "\(here): attribute vs block (`\(m.span)` / `\(n.span)`)"
            }
        }
        return nil
    }

    /// Members with each repeated anonymous block kind (a task's `retry` rules) gathered
    /// where its first block stands, their own order kept: YAML writes them as one
    /// sequence, and where they stand among the attributes means nothing.
    static func grouped(_ ms: [Member]) -> [Member] {
        func kind(_ m: Member) -> String? {
            if case .block(let b) = m, b.name == nil, YAMLMapper.anonymousKinds.contains(b.kind.text) { return b.kind.text }
            return nil
        }
        var out: [Member] = []
        var done = Set<String>()
        for m in ms {
            guard let k = kind(m) else { out.append(m); continue }
            guard done.insert(k).inserted else { continue }
            out.append(contentsOf: ms.filter { kind($0) == k })
        }
        return out
    }

    /// String parts with empty texts dropped and adjacent texts joined.
    static func normalized(_ parts: [StringPart]) -> [StringPart] {
        var out: [StringPart] = []
        for p in parts {
            if case .text(let t) = p {
                if t.isEmpty { continue }
                if case .text(let prev)? = out.last { out[out.count - 1] = .text(prev + t); continue }
            }
            out.append(p)
        }
        return out
    }

    static func expr(_ a: Expr, _ b: Expr) -> String? {
        func differ() -> String { "`\(ExprPrinter.print(a))` vs `\(ExprPrinter.print(b))`" }
        switch (a.kind, b.kind) {
        case (.string(let p), .string(let q)):
            let p = normalized(p), q = normalized(q)
            guard p.count == q.count else { return differ() }
            for (x, y) in zip(p, q) {
                switch (x, y) {
                case (.text(let s), .text(let t)): if s != t { return differ() }
                case (.interpolation(let e), .interpolation(let f)): if let d = expr(e, f) { return d }
                default: return differ()
                }
            }
            return nil
        case (.int(let x), .int(let y)): return x == y ? nil : differ()
        case (.float(let x), .float(let y)): return x.bitPattern == y.bitPattern ? nil : differ()
        case (.duration(let x), .duration(let y)): return x == y ? nil : differ()
        case (.money(let x), .money(let y)): return x == y ? nil : differ()
        case (.tokens(let x), .tokens(let y)): return x == y ? nil : differ()
        case (.bool(let x), .bool(let y)): return x == y ? nil : differ()
        case (.null, .null), (.error, .error): return nil
        case (.name(let x), .name(let y)): return x == y ? nil : differ()
        case (.member(let x, let n), .member(let y, let m)):
            return n.text != m.text ? differ() : expr(x, y)
        case (.index(let x, let i), .index(let y, let j)):
            return expr(x, y) ?? expr(i, j)
        case (.call(let f, let xs), .call(let g, let ys)):
            guard xs.count == ys.count else { return differ() }
            if let d = expr(f, g) { return d }
            for (x, y) in zip(xs, ys) { if let d = expr(x, y) { return d } }
            return nil
        case (.unary(let o, let x), .unary(let p, let y)):
            return o != p ? differ() : expr(x, y)
        case (.binary(let o, let x1, let x2), .binary(let p, let y1, let y2)):
            return o != p ? differ() : (expr(x1, y1) ?? expr(x2, y2))
        case (.list(let xs), .list(let ys)):
            guard xs.count == ys.count else { return differ() }
            for (x, y) in zip(xs, ys) { if let d = expr(x, y) { return d } }
            return nil
        case (.record(let xs), .record(let ys)):
            guard xs.count == ys.count else { return differ() }
            for (x, y) in zip(xs, ys) {
                if x.key.text != y.key.text { return differ() }
                if let d = expr(x.value, y.value) { return d }
            }
            return nil
        default:
            return differ()
        }
    }
}
