// A stored run, replayed for `ezrun status`, `approve` and reports.
import EzflowIR
import EzflowPorts
import EzflowRuntime

/// A stored run, replayed for `ezrun status`, `approve` and reports.
public struct StoredRun: Sendable {
    public var info: RunInfo
    public var program: IRProgram
    public var plan: Plan
    public var state: RunState
    public var inputs: [String: JSONValue]
    public var principal: String?
    /// The chain hash of the last record (the IR hash for an empty journal): the head an
    /// operator pins to catch a store rewritten from the IR hash on.
    public var head: String
    /// How many records the journal has (verified: chain and replay).
    public var records: Int
    /// Per plan task: how many times an attempt of it was started (its `dispatch`
    /// commands), so an attempt run again after a resume counts twice where `attempts`
    /// (attempt numbers) counts it once.
    public var dispatches: [Int] = []

    /// Reads and replays run `runID` (the journal must replay with this build).
    public static func load(store: any JournalStore, runID: String) throws(RunnerError) -> StoredRun {
        switch try replay(store: store, runID: runID) {
        case .reproduced(let run): return run
        case .diverged(let v): throw .invalid("run `\(runID)`: \(v)")
        }
    }

    /// What replaying a stored run came to: the run, or the first record whose commands
    /// this build does not reproduce.
    public enum Replayed: Sendable {
        case reproduced(StoredRun)
        case diverged(DeterminismViolation)
    }

    /// Reads run `runID` (its IR checked against the run's hash, its journal against the
    /// chain: `integrity` otherwise) and replays it.
    public static func replay(store: any JournalStore, runID: String) throws(RunnerError) -> Replayed {
        let versions = try RunVersions.load(store: store, runID: runID)
        let info: RunInfo
        let journal: [JournalRecord]
        let head: String?
        do {
            guard let i = try store.run(runID) else { throw RunnerError.invalid("\(store.location): no run `\(runID)`") }
            info = i
            journal = try store.journal(run: runID, from: 0)
            head = try store.chainHash(run: runID, seq: journal.count - 1)
        } catch let e as RunnerError { throw e } catch let e as StoreError { throw versions.failure(e) } catch { throw .store("\(error)") }
        let config = versions.config(RunConfig())
        let state: RunState
        do {
            state = try Replay.verify(plans: versions.plans, journal: journal, environment: Runner.environment(versions.plans[0], config: config))
        } catch {
            return .diverged(error)
        }
        let principal: String? = if case .string(let p)? = versions.meta["principal"] { p } else { nil }
        var dispatches = Array(repeating: 0, count: state.plan.taskCount)
        for r in journal {
            for case .dispatch(let t, _, _, _, _) in r.commands where t >= 0 && t < dispatches.count { dispatches[t] += 1 }
        }
        return .reproduced(StoredRun(info: info, program: versions.current, plan: state.plan, state: state, inputs: versions.inputs,
                                     principal: principal, head: head ?? "", records: journal.count, dispatches: dispatches))
    }

    /// The IR task object of plan task `t`.
    public func irTask(_ t: Int) -> JSONValue? {
        t >= 0 && t < plan.taskJSON.count ? plan.taskJSON[t] : nil
    }
}
