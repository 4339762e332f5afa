import Foundation

/// A JSON value as the IR uses it. Integers and floats are distinct cases so that
/// exact quantities (money in micros, durations in ms, tokens) never pass through a
/// `Double`. Objects keep their members as an array; the canonical writer sorts them.

public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// Only for values the language itself types as `float` (never for units).
    case float(Double)
    case string(String)
    case array([JSONValue])
    /// Members in any order; keys must be unique.
    case object([(String, JSONValue)])
    /// Canonical JSON bytes written verbatim (large parts the lowering streams, such
    /// as a task list). Never produced by the parser.
    case raw([UInt8])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.raw(let x), .raw(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            let xs = x.sorted { JSONValue.keyLess($0.0, $1.0) }, ys = y.sorted { JSONValue.keyLess($0.0, $1.0) }
            return zip(xs, ys).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The member named `key` of an object, or nil.
    public subscript(_ key: String) -> JSONValue? {
        guard case .object(let m) = self else { return nil }
        return m.first { $0.0 == key }?.1
    }

    /// Canonical key order: by UTF-8 bytes.
    public static func keyLess(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { pa in
            b.withUTF8 { pb in
                let n = min(pa.count, pb.count)
                if n > 0, let x = pa.baseAddress, let y = pb.baseAddress {
                    let c = memcmp(x, y, n)
                    if c != 0 { return c < 0 }
                }
                return pa.count < pb.count
            }
        }
    }

    /// A short name of the value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        case .raw: "raw"
        }
    }
}

/// The canonical JSON writer: object keys sorted by UTF-8 bytes, no whitespace,
/// integers in plain decimal, strings escaped per RFC 8259 (`"` `\` and control
/// characters only; everything else is written as raw UTF-8). The same value always
/// gives the same bytes.
public enum CanonicalJSON {
    /// The canonical bytes of `value`.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(value, into: &out)
        return out
    }

    /// Appends the canonical bytes of `value` to `out`.
    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case .int(let i): writeInt(i, into: &out)
        case .float(let d): out.append(contentsOf: floatText(d).utf8)
        case .string(let s): writeString(s, into: &out)
        case .raw(let b): out.append(contentsOf: b)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, v) in items.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in sortedMembers(members) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// An indented rendering with the same key order, for golden files people read.
    /// Not canonical: the hash is always over `encode`.
    public static func pretty(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        writePretty(value, indent: 0, into: &out)
        out.append(UInt8(ascii: "\n"))
        return String(decoding: out, as: UTF8.self)
    }

    static func writePretty(_ value: JSONValue, indent: Int, into out: inout [UInt8]) {
        func newline(_ n: Int) {
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: n))
        }
        switch value {
        case .array(let items) where !items.isEmpty:
            out.append(UInt8(ascii: "["))
            for (k, v) in items.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 2)
                writePretty(v, indent: indent + 2, into: &out)
            }
            newline(indent)
            out.append(UInt8(ascii: "]"))
        case .object(let members) where !members.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (n, (k, v)) in sortedMembers(members).enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 2)
                writeString(k, into: &out)
                out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
                writePretty(v, indent: indent + 2, into: &out)
            }
            newline(indent)
            out.append(UInt8(ascii: "}"))
        default:
            write(value, into: &out)
        }
    }

    /// Members in canonical order; already-sorted input (the lowering's) is not copied.
    @inline(__always)
    static func sortedMembers(_ m: [(String, JSONValue)]) -> [(String, JSONValue)] {
        var sorted = true
        if m.count > 1 {
            for i in 1..<m.count where !JSONValue.keyLess(m[i - 1].0, m[i].0) {
                sorted = false
                break
            }
        }
        return sorted ? m : m.sorted { JSONValue.keyLess($0.0, $1.0) }
    }

    /// The shortest text that reads back as the same double (`0.05`, `1e-07`).
    /// Non-finite values cannot occur (literals are finite) and are written as null.
    public static func floatText(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        var s = "\(d)"
        if s.hasSuffix(".0") { s.removeLast(2) }
        return s
    }

    static func writeInt(_ i: Int64, into out: inout [UInt8]) {
        if i == 0 { out.append(UInt8(ascii: "0")); return }
        var v = i.magnitude
        var buf: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &buf) { p in
            while v > 0 {
                p[19 - n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                n += 1
            }
            if i < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: p[(20 - n)...])
        }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var start = 0
            for (i, b) in bytes.enumerated() where b < 0x20 || b == 0x22 || b == 0x5C {
                if start < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i])) }
                start = i + 1
                out.append(UInt8(ascii: "\\"))
                switch b {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    out.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 0xF)]])
                }
            }
            if start < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...])) }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Streams canonical JSON into a byte buffer without building a tree. The caller
