import EzflowCLI
import EzflowPorts
import EzflowRuntime
import EzflowSim
import EzflowStore
import Foundation

/// `ezbench durable`: sim tasks driven through the core with every journal record
/// committed to SQLite (`DurableStore`) before its commands take effect.
///
/// A synthetic plan (`Plan.synthetic`: layered DAG, 2 deps per task, 64 agents × 4 slots,
/// 1 % transient failures retried after 100 ms) is run on a virtual clock by a tiny
/// deterministic fake agent loop. Commands are held until the records that produced them
/// are committed: with `--batch 1` every step is its own transaction; with `--batch K` up
/// to K steps share one (group commit: a commit also happens whenever no event can be
/// processed without the held commands). Reported per (sync, K, size): tasks/s over the
/// whole run loop (core + encoding + SQLite), commits, and the DB size after a
/// checkpoint.
///
/// `--crash-probe DB --records N` is the child of the kill -9 test: it appends N records
/// (one transaction each) to the run `probe` in DB, printing `committed <seq>` after each
/// commit; if the run exists it is resumed (journal replayed, `resumed` event).
struct DurableBench {
    struct Options: Sendable {
        var sizes = [10_000, 100_000]
        var batches = [1, 64]
        var syncs: [StoreOptions.Sync] = [.full]
        var directory: String? = nil
        var seed: UInt64 = 1
        var agents = 64
        var crashProbe: String? = nil
        var records = 1_000
        var probeTasks = 2_000
        var keep = false
    }

    var options: Options

    static func parse(_ a: Invocation) -> Options {
        var o = Options()
        func bad(_ m: String) -> Never { CLI.usageError(a, m) }
        for (arg, given) in CLI.options(a) {
            func value() -> String { given ?? "" }
            switch arg {
            case "--sizes":
                let sizes = value().split(separator: ",").compactMap(CLI.parseSize)
                guard !sizes.isEmpty else { bad("bad --sizes") }
                o.sizes = sizes
            case "--batch":
                let ks = value().split(separator: ",").compactMap { Int($0) }
                guard !ks.isEmpty, ks.allSatisfy({ $0 >= 1 }) else { bad("bad --batch") }
                o.batches = ks
            case "--sync":
                let ss = value().split(separator: ",").compactMap { StoreOptions.Sync(rawValue: String($0)) }
                guard !ss.isEmpty else { bad("bad --sync (full, normal)") }
                o.syncs = ss
            case "--dir": o.directory = value()
            case "--keep": o.keep = true
            case "--seed":
                guard let s = UInt64(value()) else { bad("bad --seed") }
                o.seed = s
            case "--agents":
                guard let n = Int(value()), n >= 4 else { bad("bad --agents") }
                o.agents = n
            case "--crash-probe": o.crashProbe = value()
            case "--records":
                guard let n = CLI.parseSize(Substring(value())) else { bad("bad --records") }
                o.records = n
            case "--tasks":
                guard let n = CLI.parseSize(Substring(value())), n >= 1 else { bad("bad --tasks") }
                o.probeTasks = n
            default: break
            }
        }
        return o
    }

    func run() -> Int32 {
        if let db = options.crashProbe { return crashProbe(db) }
        let dir = options.directory ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("ezbench-durable-\(getpid())")
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        print("ezbench durable: sqlite \(DurableStore.sqliteVersion) WAL, \(options.agents) sim agents × 4 slots, seed \(options.seed), dir \(dir)")
        print("every record committed before its commands take effect; K = max steps per transaction")
        let header = "  sync      K      tasks    events   commits    run s    tasks/s  events/s  commits/s    DB MiB  B/task  verdict"
        print(header)
        print(String(repeating: "-", count: header.count))
        fflush(nil)
        var failed = false
        for sync in options.syncs {
            for k in options.batches {
                for n in options.sizes {
                    let path = (dir as NSString).appendingPathComponent("bench-\(sync.rawValue)-\(k)-\(n).db")
                    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                    do {
                        let r = try Self.runOnce(path: path, sync: sync, batch: k, tasks: n, agents: options.agents, seed: options.seed)
                        print(String(format: "  %@ %4d %10d %9d %9d %8.2f %10.0f %9.0f %10.0f %9.1f %7.0f  %@",
                                     sync.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0), k, n, r.events, r.commits, r.seconds, Double(n) / r.seconds,
                                     Double(r.events) / r.seconds, Double(r.commits) / r.seconds,
                                     Double(r.dbBytes) / 1_048_576, Double(r.dbBytes) / Double(n), r.verdict))
                        if r.verdict != "success" { failed = true }
                    } catch {
                        printError("ezbench durable: \(error)")
                        failed = true
                    }
                    fflush(nil)
                    if !options.keep { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
                }
            }
        }
        if options.directory == nil && !options.keep { try? FileManager.default.removeItem(atPath: dir) }
        return failed ? 1 : 0
    }

    struct Result {
        var events = 0
        var commits = 0
        var seconds = 0.0
        var dbBytes: Int64 = 0
        var verdict = ""
    }

    static func synthetic(tasks: Int, agents: Int, seed: UInt64) -> Plan {
        Plan.synthetic(SyntheticPlanSpec(tasks: tasks, agents: agents, candidatesPerTask: 4, concurrency: 4, attempts: 3,
                                         retryDelayMs: 100, seed: seed))
    }

