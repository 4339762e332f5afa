/// The proven bounds of one limit: money, tokens or time of one budget, or the deadline.
/// Figures are in IR units (micro-dollars, tokens, milliseconds).
public struct BudgetBound: Sendable, Equatable {
    public enum Dimension: String, Sendable { case money, tokens, time, deadline }
    public var dimension: Dimension
    public var limit: Int64
    /// Everything that may run under the limit, each attempt at what the runtime reserves
    /// for it (time: the longest chain of worst task times). When `unknown` is not empty
    /// this counts only what is known: the worst case is at least this.
    public var worst: Int64
    /// The arithmetic of `worst`, e.g. "3 tasks × 3 attempts × $20 = $180".
    public var worstWhy: String
    /// Which tasks or path make `worst`, one line each.
    public var worstDetail: [String]
    /// What must be reserved or spent even when every attempt succeeds the first time and
    /// no fallback runs (time: 0, ezflow knows no minimum duration).
    public var best: Int64
    public var bestWhy: String
    /// What the worst case could not count, one line each.
    public var unknown: [String]
    public var strict: Bool
}

/// The bounds of one budget (or of the deadline) of a workflow, for `--explain-budget`.
public struct BudgetProof: Sendable, Equatable {
    /// "the workflow", "group `x`", "task `y`".
    public var scope: String
    public var bounds: [BudgetBound]
}

extension BudgetProof {
    /// The stable plain-text report of `ezc check --explain-budget`.
    public static func render(workflow: String, _ proofs: [BudgetProof]) -> String {
        var out = "workflow `\(workflow)`\n"
        if proofs.isEmpty { return out + "  no budget and no deadline\n" }
        for p in proofs {
            for b in p.bounds {
                let what = b.dimension == .deadline ? "deadline" : "\(p.scope) \(b.dimension.rawValue)"
                out += "  \(what): limit \(fmt(b.limit, b.dimension))\(b.strict ? " (strict)" : "")\n"
                let verdict = b.best > b.limit ? "over: the run cannot succeed"
                    : b.worst > b.limit ? (b.unknown.isEmpty ? "over" : "over, at least") : b.unknown.isEmpty ? "fits" : "fits what is known"
                out += "    worst: \(fmt(b.worst, b.dimension)) — \(verdict)\n"
                out += "      \(b.worstWhy)\n"
                for d in b.worstDetail { out += "      \(d)\n" }
                for u in b.unknown { out += "      not counted: \(u)\n" }
                out += "    best: \(fmt(b.best, b.dimension))\(b.best > b.limit ? " — over" : "")\n"
                out += "      \(b.bestWhy)\n"
            }
        }
        return out
    }

    static func fmt(_ v: Int64, _ d: BudgetBound.Dimension) -> String {
        switch d {
        case .money: fmtMoney(v)
        case .tokens: fmtTokens(v)
        case .time, .deadline: fmtDuration(v)
        }
    }
}
