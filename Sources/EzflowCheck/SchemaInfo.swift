import EzflowDiagnostics

/// A read-only view of the checker's tables for editors (`EzflowIDE`): which attributes
/// and nested blocks each block kind takes, and the built-in functions and error classes.
public enum SchemaInfo {
    /// One attribute of a block kind.
    public struct Attribute: Sendable, Hashable {
        public var name: String
        /// What the value must be, in words (`duration`, `one of: exec, llm`).
        public var takes: String
        /// One line on what the attribute does.
        public var doc: String
        /// What a value may be written as, for completion.
        public var values: Values
    }

    /// The values an attribute takes, as completion offers them.
    public enum Values: Sendable, Hashable {
        /// Bare words from a fixed set (`driver: exec`), one or a list.
        case words([String])
        /// Names of declarations of these kinds (`retry: standard`), one or a list.
        case names([DeclKind])
        /// An expression of this type (`timeout: 5m`; a unit follows a number).
        case type(Ty)
        case other
    }

    /// The attributes block kind `kind` takes, in declaration order.
    public static func attributes(of kind: String) -> [Attribute] {
        (Schema.attributes[kind] ?? []).map {
            // A retry's `on` is checked by hand (any error class: declared, imported, built in).
            let values = kind == "retry" && $0.name == "on" ? Values.names([.error]) : values($0.shape)
            return Attribute(name: $0.name, takes: takes($0.shape), doc: doc(kind, $0), values: values)
        }
    }

    static func values(_ s: Shape) -> Values {
        switch s {
        case .value(let t): .type(t)
        case .word(let ws): .words(ws)
        case .words(let ws): ws.map(Values.words) ?? .other
        case .ref(let ks), .refs(let ks): .names(ks)
        case .custom: .other
        }
    }

    /// The block kinds that may nest inside `kind`, sorted.
    public static func blocks(in kind: String) -> [String] { (Schema.blocks[kind] ?? []).sorted() }

    /// Top-level declaration keywords.
    public static var declarations: [String] { DeclKind.allCases.map(\.rawValue) }

    /// Built-in functions and their signatures, by name.
    public static var functions: [String: String] { WorkflowChecker.functions.mapValues(\.1) }

    /// Error classes every retry's `on` knows without a declaration (`output_error`: a
    /// reply that does not match the task's declared outputs).
    public static let builtinErrorClasses = ["timeout", "transient", "agent_error", "output_error"]

    static func takes(_ s: Shape) -> String {
        switch s {
        case .value(let t): "`\(t)`"
        case .word(let ws): "one of: " + ws.joined(separator: ", ")
        case .words(let ws): ws.map { "a list of: " + $0.joined(separator: ", ") } ?? "a list of words"
        case .ref(let ks): "the name of " + withArticle(ks.map(\.noun).joined(separator: " or "))
        case .refs(let ks): "a list of " + ks.map(\.noun).joined(separator: " or ") + " names"
        case .custom: "see the reference"
        }
    }

    /// The attribute's doc line, from `AttributeTable`.
    static func doc(_ kind: String, _ spec: AttrSpec) -> String { spec.fact.doc }
}
