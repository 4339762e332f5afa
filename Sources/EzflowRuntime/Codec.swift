// The journal's stable JSON encoding: hand-written with CanonicalStream (no Codable),
// parsed with JSONParser. Keys are written in canonical (UTF-8 byte) order.
import EzflowIR

/// Why a journal line could not be decoded.
public struct JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number in the file (0 when decoding a single value).
    public var line: Int
    public var message: String
    public var description: String { line > 0 ? "journal line \(line): \(message)" : "journal: \(message)" }
}

/// One journal line: the event and the commands the core answered with. Replay checks
/// the recorded commands against a fresh fold.
public struct JournalRecord: Sendable, Equatable {
    /// 0-based index of the event (`RunState.seq` before it).
    public var seq: Int
    public var event: Event
    public var commands: [Command]
    public init(seq: Int, event: Event, commands: [Command]) {
        self.seq = seq
        self.event = event
        self.commands = commands
    }
}

// MARK: - Decoding helpers

struct Fields {
    let value: JSONValue
    let what: String
    func err(_ m: String) -> JournalError { JournalError(line: 0, message: "\(what): \(m)") }
    func int(_ k: String) throws(JournalError) -> Int64 {
        guard case .int(let i)? = value[k] else { throw err("`\(k)` must be an integer") }
        return i
    }
    func small(_ k: String) throws(JournalError) -> Int {
        let i = try int(k)
        guard i >= -1 && i <= Int64(Int32.max) else { throw err("`\(k)` out of range: \(i)") }
        return Int(i)
    }
    func string(_ k: String) throws(JournalError) -> String {
        guard case .string(let s)? = value[k] else { throw err("`\(k)` must be a string") }
        return s
    }
    func bool(_ k: String) throws(JournalError) -> Bool {
        guard case .bool(let b)? = value[k] else { throw err("`\(k)` must be a boolean") }
        return b
    }
    func any(_ k: String) throws(JournalError) -> JSONValue {
        guard let v = value[k] else { throw err("`\(k)` is missing") }
        return v
    }
}

extension TimerID {
    /// Parses the journal text form (`timeout/3/1`, `retry/3/2`, `approval/3/1/0`, `deadline`, `budget`,
    /// `budget/<group>`, `wake`).
    public init?(text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            switch parts[0] {
            case "deadline": self = .deadline
            case "budget": self = .budgetTime
            case "wake": self = .wake
            default: return nil
            }
        case 2:
            guard parts[0] == "budget", let g = Int(parts[1]), g >= 0, String(g) == parts[1] else { return nil }
            self = .groupBudgetTime(group: g)
        case 4:
            guard parts[0] == "approval", let t = Int(parts[1]), let a = Int(parts[2]), let s = Int(parts[3]), t >= 0, a >= 0, s >= 0
            else { return nil }
            self = .approvalTimeout(task: t, attempt: a, stage: s)
        case 3:
            guard let t = Int(parts[1]), let a = Int(parts[2]), t >= 0, a >= 0 else { return nil }
            switch parts[0] {
            case "timeout": self = .attemptTimeout(task: t, attempt: a)
            case "retry": self = .retryDue(task: t, attempt: a)
            default: return nil
            }
        default: return nil
        }
    }
}

// MARK: - Event

/// The closed vocabulary of events, spelled as in the journal's `type` field. `Event.kind`
/// is an exhaustive switch, so a new `Event` case cannot compile without a kind here, and
/// the codec tests iterate `allCases`, so it cannot pass without a round-trip case there.
public enum EventKind: String, Sendable, CaseIterable {
    case runStarted = "run_started"
    case taskSucceeded = "task_succeeded"
    case taskFailed = "task_failed"
    case timerFired = "timer_fired"
    case approvalGiven = "approval_given"
    case agentHealth = "agent_health"
    case cancelRequested = "cancel_requested"
    case resumed
    case approvalRefused = "approval_refused"
    case planUpgraded = "plan_upgraded"
    case interrupted
    case taskRedriven = "task_redriven"
    case backendFallback = "backend_fallback"
}

