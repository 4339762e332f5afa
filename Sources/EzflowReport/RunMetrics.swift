// Prometheus metrics of one run, in text exposition format 0.0.4. The runner updates
// them from its event loop; the metrics server (another thread) reads them, hence the
// Mutex. Output order is fixed (metric name, then labels) so scrapes and files diff well.
import EzflowRuntime
import Foundation
import Synchronization

public final class RunMetrics: Sendable {
    /// Upper bounds of the assignment-latency histogram (seconds): the core decides in
    /// microseconds, the shell's hand-off to a driver can take up to a second.
    public static let latencyBuckets: [Double] = [1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1]
    /// Their `le` label texts, written once here so they never depend on float printing.
    static let bucketLabels = ["1e-06", "5e-06", "1e-05", "5e-05", "0.0001", "0.0005", "0.001", "0.005", "0.01", "0.05",
                               "0.1", "0.5", "1"]

    struct AttemptKey: Hashable, Comparable {
        var agent: String
        var outcome: String
        static func < (a: AttemptKey, b: AttemptKey) -> Bool { (a.agent, a.outcome) < (b.agent, b.outcome) }
    }

    struct Storage {
        var tasks: [String: Int] = [:]
        var queueDepth = 0
        var running = 0
        var usedMicros: Int64 = 0
        var usedTokens: Int64 = 0
        var limitMicros: Int64 = -1
        var limitTokens: Int64 = -1
        var attempts: [AttemptKey: UInt64] = [:]
        var bucketCounts = [UInt64](repeating: 0, count: RunMetrics.latencyBuckets.count)
        var latencyCount: UInt64 = 0
        var latencySum: Double = 0
        var appends: UInt64 = 0
        var records: UInt64 = 0
    }

    let storage = Mutex(Storage())

    public init() {}

    /// Refreshes the gauges from the run's state (call after each event).
    public func update(from state: RunState) {
        var counts: [String: Int] = [:]
        for t in state.tasks { counts[stateName(t), default: 0] += 1 }
        storage.withLock { s in
            s.tasks = counts
            s.queueDepth = state.readyQueue.count
            s.running = state.runningCount
            s.usedMicros = state.chargedMicros
            s.usedTokens = state.chargedTokens
            s.limitMicros = state.plan.budgetMoneyMicros
            s.limitTokens = state.plan.budgetTokens
        }
    }

    /// Counts an ended attempt. `outcome` is `succeeded` or the error class.
    public func recordAttempt(agent: String, outcome: String) {
        storage.withLock { $0.attempts[AttemptKey(agent: agent, outcome: outcome), default: 0] += 1 }
    }

    /// Counts one journal append (a committed batch) of `records` records.
    public func recordAppend(records: Int) {
        storage.withLock { s in
            s.appends += 1
            s.records += UInt64(max(0, records))
        }
    }

    /// Time from a task becoming ready to its dispatch. Negative or NaN values are dropped.
    public func observeAssignment(seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        storage.withLock { s in
            for (i, b) in RunMetrics.latencyBuckets.enumerated() where seconds <= b { s.bucketCounts[i] += 1 }
            s.latencyCount += 1
            s.latencySum += seconds
        }
    }

    /// The text exposition (`text/plain; version=0.0.4`), ending with a newline.
    public func exposition() -> String {
        let s = storage.withLock { $0 }
        var out = ""
        func header(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(Prom.help(help))\n# TYPE \(name) \(type)\n"
        }
        header("ezflow_assignment_latency_seconds", "histogram", "Time from a task becoming ready to its dispatch.")
        // Buckets are stored non-cumulatively per bound hit; `le` counts are cumulative by
        // construction (an observation increments every bucket whose bound it fits).
        for (i, label) in RunMetrics.bucketLabels.enumerated() {
            out += "ezflow_assignment_latency_seconds_bucket{le=\"\(label)\"} \(s.bucketCounts[i])\n"
        }
        out += "ezflow_assignment_latency_seconds_bucket{le=\"+Inf\"} \(s.latencyCount)\n"
        out += "ezflow_assignment_latency_seconds_sum \(Prom.float(s.latencySum))\n"
        out += "ezflow_assignment_latency_seconds_count \(s.latencyCount)\n"
        header("ezflow_attempts_total", "counter", "Ended attempts by agent and outcome (succeeded or error class).")
        for k in s.attempts.keys.sorted() {
            out += "ezflow_attempts_total{agent=\"\(Prom.label(k.agent))\",outcome=\"\(Prom.label(k.outcome))\"} \(s.attempts[k]!)\n"
        }
        header("ezflow_budget_limit", "gauge", "Budget limits of the workflow (only the limits it sets).")
        if s.limitMicros >= 0 { out += "ezflow_budget_limit{kind=\"money_micros\"} \(s.limitMicros)\n" }
        if s.limitTokens >= 0 { out += "ezflow_budget_limit{kind=\"tokens\"} \(s.limitTokens)\n" }
        header("ezflow_budget_used", "gauge", "Money (micro-dollars) and tokens charged so far.")
        out += "ezflow_budget_used{kind=\"money_micros\"} \(s.usedMicros)\n"
        out += "ezflow_budget_used{kind=\"tokens\"} \(s.usedTokens)\n"
        header("ezflow_journal_appends_total", "counter", "Journal appends (one transaction per batch) this process committed.")
        out += "ezflow_journal_appends_total \(s.appends)\n"
        header("ezflow_journal_records_total", "counter", "Journal records this process committed.")
        out += "ezflow_journal_records_total \(s.records)\n"
        header("ezflow_queue_depth", "gauge", "Ready tasks waiting for a slot, an agent or budget.")
        out += "ezflow_queue_depth \(s.queueDepth)\n"
        header("ezflow_running", "gauge", "Attempts running now.")
        out += "ezflow_running \(s.running)\n"
        header("ezflow_tasks", "gauge", "Tasks per state.")
        for name in allStateNames {
            out += "ezflow_tasks{state=\"\(name)\"} \(s.tasks[name] ?? 0)\n"
        }
        return out
    }
}

/// Prometheus text-format escaping and number printing.
enum Prom {
    /// Label values: backslash, double quote and newline are escaped.
    static func label(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// HELP text: backslash and newline are escaped.
    static func help(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func float(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "+Inf" : "-Inf" }
        if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }
}