    static func spec(tasks: Int, agents: Int, seed: UInt64) -> [UInt8] {
        Array(#"{"agents":\#(agents),"seed":\#(seed),"synthetic_tasks":\#(tasks)}"#.utf8)
    }

    static func runOnce(path: String, sync: StoreOptions.Sync, batch: Int, tasks: Int, agents: Int, seed: UInt64) throws -> Result {
        let plan = synthetic(tasks: tasks, agents: agents, seed: seed)
        let store = try DurableStore(path: path, options: StoreOptions(synchronous: sync))
        let t0 = DispatchTime.now().uptimeNanoseconds
        var run = try DurableRun.create(store: store, run: NewRun(runID: "bench", workflow: "synthetic", irHash: plan.hash,
                                                                   ir: spec(tasks: tasks, agents: agents, seed: seed), seed: seed, createdMs: 0),
                                        plan: plan)
        var loop = FakeAgents(seed: seed)
        var result = Result()
        let first = try run.step(.runStarted(runID: "bench", seed: seed, planHash: plan.hash, tagLimits: [:], atMs: 0))
        var held: [Command] = first
        var steps = 1
        while true {
            // Commit when K steps are buffered, or when nothing can happen without the held commands.
            if steps >= batch || (loop.isEmpty && !held.isEmpty) || (loop.isEmpty && !run.pending.isEmpty) {
                try run.commit()
                result.commits += 1
                steps = 0
                loop.take(held, now: run.state.nowMs)
                held.removeAll(keepingCapacity: true)
            }
            guard let e = loop.next() else { break }
            held.append(contentsOf: try run.step(e))
            steps += 1
            result.events += 1
        }
        let t1 = DispatchTime.now().uptimeNanoseconds
        result.events += 1
        result.seconds = Double(t1 - t0) / 1e9
        result.verdict = run.state.verdict?.rawValue ?? "unfinished"
        try store.checkpoint()
        let info = try store.run("bench")
        if info?.journalCount != result.events { throw BenchError("journal has \(info?.journalCount ?? -1) records, expected \(result.events)") }
        store.close()
        result.dbBytes = Self.fileSize(path) + Self.fileSize(path + "-wal")
        return result
    }

    static func fileSize(_ p: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    struct BenchError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    // MARK: Crash probe

    func crashProbe(_ db: String) -> Int32 {
        do {
            let store = try DurableStore(path: db)
            let plan = Self.synthetic(tasks: options.probeTasks, agents: 16, seed: options.seed)
            var loop = FakeAgents(seed: options.seed)
            var run: DurableRun
            var held: [Command]
            if try store.run("probe") != nil {
                let resumed: (run: DurableRun, openAttempts: [OpenAttempt], journal: [JournalRecord])
                do { resumed = try DurableRun.resume(store: store, runID: "probe", plan: plan) } catch { throw BenchError(error.description) }
                run = resumed.run
                if run.state.verdict != nil && run.state.verdict != .waitingForApproval { print("finished"); return 0 }
                held = try run.step(.resumed(atMs: run.state.nowMs))
            } else {
                run = try DurableRun.create(store: store, run: NewRun(runID: "probe", workflow: "synthetic", irHash: plan.hash,
                                                                      ir: Self.spec(tasks: options.probeTasks, agents: 16, seed: options.seed),
                                                                      seed: options.seed, createdMs: 0), plan: plan)
                held = try run.step(.runStarted(runID: "probe", seed: options.seed, planHash: plan.hash, tagLimits: [:], atMs: 0))
            }
            var written = 0
            while true {
                let seq = run.state.seq - 1
                try run.commit()
                print("committed \(seq)")
                fflush(nil)
                written += 1
                loop.take(held, now: run.state.nowMs)
                held.removeAll(keepingCapacity: true)
                guard written < options.records, let e = loop.next() else { break }
                held = try run.step(e)
            }
            return 0
        } catch {
            printError("ezbench durable --crash-probe: \(error)")
            return 1
        }
    }
}

/// The fake agents: every dispatched attempt ends after a latency drawn from a hash of
/// (seed, task, attempt); 1 % fail with `transient`. Timers fire when due. Events come
/// out in (time, arrival) order, so the whole run is a function of the seed.
struct FakeAgents {
    private var queue = TimeQueue<Event>()
    let seed: UInt64

    init(seed: UInt64) { self.seed = seed }

    var isEmpty: Bool { queue.isEmpty }

    mutating func take(_ commands: [Command], now: Int64) {
        for c in commands {
            switch c {
            case .dispatch(let t, let a, _, _, _):
                var r = SeededRandom(seed: seed ^ (UInt64(t) &* 0x9E37_79B9) ^ (UInt64(a) << 48))
                let at = now + 50 + Int64(r.next() % 200)
                let e: Event = r.next() % 100 == 0
                    ? .taskFailed(task: t, attempt: a, errorClass: "transient", message: "sim", costMicros: 100, tokens: 0, atMs: at)
                    : .taskSucceeded(task: t, attempt: a, outputs: .object([]), costMicros: 100, tokens: 0, atMs: at)
                push(at, e)
            case .setTimer(let id, let at):
                push(max(at, now), .timerFired(id, atMs: max(at, now)))
            case .cancel, .requestApproval, .deadLetter, .finishRun:
                break  // the synthetic plan has no approvals; cancels and run ends need no answer
            }
        }
    }

    private mutating func push(_ at: Int64, _ e: Event) { queue.push(e, atMs: at) }

    mutating func next() -> Event? { queue.pop()?.item }
}
