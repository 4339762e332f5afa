// The coordinator's inbox: driver tasks (on the cooperative pool) post finished attempts,
// the coordinator (one plain thread, never the pool) waits with a timeout. A semaphore and
// a mutex-guarded array keep the wait cheap: no task group per wake-up.
import Dispatch
import Foundation
import EzflowAgents
import EzflowRuntime
import Synchronization

/// An attempt that ended (or was refused before it started), as the coordinator sees it.
struct Completion: Sendable {
    var task: Int
    var attempt: Int
    var agent: Int
    var result: DriverResult
}

final class Mailbox: Sendable {
    private let items = Mutex<[Completion]>([])
    private let signal = DispatchSemaphore(value: 0)

    func post(_ c: Completion) {
        items.withLock { $0.append(c) }
        signal.signal()
    }

    /// Everything posted so far; waits up to `timeoutMs` when nothing is there yet.
    func take(timeoutMs: Int64) -> [Completion] {
        var got = items.withLock { xs -> [Completion] in
            let out = xs
            xs.removeAll(keepingCapacity: true)
            return out
        }
        if !got.isEmpty || timeoutMs <= 0 { return got }
        _ = signal.wait(timeout: .now() + .milliseconds(Int(min(timeoutMs, 60_000))))
        got = items.withLock { xs -> [Completion] in
            let out = xs
            xs.removeAll(keepingCapacity: true)
            return out
        }
        return got
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
