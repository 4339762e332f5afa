// Durations (milliseconds), money (micro-dollars) and token counts: the one place their
// text is parsed and printed (a count with its noun is `Units.counted`, Counted.swift).
// Integer arithmetic with overflow checks only, so no input can trap and no output
// depends on floating-point printing or the locale.

/// Parsing and printing of ezflow's unit values.
public enum Units {
    /// Duration suffixes and their size in milliseconds, largest first.
    public static let durationUnits: [(suffix: String, ms: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// Token magnitudes (`200k tokens`, `2M tokens`).
    public static let tokenMagnitudes: [(suffix: String, factor: Int64)] = [("M", 1_000_000), ("k", 1_000)]

    /// The size in milliseconds of a duration suffix given as UTF-8 bytes (`ms` → 1), or nil.
    @inlinable
    public static func durationFactor(_ suffix: some Collection<UInt8>) -> Int64? {
        switch suffix.count {
        case 1:
            switch suffix.first! {
            case UInt8(ascii: "s"): return 1_000
            case UInt8(ascii: "m"): return 60_000
            case UInt8(ascii: "h"): return 3_600_000
            case UInt8(ascii: "d"): return 86_400_000
            default: return nil
            }
        case 2: return suffix.elementsEqual("ms".utf8) ? 1 : nil
        default: return nil
        }
    }

    /// Digits with optional `_` separators and at most one `.` as an exact decimal:
    /// the integer value and the number of fraction digits. nil on overflow or on
    /// anything else.
    @inlinable
    public static func decimal(_ bytes: some Collection<UInt8>) -> (value: Int64, scale: Int)? {
        var v: Int64 = 0
        var scale = 0
        var seenDot = false
        var digits = 0
        for c in bytes {
            if c == UInt8(ascii: "_") { continue }
            if c == UInt8(ascii: ".") {
                if seenDot { return nil }
                seenDot = true
                continue
            }
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (n, o2) = m.addingReportingOverflow(Int64(c - 0x30))
            if o1 || o2 { return nil }
            v = n
            digits += 1
            if seenDot { scale += 1 }
        }
        return digits == 0 ? nil : (v, scale)
    }

    /// Scales an exact decimal by `factor / 10^scale`; nil if not whole or overflowing.
    @inlinable
    public static func scaled(_ d: (value: Int64, scale: Int), by factor: Int64) -> Int64? {
        var (v, o) = d.value.multipliedReportingOverflow(by: factor)
        if o { return nil }
        for _ in 0..<d.scale {
            if v % 10 != 0 { return nil }
            v /= 10
        }
        return v
    }

    // MARK: - parsing text (run inputs, the CLI)

    /// `90s`, `1h30m`, `250ms`, `1.5s`; a bare integer is milliseconds. nil when malformed,
    /// not a whole number of milliseconds, or beyond 64 bits.
    public static func parseDuration(_ s: String) -> Int64? {
        let bytes = Array(s.utf8)
        if !bytes.isEmpty, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 || $0 == UInt8(ascii: "_") }) {
            return decimal(bytes)?.value
        }
        var total: Int64 = 0
        var i = 0
        while i < bytes.count {
            let numStart = i
            while i < bytes.count, isNumberByte(bytes[i]) { i += 1 }
            let unitStart = i
            while i < bytes.count, !isNumberByte(bytes[i]) { i += 1 }
            guard let d = decimal(bytes[numStart..<unitStart]), let f = durationFactor(bytes[unitStart..<i]),
                  let part = scaled(d, by: f) else { return nil }
            let (sum, o) = total.addingReportingOverflow(part)
            if o { return nil }
            total = sum
        }
        return bytes.isEmpty ? nil : total
    }

    /// `$2.50`, `2.50`, `$10`: at most six decimals. nil when malformed or beyond 64 bits.
    public static func parseMoney(_ s: String) -> Int64? {
        var bytes = Substring(s).utf8[...]
        if bytes.first == UInt8(ascii: "$") { bytes = bytes.dropFirst() }
        guard let d = decimal(bytes), d.scale <= 6 else { return nil }
        return scaled(d, by: 1_000_000)
    }

