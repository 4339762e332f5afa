// Removes secret values from text before it reaches a log line, a journal record, a
// summary, an error message or a task output. Every value the `SecretResolver` resolves
// is registered here together with its common encodings (base64, base64url, URL/percent
// encoding, form encoding, JSON string escaping), each replaced by `[REDACTED:name]`.
// Drivers do not call it: they hand raw results to the runner's `JournalWriter`, the one
// place records are redacted before they are stored.
import EzflowIR
import EzflowRuntime
import Foundation
import Synchronization

/// A thread-safe set of secret values to scrub from text. One per run, shared by the
/// secret resolver (which adds values) and everything that writes text out.
public final class Redactor: Sendable {
    struct Pattern: Sendable {
        var bytes: [UInt8]
        var replacement: [UInt8]
    }

    /// Patterns sorted longest first, so a secret containing another is replaced whole.
    private let patterns = Mutex<[Pattern]>([])

    public init() {}

    /// Values shorter than this are not redacted (they would match everywhere); the
    /// resolver still hands them to tasks.
    public static let minimumLength = 3

    /// Registers a secret value under `name`.
    public func add(name: String, value: String) {
        guard value.utf8.count >= Self.minimumLength else { return }
        let replacement = Array("[REDACTED:\(name)]".utf8)
        var forms = Set(Self.encodings(of: value).map { Array($0.utf8) })
        forms = forms.filter { $0.count >= Self.minimumLength }
        patterns.withLock { ps in
            for f in forms where !ps.contains(where: { $0.bytes == f }) {
                ps.append(Pattern(bytes: f, replacement: replacement))
            }
            ps.sort { $0.bytes.count > $1.bytes.count }
        }
    }

    /// Number of registered patterns (a value and its distinct encodings).
    public var patternCount: Int { patterns.withLock { $0.count } }

