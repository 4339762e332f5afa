// A task's declared outputs as the JSON schema a model is asked to answer in
// (structured outputs, docs/DRIVERS.md). One function for everyone who needs it: the llm
// driver sends it, the core counts its bytes in the prompt bound, the checker's budget
// proofs count them too, so the three agree by construction.
//
// OpenAI's strict mode is followed where the type allows it: every object lists all its
// properties in `required` with `additionalProperties: false`, an optional value is a
// union with null. A `map` or `json` output cannot be said that way; the schema then is
// not strict (`strict` false) and the reply is still checked by OutputContract.

/// The JSON schema of a task's declared outputs.
public enum OutputSchema {
    /// Outputs every `prompt` task has without declaring them: they are the driver's, so
    /// they are never asked of the model.
    public static let implicitNames: Set<String> = ["text", "tokens", "messages"]

    /// The declared outputs of IR task `task` (its `outputs`, the implicit ones left out),
    /// types resolved with `types` (its workflow's); nil when it declares none. An output
    /// whose type cannot be read is `json`.
    public static func declared(task: JSONValue, types: JSONValue?) -> [OutputField]? {
        guard case .array(let outs)? = task["outputs"] else { return nil }
        var fields: [OutputField] = []
        for o in outs {
            guard case .string(let name)? = o["name"], !implicitNames.contains(name) else { continue }
            let text: String = if case .string(let t)? = o["type"] { t } else { "json" }
            fields.append(OutputField(name: name, type: OutputType(ir: text, types: types) ?? .json))
        }
        return fields.isEmpty ? nil : fields.sorted { JSONValue.keyLess($0.name, $1.name) }
    }

    /// The schema of IR task `task`'s declared outputs; nil when it declares none.
    public static func of(task: JSONValue, types: JSONValue?) -> JSONValue? {
        declared(task: task, types: types).map { schema(.record(name: nil, fields: $0)) }
    }

    /// The schema of one type.
    public static func schema(_ t: OutputType) -> JSONValue {
        switch t {
        // A file is a path a task reports; only `run` tasks declare one (the checker's
        // E0940, `IRValidator`), so no model is ever asked for it.
        case .string, .file: return .object([("type", .string("string"))])
        case .int: return .object([("type", .string("integer"))])
        case .float: return .object([("type", .string("number"))])
        case .bool: return .object([("type", .string("boolean"))])
        case .unit(let u):
            let what = u == "duration" ? "milliseconds" : u == "money" ? "micro-dollars" : u
            return .object([("description", .string(what)), ("type", .string("integer"))])
        case .json: return .object([])
        case .enumeration(_, let cases): return .object([("enum", .array(cases.map { .string($0) })), ("type", .string("string"))])
        case .record(_, let fields):
            return .object([
                ("additionalProperties", .bool(false)),
                ("properties", .object(fields.map { ($0.name, schema($0.type)) })),
                ("required", .array(fields.map { .string($0.name) })),
                ("type", .string("object")),
            ])
        case .list(let e): return .object([("items", schema(e)), ("type", .string("array"))])
        case .map(let e): return .object([("additionalProperties", schema(e)), ("type", .string("object"))])
        case .optional(let inner): return nullable(inner)
        }
    }

    /// `inner` or null: a scalar's or an enum's `type` becomes `[type, "null"]` (null joins
    /// an enum's cases); a list or a record is `anyOf` it and `{"type": "null"}`.
    static func nullable(_ inner: OutputType) -> JSONValue {
        let s = schema(inner)
        switch inner {
        case .string, .file, .int, .float, .bool, .unit:
            guard case .object(let members) = s else { return s }
            return .object(members.map { $0.0 == "type" ? ("type", .array([$0.1, .string("null")])) : $0 })
        case .enumeration(_, let cases):
            return .object([("enum", .array(cases.map { .string($0) } + [.null])), ("type", .array([.string("string"), .string("null")]))])
        case .json: return s
        case .record, .list, .map, .optional: return .object([("anyOf", .array([s, .object([("type", .string("null"))])]))])
        }
    }

    /// Whether `schema` (one `of` built) can be sent strict (OpenAI's strict mode): every
    /// object closed and every value typed, which a `map` or `json` output is not.
    public static func isStrict(_ schema: JSONValue) -> Bool {
        guard case .object(let members) = schema, !members.isEmpty else { return false }
        if case .string("object")? = schema["type"], schema["additionalProperties"] != .bool(false) { return false }
        for (k, v) in members {
            switch (k, v) {
            case ("properties", .object(let props)): if !props.allSatisfy({ isStrict($0.1) }) { return false }
            case ("items", _): if !isStrict(v) { return false }
            case ("anyOf", .array(let options)): if !options.allSatisfy(isStrict) { return false }
            default: continue
            }
        }
        return true
    }
}
