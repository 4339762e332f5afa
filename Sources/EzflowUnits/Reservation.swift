/// What one attempt reserves before it is dispatched: the runtime's `Plan` reserves it and
/// the checker's budget proofs add it up, so both read this one function and the figures
/// in `ezc check`'s notes are the runtime's own.
public enum Reservation {
    /// An agent's prices, in micro-dollars.
    public struct Rates: Sendable, Equatable {
        public var perCallMicros: Int64
        public var perSecondMicros: Int64
        public var per1kTokensMicros: Int64
        public init(perCallMicros: Int64, perSecondMicros: Int64, per1kTokensMicros: Int64) {
            self.perCallMicros = perCallMicros
            self.perSecondMicros = perSecondMicros
            self.per1kTokensMicros = per1kTokensMicros
        }
    }

    /// Money one attempt reserves: `max_cost` when given; else nothing without an agent
    /// (the shell runs it); else the agent's per-call price + per-second price × the
    /// timeout in whole seconds, rounded up + per-1k-tokens price × `max_tokens` in whole
    /// thousands, rounded up. A missing timeout or `max_tokens` counts as 0 (see
    /// `bounded`). Saturates at `Int64.max`.
    public static func moneyMicros(maxCostMicros: Int64?, agent: Rates?, timeoutMs: Int64?, maxTokens: Int64?) -> Int64 {
        if let c = maxCostMicros, c >= 0 { return c }
        guard let a = agent else { return 0 }
        var c = a.perCallMicros
        c = add(c, mul(a.perSecondMicros, wholeUnits(timeoutMs ?? 0)))
        if let t = maxTokens, t > 0 { c = add(c, mul(a.per1kTokensMicros, wholeUnits(t))) }
        return c
    }

    /// Tokens one attempt reserves: `max_tokens`, else 0.
    public static func tokens(maxTokens: Int64?) -> Int64 { max(0, maxTokens ?? 0) }

    /// Whether `moneyMicros` caps what the attempt can be charged: false when the agent
    /// bills per second without a timeout, or per token without `max_tokens` (the
    /// reservation then leaves that part out and only the run's overrun check stops it).
    public static func bounded(maxCostMicros: Int64?, agent: Rates?, timeoutMs: Int64?, maxTokens: Int64?) -> Bool {
        if let c = maxCostMicros, c >= 0 { return true }
        guard let a = agent else { return true }
        if a.perSecondMicros > 0 && (timeoutMs ?? 0) <= 0 { return false }
        if a.per1kTokensMicros > 0 && (maxTokens ?? 0) <= 0 { return false }
        return true
    }

    /// `n / 1000`, rounded up: the whole seconds of a timeout in milliseconds, the whole
    /// thousands of a token count, as the reservation counts them.
    public static func wholeUnits(_ n: Int64) -> Int64 { n <= 0 ? 0 : (n - 1) / 1000 + 1 }

    /// `a + b`, `Int64.max` on overflow: budgets, reservations and charges saturate.
    public static func add(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? Int64.max : r
    }

    /// `a × b`, `Int64.max` on overflow.
    public static func mul(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? Int64.max : r
    }
}
