// What a task's declared outputs promise the tasks that read them: a value of each
// declared type. A reply that breaks it (an output missing, mistyped, or one that was
// not declared) fails the attempt with `output_error` (docs/DRIVERS.md), so a task
// downstream never reads a value its type says cannot be there. The llm driver applies it
// to a model's structured answer; it knows nothing of models, so every driver's outputs
// can be held to it.

/// Why a reply does not match a task's declared outputs; the message names the task and
/// the output (`task `review`: output `verdict` should be an enum A|B, got "maybe"`).
public struct OutputMismatch: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// The check of a reply against declared outputs.
public enum OutputContract {
    /// The class of the failure (`retry { on: [output_error] }` retries it).
    public static let errorClass = "output_error"

    /// What happens to members of a reply that are not declared outputs.
    public enum Undeclared: Sendable {
        /// They break the contract (a model answering a strict schema).
        case refused
        /// They stay, after the declared ones: a script's or a service's other members and
        /// the driver's implicit outputs (`stdout`, `exit_code`, `status`, `body`).
        case kept
    }

    /// The declared outputs `fields` read from `reply` (a JSON object), in `fields`' order
    /// (then, when `undeclared` is `.kept`, the other members as they came); an optional
    /// output left out is null, as lowering spells out omitted optional fields.
    public static func check(task: String, fields: [OutputField], reply: JSONValue?,
                             undeclared: Undeclared = .refused) -> Result<[(String, JSONValue)], OutputMismatch> {
        guard case .object(let members)? = reply else {
            let got = reply.map { "got " + excerpt($0) } ?? "got no JSON object"
            return .failure(OutputMismatch("task `\(task)`: the reply should be a JSON object with its outputs ("
                                           + fields.map(\.name).joined(separator: ", ") + "), " + got))
        }
        let others = members.filter { m in !fields.contains(where: { $0.name == m.0 }) }
        if undeclared == .refused, let (k, _) = others.first {
            return .failure(OutputMismatch("task `\(task)`: the reply has `\(k)`, which is not a declared output (declared: "
                                           + fields.map(\.name).joined(separator: ", ") + ")"))
        }
        var out: [(String, JSONValue)] = []
        for f in fields {
            guard let v = members.first(where: { $0.0 == f.name })?.1 else {
                if case .optional = f.type { out.append((f.name, .null)); continue }
                return .failure(OutputMismatch("task `\(task)`: output `\(f.name)` is missing (it should be \(f.type.phrase))"))
            }
            switch value(v, f.type, path: f.name, depth: 0) {
            case .success(let checked): out.append((f.name, checked))
            case .failure(let m): return .failure(OutputMismatch("task `\(task)`: " + m.message))
            }
        }
        return .success(out + others)
    }

    /// `v` as a value of type `t` (an integral float where an int is due becomes the int;
    /// a record's optional fields left out become null); the failure names `path`.
    static func value(_ v: JSONValue, _ t: OutputType, path: String, depth: Int) -> Result<JSONValue, OutputMismatch> {
        func wrong() -> Result<JSONValue, OutputMismatch> {
            .failure(OutputMismatch("output `\(path)` should be \(t.phrase), got \(excerpt(v))"))
        }
        guard depth < OutputType.depthMax else { return wrong() }
        switch (t, v) {
        case (.json, _): return .success(v)
        case (.optional, .null): return .success(.null)
        case (.optional(let inner), _):
            // Named as the optional type ("a string or null"), not its inner one.
            guard case .success(let c) = value(v, inner, path: path, depth: depth + 1) else { return wrong() }
            return .success(c)
        // A file is reported as a path (a string), never as a record: the runner stores
        // the file and journals its `FileRecord` itself, so no task can name a digest.
        case (.file, .string): return .success(v)
        case (.string, .string), (.bool, .bool), (.int, .int), (.unit, .int), (.float, .int), (.float, .float): return .success(v)
        case (.int, .float(let d)), (.unit, .float(let d)):
            guard d.rounded() == d, abs(d) < 9.0e15 else { return wrong() }
            return .success(.int(Int64(d)))
        case (.enumeration(_, let cases), .string(let s)): return cases.contains(s) ? .success(v) : wrong()
        case (.list(let e), .array(let items)):
            var out: [JSONValue] = []
            for (i, x) in items.enumerated() {
                switch value(x, e, path: "\(path)[\(i)]", depth: depth + 1) {
                case .success(let c): out.append(c)
                case .failure(let m): return .failure(m)
                }
            }
            return .success(.array(out))
        case (.map(let e), .object(let members)):
            var out: [(String, JSONValue)] = []
            for (k, x) in members {
                switch value(x, e, path: "\(path).\(k)", depth: depth + 1) {
                case .success(let c): out.append((k, c))
                case .failure(let m): return .failure(m)
                }
            }
            return .success(.object(out))
        case (.record(_, let fields), .object(let members)):
            for (k, _) in members where !fields.contains(where: { $0.name == k }) {
                return .failure(OutputMismatch("output `\(path)` has a field `\(k)` that \(t.phrase) does not have"))
            }
            var out: [(String, JSONValue)] = []
            for f in fields {
                guard let x = members.first(where: { $0.0 == f.name })?.1 else {
                    if case .optional = f.type { out.append((f.name, .null)); continue }
                    return .failure(OutputMismatch("output `\(path).\(f.name)` is missing (it should be \(f.type.phrase))"))
                }
                switch value(x, f.type, path: "\(path).\(f.name)", depth: depth + 1) {
                case .success(let c): out.append((f.name, c))
                case .failure(let m): return .failure(m)
                }
            }
            return .success(.object(out))
        default: return wrong()
        }
    }

    /// A value as it was written, cut at 60 bytes.
    static func excerpt(_ v: JSONValue) -> String {
        let bytes = CanonicalJSON.encode(v)
        guard bytes.count > 60 else { return String(decoding: bytes, as: UTF8.self) }
        var cut = 60
        while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        return String(decoding: bytes[..<cut], as: UTF8.self) + "…"
    }
}
