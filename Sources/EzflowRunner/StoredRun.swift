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

    /// Reads and replays run `runID` (the journal must replay with this build).
    public static func load(store: any JournalStore, runID: String) throws(RunnerError) -> StoredRun {
        let versions = try RunVersions.load(store: store, runID: runID)
        let info: RunInfo
        let journal: [JournalRecord]
        do {
            guard let i = try store.run(runID) else { throw RunnerError.invalid("\(store.location): no run `\(runID)`") }
            info = i
            journal = try store.journal(run: runID, from: 0)
        } catch let e as RunnerError { throw e } catch { throw .store("\(error)") }
        let config = versions.config(RunConfig())
        let state: RunState
        do {
            state = try Replay.verify(plans: versions.plans, journal: journal, environment: Runner.environment(versions.plans[0], config: config))
        } catch {
            throw .invalid("run `\(runID)`: \(error)")
        }
        let principal: String? = if case .string(let p)? = versions.meta["principal"] { p } else { nil }
        return StoredRun(info: info, program: versions.current, plan: state.plan, state: state, inputs: versions.inputs, principal: principal)
    }

    /// The IR task object of plan task `t`.
    public func irTask(_ t: Int) -> JSONValue? {
        t >= 0 && t < plan.taskJSON.count ? plan.taskJSON[t] : nil
    }
}
