// SIGINT/SIGTERM for `ezrun run`/`resume`: blocked in every thread from the start of
// `main`, and taken by one thread with sigwait, which asks the runner to stop
// (`StopRequest`; the runner decides what stopping means). Task processes are spawned
// with an empty signal mask, so they do not inherit the block.
import EzflowAgents
import EzflowRunner
import EzflowCLI
import Foundation

enum Signals {
    static var handled: sigset_t {
        var s = sigset_t()
        sigemptyset(&s)
        sigaddset(&s, SIGINT)
        sigaddset(&s, SIGTERM)
        return s
    }

    /// Call before any thread starts: threads inherit the mask.
    static func block() {
        var s = handled
        pthread_sigmask(SIG_BLOCK, &s, nil)
    }

    /// Makes `ezrun` the subreaper of its tasks' processes (an orphan re-parents here,
    /// so the end of an attempt can reap its whole group), starts the guard that ends
    /// the task groups if `ezrun` is killed, and blocks the stop signals.
    static func prepareRunner() {
        block()
        ProcessTable.becomeSubreaper()
        // EZFLOW_GUARD set empty turns the guard off on purpose; a missing binary is a
        // broken install and must not silently drop the guarantee.
        if !TaskGuard.start(graceMs: ExecOptions().killGraceMs), ProcessInfo.processInfo.environment["EZFLOW_GUARD"] == nil {
            Console.err("ezrun: warning: cannot start ezguard (it belongs next to the ezrun binary; "
                + "`swift build -c release --product ezguard`): if ezrun is killed with -9, its tasks are ended only by the "
                + "next `ezrun resume`\n")
        }
    }

    /// Hands every SIGINT/SIGTERM to `stop`, from a thread of its own.
    static func listen(_ stop: StopRequest) {
        let t = Thread {
            var s = handled
            while true {
                var sig: Int32 = 0
                if sigwait(&s, &sig) == 0 { stop.request(signal: sig) }
            }
        }
        t.stackSize = 1 << 16
        t.start()
    }
}
