// Where a `file` output becomes a stored file (docs/RUNTIME.md, "Files"): after an attempt
// of a task declaring one has ended, and before its completion is handed to the
// coordinator, each reported path is stored (`FileStore.capture`) and replaced by its
// `FileRecord`, so the journal holds digests and never a path. The core sees only records.
import EzflowAgents
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Foundation

/// The file outputs of one task: what its attempts' results are stored by.
struct FileOutputs: Sendable {
    /// Declared outputs that hold a file (`file`, `file?`, `list[file]`).
    let fields: [OutputField]

    /// nil when IR task `task` declares no file output.
    init?(task: JSONValue, types: JSONValue?) {
        let fs = (OutputSchema.declared(task: task, types: types) ?? []).filter { $0.type.holdsFile }
        guard !fs.isEmpty else { return nil }
        fields = fs
    }

    /// `result` with each file output stored and replaced by its record; a path that is
    /// refused, or a file missing where it is not optional, fails the attempt `output_error`.
    func store(_ result: DriverResult, workDir: String, files: FileStore, task: String) -> DriverResult {
        guard case .success(.object(var members)) = result.outcome else { return result }
        var r = result
        for f in fields {
            let i = members.firstIndex { $0.0 == f.name }
            do throws(FileError) {
                let stored = try value(i.map { members[$0].1 } ?? .null, f.type, workDir: workDir, files: files)
                if let i { members[i].1 = stored } else { members.append((f.name, stored)) }
            } catch {
                r.outcome = .failure(errorClass: OutputContract.errorClass, message: "task `\(task)`: output `\(f.name)`: \(error.message)")
                return r
            }
        }
        r.outcome = .success(outputs: .object(members))
        return r
    }

    func value(_ v: JSONValue, _ t: OutputType, workDir: String, files: FileStore) throws(FileError) -> JSONValue {
        switch (t, v) {
        case (.optional, .null): return .null
        case (.optional(let inner), _):
            do throws(FileError) { return try value(v, inner, workDir: workDir, files: files) } catch {
                // `file?`: a file the task did not leave reads as null; a refused path still fails.
                if error.missing { return .null }
                throw error
            }
        case (.list(let e), .array(let items)):
            var out: [JSONValue] = []
            for x in items { out.append(try value(x, e, workDir: workDir, files: files)) }
            return .array(out)
        case (.file, .string(let path)):
            guard let record = try files.capture(relative: path, workDir: workDir) else {
                throw FileError("the file `\(path)` does not exist in the task's working directory (declare the output `file?` if it may be left out)",
                                missing: true)
            }
            return record.json
        default:
            // The contract (`holding`) already refused any other shape.
            throw FileError("should be \(t.phrase)")
        }
    }
}

/// One attempt of a task with `file` outputs: its own working directory, made before the
/// spawn, and its files stored from there once it ends (then the directory is removed).
/// For any other task it does nothing.
struct ArtifactAttempt: Sendable {
    let outputs: FileOutputs?
    let workDir: String?
    let files: FileStore
    let taskName: String
    /// The attempt's failure when its directory could not be made.
    let failure: DriverResult?

    init(item: WorkItem, drivers: DriverSet, files: FileStore, runID: String) {
        self.files = files
        let outs = item.task < drivers.fileOutputs.count && drivers.isExec(agent: item.agent) ? drivers.fileOutputs[item.task] : nil
        outputs = outs
        taskName = item.task < drivers.exec.tasks.count ? ExecDriver.name(drivers.exec.tasks[item.task], item.task) : "task\(item.task)"
        guard outs != nil else {
            (workDir, failure) = (nil, nil)
            return
        }
        do throws(FileError) {
            workDir = try files.makeWorkDir(runID: runID, task: item.task, attempt: item.attempt)
            failure = nil
        } catch {
            workDir = nil
            failure = .failed(ErrorClass.configError, "task `\(taskName)`: \(error.message)")
        }
    }

    /// `r` with its files stored (a success) and the working directory removed.
    func stored(_ r: DriverResult) -> DriverResult {
        guard let outputs, let workDir else { return r }
        defer {
            files.remove(workDir)
            // The run's directory goes with its last attempt directory (nothing else is in it).
            rmdir(String(workDir[..<(workDir.lastIndex(of: "/") ?? workDir.endIndex)]))
        }
        return outputs.store(r, workDir: workDir, files: files, task: taskName)
    }
}
