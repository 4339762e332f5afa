// The circuit breaker the runtime uses: a `BreakerPolicy` over `AgentHealth`.
//
// Valid transitions (state lives in `AgentHealth.breaker` / `.consecutiveFailures`):
//
//   closed   --success--------------------------->  closed            (failures := 0)
//   closed   --failure, failures+1 <  threshold-->  closed            (failures += 1)
//   closed   --failure, failures+1 >= threshold-->  open(now + coolDown)
//   open(t)  --admit at now >= t----------------->  halfOpen          (admitted: the probe)
//   open(t)  --admit at now <  t----------------->  open(t)           (refused)
//   halfOpen --admit, no probe running----------->  halfOpen          (admitted: the probe)
//   halfOpen --admit, probe running-------------->  halfOpen          (refused: one probe at a time)
//   halfOpen --probe's success------------------->  closed            (failures := 0)
//   halfOpen --probe's failure------------------->  open(now + coolDown)
//   halfOpen --another attempt's result---------->  halfOpen          deliberate no-op: only the
//                                                    probe speaks for the agent now
//   open(t)  --success--------------------------->  open(t)           deliberate no-op: a late
//                                                    result of an attempt dispatched before the
//                                                    breaker opened says nothing about now
//   open(t)  --failure--------------------------->  open(t)           deliberate no-op, same reason
//
// Health checks do not pass through here: `Event.agentHealth` sets `AgentHealth.healthy`
// and the core offers no task to an unhealthy agent, whatever its breaker says.

/// Opens an agent's breaker after `failuresToOpen` consecutive failed attempts, keeps it
/// open for `coolDownMs`, then lets exactly one probe through at a time (half-open; the
/// core records the probe in `AgentHealth.probeTask` when it dispatches to a half-open
/// agent): the probe's success closes it, its failure opens it again. Pure: all state is
/// in `AgentHealth`.
public struct CircuitBreaker: BreakerPolicy, Equatable {
    /// Consecutive failures that open a closed breaker (≥ 1).
    public var failuresToOpen: Int
    /// How long an open breaker refuses work before a probe may go (≥ 0).
    public var coolDownMs: Millis
    /// The error classes that say the agent is down (`outageClasses` by default); any other
    /// failure is the task's own (a script's exit code, a reply that breaks the output
    /// contract, a conflict) and neither counts nor resets the count.
    public var countedClasses: Set<String>

    /// The classes that count by default: the agent did not answer in time, or answered
    /// "not now" (connection refused or reset, 408/425/429/5xx, exit 75).
    public static let outageClasses: Set<String> = ["timeout", "transient"]

    public init(failuresToOpen: Int = 5, coolDownMs: Millis = 30_000, countedClasses: Set<String> = CircuitBreaker.outageClasses) {
        precondition(failuresToOpen >= 1 && coolDownMs >= 0, "invalid breaker settings")
        self.failuresToOpen = failuresToOpen
        self.coolDownMs = coolDownMs
        self.countedClasses = countedClasses
    }

    /// Per agent: its own `breaker_failures` / `breaker_cool_down` (-1, or past the end:
    /// `failuresToOpen` / `coolDownMs`).
    public var agentFailures: [Int] = []
    public var agentCoolDownMs: [Millis] = []

    /// The breaker of a run of `plan`: each agent's own settings, else 5 failures and 30 s;
    /// `failures` / `coolDownMs` (`ezrun run --breaker-failures`, `--breaker-cool-down`)
    /// override them for every agent.
    public static func of(_ plan: Plan, failures: Int? = nil, coolDownMs: Millis? = nil) -> CircuitBreaker {
        var b = CircuitBreaker(failuresToOpen: failures ?? 5, coolDownMs: coolDownMs ?? 30_000)
        if failures == nil { b.agentFailures = plan.agentBreakerFailures }
        if coolDownMs == nil { b.agentCoolDownMs = plan.agentBreakerCoolDownMs }
        return b
    }

    /// This breaker with each agent's own settings from `plan` where it has none per agent
    /// yet (`ezrun simulate`, `replay`: their flags set the default of the others).
    public func withAgents(of plan: Plan) -> CircuitBreaker {
        var b = self
        if b.agentFailures.isEmpty { b.agentFailures = plan.agentBreakerFailures }
        if b.agentCoolDownMs.isEmpty { b.agentCoolDownMs = plan.agentBreakerCoolDownMs }
        return b
    }

    func threshold(_ agent: Int) -> Int {
        agent >= 0 && agent < agentFailures.count && agentFailures[agent] >= 1 ? agentFailures[agent] : failuresToOpen
    }

    func coolDown(_ agent: Int) -> Millis {
        agent >= 0 && agent < agentCoolDownMs.count && agentCoolDownMs[agent] >= 0 ? agentCoolDownMs[agent] : coolDownMs
    }

    public func record(_ outcome: AttemptOutcome, nowMs: Millis, health: inout AgentHealth) {
        let failuresToOpen = threshold(outcome.agent), coolDownMs = coolDown(outcome.agent)
        let failed: Bool
        if let c = outcome.errorClass {
            guard countedClasses.contains(c) else { return }  // the task's fault: not a word about the agent
            failed = true
        } else { failed = false }
        switch (health.breaker, failed) {
        case (.closed, false):
            health.consecutiveFailures = 0
        case (.closed, true):
            health.consecutiveFailures += 1
            if health.consecutiveFailures >= failuresToOpen { health.breaker = .open(untilMs: nowMs + coolDownMs) }
        case (.halfOpen, _) where health.probeTask != outcome.task:
            break // not the probe: an attempt dispatched before the breaker opened
        case (.halfOpen, false):
            health.consecutiveFailures = 0
            health.breaker = .closed
        case (.halfOpen, true):
            health.consecutiveFailures += 1
            health.breaker = .open(untilMs: nowMs + coolDownMs)
        case (.open, _):
            break // see the table above: late results do not move an open breaker
        }
    }

    public func admit(agent: Int, nowMs: Millis, health: inout AgentHealth) -> Bool {
        switch health.breaker {
        case .closed:
            return true
        case .halfOpen:
            return health.probeTask < 0
        case .open(let until):
            guard nowMs >= until else { return false }
            health.breaker = .halfOpen
            return true
        }
    }
}

