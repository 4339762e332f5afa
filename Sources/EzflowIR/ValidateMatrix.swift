// The IR's matrix fields (docs/IR.md): `matrix` and `needs_item` on a task.

extension IRValidator {
    /// `matrix` (`axes`, `fail_fast`, optional `max_parallel`) needs a `for_each` list of
    /// 1…256 records, each binding exactly the axes to a string, int or bool literal;
    /// `needs_item` is a non-empty list of expressions, on a fan-out task only.
    func matrix(_ t: IRObject, _ scope: ExprScope) throws(IRValidationError) {
        if let ni = t["needs_item"] {
            guard case .array(let xs) = ni, !xs.isEmpty else { throw fail(t.sub("needs_item"), "expected a non-empty array") }
            guard t["for_each"].map({ $0 != .null }) ?? false else { throw fail(t.sub("needs_item"), "only a `for_each` or `matrix` task reads `item`") }
            for (k, x) in xs.enumerated() { try expr(x, "\(t.sub("needs_item"))[\(k)]", scope) }
        }
        guard let mv = t["matrix"] else { return }
        let m = try object(mv, t.sub("matrix"), allowed: ["axes", "fail_fast", "max_parallel"])
        let axes = try strings(m, "axes")
        guard !axes.isEmpty, Set(axes).count == axes.count else { throw fail(m.sub("axes"), "must name distinct axes") }
        _ = try bool(m, "fail_fast")
        if m["max_parallel"] != nil { _ = try int(m, "max_parallel", min: 1) }
        guard case .object(let fe)? = t["for_each"], fe.count == 1, fe[0].0 == "list", case .array(let cells) = fe[0].1 else {
            throw fail(t.sub("for_each"), "a matrix task's `for_each` is the list of its cells")
        }
        guard (1...MatrixCell.cellsMax).contains(cells.count) else {
            throw fail(t.sub("for_each"), "a matrix has 1…\(MatrixCell.cellsMax) cells, found \(cells.count)")
        }
        for (k, c) in cells.enumerated() {
            let path = "\(t.sub("for_each")).list[\(k)]"
            guard case .object(let r) = c, r.count == 1, r[0].0 == "record", case .object(let fs) = r[0].1,
                  fs.count == axes.count, axes.allSatisfy({ a in fs.contains { $0.0 == a } }) else {
                throw fail(path, "a cell is a record binding every axis")
            }
            for (name, v) in fs {
                guard case .object(let lit) = v, lit.count == 1, ["text", "int", "bool"].contains(lit[0].0) else {
                    throw fail("\(path).record.\(name)", "an axis value is a string, int or bool literal")
                }
            }
        }
    }
}
