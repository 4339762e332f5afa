// `ezrun simulate` and loops (docs/SIMULATION.md): a loop's `until` reads its body's
// outputs, which a sim agent does not produce. A loop instance's declared outputs are
// fabricated here, drawn from the run seed and the instance's name (so `until` holds
// after iteration 1, 2, … or never, differently per run, the same on every replay of a
// seed): a `bool` is a coin flip, an int 0…5, a list 0…3 elements long; a string is
// `sim:TASK`, a float 0, an enum its first case.
// Tasks outside loops keep the sim agent's outputs (none but `writes` and files).
import EzflowIR
import EzflowRuntime

extension SimRun {
    /// Fabricated values of the declared outputs of loop instance `task`; empty for a
    /// task outside every loop.
    func loopInstanceOutputs(_ task: Int) -> [(String, JSONValue)] {
        guard plan.loops.values.contains(where: { $0.iterations.contains { $0.contains(task) } }),
              task < plan.taskJSON.count,
              let declared = OutputSchema.declared(task: plan.taskJSON[task], types: plan.types(ofTask: task)) else { return [] }
        return declared.compactMap { f in value(f.type, task: plan.taskNames[task], output: f.name).map { (f.name, $0) } }
    }

    private func value(_ t: OutputType, task: String, output: String) -> JSONValue? {
        // FNV-1a of the instance and output names, mixed with the run seed.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (task + "." + output).utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        var r = SeededRandom(seed: seed ^ h)
        switch t {
        case .bool: return .bool(r.next() & 1 == 1)
        case .string: return .string("sim:\(task)")
        case .int: return .int(Int64(r.next() % 6))
        case .float, .unit: return .int(0)
        case .enumeration(_, let cases): return cases.first.map { .string($0) }
        case .optional(let inner): return value(inner, task: task, output: output)
        case .list(let e):
            let n = Int(r.next() % 4)
            return .array((0..<n).compactMap { i in value(e, task: task, output: output + "[\(i)]") })
        case .json, .file, .record, .map: return nil
        }
    }
}
