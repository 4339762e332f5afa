import EzflowCheck
import EzflowSyntax

/// Renders a checked workflow's task graph as Graphviz DOT or Mermaid. Nodes show the
/// task name, its action, required capabilities and timeout; groups become clusters
/// (subgraphs); the critical path by worst-case time (`CriticalPath`) is drawn bold/red.
public enum GraphRenderer {
    public enum Format: String, Sendable { case dot, mermaid }

    /// A loop's way back: from its last body task to its first (declaration order, among
    /// those no body task waits for / that wait for none), labelled with the next round.
    static func loopBackEdges(_ w: CheckedWorkflow) -> [(Int, Int, String)] {
        var out: [(Int, Int, String)] = []
        for grp in w.groups {
            guard let loop = grp.loop, !loop.body.isEmpty else { continue }
            let body = Set(loop.body)
            let sinks = loop.body.filter { b in !loop.body.contains { w.tasks[$0].deps.contains(b) } }
            let roots = loop.body.filter { b in !w.tasks[b].deps.contains(where: body.contains) }
            guard let a = sinks.last, let b = roots.first else { continue }
            out.append((a, b, "next round if until is false (≤ \(loop.max ?? 1) rounds)"))
        }
        return out
    }

    /// A group's label: its name, and for a loop `repeat ≤ N until EXPR`.
    static func groupLabel(_ w: CheckedWorkflow, _ g: Int, separator: String = "\n") -> String {
        let name = w.groups[g].name.text
        guard let loop = w.groups[g].loop else { return name }
        return name + separator + "repeat ≤ \(loop.max ?? 1)" + (loop.until.map { " until " + ExprText.print($0) } ?? "")
    }

    public static func render(_ w: CheckedWorkflow, format: Format) -> String {
        format == .dot ? dot(w) : mermaid(w)
    }

    static func label(_ t: TaskInfo, worstMs: Int64) -> [String] {
        var lines = [t.name.text]
        var detail = t.action.isEmpty ? "" : t.action
        let needs = t.needs + t.itemNeeds.map(ExprText.print)
        if !needs.isEmpty { detail += (detail.isEmpty ? "" : " · ") + "needs " + needs.joined(separator: ", ") }
        if !detail.isEmpty { lines.append(detail) }
        if let to = t.timeoutMs {
            var timing = "timeout " + fmtMs(to)
            if t.maxAttempts > 1 { timing += " × \(t.maxAttempts)" }
            timing += " (worst \(fmtMs(worstMs)))"
            lines.append(timing)
        }
        if let m = t.matrix {
            // One node for the whole matrix: its axes and its cell count.
            lines.append("matrix " + m.axes.joined(separator: " × ") + ": " + (m.cells.count == 1 ? "1 cell" : "\(m.cells.count) cells")
                         + (m.maxParallel.map { ", \($0) at once" } ?? ""))
        } else if let n = t.maxItems, let fe = t.forEachValue {
            lines.append("for each of \(ExprText.print(fe)), ≤ \(n)")
        } else if t.forEach != nil {
            lines.append("for each item")
        }
        if !t.conditions.isEmpty { lines.append("when " + t.conditions.map { ExprText.print($0) }.joined(separator: " && ")) }
        if t.allowFailure { lines.append("failure allowed") }
        return lines
    }

    /// How an edge into `to` is conditional: `run_on: failure`/`always` (dashed, labelled)
    /// or a dependency read only through `.status` (dotted, "status"); nil: a plain edge.
    static func conditional(from: Int, to: Int, _ w: CheckedWorkflow) -> (label: String, dotted: Bool)? {
        let t = w.tasks[to]
        // A compensation's edge from the task it undoes: it runs only after a failure.
        if t.compensates == from { return ("undo", false) }
        if let r = t.runOn { return (r == "failure" ? "on failure" : "always", false) }
        if t.statusOnlyDeps.contains(from) { return ("status", true) }
        return nil
    }

