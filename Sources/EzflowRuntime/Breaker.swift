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
    /// Error classes that do not count against the agent (the task's fault, not the agent's).
    public var ignoredClasses: Set<String>

    public init(failuresToOpen: Int = 5, coolDownMs: Millis = 30_000, ignoredClasses: Set<String> = ["conflict"]) {
        precondition(failuresToOpen >= 1 && coolDownMs >= 0, "invalid breaker settings")
        self.failuresToOpen = failuresToOpen
        self.coolDownMs = coolDownMs
        self.ignoredClasses = ignoredClasses
    }

    public func record(_ outcome: AttemptOutcome, nowMs: Millis, health: inout AgentHealth) {
        let failed: Bool
        if let c = outcome.errorClass { failed = !ignoredClasses.contains(c) } else { failed = false }
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