extension Event {
    /// The event's kind (its case without the payload).
    public var kind: EventKind {
        switch self {
        case .runStarted: .runStarted
        case .taskSucceeded: .taskSucceeded
        case .taskFailed: .taskFailed
        case .timerFired: .timerFired
        case .approvalGiven: .approvalGiven
        case .agentHealth: .agentHealth
        case .cancelRequested: .cancelRequested
        case .resumed: .resumed
        case .approvalRefused: .approvalRefused
        case .planUpgraded: .planUpgraded
        case .interrupted: .interrupted
        case .taskRedriven: .taskRedriven
        case .backendFallback: .backendFallback
        }
    }

    /// The `type` of the event in the journal.
    public var typeName: String { kind.rawValue }

    /// Writes the event as one canonical JSON object.
    public func encode(into s: inout CanonicalStream) {
        s.beginObject()
        switch self {
        case .runStarted(let run, let seed, let hash, let limits, let at, _, let prior):
            s.key("at_ms"); s.int(at)
            s.key("plan"); s.string(hash)
            // Omitted when absent: journals without it stay byte-identical.
            if let prior { s.key("prior"); prior.encode(into: &s) }
            s.key("run"); s.string(run)
            s.key("seed"); s.string(String(seed))
            s.key("tag_limits"); s.beginObject()
            for k in limits.keys.sorted(by: JSONValue.keyLess) { s.key(k); s.int(limits[k]!) }
            s.endObject()
        case .taskSucceeded(let t, let a, let outputs, let cost, let tokens, let at):
            s.key("at_ms"); s.int(at)
            s.key("attempt"); s.int(a)
            s.key("cost_micros"); s.int(cost)
            s.key("outputs"); s.value(outputs)
            s.key("task"); s.int(t)
            s.key("tokens"); s.int(tokens)
        case .taskFailed(let t, let a, let cls, let message, let cost, let tokens, let at, let retryAfter):
            s.key("at_ms"); s.int(at)
            s.key("attempt"); s.int(a)
            s.key("class"); s.string(cls)
            s.key("cost_micros"); s.int(cost)
            s.key("message"); s.string(message)
            // Omitted when absent: journals without it stay byte-identical.
            if let retryAfter { s.key("retry_after_ms"); s.int(retryAfter) }
            s.key("task"); s.int(t)
            s.key("tokens"); s.int(tokens)
        case .timerFired(let id, let at):
            s.key("at_ms"); s.int(at)
            s.key("timer"); s.string(id.description)
        case .approvalGiven(let t, let principal, let approved, let at):
            s.key("approved"); s.bool(approved)
            s.key("at_ms"); s.int(at)
            s.key("principal"); s.string(principal)
            s.key("task"); s.int(t)
        case .approvalRefused(let t, let principal, let reason, let at):
            s.key("at_ms"); s.int(at)
            s.key("principal"); s.string(principal)
            s.key("reason"); s.string(reason)
            s.key("task"); s.int(t)
        case .backendFallback(let primary, let reason, let at):
            s.key("at_ms"); s.int(at)
            s.key("primary"); s.string(primary)
            s.key("reason"); s.string(reason)
        case .agentHealth(let g, let healthy, let at):
            s.key("agent"); s.int(g)
            s.key("at_ms"); s.int(at)
            s.key("healthy"); s.bool(healthy)
        case .cancelRequested(let reason, let at):
            s.key("at_ms"); s.int(at)
            s.key("reason"); s.string(reason)
        case .resumed(let at, let restarts):
            s.key("at_ms"); s.int(at)
            // Written only when set: journals from before it keep their bytes (and chain).
            if restarts { s.key("restarts_attempts"); s.bool(true) }
        case .planUpgraded(let from, let to, let at):
            s.key("at_ms"); s.int(at)
            s.key("from"); s.string(from)
            s.key("to"); s.string(to)
        case .interrupted(let signal, let drain, let at):
            s.key("at_ms"); s.int(at)
            s.key("drain"); s.bool(drain)
            s.key("signal"); s.string(signal)
        case .taskRedriven(let t, let principal, let at):
            s.key("at_ms"); s.int(at)
            s.key("principal"); s.string(principal)
            s.key("task"); s.int(t)
        }
        s.key("type"); s.string(typeName)
        // After `type` in the canonical key order; omitted when empty, as old journals are.
        if case .runStarted(_, _, _, _, _, let unhealthy, _) = self, !unhealthy.isEmpty {
            s.key("unhealthy"); s.beginArray()
            for g in unhealthy { s.int(Int64(g)) }
            s.endArray()
        }
        s.endObject()
    }

