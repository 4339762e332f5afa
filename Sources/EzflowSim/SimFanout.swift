// What a simulated task answers for an output a dynamic fan-out reads (docs/RUNTIME.md,
// "Dynamic fan-out"): a list whose length is drawn from the run's seed, the task and the
// attempt — mostly 0…`max_items`, sometimes one longer, so `ezrun simulate` walks the
// used, unused, empty and overflow paths. The same seed gives the same lists.
import EzflowIR
import EzflowRuntime

public enum SimFanout {
    /// The share of simulated lists one item longer than `max_items` (the overflow path).
    public static let overflowRate = 0.1

    /// The list outputs plan task `task` answers for the dynamic fan-outs reading it, by
    /// output name (empty when none reads it).
    public static func lists(plan: Plan, task: Int, seed: UInt64, attempt: Int) -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        for slot in plan.dynamicSlot.keys.sorted() {
            guard let s = plan.dynamicSlot[slot], s.index == 0, case .array(let parts)? = s.list["ref"], parts.count == 4,
                  case .int(let id) = parts[1], case .string(let name) = parts[3], !out.contains(where: { $0.0 == name }),
                  plan.planTasks(workflow: plan.scope(ofTask: slot), irTask: Int(id)).contains(task) else { continue }
            var r = SeededRandom(seed: seed ^ (UInt64(task) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(attempt) &* 0xBF58_476D_1CE4_E5B9))
            let n = SimDraw.unit(&r) < overflowRate ? s.max + 1 : min(s.max, Int(SimDraw.unit(&r) * Double(s.max + 1)))
            let type: String = if case .string(let t)? = plan.taskJSON[slot]["item_type"] { t } else { "string" }
            out.append((name, .array((0..<n).map { element($0, type: type, task: plan.taskNames[task]) })))
        }
        return out
    }

    /// The `i`-th element of a simulated list of `type` (records and lists read as text).
    static func element(_ i: Int, type: String, task: String) -> JSONValue {
        switch type {
        case "int": .int(Int64(i + 1))
        case "float": .float(Double(i) + 0.5)
        case "bool": .bool(i % 2 == 0)
        default: .string("sim:\(task)[\(i)]")
        }
    }
}
