// `ezbench distributed` on SQLite at a tiny size: the report's shape (a row per workload,
// every task completed, latency and journal figures present), never its timings.
import EzflowTestSupport
import Foundation
import XCTest

final class DistributedBenchSmokeTests: XCTestCase {
    func testEzbenchDistributedReportsEachWorkloadOnSQLite() throws {
        let r = runProcess(Repo.executable("ezbench"), ["distributed", "--backend", "sqlite", "--sim", "200", "--exec", "10", "--workers", "2",
                                                        "--slots", "4", "--ezrun", Repo.executable("ezrun").path], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("2 workers × 4 slots (max_parallel 8)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("claim p50/p99/max ms  appends/task  records/task"), r.stdout)
        for (workload, tasks) in [("sim", 200), ("exec", 10)] {
            let row = r.stdout.split(separator: "\n").first { $0.hasPrefix("sqlite    \(workload) ") }.map(String.init) ?? ""
            let cols = row.split(separator: " ")
            XCTAssertEqual(cols.count, 10, "\(workload): \(row)")
            guard cols.count == 10 else { continue }
            XCTAssertEqual(Int(cols[2]), tasks, row)
            XCTAssertNotNil(Double(cols[4]), "tasks/s: \(row)")
            let latency = cols[7].split(separator: "/")
            XCTAssertEqual(latency.count, 3, "p50/p99/max: \(row)")
            XCTAssertTrue(latency.allSatisfy { Int($0) != nil }, "every claim observed: \(row)")
            // Records: run_started and one result per task at least; appends: at least two.
            XCTAssertGreaterThanOrEqual(Double(cols[9]) ?? 0, 1.0, row)
            XCTAssertGreaterThan(Double(cols[8]) ?? 0, 0, row)
        }
    }
}
