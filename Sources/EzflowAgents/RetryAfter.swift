// How long a server asks a client to wait before trying again: `retry-after-ms`
// (milliseconds, as OpenAI's and Anthropic's SDKs read it) or `Retry-After` (RFC 9110:
// delta-seconds or an HTTP-date). Read on 429, 503 and 529 answers only; an HTTP-date
// is turned into a wait against the wall clock here, in the driver, so the journal holds
// milliseconds and the core never needs a clock (docs/DRIVERS.md, "Retry-After").
import Foundation

/// `Retry-After` and `retry-after-ms` as a wait in milliseconds.
public enum RetryAfter {
    /// The statuses whose answer may carry a wait worth honouring.
    public static let statuses: Set<Int> = [429, 503, 529]
    /// A longer wait is read as this one (a day): it is past any deadline worth having,
    /// and keeps arithmetic on it far from overflow.
    public static let maxMs: Int64 = 86_400_000

    /// The wait in `headers` (names lowercased) of an answer with `status`, at wall-clock
    /// time `now`; nil: another status, no header, or one that does not parse.
    public static func ms(status: Int, headers: [String: String], now: Date = Date()) -> Int64? {
        guard statuses.contains(status) else { return nil }
        if let v = headers["retry-after-ms"], let ms = Double(v.trimmingCharacters(in: .whitespaces)), ms.isFinite, ms >= 0 {
            return clamp(ms.rounded(.up))
        }
        guard let v = headers["retry-after"]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        if v.allSatisfy(\.isASCII), let s = Int64(v), s >= 0 { return clamp(Double(s) * 1000) }
        guard let date = httpDate(v) else { return nil }
        return clamp((date.timeIntervalSince(now) * 1000).rounded(.up))
    }

    static func clamp(_ ms: Double) -> Int64 { ms <= 0 ? 0 : ms >= Double(maxMs) ? maxMs : Int64(ms) }

    /// An HTTP-date in any of RFC 9110's three forms (IMF-fixdate, RFC 850, asctime), GMT.
    static func httpDate(_ s: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "GMT")
            f.dateFormat = format
            if let d = f.date(from: s) { return d }
        }
        return nil
    }
}
