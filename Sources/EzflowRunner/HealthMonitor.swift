// Real health checks (docs/RUNTIME.md, "Health checks"): an agent's `health` URL (http,
// llm: a GET, healthy on 2xx) or `health_command` (exec: exit 0) probed every
// `health_interval` on a thread of its own. The runner reads the latest results each turn
// through the `HealthProbe` port and journals an `agent_health` event only when one differs
// from the run's state, so the core stays pure and `ezrun simulate` (which feeds
// `agent_health` from its own model) runs the same runner code without probes.
import EzflowAgents
import EzflowIR
import EzflowRuntime
import Foundation
import Synchronization

/// The port through which the runner learns agents' health: the latest probe result per
/// probed agent (plan agent id → healthy). Agents never probed yet are absent.
public protocol HealthProbe: AnyObject, Sendable {
    func current() -> [Int: Bool]
    /// Ends the probing (the run is over).
    func stop()
}

/// Probes each agent that has a health check on its own thread.
public final class HealthMonitor: HealthProbe {
    /// One agent's check.
    struct Check: Sendable {
        enum Kind: Sendable { case url(URL), command(String) }
        var agent: Int
        var kind: Kind
        var intervalMs: Int64
    }

    let results = Mutex<[Int: Bool]>([:])
    let stopped = Atomic<Bool>(false)
    let exec: ExecOptions
    let wake: Wakeup?

    /// A monitor for the agents of `plan` with a health check, each probed once before it
    /// returns (so the run starts knowing them), then on its thread; nil when none has one.
    static func start(plan: Plan, exec: ExecOptions, wake: Wakeup?) -> HealthMonitor? {
        let checks = checks(plan)
        guard !checks.isEmpty else { return nil }
        let m = HealthMonitor(exec: exec, wake: wake)
        for c in checks {
            let ok = m.probe(c)
            m.results.withLock { $0[c.agent] = ok }
        }
        for c in checks {
            let t = Thread { [m] in m.loop(c) }
            t.stackSize = 1 << 20
            t.start()
        }
        return m
    }

    init(exec: ExecOptions, wake: Wakeup?) {
        self.exec = exec
        self.wake = wake
    }

    /// The checks the plan's agents declare (IR `health_url`, `health_command`, `health_interval_ms`).
    static func checks(_ plan: Plan) -> [Check] {
        var out: [Check] = []
        for g in plan.agentNames.indices where g < plan.agentJSON.count {
            let a = plan.agentJSON[g]
            let interval: Int64 = if case .int(let ms)? = a["health_interval_ms"] { ms } else { 10_000 }
            if case .string(let u)? = a["health_url"], let url = URL(string: u) {
                out.append(Check(agent: g, kind: .url(url), intervalMs: interval))
            } else if case .string(let c)? = a["health_command"] {
                out.append(Check(agent: g, kind: .command(c), intervalMs: interval))
            }
        }
        return out
    }

    public func current() -> [Int: Bool] { results.withLock { $0 } }

    public func stop() { stopped.store(true, ordering: .releasing) }

    /// Every `intervalMs` after the first probe: probe, and wake the runner on a change.
    func loop(_ c: Check) {
        while !stopped.load(ordering: .acquiring) {
            var slept: Int64 = 0
            while slept < c.intervalMs && !stopped.load(ordering: .acquiring) {
                let step = min(50, c.intervalMs - slept)
                usleep(useconds_t(step * 1_000))
                slept += step
            }
            if stopped.load(ordering: .acquiring) { return }
            let ok = probe(c)
            let changed = results.withLock { r -> Bool in
                defer { r[c.agent] = ok }
                return r[c.agent] != ok
            }
            if changed { wake?.signal() }
        }
    }

    /// One probe, bounded by the interval (at least 1 s): a check that hangs is a failure.
    func probe(_ c: Check) -> Bool {
        let limit = max(c.intervalMs, 1_000)
        switch c.kind {
        case .url(let url):
            let box = Mutex<Bool>(false)
            let done = DispatchSemaphore(value: 0)
            let request = HTTPRequest(url: url, method: "GET", timeoutMs: limit, idleTimeoutMs: limit, responseLimit: 64 << 10)
            Task {
                if case .success(let r) = await HTTPClient.send(request) { box.withLock { $0 = (200..<300).contains(r.status) } }
                done.signal()
            }
            done.wait()
            return box.withLock { $0 }
        case .command(let line):
            // A constant of the file (no values are interpolated), run as exec agents' commands are.
            let (exe, argv) = ExecDriver.directCommand(line, path: exec.path) ?? (exec.shell, [exec.shell, "-c", line])
            let req = SpawnRequest(executable: exe, arguments: argv, environment: ["PATH": exec.path, "HOME": exec.home, "LANG": exec.lang],
                                   workingDirectory: exec.workingDirectory, timeoutMs: limit, killGraceMs: 500,
                                   stdoutLimit: 4 << 10, stderrLimit: 4 << 10)
            guard let r = try? Subprocess.runBlocking(req) else { return false }
            return r.exitCode == 0
        }
    }
}
