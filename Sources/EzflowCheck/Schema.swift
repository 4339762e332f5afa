import EzflowAttributes
import EzflowDiagnostics
import EzflowSyntax

/// What an attribute's value must be.
enum Shape {
    /// An expression of this type.
    case value(Ty)
    /// A bare word from a fixed set (`driver: exec`).
    case word([String])
    /// A list of bare words (`allow: [run, approve]`); nil = checked by the caller.
    case words([String]?)
    /// A name of a declaration of one of these kinds.
    case ref([DeclKind])
    /// A list of such names.
    case refs([DeclKind])
    /// Checked by the caller (e.g. `after`, `with`, `for_each`, `when`).
    case custom
}

struct AttrSpec {
    var name: String
    var shape: Shape
    /// The attribute's declaration: range, default, IR key, doc.
    var fact: AttrFact
}

/// Attribute and nested-block schemas of every block kind (see grammar/ezflow.ebnf).
/// Attributes come from `AttributeTable`; this maps them to the checker's types.
enum Schema {
    static let actions = ["run", "prompt", "call", "approve", "workflow"]

    static let attributes: [String: [AttrSpec]] = {
        var out: [String: [AttrSpec]] = [:]
        for (kind, facts) in AttributeTable.blocks {
            out[kind] = facts.map { AttrSpec(name: $0.name, shape: shape($0.value), fact: $0) }
        }
        return out
    }()

    static func shape(_ v: AttrValue) -> Shape {
        switch v {
        case .int: .value(.int)
        case .float: .value(.float)
        case .string: .value(.string)
        case .duration: .value(.duration)
        case .money: .value(.money)
        case .tokens: .value(.tokens)
        case .bool: .value(.bool)
        case .strings: .value(.list(.string))
        case .word(let ws): .word(ws)
        case .words(let ws): .words(ws)
        case .ref(let ks): .ref(ks.map(declKind))
        case .refs(let ks): .refs(ks.map(declKind))
        case .custom: .custom
        }
    }

    static func declKind(_ keyword: String) -> DeclKind {
        guard let k = DeclKind(rawValue: keyword) else { preconditionFailure("AttributeTable names unknown block `\(keyword)`") }
        return k
    }

    /// Nested block kinds allowed inside each kind.
    static let blocks: [String: Set<String>] = [
        "workflow": ["input", "output", "task", "group", "budget", "agent", "role", "policy", "secret", "retry", "enum", "type", "error",
                     "finally"],
        "finally": ["task"],
        "task": ["budget", "retry", "output", "matrix"],
        "group": ["task", "group", "budget", "repeat"],
        "agent": [], "role": [], "policy": [], "secret": [], "retry": [], "budget": [], "matrix": [], "repeat": [],
        "input": [], "output": [], "error": [], "enum": [], "type": [],
    ]

    /// Attributes every block of a kind must give, in declaration order.
    static let required: [String: [String]] = attributes.mapValues { $0.filter(\.fact.required).map(\.name) }
}

/// A fixed set of names mapped to small integers by an open-addressing table with
/// an FNV-1a hash over the UTF-8 bytes: cheaper than `Dictionary<String, _>` hashing
/// for the short, mostly-ASCII identifiers it serves.
struct NameTable {
    let names: [String]
    private let slots: [Int16]
    private let mask: Int

    init(_ names: [String]) {
        self.names = names
        var size = 16
        while size < names.count * 4 { size *= 2 }
        var slots = [Int16](repeating: -1, count: size)
        for (i, n) in names.enumerated() {
            var h = NameTable.hash(n) & (size - 1)
            while slots[h] >= 0 { h = (h + 1) & (size - 1) }
            slots[h] = Int16(i)
        }
        self.slots = slots
        self.mask = size - 1
    }

    @inline(__always)
    static func hash(_ s: String) -> Int {
        var h: UInt32 = 2_166_136_261
        for b in s.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return Int(h)
    }

    @inline(__always)
    func id(_ s: String) -> Int? {
        var i = NameTable.hash(s) & mask
        while true {
            let v = slots[i]
            if v < 0 { return nil }
            if names[Int(v)] == s { return Int(v) }
            i = (i + 1) & mask
        }
    }
}

/// One block kind's schema, precomputed so validation compares integers.
struct KindSchema {
    var kind: String
    var specs: [AttrSpec]
    /// Spec index by attribute id (`Schema.attrNames`), -1 when the kind lacks it.
    var specByKey: [Int8]
    var required: [String]
    var blocks: Set<String>
    /// Bit `k` set when the block kind with id `k` (`Schema.kindNames`) may nest here.
    var blockMask: UInt64
}

extension Schema {
    /// Every attribute name any block kind takes.
    static let attrNames: NameTable = {
        var all: [String] = []
        for k in attributes.keys.sorted() {
            for s in attributes[k]! where !all.contains(s.name) { all.append(s.name) }
        }
        return NameTable(all)
    }()

    static let kindNames = NameTable(attributes.keys.sorted())

    static let kindSchemas: [KindSchema] = kindNames.names.map { k in
        let specs = attributes[k]!
        var byKey = [Int8](repeating: -1, count: attrNames.names.count)
        for (i, s) in specs.enumerated() { byKey[attrNames.id(s.name)!] = Int8(i) }
        let bl = blocks[k] ?? []
        var mask: UInt64 = 0
        for b in bl { if let id = kindNames.id(b) { mask |= 1 << UInt64(id) } }
        return KindSchema(kind: k, specs: specs, specByKey: byKey, required: required[k] ?? [], blocks: bl, blockMask: mask)
    }

    /// Attribute ids of the action attributes (`actions`).
    static let actionMask: [Bool] = {
        var m = [Bool](repeating: false, count: attrNames.names.count)
        for a in actions { m[attrNames.id(a)!] = true }
        return m
    }()

    static let forEachID = attrNames.id("for_each")!

    @inline(__always)
    static func isAction(_ key: String) -> Bool {
        guard let id = attrNames.id(key) else { return false }
        return actionMask[id]
    }
}

/// Attribute ids used by the checker's hot paths, looked up once.
enum AK {
    static let after = Schema.attrNames.id("after")!
    static let agent = Schema.attrNames.id("agent")!
    static let approvers = Schema.attrNames.id("approvers")!
    static let self_approval = Schema.attrNames.id("self_approval")!
    static let on_timeout = Schema.attrNames.id("on_timeout")!
    static let escalate_to = Schema.attrNames.id("escalate_to")!
    static let escalate_timeout = Schema.attrNames.id("escalate_timeout")!
    static let env = Schema.attrNames.id("env")!
    static let for_each = Schema.attrNames.id("for_each")!
    static let max_cost = Schema.attrNames.id("max_cost")!
    static let max_tokens = Schema.attrNames.id("max_tokens")!
    static let messages = Schema.attrNames.id("messages")!
    static let model = Schema.attrNames.id("model")!
    static let needs = Schema.attrNames.id("needs")!
    static let priority = Schema.attrNames.id("priority")!
    static let retry = Schema.attrNames.id("retry")!
    static let role = Schema.attrNames.id("role")!
    static let secrets = Schema.attrNames.id("secrets")!
    static let stop = Schema.attrNames.id("stop")!
    static let system = Schema.attrNames.id("system")!
    static let tags = Schema.attrNames.id("tags")!
    static let temperature = Schema.attrNames.id("temperature")!
    static let timeout = Schema.attrNames.id("timeout")!
    static let `with` = Schema.attrNames.id("with")!
    static let workflow = Schema.attrNames.id("workflow")!
    static let writes = Schema.attrNames.id("writes")!
}
