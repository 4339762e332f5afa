// `selector: learned` across real `ezrun run`s: each run fits its model from the store's
// earlier runs of the workflow, journals it in `run_started`, and the sequence converges
// on the agent that succeeds, although the other is cheaper.
import EzflowIR
import EzflowPorts
import EzflowRunner
import EzflowRuntime
import EzflowStore
import Foundation
import XCTest

final class LearnedRunTests: XCTestCase {
    /// `cheap` ($0.01) fails 4 attempts in 5 (a counter file, so deterministically);
    /// `solid` ($0.015) always succeeds. The script runs `$EZFLOW_AGENT.sh`.
    static let workflow = """
        agent cheap {
          driver: exec
          capabilities: ["bot"]
          cost_per_call: $0.01
        }
        agent solid {
          driver: exec
          capabilities: ["bot"]
          cost_per_call: $0.015
        }
        workflow learn {
          selector: learned
          task work {
            needs: ["bot"]
            run: "sh \\"$EZFLOW_AGENT.sh\\""
            retry {
              attempts: 5
              backoff: fixed
              delay: 10ms
              on: [agent_error]
            }
          }
        }
        """

    func prepare() -> String {
        let dir = tempDir("learned")
        write(Self.workflow, to: dir + "/learn.ezflow")
        write("""
            n=$(cat cheap.count 2>/dev/null || echo 0); n=$((n+1)); echo $n > cheap.count
            if [ $((n % 5)) -ne 0 ]; then echo "cheap failed ($n)" >&2; exit 1; fi
            echo ok
            """, to: dir + "/cheap.sh")
        write("echo ok\n", to: dir + "/solid.sh")
        return dir
    }

    /// The agents of run `id`'s attempts of `work`, in order (the journal, replayed).
    func agents(_ dir: String, _ id: String, db: String = ".ezflow/ezflow.db") throws -> [String] {
        let run = try StoredRun.load(store: try DurableStore(path: dir + "/" + db), runID: id)
        return run.state.history[0].map { run.plan.agentNames[$0.agent] }
    }

    func testRealRunsConvergeOnTheAgentThatSucceeds() throws {
        let dir = prepare()
        var picks: [[String]] = []
        for i in 1...12 {
            let r = ezrun(["run", "learn.ezflow", "--run-id", "l\(i)", "--seed", String(i), "--quiet"], in: dir)
            XCTAssertEqual(r.status, 0, r.stderr)
            picks.append(try agents(dir, "l\(i)"))
        }
        // The first run knows nothing and starts on the cheaper agent; from run 8 on every
        // attempt goes to the one that succeeds.
        XCTAssertEqual(picks[0].first, "cheap", "\(picks)")
        for p in picks[7...] { XCTAssertEqual(p, ["solid"], "\(picks)") }
        XCTAssertGreaterThan(picks[..<4].joined().filter { $0 == "cheap" }.count, 2, "\(picks)")

        // What run 12 started from is in its journal: the 11 runs before it, per agent.
        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        guard case .runStarted(_, _, _, _, _, _, let prior?)? = try store.journal(run: "l12").first?.event else {
            return XCTFail("run_started of l12 has no prior")
        }
        XCTAssertEqual(prior.runs, 11)
        let earlier = try (1...11).flatMap { try StoredRun.load(store: store, runID: "l\($0)").state.history[0] }
        let cheap = try XCTUnwrap(prior.entries.first { $0.agent == "cheap" && $0.kind == "work" })
        let solid = try XCTUnwrap(prior.entries.first { $0.agent == "solid" && $0.kind == "work" })
        XCTAssertEqual(cheap.failures, Int64(earlier.filter { $0.agent == 0 && $0.errorClass != nil }.count))
        XCTAssertEqual(cheap.successes + cheap.failures, Int64(earlier.filter { $0.agent == 0 }.count))
        XCTAssertEqual(solid.successes, Int64(earlier.filter { $0.agent == 1 }.count))
        XCTAssertEqual(solid.costSumMicros, 15_000 * solid.successes)
        XCTAssertEqual(ezrun(["replay", "l12"], in: dir).status, 0)
    }

    /// The same runs, each in a store of its own: nothing is learned, and the cheaper
    /// agent keeps getting first attempts (what `learned` did in every real run before).
    func testWithoutEarlierRunsNothingIsLearned() throws {
        let dir = prepare()
        var first: [String] = []
        for i in 8...12 {
            let db = "fresh\(i).db"
            XCTAssertEqual(ezrun(["run", "learn.ezflow", "--run-id", "l\(i)", "--seed", String(i), "--quiet", "--db", db], in: dir).status, 0)
            first.append(try agents(dir, "l\(i)", db: db).first ?? "")
            guard case .runStarted(_, _, _, _, _, _, let prior?)? = try DurableStore(path: dir + "/" + db).journal(run: "l\(i)").first?.event else {
                return XCTFail("a learned run journals its (empty) prior")
            }
            XCTAssertEqual(prior, LearnedPrior(runs: 0, entries: []))
        }
        XCTAssertGreaterThanOrEqual(first.filter { $0 == "cheap" }.count, 3, "\(first)")
    }

    /// A real run has no bid protocol: `ezrun run` says the auction is simulation-only.
    func testAuctionSaysItIsSimulationOnly() throws {
        let dir = prepare()
        write(Self.workflow.replacingOccurrences(of: "selector: learned", with: "selector: auction"), to: dir + "/auction.ezflow")
        let r = ezrun(["run", "auction.ezflow", "--run-id", "a1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("ezrun: warning: the `auction` selector only bids in `ezrun simulate`; here every bid is priced from the agent's declared cost, and no agent is asked\n"), r.stderr)
        let learned = ezrun(["run", "learn.ezflow", "--run-id", "l1"], in: dir)
        XCTAssertFalse(learned.stderr.contains("warning"), learned.stderr)
    }
}
