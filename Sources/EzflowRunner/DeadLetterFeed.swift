// The backend's dead-letter feed (`WorkQueue.deadLetter`, contract point 12), made from
// journal records alone: the live coordinator and a resumed one derive the same entries
// (same seq, same values), so the feed's (run, seq, task) key makes the resume's second
// send a no-op, and an entry a crash kept from being written is written on the resume.
import EzflowPorts
import EzflowRuntime

public struct DeadLetterFeed {
    let runID: String
    /// Task names by plan index (a plan upgrade only adds tasks: old indices keep their names).
    var taskNames: [String]
    /// Each task's latest dead letter, which its re-drive repeats.
    private var last: [Int: DeadLetterEntry] = [:]

    public init(runID: String, taskNames: [String]) {
        self.runID = runID
        self.taskNames = taskNames
    }

    /// The entries `record` adds to the feed: one per task it dead-letters (its last
    /// attempt's class and message), one for a re-drive.
    public mutating func entries(of record: JournalRecord) -> [DeadLetterEntry] {
        var out: [DeadLetterEntry] = []
        for case .deadLetter(let t, let history) in record.commands {
            let h = history.last
            let e = DeadLetterEntry(runID: runID, seq: record.seq, task: t, taskName: name(t), kind: .deadLettered,
                                    errorClass: h?.errorClass ?? "", message: h?.message ?? "", attempts: history.count,
                                    atMs: h?.endedAtMs ?? record.event.atMs)
            last[t] = e
            out.append(e)
        }
        if case .taskRedriven(let t, let principal, let at) = record.event {
            let d = last[t]
            out.append(DeadLetterEntry(runID: runID, seq: record.seq, task: t, taskName: name(t), kind: .redriven,
                                       errorClass: d?.errorClass ?? "", message: d?.message ?? "", attempts: d?.attempts ?? 0,
                                       atMs: at, principal: principal))
        }
        return out
    }

    func name(_ t: Int) -> String { t >= 0 && t < taskNames.count ? taskNames[t] : "#\(t)" }
}
