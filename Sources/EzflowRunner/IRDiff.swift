// What changed between the IR a run started with and the one offered on resume, in
// words a reviewer can act on: tasks added, removed or changed (and which fields), and
// workflow-level fields. Tasks are matched by name, since ids follow topological order.
import EzflowIR

public enum IRDiff {
    /// One line per difference, sorted for stable output; empty when the documents agree
    /// on everything but the hash and source map.
    public static func describe(old: JSONValue, new: JSONValue) -> [String] {
        var out: [String] = []
        let oldTasks = tasks(old), newTasks = tasks(new)
        let oldNames = names(old), newNames = names(new)
        for (name, t) in newTasks.sorted(by: { $0.key < $1.key }) {
            guard let o = oldTasks[name] else {
                out.append("+ task `\(name)` (added)")
                continue
            }
            let fields = changedFields(o, t, oldNames: oldNames, newNames: newNames)
            if !fields.isEmpty { out.append("~ task `\(name)`: \(fields.joined(separator: ", ")) changed") }
        }
        for name in oldTasks.keys.sorted() where newTasks[name] == nil { out.append("- task `\(name)` (removed)") }
        let skip: Set<String> = ["tasks", "hash", "source_map", "groups"]
        if case .object(let om) = old, case .object(let nm) = new {
            let keys = Set(om.map(\.0)).union(nm.map(\.0)).subtracting(skip).sorted()
            for k in keys where old[k] != new[k] { out.append("~ workflow `\(k)` changed") }
        }
        return out
    }

    /// True when `new` only adds tasks, each depending (directly or not) on a task that
    /// has not finished in the run, and changes nothing else.
    public static func onlyAddsDownstream(old: JSONValue, new: JSONValue, unfinished: Set<String>) -> Bool {
        let lines = describe(old: old, new: new)
        guard !lines.isEmpty, lines.allSatisfy({ $0.hasPrefix("+ task ") }) else { return false }
        let newTasks = tasks(new)
        let idToName = names(new)
        let oldTasks = tasks(old)
        var memo: [String: Bool] = [:]
        func downstream(_ name: String) -> Bool {
            if let m = memo[name] { return m }
            memo[name] = false
            let deps = depIDs(newTasks[name]).compactMap { idToName[$0] }
            let r = deps.contains { unfinished.contains($0) || (oldTasks[$0] == nil && downstream($0)) }
            memo[name] = r
            return r
        }
        return newTasks.keys.filter { oldTasks[$0] == nil }.allSatisfy(downstream)
    }

    static func tasks(_ doc: JSONValue) -> [String: JSONValue] {
        guard case .array(let ts)? = doc["tasks"] else { return [:] }
        var out: [String: JSONValue] = [:]
        for t in ts { if case .string(let n)? = t["name"] { out[n] = t } }
        return out
    }

    static func names(_ doc: JSONValue) -> [Int64: String] {
        guard case .array(let ts)? = doc["tasks"] else { return [:] }
        var out: [Int64: String] = [:]
        for t in ts { if case .int(let i)? = t["id"], case .string(let n)? = t["name"] { out[i] = n } }
        return out
    }

    static func depIDs(_ t: JSONValue?) -> [Int64] {
        guard case .array(let ds)? = t?["deps"] else { return [] }
        return ds.compactMap { if case .int(let i) = $0 { i } else { nil } }
    }

    /// Fields that differ, comparing dependencies by name (ids shift when tasks are added).
    static func changedFields(_ a: JSONValue, _ b: JSONValue, oldNames: [Int64: String], newNames: [Int64: String]) -> [String] {
        guard case .object(let am) = a, case .object(let bm) = b else { return ["everything"] }
        let keys = Set(am.map(\.0)).union(bm.map(\.0)).subtracting(["id"]).sorted()
        return keys.filter { k in
            if k == "deps" { return Set(depIDs(a).compactMap { oldNames[$0] }) != Set(depIDs(b).compactMap { newNames[$0] }) }
            if k == "group" { return false }
            // Task refs inside expressions also carry ids; compare them through names.
            return normalized(a[k], oldNames) != normalized(b[k], newNames)
        }
    }

    static func normalized(_ v: JSONValue?, _ names: [Int64: String]) -> JSONValue? {
        guard let v else { return nil }
        switch v {
        case .object(let m):
            if m.count == 1, m[0].0 == "ref", case .array(var path) = m[0].1, path.count >= 2, path[0] == .string("task"),
               case .int(let id) = path[1] {
                path[1] = .string(names[id] ?? "#\(id)")
                return .object([("ref", .array(path))])
            }
            return .object(m.map { ($0.0, normalized($0.1, names) ?? .null) })
        case .array(let xs): return .array(xs.map { normalized($0, names) ?? .null })
        default: return v
        }
    }
}
