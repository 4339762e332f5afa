// What a worker in another process needs to carry out an attempt, beside the run's IR
// (which it reads from the store once per run): the values the attempt is rendered with,
// as the coordinator derived them from the run's state at dispatch, and when it offered the
// attempt (`offered_ms`, the coordinator's clock: the worker's claim latency). Canonical
// JSON; an offer repeated on resume is ignored by the queue, so the first bytes stay. Never a secret: `RenderValues.secrets` is filled by
// the driver in the worker, from the worker's own environment, and is not carried.
import EzflowAgents
import EzflowIR
import EzflowPorts

enum AttemptPayload {
    /// Bumped when the shape changes; a worker refuses a payload of another version.
    static let version = 1

    static func encode(_ v: RenderValues, planHash: String, offeredMs: Int64) -> [UInt8] {
        func byID(_ m: [Int: JSONValue]) -> JSONValue {
            .array(m.keys.sorted().map { .array([.int(Int64($0)), m[$0]!]) })
        }
        func namesByID(_ m: [Int: String]) -> JSONValue { byID(m.mapValues { .string($0) }) }
        let doc: JSONValue = .object([
            ("inputs", .object(v.inputs.keys.sorted().map { ($0, v.inputs[$0]!) })),
            ("item", v.item ?? .null),
            ("offered_ms", .int(offeredMs)),
            ("plan", .string(planHash)),
            ("optional_outputs", .array(v.optionalOutputs.sorted().map { .int(Int64($0)) })),
            ("run_values", .object(v.runValues.keys.sorted().map { ($0, v.runValues[$0]!) })),
            // The names of the tasks whose values travel, not the whole scope's: a payload
            // of every name made a 20,000-task run write O(tasks²) bytes to its queue.
            ("task_names", namesByID(Self.dependencyNames(v))),
            ("task_outputs", byID(v.taskOutputs)),
            ("task_statuses", namesByID(v.taskStatuses)),
            ("token_cap", v.tokenCap.map { .int($0) } ?? .null),
            ("v", .int(Int64(version))),
        ])
        return CanonicalJSON.encode(doc)
    }

    /// The names of the tasks in `v.taskOutputs` and `v.taskStatuses` (the attempt's
    /// dependencies), looked up one by one: O(dependencies), not O(tasks in the scope).
    static func dependencyNames(_ v: RenderValues) -> [Int: String] {
        var out: [Int: String] = [:]
        for id in v.taskOutputs.keys where out[id] == nil { out[id] = v.taskNames[id] }
        for id in v.taskStatuses.keys where out[id] == nil { out[id] = v.taskNames[id] }
        return out
    }

    struct Invalid: Error { var message: String }

    /// The values, the hash of the plan they were rendered for and the offer time (nil: a
    /// payload of an ezrun that did not stamp it).
    static func decode(_ bytes: [UInt8]) throws(Invalid) -> (values: RenderValues, planHash: String, offeredMs: Int64?) {
        let doc: JSONValue
        do throws(JSONParseError) { doc = try JSONParser.parse(bytes) } catch { throw Invalid(message: error.description) }
        guard case .int(let v)? = doc["v"], v == Int64(version) else {
            throw Invalid(message: "the attempt was queued by an ezrun of another version (payload version \(doc["v"].map { "\($0)" } ?? "none"), this worker reads \(version))")
        }
        func byID(_ key: String) throws(Invalid) -> [Int: JSONValue] {
            guard case .array(let pairs)? = doc[key] else { throw Invalid(message: "`\(key)` is missing") }
            var out: [Int: JSONValue] = [:]
            for p in pairs {
                guard case .array(let kv) = p, kv.count == 2, case .int(let id) = kv[0] else { throw Invalid(message: "`\(key)` is malformed") }
                out[Int(id)] = kv[1]
            }
            return out
        }
        func names(_ key: String) throws(Invalid) -> [Int: String] {
            try byID(key).compactMapValues { if case .string(let s) = $0 { s } else { nil } }
        }
        func object(_ key: String) -> [String: JSONValue] {
            guard case .object(let members)? = doc[key] else { return [:] }
            return Dictionary(members, uniquingKeysWith: { a, _ in a })
        }
        var values = RenderValues(inputs: object("inputs"), taskOutputs: try byID("task_outputs"), item: doc["item"].flatMap { $0 == .null ? nil : $0 },
                                  taskNames: try names("task_names"))
        values.taskStatuses = try names("task_statuses")
        if case .int(let cap)? = doc["token_cap"] { values.tokenCap = cap }
        if case .array(let ids)? = doc["optional_outputs"] {
            values.optionalOutputs = Set(ids.compactMap { if case .int(let i) = $0 { Int(i) } else { nil } })
        }
        values.runValues = object("run_values")
        guard case .string(let plan)? = doc["plan"] else { throw Invalid(message: "`plan` is missing") }
        let offered: Int64? = if case .int(let ms)? = doc["offered_ms"] { ms } else { nil }
        return (values, plan, offered)
    }
}
