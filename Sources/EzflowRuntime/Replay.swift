// Replay: folding a journal reproduces the state and the commands; a difference is a
// named determinism violation at the first divergent event.
import EzflowIR

/// The journal and the code disagree: the workflow, the runtime or the journal changed.
public struct DeterminismViolation: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable, Equatable {
        /// The core answered the event with other commands than the journal recorded.
        case commandsDiffer = "commands_differ"
        /// The event is illegal in the replayed state (`transition` has the details).
        case illegalEvent = "illegal_event"
        /// `seq` is not the record's position.
        case sequenceGap = "sequence_gap"
    }

    public var kind: Kind
    /// 0-based index of the first divergent record.
    public var index: Int
    public var event: Event
    /// Commands the journal recorded, and the commands the core produced now.
    public var expected: [Command]
    public var actual: [Command]
    public var transition: TransitionError?

    public var description: String {
        var s = "determinism violation (\(kind.rawValue)) at event #\(index) `\(event.typeName)`"
        if let transition { s += ": \(transition)" }
        if kind == .commandsDiffer {
            s += "\n  expected: " + Replay.render(expected) + "\n  actual:   " + Replay.render(actual)
        }
        return s
    }
}

/// A run being journaled: every event goes through `apply`, which steps the core and
/// records the event with its commands. What a shell keeps in memory (and appends to disk).
public struct JournaledRun: Sendable {
    public private(set) var state: RunState
    public private(set) var records: [JournalRecord] = []

    public init(plan: Plan, environment: RunEnvironment = RunEnvironment()) {
        state = RunState(plan: plan, environment: environment)
    }

    /// Steps the core; an illegal event is not journaled.
    public mutating func apply(_ event: Event) throws(TransitionError) -> [Command] {
        let seq = state.seq
        let commands = try Core.step(&state, event)
        records.append(JournalRecord(seq: seq, event: event, commands: commands))
        return commands
    }

    /// Moves the run onto `newPlan` (`RunState.migrated(to:)`) and journals
    /// `planUpgraded(fromHash:toHash:atMs:)`; returns that record's commands. On error the
    /// run is unchanged (a refused `planUpgraded`, e.g. time going backwards, is reported
    /// as a `MigrationError` too).
    public mutating func upgrade(to newPlan: Plan, atMs: Millis) throws(MigrationError) -> [Command] {
        let (next, record) = try state.upgraded(to: newPlan, atMs: atMs)
        state = next
        records.append(record)
        return record.commands
    }
}

extension RunState {
    /// The state migrated to `newPlan` with its `planUpgraded` event folded, and that
    /// event's journal record. `self` is left as it was.
    public func upgraded(to newPlan: Plan, atMs: Millis) throws(MigrationError) -> (RunState, JournalRecord) {
        var next = try migrated(to: newPlan)
        let seq = next.seq
        let event = Event.planUpgraded(fromHash: plan.hash, toHash: newPlan.hash, atMs: atMs)
        let commands: [Command]
        do { commands = try Core.step(&next, event) } catch { throw MigrationError(message: error.description) }
        return (next, JournalRecord(seq: seq, event: event, commands: commands))
    }
}

/// Folding and verifying journals.
public enum Replay {
    /// Folds `events` from a fresh state and journals them (commands computed now).
    public static func fold(plan: Plan, events: [Event], environment: RunEnvironment = RunEnvironment())
        throws(DeterminismViolation) -> JournaledRun
    {
        var run = JournaledRun(plan: plan, environment: environment)
        for (i, e) in events.enumerated() {
            do { _ = try run.apply(e) } catch {
                throw DeterminismViolation(kind: .illegalEvent, index: i, event: e, expected: [], actual: [], transition: error)
            }
        }
        return run
    }

    /// Re-folds the journal's events and checks each recorded command list; returns the
    /// final state, or throws at the first divergent record.
    public static func verify(plan: Plan, journal: [JournalRecord], environment: RunEnvironment = RunEnvironment())
        throws(DeterminismViolation) -> RunState
    {
        try verify(plans: [plan], journal: journal, environment: environment)
    }

    /// `verify(plan:journal:environment:)` for a run that moved to new plans: folds from
    /// `plans[0]` (the plan of `run_started`) and, at each `plan_upgraded` record, first
    /// migrates the state to the plan of `plans` whose hash is the record's `to` (an
    /// unknown hash or a refused migration is an `illegal_event` violation at that
    /// record, code R0004), then checks the record's commands as usual.
    public static func verify(plans: [Plan], journal: [JournalRecord], environment: RunEnvironment = RunEnvironment())
        throws(DeterminismViolation) -> RunState
    {
        precondition(!plans.isEmpty, "Replay.verify needs at least one plan")
        var state = RunState(plan: plans[0], environment: environment)
        for (i, r) in journal.enumerated() {
            guard r.seq == i else {
                throw DeterminismViolation(kind: .sequenceGap, index: i, event: r.event, expected: r.commands, actual: [], transition: nil)
            }
            if case .planUpgraded(_, let to, _) = r.event, state.plan.hash != to || !state.upgradePending {
                func refuse(_ m: String) -> DeterminismViolation {
                    DeterminismViolation(kind: .illegalEvent, index: i, event: r.event, expected: r.commands, actual: [],
                                         transition: TransitionError(code: "R0004", message: m, task: nil, history: []))
                }
                guard let next = plans.first(where: { $0.hash == to }) else {
                    throw refuse("`plan_upgraded` to plan \(to), which is not among the plans given to replay ("
                                 + plans.map(\.hash).joined(separator: ", ") + ")")
                }
                do { state = try state.migrated(to: next) } catch { throw refuse(error.description) }
            }
            let actual: [Command]
            do { actual = try Core.step(&state, r.event) } catch {
                throw DeterminismViolation(kind: .illegalEvent, index: i, event: r.event, expected: r.commands, actual: [], transition: error)
            }
            guard actual == r.commands || actual.map(\.withoutGateExtras).compactMap({ $0 }) == r.commands else {
                throw DeterminismViolation(kind: .commandsDiffer, index: i, event: r.event, expected: r.commands, actual: actual, transition: nil)
            }
        }
        return state
    }

    /// Commands as canonical JSON, for messages.
    public static func render(_ commands: [Command]) -> String {
        var s = CanonicalStream()
        s.beginArray()
        for c in commands { c.encode(into: &s) }
        s.endArray()
        return String(decoding: s.bytes, as: UTF8.self)
    }
}

extension Command {
    /// The command as a core without approval-gate timeouts wrote it: a request without
    /// its question, no gate timer (nil). A record written before gates had them replays
    /// when it matches this way (the gate's timer is set again on `resumed`).
    var withoutGateExtras: Command? {
        switch self {
        case .requestApproval(let t, let reason, _): .requestApproval(task: t, reason: reason)
        case .setTimer(.approvalTimeout, _): nil
        case .dispatch, .setTimer, .cancel, .deadLetter, .finishRun: self
        }
    }
}
