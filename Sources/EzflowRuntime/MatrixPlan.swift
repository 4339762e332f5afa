// A `matrix` task in the plan: its cells are `for_each` instances named
// `task[axis=value,...]` (`MatrixCell.name`); `fail_fast` and `max_parallel` are per
// cell arrays the core reads (`Core.swift`, MatrixCore.swift). Per-item `needs`
// (`needs_item`, a matrix or a constant `for_each`) narrow each instance's candidates.
import EzflowIR

/// The IR task's `matrix` settings.
struct MatrixPlan {
    var axes: [String]
    var failFast: Bool
    var maxParallel: Int

    init?(_ task: JSONValue) {
        guard case .object? = task["matrix"], let m = task["matrix"] else { return nil }
        var axes: [String] = []
        if case .array(let xs)? = m["axes"] { for case .string(let a) in xs { axes.append(a) } }
        self.axes = axes
        if case .bool(let b)? = m["fail_fast"] { failFast = b } else { failFast = true }
        if case .int(let n)? = m["max_parallel"] { maxParallel = Int(n) } else { maxParallel = -1 }
    }
}

extension Plan {
    /// Records that `t` is a cell of a matrix. The arrays stay empty in a plan without a
    /// matrix, and reach only the last cell's id (tasks after it read "not a cell").
    mutating func setMatrix(_ t: Int, _ m: MatrixPlan) {
        while taskMatrixMaxParallel.count <= t {
            taskMatrixFailFast.append(false)
            taskMatrixMaxParallel.append(Plan.notACell)
        }
        taskMatrixFailFast[t] = m.failFast
        taskMatrixMaxParallel[t] = m.maxParallel
    }

    /// Whether `t` is a cell of a matrix.
    @inline(__always)
    public func isMatrixCell(_ t: Int) -> Bool { t < taskMatrixMaxParallel.count && taskMatrixMaxParallel[t] != Plan.notACell }

    /// The other cells of `t`'s matrix (plan ids; `t` included).
    public func matrixCells(of t: Int) -> ArraySlice<Int> {
        planTasks(workflow: taskWorkflow[t], irTask: taskIRIndex[t])
    }

    /// `max_parallel` of `t`'s matrix (-1: none); `fail_fast` of it (false off a matrix).
    public func matrixMaxParallel(_ t: Int) -> Int { isMatrixCell(t) ? taskMatrixMaxParallel[t] : -1 }
    public func matrixFailFast(_ t: Int) -> Bool { t < taskMatrixFailFast.count && taskMatrixFailFast[t] }

    static let notACell = -2

    /// Whether agent `g` lists every capability in `needs`.
    func offers(_ g: Int, _ needs: [String]) -> Bool {
        guard !needs.isEmpty else { return true }
        guard case .array(let caps)? = agentJSON[g]["capabilities"] else { return false }
        return needs.allSatisfy { caps.contains(.string($0)) }
    }
}

extension PlanBuilder {
    /// The capabilities an instance needs from its item (`needs_item` evaluated with it).
    static func itemNeeds(_ task: JSONValue, item: JSONValue?, known: [String: JSONValue], path: String) throws(PlanError) -> [String] {
        guard case .array(let xs)? = task["needs_item"] else { return [] }
        var out: [String] = []
        for (k, x) in xs.enumerated() {
            guard case .string(let s)? = constant(x, inputs: known, item: item) else {
                throw PlanError(path: path + ".needs_item[\(k)]", message: "must be a string known when the plan is built")
            }
            out.append(s)
        }
        return out
    }
}