    /// Reads an event written by `encode(into:)`.
    public static func decode(_ v: JSONValue) throws(JournalError) -> Event {
        let f = Fields(value: v, what: "event")
        let at = try f.int("at_ms")
        let type = try f.string("type")
        guard let kind = EventKind(rawValue: type) else { throw f.err("unknown type `\(type)`") }
        switch kind {
        case .runStarted:
            guard let seed = UInt64(try f.string("seed")) else { throw f.err("`seed` must be a decimal UInt64 string") }
            guard case .object(let m) = try f.any("tag_limits") else { throw f.err("`tag_limits` must be an object") }
            var limits: [String: Int] = [:]
            for (k, x) in m {
                guard case .int(let i) = x, i >= 0, i <= Int64(Int32.max) else { throw f.err("tag limit `\(k)` must be an integer >= 0") }
                limits[k] = Int(i)
            }
            var unhealthy: [Int] = []
            if case .array(let xs)? = v["unhealthy"] {
                for x in xs {
                    guard case .int(let g) = x, g >= 0, g <= Int64(Int32.max) else { throw f.err("`unhealthy` must list agent ids") }
                    unhealthy.append(Int(g))
                }
            } else if v["unhealthy"] != nil { throw f.err("`unhealthy` must be an array") }
            return .runStarted(runID: try f.string("run"), seed: seed, planHash: try f.string("plan"), tagLimits: limits, atMs: at,
                               unhealthy: unhealthy, prior: v["prior"] == nil ? nil : try LearnedPrior.decode(try f.any("prior")))
        case .taskSucceeded:
            return .taskSucceeded(task: try f.small("task"), attempt: try f.small("attempt"), outputs: try f.any("outputs"),
                                  costMicros: try f.int("cost_micros"), tokens: try f.int("tokens"), atMs: at)
        case .taskFailed:
            return .taskFailed(task: try f.small("task"), attempt: try f.small("attempt"), errorClass: try f.string("class"),
                               message: try f.string("message"), costMicros: try f.int("cost_micros"), tokens: try f.int("tokens"), atMs: at,
                               retryAfterMs: v["retry_after_ms"] == nil ? nil : try f.int("retry_after_ms"))
        case .timerFired:
            let text = try f.string("timer")
            guard let id = TimerID(text: text) else { throw f.err("unknown timer `\(text)`") }
            return .timerFired(id, atMs: at)
        case .approvalGiven:
            return .approvalGiven(task: try f.small("task"), principal: try f.string("principal"), approved: try f.bool("approved"), atMs: at)
        case .approvalRefused:
            return .approvalRefused(task: try f.small("task"), principal: try f.string("principal"), reason: try f.string("reason"), atMs: at)
        case .backendFallback:
            return .backendFallback(primary: try f.string("primary"), reason: try f.string("reason"), atMs: at)
        case .agentHealth:
            return .agentHealth(agent: try f.small("agent"), healthy: try f.bool("healthy"), atMs: at)
        case .cancelRequested:
            return .cancelRequested(reason: try f.string("reason"), atMs: at)
        case .resumed:
            return .resumed(atMs: at, restartsAttempts: v["restarts_attempts"] == nil ? false : try f.bool("restarts_attempts"))
        case .planUpgraded:
            return .planUpgraded(fromHash: try f.string("from"), toHash: try f.string("to"), atMs: at)
        case .interrupted:
            return .interrupted(signal: try f.string("signal"), drain: try f.bool("drain"), atMs: at)
        case .taskRedriven:
            return .taskRedriven(task: try f.small("task"), principal: try f.string("principal"), atMs: at)
        }
    }
}

// MARK: - Command

extension AttemptRecord {
    func encode(into s: inout CanonicalStream) {
        s.beginObject()
        s.key("agent"); s.int(agent)
        s.key("attempt"); s.int(attempt)
        s.key("class"); s.string(errorClass)
        s.key("cost_micros"); s.int(costMicros)
        s.key("ended_ms"); s.int(endedAtMs)
        s.key("message"); s.string(message)
        s.key("started_ms"); s.int(startedAtMs)
        s.key("tokens"); s.int(tokens)
        s.endObject()
    }

