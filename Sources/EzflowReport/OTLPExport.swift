// OpenTelemetry traces as OTLP/JSON (an ExportTraceServiceRequest body for POST
// /v1/traces, or a file for `otel-cli`/collectors' file receiver). Encoding follows the
// OTLP JSON rules: lowerCamelCase keys, trace/span ids as lowercase hex (not base64),
// enums as integers, 64-bit integers (times, intValue) as decimal strings.
//
// Ids are derived from the run id, task name and attempt, so re-exporting a run (after a
// resume, or from the store later) produces the same trace instead of a duplicate.
import EzflowIR
import EzflowRuntime

public enum OTLPExport {
    /// Span kind INTERNAL: the run, its tasks and attempts are all in-process work units.
    static let kindInternal: Int64 = 1

    public static func json(_ snapshot: RunSnapshot, redact: @Sendable (String) -> String = { $0 }) -> [UInt8] {
        CanonicalJSON.encode(value(snapshot, redact: redact))
    }

    public static func value(_ s: RunSnapshot, redact: @Sendable (String) -> String = { $0 }) -> JSONValue {
        let trace = traceID(runID: s.runID)
        let runSpan = spanID("run", s.runID)
        var spans: [JSONValue] = []
        let tasks = s.taskViews()
        // Run span.
        var runStatus: (Int64, String?) = (0, nil)
        switch s.state.phase {
        case .finished(.success): runStatus = (1, nil)
        case .finished(.waitingForApproval), .notStarted, .running, .draining: break  // not over: status unset
        case .finished(let v): runStatus = (2, "run \(v.rawValue)")
        }
        spans.append(span(trace: trace, id: runSpan, parent: nil, name: s.workflowName, start: s.startedAtMs, end: s.endedAtMs,
                          attributes: [
                            ("ezflow.cost_micros", .int(s.state.chargedMicros)), ("ezflow.ir_hash", .string(s.plan.hash)),
                            ("ezflow.run_id", .string(s.runID)), ("ezflow.tokens", .int(s.state.chargedTokens)),
                            ("ezflow.verdict", .string(s.verdictText)), ("ezflow.workflow", .string(s.workflowName)),
                          ], status: runStatus))
        for t in tasks {
            let taskSpan = spanID("task", s.runID, t.name)
            var attrs: [(String, JSONValue)] = [
                ("ezflow.attempts", .int(Int64(t.attempts.count))), ("ezflow.cost_micros", .int(t.costMicros)),
                ("ezflow.run_id", .string(s.runID)), ("ezflow.state", .string(stateName(t.state))),
                ("ezflow.task", .string(t.name)), ("ezflow.tokens", .int(t.tokens)),
            ]
            var status: (Int64, String?) = (0, nil)
            switch t.state {
            case .succeeded: status = (1, nil)
            case .failed where t.rescued: status = (1, nil)
            case .failed, .deadLettered:
                let f = t.lastFailure
                status = (2, f.map { "\($0.errorClass ?? "failed"): \(redact($0.message))" } ?? stateName(t.state))
                if let c = f?.errorClass { attrs.append(("ezflow.error_class", .string(c))) }
            case .cancelled: status = (2, "cancelled")
            case .waiting, .ready, .running, .backoff, .awaitingApproval, .skipped: break  // not an outcome: status unset
            }
            if let fb = t.fallback { attrs.append(("ezflow.fallback", .string(fb))) }
            spans.append(span(trace: trace, id: taskSpan, parent: runSpan, name: t.name, start: t.startMs, end: t.endMs,
                              attributes: attrs, status: status))
            for a in t.attempts {
                var aattrs: [(String, JSONValue)] = [
                    ("ezflow.agent", .string(a.agentName)), ("ezflow.attempt", .int(Int64(a.attempt))),
                    ("ezflow.cost_micros", .int(a.costMicros)), ("ezflow.outcome", .string(a.outcome)),
                    ("ezflow.run_id", .string(s.runID)), ("ezflow.task", .string(t.name)), ("ezflow.tokens", .int(a.tokens)),
                ]
                if let c = a.errorClass { aattrs.append(("ezflow.error_class", .string(c))) }
                if let code = a.log?.exitCode { aattrs.append(("process.exit.code", .int(Int64(code)))) }
                let st: (Int64, String?) = a.endedAtMs == nil ? (0, nil)
                    : a.errorClass.map { (2, "\($0): \(redact(a.message))") } ?? (1, nil)
                spans.append(span(trace: trace, id: spanID("attempt", s.runID, t.name, String(a.attempt)), parent: taskSpan,
                                  name: "\(t.name) #\(a.attempt)", start: a.startedAtMs, end: a.endedAtMs ?? s.endedAtMs,
                                  attributes: aattrs, status: st))
            }
        }
        let resource: JSONValue = .object([("attributes", .array(attributes([
            ("ezflow.workflow", .string(s.workflowName)), ("service.name", .string("ezflow")),
        ])))])
        let scope: JSONValue = .object([("name", .string("ezflow"))])
        let scopeSpans: JSONValue = .object([("scope", scope), ("spans", .array(spans))])
        let rs: JSONValue = .object([("resource", resource), ("scopeSpans", .array([scopeSpans]))])
        return .object([("resourceSpans", .array([rs]))])
    }

