import EzflowCheck
import EzflowIR

/// Record values may leave an optional field out (`{ image: "a" }` for
/// `type Cell { image: string, tag: string? }`). The IR spells every field out, with
/// `null` for the missing ones, so `${item.tag ?? "latest"}` reads null at run time
/// instead of failing on a field that is not there.
extension WorkflowLowering {
    /// A constant (an input's default) with the optional fields its type declares filled in.
    static func withOptionalFields(_ v: JSONValue, _ ty: Ty) -> JSONValue {
        switch (ty, v) {
        case (.optional(let inner), _): return v == .null ? v : withOptionalFields(v, inner)
        case (.list(let el), .array(let xs)): return .array(xs.map { withOptionalFields($0, el) })
        case (.map(let el), .object(let es)): return .object(es.map { ($0.0, withOptionalFields($0.1, el)) })
        case (.record(let r), .object(let es)):
            var out = es.map { e in (e.0, r.fields[e.0].map { withOptionalFields(e.1, $0) } ?? e.1) }
            for k in r.order where !es.contains(where: { $0.0 == k }) { out.append((k, .null)) }
            return .object(out)
        default: return v
        }
    }

    /// The same for a lowered expression: list and record literals (`{"list": ...}`,
    /// `{"record": ...}`) get `{"null": null}` for the optional fields they leave out.
    static func withOptionalFields(expr v: JSONValue, _ ty: Ty) -> JSONValue {
        guard case .object(let m) = v, m.count == 1 else { return v }
        switch (ty, m[0].0, m[0].1) {
        case (.optional(let inner), _, _): return withOptionalFields(expr: v, inner)
        case (.list(let el), "list", .array(let xs)):
            return .object([("list", .array(xs.map { withOptionalFields(expr: $0, el) }))])
        case (.record(let r), "record", .object(let es)):
            var out = es.map { e in (e.0, r.fields[e.0].map { withOptionalFields(expr: e.1, $0) } ?? e.1) }
            for k in r.order where !es.contains(where: { $0.0 == k }) { out.append((k, .object([("null", .null)]))) }
            return .object([("record", .object(out))])
        default: return v
        }
    }

    /// A lowered `with` object with each value completed for the callee input it sets.
    static func withOptionalFields(with: JSONValue, callee: CheckedWorkflow?) -> JSONValue {
        guard let callee, case .object(let es) = with else { return with }
        return .object(es.map { e in (e.0, callee.inputs.first { $0.name == e.0 }.map { withOptionalFields(expr: e.1, $0.type) } ?? e.1) })
    }
}
