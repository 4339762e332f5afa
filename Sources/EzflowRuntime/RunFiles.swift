// The files a run's tasks left, read from its state (docs/RUNTIME.md, "Files"): what
// `ezrun files`, `ezrun status` and the summary list. A pure read of journalled records;
// the core itself never looks inside a file record.
import EzflowIR

/// One file of a run: `task.output` (`[i]` for an item of a `list[file]`) and its record.
public struct RunFile: Sendable, Equatable {
    /// `build.app`, `build.logs[1]`, `test[os=linux].report`.
    public var label: String
    public var record: FileRecord
    public init(label: String, record: FileRecord) {
        self.label = label
        self.record = record
    }
}

extension RunState {
    /// The files the run's finished tasks left, in task order then output name order.
    public var files: [RunFile] {
        var out: [RunFile] = []
        for t in 0..<plan.taskCount where t < plan.taskJSON.count {
            guard let outputs = taskOutputs[t],
                  let fields = OutputSchema.declared(task: plan.taskJSON[t], types: plan.types(ofTask: t))?.filter({ $0.type.holdsFile }),
                  !fields.isEmpty else { continue }
            for f in fields {
                guard let v = outputs[f.name] else { continue }
                let label = plan.taskNames[t] + "." + f.name
                if case .array(let items) = v {
                    for (i, x) in items.enumerated() { if let r = FileRecord(x) { out.append(RunFile(label: "\(label)[\(i)]", record: r)) } }
                } else if let r = FileRecord(v) {
                    out.append(RunFile(label: label, record: r))
                }
            }
        }
        return out
    }
}
