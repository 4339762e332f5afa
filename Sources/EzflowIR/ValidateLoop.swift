import EzflowAttributes

// The IR's loop task (docs/IR.md "Loops"): `action: "loop"` with a `loop` object.

extension IRValidator {
    /// `loop`: `max` in the `repeat` table's range, `on_exhausted` one of its words, `tasks`
    /// the body's names, `iterations` `max` rows of one instance id per body task (every id
    /// among the loop task's deps, the instances exactly the tasks just before it), and
    /// `until` `max` expressions (each over its iteration).
    func loop(_ t: IRObject, id: Int, deps: [Int], _ scope: ExprScope) throws(IRValidationError) {
        guard let lv = t["loop"] else { throw fail(t.sub("loop"), "required for a `loop` task") }
        let l = try object(lv, t.sub("loop"), allowed: ["iterations", "max", "on_exhausted", "tasks", "until"])
        let bound = AttributeTable.declared("repeat", "max")
        let max = try int(l, "max", min: bound.min, max: bound.max)
        _ = try string(l, "on_exhausted", oneOf: words("repeat", "on_exhausted"))
        let names = try strings(l, "tasks")
        guard !names.isEmpty, Set(names).count == names.count else { throw fail(l.sub("tasks"), "must name distinct body tasks") }
        let rows = try array(l, "iterations")
        guard rows.count == Int(max) else { throw fail(l.sub("iterations"), "expected \(max) iterations, found \(rows.count)") }
        var all: [Int] = []
        for (k, r) in rows.enumerated() {
            let p = "\(l.sub("iterations"))[\(k)]"
            guard case .array(let ids) = r, ids.count == names.count else { throw fail(p, "expected one id per body task") }
            for v in ids {
                guard case .int(let x) = v, deps.contains(Int(x)) else { throw fail(p, "every instance must be among the loop task's deps") }
                all.append(Int(x))
            }
        }
        guard all.sorted() == Array((id - all.count)..<id) else { throw fail(l.sub("iterations"), "the instances must be the tasks just before the loop task") }
        let until = try array(l, "until")
        guard until.count == Int(max) else { throw fail(l.sub("until"), "expected \(max) conditions, found \(until.count)") }
        for (k, u) in until.enumerated() { try expr(u, "\(l.sub("until"))[\(k)]", scope) }
    }
}
