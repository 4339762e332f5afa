// The IR's dynamic fan-out field (docs/IR.md): `max_items` on a task.

extension IRValidator {
    /// `max_items` (its range is the attribute table's) needs a `for_each` that reads a
    /// task's output, on a task that is neither a matrix nor a nested workflow.
    func dynamicFanout(_ t: IRObject) throws(IRValidationError) {
        guard t["max_items"] != nil else { return }
        guard let fe = t["for_each"], fe != .null, case .array(let parts)? = fe["ref"], case .string("task")? = parts.first else {
            throw fail(t.sub("max_items"), "only a `for_each` over a task's output has `max_items`")
        }
        guard t["matrix"] == nil else { throw fail(t.sub("max_items"), "a matrix's cells are known when the run starts") }
        guard t["action"] != .string("workflow"), t["action"] != .string("approve") else {
            throw fail(t.sub("max_items"), "a `workflow` or `approve` task cannot fan out over a list known at run time")
        }
    }
}
