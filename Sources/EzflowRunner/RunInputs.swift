// Turning `--input k=v` strings into typed input values (the IR's input types, with the
// same units the language has: `90s`, `$2.50`, `200k`), then applying defaults.
import EzflowAgents
import EzflowIR
import EzflowUnits
import Foundation

/// Why `ezrun` cannot go on (the CLI exits with 2, invalid input, for all of them but a
/// store failure and an edited store).
public enum RunnerError: Error, Sendable, CustomStringConvertible {
    case invalid(String)
    case store(String)
    case refused(String)
    /// The journal or the IR does not match the run's hash chain (`JournalChain`): the
    /// store was edited outside ezflow.
    case integrity(String)

    public var description: String {
        switch self {
        case .invalid(let m), .store(let m), .integrity(let m): m
        case .refused(let m): "access refused: \(m)"
        }
    }

}

public enum RunInputs {
    /// Parses `k=v` pairs against the workflow's declared inputs and applies defaults
    /// (constant ones, then computed ones, which may read the others).
    public static func resolve(_ pairs: [String], workflow doc: JSONValue) throws(RunnerError) -> [String: JSONValue] {
        var declared: [String: JSONValue] = [:]
        var order: [String] = []
        if case .array(let xs)? = doc["inputs"] {
            for x in xs { if case .string(let n)? = x["name"] { declared[n] = x; order.append(n) } }
        }
        var values: [String: JSONValue] = [:]
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "=") else { throw .invalid("--input `\(pair)`: expected NAME=VALUE") }
            let name = String(pair[..<eq]), text = String(pair[pair.index(after: eq)...])
            guard let decl = declared[name] else {
                let known = order.isEmpty ? "it declares none" : "it declares " + order.joined(separator: ", ")
                throw .invalid("--input `\(name)`: the workflow has no such input (\(known))")
            }
            guard case .string(let type)? = decl["type"] else { throw .invalid("input `\(name)` has no type in the IR") }
            do throws(RunnerError) { values[name] = try parse(text, type: type, types: doc["types"]) } catch {
                throw .invalid("--input \(name)=\(text): \(error.description)")
            }
        }
        for n in order where values[n] == nil {
            if let d = declared[n]?["default"], d != .null { values[n] = d }
        }
        for n in order where values[n] == nil {
            if let e = declared[n]?["default_expr"], e != .null {
                do throws(RenderError) { values[n] = try TemplateRenderer(values: RenderValues(inputs: values)).evaluate(e) } catch {
                    throw .invalid("input `\(n)`: cannot compute its default: \(error.message)")
                }
            }
        }
        for n in order where values[n] == nil {
            if declared[n]?["required"] == .bool(true) {
                throw .invalid("input `\(n)` is required: pass --input \(n)=VALUE")
            }
            values[n] = .null
        }
        return values
    }

    /// One value of IR type `type` from its command-line text.
    static func parse(_ text: String, type: String, types: JSONValue?) throws(RunnerError) -> JSONValue {
        if type.hasSuffix("?") {
            return text == "null" ? .null : try parse(text, type: String(type.dropLast()), types: types)
        }
        switch type {
        case "string", "path": return .string(text)
        case "int":
            guard let i = Int64(text) else { throw .invalid("expected an integer") }
            return .int(i)
        case "float":
            guard let f = Double(text), f.isFinite else { throw .invalid("expected a number") }
            return .float(f)
        case "bool":
            guard text == "true" || text == "false" else { throw .invalid("expected true or false") }
            return .bool(text == "true")
        case "duration":
            guard let ms = Units.parseDuration(text) else {
                throw .invalid("expected a duration such as 90s, 10m, 1h30m or 250ms, at most \(Units.duration(Int64.max / 86_400_000 * 86_400_000))")
            }
            return .int(ms)
        case "money":
            guard let m = Units.parseMoney(text) else {
                throw .invalid("expected money such as $2.50 (at most 6 decimals), at most \(Units.moneyLiteral(Int64.max / 1_000_000 * 1_000_000))")
            }
            return .int(m)
        case "tokens":
            guard let t = Units.parseTokens(text) else { throw .invalid("expected a token count such as 2000 or 200k, at most \(Int64.max)") }
            return .int(t)
        default:
            if let e = types?[type]?["enum"], case .array(let cases) = e {
                guard cases.contains(.string(text)) else {
                    throw .invalid("expected one of \(cases.compactMap { if case .string(let s) = $0 { s } else { nil } }.joined(separator: ", "))")
                }
                return .string(text)
            }
            // Lists, maps, records and json: JSON text.
            let v: JSONValue
            do { v = try JSONParser.parse(Array(text.utf8)) } catch { throw .invalid("expected JSON for type \(type): \(error.description)") }
            return withOptionalFields(v, type: type, types: types)
        }
    }

    /// `v` with the optional fields its records leave out written as null, as lowering
    /// writes input defaults: `${item.tag ?? "latest"}` then reads null, not a missing field.
    static func withOptionalFields(_ v: JSONValue, type: String, types: JSONValue?) -> JSONValue {
        if type.hasSuffix("?") { return v == .null ? v : withOptionalFields(v, type: String(type.dropLast()), types: types) }
        switch v {
        case .array(let xs) where type.hasPrefix("list[") && type.hasSuffix("]"):
            return .array(xs.map { withOptionalFields($0, type: String(type.dropFirst(5).dropLast()), types: types) })
        case .object(let es) where type.hasPrefix("map[") && type.hasSuffix("]"):
            return .object(es.map { ($0.0, withOptionalFields($0.1, type: String(type.dropFirst(4).dropLast()), types: types)) })
        case .object(let es):
            guard case .object(let fields)? = types?[type]?["record"] else { return v }
            var out: [(String, JSONValue)] = es.map { e in
                guard case .string(let ft)? = fields.first(where: { $0.0 == e.0 })?.1 else { return e }
                return (e.0, withOptionalFields(e.1, type: ft, types: types))
            }
            for (k, ft) in fields where !es.contains(where: { $0.0 == k }) {
                if case .string(let t) = ft, t.hasSuffix("?") { out.append((k, .null)) }
            }
            return .object(out)
        default: return v
        }
    }
}
