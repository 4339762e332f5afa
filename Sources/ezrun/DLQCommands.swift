// `ezrun dlq list|show|retry`: the dead-lettered tasks of a store, one task's whole
// attempt history, and the re-drive of a dead-lettered task (posted to the run's inbox:
// only the run's writer appends; docs/RUNNING.md, "Dead letters").
import EzflowBackends
import EzflowCLI
import EzflowIR
import EzflowPorts
import EzflowReport
import EzflowRunner
import EzflowRuntime
import EzflowStore
import EzflowUnits
import Foundation

extension CLI {
    static func iso(_ ms: Millis) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// The first line of a message, for one-line listings (`cell`).
    static func oneLine(_ s: String) -> String {
        cell(String(s.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""))
    }

    /// A value a task wrote, for a tab-separated line on a terminal: no control character
    /// (an escape sequence could repaint the screen), no tab, no newline.
    static func cell(_ s: String) -> String {
        Format.stripControls(s, keepNewlines: false).replacingOccurrences(of: "\t", with: " ")
    }

    static func dlqList(_ a: Args) -> Int32 {
        let store = openStore(storePath(a), readOnly: true)
        var ids: [String]
        if let r = a.value("--run") { ids = [r] } else {
            do { ids = try store.runs().map(\.runID) } catch { fail(error) }
        }
        var rows: [JSONValue] = []
        var text = ""
        for id in ids {
            let run: StoredRun
            do {
                switch try StoredRun.replay(store: store, runID: id) {
                case .reproduced(let r): run = r
                case .diverged(let v):
                    Console.err("ezrun: run \(id) left out: this build does not replay it (\(v))\n")
                    continue
                }
            } catch { fail(error) }
            for t in 0..<run.plan.taskCount where run.state.tasks[t] == .deadLettered {
                let last = run.state.history[t].last
                let name = run.plan.taskNames[t], cls = last?.errorClass ?? "-", msg = oneLine(last?.message ?? "")
                let when = last?.endedAtMs ?? run.state.nowMs
                rows.append(.object([("attempts", .int(Int64(run.state.attempts[t]))), ("class", .string(cls)),
                                     ("ended_at", .string(iso(when))), ("message", .string(last?.message ?? "")),
                                     ("run_id", .string(id)), ("task", .string(name))]))
                text += "\(id)\t\(name)\t\(cell(cls))\t\(run.state.attempts[t])\t\(iso(when))\t\(msg)\n"
            }
        }
        if a.flags.contains("--json") {
            printJSON(.object([("dead_letters", .array(rows))]))
        } else if rows.isEmpty {
            Console.out("no dead-lettered tasks" + "\n")
        } else {
            Console.out(("RUN\tTASK\tCLASS\tATTEMPTS\tENDED\tMESSAGE\n" + text))
        }
        return 0
    }

    /// The run and task a `dlq show`/`retry` names, or exit 2.
    static func dlqTask(_ store: any JournalStore, _ runID: String, _ taskName: String) -> (StoredRun, Int) {
        let run: StoredRun
        do { run = try StoredRun.load(store: store, runID: runID) } catch { fail(error) }
        guard let t = run.plan.taskNames.firstIndex(of: taskName) else { fail("run `\(runID)` has no task `\(taskName)`") }
        return (run, t)
    }