/// writes object keys in canonical (UTF-8 byte) order; debug builds assert it.
public struct CanonicalStream {
    public private(set) var bytes: [UInt8] = []
    /// Per open container: whether the next element is its first.
    var first: [Bool] = []
    var afterKey = false
    #if DEBUG
    var lastKeys: [String] = []
    #endif

    /// An empty stream with room for `capacity` bytes.
    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func separate() {
        if afterKey { afterKey = false; return }
        guard !first.isEmpty else { return }
        if first[first.count - 1] { first[first.count - 1] = false } else { bytes.append(UInt8(ascii: ",")) }
    }

    /// Opens an object; members follow as `key` then one value each.
    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        first.append(true)
        #if DEBUG
        lastKeys.append("")
        #endif
    }

    /// Closes the innermost object.
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        first.removeLast()
        #if DEBUG
        lastKeys.removeLast()
        #endif
    }

    /// Opens an array.
    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        first.append(true)
        #if DEBUG
        lastKeys.append("")
        #endif
    }

    /// Closes the innermost array.
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        first.removeLast()
        #if DEBUG
        lastKeys.removeLast()
        #endif
    }

    /// The next member's key; keys of one object must come in canonical order.
    public mutating func key(_ k: String) {
        #if DEBUG
        let last = lastKeys[lastKeys.count - 1]
        assert(last.isEmpty || JSONValue.keyLess(last, k), "keys out of canonical order: \(last) then \(k)")
        lastKeys[lastKeys.count - 1] = k
        #endif
        separate()
        CanonicalJSON.writeString(k, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// A string value (escaped per RFC 8259).
    public mutating func string(_ s: String) { separate(); CanonicalJSON.writeString(s, into: &bytes) }
    /// An integer value.
    public mutating func int(_ i: Int64) { separate(); CanonicalJSON.writeInt(i, into: &bytes) }
    /// An integer value.
    public mutating func int(_ i: Int) { int(Int64(i)) }
    /// A boolean value.
    public mutating func bool(_ b: Bool) { separate(); bytes.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8)) }
    /// `null`.
    public mutating func null() { separate(); bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }
    /// A whole value, written canonically (its object keys are sorted here).
    public mutating func value(_ v: JSONValue) { separate(); CanonicalJSON.write(v, into: &bytes) }
    /// An optional integer, null when absent.
    public mutating func int(_ i: Int64?) { if let i { int(i) } else { null() } }
    /// An optional string, null when absent.
    public mutating func string(_ s: String?) { if let s { string(s) } else { null() } }
    /// An array of strings, in the given order.
    public mutating func strings(_ ss: [String]) {
        beginArray()
        for s in ss { string(s) }
        endArray()
    }
}

/// Why bytes are not JSON, with the byte offset.
public struct JSONParseError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

/// A strict RFC 8259 parser into `JSONValue`: rejects duplicate keys, invalid UTF-8,
/// trailing bytes and nesting deeper than `depthMax`. Numbers without a fraction or
/// exponent are integers (and must fit in Int64).
public struct JSONParser {
    /// Deepest nesting accepted; IR documents nest about 20 levels per sub-workflow.
    public static let depthMax = 512

    let bytes: [UInt8]
    var pos = 0
    /// Numbers beyond Int64 and Double are kept as the nearest `float` instead of refused.
    var wideNumbers = false

    /// Parses a whole document. With `wideNumbers`, a number no field is expected to hold
    /// exactly (JSON sets no range: a client's 20-digit process id, `1e400`) becomes the
    /// nearest finite `float` rather than failing the whole document (the language server
    /// reads its messages so; the IR and journals stay strict).
    public static func parse(_ bytes: [UInt8], wideNumbers: Bool = false) throws(JSONParseError) -> JSONValue {
        var p = JSONParser(bytes: bytes, wideNumbers: wideNumbers)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.pos != bytes.count { throw p.fail("unexpected bytes after the document") }
        return v
    }

