// Bounded loops in the core (docs/RUNTIME.md "Loops"). Lowering unrolled the body `max`
// times (`draft[iteration=2]`); iteration N+1's instances wait for iteration N and are
// gated by `!(until over N)`, so an `until` that held skips the rest (reason `condition`,
// never a failure). The loop task (`NodeKind.loop`, named by the group) waits for every
// instance and then decides: `until` over the last iteration that ran holds ⇒ succeeded;
// it does not ⇒ failed with class `loop_exhausted` (or succeeded with `on_exhausted:
// succeed`); it has no value ⇒ failed with class `condition_error`. A body instance that
// failed fails the loop at once (`passOn`). Everything is derived from events the journal
// already holds: no new event kind, old journals replay unchanged.
import EzflowIR

/// One loop task's loop, from its IR `loop` object.
public struct LoopSpec: Sendable, Equatable {
    public var max: Int
    public var succeedWhenExhausted: Bool
    /// `iterations[i][k]`: plan id of body task `k` in iteration `i + 1`.
    public var iterations: [[Int]]
    /// The body tasks' names, in the order of `iterations`' rows.
    public var taskNames: [String]
    /// `until` over each iteration's instances.
    public var until: [JSONValue]
}

extension PlanBuilder {
    /// Appends the loop task of IR task `t` (`action: "loop"`): a join over its instances,
    /// which must be the plan tasks just before it.
    mutating func appendLoop(_ p: inout Plan, _ t: IRTask, name: String, deps: [Int], tags: [String], group: Int, scope: Int,
                             irIndex: Int, map: [[Int]], path: String) throws(PlanError) -> Int {
        guard case .object(let members)? = t.json["loop"] else { throw PlanError(path: path + ".loop", message: "a loop task needs `loop`") }
        let loop = Dictionary(members, uniquingKeysWith: { a, _ in a })
        guard case .int(let max)? = loop["max"], case .array(let rows)? = loop["iterations"], case .array(let until)? = loop["until"],
              case .array(let names)? = loop["tasks"], rows.count == Int(max), until.count == Int(max) else {
            throw PlanError(path: path + ".loop", message: "needs `max`, and `iterations` and `until` of `max` entries")
        }
        var iterations: [[Int]] = []
        for row in rows {
            guard case .array(let ids) = row, ids.count == names.count else { throw PlanError(path: path + ".loop.iterations", message: "one id per body task") }
            iterations.append(try ids.map { v throws(PlanError) -> Int in
                guard case .int(let x) = v, x >= 0, Int(x) < map.count, map[Int(x)].count == 1 else {
                    throw PlanError(path: path + ".loop.iterations", message: "an instance must be one plain task")
                }
                return map[Int(x)][0]
            })
        }
        let first = p.taskNames.count - iterations.reduce(0) { $0 + $1.count }
        guard iterations.joined().sorted() == Array(first..<p.taskNames.count) else {
            throw PlanError(path: path + ".loop.iterations", message: "the instances must be the tasks just before the loop task")
        }
        let id = try appendTask(&p, t, name: name, deps: Array(Set(deps + Array(first..<p.taskNames.count))).sorted(), tags: tags,
                                group: group, scope: scope, irIndex: irIndex, itemIndex: -1, item: nil, agents: [:], outputs: [:],
                                join: first, path: path)
        // The group's `when` may read a task's status only: waited for in any end state.
        if case .array(let sd)? = t.json["status_deps"] {
            let anyEnd = sd.flatMap { d -> [Int] in if case .int(let x) = d, x >= 0, Int(x) < map.count { map[Int(x)] } else { [] } }
            if !anyEnd.isEmpty { p.anyEndDeps[id] = anyEnd }
        }
        p.loops[id] = LoopSpec(max: Int(max), succeedWhenExhausted: loop["on_exhausted"] == .string("succeed"), iterations: iterations,
                               taskNames: names.map { if case .string(let s) = $0 { s } else { "" } }, until: until)
        return id
    }
}

extension RunState {
    /// The last iteration (0-based) with an instance that was not skipped; -1 if none.
    public func lastIteration(_ t: Int) -> Int {
        guard let spec = plan.loops[t] else { return -1 }
        return spec.iterations.lastIndex { row in row.contains { tasks[$0] != .skipped } } ?? -1
    }

    /// Every instance ended (none failed): the loop decides from the last iteration that ran.
    mutating func endLoop(_ t: Int) {
        guard let spec = plan.loops[t] else { return }
        let last = lastIteration(t)
        guard last >= 0 else {
            // Nothing ran (the body's own conditions skipped it): neither held nor exhausted.
            set(t, .skipped)
            skipReason[t] = .condition
            finalize(t, ok: false)
            return
        }
        switch decide(spec.until[last], for: t) {
        case .yes:
            set(t, .succeeded)
            finalize(t, ok: true)
        case .no where spec.succeedWhenExhausted:
            set(t, .succeeded)
            finalize(t, ok: true)
        case .no:
            loopFailed(t, "loop_exhausted", "`until` did not hold after \(last + 1) of at most \(spec.max) iterations")
        case .notYet(let x):
            loopFailed(t, "condition_error", "`until` has no value: it reads task `\(plan.taskNames[x])`, which has not ended")
        case .invalid(let m):
            loopFailed(t, "condition_error", "`until` has no value: " + m)
        }
    }

    mutating func loopFailed(_ t: Int, _ errorClass: String, _ message: String) {
        failWithoutAttempt(t, errorClass, message)
        finalize(t, ok: false)
    }

    /// What a loop reads as from outside: per body task, its outputs in the last
    /// iteration that ran (`null` for one without).
    func loopOutputs(_ t: Int) -> JSONValue? {
        guard let spec = plan.loops[t] else { return nil }
        let last = lastIteration(t)
        guard last >= 0 else { return nil }
        var members: [(String, JSONValue)] = []
        for (k, name) in spec.taskNames.enumerated() {
            let x = spec.iterations[last][k]
            members.append((name, tasks[x] == .succeeded ? (readOutputs(ofTask: x) ?? .null) : .null))
        }
        return .object(members.sorted { JSONValue.keyLess($0.0, $1.0) })
    }

    /// Why a loop instance skipped by its gate was skipped: `until` held after the
    /// iteration before (nil when its own or its group's `when` was false instead).
    func loopSkipText(_ t: Int) -> String? {
        guard let (l, i) = loopIteration(ofTask: t), i > 1, let spec = plan.loops[l],
              case .yes = decide(spec.until[i - 2], for: l) else { return nil }
        return "condition: `until` of loop `\(plan.taskNames[l])` held after iteration \(i - 1)"
    }

    /// The iteration (1-based) of a loop instance and its loop task, for names and reports.
    public func loopIteration(ofTask x: Int) -> (loop: Int, iteration: Int)? {
        for (l, spec) in plan.loops {
            for (i, row) in spec.iterations.enumerated() where row.contains(x) { return (l, i + 1) }
        }
        return nil
    }
}
