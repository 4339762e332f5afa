// Declared outputs are a contract, held where the attempt ends (docs/RUNTIME.md, "Outputs
// are a contract"): a success of a task with declared outputs that lacks a required one or
// has one of the wrong type is that attempt's failure, class `output_error`, so the task's
// own retry rule decides what comes next and no task downstream is blamed for it. The check
// is `OutputContract`'s (the llm driver holds a structured answer to it strictly); the exec
// and http drivers keep members that are not declared (the implicit `stdout`, `exit_code`,
// `status`, `body`, and whatever else a script or service hands back). An optional output
// left out reads as null. A task with no declared outputs is not checked.
import EzflowIR

extension DriverResult {
    /// This result held to the declared outputs `declared` of task `task` (nil: none
    /// declared, nothing to hold). `found` says, for a failure, what the driver read when
    /// it found no JSON object to take outputs from (nil: it found one); its text is raw,
    /// like every message here, and the runner's journal writer redacts it.
    public func holding(to declared: [OutputField]?, task: String, found: () -> String?) -> DriverResult {
        guard let declared, case .success(let outputs) = outcome else { return self }
        var r = self
        switch OutputContract.check(task: task, fields: declared, reply: outputs, undeclared: .kept) {
        case .success(let checked):
            r.outcome = .success(outputs: .object(checked))
        case .failure(let m):
            let why = found().map { "; " + $0 } ?? ""
            r.outcome = .failure(errorClass: OutputContract.errorClass, message: m.message + why)
        }
        return r
    }
}
