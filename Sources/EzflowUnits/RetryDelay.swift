// The un-jittered delay of a retry rule, the one formula the runtime's `Plan` (when the
// retry is due) and the checker's deadline and budget proofs (the worst case) share.

/// A retry rule's backoff schedule: `fixed` d, `linear` d·n, `exponential` d·factor^(n-1),
/// each capped by `max_delay`.
public enum RetryDelay {
    /// The factor of `exponential` when the rule gives none, in parts per million (2).
    public static let defaultFactorPPM: Int64 = 2_000_000

    /// The delay after failed attempt `n` (1-based). `kind`: `fixed`, `linear` or
    /// `exponential`; `factorPPM`: the exponential base in parts per million (≥ 1);
    /// `maxDelayMs` < 0: no cap. Saturates at `Int64.max`; each exponential step rounds
    /// down to the millisecond, so `factor: 2` gives exactly d·2^(n-1).
    public static func ms(kind: String, delayMs d: Int64, failedAttempt n: Int, factorPPM: Int64 = defaultFactorPPM,
                          maxDelayMs cap: Int64 = -1) -> Int64 {
        var v: Int64
        switch kind {
        case "linear": v = Reservation.mul(d, Int64(n))
        case "exponential":
            v = d
            let f = max(factorPPM, 1_000_000)
            var k = 1
            while k < n && v > 0 && (cap < 0 || v < cap) && v < Int64.max {
                let (hi, lo) = v.multipliedFullWidth(by: f)
                if hi >= 500_000 { v = Int64.max; break }  // past Int64.max once divided by 1e6
                let (q, _) = Int64(1_000_000).dividingFullWidth((hi, lo))
                v = q
                k += 1
            }
        default: v = d
        }
        if cap >= 0 { v = min(v, cap) }
        return v
    }
}