    /// The forms a value is commonly found in: raw, base64 (padded and not), base64url,
    /// percent-encoded (RFC 3986 unreserved kept), form-encoded, JSON-escaped.
    static func encodings(of value: String) -> [String] {
        var out = [value]
        let b64 = Data(value.utf8).base64EncodedString()
        let unpadded = String(b64.reversed().drop { $0 == "=" }.reversed())
        out += [b64, unpadded]
        out.append(unpadded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
        var unreserved = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        unreserved.insert(charactersIn: "-._~")
        if let pct = value.addingPercentEncoding(withAllowedCharacters: unreserved) {
            out.append(pct)
            out.append(pct.replacingOccurrences(of: "%20", with: "+"))
            // Lowercase hex digits in escapes, as some encoders write them.
            out.append(Self.lowercaseEscapes(pct))
        }
        let json = String(decoding: CanonicalJSON.encode(.string(value)), as: UTF8.self).dropFirst().dropLast()
        out.append(String(json))
        out.append(json.replacingOccurrences(of: "/", with: "\\/"))
        return out
    }

    static func lowercaseEscapes(_ s: String) -> String {
        var out: [UInt8] = []
        var esc = 0
        for b in s.utf8 {
            if b == UInt8(ascii: "%") { esc = 2; out.append(b); continue }
            if esc > 0, (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(b) { out.append(b + 32) } else { out.append(b) }
            esc = max(0, esc - 1)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` with every registered value replaced by `[REDACTED:name]`.
    public func redact(_ text: String) -> String {
        let ps = patterns.withLock { $0 }
        if ps.isEmpty { return text }
        let bytes = Array(text.utf8)
        guard let out = Self.replace(bytes, ps) else { return text }
        return String(decoding: out, as: UTF8.self)
    }

    /// Shortest part of a value that counts as a leak where text was cut.
    public static let minimumPartLength = 4

    /// `redact(text)` for text a driver may have cut (a capture at its cap, a body at the
    /// log limit, a stderr tail or body excerpt in a message): a value cut short at either
    /// end of the text is replaced too, and with `marks`, one cut short next to a `…` (the
    /// first and last few: a driver's cut leaves one), so no part of a secret survives.
    public func redactCut(_ text: String, marks: Bool = false) -> String {
        let ps = patterns.withLock { $0 }
        if ps.isEmpty { return text }
        var bytes = Array(redact(text).utf8)
        var ends = [bytes.count], starts = [0]
        if marks {
            var found: [Int] = []
            var i = 0
            while i + 3 <= bytes.count {
                if bytes[i] == 0xE2 && bytes[i + 1] == 0x80 && bytes[i + 2] == 0xA6 { found.append(i); i += 3 } else { i += 1 }
            }
            for m in found.count <= 8 ? found : Array(found.prefix(4) + found.suffix(4)) {
                ends.append(m)
                starts.append(m + 3)
            }
        }
        var cuts = ends.compactMap { Self.part(of: ps, in: bytes, endingAt: $0) }
        cuts += starts.compactMap { Self.part(of: ps, in: bytes, startingAt: $0) }
        guard !cuts.isEmpty else { return String(decoding: bytes, as: UTF8.self) }
        // Right to left, so earlier ranges stay valid; an overlapping one is already gone.
        var last = Int.max
        for (r, rep) in cuts.sorted(by: { $0.0.lowerBound > $1.0.lowerBound }) where r.upperBound <= last {
            bytes.replaceSubrange(r, with: rep)
            last = r.lowerBound
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The longest start of a value (not all of it) that ends at `end`.
    static func part(of ps: [Pattern], in b: [UInt8], endingAt end: Int) -> (Range<Int>, [UInt8])? {
        var best: (Range<Int>, [UInt8])?
        for p in ps {
            var k = min(p.bytes.count - 1, end)
            while k >= minimumPartLength, k > (best?.0.count ?? 0) {
                if b[(end - k)..<end].elementsEqual(p.bytes[0..<k]) { best = ((end - k)..<end, p.replacement); break }
                k -= 1
            }
        }
        return best
    }

    /// The longest end of a value (not all of it) that starts at `start`.
    static func part(of ps: [Pattern], in b: [UInt8], startingAt start: Int) -> (Range<Int>, [UInt8])? {
        var best: (Range<Int>, [UInt8])?
        for p in ps {
            var k = min(p.bytes.count - 1, b.count - start)
            while k >= minimumPartLength, k > (best?.0.count ?? 0) {
                if b[start..<(start + k)].elementsEqual(p.bytes[(p.bytes.count - k)...]) { best = (start..<(start + k), p.replacement); break }
                k -= 1
            }
        }
        return best
    }

    /// Byte form of `redact(_:)` (captured output before decoding).
    public func redact(bytes: [UInt8]) -> [UInt8] {
        let ps = patterns.withLock { $0 }
        if ps.isEmpty { return bytes }
        return Self.replace(bytes, ps) ?? bytes
    }

    /// `redact(text)` (`redactCut` with `cut`) for text that may be a JSON document, such
    /// as a task's stdout: a secret an escape hides from the byte patterns (`\u0041`) is
    /// whole in the parsed strings, and such a document is stored re-encoded, redacted.
    /// Only text that starts like a document and has a backslash is parsed.
    public func redactDocument(_ text: String, cut: Bool = false) -> String {
        if patterns.withLock({ $0.isEmpty }) { return text }
        let direct = cut ? redactCut(text) : redact(text)
        guard text.utf8.contains(UInt8(ascii: "\\")),
              let first = text.utf8.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
              first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
              let value = try? JSONParser.parse(Array(text.utf8)) else { return direct }
        if let after = try? JSONParser.parse(Array(direct.utf8)), redactValue(after) == after { return direct }
        return String(decoding: CanonicalJSON.encode(redactValue(value)), as: UTF8.self) + (text.hasSuffix("\n") ? "\n" : "")
    }

    /// A JSON value with every string (and object key) redacted; a string that is itself
    /// a JSON document (an implicit `stdout` output) as `redactDocument` does.
    public func redact(_ value: JSONValue) -> JSONValue {
        if patterns.withLock({ $0.isEmpty }) { return value }
        return redactValue(value)
    }

    private func redactValue(_ v: JSONValue) -> JSONValue {
        switch v {
        case .string(let s): return .string(redactDocument(s))
        case .array(let a): return .array(a.map(redactValue))
        case .object(let m): return .object(m.map { (redact($0.0), redactValue($0.1)) })
        case .raw(let b): return .raw(redact(bytes: b))
        case .int, .float:
            // Parsed from raw output, a numeric secret (a PIN) is a number: it becomes
            // the redacted text, as it would have in the bytes.
            let text = String(decoding: CanonicalJSON.encode(v), as: UTF8.self)
            let r = redact(text)
            return r == text ? v : .string(r)
        case .null, .bool: return v
        }
    }

    /// Replaces all patterns (longest first) in one left-to-right pass; nil if nothing matched.
    static func replace(_ s: [UInt8], _ ps: [Pattern]) -> [UInt8]? {
        // First bytes that may start a match, for a fast skip.
        var starts = [Bool](repeating: false, count: 256)
        for p in ps { starts[Int(p.bytes[0])] = true }
        var out: [UInt8] = []
        var copied = 0, i = 0
        let n = s.count
        var matched = false
        s.withUnsafeBufferPointer { sb in
            while i < n {
                if !starts[Int(sb[i])] { i += 1; continue }
                var hit: Pattern?
                for p in ps where p.bytes.count <= n - i {
                    var k = 0
                    let pc = p.bytes.count
                    p.bytes.withUnsafeBufferPointer { pb in
                        while k < pc && sb[i + k] == pb[k] { k += 1 }
                    }
                    if k == pc { hit = p; break }
                }
                if let p = hit {
                    if !matched { matched = true; out.reserveCapacity(n) }
                    out.append(contentsOf: sb[copied..<i])
                    out.append(contentsOf: p.replacement)
                    i += p.bytes.count
                    copied = i
                } else {
                    i += 1
                }
            }
            if matched { out.append(contentsOf: sb[copied..<n]) }
        }
        return matched ? out : nil
    }
}
