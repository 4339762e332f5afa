// Number, time and text formatting shared by the renderers. Integer arithmetic only, so
// output never depends on floating-point printing or the locale.
import EzflowIR
import EzflowUnits

public enum Format {
    /// Money by the one rule, `Units.money`: `$0.0022`, `$12.50`.
    static func money(_ micros: Int64) -> String { Units.money(micros) }

    /// Seconds with exactly three decimals (`1234` → `1.234`), as JUnit `time` expects.
    static func seconds3(_ ms: Int64) -> String {
        let m = max(0, ms)
        let f = String(m % 1000)
        return String(m / 1000) + "." + String(repeating: "0", count: 3 - f.count) + f
    }

    /// Human duration: `350ms`, `1.2s`, `2m03s`, `1h02m`.
    static func duration(_ ms: Int64) -> String {
        let m = max(0, ms)
        if m < 1000 { return "\(m)ms" }
        if m < 60_000 {
            let tenths = (m + 50) / 100
            if tenths < 600 { return "\(tenths / 10).\(tenths % 10)s" }
        }
        let s = (m + 500) / 1000
        if s < 3600 { return "\(s / 60)m" + pad2(s % 60) + "s" }
        return "\(s / 3600)h" + pad2((s % 3600) / 60) + "m"
    }

    /// Elapsed time in whole seconds, for a line redrawn every second: `0s`, `59s`,
    /// `1m02s`, `1h02m`.
    static func elapsed(_ ms: Int64) -> String {
        let s = max(0, ms) / 1000
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" + pad2(s % 60) + "s" }
        return "\(s / 3600)h" + pad2((s % 3600) / 60) + "m"
    }

    /// `1234567` → `1,234,567`.
    static func grouped(_ n: Int64) -> String { (n < 0 ? "-" : "") + Units.grouped(n.magnitude) }

    static func pad2(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// RFC 3339 UTC with milliseconds: `2024-05-01T12:00:00.123Z` (proleptic Gregorian,
    /// days-from-civil inverse by Howard Hinnant; no Foundation date formatter, no locale).
    static func rfc3339(ms: Int64) -> String {
        let days = floorDiv(ms, 86_400_000)
        let msOfDay = ms - days * 86_400_000
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let mo = mp < 10 ? mp + 3 : mp - 9
        if mo <= 2 { y += 1 }
        let h = msOfDay / 3_600_000, mi = (msOfDay / 60_000) % 60, s = (msOfDay / 1000) % 60, milli = msOfDay % 1000
        var year = String(y)
        if y >= 0 && y < 1000 { year = String(repeating: "0", count: 4 - year.count) + year }
        let ms3 = milli < 10 ? "00\(milli)" : milli < 100 ? "0\(milli)" : "\(milli)"
        return "\(year)-\(pad2(mo))-\(pad2(d))T\(pad2(h)):\(pad2(mi)):\(pad2(s)).\(ms3)Z"
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// The last `maxLines` lines / `maxBytes` UTF-8 bytes of `s` (stderr tails).
    static func tail(_ s: String, maxLines: Int = 40, maxBytes: Int = 4000) -> String {
        var lines = s.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        var out = lines.suffix(maxLines).joined(separator: "\n")
        if out.utf8.count > maxBytes {
            let bytes = Array(out.utf8).suffix(maxBytes)
            // Cut at a character boundary: drop leading continuation bytes.
            out = String(decoding: bytes.drop(while: { $0 & 0xC0 == 0x80 }), as: UTF8.self)
        }
        return out
    }

    /// `s` cut to `width` characters, ending in `...` when cut.
    static func truncate(_ s: String, _ width: Int) -> String {
        guard width > 0 else { return "" }
        guard s.count > width else { return s }
        if width <= 3 { return String(s.prefix(width)) }
        return String(s.prefix(width - 3)) + "..."
    }

    /// Removes C0/C1 control characters except tab and newline (terminals, XML, logs),
    /// dropping whole ANSI CSI sequences (`ESC [ params final`) so colour codes leave no
    /// `[31m` residue. Without `keepNewlines`, newlines become spaces.
    public static func stripControls(_ s: String, keepNewlines: Bool = true) -> String {
        var out = String.UnicodeScalarView()
        var it = s.unicodeScalars.makeIterator()
        while let u = it.next() {
            let v = u.value
            if v == 0x1B {
                var peek = it
                if peek.next() == "[" {
                    it = peek
                    while let c = it.next(), !(c.value >= 0x40 && c.value <= 0x7E) {}
                }
                continue
            }
            if v == 0x0A { out.append(keepNewlines ? u : " "); continue }
            if v == 0x09 { out.append(u); continue }
            if v < 0x20 || (v >= 0x7F && v < 0xA0) { continue }
            out.append(u)
        }
        return String(out)
    }
}

/// Applies `redact` to every string inside a JSON value (keys are workflow-defined
/// names and are kept).
func redactJSON(_ v: JSONValue, _ redact: (String) -> String) -> JSONValue {
    switch v {
    case .string(let s): return .string(redact(s))
    case .array(let items): return .array(items.map { redactJSON($0, redact) })
    case .object(let members): return .object(members.map { ($0.0, redactJSON($0.1, redact)) })
    case .raw(let bytes):
        // Raw canonical bytes never come from agents, but redact them as parsed JSON to be safe.
        if let parsed = try? JSONParser.parse(bytes) { return redactJSON(parsed, redact) }
        return .null
    default: return v
    }
}

/// Builds JSON objects without repeating `(String, JSONValue)` tuples; keys are
/// sorted by the canonical writer.
struct JSONObject {
    var members: [(String, JSONValue)] = []
    mutating func set(_ k: String, _ v: JSONValue) { members.append((k, v)) }
    mutating func set(_ k: String, _ s: String?) { members.append((k, s.map { .string($0) } ?? .null)) }
    mutating func set(_ k: String, _ i: Int64?) { members.append((k, i.map { .int($0) } ?? .null)) }
    mutating func set(_ k: String, _ i: Int) { members.append((k, .int(Int64(i)))) }
    var value: JSONValue { .object(members) }
}
