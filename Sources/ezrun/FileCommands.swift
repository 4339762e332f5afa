// `ezrun files` (list a run's files, copy one out) and `ezrun gc` (delete the stored files
// no journal refers to): docs/RUNNING.md, "Files".
import EzflowCLI
import EzflowIR
import EzflowReport
import EzflowRunner
import EzflowRuntime
import EzflowStore
import EzflowUnits
import Foundation

extension CLI {
    static func files(_ a: Args) -> Int32 {
        let path = storePath(a)
        let store = openStore(path, readOnly: true)
        let s: StoredRun
        do { s = try StoredRun.load(store: store, runID: a.positional[0]) } catch { fail(error) }
        let all = s.files
        guard a.positional.count == 2 else {
            if a.value("--out") != nil { usageError(a, "--out needs TASK.OUTPUT: which file to copy") }
            if a.flags.contains("--json") {
                printJSON(.object([("files", .array(all.map(fileJSON))), ("run_id", .string(s.info.runID))]))
            } else {
                Console.out(fileTable(all))
            }
            return 0
        }
        let which = a.positional[1]
        guard let f = all.first(where: { $0.label == which }) else {
            let known = all.isEmpty ? "it has none" : "it has " + all.map { "`\($0.label)`" }.joined(separator: ", ")
            fail("run `\(s.info.runID)` has no file `\(which)` (\(known))")
        }
        guard let out = a.value("--out") else {
            if a.flags.contains("--json") { printJSON(fileJSON(f)) } else { Console.out(fileTable([f])) }
            return 0
        }
        let written: String
        do throws(CopyOutError) {
            if out == "-" {
                Console.out([UInt8](try FileStore(storePath: path).contents(f.record)))
                return 0
            }
            written = try FileStore(storePath: path).copyOut(f.record, to: out)
        } catch {
            switch error {
            case .missing: fail("the file `\(which)` (\(f.record.digest)) is no longer in the store", code: 5)
            case .corrupt(let blob): fail("the stored copy of `\(which)` does not match its digest \(f.record.digest): \(blob)", code: 6)
            case .unwritable(let why): fail("cannot write \(why)", code: 5)
            }
        }
        Console.out("wrote \(written) (\(f.record.name), \(Units.counted(Int(f.record.size), "byte")), mode \(f.record.mode))\n")
        return 0
    }

    static func fileJSON(_ f: RunFile) -> JSONValue { SummaryReport.fileJSON(f) }

    /// One line per file: `build.app  app.tar  10 bytes  0644  sha256:…`, columns aligned.
    static func fileTable(_ fs: [RunFile]) -> String {
        guard !fs.isEmpty else { return "no files\n" }
        let rows = fs.map { [$0.label, $0.record.name, Units.counted(Int($0.record.size), "byte"), $0.record.mode, $0.record.digest] }
        var widths = [Int](repeating: 0, count: 4)
        for r in rows { for i in 0..<4 { widths[i] = max(widths[i], r[i].count) } }
        var text = ""
        for r in rows {
            for i in 0..<4 { text += r[i] + String(repeating: " ", count: widths[i] - r[i].count) + "  " }
            text += r[4] + "\n"
        }
        return text
    }

    static func gc(_ a: Args) -> Int32 {
        let path = storePath(a)
        let store = openStore(path, readOnly: true)
        let files = FileStore(storePath: path)
        let keep: Set<String>, busy: Set<String>
        do { (keep, busy) = (try FileStore.referenced(store), try files.unfinishedWork(store)) } catch { fail(error) }
        let dry = a.flags.contains("--dry-run")
        let c: FileCollection
        do throws(FileError) { c = try files.collect(keep: keep, busy: busy, dryRun: dry) } catch { fail(error.message, code: 5) }
        if a.flags.contains("--json") {
            printJSON(.object([("dry_run", .bool(dry)), ("freed_bytes", .int(c.removedBytes)), ("kept_bytes", .int(c.keptBytes)),
                               ("kept_files", .int(Int64(c.keptBlobs))), ("leftovers", .int(Int64(c.removedLeftovers))),
                               ("removed_files", .int(Int64(c.removedBlobs)))]))
            return 0
        }
        let verb = dry ? "would delete" : "deleted"
        Console.out("\(verb) \(Units.counted(c.removedBlobs, "file")) no run refers to (\(Units.counted(Int(c.removedBytes), "byte")) freed)"
                    + (c.removedLeftovers > 0 ? " and \(Units.counted(c.removedLeftovers, "leftover")) of ended attempts" : "")
                    + "; kept \(Units.counted(c.keptBlobs, "file")) (\(Units.counted(Int(c.keptBytes), "byte")))\n")
        return 0
    }
}
