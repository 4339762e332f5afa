// What `ezbench distributed` reads, as an operator sees it: a worker's claim-latency
// histogram on `/metrics`, `--sim-agents`, and the coordinator's journal counters in
// `--metrics-file`. Real processes, one body per backend (DistributedRunTests' helpers).
import EzflowTestSupport
import Foundation
import XCTest

extension DistributedRunTests {
    /// 20 `sim` tasks: a worker with `--sim-agents` completes them, its `/metrics` then
    /// holds one claim-latency observation per claim (cumulative buckets ending at the
    /// count), and the coordinator's metrics file counts its appends and records.
    func testAWorkerExportsItsClaimLatencyAndTheCoordinatorItsJournalWrites() throws {
        var flow = "agent fake {\n  driver: sim\n  capabilities: [\"shell\"]\n  concurrency: 8\n}\nworkflow sims {\n  agents: [fake]\n"
        for i in 0..<20 { flow += "  task t\(i) { run: \"true\" }\n" }
        flow += "}\n"
        for (name, url) in backends(tempDir("dist-metrics")) {
            let dir = tempDir("dist-metrics-\(name)")
            write(flow, to: dir + "/f.ezflow")
            let w = try spawn(["worker", "--backend", url, "--sim-agents", "--health-port", "0", "--slots", "8"], in: dir, log: dir + "/w.err")
            defer { if w.isRunning { w.terminate(); w.waitUntilExit() } }
            waitFor("\(name): the health port") { read(dir + "/w.err").contains("/healthz") }
            let port = Self.port(in: read(dir + "/w.err"))
            let run = ezrun(["run", "f.ezflow", "--backend", url, "--run-id", "m1", "--quiet", "--metrics-file", "m.prom"], in: dir)
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)\(read(dir + "/w.err"))")
            let metrics = try httpGet(port: port, path: "/metrics")
            XCTAssertTrue(metrics.contains("ezflow_worker_completed_total 20\n"), "\(name): \(metrics)")
            XCTAssertTrue(metrics.contains("# TYPE ezflow_worker_claim_latency_seconds histogram\n"), name)
            XCTAssertTrue(metrics.contains("ezflow_worker_claim_latency_seconds_count 20\n"), "\(name): \(metrics)")
            XCTAssertTrue(metrics.contains("ezflow_worker_claim_latency_seconds_bucket{le=\"+Inf\"} 20\n"), name)
            XCTAssertTrue(metrics.contains("ezflow_worker_claim_latency_seconds_bucket{le=\"30\"} 20\n"), "\(name): every claim within 30 s")
            XCTAssertTrue(metrics.contains("ezflow_worker_claim_latency_max_seconds "), name)
            // run_started (its commands: the dispatches) + 20 results, nothing else on a clean run.
            let file = read(dir + "/m.prom")
            XCTAssertTrue(file.contains("ezflow_journal_records_total 21\n"), "\(name): \(file)")
            let appends = file.split(separator: "\n").first { $0.hasPrefix("ezflow_journal_appends_total ") }.flatMap { Int($0.split(separator: " ")[1]) }
            XCTAssertNotNil(appends, name)
            XCTAssertTrue((2...21).contains(appends ?? 0), "\(name): \(appends ?? -1) appends for 21 records")
        }
    }
}
