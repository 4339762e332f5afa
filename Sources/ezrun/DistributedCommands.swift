// `ezrun worker`, `ezrun coordinator`, and `run`/`resume --backend URL`: the processes of a
// run whose attempts are carried out by workers elsewhere (docs/DISTRIBUTED.md). The
// work is in EzflowRunner (`Runner.useRemoteWorkers`, `Worker`) and EzflowBackends.
import EzflowAgents
import EzflowBackends
import EzflowCLI
import EzflowIR
import EzflowPorts
import EzflowReport
import EzflowRunner
import EzflowRuntime
import EzflowUnits
import Foundation
import Synchronization

extension CLI {
    /// `--backend URL`, opened (exit 2 for a URL that names no backend or is malformed — a
    /// bad `namespace=`, port or schema —, 5 when it cannot be reached).
    static func openBackend(_ a: Args) -> BackendPorts? {
        guard let url = backendURL(a) else { return nil }
        requireBackendKind(a, url)
        do { return try Backend.open(url) } catch { failOpening(error) }
    }

    /// A usage error (exit 2) unless `url`, given as `flag`, names a backend ezflow knows.
    static func requireBackendKind(_ a: Args, _ url: String, flag: String = "--backend") {
        guard Backend.kind(of: url) == nil else { return }
        usageError(a, "\(flag) takes sqlite:PATH, postgres://HOST/DB (or postgresql://) or redis://HOST:PORT, not `\(Backend.redacted(url))`")
    }

    /// Fails on an error opening a backend: a URL ezflow cannot use as written (`misuse`)
    /// is the caller's input (exit 2), anything else the store's (exit 5, 6).
    static func failOpening(_ error: StoreError) -> Never {
        if error.kind == .misuse { fail(error.description, code: 2) }
        fail(error)
    }

    /// What a worker serves of an opened backend: it waits for offers and wakes
    /// coordinators with its results; its leases are stamped with `clock`.
    static func workerSource(_ b: BackendPorts, clock: BackendClock) -> WorkerSource {
        WorkerSource(queue: b.queue, store: b.store, waitForWork: { b.wait(.offers, $0) }, notify: { b.notify(.results) }, clock: clock)
    }

    /// `--backend URL`, else `$EZFLOW_BACKEND` (so the URL and its password need not be in
    /// argv, where every process of the same user can read it); nil: neither.
    static func backendURL(_ a: Args) -> String? {
        if let u = a.value("--backend") { return u }
        // A store named by a server's URL (`--db postgres://…`, as `status` and `dlq` take
        // it; then `$EZFLOW_DB`) is that backend, never a file path: a flag before the
        // environment. (`sqlite:FILE` is the file FILE: `storePath`.)
        let env = ProcessInfo.processInfo.environment
        func server(_ url: String?) -> String? { url.flatMap { [.postgres, .redis].contains(Backend.kind(of: $0)) ? $0 : nil } }
        if let db = server(a.value("--db")) { return db }
        if let e = env["EZFLOW_BACKEND"], !e.isEmpty { return e }
        if a.value("--db") == nil, let db = server(env["EZFLOW_DB"]) { return db }
        return nil
    }

    /// The ports a coordinator uses on `backend`.
    static func coordinatorPorts(_ backend: BackendPorts) -> RunPorts {
        // The backend server's time (its leases' clock); this machine's if it cannot be
        // measured now (the run's first write will say why the backend does not answer).
        let clock: any RunClock = (try? BackendClocks.clock(backend, role: "coordinator", quiet: true)) ?? SystemClock()
        var ports = RunPorts(store: backend.store, inbox: backend.store, clock: clock, lease: backend.lease, queue: backend.queue,
                             owner: uniqueOwner("coordinator"))
        ports.queueInStore = backend.queueInStore
        return ports
    }

    /// A lease owner unique per process start (a restarted worker must not inherit the
    /// leases its previous life held: they are fenced off and expire).
    static func uniqueOwner(_ role: String) -> String {
        var g = SystemRandomNumberGenerator()
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        return "\(role)-\(host)-\(getpid())-" + String(g.next() & 0xFFFF_FFFF, radix: 16)
    }

    /// A duration flag (`30s`, `500ms`) in `range` milliseconds.
    static func durationFlag(_ a: Args, _ name: String, _ range: ClosedRange<Int64>) -> Int64? {
        guard let s = a.value(name) else { return nil }
        guard case .value(.duration(let d)) = Literal.scan(s), range.contains(d) else {
            usageError(a, "\(name) needs a duration from \(Units.duration(range.lowerBound)) to \(Units.duration(range.upperBound)), not `\(s)`")
        }
        return d
    }

