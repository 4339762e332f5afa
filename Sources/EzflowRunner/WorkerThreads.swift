// What the local workers and the coordinator share besides the queue: the wake-up of the
// coordinator's wait, and the pool of long-lived threads that run subprocesses.
import Dispatch
import Foundation
import EzflowAgents
import EzflowRuntime
import Synchronization

/// Wakes the coordinator's wait when a completion arrives. A semaphore: a signal given
/// before the wait is not lost, and extra signals only cost an empty turn.
final class Wakeup: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func signal() { semaphore.signal() }

    /// Waits up to `timeoutMs` for a signal.
    func wait(timeoutMs: Int64) {
        guard timeoutMs > 0 else { return }
        _ = semaphore.wait(timeout: .now() + .milliseconds(Int(min(timeoutMs, 60_000))))
    }
}

/// Long-lived threads that run blocking jobs (a subprocess from spawn to reap). A job
/// never waits for a free thread: when every thread is busy a new one starts, so the
/// pool is as large as the run's peak concurrency. Saves a thread creation and two
/// cooperative-pool hops per exec attempt.
final class WorkerPool: Sendable {
    private struct Jobs: ~Copyable {
        var queue: [@Sendable () -> Void] = []
        var idle = 0
        var threads = 0
    }
    private let jobs = Mutex(Jobs())
    private let signal = DispatchSemaphore(value: 0)

    func submit(_ job: @escaping @Sendable () -> Void) {
        let spawn = jobs.withLock { j -> Bool in
            j.queue.append(job)
            if j.idle > 0 {
                j.idle -= 1
                return false
            }
            j.threads += 1
            return true
        }
        if spawn {
            let t = Thread { [self] in self.work() }
            t.stackSize = 1 << 20
            t.start()
        } else {
            signal.signal()
        }
    }

    private func work() {
        while true {
            let job = jobs.withLock { j -> (@Sendable () -> Void)? in j.queue.isEmpty ? nil : j.queue.removeFirst() }
            if let job {
                job()
                continue
            }
            jobs.withLock { $0.idle += 1 }
            signal.wait()
        }
    }
}
