// The commands that read or post to a store without running anything: `approve`,
// `cancel`, `status`, `runs`, `logs`.
import EzflowIR
import EzflowRunner
import EzflowRuntime
import EzflowPorts
import EzflowReport
import EzflowStore
import EzflowUnits
import EzflowCLI
import Foundation

extension CLI {
    static func nowMs() -> Millis { Millis((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    static func approve(_ a: Args) -> Int32 {
        let flags = RunFlags(a)
        guard let principal = flags.config.principal else { usageError(a, "approve needs --as PRINCIPAL (who approves)") }
        let (runID, taskName) = (a.positional[0], a.positional[1])
        let store = openStore(flags.config.storePath, readOnly: false)
        let stored: StoredRun
        do { stored = try StoredRun.load(store: store, runID: runID) } catch { fail(error) }
        guard let t = stored.plan.taskNames.firstIndex(of: taskName), let task = stored.irTask(t) else {
            fail("run `\(runID)` has no task `\(taskName)`")
        }
        let waiting = stored.state.tasks[t] == .awaitingApproval || stored.state.pendingConflict[t] != nil
        guard waiting else { fail("task `\(taskName)` of run `\(runID)` is not waiting for approval (it is \(stored.state.tasks[t]))") }
        let decision = Access(workflow: stored.program.document).canApprove(principal, task: task, inputs: stored.inputs,
                                                                                startedBy: stored.principal,
                                                                                escalatedTo: stored.state.escalatedApprovers(t))
        let approved = !a.flags.contains("--reject")
        if decision.allowed { confirm(WaitingGate.all(stored.state).first { $0.task == t }, runID: runID, approved: approved,
                                          yes: a.flags.contains("--yes")) }
        let comment = a.value("--comment") ?? ""
        do {
            try store.audit(AuditEntry(runID: runID, principal: principal.name, action: approved ? "approve" : "reject", target: taskName,
                                       allowed: decision.allowed, reason: decision.reason, atMs: nowMs()))
            // A refused request still goes to the inbox: the run's writer journals it.
            try store.post(InboxItem(runID: runID, kind: .approval, task: taskName, principal: principal.name, approved: approved,
                                     refusal: decision.allowed ? nil : decision.reason, comment: comment, createdMs: nowMs()))
        } catch { fail(error) }
        guard decision.allowed else { fail("access refused: \(decision.reason)") }
        Console.out("\(approved ? "approved" : "rejected") `\(taskName)` of run \(runID) as \(principal.name); continue with: ezrun resume \(runID)" +
              (flags.config.storePath == DurableStore.defaultPath ? "" : " \(flags.storeFlag)") + "\n")
        return 0
    }

    /// Shows what the gate asks (its rendered question and what its timeout does), then
    /// asks "y/N" on a terminal; `--yes` answers without asking. Without a terminal and
    /// without `--yes` nothing is answered (exit 2); declined at the prompt: exit 1.
    static func confirm(_ gate: WaitingGate?, runID: String, approved: Bool, yes: Bool) {
        let name = gate?.name ?? "?"
        var text = "run \(runID): `\(name)` asks:\n" + (gate?.questionLines() ?? "  (an output conflict: approving takes the new value)") + "\n"
        if let note = gate?.onTimeout { text += "(\(note))\n" }
        Console.err(text)
        if yes { return }
        guard isatty(0) != 0 else {
            fail("not answered: `ezrun approve` asks for confirmation on a terminal; pass --yes to answer without asking")
        }
        Console.err("\(approved ? "approve" : "reject") `\(name)`? [y/N] ")
        let reply = (readLine() ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        guard reply == "y" || reply == "yes" else {
            Console.err("ezrun: not answered\n")
            exit(1)
        }
    }

    static func cancel(_ a: Args) -> Int32 {
        let flags = RunFlags(a)
        let store = openStore(flags.config.storePath, readOnly: false)
        let who = flags.config.principal?.name ?? ProcessInfo.processInfo.environment["USER"] ?? "local"
        do {
            try store.post(InboxItem(runID: a.positional[0], kind: .cancel, task: nil, principal: who, approved: false, refusal: nil,
                                     comment: a.value("--comment") ?? "", createdMs: nowMs()))
        } catch { fail(error) }
        Console.out("cancellation of run \(a.positional[0]) requested; a running `ezrun` stops it, or `ezrun resume` does" + "\n")
        return 0
    }

    static func status(_ a: Args) -> Int32 {
        let store = openStore(storePath(a), readOnly: true)
        let s: StoredRun
        do { s = try StoredRun.load(store: store, runID: a.positional[0]) } catch { fail(error) }
        if a.flags.contains("--json") {
            printJSON(statusDocument(s, openAttempts: s.info.openAttempts))
            return 0
        }
        func reruns(_ t: Int) -> Int { rerunCount(s, t) }
        var out = "run       \(s.info.runID)\nworkflow  \(s.info.workflow) (\(s.info.irHash.prefix(19))…)\n"
        out += "status    \(s.info.status.rawValue)\(s.info.verdict.map { " (\($0.rawValue))" } ?? "")\n"
        out += "events    \(s.records)   in flight \(s.info.openAttempts)   charged \(Units.money(s.state.chargedMicros)), \(Units.counted(s.state.chargedTokens, "token"))\n"
        out += "head      \(s.head)   (chain verified; pin it to detect a rewritten store)\n"
        // Columns as wide as their widest cell: `padding(toLength:)` would cut a longer one.
        let unused = UnusedSlots.all(s.state)
        let width = max(4, (s.plan.taskNames.map(\.count) + unused.values.map(\.name.count)).max() ?? 4)
        let states = (0..<s.plan.taskCount).map { shownState(s.state, task: $0) }
        let stateWidth = max(16, ((states + unused.values.map(\.text)).map(\.count).max() ?? 0) + 1)
        func pad(_ text: String, _ n: Int) -> String { text + String(repeating: " ", count: max(0, n - text.count)) }
        out += "\n" + pad("TASK", width) + "  " + pad("STATE", stateWidth) + " ATTEMPTS\n"
        // A dynamic fan-out's unused slots read as one row (`lint[3…19]  17 unused slots`).
        for t in 0..<s.plan.taskCount {
            if s.state.isUnusedSlot(t) {
                if let u = unused[t] { out += pad(u.name, width) + "  " + pad(u.text, stateWidth) + " 0\n" }
                continue
            }
            out += pad(s.plan.taskNames[t], width) + "  " + pad(states[t], stateWidth) + " \(s.state.attempts[t])"
            let again = reruns(t)
            if again > 0 { out += " (\(again) run again after a resume)" }
            if let h = s.state.history[t].last, let e = h.errorClass {
                out += "   last error: \(e)"
                // A failure the core decided without an attempt says why (a fan-out's list too
                // long, a loop's `until` that never held, a condition without a value).
                if h.agent < 0 { out += ": " + UnusedSlots.failureLine(h.message) }
            }
            out += "\n"
        }
        let gates = WaitingGate.all(s.state)
        for g in gates {
            out += "\nwaiting for approval: \(g.name) — ezrun approve \(s.info.runID) \(g.name) --as PRINCIPAL"
            if let note = g.onTimeout { out += "\n  (\(note))" }
            if let q = g.questionLines(indent: "  > ") { out += "\n" + q }
        }
        if !gates.isEmpty { out += "\n" }
        if let c = compensationIncompleteText(s.state) { out += "\n" + c + "\n" }
        let files = s.files
        if !files.isEmpty { out += "\nFILES (ezrun files \(s.info.runID) FILE --out PATH)\n" + fileTable(files) }
        Console.out(out)
        return 0
    }

    /// A `--json` document: one canonical JSON value and a newline on standard output.
    static func printJSON(_ doc: JSONValue) {
        Console.out(String(decoding: CanonicalJSON.encode(doc), as: UTF8.self) + "\n")
    }

    /// Attempts started again after a resume (same attempt number, one more process).
    static func rerunCount(_ s: StoredRun, _ t: Int) -> Int {
        t < s.dispatches.count ? max(0, s.dispatches[t] - s.state.attempts[t]) : 0
    }

    /// `status --json`, and the document `run --json` prints at the end.
    static func statusDocument(_ s: StoredRun, openAttempts: Int, extra: [(String, JSONValue)] = []) -> JSONValue {
        var rows: [JSONValue] = []
        for t in 0..<s.plan.taskCount {
            let h = s.state.history[t]
            rows.append(.object([("attempts", .int(Int64(s.state.attempts[t]))), ("name", .string(s.plan.taskNames[t])),
                                 ("reruns", .int(Int64(rerunCount(s, t)))),
                                 ("state", .string(reportedState(s.state, task: t))),
                                 ("last_error", h.last?.errorClass.map { .string($0) } ?? .null)]
                                + conditionFields(s.state, task: t)))
        }
        return .object([
            ("chain_head", .string(s.head)), ("charged_micros", .int(s.state.chargedMicros)),
            ("charged_tokens", .int(s.state.chargedTokens)),
            ("events", .int(Int64(s.records))), ("ir_hash", .string(s.info.irHash)),
            ("open_attempts", .int(Int64(openAttempts))), ("run_id", .string(s.info.runID)), ("status", .string(s.info.status.rawValue)),
            ("tasks", .array(rows)), ("verdict", s.info.verdict.map { .string($0.rawValue) } ?? .null),
            ("waiting_for_approval", .array(WaitingGate.all(s.state).map { g in
                .object([("on_timeout", g.onTimeout.map { .string($0) } ?? .null), ("question", g.question.map { .string($0) } ?? .null),
                         ("task", .string(g.name))])
            })),
            ("workflow", .string(s.info.workflow)),
        ] + (s.state.failedUndos.isEmpty ? [] : [("compensation_incomplete", .array(compensationIncomplete(s.state).map { .string($0) }))])
            + (s.files.isEmpty ? [] : [("files", .array(s.files.map(fileJSON)))]) + extra)
    }

    /// A task row's `skip_reason` and `allowed_failure`, only when they apply (older
    /// readers see the rows they knew).
    static func conditionFields(_ state: RunState, task t: Int) -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        if state.allowedFailure(t) { out.append(("allowed_failure", .bool(true))) }
        if let x = undone(state, by: t) { out.append(("compensates", .string(x))) }
        if state.tasks[t] == .skipped, let r = state.skipReason[t] { out.append(("skip_reason", .string(r.rawValue))) }
        return out
    }

    static func runs(_ a: Args) -> Int32 {
        let store = openStore(storePath(a), readOnly: true)
        let all: [RunInfo]
        do { all = try store.runs() } catch { fail(error) }
        let f = ISO8601DateFormatter()
        if a.flags.contains("--json") {
            let doc: JSONValue = .array(all.map { r in
                .object([("created", .string(f.string(from: Date(timeIntervalSince1970: Double(r.createdMs) / 1000)))),
                         ("events", .int(Int64(r.journalCount))), ("run_id", .string(r.runID)), ("status", .string(r.status.rawValue)),
                         ("verdict", r.verdict.map { .string($0.rawValue) } ?? .null), ("workflow", .string(r.workflow))])
            })
            printJSON(doc)
            return 0
        }
        var out = "RUN\tWORKFLOW\tSTATUS\tVERDICT\tCREATED\tEVENTS\n"
        for r in all {
            out += "\(r.runID)\t\(r.workflow)\t\(r.status.rawValue)\t\(r.verdict?.rawValue ?? "-")\t"
            out += f.string(from: Date(timeIntervalSince1970: Double(r.createdMs) / 1000)) + "\t\(r.journalCount)\n"
        }
        Console.out(out)
        return 0
    }

    static func logs(_ a: Args) -> Int32 {
        let store = openStore(storePath(a), readOnly: true)
        let s: StoredRun
        do { s = try StoredRun.load(store: store, runID: a.positional[0]) } catch { fail(error) }
        var task: Int? = nil
        if a.positional.count == 2 {
            guard let t = s.plan.taskNames.firstIndex(of: a.positional[1]) else { fail("run `\(s.info.runID)` has no task `\(a.positional[1])`") }
            task = t
        }
        let rows: [AttemptLogRow]
        do { rows = try store.logs(run: s.info.runID, task: task) } catch { fail(error) }
        if a.flags.contains("--json") {
            let doc: JSONValue = .array(rows.map { r in
                .object([("agent", .string(s.plan.agentLabel(r.agent))),
                         ("attempt", .int(Int64(r.attempt))), ("duration_ms", .int(r.durationMs)),
                         ("exit_code", r.exitCode.map { .int(Int64($0)) } ?? .null), ("stderr", .string(r.stderr)),
                         ("stdout", .string(r.stdout)), ("task", .string(s.plan.taskNames[r.task]))])
            })
            printJSON(doc)
            return 0
        }
        var out = ""
        for r in rows {
            let agent = s.plan.agentLabel(r.agent)
            out += "== \(s.plan.taskNames[r.task]) attempt \(r.attempt) on \(agent): exit \(r.exitCode.map(String.init) ?? "-"), \(r.durationMs) ms ==\n"
            if !r.stdout.isEmpty { out += r.stdout + (r.stdout.hasSuffix("\n") ? "" : "\n") }
            if !r.stderr.isEmpty { out += "-- stderr --\n" + r.stderr + (r.stderr.hasSuffix("\n") ? "" : "\n") }
        }
        Console.out(out)
        return 0
    }
}
