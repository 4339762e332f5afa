// Renders a task's `template` parts at dispatch time into the text a driver sends (a
// command line, a prompt, a URL). Values come from the shell: workflow inputs, finished
// tasks' outputs, the fan-out item and the secrets granted to the task. Evaluation itself
// is `IRExpr` in EzflowIR (pure, shared with the runtime core).
import EzflowIR

/// Why a template or expression could not be evaluated. Messages name references and
/// secrets by name only, never a secret's value.
public struct RenderError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The values an expression may read.
public struct RenderValues: Sendable {
    /// Workflow input values by name (defaults already applied by the shell).
    public var inputs: [String: JSONValue]
    /// Outputs object of each finished task, by task id. A `for_each` task's entry is an
    /// array with one outputs object per instance (its outputs then read as lists).
    public var taskOutputs: [Int: JSONValue]
    /// The current element of a `for_each` fan-out, if any.
    public var item: JSONValue?
    /// Resolved secret values by secret name: only the ones granted to the task.
    public var secrets: [String: String]
    /// Names of the ids in `taskOutputs` (the `deps` member drivers send), when the ids
    /// are not positions in the driver's task list (tasks of a sub-workflow scope).
    public var taskNames: [Int: String] = [:]
    /// The attempt's token cap from its dispatch (prompt + completion), for the llm driver;
    /// nil: uncapped.
    public var tokenCap: Int64? = nil
    /// How each ended dependency ended (`TASK.status`), by task id; a dependency that ended
    /// without outputs reads its outputs as null.
    public var taskStatuses: [Int: String] = [:]
    /// Dependencies whose outputs this task reads as optional (`outputsMayBeMissing`).
    public var optionalOutputs: Set<Int> = []
    /// `run.status` and `run.failures` for a `finally` task (empty elsewhere).
    public var runValues: [String: JSONValue] = [:]

    public init(inputs: [String: JSONValue] = [:], taskOutputs: [Int: JSONValue] = [:], item: JSONValue? = nil,
                secrets: [String: String] = [:], taskNames: [Int: String] = [:]) {
        self.taskNames = taskNames
        self.inputs = inputs
        self.taskOutputs = taskOutputs
        self.item = item
        self.secrets = secrets
    }
}

extension RenderValues {
    /// The name of dependency `id`: from `taskNames`, else the task at that position.
    func depName(_ id: Int, tasks: [JSONValue]) -> String? {
        if let n = taskNames[id] { return n }
        guard id >= 0, id < tasks.count, case .string(let n)? = tasks[id]["name"] else { return nil }
        return n
    }
}

/// Renders templates and evaluates expressions against `RenderValues` with the one IR
/// evaluator (`IRExpr`, in EzflowIR); its errors become `RenderError`s, same messages.
public struct TemplateRenderer: Sendable {
    public var values: RenderValues

    public init(values: RenderValues) { self.values = values }

    /// Renders template parts (`[expr]`) into one string.
    public func render(_ parts: [JSONValue]) throws(RenderError) -> String {
        do throws(ExprError) { return try IRExpr.render(parts, in: values) } catch { throw RenderError(error.message) }
    }

    /// Renders one expression as text (an `env` value, a single part).
    public func renderText(_ expr: JSONValue) throws(RenderError) -> String {
        Self.text(try evaluate(expr))
    }

    /// The text form of a value (`IRExpr.text`).
    public static func text(_ v: JSONValue) -> String { IRExpr.text(v) }

    /// Evaluates one expression object.
    public func evaluate(_ expr: JSONValue) throws(RenderError) -> JSONValue {
        do throws(ExprError) { return try IRExpr.evaluate(expr, in: values) } catch { throw RenderError(error.message) }
    }
}

extension RenderValues: ExprEnvironment {
    public func input(_ name: String) -> JSONValue? { inputs[name] }
    public func outputs(ofTask id: Int) -> JSONValue? { taskOutputs[id] }
    public func secret(_ name: String) -> String? { secrets[name] }
    public func taskName(_ id: Int) -> String? { taskNames[id] }
    public func status(ofTask id: Int) -> String? { taskStatuses[id] }
    public func outputsMayBeMissing(ofTask id: Int) -> Bool { optionalOutputs.contains(id) }
    public func runValue(_ name: String) -> JSONValue? { runValues[name] }
}
