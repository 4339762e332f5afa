// The one place redaction happens on the way into the journal: every event is redacted
// before the core folds it, and every attempt log before it is appended, so drivers
// hand over raw results and no secret reaches the store, the state or a report. Failure
// messages and logs may hold text a driver cut (a stderr tail, a body excerpt, a capped
// capture): they go through `redactCut`, which also removes a secret cut in two.
import EzflowAgents
import EzflowIR
import EzflowPorts
import EzflowRuntime

struct JournalWriter: Sendable {
    let redactor: Redactor

    /// `event` with every field that can carry text from outside redacted. Exhaustive on
    /// purpose: a new event kind must decide here what of it can hold a secret.
    func redact(_ event: Event) -> Event {
        switch event {
        case .taskSucceeded(let t, let a, let o, let c, let k, let at):
            .taskSucceeded(task: t, attempt: a, outputs: redactor.redact(o), costMicros: c, tokens: k, atMs: at)
        case .taskFailed(let t, let a, let cls, let m, let c, let k, let at, let wait):
            .taskFailed(task: t, attempt: a, errorClass: redactor.redact(cls), message: redactor.redactCut(m, marks: true), costMicros: c,
                        tokens: k, atMs: at, retryAfterMs: wait)
        case .cancelRequested(let r, let at):
            .cancelRequested(reason: redactor.redact(r), atMs: at)
        case .approvalGiven(let t, let p, let ok, let at):
            .approvalGiven(task: t, principal: redactor.redact(p), approved: ok, atMs: at)
        case .approvalRefused(let t, let p, let r, let at):
            .approvalRefused(task: t, principal: redactor.redact(p), reason: redactor.redact(r), atMs: at)
        case .taskRedriven(let t, let p, let at):
            .taskRedriven(task: t, principal: redactor.redact(p), atMs: at)
        case .backendFallback(let p, let r, let at):
            // The URL is already without its password; the reason is a server's message.
            .backendFallback(primary: redactor.redact(p), reason: redactor.redact(r), atMs: at)
        case .runStarted, .timerFired, .agentHealth, .resumed, .planUpgraded, .interrupted:
            // Ids, hashes, seeds, signal names and times only: produced by ezflow, never by a task.
            event
        }
    }

    /// An attempt's captured output as stored, numbered with its completion's seq.
    func redact(_ log: AttemptLogRow, seq: Int) -> AttemptLogRow {
        var l = log
        l.seq = seq
        // Captures are cut at their caps and bodies at the log limit, raw: a secret
        // split by the cut must not leave its first half behind. Stdout is often a JSON
        // document, whose escapes can hide a secret from the byte patterns.
        l.stdout = redactor.redactDocument(l.stdout, cut: true)
        l.stderr = redactor.redactCut(l.stderr)
        return l
    }
}
