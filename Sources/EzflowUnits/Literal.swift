// A scalar literal written as the language writes it (`30s`, `$2.50`, `200k tokens`, `3`,
// `0.5`, `true`), read from text outside a source file (`ezrun run --input`), and the
// words the checker and `ezrun` both use to name a kind and to say how to write it, so a
// run input and a default in a file are held to one rule and get one help line.

/// The scalar kinds a literal can have.
public enum LiteralKind: String, Sendable, CaseIterable {
    case duration, money, tokens, int, float, bool

    /// How a value of this kind is written, for help lines (`write \(example)`).
    public var example: String {
        switch self {
        case .duration: "`30s`, `10m` or `2h`"
        case .money: "`$2.50`"
        case .tokens: "`200k tokens`"
        case .int: "`3`"
        case .float: "`0.5`"
        case .bool: "`true` or `false`"
        }
    }

    /// The kind with its article, as messages name it: "a duration", "a plain int".
    public var noun: String {
        switch self {
        case .duration: "a duration"
        case .money: "a money amount"
        case .tokens: "a token count"
        case .int: "a plain int"
        case .float: "a plain float"
        case .bool: "a bool"
        }
    }

    /// duration, money and tokens carry units.
    public var isUnit: Bool { self == .duration || self == .money || self == .tokens }

    /// The help line for a `found` value where `self` is expected: a plain number where a
    /// unit is wanted is told to add the unit (E0301); anything else to write the kind.
    public func help(found: LiteralKind?) -> String {
        isUnit && (found == .int || found == .float) ? "add a unit: \(example)" : "write \(example)"
    }
}

/// One scalar literal's value: units in IR units (milliseconds, micro-dollars, tokens).
public enum Literal: Sendable, Equatable {
    case duration(Int64), money(Int64), tokens(Int64), int(Int64), float(Double), bool(Bool)

    public var kind: LiteralKind {
        switch self {
        case .duration: .duration
        case .money: .money
        case .tokens: .tokens
        case .int: .int
        case .float: .float
        case .bool: .bool
        }
    }

    /// What `scan` made of a text.
    public enum Scan: Sendable, Equatable {
        case value(Literal)
        /// Written as a literal of this kind, but beyond 64 bits or not whole in its unit.
        case outOfRange(LiteralKind)
        /// Not a literal.
        case unknown
    }

    /// Reads `text` by the lexer's rules: digits with `_` separators and at most one `.`;
    /// one duration suffix (`ms`, `s`, `m`, `h`, `d`); money as `$` and at most six
    /// decimals; token counts as a number, an optional `k`/`M` and the word `tokens` after
    /// a space; `true`/`false`. A leading `-` only on plain numbers. No other spelling: a
    /// bare number is a plain int, never milliseconds.
    public static func scan(_ text: String) -> Scan {
        if text == "true" || text == "false" { return .value(.bool(text == "true")) }
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "$") {
            bytes = bytes.dropFirst()
            guard bytes.first.map(isDigit) == true else { return .unknown }
            guard let d = Units.decimal(bytes) else { return Units.isNumber(bytes) ? .outOfRange(.money) : .unknown }
            guard d.scale <= 6, let m = Units.scaled(d, by: 1_000_000) else { return .outOfRange(.money) }
            return .value(.money(m))
        }
        if let space = bytes.firstIndex(of: UInt8(ascii: " ")) {
            return tokens(bytes[..<space], word: bytes[space...])
        }
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        guard bytes.first.map(isDigit) == true else { return .unknown }
        let end = bytes.firstIndex { !Units.isNumberByte($0) } ?? bytes.endIndex
        let number = bytes[..<end], suffix = bytes[end...]
        guard Units.isNumber(number) else { return .unknown }
        guard let d = Units.decimal(number) else {
            return .outOfRange(!suffix.isEmpty ? .duration : number.contains(UInt8(ascii: ".")) ? .float : .int)
        }
        if suffix.isEmpty {
            if d.scale > 0 { return Double(String(decoding: number.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)).map { .value(.float(negative ? -$0 : $0)) } ?? .unknown }
            return .value(.int(negative ? -d.value : d.value))
        }
        guard !negative, let f = Units.durationFactor(suffix) else { return .unknown }
        guard let ms = Units.scaled(d, by: f) else { return .outOfRange(.duration) }
        return .value(.duration(ms))
    }

    /// `200k tokens`: the number and magnitude before the space, `tokens` after it.
    static func tokens(_ head: Substring.UTF8View.SubSequence, word: Substring.UTF8View.SubSequence) -> Scan {
        guard word.drop(while: { $0 == UInt8(ascii: " ") }).elementsEqual("tokens".utf8),
              head.first.map(isDigit) == true else { return .unknown }
        var number = head, factor: Int64 = 1
        for (suffix, f) in Units.tokenMagnitudes where head.last == suffix.utf8.first {
            factor = f
            number = head.dropLast()
        }
        guard Units.isNumber(number) else { return .unknown }
        guard let d = Units.decimal(number), let n = Units.scaled(d, by: factor) else { return .outOfRange(.tokens) }
        return .value(.tokens(n))
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
}

extension Units {
    /// Digits, `_` and at most one `.`, starting with a digit: a number's shape, whatever its size.
    static func isNumber(_ bytes: some BidirectionalCollection<UInt8>) -> Bool {
        guard let first = bytes.first, Literal.isDigit(first), bytes.allSatisfy(isNumberByte) else { return false }
        return bytes.filter { $0 == UInt8(ascii: ".") }.count <= 1 && bytes.last != UInt8(ascii: ".")
    }
}