    static func decode(_ v: JSONValue) throws(JournalError) -> AttemptRecord {
        let f = Fields(value: v, what: "attempt record")
        var cls: String? = nil
        if case .string(let c)? = v["class"] { cls = c }
        return AttemptRecord(attempt: try f.small("attempt"), agent: try f.small("agent"), errorClass: cls, message: try f.string("message"),
                             startedAtMs: try f.int("started_ms"), endedAtMs: try f.int("ended_ms"),
                             costMicros: try f.int("cost_micros"), tokens: try f.int("tokens"))
    }
}

/// The closed vocabulary of commands, spelled as in the journal's `type` field; see
/// `EventKind` for why it exists.
public enum CommandKind: String, Sendable, CaseIterable {
    case dispatch
    case setTimer = "set_timer"
    case cancel
    case requestApproval = "request_approval"
    case deadLetter = "dead_letter"
    case finishRun = "finish_run"
}

extension Command {
    /// The command's kind (its case without the payload).
    public var kind: CommandKind {
        switch self {
        case .dispatch: .dispatch
        case .setTimer: .setTimer
        case .cancel: .cancel
        case .requestApproval: .requestApproval
        case .deadLetter: .deadLetter
        case .finishRun: .finishRun
        }
    }

    /// Writes the command as one canonical JSON object (`type` names the case).
    public func encode(into s: inout CanonicalStream) {
        s.beginObject()
        switch self {
        case .dispatch(let t, let a, let g, let key, let cap):
            s.key("agent"); s.int(g)
            s.key("attempt"); s.int(a)
            // Only a capped attempt names its cap, so journals without one read as before.
            if let cap { s.key("cap_tokens"); s.int(cap) }
            s.key("key"); s.string(key)
            s.key("task"); s.int(t)
            s.key("type"); s.string(CommandKind.dispatch.rawValue)
        case .setTimer(let id, let at):
            s.key("at_ms"); s.int(at)
            s.key("timer"); s.string(id.description)
            s.key("type"); s.string(CommandKind.setTimer.rawValue)
        case .cancel(let t, let a):
            s.key("attempt"); s.int(a)
            s.key("task"); s.int(t)
            s.key("type"); s.string(CommandKind.cancel.rawValue)
        case .requestApproval(let t, let reason, let text):
            if case .conflict(let o) = reason { s.key("output"); s.string(o) }
            s.key("task"); s.int(t)
            if let text { s.key("text"); s.string(text) }
            s.key("type"); s.string(CommandKind.requestApproval.rawValue)
        case .deadLetter(let t, let history):
            s.key("history"); s.beginArray()
            for r in history { r.encode(into: &s) }
            s.endArray()
            s.key("task"); s.int(t)
            s.key("type"); s.string(CommandKind.deadLetter.rawValue)
        case .finishRun(let v):
            s.key("type"); s.string(CommandKind.finishRun.rawValue)
            s.key("verdict"); s.string(v.rawValue)
        }
        s.endObject()
    }

    /// Reads a command written by `encode(into:)`.
    public static func decode(_ v: JSONValue) throws(JournalError) -> Command {
        let f = Fields(value: v, what: "command")
        let type = try f.string("type")
        guard let kind = CommandKind(rawValue: type) else { throw f.err("unknown type `\(type)`") }
        switch kind {
        case .dispatch:
            let cap: Int64? = v["cap_tokens"] == nil ? nil : try f.int("cap_tokens")
            return .dispatch(task: try f.small("task"), attempt: try f.small("attempt"), agent: try f.small("agent"), idempotencyKey: try f.string("key"),
                             tokenCap: cap)
        case .setTimer:
            let text = try f.string("timer")
            guard let id = TimerID(text: text) else { throw f.err("unknown timer `\(text)`") }
            return .setTimer(id, atMs: try f.int("at_ms"))
        case .cancel:
            return .cancel(task: try f.small("task"), attempt: try f.small("attempt"))
        case .requestApproval:
            let text: String? = v["text"] == nil ? nil : try f.string("text")
            if v["output"] != nil {
                return .requestApproval(task: try f.small("task"), reason: .conflict(output: try f.string("output")), text: text)
            }
            return .requestApproval(task: try f.small("task"), reason: .gate, text: text)
        case .deadLetter:
            guard case .array(let xs) = try f.any("history") else { throw f.err("`history` must be an array") }
            var h: [AttemptRecord] = []
            for x in xs { h.append(try AttemptRecord.decode(x)) }
            return .deadLetter(task: try f.small("task"), history: h)
        case .finishRun:
            let text = try f.string("verdict")
            guard let verdict = Verdict(rawValue: text) else { throw f.err("unknown verdict `\(text)`") }
            return .finishRun(verdict)
        }
    }
}

