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

    /// Byte form of `redact(_:)` (captured output before decoding).
    public func redact(bytes: [UInt8]) -> [UInt8] {
        let ps = patterns.withLock { $0 }
        if ps.isEmpty { return bytes }
        return Self.replace(bytes, ps) ?? bytes
    }

    /// A JSON value with every string (and object key) redacted.
    public func redact(_ value: JSONValue) -> JSONValue {
        if patterns.withLock({ $0.isEmpty }) { return value }
        return redactValue(value)
    }

    private func redactValue(_ v: JSONValue) -> JSONValue {
        switch v {
        case .string(let s): return .string(redact(s))
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
