// How long offered attempts waited before a worker claimed them, in whole milliseconds:
// on PostgreSQL the backend's own measure (`Lease.waitedMs`: the offer's row written →
// the claim, both on the server's clock, in the claiming statement); elsewhere from the
// coordinator's offer (`offered_ms` in the attempt's payload, its clock) to this worker's
// claim (its clock), which clocks out of sync skew (NTP, as for leases). A Prometheus
// histogram on the worker's `/metrics`, so an operator sees a backlog or slow wake-ups,
// and `ezbench distributed` reads its quantiles; a negative wait counts as 0.
import EzflowRuntime
import Synchronization

public final class ClaimLatency: Sendable {
    /// Upper bounds in ms: every millisecond up to 10 (the target is a p99 under 10 ms),
    /// then coarser up to 30 s (a backlog, a re-queued attempt).
    public static let boundsMs: [Int64] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 2_000, 5_000,
                                           10_000, 30_000]

    struct Counts {
        /// Per bound, the claims that fit it and no smaller one; the last: above every bound.
        var buckets = [UInt64](repeating: 0, count: ClaimLatency.boundsMs.count + 1)
        var count: UInt64 = 0
        var sumMs: Int64 = 0
        var maxMs: Int64 = 0
    }

    let counts = Mutex(Counts())

    public init() {}

    public func observe(ms: Int64) {
        let ms = max(0, ms)
        let i = Self.boundsMs.firstIndex { ms <= $0 } ?? Self.boundsMs.count
        counts.withLock { c in
            c.buckets[i] += 1
            c.count += 1
            c.sumMs &+= ms
            c.maxMs = max(c.maxMs, ms)
        }
    }

    public var count: UInt64 { counts.withLock { $0.count } }

    /// The text exposition of `ezflow_worker_claim_latency_seconds` (cumulative buckets)
    /// and `ezflow_worker_claim_latency_max_seconds`.
    public func exposition() -> String {
        let c = counts.withLock { $0 }
        func seconds(_ ms: Int64) -> String {
            let s = String(ms / 1_000), f = String(ms % 1_000)
            return ms % 1_000 == 0 ? s : s + "." + String(repeating: "0", count: 3 - f.count) + f
        }
        let name = "ezflow_worker_claim_latency_seconds"
        var out = "# HELP \(name) Time from an attempt's offer (the coordinator's clock) to its claim here, in whole milliseconds.\n"
        out += "# TYPE \(name) histogram\n"
        var cumulative: UInt64 = 0
        for (i, b) in Self.boundsMs.enumerated() {
            cumulative += c.buckets[i]
            out += "\(name)_bucket{le=\"\(seconds(b))\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(c.count)\n\(name)_sum \(seconds(c.sumMs))\n\(name)_count \(c.count)\n"
        out += "# HELP ezflow_worker_claim_latency_max_seconds The longest claim latency seen.\n"
        out += "# TYPE ezflow_worker_claim_latency_max_seconds gauge\nezflow_worker_claim_latency_max_seconds \(seconds(c.maxMs))\n"
        return out
    }
}
