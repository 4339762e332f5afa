// Run-time RBAC/ABAC over the IR's roles and policies: who may start a run, who may
// approve a gate, and the per-task policies checked before each dispatch. Decisions are
// values with a reason, so the shell can print, audit and journal them alike.
import EzflowAgents
import EzflowIR
import Foundation

/// Who acts: a name, the roles they hold, and the attributes policies may read
/// (`principal.name`, `.team`, `.role`, `.groups`).
public struct Principal: Sendable, Equatable {
    public var name: String
    public var roles: [String]
    public var team: String?
    public var groups: [String]

    public init(name: String, roles: [String], team: String? = nil, groups: [String] = []) {
        self.name = name
        self.roles = roles
        self.team = team
        self.groups = groups
    }

    /// `NAME` (looked up in the principals file) or `NAME:ROLE[,ROLE…]` (roles given inline).
    /// The file is JSON: `{"alice": {"roles": ["releaser"], "team": "platform", "groups": ["oncall"]}}`.
    /// Neither form authenticates anyone: they name the identity the caller (a CI job, an
    /// operator) vouches for, as `--as` does in kubectl.
    public static func resolve(_ spec: String, principalsFile: String?) throws(RunnerError) -> Principal {
        // Names are printed on terminals and written to the audit log: a control character
        // could forge a line, a space could make two people look like one.
        let printable = spec.unicodeScalars.allSatisfy { !$0.properties.isWhitespace && !CharacterSet.controlCharacters.contains($0) }
        guard printable else { throw .invalid("--as: a principal's name and roles are words without spaces or control characters") }
        if let colon = spec.firstIndex(of: ":") {
            let name = String(spec[..<colon])
            let roles = spec[spec.index(after: colon)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !name.isEmpty, !roles.isEmpty, roles.allSatisfy({ !$0.isEmpty }) else {
                throw .invalid("--as `\(spec)`: expected NAME or NAME:ROLE[,ROLE…]")
            }
            return Principal(name: name, roles: roles)
        }
        guard !spec.isEmpty else { throw .invalid("--as needs a principal name") }
        guard let path = principalsFile else {
            throw .invalid("--as `\(spec)`: no principals file (pass --principals FILE, set EZFLOW_PRINCIPALS, or write NAME:ROLE)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw .invalid("\(path): cannot read the principals file") }
        let doc: JSONValue
        do { doc = try JSONParser.parse([UInt8](data)) } catch { throw .invalid("\(path): \(error.description)") }
        guard case .object = doc else { throw .invalid("\(path): expected an object of principals") }
        guard let entry = doc[spec] else { throw .invalid("\(path): no principal `\(spec)`") }
        func strings(_ v: JSONValue?, _ field: String) throws(RunnerError) -> [String] {
            guard let v else { return [] }
            guard case .array(let xs) = v else { throw .invalid("\(path): `\(spec).\(field)` must be a list of strings") }
            var out: [String] = []
            for x in xs {
                guard case .string(let s) = x else { throw .invalid("\(path): `\(spec).\(field)` must be a list of strings") }
                out.append(s)
            }
            return out
        }
        let team: String? = if case .string(let t)? = entry["team"] { t } else { nil }
        return Principal(name: spec, roles: try strings(entry["roles"], "roles"), team: team, groups: try strings(entry["groups"], "groups"))
    }

    var attributes: [String: JSONValue] {
        ["name": .string(name), "team": team.map { .string($0) } ?? .null, "role": roles.first.map { .string($0) } ?? .null,
         "groups": .array(groups.map { .string($0) }), "roles": .array(roles.map { .string($0) })]
    }
}

/// An access decision.
public struct Decision: Sendable, Equatable {
    public var allowed: Bool
    public var reason: String
    static func allow(_ r: String) -> Decision { Decision(allowed: true, reason: r) }
    static func deny(_ r: String) -> Decision { Decision(allowed: false, reason: r) }
}

/// The access rules of one IR workflow.
public struct Access: Sendable {
    struct Role: Sendable { var name: String; var inherits: [String]; var allow: [String] }
    struct Policy: Sendable {
        var name: String; var deny: Bool; var action: String; var roles: [String]; var when: JSONValue?
        /// Whether the condition reads `task.*` (then it can only be decided per task).
        var readsTask: Bool { when.map(Access.readsTask) ?? false }
    }
    let roles: [String: Role]
    let policies: [String: Policy]
    let workflowName: String

    public init(workflow doc: JSONValue) {
        var rs: [String: Role] = [:]
        if case .array(let xs)? = doc["roles"] {
            for x in xs {
                guard case .string(let n)? = x["name"] else { continue }
                rs[n] = Role(name: n, inherits: Self.strings(x["inherits"]), allow: Self.strings(x["allow"]))
            }
        }
        var ps: [String: Policy] = [:]
        if case .array(let xs)? = doc["policies"] {
            for x in xs {
                guard case .string(let n)? = x["name"] else { continue }
                let when: JSONValue? = if let w = x["when"], w != .null { w } else { nil }
                ps[n] = Policy(name: n, deny: x["effect"] == .string("deny"), action: Self.string(x["action"]) ?? "run",
                               roles: Self.strings(x["roles"]), when: when)
            }
        }
        roles = rs
        policies = ps
        workflowName = Self.string(doc["name"]) ?? "workflow"
    }

    /// The principal's roles as the workflow names them (exact, else a unique `module.name`).
    func held(_ p: Principal) -> [Role] {
        p.roles.compactMap { r in
            if let role = roles[r] { return role }
            let matches = roles.values.filter { $0.name.hasSuffix("." + r) }
            return matches.count == 1 ? matches[0] : nil
        }
    }

    /// The `run` policies that apply to `p` through the roles it holds, by name.
    func runPolicies(of p: Principal) -> [Policy] {
        let held = held(p)
        return policies.values.filter { $0.action == "run" && ($0.roles.isEmpty || $0.roles.contains { n in held.contains { $0.name == n || $0.inherits.contains(n) } }) }
            .sorted { $0.name < $1.name }
    }

    /// May `p` start (or resume) a run of this workflow? The `run` policies that apply to
    /// its roles are evaluated now, except those whose condition reads `task.*`: they are
    /// rules about tasks and are evaluated before each dispatch (`canDispatch`).
    public func canRun(_ p: Principal, inputs: [String: JSONValue]) -> Decision {
        let held = held(p)
        guard !held.isEmpty else {
            let known = roles.keys.sorted().joined(separator: ", ")
            return .deny("principal `\(p.name)` holds no role of workflow `\(workflowName)` (its roles: \(known.isEmpty ? "none" : known))")
        }
        guard let r = held.first(where: { $0.allow.contains("run") }) else {
            return .deny("no role of `\(p.name)` (\(held.map(\.name).joined(separator: ", "))) allows `run`")
        }
        return evaluate(runPolicies(of: p).filter { !$0.readsTask }, principal: p, task: nil, inputs: inputs,
                        granted: "role `\(r.name)` allows `run`")
    }

    /// May `p` approve `task` (an IR task object) of a run `startedBy` started (nil: the
    /// local operator, who is not subject to roles)? The starter may not approve its own
    /// gates unless the gate says `self_approval: allowed` (separation of duties).
    /// `escalatedTo`: the roles an escalated gate now waits for (`RunState.escalatedApprovers`),
    /// which replace its `approvers`.
    public func canApprove(_ p: Principal, task: JSONValue, inputs: [String: JSONValue], startedBy: String?,
                           escalatedTo: [String]? = nil) -> Decision {
        let approvers = escalatedTo ?? Self.strings(task["approvers"])
        let taskName = Self.string(task["name"]) ?? "?"
        let held = held(p)
        let qualifying = held.filter { r in r.allow.contains("approve") && (approvers.isEmpty || approvers.contains { r.name == $0 || r.inherits.contains($0) }) }
        guard let r = qualifying.first else {
            let list = approvers.isEmpty ? "a role that allows `approve`" : "one of the roles " + approvers.map { "`\($0)`" }.joined(separator: ", ")
            return .deny("principal `\(p.name)` may not approve `\(taskName)`: it needs \(list), and holds \(held.isEmpty ? "none of the workflow's roles" : held.map { "`\($0.name)`" }.joined(separator: ", "))")
        }
        if let starter = startedBy, starter == p.name, task["self_approval"] != .bool(true) {
            return .deny("principal `\(p.name)` started this run and may not approve its gate `\(taskName)` (separation of duties; "
                         + "the gate would need `self_approval: allowed`)")
        }
        let named = Self.strings(task["policies"]).compactMap { policies[$0] }.filter { $0.action == "approve" }
        return evaluate(named, principal: p, task: task, inputs: inputs, granted: "role `\(r.name)` may approve `\(taskName)`")
    }

    /// Checked before each dispatch: the `run` policies the task lists (by its role), and
    /// the principal's `run` policies that read `task.*` (deferred from `canRun`).
    public func canDispatch(_ p: Principal, task: JSONValue, inputs: [String: JSONValue]) -> Decision {
        let named = Self.strings(task["policies"]).compactMap { policies[$0] }.filter { $0.action == "run" }
        let deferred = runPolicies(of: p).filter { q in q.readsTask && !named.contains { $0.name == q.name } }
        return evaluate(named + deferred, principal: p, task: task, inputs: inputs, granted: "allowed")
    }

    /// Deny wins; when allow policies apply, one of them must hold.
    func evaluate(_ ps: [Policy], principal: Principal, task: JSONValue?, inputs: [String: JSONValue], granted: String) -> Decision {
        var allows: [Policy] = []
        for policy in ps {
            let holds: Bool
            switch condition(policy, principal: principal, task: task, inputs: inputs) {
            case .success(let b): holds = b
            case .failure(let e): return .deny("policy `\(policy.name)` could not be evaluated: \(e.message)")
            }
            if policy.deny {
                if holds { return .deny("policy `\(policy.name)` denies it") }
            } else {
                allows.append(policy)
                if holds { return .allow("\(granted); policy `\(policy.name)` allows it") }
            }
        }
        if !allows.isEmpty {
            return .deny("no allow policy holds (\(allows.map { "`\($0.name)`" }.joined(separator: ", ")))")
        }
        return .allow(granted)
    }

    func condition(_ p: Policy, principal: Principal, task: JSONValue?, inputs: [String: JSONValue]) -> Result<Bool, RenderError> {
        guard let when = p.when else { return .success(true) }
        let bound = Self.bind(when, principal: principal.attributes, task: task)
        do throws(RenderError) {
            let v = try TemplateRenderer(values: RenderValues(inputs: inputs)).evaluate(bound)
            guard case .bool(let b) = v else { return .failure(RenderError("`when` gave \(v.typeName), not bool")) }
            return .success(b)
        } catch { return .failure(error) }
    }

    /// Replaces `principal.*` and `task.name|tags|priority` refs by literals.
    static func bind(_ e: JSONValue, principal: [String: JSONValue], task: JSONValue?) -> JSONValue {
        switch e {
        case .object(let m):
            if m.count == 1, m[0].0 == "ref", case .array(let path) = m[0].1, path.count >= 2, case .string(let head) = path[0],
               case .string(let attr) = path[1] {
                if head == "principal" { return literal(principal[attr] ?? .null) }
                if head == "task", path.count == 2, let t = task {
                    switch attr {
                    case "name": return literal(t["name"] ?? .null)
                    case "tags": return literal(t["tags"] ?? .array([]))
                    case "priority": return literal(t["priority"] ?? .int(0))
                    default: break
                    }
                }
            }
            return .object(m.map { ($0.0, bind($0.1, principal: principal, task: task)) })
        case .array(let xs): return .array(xs.map { bind($0, principal: principal, task: task) })
        default: return e
        }
    }

    /// Whether IR expression `e` has a `{"ref": ["task", …]}` anywhere.
    static func readsTask(_ e: JSONValue) -> Bool {
        switch e {
        case .object(let m):
            if m.count == 1, m[0].0 == "ref", case .array(let path) = m[0].1, path.first == .string("task") { return true }
            return m.contains { readsTask($0.1) }
        case .array(let xs): return xs.contains(where: readsTask)
        default: return false
        }
    }

    /// A JSON value as an IR literal expression.
    static func literal(_ v: JSONValue) -> JSONValue {
        switch v {
        case .null: .object([("null", .null)])
        case .bool(let b): .object([("bool", .bool(b))])
        case .int(let i): .object([("int", .int(i))])
        case .float(let f): .object([("float", .float(f))])
        case .string(let s): .object([("text", .string(s))])
        case .array(let xs): .object([("list", .array(xs.map(literal)))])
        case .object(let m): .object([("record", .object(m.map { ($0.0, literal($0.1)) }))])
        default: v
        }
    }

    static func strings(_ v: JSONValue?) -> [String] {
        guard case .array(let xs)? = v else { return [] }
        return xs.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }

    static func string(_ v: JSONValue?) -> String? { if case .string(let s)? = v { s } else { nil } }
}