    static func span(trace: String, id: String, parent: String?, name: String, start: Int64, end: Int64,
                     attributes attrs: [(String, JSONValue)], status: (Int64, String?)) -> JSONValue {
        var o = JSONObject()
        o.set("traceId", trace)
        o.set("spanId", id)
        if let parent { o.set("parentSpanId", parent) }
        o.set("name", name)
        o.set("kind", .int(kindInternal))
        o.set("startTimeUnixNano", nanos(start))
        o.set("endTimeUnixNano", nanos(max(start, end)))
        o.set("attributes", .array(attributes(attrs)))
        var st = JSONObject()
        if status.0 != 0 { st.set("code", .int(status.0)) }
        if let m = status.1 { st.set("message", m) }
        o.set("status", st.value)
        return o.value
    }

    /// OTLP `KeyValue`s sorted by key; ints as `{"intValue":"123"}` (int64 → string).
    static func attributes(_ kv: [(String, JSONValue)]) -> [JSONValue] {
        kv.sorted { $0.0 < $1.0 }.map { k, v in
            let any: JSONValue
            switch v {
            case .int(let i): any = .object([("intValue", .string(String(i)))])
            case .bool(let b): any = .object([("boolValue", .bool(b))])
            case .string(let str): any = .object([("stringValue", .string(str))])
            default: any = .object([("stringValue", .string(String(decoding: CanonicalJSON.encode(v), as: UTF8.self)))])
            }
            return .object([("key", .string(k)), ("value", any)])
        }
    }

    /// Milliseconds → nanoseconds as a decimal string; times before 1970 clamp to 0
    /// (the field is a fixed64).
    static func nanos(_ ms: Int64) -> String {
        let (v, o) = max(0, ms).multipliedReportingOverflow(by: 1_000_000)
        return o ? String(Int64.max) : String(v)
    }

    /// 32 lowercase hex digits: two independent 64-bit hashes of the run id.
    public static func traceID(runID: String) -> String {
        let h = Hash.fnv1a("ezflow/trace/" + runID)
        var hi = Hash.mix(h), lo = Hash.mix(h ^ 0x5851_F42D_4C95_7F2D)
        if hi == 0 && lo == 0 { lo = 1 }  // all-zero ids are invalid
        if hi == 0 { hi = 1 }
        return Hash.hex(hi) + Hash.hex(lo)
    }

    /// 16 lowercase hex digits for a span: `("run", id)`, `("task", id, name)`,
    /// `("attempt", id, name, n)`. Parts are joined with NUL so `a/b` + `c` ≠ `a` + `b/c`.
    public static func spanID(_ parts: String...) -> String {
        let v = Hash.mix(Hash.fnv1a(parts.joined(separator: "\u{0}")))
        return Hash.hex(v == 0 ? 1 : v)
    }
}

/// Non-cryptographic hashing for stable ids: FNV-1a (64-bit) over UTF-8, then the
/// SplitMix64 finalizer to spread FNV's weak high bits.
enum Hash {
    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