    static func worker(_ a: Args) -> Int32 {
        _ = fallbackURL(a)  // its usage errors first
        guard let primary = backendURL(a) else { usageError(a, "missing --backend URL or $EZFLOW_BACKEND (where the coordinators queue the work)") }
        requireBackendKind(a, primary)
        let urls = checkedBackends(a)
        var config = WorkerConfig(owner: uniqueOwner("worker"))
        config.queues = a.all("--queue")
        if let s = a.value("--slots") {
            guard let n = Int(s), (1...1_024).contains(n) else { usageError(a, "--slots needs an integer in 1…1024, not `\(s)`") }
            config.slots = n
        }
        if let d = durationFlag(a, "--lease", 1_000...3_600_000) { config.leaseMs = d }
        config.idleExitMs = durationFlag(a, "--idle-exit", 0...86_400_000)
        config.simAgents = a.flags.contains("--sim-agents")
        let quiet = a.flags.contains("--quiet")
        let owner = config.owner
        let backends: [WorkerBackend]
        if urls.count == 1 {
            // One backend: it must answer now (exit 5 otherwise), as it always did.
            let first: BackendPorts
            let clock: BackendClock
            do {
                first = try Backend.open(primary)
                try first.registerWorker(owner, SystemClock().nowMs())
                clock = try BackendClocks.clock(first, role: "worker", quiet: quiet)
            } catch { fail(error) }
            let source = workerSource(first, clock: clock)
            backends = [WorkerBackend(location: first.location) { source }]
        } else {
            // A primary and a fallback: each is opened (and registered) by the loop, again
            // after a failed try, so either may be away when the worker starts.
            backends = urls.map { url in
                WorkerBackend(location: Backend.redacted(url)) { () throws(StoreError) in
                    let b = try Backend.open(url)
                    try b.registerWorker(owner, SystemClock().nowMs())
                    return workerSource(b, clock: try BackendClocks.clock(b, role: "worker", quiet: quiet))
                }
            }
        }
        let worker = Worker(backends: backends, clock: SystemClock(), config: config)
        if !quiet { worker.log = { Console.err("ezrun worker: \($0)\n") } }
        Signals.listen(worker.stopRequest)
        var server: MetricsServer? = nil
        if let p = a.value("--health-port") {
            guard let port = UInt16(p) else { usageError(a, "--health-port needs a port number (0 picks a free one)") }
            server = healthServer(worker, host: a.value("--health-addr") ?? "127.0.0.1", port: port, a)
            if !quiet { Console.err("ezrun worker: health on http://\(a.value("--health-addr") ?? "127.0.0.1"):\(server!.port)/healthz, /readyz, /metrics\n") }
        }
        defer { server?.stop() }
        if !quiet {
            let queues = config.queues.isEmpty ? "every queue" : config.queues.joined(separator: ", ")
            Console.err("ezrun worker: \(config.owner) on \(worker.locations.joined(separator: " and ")): \(Units.counted(config.slots, "slot")), \(queues)\n")
        }
        let summary: WorkerSummary
        do { summary = try worker.serve() } catch { fail(error) }
        if !quiet {
            Console.err("ezrun worker: stopped: \(Units.counted(summary.completed, "attempt")) handed back, \(summary.refused) refused, "
                + "\(summary.released) put back\n")
        }
        return 0
    }

    /// `/healthz` (the loop turns), `/readyz` (the backend answers) and `/metrics` of a worker.
    static func healthServer(_ w: Worker, host: String, port: UInt16, _ a: Args) -> MetricsServer {
        let clock = SystemClock()
        // The loop turns at least every poll interval and renews every third of the lease.
        let staleMs = max(5_000, 3 * w.config.pollMs), readyMs = max(10_000, w.config.leaseMs / 2)
        let routes: [String: MetricsServer.Route] = [
            "/healthz": { w.health.live(nowMs: clock.nowMs(), staleMs: staleMs) ? (200, "ok\n") : (503, "the worker's loop is stuck\n") },
            "/readyz": { w.health.ready(nowMs: clock.nowMs(), staleMs: readyMs) ? (200, "ok\n") : (503, "the backend does not answer\n") },
            "/metrics": {
                let c = w.counts
                var out = "# HELP ezflow_worker_slots Attempts this worker runs at once.\n# TYPE ezflow_worker_slots gauge\nezflow_worker_slots \(w.config.slots)\n"
                out += "# HELP ezflow_worker_in_flight Attempts running now.\n# TYPE ezflow_worker_in_flight gauge\nezflow_worker_in_flight \(w.inFlight)\n"
                out += "# HELP ezflow_worker_completed_total Attempts handed back and accepted.\n# TYPE ezflow_worker_completed_total counter\n"
                out += "ezflow_worker_completed_total \(c.completed)\n"
                out += "# HELP ezflow_worker_refused_total Results refused (lease expired or attempt cancelled).\n# TYPE ezflow_worker_refused_total counter\n"
                out += "ezflow_worker_refused_total \(c.refused)\n"
                // Per backend (the primary, then the fallback): did it answer within half a lease.
                out += "# HELP ezflow_worker_backend_ready Whether the backend answered a claim or a renewal lately (1) or not (0).\n"
                out += "# TYPE ezflow_worker_backend_ready gauge\n"
                let roles = ["primary", "fallback"]
                for (i, up) in w.health.readyBackends(nowMs: clock.nowMs(), staleMs: readyMs).enumerated() {
                    out += "ezflow_worker_backend_ready{backend=\"\(i < roles.count ? roles[i] : String(i))\"} \(up ? 1 : 0)\n"
                }
                out += w.claimLatency.exposition()
                return (200, out)
            },
        ]
        do { return try MetricsServer(host: host, port: port, routes: routes) } catch {
            usageError(a, "--health-port \(port) on \(host): \(error.description)")
        }
    }

