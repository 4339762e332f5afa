// One run input's text read against its IR type by the language's own literal rules
// (`Literal.scan`, shared with the lexer's units and the checker's help lines): a bare `5`
// is a plain int, so a duration input refuses it as `ezc check` refuses `= 5`. Lists, maps
// and records are JSON, checked member by member; a unit inside them is a JSON string
// holding its literal (`["30s", "10m"]`).
import EzflowIR
import EzflowUnits

/// Why an input's text is not a value of its type: where inside the value, what was
/// expected, what was found, and how to write it.
struct InputMismatch: Error {
    /// `[0]`, `.field`; empty for the whole value.
    var at = ""
    var expected: String
    var found: String
    var help: String?

    func message(input name: String) -> String {
        "input `\(name)`\(at) expects \(expected), found \(found)" + (help.map { "; \($0)" } ?? "")
    }

    func within(_ step: String) -> InputMismatch {
        var m = self
        m.at = step + m.at
        return m
    }
}

enum InputValue {
    /// The value of IR type `type` that `text` spells.
    static func read(_ text: String, type: String, types: JSONValue?) throws(InputMismatch) -> JSONValue {
        if type.hasSuffix("?") {
            return text == "null" ? .null : try read(text, type: String(type.dropLast()), types: types)
        }
        if type == "string" || type == "path" { return .string(text) }
        if let kind = LiteralKind(rawValue: type) { return try scalar(text, kind) }
        if case .array(let cases)? = types?[type]?["enum"] { return try enumCase(.string(text), cases: cases, found: shown(text)) }
        let v: JSONValue
        do { v = try JSONParser.parse(Array(text.utf8)) } catch {
            throw InputMismatch(expected: "`\(type)` written as JSON", found: "\(shown(text)) (\(error.description))",
                                help: example(type))
        }
        return try typed(v, type: type, types: types)
    }

    /// A scalar's text: exactly a literal of `kind` (an int also where a float is wanted).
    static func scalar(_ text: String, _ kind: LiteralKind, inJSON: Bool = false) throws(InputMismatch) -> JSONValue {
        let asString = inJSON ? ", as a JSON string" : ""
        switch Literal.scan(text) {
        case .value(let lit):
            switch (lit, kind) {
            case (.duration(let n), .duration), (.money(let n), .money), (.tokens(let n), .tokens), (.int(let n), .int): return .int(n)
            case (.int(let n), .float): return .float(Double(n))
            case (.float(let f), .float): return .float(f)
            case (.bool(let b), .bool): return .bool(b)
            default: throw InputMismatch(expected: kind.noun, found: lit.kind.noun, help: kind.help(found: lit.kind) + asString)
            }
        case .outOfRange(let k):
            throw InputMismatch(expected: kind.noun, found: "\(shown(text)), out of range (at most \(largest(k)))",
                                help: kind.help(found: nil) + asString)
        case .unknown:
            throw InputMismatch(expected: kind.noun, found: shown(text), help: kind.help(found: nil) + asString)
        }
    }

    /// The largest value of a kind, as it is written.
    static func largest(_ k: LiteralKind) -> String {
        switch k {
        case .duration: Units.duration(Int64.max / 86_400_000 * 86_400_000)
        case .money: Units.moneyLiteral(Int64.max / 1_000_000 * 1_000_000)
        case .tokens: Units.tokens(Int64.max)
        case .int, .float, .bool: String(Int64.max)
        }
    }

    /// A JSON value checked against `type`; units converted to IR units and the optional
    /// fields a record leaves out written as null (as lowering writes input defaults:
    /// `${item.tag ?? "latest"}` then reads null, not a missing field).
    static func typed(_ v: JSONValue, type: String, types: JSONValue?) throws(InputMismatch) -> JSONValue {
        if type.hasSuffix("?") { return v == .null ? v : try typed(v, type: String(type.dropLast()), types: types) }
        func mismatch() -> InputMismatch { InputMismatch(expected: noun(type), found: noun(of: v), help: example(type)) }
        switch (type, v) {
        case ("json", _): return v
        case ("string", .string), ("path", .string), ("int", .int), ("float", .float), ("bool", .bool): return v
        case ("float", .int(let n)): return .float(Double(n))
        case (_, .string(let s)) where LiteralKind(rawValue: type)?.isUnit == true: return try scalar(s, LiteralKind(rawValue: type)!, inJSON: true)
        case (_, .int) where LiteralKind(rawValue: type)?.isUnit == true, (_, .float) where LiteralKind(rawValue: type)?.isUnit == true:
            let unit = LiteralKind(rawValue: type)!
            throw InputMismatch(expected: unit.noun, found: noun(of: v), help: unit.help(found: .int) + ", as a JSON string")
        case (_, .array(let xs)) where type.hasPrefix("list[") && type.hasSuffix("]"):
            var out: [JSONValue] = []
            for (i, x) in xs.enumerated() {
                do throws(InputMismatch) { out.append(try typed(x, type: String(type.dropFirst(5).dropLast()), types: types)) } catch {
                    throw error.within("[\(i)]")
                }
            }
            return .array(out)
        case (_, .object(let es)) where type.hasPrefix("map[") && type.hasSuffix("]"):
            var out: [(String, JSONValue)] = []
            for (k, x) in es {
                do throws(InputMismatch) { out.append((k, try typed(x, type: String(type.dropFirst(4).dropLast()), types: types))) } catch {
                    throw error.within("[\(shown(k))]")
                }
            }
            return .object(out)
        case (_, .object(let es)):
            guard let fields = recordFields(type, types: types) else { throw mismatch() }
            return try record(es, fields: fields, types: types)
        case (_, .string) where types?[type]?["enum"] != nil:
            guard case .array(let cases)? = types?[type]?["enum"] else { throw mismatch() }
            return try enumCase(v, cases: cases)
        default:
            throw mismatch()
        }
    }

