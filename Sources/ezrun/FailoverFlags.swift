// `--fallback URL` (or `$EZFLOW_FALLBACK`) beside `--backend`: the backend new runs go to
// while the primary cannot be reached, and the second backend workers and standby
// coordinators serve (docs/DISTRIBUTED.md, "Failover"). The choice itself is
// `Backend.choose`; here are the flag's checks and the lines the user sees.
import EzflowBackends
import EzflowCLI
import EzflowPorts
import EzflowRunner
import EzflowRuntime
import Foundation
import Synchronization

extension CLI {
    /// `--fallback URL`, else `$EZFLOW_FALLBACK` when a backend is given; nil: none. A
    /// fallback without a backend, one that names no backend, or the primary itself is a
    /// usage error (exit 2).
    static func fallbackURL(_ a: Args) -> String? {
        let primary = backendURL(a)
        let url: String
        if let u = a.value("--fallback") {
            guard primary != nil else { usageError(a, "--fallback needs --backend URL (or $EZFLOW_BACKEND): it stands in for that backend") }
            url = u
        } else if primary != nil, let e = ProcessInfo.processInfo.environment["EZFLOW_FALLBACK"], !e.isEmpty {
            url = e
        } else {
            return nil
        }
        requireBackendKind(a, url, flag: "--fallback")
        guard url != primary else { usageError(a, "--fallback names the same backend as --backend (\(Backend.redacted(url))): give a second one") }
        do { try Backend.check(url) } catch { failOpening(error) }
        return url
    }

    /// The backend a run goes on: `--backend`, or the fallback when the primary cannot be
    /// reached (for a resume, also when the primary does not hold the run). Nil: no backend.
    static func chooseBackend(_ a: Args, runID: String, mustHold: Bool) -> ChosenBackend? {
        let fallback = fallbackURL(a)  // its usage errors also without a backend
        guard let primary = backendURL(a) else { return nil }
        requireBackendKind(a, primary)
        do { return try Backend.choose(primary: primary, fallback: fallback, runID: runID, mustHold: mustHold) } catch { failOpening(error) }
    }

    /// Carries out `runner`'s attempts on `backend`'s workers: it waits for their results
    /// and wakes them with its offers.
    static func useRemoteWorkers(_ runner: Runner, on backend: BackendPorts) {
        runner.useRemoteWorkers(wait: { backend.wait(.results, $0) }, notify: { backend.notify(.offers) })
    }

    /// Journals the switch right after `run_started` (audit only: the core changes nothing
    /// for it) and says it on standard error, whatever `--quiet` says: the run is not where
    /// the operator asked for it.
    static func journalFallback(_ runner: Runner, _ chosen: ChosenBackend) {
        guard let (primary, reason) = chosen.passedOver else { return }
        runner.post(.backendFallback(primary: primary, reason: reason, atMs: runner.now()))
        Console.err("ezrun: primary backend \(primary) unreachable (\(reason)); run \(runner.runID) runs on fallback \(Backend.redacted(chosen.url))\n")
    }

    /// `servedBackends`, each checked as written (exit 2 for one ezflow cannot use) before
    /// a loop that opens them again and again.
    static func checkedBackends(_ a: Args) -> [String] {
        let urls = servedBackends(a)
        for url in urls {
            do { try Backend.check(url) } catch { failOpening(error) }
        }
        return urls
    }

    /// Every backend a worker or a standby coordinator serves: the primary, then the fallback.
    static func servedBackends(_ a: Args) -> [String] {
        guard let primary = backendURL(a) else { return [] }
        return [primary] + (fallbackURL(a).map { [$0] } ?? [])
    }
}

/// One `BackendClock` per backend in this process (by location), measured when first
/// asked for and every minute after: a worker stamps its leases and a coordinator reaps
/// them on the backend server's time, so machines whose clocks disagree still agree on
/// which leases expired.
enum BackendClocks {
    static let clocks = Mutex<[String: BackendClock]>([:])

    /// `backend`'s clock; measured now when new (throws when the server does not answer).
    /// An offset of a second or more is said once, on `role`'s behalf.
    static func clock(_ backend: BackendPorts, role: String, quiet: Bool) throws(StoreError) -> BackendClock {
        if let c = clocks.withLock({ $0[backend.location] }) { return c }
        let c = BackendClock(serverTime: backend.serverTimeMs)
        let offset = try c.align()
        let kept = clocks.withLock { all -> (clock: BackendClock, new: Bool) in
            if let other = all[backend.location] { return (other, false) }
            all[backend.location] = c
            return (c, true)
        }
        guard kept.new else { return kept.clock }
        c.keepAligned()
        if !quiet, abs(offset) >= 1_000 {
            Console.err("ezrun \(role): this machine's clock is \(BackendClock.describe(offsetMs: offset)) the backend's (\(backend.location)); "
                        + "leases use the backend's time\n")
        }
        return c
    }
}
