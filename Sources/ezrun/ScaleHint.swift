// `ezrun scale-hint`: the number of workers a backend's queue wants now, for an autoscaler
// (a KEDA ScaledObject, an HPA on an external metric, a cron script). Two samples of the
// queue's depth `--window` apart give the backlog (queued + running), the arrivals and the
// completions in between; the hint is enough workers for the backlog at `--slots` each,
// and at least enough to keep up with the arrivals at the throughput measured per busy
// worker, within `--min`…`--max`. The arithmetic is `ScaleHint.desired`, tested alone.
import EzflowBackends
import EzflowCLI
import EzflowIR
import EzflowPorts
import EzflowUnits
import Foundation

struct ScaleHint: Equatable {
    var backlog: Int
    var running: Int
    var busyWorkers: Int
    var arrivalsPerSecond: Double
    var completionsPerSecond: Double
    var desired: Int

    /// The hint from two samples `seconds` apart, for workers of `slots` slots each.
    static func from(_ d0: QueueDepth, _ d1: QueueDepth, seconds: Double, slots: Int, queues: [String], min lo: Int, max hi: Int) -> ScaleHint {
        func count(_ m: [String: Int]) -> Int { queues.isEmpty ? m.values.reduce(0, &+) : queues.reduce(0) { $0 &+ (m[$1] ?? 0) } }
        let backlog0 = count(d0.queued) &+ count(d0.leased), backlog1 = count(d1.queued) &+ count(d1.leased)
        // In doubles: counts edited by hand must not trap the coordinator serving the hint.
        let arrivals = max(0, Double(d1.offered) - Double(d0.offered))
        let completed = max(0, Double(backlog0) + arrivals - Double(backlog1))
        let s = max(seconds, 0.001)
        let (inRate, outRate) = (arrivals / s, completed / s)
        var want = (Double(backlog1) / Double(max(1, slots))).rounded(.up)
        // Keep up with what arrives, at what one busy worker was measured to finish.
        if d1.owners > 0, outRate > 0 {
            let perWorker = outRate / Double(d1.owners)
            want = Swift.max(want, (inRate / perWorker).rounded(.up))
        }
        let desired = want.isFinite ? Int(Swift.min(Double(hi), Swift.max(Double(lo), want))) : hi
        return ScaleHint(backlog: backlog1, running: count(d1.leased), busyWorkers: d1.owners, arrivalsPerSecond: inRate,
                         completionsPerSecond: outRate, desired: desired)
    }
}

extension ScaleHint {
    /// `scale-hint --json`, and the coordinator's `/scale-hint` (KEDA's metrics-api scaler
    /// reads `desired`).
    var json: JSONValue {
        .object([
            ("arrivals_per_second", .string(String(format: "%.2f", arrivalsPerSecond))), ("backlog", .int(Int64(backlog))),
            ("busy_workers", .int(Int64(busyWorkers))), ("completions_per_second", .string(String(format: "%.2f", completionsPerSecond))),
            ("desired", .int(Int64(desired))), ("running", .int(Int64(running))),
        ])
    }
}

extension CLI {
    static func scaleHint(_ a: Args) -> Int32 {
        guard let backend = openBackend(a) else { usageError(a, "missing --backend URL or $EZFLOW_BACKEND (the backend whose queue to read)") }
        func int(_ flag: String, _ range: ClosedRange<Int>, _ d: Int) -> Int {
            guard let s = a.value(flag) else { return d }
            guard let n = Int(s), range.contains(n) else { usageError(a, "\(flag) needs an integer in \(range.lowerBound)…\(range.upperBound), not `\(s)`") }
            return n
        }
        let slots = int("--slots", 1...1_024, 4), lo = int("--min", 0...100_000, 0), hi = int("--max", 0...100_000, 100)
        guard lo <= hi else { usageError(a, "--min \(lo) is above --max \(hi)") }
        let windowMs = durationFlag(a, "--window", 0...600_000) ?? 5_000
        let d0: QueueDepth, d1: QueueDepth
        let t0 = Date()
        do { d0 = try backend.queue.depth() } catch { fail(error) }
        if windowMs > 0 { usleep(UInt32(windowMs) * 1000) }
        do { d1 = try backend.queue.depth() } catch { fail(error) }
        let h = ScaleHint.from(d0, d1, seconds: Date().timeIntervalSince(t0), slots: slots, queues: a.all("--queue"), min: lo, max: hi)
        if a.flags.contains("--json") {
            printJSON(h.json)
            return 0
        }
        Console.out("\(h.desired)\n")
        if !a.flags.contains("--quiet") {
            Console.err("ezrun scale-hint: \(Units.counted(h.backlog, "attempt")) waiting or running (\(h.running) running on "
                + "\(Units.counted(h.busyWorkers, "worker"))), \(String(format: "%.1f", h.arrivalsPerSecond)) arrived/s, "
                + "\(String(format: "%.1f", h.completionsPerSecond)) finished/s: \(Units.counted(h.desired, "worker")) of \(slots) slots\n")
        }
        return 0
    }
}