    static func dlqShow(_ a: Args) -> Int32 {
        let store = openStore(storePath(a), readOnly: true)
        let (run, t) = dlqTask(store, a.positional[0], a.positional[1])
        let journal: [JournalRecord]
        do { journal = try store.journal(run: run.info.runID, from: 0) } catch { fail(error) }
        let redrives = journal.compactMap { r -> (principal: String, atMs: Millis)? in
            if case .taskRedriven(t, let p, let at) = r.event { (p, at) } else { nil }
        }
        let plan = run.plan
        func agent(_ g: Int) -> String { plan.agentLabel(g) }
        if a.flags.contains("--json") {
            let attempts: [JSONValue] = run.state.history[t].map { h in
                .object([("agent", .string(agent(h.agent))), ("attempt", .int(Int64(h.attempt))), ("class", h.errorClass.map { .string($0) } ?? .null),
                         ("cost_micros", .int(h.costMicros)), ("duration_ms", .int(h.endedAtMs - h.startedAtMs)),
                         ("ended_at", .string(iso(h.endedAtMs))), ("message", .string(h.message)), ("tokens", .int(h.tokens))])
            }
            let doc: JSONValue = .object([
                ("attempts", .array(attempts)),
                ("redrives", .array(redrives.map { .object([("at", .string(iso($0.atMs))), ("principal", .string($0.principal))]) })),
                ("run_id", .string(run.info.runID)), ("state", .string(run.state.tasks[t].name)), ("task", .string(plan.taskNames[t])),
            ])
            printJSON(doc)
            return 0
        }
        var out = "task \(plan.taskNames[t]) of run \(run.info.runID): \(run.state.tasks[t].name), \(Units.counted(run.state.history[t].count, "attempt"))\n"
        var pending = redrives[...]
        for h in run.state.history[t] {
            while let r = pending.first, r.atMs <= h.startedAtMs {
                out += "  re-driven by \(r.principal) at \(iso(r.atMs))\n"
                pending = pending.dropFirst()
            }
            out += "  attempt \(h.attempt) on \(agent(h.agent)): \(cell(h.errorClass ?? "succeeded")), \(h.endedAtMs - h.startedAtMs) ms, "
            out += "\(Units.money(h.costMicros)), \(Units.counted(h.tokens, "token"))\n"
            for line in h.message.split(separator: "\n", omittingEmptySubsequences: false) where !h.message.isEmpty {
                out += "    \(cell(String(line)))\n"
            }
        }
        for r in pending { out += "  re-driven by \(r.principal) at \(iso(r.atMs))\n" }
        Console.out(out)
        return 0
    }

    static func dlqRetry(_ a: Args) -> Int32 {
        let flags = RunFlags(a)
        let store = openStore(flags.config.storePath, readOnly: false)
        let (run, t) = dlqTask(store, a.positional[0], a.positional[1])
        let (runID, taskName) = (run.info.runID, a.positional[1])
        if let why = run.state.redriveRefusal(t, at: nowMs()) { fail("cannot re-drive `\(taskName)` of run \(runID): \(why)") }
        let who: String
        if let p = flags.config.principal {
            // Re-driving runs the workflow again: the `run` permission, as for resume.
            let d = Access(workflow: run.program.document).canRun(p, inputs: run.inputs)
            do {
                try store.audit(AuditEntry(runID: runID, principal: p.name, action: "redrive", target: taskName, allowed: d.allowed,
                                           reason: d.reason, atMs: nowMs()))
            } catch { fail(error) }
            guard d.allowed else { fail("access refused: \(d.reason)") }
            who = p.name
        } else {
            who = ProcessInfo.processInfo.environment["USER"] ?? "local"
        }
        do {
            _ = try store.post(InboxItem(runID: runID, kind: .redrive, task: taskName, principal: who, approved: false, refusal: nil,
                                         comment: "", createdMs: nowMs()))
        } catch { fail(error) }
        // On a backend, the run's coordinator (or a standby that adopts it) folds the request.
        if Backend.kind(of: flags.config.storePath) != nil {
            // Standbys adopt running runs only: a finished one is resumed by hand. A URL
            // with a password is not printed, so the command cannot hold it.
            let url = flags.config.storePath
            let resume = Backend.redacted(url) == url ? "ezrun resume \(runID) --backend \(url)"
                : "ezrun resume \(runID), with $EZFLOW_BACKEND set to the URL given (its password is not printed)"
            let next = run.info.status == .running ? "the run's coordinator (or a standby that adopts it) folds it; if none runs: \(resume)"
                : "continue with: \(resume)"
            Console.out("re-drive of `\(taskName)` of run \(runID) posted; \(next)" + "\n")
            return 0
        }
        if a.flags.contains("--no-resume") {
            let db = flags.config.storePath == DurableStore.defaultPath ? "" : " \(flags.storeFlag)"
            Console.out("re-drive of `\(taskName)` of run \(runID) posted; continue with: ezrun resume \(runID)\(db)" + "\n")
            return 0
        }
        if let pid = FileRunLease(storePath: flags.config.storePath).holder(run: runID) {
            Console.out("re-drive of `\(taskName)` of run \(runID) posted; the ezrun running it\(pid.isEmpty ? "" : " (pid \(pid))") folds it" + "\n")
            return 0
        }
        Signals.prepareRunner()
        let runner: Runner
        do { runner = try Runner.resume(runID: runID, config: flags.config) } catch { fail(error) }
        if !flags.quiet { Console.err("ezrun: re-driving `\(taskName)` of run \(runID)\n") }
        return drive(runner, flags)
    }
}
