/// A value-level fingerprint of a `SyntaxTree`: every name, literal value, type and
/// expression, in order, without spans or comments. Two trees with equal dumps lower to
/// the same IR, which is how `ezc fmt` proves (on every run) that formatting changed
/// only layout. Lines are `(kind ...)` S-expressions, one per block or attribute.
public enum TreeDump {
    public static func dump(_ tree: SyntaxTree) -> String {
        var out = ""
        for i in tree.imports {
            out += "(import \(i.path.debugDescription)\(i.alias.map { " as " + $0.text } ?? ""))\n"
        }
        for b in tree.items { block(b, depth: 0, into: &out) }
        return out
    }

    static func block(_ b: Block, depth: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: depth)
        var head = "(block \(b.kind.text)"
        if let n = b.name { head += " name=\(n.text)" }
        if let t = b.type { head += " type=\(type(t))" }
        if let d = b.defaultValue { head += " default=\(expr(d))" }
        if !b.cases.isEmpty { head += " cases=[\(b.cases.map(\.text).joined(separator: " "))]" }
        if !b.fields.isEmpty { head += " fields=[\(b.fields.map { "\($0.name.text):\(type($0.type))" }.joined(separator: " "))]" }
        head += b.hasBody ? " body" : " nobody"
        out += pad + head + "\n"
        for m in b.members {
            switch m {
            case .attribute(let a): out += pad + "  (attr \(a.key.text) \(expr(a.value)))\n"
            case .block(let nb): block(nb, depth: depth + 1, into: &out)
            }
        }
        out += pad + ")\n"
    }

    public static func type(_ t: TypeExpr) -> String {
        switch t.kind {
        case .named(let p): p.map(\.text).joined(separator: ".")
        case .list(let e): "list[\(type(e))]"
        case .map(let e): "map[\(type(e))]"
        case .optional(let e): type(e) + "?"
        case .error: "<error>"
        }
    }

    public static func expr(_ e: Expr) -> String {
        switch e.kind {
        case .string(let parts):
            let ps = parts.map { p -> String in
                switch p {
                case .text(let t): "(text \(t.debugDescription))"
                case .interpolation(let x): "(interp \(expr(x)))"
                }
            }
            return "(str" + ps.map { " " + $0 }.joined() + ")"
        case .int(let v): return "(int \(v))"
        case .float(let v): return "(float \(v) 0x\(String(v.bitPattern, radix: 16)))"
        case .duration(let v): return "(duration \(v)ms)"
        case .money(let v): return "(money \(v)u)"
        case .tokens(let v): return "(tokens \(v))"
        case .bool(let v): return "(bool \(v))"
        case .null: return "(null)"
        case .name(let n): return "(name \(n))"
        case .member(let b, let n): return "(member \(expr(b)) \(n.text))"
        case .index(let b, let i): return "(index \(expr(b)) \(expr(i)))"
        case .call(let f, let args): return "(call \(expr(f))" + args.map { " " + expr($0) }.joined() + ")"
        case .unary(let op, let x): return "(\(op.rawValue) \(expr(x)))"
        case .binary(let op, let l, let r): return "(\(op.rawValue) \(expr(l)) \(expr(r)))"
        case .list(let items): return "(list" + items.map { " " + expr($0) }.joined() + ")"
        case .record(let entries):
            return "(record" + entries.map { " (\($0.key.text.debugDescription) \(expr($0.value)))" }.joined() + ")"
        case .error: return "(error)"
        }
    }
}