    /// The label of a dynamic fan-out's edge from the task whose list it reads (drawn bold,
    /// `for each ≤ 20`); nil for any other edge.
    static func fanout(from: Int, to: Int, _ w: CheckedWorkflow) -> String? {
        let t = w.tasks[to]
        guard t.fanoutSource == from, let n = t.maxItems else { return nil }
        return "for each ≤ \(n)"
    }

    /// The critical path of the main graph: compensations run only after a failure, each
    /// not stopped by the deadline (`ezc check --explain-budget` counts them apart).
    static func mainPath(_ w: CheckedWorkflow) -> CriticalPath {
        let undos = w.tasks.contains { $0.compensates != nil }
        return CriticalPath(tasks: w.tasks, order: w.order, within: undos ? w.tasks.map { $0.compensates == nil } : nil)
    }

    /// Edges as (from dependency, to dependent), in task order.
    static func edges(_ w: CheckedWorkflow) -> [(Int, Int)] {
        w.order.flatMap { id in w.tasks[id].deps.map { ($0, id) } }
    }

    static func criticalEdges(_ path: [Int]) -> Set<[Int]> {
        Set(zip(path, path.dropFirst()).map { [$0, $1] })
    }

    // MARK: DOT

    static func dot(_ w: CheckedWorkflow) -> String {
        let cp = mainPath(w)
        let onPath = Set(cp.path)
        let hot = criticalEdges(cp.path)
        var out = "digraph \(quoteDot(w.name)) {\n"
        out += "  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
        out += "  label=\(quoteDot("\(w.name): critical path \(fmtMs(cp.totalMs))" + (w.deadlineMs.map { " of deadline \(fmtMs($0))" } ?? "")));\n"
        func node(_ id: Int, indent: String) -> String {
            let t = w.tasks[id]
            let text = label(t, worstMs: cp.taskMs[id]).joined(separator: "\\n")
            var attrs = "label=\(quoteDot(text, escapeNewlines: false))"
            if onPath.contains(id) { attrs += ", color=red, penwidth=2" }
            if t.isFallback || t.compensates != nil { attrs += ", style=\"rounded,dashed\"" }
            if t.action == "approve" { attrs += ", shape=hexagon" }
            return "\(indent)t\(id) [\(attrs)];\n"
        }
        // Groups as nested clusters; tasks outside groups at top level.
        func cluster(_ g: Int, indent: String) -> String {
            // A loop's cluster says so: bold, labelled with its bound and `until`.
            let style = w.groups[g].loop == nil ? "dashed" : "bold"
            var s = "\(indent)subgraph cluster_g\(g) {\n\(indent)  label=\(quoteDot(groupLabel(w, g)));\n\(indent)  style=\(style);\n"
            for id in w.order where w.tasks[id].group == g { s += node(id, indent: indent + "  ") }
            for (child, grp) in w.groups.enumerated() where grp.parent == g { s += cluster(child, indent: indent + "  ") }
            return s + "\(indent)}\n"
        }
        for (g, grp) in w.groups.enumerated() where grp.parent == nil { out += cluster(g, indent: "  ") }
        for id in w.order where w.tasks[id].group == nil && !w.tasks[id].isFinally { out += node(id, indent: "  ") }
        // `finally` tasks in a cluster of their own: they run after everything else.
        if w.tasks.contains(where: \.isFinally) {
            out += "  subgraph cluster_finally {\n    label=\"finally\";\n    style=dotted;\n"
            for id in w.order where w.tasks[id].isFinally { out += node(id, indent: "    ") }
            out += "  }\n"
        }
        for (a, b) in edges(w) {
            var attrs: [String] = hot.contains([a, b]) ? ["color=red", "penwidth=2"] : []
            if let c = conditional(from: a, to: b, w) { attrs += ["style=\(c.dotted ? "dotted" : "dashed")", "label=\(quoteDot(c.label))"] }
            else if let f = fanout(from: a, to: b, w) { attrs += ["style=bold", "label=\(quoteDot(f))"] }
            out += "  t\(a) -> t\(b)" + (attrs.isEmpty ? "" : " [" + attrs.joined(separator: ", ") + "]") + ";\n"
        }
        for t in w.tasks {
            if let c = t.catchRule?.catchExpr, case .name(let n) = c.kind, let f = w.tasks.first(where: { $0.name.text == n }) {
                out += "  t\(t.id) -> t\(f.id) [style=dashed, label=\"on failure\"];\n"
            }
        }
        for (a, b, label) in loopBackEdges(w) {
            out += "  t\(a) -> t\(b) [style=bold, constraint=false, label=\(quoteDot(label))];\n"
        }
        return out + "}\n"
    }

