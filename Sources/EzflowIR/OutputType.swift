// The type of a task output as the IR writes it (`"list[Finding]"`, `"Verdict"`,
// `"{content: string, role: string}"`, `"int?"`), read back into a tree with the
// workflow's `types` (named enums and records) resolved. The JSON schema a model is sent
// (OutputSchema) and the check of what it answers (OutputContract) both walk this tree.

/// One output type, named types resolved.
public indirect enum OutputType: Sendable, Equatable {
    case string, int, float, bool
    /// A file artifact (docs/RUNTIME.md, "Files"): a task reports a relative path; the
    /// runner stores the file and journals its `FileRecord`.
    case file
    /// `duration` (milliseconds), `money` (micro-dollars), `tokens`: JSON integers.
    case unit(String)
    /// Any JSON value.
    case json
    case enumeration(name: String, cases: [String])
    /// Fields in canonical (sorted) order; `name` nil for a record literal's shape.
    case record(name: String?, fields: [OutputField])
    case list(OutputType)
    case map(OutputType)
    case optional(OutputType)

    /// Types nest at most this deep (the checker's types are far shallower).
    static let depthMax = 32

    /// The type `text` names in an IR whose named types are `types` (the workflow's
    /// `types` object); nil when it cannot be read.
    public init?(ir text: String, types: JSONValue?) {
        var p = OutputTypeParser(chars: Array(text.unicodeScalars), types: types)
        guard let t = p.type(depth: 0), p.at == p.chars.count else { return nil }
        self = t
    }

    /// How a value of this type is described to a person (`an enum APPROVE|REQUEST_CHANGES`).
    public var phrase: String {
        switch self {
        case .string: "a string"
        case .int: "an int"
        case .float: "a float"
        case .bool: "a bool"
        case .file: "a file (a relative path in the task's working directory)"
        case .unit("duration"): "a duration in milliseconds (an integer)"
        case .unit("money"): "money in micro-dollars (an integer)"
        case .unit(let u): "\(u) (an integer)"
        case .json: "any JSON value"
        case .enumeration(_, let cases): "an enum " + cases.joined(separator: "|")
        case .record(let name?, _): "a record `\(name)`"
        case .record(nil, let fields): "a record {" + fields.map(\.name).joined(separator: ", ") + "}"
        case .list(let e): "a list of " + e.plural
        case .map(let e): "a map of " + e.plural
        case .optional(let t): t.phrase + " or null"
        }
    }

    var plural: String {
        switch self {
        case .string: "strings"
        case .int: "ints"
        case .float: "floats"
        case .bool: "bools"
        default: "(\(phrase))"
        }
    }
}

/// A field of a record type.
public struct OutputField: Sendable, Equatable {
    public var name: String
    public var type: OutputType
    public init(name: String, type: OutputType) {
        self.name = name
        self.type = type
    }
}

/// Reads the IR's type strings (lowering's `typeName`).
struct OutputTypeParser {
    let chars: [Unicode.Scalar]
    let types: JSONValue?
    var at = 0

    init(chars: [Unicode.Scalar], types: JSONValue?) {
        self.chars = chars
        self.types = types
    }

    mutating func type(depth: Int) -> OutputType? {
        guard depth < OutputType.depthMax else { return nil }
        var t: OutputType
        if eat("{") {
            var fields: [OutputField] = []
            while !eat("}") {
                if !fields.isEmpty {
                    guard eat(",") else { return nil }
                    _ = eat(" ")
                }
                let name = word()
                guard !name.isEmpty, eat(":"), eat(" "), let ft = type(depth: depth + 1) else { return nil }
                fields.append(OutputField(name: name, type: ft))
            }
            t = .record(name: nil, fields: fields.sorted { JSONValue.keyLess($0.name, $1.name) })
        } else {
            let name = word()
            if (name == "list" || name == "map") && eat("[") {
                guard let e = type(depth: depth + 1), eat("]") else { return nil }
                t = name == "list" ? .list(e) : .map(e)
            } else {
                guard let named = Self.primitive(name) ?? self.named(name, depth: depth) else { return nil }
                t = named
            }
        }
        while eat("?") { if case .optional = t {} else { t = .optional(t) } }
        return t
    }

    static func primitive(_ name: String) -> OutputType? {
        switch name {
        case "string", "path": .string
        case "int": .int
        case "float": .float
        case "bool": .bool
        case "duration", "money", "tokens": .unit(name)
        case "json": .json
        case "file": .file
        default: nil
        }
    }

    /// A name of the workflow's `types`: `{"enum": [...]}` or `{"record": {field: type}}`.
    func named(_ name: String, depth: Int) -> OutputType? {
        guard !name.isEmpty, let decl = types?[name] else { return nil }
        if case .array(let cases)? = decl["enum"] {
            return .enumeration(name: name, cases: cases.compactMap { if case .string(let c) = $0 { c } else { nil } })
        }
        guard case .object(let members)? = decl["record"] else { return nil }
        var fields: [OutputField] = []
        for (k, v) in members {
            guard case .string(let text) = v else { return nil }
            var p = OutputTypeParser(chars: Array(text.unicodeScalars), types: types)
            guard let ft = p.type(depth: depth + 1), p.at == p.chars.count else { return nil }
            fields.append(OutputField(name: k, type: ft))
        }
        return .record(name: name, fields: fields.sorted { JSONValue.keyLess($0.name, $1.name) })
    }

    mutating func eat(_ c: Unicode.Scalar) -> Bool {
        guard at < chars.count, chars[at] == c else { return false }
        at += 1
        return true
    }

    /// An identifier, possibly qualified (`module.Name`).
    mutating func word() -> String {
        var s = ""
        while at < chars.count, chars[at].properties.isAlphabetic || chars[at] == "_" || chars[at] == "." || ("0"..."9").contains(chars[at]) {
            s.unicodeScalars.append(chars[at])
            at += 1
        }
        return s
    }
}