// MARK: - Journal

/// The journal file: JSON lines, one `JournalRecord` per line
/// (`{"commands":[…],"event":{…},"seq":n}`), canonical, `\n`-terminated.
public enum Journal {
    /// Appends one record as a canonical line (with its `\n`).
    public static func append(_ r: JournalRecord, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: JournalChain.recordBytes(r))
        bytes.append(UInt8(ascii: "\n"))
    }

    /// The canonical bytes of an event (a journal row's `event` column).
    public static func eventBytes(_ e: Event) -> [UInt8] {
        var s = CanonicalStream(capacity: 128)
        e.encode(into: &s)
        return s.bytes
    }

    /// An event read back from `eventBytes` (a store's `event` column); every store wraps
    /// the error as its own `corrupt` failure.
    public static func event(from bytes: [UInt8]) throws(JournalError) -> Event {
        let v: JSONValue
        do throws(JSONParseError) { v = try JSONParser.parse(bytes) } catch {
            throw JournalError(line: 0, message: "event: \(error.description)")
        }
        return try Event.decode(v)
    }

    /// Commands read back from `commandBytes` (a store's `commands` column).
    public static func commands(from bytes: [UInt8]) throws(JournalError) -> [Command] {
        let v: JSONValue
        do throws(JSONParseError) { v = try JSONParser.parse(bytes) } catch {
            throw JournalError(line: 0, message: "commands: \(error.description)")
        }
        guard case .array(let xs) = v else { throw JournalError(line: 0, message: "commands must be an array") }
        var out: [Command] = []
        out.reserveCapacity(xs.count)
        for x in xs { out.append(try Command.decode(x)) }
        return out
    }

    /// The canonical bytes of a record's commands (a journal row's `commands` column).
    public static func commandBytes(_ cs: [Command]) -> [UInt8] {
        var s = CanonicalStream(capacity: 64)
        s.beginArray()
        for c in cs { c.encode(into: &s) }
        s.endArray()
        return s.bytes
    }

    /// The whole journal as bytes.
    public static func encode(_ records: [JournalRecord]) -> [UInt8] {
        var out: [UInt8] = []
        for r in records { append(r, to: &out) }
        return out
    }

    /// The journal as an export: each line is the record's members plus `chain`, its
    /// chain hash from `chainSeed` (the run's IR hash), so a replay of the file checks it.
    public static func encode(_ records: [JournalRecord], chainSeed: String) -> [UInt8] {
        var out: [UInt8] = []
        var h = chainSeed
        for r in records {
            let bytes = JournalChain.recordBytes(r)
            h = JournalChain.link(h, bytes)
            // `chain` sorts before `commands`: the line stays canonical.
            out.append(contentsOf: Array(#"{"chain":"#.utf8))
            CanonicalJSON.write(.string(h), into: &out)
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: bytes.dropFirst())
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Parses a journal; blank lines are skipped, anything else must be a record.
    public static func decode(_ bytes: [UInt8]) throws(JournalError) -> [JournalRecord] {
        try decodeChained(bytes).map(\.record)
    }

    /// `decode`, with each line's `chain` hash when it has one (an export).
    public static func decodeChained(_ bytes: [UInt8]) throws(JournalError) -> [(record: JournalRecord, chain: String?)] {
        var records: [(record: JournalRecord, chain: String?)] = []
        var line = 0
        var start = 0
        while start < bytes.count {
            line += 1
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            let slice = Array(bytes[start..<end])
            start = end + 1
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            do throws(JournalError) {
                let v: JSONValue
                do { v = try JSONParser.parse(slice) } catch { throw JournalError(line: 0, message: error.description) }
                let f = Fields(value: v, what: "record")
                guard case .array(let cs) = try f.any("commands") else { throw f.err("`commands` must be an array") }
                var commands: [Command] = []
                for c in cs { commands.append(try Command.decode(c)) }
                let chain: String? = v["chain"] == nil ? nil : try f.string("chain")
                records.append((JournalRecord(seq: try f.small("seq"), event: try Event.decode(try f.any("event")), commands: commands), chain))
            } catch {
                throw JournalError(line: line, message: error.message)
            }
        }
        return records
    }
}
