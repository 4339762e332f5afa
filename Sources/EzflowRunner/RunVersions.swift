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
    /// `fromSeqs[i]`: the seq of the `plan_upgraded` record that moved the run to `plans[i + 1]`.
    var fromSeqs: [Int] = []
    var runID = ""

    var current: IRProgram { programs[programs.count - 1] }
    var plan: Plan { plans[plans.count - 1] }

    static func load(store: any JournalStore, runID: String) throws(RunnerError) -> RunVersions {
        var raw: [[UInt8]] = []
        let metaDoc: JSONValue
        let journalCount: Int
        var fromSeqs: [Int] = []
        do {
            guard let b = try store.ir(run: runID), let info = try store.run(runID) else {
                let known = try store.runs().suffix(5).map(\.runID)
                throw RunnerError.invalid("\(store.location): no run `\(runID)`" + (known.isEmpty ? "" : " (latest: \(known.joined(separator: ", ")))"))
            }
            try checkIR(b, hash: info.irHash, runID: runID, store: store)
            raw.append(b)
            journalCount = info.journalCount
            // A version at or past the journal's end lost its `plan_upgraded` in a crash.
            for v in try store.versions(run: runID) where v.fromSeq < journalCount {
                try checkIR(v.ir, hash: v.irHash, runID: runID, store: store)
                raw.append(v.ir)
                fromSeqs.append(v.fromSeq)
            }
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
        return RunVersions(programs: programs, bytes: raw, plans: plans, inputs: inputs, meta: metaDoc, fromSeqs: fromSeqs, runID: runID)
    }

    /// Stored IR bytes must hash to the hash the run (and so its journal's chain) was
    /// started with: other IR under the same run is an edit of the store.
    static func checkIR(_ bytes: [UInt8], hash: String, runID: String, store: any JournalStore) throws(RunnerError) {
        // Bytes that do not parse match no hash: they are reported like any other edit.
        var content: String? = nil
        do { if case .object(let members) = try JSONParser.parse(bytes) { content = IRDocument.hash(of: members) } } catch {}
        guard content != hash else { return }
        let e = StoreError(.integrity, path: store.location,
                           message: "run `\(runID)`: the stored IR does not match its hash \(hash): the store was edited")
        throw .integrity(e.description)
    }

    /// The name of task `t` in the plan in force at record `seq`.
    func taskName(_ t: Int, at seq: Int) -> String? {
        let names = plans[fromSeqs.filter { $0 < seq }.count].taskNames
        return t >= 0 && t < names.count ? names[t] : nil
    }

    /// A store failure as `ezrun` reports it: a chain break names the record's task.
    func failure(_ e: StoreError, context: String = "") -> RunnerError {
        guard e.kind == .integrity else { return .store(context + e.description) }
        let seq = e.chainBreak?.seq ?? 0
        return .integrity(e.named(run: runID) { taskName($0, at: seq) }.description)
    }

    /// The config's selector, else the one the run was started with.
    func config(_ base: RunConfig) -> RunConfig {
        var c = base
        if c.selector == nil, case .string(let s)? = meta["selector"] { c.selector = SelectorName(rawValue: s) }
        if case .int(let n)? = meta["breaker_failures"] { c.breakerFailures = Int(n) }
        if case .int(let d)? = meta["breaker_cool_down_ms"] { c.breakerCoolDownMs = d }
        return c
    }
}
