// File artifacts (docs/RUNTIME.md, "Files"). A `file` output is a path a `run` task
// reports; the runner stores the file by its SHA-256 and later tasks read the stored,
// read-only copy's path. So only a `run` task may declare one (E0940: a model, a service
// or an approver leaves no file on this machine), a file is text only where a local
// program reads it — a `run` script and its `env` (E0941) — and `file` is a type of
// outputs only, `file`, `file?` or `list[file]` (E0942): an input would be a path of the
// user's machine, which the journal never holds.
import EzflowDiagnostics
import EzflowSyntax

extension Ty {
    /// Whether a value of this type may hold a file.
    var holdsFile: Bool {
        switch self {
        case .file: true
        case .list(let t), .map(let t), .optional(let t): t.holdsFile
        case .record(let r): r.fields.values.contains { $0.holdsFile }
        case .string, .int, .float, .bool, .duration, .money, .tokens, .path, .json, .enumeration, .null, .nothing, .error: false
        }
    }

    /// The type as a `run` script or `env` reads it: every file is its stored copy's path.
    var fileAsPath: Ty {
        guard holdsFile else { return self }
        switch self {
        case .file: return .string
        case .list(let t): return .list(t.fileAsPath)
        case .map(let t): return .map(t.fileAsPath)
        case .optional(let t): return .optional(t.fileAsPath)
        case .record(var r):
            for (k, v) in r.fields { r.fields[k] = v.fileAsPath }
            return .record(r)
        default: return self
        }
    }

    /// The shapes an output may have when it holds a file.
    var isFileOutputShape: Bool { self == .file || self == .optional(.file) || self == .list(.file) }
}

extension WorkflowChecker {
    /// E0942: `file` where it cannot be (an input, a record field, a map, a list of
    /// optional files); `output` says whether `te` declares an output.
    mutating func checkFileType(_ te: TypeExpr, _ ty: Ty, output: Bool) {
        guard ty.holdsFile, !(output && ty.isFileOutputShape) else { return }
        let why = output ? "an output holding a file is `file`, `file?` or `list[file]`"
            : "`file` is a type of task and workflow outputs only"
        report(error("E0942", "`\(ty)` cannot be declared here: \(why)", te.span,
                     help: output ? "declare one output per file, or a `list[file]`"
                         : "pass a path of this machine as a `path`, or read a task's `file` output"))
    }

    /// E0940: a task that is not a `run` task declares a `file` output.
    mutating func checkFileOutputs(_ t: TaskInfo) {
        let action = t.action
        guard !action.isEmpty, action != "run" else { return }
        for case .block(let o) in t.block.members where o.kind.text == "output" {
            guard let name = o.name, let te = o.type, t.outputs[name.text]?.holdsFile == true else { continue }
            report(error("E0940", "a `\(action)` task cannot declare a `file` output", te.span,
                         label: "output `\(name.text)` is a file", secondary: [Label(t.actionSpan, "this task is `\(action)`")],
                         help: "only a `run` task leaves a file to store; write the file in a `run` task that reads this one's outputs"))
        }
    }

    /// E0941: a file read as text outside a `run` script or `env`.
    mutating func reportFileAsText(_ t: Ty, at span: Span, _ what: String) {
        report(error("E0941", "\(what) cannot read a `\(t)` as text", span, label: "this is `\(t)`",
                     help: "a file is a path only in a `run` task's `run` and `env`; read it there"))
    }
}
