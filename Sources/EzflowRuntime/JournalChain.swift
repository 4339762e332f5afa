// The journal's hash chain: every record is bound to the one before it, and the first
// to the run's IR, so an edit of a stored record (its outputs, its cost, a timer's time),
// a deleted or reordered record, or other IR under the same run is found by recomputing
// the chain. The chain lives beside the records: their bytes (and replay goldens) are
// the same with or without it.
import EzflowIR

/// hash(seq) = SHA-256(hash(seq - 1) ‖ canonical bytes of record seq), hash(-1) = the
/// run's IR hash. Hashes are written `sha256:` + lowercase hex, and chained in that form.
public enum JournalChain {
    /// The canonical bytes of a record from its encoded parts: the journal line of
    /// `Journal.append` without its newline.
    public static func recordBytes(seq: Int, event: [UInt8], commands: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(event.count + commands.count + 40)
        out.append(contentsOf: Array(#"{"commands":"#.utf8))
        out.append(contentsOf: commands)
        out.append(contentsOf: Array(#","event":"#.utf8))
        out.append(contentsOf: event)
        out.append(contentsOf: Array(#","seq":"#.utf8))
        out.append(contentsOf: Array(String(seq).utf8))
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The canonical bytes of `record`.
    public static func recordBytes(_ record: JournalRecord) -> [UInt8] {
        recordBytes(seq: record.seq, event: Journal.eventBytes(record.event), commands: Journal.commandBytes(record.commands))
    }

    /// The hash of a record whose predecessor's hash is `previous`.
    public static func link(_ previous: String, _ recordBytes: [UInt8]) -> String {
        IRDocument.sha256(Array(previous.utf8), recordBytes)
    }

    /// The hashes of `records` (consecutive, from any seq) after `previous`.
    public static func hashes(after previous: String, _ records: [JournalRecord]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(records.count)
        var h = previous
        for r in records {
            h = link(h, recordBytes(r))
            out.append(h)
        }
        return out
    }
}

extension JournalChain {
    /// The first record of `lines` whose `chain` hash (when the line has one) is not the
    /// chain's from `seed`; nil when every present hash matches.
    public static func firstBreak(seed: String, _ lines: [(record: JournalRecord, chain: String?)]) -> ChainBreak? {
        for (line, h) in zip(lines, hashes(after: seed, lines.map(\.record))) where line.chain.map({ $0 != h }) ?? false {
            return ChainBreak(seq: line.record.seq, event: line.record.event)
        }
        return nil
    }
}

/// The first record whose stored hash is not the chain's: what an edited store looks like.
public struct ChainBreak: Sendable, Equatable {
    /// The record's seq.
    public var seq: Int
    /// The record as it is stored now.
    public var event: Event
    public init(seq: Int, event: Event) {
        self.seq = seq
        self.event = event
    }

    /// "journal record 7 (task_succeeded of task `build`) does not match its chain hash: the
    /// store was edited"; `taskName` turns a task index into its name (nil: the kind alone);
    /// `holder` is what was edited (the store, an exported file).
    public func message(holder: String = "the store", taskName: (Int) -> String?) -> String {
        var what = event.typeName
        if let t = event.chainTask, let name = taskName(t) { what += " of task `\(name)`" }
        return "journal record \(seq) (\(what)) does not match its chain hash: \(holder) was edited"
    }
}

extension Event {
    /// The task an event is about, if any (the chain's messages name it).
    var chainTask: Int? {
        switch self {
        case .taskSucceeded(let t, _, _, _, _, _), .taskFailed(let t, _, _, _, _, _, _, _), .approvalGiven(let t, _, _, _),
             .approvalRefused(let t, _, _, _),
             .taskRedriven(let t, _, _):
            t
        case .timerFired(let id, _):
            switch id {
            case .attemptTimeout(let t, _), .retryDue(let t, _), .approvalTimeout(let t, _, _): t
            case .deadline, .budgetTime, .wake, .groupBudgetTime: nil
            }
        case .runStarted, .agentHealth, .cancelRequested, .resumed, .planUpgraded, .interrupted, .backendFallback: nil
        }
    }
}
