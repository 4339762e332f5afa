// A `matrix` task in the IR: its cells are a `for_each` list of records written out
// (the plan expands it as any `for_each`), and `matrix` keeps what only a matrix has:
// the axes (cell names), `fail_fast` and `max_parallel` (docs/IR.md).
import EzflowCheck
import EzflowIR

extension WorkflowLowering {
    /// `{"list": [{"record": {axis: literal, ...}}, ...]}`: one record per cell, in run order.
    static func matrixCells(_ m: MatrixInfo) -> JSONValue {
        .object([("list", .array(m.cells.map { cell in
            let fields = zip(m.axes, cell).map { ($0, literal($1)) }.sorted { JSONValue.keyLess($0.0, $1.0) }
            return .object([("record", .object(fields))])
        }))])
    }

    /// `{"axes": [...], "fail_fast": bool, "max_parallel": n}` (`max_parallel` only when given).
    static func matrixSettings(_ m: MatrixInfo) -> JSONValue {
        var fields: [(String, JSONValue)] = [("axes", .array(m.axes.map { .string($0) })), ("fail_fast", .bool(m.failFast))]
        if let n = m.maxParallel { fields.append(("max_parallel", .int(n))) }
        return .object(fields)
    }

    static func literal(_ v: ConstValue) -> JSONValue {
        switch v {
        case .string(let s): .object([("text", .string(s))])
        case .int(let i): .object([("int", .int(i))])
        case .bool(let b): .object([("bool", .bool(b))])
        default: .object([("null", .null)])
        }
    }
}
