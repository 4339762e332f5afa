import EzflowAttributes
import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits

/// A value the compiler knows before the run: units folded to integers (milliseconds,
/// micro-dollars, tokens), unary minus applied.
public indirect enum ConstValue: Sendable {
    case int(Int64), float(Double), duration(Int64), money(Int64), tokens(Int64)
    case string(String), bool(Bool), null
    case list([ConstValue])
    case record([(key: String, value: ConstValue)])
    /// A case of an enum, resolved by the caller's `name` hook.
    case enumCase(String)

    /// The number in IR units: ints and unit values as they are, floats in parts per
    /// million (`0.25` → 250000); nil for anything else or on overflow.
    public var irNumber: Int64? {
        switch self {
        case .int(let v), .duration(let v), .money(let v), .tokens(let v): return v
        case .float(let d):
            let ppm = (d * 1_000_000).rounded()
            guard ppm.isFinite, ppm >= -9.2e18, ppm <= 9.2e18 else { return nil }
            return Int64(ppm)
        default: return nil
        }
    }
}

/// The one constant evaluator: attribute values (checker), input defaults (lowering).
public enum Constant {
    /// `e`'s value when it is a constant, else nil. `name` resolves bare names and
    /// members (enum cases); it returns nil for anything that is not constant.
    public static func fold(_ e: Expr, name: (Expr) -> ConstValue? = { _ in nil }) -> ConstValue? {
        switch e.kind {
        case .string(let parts):
            var s = ""
            for p in parts { guard case .text(let t) = p else { return nil }; s += t }
            return .string(s)
        case .int(let v): return .int(v)
        case .duration(let v): return .duration(v)
        case .money(let v): return .money(v)
        case .tokens(let v): return .tokens(v)
        case .float(let d): return .float(d)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .list(let items):
            var out: [ConstValue] = []
            for i in items { guard let c = fold(i, name: name) else { return nil }; out.append(c) }
            return .list(out)
        case .record(let entries):
            var out: [(key: String, value: ConstValue)] = []
            for en in entries { guard let c = fold(en.value, name: name) else { return nil }; out.append((en.key.text, c)) }
            return .record(out)
        case .unary(.negate, let x):
            return fold(x, name: name).flatMap(negate)
        case .name, .member:
            return name(e)
        default:
            return nil
        }
    }

    /// The value of numeric attribute `f` in IR units (a whole number where a float is
    /// expected counts too: `failure_rate: 1` is 1000000 ppm); nil when not a constant
    /// number or on overflow. The range is not checked here.
    public static func number(_ e: Expr, _ f: AttrFact) -> Int64? {
        guard let c = fold(e) else { return nil }
        if f.value == .float, case .int(let i) = c {
            let (r, o) = i.multipliedReportingOverflow(by: 1_000_000)
            return o ? nil : r
        }
        return c.irNumber
    }

    static func negate(_ c: ConstValue) -> ConstValue? {
        func neg(_ v: Int64) -> Int64? {
            let (r, o) = Int64(0).subtractingReportingOverflow(v)
            return o ? nil : r
        }
        switch c {
        case .int(let v): return neg(v).map(ConstValue.int)
        case .duration(let v): return neg(v).map(ConstValue.duration)
        case .money(let v): return neg(v).map(ConstValue.money)
        case .tokens(let v): return neg(v).map(ConstValue.tokens)
        case .float(let d): return .float(-d)
        default: return nil
        }
    }
}

extension WorkflowChecker {
    /// The value of a numeric attribute in IR units, folded by `Constant`; nil (after a
    /// diagnostic) when it is not a constant (E0307) or outside its range (E0306, E0602).
    mutating func constantNumber(_ e: Expr, _ f: AttrFact) -> Int64? {
        guard let n = Constant.number(e, f) else {
            report(error("E0307", "`\(f.name)` must be a constant", e.span, label: "known only when the run starts",
                         help: "write a literal such as `\(f.example)`; inputs and task outputs cannot set `\(f.name)`"))
            return nil
        }
        guard f.allows(n) else {
            if f.block == "retry" && f.name == "attempts" && n < 1 {
                report(error("E0602", "retry must allow at least one attempt", e.span, label: Units.counted(n, "attempt"),
                             help: "`attempts` counts the first try too: write `attempts: 1` for no retries")
                    .fixing(.replace(e.span, with: "1")))
            } else {
                report(error("E0306", "`\(f.name)` must be \(f.rangeText ?? "")", e.span,
                             help: f.rangeHelp))
            }
            return nil
        }
        return n
    }

    /// Checks that a list-of-strings attribute (`needs`, `tags`, `capabilities`) is written
    /// out as literals: these shape the plan (agent matching, tag limits) before any input
    /// or `for_each` item is known, and anything else would be dropped (E0307).
    /// `itemKnown`: every `item` is known now (a matrix, a constant `for_each` list), so
    /// `needs` may read it: each instance's agents are matched to its own values.
    mutating func checkConstantStrings(_ e: Expr, _ f: AttrFact, itemKnown: Bool = false) {
        let items: [Expr]
        switch e.kind {
        case .list(let xs): items = xs
        case .error: return
        default: items = [e]
        }
        for i in items {
            // Lists and records in such a list are type errors (or poison), reported already.
            if case .list = i.kind { continue }
            if case .record = i.kind { continue }
            if itemKnown && f.name == "needs" && i.path?.first?.text == "item" { continue }
            guard case .string? = Constant.fold(i) else {
                let fanOut = f.name == "needs" && i.path?.first?.text == "item"
                report(error("E0307", "`\(f.name)` must be a constant", i.span, label: "known only when the run starts",
                             help: fanOut
                                 ? "agents are chosen when the run is planned: fan out with a `matrix` or a `for_each` list written out, whose items are known now"
                                 : "write the strings out, e.g. `\(f.name): [\"linux\"]`: \(Self.constantStringsWhy[f.name] ?? "they are read before the run starts")"))
                return
            }
        }
    }

    static let constantStringsWhy: [String: String] = [
        "needs": "agents are chosen from them when the run is planned",
        "capabilities": "tasks are matched against them when the run is planned",
        "tags": "tag limits and policies read them when the run is planned",
    ]
}
