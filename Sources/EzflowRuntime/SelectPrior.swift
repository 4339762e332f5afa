// What a real run's `learned` selector starts from: the attempts of the store's earlier
// runs, counted per (agent, task kind) in integers, journalled in `run_started`.
import EzflowIR

/// Per (agent name, task kind): successes, failures, and sums of latency and cost and of
/// their squares over the ended attempts of earlier runs. Integers only, so the journal
/// holds it exactly and a replay rebuilds the same `PerformancePredictor`
/// (`PerformancePredictor(prior:)`), whatever order the runs were read in.
public struct LearnedPrior: Sendable, Equatable {
    /// One (agent, kind) cell.
    public struct Entry: Sendable, Equatable {
        public var agent: String
        public var kind: String
        public var successes: Int64 = 0
        public var failures: Int64 = 0
        public var latencySumMs: Int64 = 0
        /// Saturating: a spread past 2^63 ms² reads as the largest there is.
        public var latencySumSq: Int64 = 0
        public var costSumMicros: Int64 = 0
        public var costSumSq: Int64 = 0

        public init(agent: String, kind: String) {
            self.agent = agent
            self.kind = kind
        }

        public var attempts: Int64 { successes + failures }

        mutating func add(success: Bool, latencyMs: Int64, costMicros: Int64) {
            var one = Entry(agent: agent, kind: kind)
            let l = max(0, latencyMs), c = max(0, costMicros)
            if success { one.successes = 1 } else { one.failures = 1 }
            (one.latencySumMs, one.latencySumSq) = (l, Plan.saturatingMul(l, l))
            (one.costSumMicros, one.costSumSq) = (c, Plan.saturatingMul(c, c))
            absorb(one)
        }

        /// Adds `o`'s counts and sums to this cell's.
        mutating func absorb(_ o: Entry) {
            successes += o.successes
            failures += o.failures
            latencySumMs = Plan.saturatingAdd(latencySumMs, o.latencySumMs)
            latencySumSq = Plan.saturatingAdd(latencySumSq, o.latencySumSq)
            costSumMicros = Plan.saturatingAdd(costSumMicros, o.costSumMicros)
            costSumSq = Plan.saturatingAdd(costSumSq, o.costSumSq)
        }
    }

    /// How many earlier runs were read.
    public var runs: Int
    /// Sorted by agent, then kind.
    public var entries: [Entry]

    public init(runs: Int, entries: [Entry]) {
        self.runs = runs
        self.entries = entries.sorted { ($0.agent, $0.kind) < ($1.agent, $1.kind) }
    }

    /// Counts every ended attempt on a real agent (not the shell, not a `no_agent`
    /// stall) in each run's history, keyed by agent name and task kind.
    public static func fit(_ runs: [(history: [[AttemptRecord]], plan: Plan)]) -> LearnedPrior {
        struct Key: Hashable { var agent: String; var kind: String }
        var cells: [Key: Entry] = [:]
        for run in runs {
            for (t, records) in run.history.enumerated() {
                let kind = PerformancePredictor.kind(run.plan.taskNames[t])
                for r in records where r.agent >= 0 && r.agent < run.plan.agentNames.count {
                    let k = Key(agent: run.plan.agentNames[r.agent], kind: kind)
                    cells[k, default: Entry(agent: k.agent, kind: k.kind)]
                        .add(success: r.errorClass == nil, latencyMs: r.endedAtMs - r.startedAtMs, costMicros: r.costMicros)
                }
            }
        }
        return LearnedPrior(runs: runs.count, entries: Array(cells.values))
    }

    /// The journal form: `{"entries": [...], "runs": n}`, keys in canonical order.
    func encode(into s: inout CanonicalStream) {
        s.beginObject()
        s.key("entries"); s.beginArray()
        for e in entries {
            s.beginObject()
            s.key("agent"); s.string(e.agent)
            s.key("cost_sum_micros"); s.int(e.costSumMicros)
            s.key("cost_sum_sq"); s.int(e.costSumSq)
            s.key("failures"); s.int(e.failures)
            s.key("kind"); s.string(e.kind)
            s.key("latency_sum_ms"); s.int(e.latencySumMs)
            s.key("latency_sum_sq"); s.int(e.latencySumSq)
            s.key("successes"); s.int(e.successes)
            s.endObject()
        }
        s.endArray()
        s.key("runs"); s.int(Int64(runs))
        s.endObject()
    }

    static func decode(_ v: JSONValue) throws(JournalError) -> LearnedPrior {
        let f = Fields(value: v, what: "prior")
        guard case .array(let xs) = try f.any("entries") else { throw f.err("`entries` must be an array") }
        var entries: [Entry] = []
        for x in xs {
            let g = Fields(value: x, what: "prior entry")
            var e = Entry(agent: try g.string("agent"), kind: try g.string("kind"))
            e.successes = try g.int("successes")
            e.failures = try g.int("failures")
            e.latencySumMs = try g.int("latency_sum_ms")
            e.latencySumSq = try g.int("latency_sum_sq")
            e.costSumMicros = try g.int("cost_sum_micros")
            e.costSumSq = try g.int("cost_sum_sq")
            guard e.successes >= 0, e.failures >= 0, e.latencySumMs >= 0, e.latencySumSq >= 0, e.costSumMicros >= 0, e.costSumSq >= 0 else {
                throw g.err("counts and sums must be >= 0")
            }
            entries.append(e)
        }
        return LearnedPrior(runs: try f.small("runs"), entries: entries)
    }
}
