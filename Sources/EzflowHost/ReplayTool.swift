import EzflowIR
import EzflowRuntime
import EzflowUnits
import Foundation

/// `ezrun replay`: folds a journal through the core and checks that every event yields
/// the commands recorded with it. The code part of a run (selector, breaker, the agent
/// profiles a selector reads) is not in the journal, so it is rebuilt from the same
/// arguments `simulate` was given; a `learned` run also needs the journals of the runs
/// before it (`priors`), since its model carries from run to run.
public struct ReplayTool {
    public var world: SimWorld
    public var selector: SelectorName?
    public var breaker: CircuitBreaker

    public init(world: SimWorld, selector: SelectorName?, breaker: CircuitBreaker) {
        self.world = world
        self.selector = selector
        self.breaker = breaker
    }

    /// The outcome of one replay, printable as the CLI's report.
    public enum Outcome: Sendable {
        case reproduced(records: Int, phase: RunPhase)
        case diverged(DeterminismViolation)

        public var exitCode: Int32 {
            if case .reproduced = self { return 0 }
            return 1
        }

        public var report: String {
            switch self {
            case .reproduced(let n, let phase):
                let where_: String
                switch phase {
                case .finished(let v): where_ = "run finished: \(v.rawValue)"
                case .draining(let v): where_ = "run draining: \(v.rawValue)"
                case .running: where_ = "run still in progress"
                case .notStarted: where_ = "run not started"
                }
                return "journal reproduced: \(Units.counted(n, "event")), same commands; \(where_)\n"
            case .diverged(let v):
                return v.description + "\n"
            }
        }
    }

    /// Replays `journal`, after feeding `priors` (earlier runs, in order) to a learned model.
    public func replay(_ journal: [JournalRecord], priors: [[JournalRecord]] = []) -> Outcome {
        let options = SimulationOptions(seed: 0, runs: 1, selector: selector, breaker: breaker, keepJournals: false)
        var sim = Simulator(world: world, options: options)
        for p in priors {
            // A prior that does not itself replay cannot train the model faithfully.
            let env = RunEnvironment(selector: sim.makeSelector(), breaker: breaker.withAgents(of: world.plan))
            guard let state = try? Replay.verify(plan: world.plan, journal: p, environment: env) else { continue }
            sim.predictor.observe(history: state.history, plan: world.plan)
        }
        let env = RunEnvironment(selector: sim.makeSelector(), breaker: breaker.withAgents(of: world.plan))
        do {
            let state = try Replay.verify(plan: world.plan, journal: journal, environment: env)
            return .reproduced(records: journal.count, phase: state.phase)
        } catch {
            return .diverged(error)
        }
    }
}
