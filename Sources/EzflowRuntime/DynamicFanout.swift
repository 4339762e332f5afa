// Dynamic fan-out (docs/RUNTIME.md, "Dynamic fan-out"): a task with `for_each` over a
// task's output list and `max_items: N` is planned as N slots `task[0]`…`task[N-1]`, each
// waiting on the source. When a slot's gate opens, the source's journalled list decides it:
// slot i < len runs with `item = list[i]`; the other slots are skipped as unused
// (`SkipReason.unusedSlot`, passed on as a success: an empty list leaves the fan-out
// `succeeded` with `[]`); a list longer than N fails slot 0 (class `fanout_overflow`) and
// leaves the rest unused. Everything is derived from the source's outputs in the state, so
// replay and resume decide the same way and the journal holds nothing new.
import EzflowIR

/// One slot of a dynamic fan-out.
public struct DynamicSlot: Sendable, Equatable {
    /// The `for_each` list (an IR expression reading a task's output).
    public var list: JSONValue
    /// The slot's index: it runs for `list[index]` when the list is that long.
    public var index: Int
    /// `max_items`: how many slots there are.
    public var max: Int
    /// The list as the user wrote it (`list_files.outputs.files`) and the fan-out task's
    /// name (`lint`), for messages.
    public var listText: String
    public var taskName: String

    public init(list: JSONValue, index: Int, max: Int, listText: String, taskName: String) {
        self.list = list
        self.index = index
        self.max = max
        self.listText = listText
        self.taskName = taskName
    }
}

extension RunState {
    /// The class of the one failure a list longer than `max_items` causes (on slot 0).
    public static let fanoutOverflow = "fanout_overflow"
    /// The class of a slot whose list has no value (a source output that is not a list).
    public static let fanoutError = "fanout_error"

    /// Whether `t` is a slot its fan-out's list left unused (skipped, read as nothing).
    public func isUnusedSlot(_ t: Int) -> Bool {
        tasks[t] == .skipped && skipReason[t] == .unusedSlot
    }

    /// The `item` plan task `t` runs with: its plan-time item, or a dynamic slot's element
    /// of the list its source left (nil before the source succeeded, and for an unused slot).
    public func item(ofTask t: Int) -> JSONValue? {
        if t < plan.taskItem.count, let x = plan.taskItem[t] { return x }
        guard let s = plan.dynamicSlot[t], case .value(.array(let xs)) = fanoutList(t), s.index < xs.count else { return nil }
        return xs[s.index]
    }

    /// The list of slot `t`'s fan-out, as far as the run has got.
    func fanoutList(_ t: Int) -> ExprOutcome {
        guard let s = plan.dynamicSlot[t] else { return .invalid("not a dynamic fan-out") }
        let w = plan.scope(ofTask: t)
        let env = ScopeReader(state: self, scope: w, inputs: scopeInputs(w, rootInputs: plan.rootInputs), item: nil, reader: t)
        do throws(ExprError) {
            return .value(try IRExpr.evaluate(s.list, in: env))
        } catch {
            return .invalid(error.message)
        }
    }

    /// Slot `d`'s gate opened: decides it from the list. True when the slot was settled
    /// here (unused, or the fan-out's one failure); false when it runs (`when` next).
    mutating func openSlot(_ d: Int, _ work: inout [(Int, Bool)]) -> Bool {
        guard let s = plan.dynamicSlot[d] else { return false }
        switch fanoutList(d) {
        case .value(.array(let xs)) where xs.count > s.max:
            guard s.index == 0 else { skipUnused(d, &work); return true }
            fanoutFailed(d, RunState.fanoutOverflow,
                         "`\(s.listText)` has \(xs.count) items, more than `max_items: \(s.max)` of `\(s.taskName)`", &work)
        case .value(.array(let xs)):
            guard s.index >= xs.count else { return false }
            skipUnused(d, &work)
        case .value(let v):
            guard s.index == 0 else { skipUnused(d, &work); return true }
            fanoutFailed(d, RunState.fanoutError, "`\(s.listText)` is not a list (found \(v.typeName))", &work)
        case .notYet(let x):
            guard s.index == 0 else { skipUnused(d, &work); return true }
            fanoutFailed(d, RunState.fanoutError, "`\(s.listText)` reads task `\(plan.taskNames[x])`, which has not ended", &work)
        case .invalid(let m):
            guard s.index == 0 else { skipUnused(d, &work); return true }
            fanoutFailed(d, RunState.fanoutError, "`\(s.listText)` has no value: \(m)", &work)
        }
        return true
    }

    /// An unused slot: skipped, and passed on as a success (the fan-out did what its list asked).
    mutating func skipUnused(_ d: Int, _ work: inout [(Int, Bool)]) {
        skip(d, .unusedSlot, &work, passedOnAsSuccess: true)
    }

    /// The fan-out's one failure, on its slot 0, named in its history.
    mutating func fanoutFailed(_ d: Int, _ errorClass: String, _ message: String, _ work: inout [(Int, Bool)]) {
        failWithoutAttempt(d, errorClass, message)
        work.append((d, false))
    }

    /// How many of the slots of `t`'s fan-out its list left unused (0 off a dynamic fan-out).
    public func unusedSlots(of t: Int) -> Int {
        guard plan.dynamicSlot[t] != nil else { return 0 }
        return plan.matrixCells(of: t).filter(isUnusedSlot).count
    }
}

extension Plan {
    /// Whether `t` is a slot of a dynamic fan-out.
    @inline(__always)
    public func isDynamicSlot(_ t: Int) -> Bool { dynamicSlot[t] != nil }
}

extension PlanBuilder {
    /// `max_items` of an IR task: a dynamic fan-out's slot count; nil for any other task.
    static func maxItems(_ task: JSONValue) -> Int? {
        guard case .int(let n)? = task["max_items"] else { return nil }
        return Int(n)
    }

    /// A `for_each` list as its author wrote it (`list_files.outputs.files`): the checker
    /// lets a dynamic fan-out read only one task's output (E0972).
    static func listText(_ e: JSONValue, tasks: [IRTask]) -> String {
        guard case .array(let parts)? = e["ref"], parts.count >= 2, case .string("task") = parts[0], case .int(let id) = parts[1],
              id >= 0, Int(id) < tasks.count else { return "the list" }
        let fields = parts.dropFirst(2).compactMap { if case .string(let f) = $0 { f } else { nil } }
        // A loop task's outputs are its body tasks' (`outputs.draft.files`), as written:
        // `draft.outputs.files`, the body task's in the last iteration.
        if tasks[Int(id)].json["action"] == .string("loop"), fields.count >= 2, fields[0] == "outputs" {
            return ([fields[1], "outputs"] + fields.dropFirst(2)).joined(separator: ".")
        }
        return ([tasks[Int(id)].name] + fields).joined(separator: ".")
    }
}