    /// `ezrun db migrate`: the backend's schema brought to this ezrun's version, under the
    /// backend's own lock (two at once are safe).
    static func dbMigrate(_ a: Args) -> Int32 {
        guard let backend = openBackend(a) else { usageError(a, "missing --backend URL or $EZFLOW_BACKEND (the backend to migrate)") }
        let from: Int, to: Int
        do { (from, to) = try backend.migrate() } catch { fail(error) }
        Console.out(from == to ? "\(backend.location): at version \(to), nothing to do\n" : "\(backend.location): migrated from version \(from) to \(to)\n")
        return 0
    }

    /// Adopts every active run whose coordinator is gone (its run lease is free) and
    /// drives it with remote workers, one thread per run, until killed.
    static func coordinator(_ a: Args) -> Int32 {
        _ = fallbackURL(a)  // its usage errors first
        guard backendURL(a) != nil else { usageError(a, "missing --backend URL or $EZFLOW_BACKEND (the backend whose runs to coordinate)") }
        let urls = checkedBackends(a)
        // The backends' ports for the loop (the runs each get their own): one backend must
        // answer now (exit 5 otherwise); with a fallback, each is opened when it answers.
        var opened: [BackendPorts?] = urls.map { _ in nil }
        if urls.count == 1 { opened[0] = openBackend(a) }
        let pollMs = durationFlag(a, "--poll", 100...60_000) ?? 1_000
        let quiet = a.flags.contains("--quiet")
        let config = RunFlags(a).config
        if !quiet {
            Console.err("ezrun coordinator: on \(urls.map(Backend.redacted).joined(separator: " and ")), adopting runs whose coordinator is gone\n")
        }
        let driving = Mutex<Set<String>>([])
        // The queue sampled every poll: `/scale-hint` compares the last two samples.
        let samples = Mutex<[(Date, QueueDepth)]>([])
        let loopAt = Mutex(Date())
        var server: MetricsServer? = nil
        if let p = a.value("--health-port") {
            guard let port = UInt16(p) else { usageError(a, "--health-port needs a port number (0 picks a free one)") }
            let slots = a.value("--worker-slots").flatMap(Int.init) ?? 4
            guard (1...1_024).contains(slots) else { usageError(a, "--worker-slots needs an integer in 1…1024") }
            let stale = max(5.0, 3 * Double(pollMs) / 1000)
            @Sendable func hint() -> ScaleHint? {
                let s = samples.withLock { $0 }
                guard let last = s.last else { return nil }
                let first = s.count > 1 ? s[0] : last
                return ScaleHint.from(first.1, last.1, seconds: last.0.timeIntervalSince(first.0), slots: slots, queues: [], min: 0, max: 100_000)
            }
            let routes: [String: MetricsServer.Route] = [
                "/healthz": { Date().timeIntervalSince(loopAt.withLock { $0 }) <= stale ? (200, "ok\n") : (503, "the coordinator's loop is stuck\n") },
                "/scale-hint": {
                    guard let h = hint() else { return (503, "no sample of the queue yet\n") }
                    return (200, String(decoding: CanonicalJSON.encode(h.json), as: UTF8.self) + "\n")
                },
                "/metrics": {
                    let runs = driving.withLock { $0.count }
                    var out = "# HELP ezflow_coordinator_runs Runs this coordinator drives.\n# TYPE ezflow_coordinator_runs gauge\nezflow_coordinator_runs \(runs)\n"
                    if let h = hint() {
                        out += "# HELP ezflow_scale_hint_desired Workers the queue wants (ezrun scale-hint).\n# TYPE ezflow_scale_hint_desired gauge\n"
                        out += "ezflow_scale_hint_desired \(h.desired)\n"
                        out += "# HELP ezflow_queue_backlog Attempts waiting or running.\n# TYPE ezflow_queue_backlog gauge\nezflow_queue_backlog \(h.backlog)\n"
                    }
                    return (200, out)
                },
            ]
            let host = a.value("--health-addr") ?? "127.0.0.1"
            do { server = try MetricsServer(host: host, port: port, routes: routes) } catch { usageError(a, "--health-port \(port) on \(host): \(error.description)") }
            if !quiet { Console.err("ezrun coordinator: health on http://\(host):\(server!.port)/healthz, /scale-hint, /metrics\n") }
        }
        defer { server?.stop() }
        var outage = urls.map { _ in false }
        while true {
            loopAt.withLock { $0 = Date() }
            var depths: [QueueDepth] = []
            for (i, url) in urls.enumerated() {
                let name = urls.count == 1 ? "the backend" : "the backend \(Backend.redacted(url))"
                let runs: [RunInfo]
                do throws(StoreError) {
                    if opened[i] == nil { opened[i] = try Backend.open(url) }
                    if server != nil, let d = try? opened[i]!.queue.depth() { depths.append(d) }
                    runs = try opened[i]!.store.runs()
                } catch where error.kind == .unavailable || error.kind == .busy {
                    // A standby rides out a backend that is away (a restart): it is the one
                    // that must be there when it comes back. With a fallback, the other
                    // backend's runs go on being adopted meanwhile.
                    if !quiet, !outage[i] { Console.err("ezrun coordinator: \(name) does not answer (\(error.description)); retrying\n") }
                    outage[i] = true
                    continue
                } catch { fail(error) }
                if outage[i], !quiet { Console.err("ezrun coordinator: \(name) answers again\n") }
                outage[i] = false
                for info in runs where info.status == .running || info.status == .created {
                    // A run id is unique on its backend; two backends may each hold one.
                    let key = "\(i)/\(info.runID)"
                    guard !driving.withLock({ $0.contains(key) }) else { continue }
                    // A run whose coordinator is alive is left alone at the cost of one probe on
                    // this connection (not the sessions an adoption opens); an error: next poll.
                    guard (try? opened[i]!.leaseHeld(info.runID)) == false else { continue }
                    // Each adopted run gets its own connection: its turns never wait on another's.
                    let ports: BackendPorts
                    do { ports = try Backend.open(url) } catch { continue }  // away again: the next poll tries
                    let runner: Runner
                    do { runner = try Runner.resume(runID: info.runID, config: config, ports: coordinatorPorts(ports)) } catch {
                        continue  // another coordinator holds it (or it cannot be resumed: `ezrun status` says why)
                    }
                    useRemoteWorkers(runner, on: ports)
                    driving.withLock { _ = $0.insert(key) }
                    let on = urls.count == 1 ? "" : " on \(Backend.redacted(url))"
                    if !quiet { Console.err("ezrun coordinator: adopted run \(info.runID)\(on) at event \(runner.run.state.seq)\n") }
                    let held = Held(runner: runner)
                    let t = Thread {
                        let runner = held.runner
                        let outcome: String
                        do throws(RunnerError) { outcome = try runner.execute().verdict.rawValue } catch { outcome = "stopped: \(error.description)" }
                        runner.releaseLease()
                        if !quiet { Console.err("ezrun coordinator: run \(info.runID): \(outcome)\n") }
                        driving.withLock { _ = $0.remove(key) }
                    }
                    t.stackSize = 1 << 22
                    t.start()
                }
            }
            // The hint's window: the samples of about the last 10 seconds, each the sum over
            // the backends (taken only when every one answered: a missing one would look
            // like a drop in the arrivals).
            if server != nil, depths.count == urls.count {
                let d = depths.dropFirst().reduce(depths[0]) { sum, x in
                    QueueDepth(queued: sum.queued.merging(x.queued, uniquingKeysWith: +), leased: sum.leased.merging(x.leased, uniquingKeysWith: +),
                               owners: sum.owners + x.owners, offered: sum.offered + x.offered)
                }
                samples.withLock { s in
                    s.append((Date(), d))
                    s.removeAll { Date().timeIntervalSince($0.0) > 10 }
                }
            }
            usleep(UInt32(pollMs) * 1000)
        }
    }
}

/// A runner handed to the one thread that drives it from then on.
struct Held: @unchecked Sendable { let runner: Runner }
