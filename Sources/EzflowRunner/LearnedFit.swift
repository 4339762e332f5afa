// `selector: learned` in a real run: the model is fitted from the store's earlier runs of
// the same workflow when the run starts, and journalled in its `run_started` (the core's
// `LearnedPrior`), so every later replay and resume chooses the same agents.
import EzflowPorts
import EzflowRuntime

extension Runner {
    /// How many of the latest earlier runs a fit reads: older evidence is dropped, and a
    /// run's start stays bounded however large the store grows.
    public static let learnedRunsMax = 100

    /// The selector a run uses: `--selector`, else the workflow's, else `cheapest`.
    public static func selectorName(_ plan: Plan, config: RunConfig) -> SelectorName {
        config.selector ?? plan.selectorName.flatMap(SelectorName.init(rawValue:)) ?? .cheapest
    }

    /// The prior for a new run of `workflow` under `learned` (nil for other selectors):
    /// every ended attempt of the latest `learnedRunsMax` other runs of the same workflow in
    /// the store, each replayed from its verified journal. A run this build does not
    /// reproduce is left out (its history is not trusted); a store that cannot be read
    /// refuses the start.
    static func learnedPrior(_ plan: Plan, config: RunConfig, store: any JournalStore, workflow: String,
                             runID: String) throws(RunnerError) -> LearnedPrior? {
        guard selectorName(plan, config: config) == .learned else { return nil }
        let earlier: [RunInfo]
        do { earlier = try store.runs() } catch { throw .store("cannot read the earlier runs to fit `learned`: \(error.description)") }
        let chosen = earlier.filter { $0.workflow == workflow && $0.runID != runID && $0.journalCount > 0 }
            .sorted { ($0.createdMs, $0.runID) < ($1.createdMs, $1.runID) }
            .suffix(learnedRunsMax)
        var runs: [(history: [[AttemptRecord]], plan: Plan)] = []
        for info in chosen {
            switch try StoredRun.replay(store: store, runID: info.runID) {
            case .reproduced(let run): runs.append((run.state.history, run.state.plan))
            case .diverged: continue
            }
        }
        return LearnedPrior.fit(runs)
    }
}
