// What every `JournalStore` checks about the records themselves, besides the expected
// sequence: a journal opens with `run_started` at seq 0, only there, naming its own run.
import EzflowRuntime

/// The record-level half of the journal boundary, shared by every `JournalStore`.
public enum JournalBoundary {
    /// Why `records` do not continue a journal of `expectedSeq` records (numbered
    /// `expectedSeq, expectedSeq + 1, …`), or nil when they do: contract point 2.
    public static func sequenceViolation(run runID: String, expectedSeq: Int, _ records: [JournalRecord]) -> String? {
        for (i, r) in records.enumerated() where r.seq != expectedSeq + i {
            return i == 0 ? "run `\(runID)`: batch starts at seq \(r.seq), expected \(expectedSeq)"
                : "run `\(runID)`: batch is not contiguous at seq \(r.seq) (expected \(expectedSeq + i))"
        }
        return nil
    }

    /// Why `records` cannot belong to run `runID`'s journal, or nil when they can.
    public static func identityViolation(run runID: String, _ records: [JournalRecord]) -> String? {
        for r in records {
            let isStart: Bool
            switch r.event {
            case .runStarted(let id, _, _, _, _, _, _):
                if id != runID { return "run `\(runID)`: record \(r.seq) starts run `\(id)`, not this one" }
                isStart = true
            case .taskSucceeded, .taskFailed, .timerFired, .approvalGiven, .approvalRefused, .agentHealth, .cancelRequested, .resumed,
                 .planUpgraded, .interrupted, .taskRedriven, .backendFallback:
                isStart = false
            }
            if isStart != (r.seq == 0) {
                return "run `\(runID)`: record \(r.seq) is `\(r.event.typeName)`; a journal starts with `run_started` at seq 0 and has it nowhere else"
            }
        }
        return nil
    }
}
