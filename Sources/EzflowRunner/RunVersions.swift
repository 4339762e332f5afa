// A stored run's IR versions: the one it started with (`runs.ir`) and every one it was
// upgraded to (`run_versions`, each taking over at its `plan_upgraded` record), with
// their plans built from the run's inputs. Replay needs all of them; rendering and
// access use the last.
import EzflowIR
import EzflowRuntime
import EzflowPorts

struct RunVersions {
    var programs: [IRProgram]
    var bytes: [[UInt8]]
    var plans: [Plan]
    var inputs: [String: JSONValue]
    var meta: JSONValue

    var current: IRProgram { programs[programs.count - 1] }
    var plan: Plan { plans[plans.count - 1] }

    static func load(store: any JournalStore, runID: String) throws(RunnerError) -> RunVersions {
        var raw: [[UInt8]] = []
        let metaDoc: JSONValue
        let journalCount: Int
        do {
            guard let b = try store.ir(run: runID), let info = try store.run(runID) else {
                let known = try store.runs().suffix(5).map(\.runID)
                throw RunnerError.invalid("\(store.location): no run `\(runID)`" + (known.isEmpty ? "" : " (latest: \(known.joined(separator: ", ")))"))
            }
            raw.append(b)
            journalCount = info.journalCount
            // A version at or past the journal's end lost its `plan_upgraded` in a crash.
            raw += try store.versions(run: runID).filter { $0.fromSeq < journalCount }.map(\.ir)
            metaDoc = try store.meta(run: runID) ?? .object([])
        } catch let e as RunnerError { throw e } catch { throw .store("\(error)") }
        var inputs: [String: JSONValue] = [:]
        if case .object(let m)? = metaDoc["inputs"] { for (k, v) in m { inputs[k] = v } }
        var programs: [IRProgram] = [], plans: [Plan] = []
        for b in raw {
            let p: IRProgram
            do { p = try validate(b) } catch { throw .invalid("run `\(runID)`: stored IR is invalid: \(error)") }
            do { plans.append(try Plan(p, inputs: inputs)) } catch { throw .invalid("run `\(runID)`: \(error)") }
            programs.append(p)
        }
        return RunVersions(programs: programs, bytes: raw, plans: plans, inputs: inputs, meta: metaDoc)
    }

    /// The config's selector, else the one the run was started with.
    func config(_ base: RunConfig) -> RunConfig {
        var c = base
        if c.selector == nil, case .string(let s)? = meta["selector"] { c.selector = SelectorName(rawValue: s) }
        return c
    }
}
