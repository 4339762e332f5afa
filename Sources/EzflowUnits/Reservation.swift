/// What one attempt reserves before it is dispatched: the runtime's `Plan` reserves it and
/// the checker's budget proofs add it up, so both read this one function and the figures
/// in `ezc check`'s notes are the runtime's own.
public enum Reservation {
    /// An agent's prices, in micro-dollars.
    public struct Rates: Sendable, Equatable {
        public var perCallMicros: Int64
        public var perSecondMicros: Int64
        public var per1kTokensMicros: Int64
        /// Per 1k input (prompt) and output (answer) tokens of the attempt's model, on top
        /// of `per1kTokensMicros`.
        public var per1kInputMicros: Int64
        public var per1kOutputMicros: Int64
        public init(perCallMicros: Int64, perSecondMicros: Int64, per1kTokensMicros: Int64, per1kInputMicros: Int64 = 0,
                    per1kOutputMicros: Int64 = 0) {
            self.perCallMicros = perCallMicros
            self.perSecondMicros = perSecondMicros
            self.per1kTokensMicros = per1kTokensMicros
            self.per1kInputMicros = per1kInputMicros
            self.per1kOutputMicros = per1kOutputMicros
        }

        /// Whether the model prices input and output tokens apart.
        public var split: Bool { per1kInputMicros > 0 || per1kOutputMicros > 0 }
        /// Whether any token costs money.
        public var pricesTokens: Bool { per1kTokensMicros > 0 || split }
    }

    /// Money one attempt reserves: `max_cost` when given; else nothing without an agent
    /// (the shell runs it); else the agent's per-call price + per-second price × the
    /// timeout in whole seconds, rounded up + its token prices: per-1k-tokens price ×
    /// (`promptTokens` + `maxTokens`) in whole thousands, rounded up; with input/output
    /// prices, (per-1k + input price) × the prompt's whole thousands + (per-1k + output
    /// price) × `maxTokens`' (the answer's cap). The driver charges input × input price +
    /// output × output price rounded up once, and input ≤ the prompt's bound, output ≤ the
    /// answer's cap (else it fails the attempt `cap_exceeded`), so this bounds the charge.
    /// A missing timeout or `max_tokens` counts as 0 (see `bounded`). Saturates at
    /// `Int64.max`.
    public static func moneyMicros(maxCostMicros: Int64?, agent: Rates?, timeoutMs: Int64?, maxTokens: Int64?,
                                   promptTokens: Int64 = 0) -> Int64 {
        if let c = maxCostMicros, c >= 0 { return c }
        guard let a = agent else { return 0 }
        var c = a.perCallMicros
        c = add(c, mul(a.perSecondMicros, wholeUnits(timeoutMs ?? 0)))
        let answer = max(0, maxTokens ?? 0), prompt = max(0, promptTokens)
        if a.split {
            c = add(c, mul(add(a.per1kTokensMicros, a.per1kInputMicros), wholeUnits(prompt)))
            c = add(c, mul(add(a.per1kTokensMicros, a.per1kOutputMicros), wholeUnits(answer)))
        } else {
            c = add(c, mul(a.per1kTokensMicros, wholeUnits(add(prompt, answer))))
        }
        return c
    }

    /// The most answer tokens `moneyMicros` can reserve within `moneyMicros` for a prompt of
    /// `promptTokens`, in whole thousands: `⌊(money − fixed prices − the prompt's price) /
    /// the answer's price per 1k⌋ × 1000`; nil when tokens cost nothing.
    public static func answerTokens(affordable money: Int64, agent a: Rates, timeoutMs: Int64?, promptTokens: Int64) -> Int64? {
        guard a.pricesTokens else { return nil }
        let perAnswer = a.split ? add(a.per1kTokensMicros, a.per1kOutputMicros) : a.per1kTokensMicros
        guard perAnswer > 0 else { return nil }
        let promptOnly = moneyMicros(maxCostMicros: nil, agent: a, timeoutMs: timeoutMs, maxTokens: 0, promptTokens: promptTokens)
        let left = money - promptOnly
        guard left > 0 else { return 0 }
        // Without split prices the prompt's last partial thousand is paid for already:
        // the answer may fill it for free.
        let free = a.split ? 0 : wholeUnits(promptTokens) * 1000 - max(0, promptTokens)
        return add(mul(left / perAnswer, 1000), free)
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
        if a.pricesTokens && (maxTokens ?? 0) <= 0 { return false }
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
