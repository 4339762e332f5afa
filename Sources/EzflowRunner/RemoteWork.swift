// The coordinator's side of workers in other processes (`ezrun worker`): a dispatch is
// offered on the backend's queue with its payload (the values it is rendered with) and
// its queue, and nothing is started here. Completions come back through the same queue;
// the coordinator waits for them on the backend's wake-up (or its poll), and reaps the
// leases of workers that died (`WorkQueue.expire`) about once a second.
import EzflowAgents
import EzflowIR
import EzflowPorts
import EzflowRuntime

/// Attempts carried out by workers elsewhere: nothing to start, stop or wait for here.
/// A cancelled attempt's worker finds out when its completion is refused or ignored; it
/// also ends the attempt at the task's own timeout.
final class RemoteExecutor: AttemptExecutor {
    func start(_ items: [WorkItem], runner: Runner) throws(StoreError) {}
    func cancel(task: Int, attempt: Int) {}
}

extension Runner {
    /// How often the coordinator of remote workers reaps expired leases.
    static let reapEveryMs: Millis = 1_000

    /// Carries out attempts on workers in other processes. `wait(ms)` returns when the
    /// backend signals new completions, or after `ms`; `notify()` wakes the workers after
    /// an offer.
    public func useRemoteWorkers(wait: @escaping (Int64) -> Void, notify: @escaping () -> Void = {}) {
        executor = RemoteExecutor()
        remote = RemoteWaiting(wait: wait, notify: notify)
    }

    /// The item a dispatch is offered as: for remote workers with the values it is
    /// rendered with, its agent's queue, its task's priority and the offer time (read as
    /// the item is made, just before the batch is offered: the workers' claim latency).
    func workItem(task: Int, attempt: Int, agent: Int, key: String) -> WorkItem {
        var item = WorkItem(runID: runID, task: task, attempt: attempt, agent: agent, idempotencyKey: key)
        guard remote != nil else { return item }
        item.payload = AttemptPayload.encode(renderValues(task: task), planHash: plan.hash, offeredMs: now())
        item.queue = queueName(agent: agent)
        // The language's priority runs 9 first; a queue's runs 0 first.
        item.priority = 9 - min(9, max(0, plan.priority[task]))
        return item
    }

    /// The queue of `agent`'s attempts: its `queue` in the IR, else the default one.
    func queueName(agent: Int) -> String {
        guard agent >= 0, agent < plan.agentJSON.count, case .string(let q)? = plan.agentJSON[agent]["queue"] else { return WorkItem.defaultQueue }
        return q
    }

    /// The run has ended: its items on a shared queue end and lose their payloads (the
    /// values they were rendered with), so a long-lived backend does not grow by every
    /// run's inputs and outputs. Failing to is said, not fatal: the run is journalled.
    func forgetQueuedWork() {
        guard remote != nil else { return }
        do { try ports.queue.forget(run: runID) } catch {
            observer?.notice("run `\(runID)` ended, but its queued work could not be dropped: \(error.description)")
        }
    }

    /// Puts the leases of dead workers back (or ends them as `worker_lost`), at most once
    /// per `reapEveryMs`.
    func reapIfDue(nowMs: Millis) throws(RunnerError) {
        guard var r = remote, nowMs - r.lastReapMs >= Self.reapEveryMs else { return }
        r.lastReapMs = nowMs
        remote = r
        // The clock alone (the backend server's time), not the run's: a record stamped by a
        // coordinator whose clock ran ahead must not expire every live lease on the backend.
        do { _ = try ports.queue.expire(nowMs: ports.clock.nowMs()) } catch { throw .store("run `\(runID)`: cannot reap expired leases: \(error.description)") }
    }
}

/// What a coordinator of remote workers keeps besides the queue.
struct RemoteWaiting {
    var wait: (Int64) -> Void
    var notify: () -> Void
    var lastReapMs: Millis = 0
}

extension RunState {
    /// Finished with a final verdict (waiting for an approval is not final: the run goes
    /// on when it is given).
    var isFinishedForGood: Bool {
        if case .finished(let v) = phase, v != .waitingForApproval { return true }
        return false
    }
}