    /// `2000`, `200k`, `2M`, optionally followed by ` tokens`. nil when malformed or beyond 64 bits.
    public static func parseTokens(_ s: String) -> Int64? {
        var t = Substring(s)
        if t.hasSuffix(" tokens") { t = t.dropLast(7) }
        var factor: Int64 = 1
        for (suffix, f) in tokenMagnitudes where t.hasSuffix(suffix) {
            factor = f
            t = t.dropLast(suffix.count)
            break
        }
        guard let d = decimal(t.utf8) else { return nil }
        return scaled(d, by: factor)
    }

    static func isNumberByte(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") }

    // MARK: - printing

    /// A duration literal in the largest unit that divides it exactly: `90m`, `2h`,
    /// `250ms`, `-5s`; zero is `0s`.
    public static func duration(_ ms: Int64) -> String {
        if ms == 0 { return "0s" }
        for (unit, size) in durationUnits where ms % size == 0 { return "\(ms / size)\(unit)" }
        return "\(ms)ms"
    }

    /// A duration literal spelled with every unit, largest first: `1h30m`, `2m500ms`.
    public static func durationCompound(_ ms: Int64) -> String {
        if ms == 0 { return "0s" }
        var rest = ms.magnitude
        var out = ms < 0 ? "-" : ""
        for (unit, size) in durationUnits where rest >= UInt64(size) {
            out += "\(rest / UInt64(size))\(unit)"
            rest %= UInt64(size)
        }
        return out
    }

    /// Money as a source literal, exact: `$10`, `$2.50`, `$0.000001` (what `ezc fmt`, fixes
    /// and the attribute reference write; at least two decimals when any are shown).
    public static func moneyLiteral(_ micros: Int64) -> String {
        let sign = micros < 0 ? "-" : ""
        let m = micros.magnitude
        let whole = m / 1_000_000, frac = m % 1_000_000
        if frac == 0 { return "\(sign)$\(whole)" }
        var f = Array(String(frac))
        f = Array(repeating: "0", count: 6 - f.count) + f
        while f.count > 2 && f.last == "0" { f.removeLast() }
        return "\(sign)$\(whole).\(String(f))"
    }

    /// Money for people (terminal, reports, summaries, messages, proofs): the one rule
    /// (docs/RUNNING.md, "Money"). Rounded half up to three significant digits, but never
    /// to fewer than two decimals (cents) nor more than six (micro-dollars, the unit
    /// stored); zeros after the cents dropped; thousands grouped. So a non-zero amount
    /// never reads `$0.00`: `$0.00`, `$0.000001`, `$0.0022`, `$0.00125`, `$0.60`, `$4.29`,
    /// `$12.50`, `$1,234.00`.
    public static func money(_ micros: Int64) -> String {
        let m = micros.magnitude
        if m == 0 { return "$0.00" }
        let digits = String(m).count
        // Decimals that keep three significant digits: 6 - (digits - 3), within 2…6.
        let decimals = min(6, max(2, 9 - digits))
        var drop: UInt64 = 1
        for _ in 0..<(6 - decimals) { drop *= 10 }
        let q = (m + drop / 2) / drop  // half up; m ≤ 2^63, no overflow
        var unit: UInt64 = 1
        for _ in 0..<decimals { unit *= 10 }
        var f = Array(String(q % unit))
        f = Array(repeating: "0", count: decimals - f.count) + f
        while f.count > 2 && f.last == "0" { f.removeLast() }
        return (micros < 0 ? "-" : "") + "$" + grouped(q / unit) + "." + String(f)
    }

    /// `1234567` → `1,234,567`.
    public static func grouped(_ n: UInt64) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }

    /// A token count as a source literal: `2M tokens`, `200k tokens`, `1500 tokens`, `1 tokens`.
    public static func tokensLiteral(_ n: Int64) -> String {
        if n != 0 && n % 1_000_000 == 0 { return "\(n / 1_000_000)M tokens" }
        if n != 0 && n % 1_000 == 0 { return "\(n / 1_000)k tokens" }
        return "\(n) tokens"
    }

    /// A token count for people: as the literal, but `1 token`.
    public static func tokens(_ n: Int64) -> String {
        n == 1 ? counted(n, "token") : tokensLiteral(n)
    }
}