    /// A record's members: every one declared, every required one given.
    static func record(_ es: [(String, JSONValue)], fields: [(String, String)], types: JSONValue?) throws(InputMismatch) -> JSONValue {
        var out: [(String, JSONValue)] = []
        for (k, x) in es {
            guard let ft = fields.first(where: { $0.0 == k })?.1 else {
                throw InputMismatch(expected: "only the fields " + fields.map(\.0).joined(separator: ", "), found: "the field \(shown(k))",
                                    help: "remove it")
            }
            do throws(InputMismatch) { out.append((k, try typed(x, type: ft, types: types))) } catch { throw error.within(".\(k)") }
        }
        for (k, ft) in fields where !es.contains(where: { $0.0 == k }) {
            guard ft.hasSuffix("?") else {
                throw InputMismatch(at: ".\(k)", expected: noun(ft), found: "nothing", help: "add `\"\(k)\": …`; only optional fields may be left out")
            }
            out.append((k, .null))
        }
        return .object(out)
    }

    static func enumCase(_ v: JSONValue, cases: [JSONValue], found: String? = nil) throws(InputMismatch) -> JSONValue {
        guard cases.contains(v) else {
            let names = cases.compactMap { if case .string(let s) = $0 { s } else { nil } }
            throw InputMismatch(expected: "one of " + names.joined(separator: ", "), found: found ?? noun(of: v), help: nil)
        }
        return v
    }

    /// A record type's fields and their types: a named one from the IR's `types`, an
    /// anonymous one from its spelled-out type (`{a: string, b: list[int]}`).
    static func recordFields(_ type: String, types: JSONValue?) -> [(String, String)]? {
        if case .object(let fs)? = types?[type]?["record"] {
            return fs.compactMap { if case .string(let t) = $0.1 { ($0.0, t) } else { nil } }
        }
        guard type.hasPrefix("{") && type.hasSuffix("}") else { return nil }
        var out: [(String, String)] = [], depth = 0, part = ""
        for c in type.dropFirst().dropLast() + "," {
            if c == "[" || c == "{" { depth += 1 }
            if c == "]" || c == "}" { depth -= 1 }
            guard c == "," && depth == 0 else { part.append(c); continue }
            guard let colon = part.firstIndex(of: ":") else { return nil }
            out.append((part[..<colon].trimmingSpaces, part[part.index(after: colon)...].trimmingSpaces))
            part = ""
        }
        return out
    }

    /// How a type is named in a message.
    static func noun(_ type: String) -> String {
        if let k = LiteralKind(rawValue: type) { return k.noun }
        if type == "string" || type == "path" { return "a string" }
        return "`\(type)`"
    }

    static func noun(of v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "a bool"
        case .int: "a plain int"
        case .float: "a plain float"
        case .string(let s): "the string \(shown(s))"
        case .array: "a list"
        case .object: "an object"
        case .raw: "JSON"
        }
    }

    /// How to write a value of `type` on the command line.
    static func example(_ type: String) -> String? {
        if let k = LiteralKind(rawValue: type) { return k.isUnit ? "write \(k.example) as a JSON string" : "write \(k.example)" }
        if type.hasPrefix("list[") { return "write a JSON list, e.g. `[...]`" }
        if type.hasPrefix("map[") || type.hasPrefix("{") { return "write a JSON object, e.g. `{\"key\": ...}`" }
        return nil
    }

    /// `text` in backquotes, on one line and not too long: control characters escaped,
    /// the middle of a long value left out.
    static func shown(_ text: String, quoted: Bool = true) -> String {
        var out = ""
        for u in text.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7F || (0x80..<0xA0).contains(u.value) || u == "`" {
                out += "\\u{\(String(u.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        if out.count > 80 { out = String(out.prefix(60)) + "…" + String(out.suffix(16)) }
        return quoted ? "`\(out)`" : out
    }
}

extension Substring {
    var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