    static func quoteDot(_ s: String, escapeNewlines: Bool = true) -> String {
        var out = "\""
        for c in s {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += escapeNewlines ? "\\\\" : "\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out + "\""
    }

    // MARK: Mermaid

    static func mermaid(_ w: CheckedWorkflow) -> String {
        let cp = mainPath(w)
        let hot = criticalEdges(cp.path)
        var out = "flowchart LR\n"
        out += "  %% \(w.name): critical path \(fmtMs(cp.totalMs))" + (w.deadlineMs.map { " of deadline \(fmtMs($0))" } ?? "") + "\n"
        func node(_ id: Int, indent: String) -> String {
            let t = w.tasks[id]
            let text = label(t, worstMs: cp.taskMs[id]).map(quoteMermaid).joined(separator: "<br/>")
            return t.action == "approve" ? "\(indent)t\(id){{\"\(text)\"}}\n" : "\(indent)t\(id)[\"\(text)\"]\n"
        }
        func cluster(_ g: Int, indent: String) -> String {
            var s = "\(indent)subgraph g\(g)[\"\(quoteMermaid(groupLabel(w, g, separator: " · ")))\"]\n"
            for id in w.order where w.tasks[id].group == g { s += node(id, indent: indent + "  ") }
            for (child, grp) in w.groups.enumerated() where grp.parent == g { s += cluster(child, indent: indent + "  ") }
            return s + "\(indent)end\n"
        }
        for (g, grp) in w.groups.enumerated() where grp.parent == nil { out += cluster(g, indent: "  ") }
        for id in w.order where w.tasks[id].group == nil && !w.tasks[id].isFinally { out += node(id, indent: "  ") }
        if w.tasks.contains(where: \.isFinally) {
            out += "  subgraph finally[\"finally\"]\n"
            for id in w.order where w.tasks[id].isFinally { out += node(id, indent: "    ") }
            out += "  end\n"
        }
        var linkIndex = 0
        var hotLinks: [Int] = []
        for (a, b) in edges(w) {
            out += conditional(from: a, to: b, w).map { "  t\(a) -. \($0.label) .-> t\(b)\n" }
                ?? fanout(from: a, to: b, w).map { "  t\(a) == \(quoteMermaid($0)) ==> t\(b)\n" } ?? "  t\(a) --> t\(b)\n"
            if hot.contains([a, b]) { hotLinks.append(linkIndex) }
            linkIndex += 1
        }
        for t in w.tasks {
            if let c = t.catchRule?.catchExpr, case .name(let n) = c.kind, let f = w.tasks.first(where: { $0.name.text == n }) {
                out += "  t\(t.id) -. on failure .-> t\(f.id)\n"
                linkIndex += 1
            }
        }
        for (a, b, label) in loopBackEdges(w) {
            out += "  t\(a) ==>|\"\(quoteMermaid(label))\"| t\(b)\n"
            linkIndex += 1
        }
        if !cp.path.isEmpty {
            out += "  classDef critical stroke:#d00,stroke-width:3px\n"
            out += "  class " + cp.path.map { "t\($0)" }.joined(separator: ",") + " critical\n"
        }
        if !hotLinks.isEmpty {
            out += "  linkStyle " + hotLinks.map(String.init).joined(separator: ",") + " stroke:#d00,stroke-width:3px\n"
        }
        return out
    }

    /// Mermaid labels are quoted; `"` and markup characters become entity codes.
    static func quoteMermaid(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\"": out += "#quot;"
            case "<": out += "#lt;"
            case ">": out += "#gt;"
            default: out.append(c)
            }
        }
        return out
    }

    static func fmtMs(_ ms: Int64) -> String { fmtDuration(ms) }
}
