// The backend's dead-letter feed (`WorkQueue.deadLetter`, contract point 12), made from
// journal records alone: the live coordinator and a resumed one derive the same entries
// (same seq, same values), so the feed's (run, seq, task, kind) key makes the resume's
// second send a no-op, and an entry a crash kept from being written is written on the
// resume. Where the store is a `TurnStore` the entries ride in the journal append itself.
import EzflowPorts
import EzflowRuntime

public struct DeadLetterFeed {
    let runID: String
    /// Task names by plan index, per plan version: a `plan_upgraded` record moves to the
    /// next (an upgrade maps tasks by name, so an index may name another task after it).
    let versions: [[String]]
    var version = 0
    /// Each task's latest dead letter (by name), which its re-drive repeats.
    private var last: [String: DeadLetterEntry] = [:]

    public init(runID: String, versions: [[String]]) {
        self.runID = runID
        self.versions = versions
    }

    /// The entries `record` adds to the feed: one for a re-drive (first: it came before
    /// what the record then decided), one per task it dead-letters (its last attempt's
    /// class and message).
    public mutating func entries(of record: JournalRecord) -> [DeadLetterEntry] {
        var out: [DeadLetterEntry] = []
        switch record.event {
        case .planUpgraded:
            version = min(version + 1, versions.count - 1)
        case .taskRedriven(let t, let principal, let at):
            // Only a re-drive of a dead-lettered task moved it (a journal may hold one that
            // changed nothing: a second request folded after the first).
            guard let d = last.removeValue(forKey: name(t)) else { break }
            out.append(DeadLetterEntry(runID: runID, seq: record.seq, task: t, taskName: name(t), kind: .redriven,
                                       errorClass: d.errorClass, message: d.message, attempts: d.attempts,
                                       atMs: at, principal: principal))
        default:
            break
        }
        for case .deadLetter(let t, let history) in record.commands {
            let h = history.last
            let e = DeadLetterEntry(runID: runID, seq: record.seq, task: t, taskName: name(t), kind: .deadLettered,
                                    errorClass: h?.errorClass ?? "", message: h?.message ?? "", attempts: history.count,
                                    atMs: h?.endedAtMs ?? record.event.atMs)
            last[e.taskName] = e
            out.append(e)
        }
        return out
    }

    func name(_ t: Int) -> String {
        let names = versions.isEmpty ? [] : versions[version]
        return t >= 0 && t < names.count ? names[t] : "#\(t)"
    }
}
