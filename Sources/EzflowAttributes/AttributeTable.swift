import EzflowUnits

/// What an attribute's value must be, in terms every stage can read (the checker maps it
/// to its types, the IR validator to JSON checks, the docs to words).
public enum AttrValue: Sendable, Equatable {
    case int, float, string, duration, money, tokens
    /// `true` or `false`, a literal.
    case bool
    /// A list of strings.
    case strings
    /// A bare word from a fixed set (`driver: exec`).
    case word([String])
    /// A list of bare words; nil = any word, checked by the caller.
    case words([String]?)
    /// The name of a declaration of one of these kinds (block keywords).
    case ref([String])
    /// A list of such names.
    case refs([String])
    /// Checked by hand where it is read (actions, `after`, `with`, `for_each`, ...);
    /// the text says what it takes, for the reference.
    case custom(String)
}

/// One attribute of one block kind: everything any stage needs to know about it.
public struct AttrFact: Sendable {
    /// The block kind (`task`) and the attribute (`timeout`).
    public let block: String
    public let name: String
    public let value: AttrValue
    /// Allowed range in IR units (milliseconds, micro-dollars, tokens; parts per
    /// million for `float`), or nil when unbounded.
    public let min: Int64?
    public let max: Int64?
    /// The value when the attribute is left out, as ezflow writes it; nil = none.
    public let defaultText: String?
    /// The field of the block's IR object that carries the value; nil when the value is
    /// not written as one field (it shapes other fields, or only the checker reads it).
    public let irKey: String?
    /// One line for the reference (docs/ATTRIBUTES.md).
    public let doc: String
    /// Extra help shown with a range diagnostic.
    public let rangeHelp: String?
    /// Whether every block of this kind must give it (E0204 otherwise).
    public let required: Bool
    /// The one task action it applies to (`prompt`); nil: any. Elsewhere it is E0203.
    public let action: String?

    init(_ block: String, _ name: String, _ value: AttrValue, min: Int64? = nil, max: Int64? = nil, default d: String? = nil,
         ir: String? = nil, required: Bool = false, action: String? = nil, _ doc: String, rangeHelp: String? = nil) {
        self.block = block
        self.name = name
        self.value = value
        self.min = min
        self.max = max
        self.defaultText = d
        self.irKey = ir
        self.doc = doc
        self.rangeHelp = rangeHelp
        self.required = required
        self.action = action
    }

    /// Whether the value must be a constant the compiler can fold (it has a range or is
    /// written to the IR as a number).
    public var needsConstant: Bool {
        switch value {
        case .int, .float, .duration, .money, .tokens: return true
        default: return false
        }
    }

    /// A literal in range, for help texts.
    public var example: String {
        switch value {
        case .duration: return "30s"
        case .money: return "$1"
        case .tokens: return "10k tokens"
        case .float: return "0.5"
        case .bool: return "true"
        default: return String(min ?? 1)
        }
    }

    /// Whether `v` (in IR units) lies in the allowed range.
    public func allows(_ v: Int64) -> Bool { (min.map { v >= $0 } ?? true) && (max.map { v <= $0 } ?? true) }

    /// A bound as ezflow writes it (`1ms`, `$0`, `0.5`).
    public func text(_ v: Int64) -> String {
        switch value {
        case .duration: return Units.duration(v)
        case .money: return Units.moneyLiteral(v)
        case .tokens: return Units.tokensLiteral(v)
        case .float: return AttrFact.ppmText(v)
        default: return String(v)
        }
    }

    /// "between 0 and 9", "at least 1", "longer than zero"; nil when unbounded.
    public var rangeText: String? {
        switch (min, max) {
        case (let lo?, let hi?): return "between \(text(lo)) and \(text(hi))"
        case (1?, nil) where value == .duration: return "longer than zero"
        case (let lo?, nil): return "at least \(text(lo))"
        case (nil, let hi?): return "at most \(text(hi))"
        case (nil, nil): return nil
        }
    }

    static func ppmText(_ ppm: Int64) -> String {
        if ppm % 1_000_000 == 0 { return String(ppm / 1_000_000) }
        var f = String(ppm.magnitude % 1_000_000)
        f = String(repeating: "0", count: 6 - f.count) + f
        while f.hasSuffix("0") { f.removeLast() }
        return (ppm < 0 ? "-" : "") + String(ppm.magnitude / 1_000_000) + "." + f
    }
}