    func fail(_ m: String) -> JSONParseError { JSONParseError(offset: pos, message: m) }

    mutating func skipSpace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
    }

    mutating func literal(_ word: String, _ v: JSONValue) throws(JSONParseError) -> JSONValue {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else { throw fail("invalid literal") }
        pos += w.count
        return v
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < Self.depthMax else { throw fail("nesting deeper than \(Self.depthMax)") }
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var members: [(String, JSONValue)] = []
            var seen: Set<String> = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            while true {
                skipSpace()
                guard pos < bytes.count else { throw fail("unexpected end of input") }
                guard bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let keyAt = pos
                let k = try string()
                let dup = members.count < 16 ? members.contains { $0.0 == k } : !seen.insert(k).inserted
                if members.count == 15 { for (mk, _) in members { seen.insert(mk) }; seen.insert(k) }
                guard !dup else { throw JSONParseError(offset: keyAt, message: "duplicate key \"\(k)\"") }
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected `:`") }
                pos += 1
                skipSpace()
                members.append((k, try value(depth: depth + 1)))
                skipSpace()
                guard pos < bytes.count else { throw fail("unexpected end of input") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                throw fail("expected `,` or `}`")
            }
        case UInt8(ascii: "["):
            pos += 1
            var items: [JSONValue] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard pos < bytes.count else { throw fail("unexpected end of input") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                throw fail("expected `,` or `]`")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character")
        }
    }

    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        func digits() -> Int {
            let s = pos
            while pos < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[pos]) { pos += 1 }
            return pos - s
        }
        let intStart = pos
        let n = digits()
        guard n > 0 else { throw fail("expected digits") }
        if n > 1 && bytes[intStart] == UInt8(ascii: "0") { throw JSONParseError(offset: intStart, message: "leading zero") }
        var isFloat = false
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard digits() > 0 else { throw fail("expected digits after `.`") }
            isFloat = true
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard digits() > 0 else { throw fail("expected exponent digits") }
            isFloat = true
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if !isFloat, let i = Int64(text) { return .int(i) }
        if let d = Double(text), d.isFinite, isFloat || wideNumbers { return .float(d) }
        guard wideNumbers else {
            throw JSONParseError(offset: start, message: isFloat ? "number out of range" : "integer does not fit in 64 bits")
        }
        return .float(text.hasPrefix("-") ? -Double.greatestFiniteMagnitude : .greatestFiniteMagnitude)
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("bad hex digit in \\u escape")
            }
            v = v * 16 + d
            pos += 1
        }
        return v
    }

    mutating func string() throws(JSONParseError) -> String {
        pos += 1  // opening quote
        // Fast path: no escapes, so the string is a slice of the input.
        var end = pos
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            let s = bytes.withUnsafeBufferPointer { String(validating: UnsafeBufferPointer(rebasing: $0[pos..<end]), as: UTF8.self) }
            guard let s else { throw fail("invalid UTF-8 in string") }
            pos = end + 1
            return s
        }
        var buf: [UInt8] = []
        var plainStart = pos
        while true {
            guard pos < bytes.count else { throw fail("unterminated string") }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                buf.append(contentsOf: bytes[plainStart..<pos])
                pos += 1
                break
            }
            if b < 0x20 { throw fail("control character in string") }
            if b != UInt8(ascii: "\\") { pos += 1; continue }
            buf.append(contentsOf: bytes[plainStart..<pos])
            pos += 1
            guard pos < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): buf.append(0x22)
            case UInt8(ascii: "\\"): buf.append(0x5C)
            case UInt8(ascii: "/"): buf.append(0x2F)
            case UInt8(ascii: "b"): buf.append(0x08)
            case UInt8(ascii: "f"): buf.append(0x0C)
            case UInt8(ascii: "n"): buf.append(0x0A)
            case UInt8(ascii: "r"): buf.append(0x0D)
            case UInt8(ascii: "t"): buf.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate")
                    }
                    pos += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw fail("unpaired surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                buf.append(contentsOf: String(Character(u)).utf8)
            default: throw fail("invalid escape")
            }
            plainStart = pos
        }
        guard let s = String(validating: buf, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
        return s
    }
}
