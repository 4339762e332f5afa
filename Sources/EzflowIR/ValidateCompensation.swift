// The IR's compensation fields (docs/IR.md "Compensation"): a task's `compensate` names the
// task that undoes it, which carries `compensation: true`. The checker's E0980–E0987 in
// IR terms: one undo per task and one task per undo, the undo waits for its task alone,
// nothing waits for an undo, and an undo runs once, unconditionally, bounded by a timeout.

extension IRValidator {
    /// Fields an undo cannot have: it runs only as the undo of one task, once.
    static let compensationRefused = ["when", "run_on", "allow_failure", "compensate", "for_each", "matrix", "finally", "status_deps"]

    /// Checks every `compensate` / `compensation` of one workflow's tasks.
    func compensations(_ tasks: [IRTask], path: String) throws(IRValidationError) {
        var undoOf: [Int: Int] = [:]
        for t in tasks {
            let at = "\(path)[\(t.id)]"
            switch t.json["compensation"] {
            case nil, .bool(false)?: break
            case .bool(true)?: if undoOf[t.id] == nil { undoOf[t.id] = -1 }
            case let v?: throw fail(at + ".compensation", "expected bool, found \(v.typeName)")
            }
            guard let c = t.json["compensate"] else { continue }
            guard case .int(let cv) = c, cv > Int64(t.id), cv < Int64(tasks.count) else {
                throw fail(at + ".compensate", "must be a later task's id (< \(tasks.count)), found \(c)")
            }
            let u = tasks[Int(cv)]
            guard u.json["compensation"] == .bool(true) else {
                throw fail(at + ".compensate", "task \(cv) is not marked `compensation: true`")
            }
            guard undoOf[u.id] == nil else {
                throw fail(at + ".compensate", "task \(cv) already undoes task \(undoOf[u.id]!)")
            }
            if t.json["finally"] == .bool(true) { throw fail(at + ".compensate", "a `finally` task is not compensated") }
            if let fe = t.json["for_each"], fe != .null { throw fail(at + ".compensate", "a task that fans out is not compensated") }
            undoOf[u.id] = t.id
            guard u.deps == [t.id] else {
                throw fail("\(path)[\(u.id)].deps", "an undo waits for the task it undoes alone, [\(t.id)], found \(u.deps)")
            }
        }
        for t in tasks {
            let at = "\(path)[\(t.id)]"
            if let x = undoOf[t.id] {
                guard x >= 0 else { throw fail(at + ".compensation", "no task names this one in `compensate`") }
                for k in Self.compensationRefused {
                    if let v = t.json[k], v != .null, v != .bool(false) { throw fail(at + "." + k, "an undo takes no `\(k)`") }
                }
                if t.fallback { throw fail(at + ".fallback", "an undo is not a fallback") }
                if t.retry?.catchTask != nil || t.retry?.catchAgent != nil { throw fail(at + ".retry.catch", "an undo has no fallback") }
                if t.action == "workflow" || t.action == "approve" { throw fail(at + ".action", "an undo is a `run`, `prompt` or `call` task") }
                guard let ms = t.timeoutMs, ms > 0 else { throw fail(at + ".timeout_ms", "an undo needs a timeout: nothing else stops it") }
            }
            for d in t.deps where undoOf[d] != nil {
                throw fail(at + ".deps", "task \(t.id) depends on undo \(d): an undo runs only after a failure")
            }
        }
    }
}
