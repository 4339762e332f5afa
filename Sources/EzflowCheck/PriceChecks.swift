import EzflowDiagnostics
import EzflowSyntax

extension WorkflowChecker {
    /// An agent's `prices`: `{ "model": { input: $…, output: $… }, … }`, every price a
    /// constant amount of money ≥ $0 per 1k tokens, each model once. Bad entries are
    /// reported (E0300, E0211, E0204, E0307, E0306, E0205) and left out, so a file that
    /// checks clean lowers every entry it wrote.
    mutating func modelPrices(_ e: Expr) -> [ModelPrice] {
        guard case .record(let entries) = e.kind else {
            report(error("E0300", "`prices` must be a record of model names to prices", e.span, label: "not a record",
                         help: "write `prices: { \"model-name\": { input: $0.001, output: $0.005 } }` (per 1k tokens)"))
            return []
        }
        var out: [ModelPrice] = []
        var seen: [String: Span] = [:]
        for en in entries {
            if let first = seen[en.key.text] {
                report(error("E0205", "model `\(en.key.text)` is priced twice", en.key.span, label: "given again here",
                             secondary: [Label(first, "first given here")], help: "keep one entry per model"))
                continue
            }
            seen[en.key.text] = en.key.span
            if let p = modelPrice(en) { out.append(p) }
        }
        return out.sorted { $0.model < $1.model }
    }

    /// One `"model": { input: $…, output: $… }` entry; nil after reporting what is wrong.
    mutating func modelPrice(_ en: RecordEntry) -> ModelPrice? {
        let model = en.key.text
        guard case .record(let fields) = en.value.kind else {
            report(error("E0300", "the price of model `\(model)` must be a record `{ input: $…, output: $… }`", en.value.span,
                         label: "not a record", help: "write `\"\(model)\": { input: $0.001, output: $0.005 }` (per 1k tokens)"))
            return nil
        }
        var input: Int64?, output: Int64?
        var ok = true
        for f in fields {
            guard f.key.text == "input" || f.key.text == "output" else {
                report(error("E0211", "a price has no field `\(f.key.text)`", f.key.span, label: "unknown field",
                             help: "a price has `input` and `output` (per 1k tokens)")
                    .suggesting(suggest(f.key.text, among: ["input", "output"]), at: f.key.span,
                                otherwise: "a price has `input` and `output` (per 1k tokens)"))
                ok = false
                continue
            }
            guard let v = priceValue(f, model: model) else { ok = false; continue }
            if f.key.text == "input" { input = v } else { output = v }
        }
        for (name, v) in [("input", input), ("output", output)] where v == nil && ok && !fields.contains(where: { $0.key.text == name }) {
            report(error("E0204", "the price of model `\(model)` is missing `\(name)`", en.key.span,
                         help: "add `\(name): $…` (per 1k \(name) tokens; `$0` if free)"))
            ok = false
        }
        guard ok, let input, let output else { return nil }
        return ModelPrice(model: model, inputMicros: input, outputMicros: output)
    }

    /// A price's money value in micro-dollars, constant and not negative.
    mutating func priceValue(_ f: RecordEntry, model: String) -> Int64? {
        let what = "the `\(f.key.text)` price of model `\(model)`"
        switch Constant.fold(f.value) {
        case .money(let v)?:
            guard v >= 0 else {
                report(error("E0306", "\(what) must be at least $0", f.value.span, label: "negative"))
                return nil
            }
            return v
        case nil:
            report(error("E0307", "\(what) must be a constant", f.value.span, label: "known only when the run starts",
                         help: "write a literal such as `$0.003`; inputs and task outputs cannot set prices"))
        default:
            report(error("E0300", "\(what) must be money", f.value.span, label: "not money",
                         help: "write an amount such as `$0.003` (per 1k tokens)"))
        }
        return nil
    }
}
