// Structured logs: one canonical JSON object per line, so `jq`, Loki or CloudWatch can
// filter by run, task and attempt without parsing free text.
import EzflowIR

public enum LogLevel: String, Sendable, Equatable, CaseIterable {
    case debug, info, warn, error
}

/// One log record. Reserved keys (`ts`, `level`, `run_id`, `task`, `attempt`, `msg`)
/// win over extra fields of the same name.
public struct LogLine: Sendable, Equatable {
    public var atMs: Int64
    public var level: LogLevel
    public var runID: String
    public var task: String?
    public var attempt: Int?
    public var message: String
    public var fields: [String: JSONValue]

    public init(atMs: Int64, level: LogLevel, runID: String, task: String? = nil, attempt: Int? = nil, message: String,
                fields: [String: JSONValue] = [:]) {
        self.atMs = atMs
        self.level = level
        self.runID = runID
        self.task = task
        self.attempt = attempt
        self.message = message
        self.fields = fields
    }

    static let reserved: Set<String> = ["ts", "level", "run_id", "task", "attempt", "msg"]

    /// The canonical JSON text, without a trailing newline. `msg` and every string in
    /// `fields` pass through `redact`; absent task/attempt are omitted, not null.
    public func render(redact: @Sendable (String) -> String = { $0 }) -> String {
        var members: [(String, JSONValue)] = [
            ("ts", .string(Format.rfc3339(ms: atMs))), ("level", .string(level.rawValue)), ("run_id", .string(runID)),
            ("msg", .string(Format.stripControls(redact(message)))),
        ]
        if let task { members.append(("task", .string(task))) }
        if let attempt { members.append(("attempt", .int(Int64(attempt)))) }
        for (k, v) in fields where !LogLine.reserved.contains(k) { members.append((k, redactJSON(v, redact))) }
        return String(decoding: CanonicalJSON.encode(.object(members)), as: UTF8.self)
    }
}

public enum JSONLog {
    /// One log line (no trailing newline); see `LogLine.render`.
    public static func line(atMs: Int64, level: LogLevel, runID: String, task: String? = nil, attempt: Int? = nil,
                            message: String, fields: [String: JSONValue] = [:],
                            redact: @Sendable (String) -> String = { $0 }) -> String {
        LogLine(atMs: atMs, level: level, runID: runID, task: task, attempt: attempt, message: message, fields: fields)
            .render(redact: redact)
    }
}
