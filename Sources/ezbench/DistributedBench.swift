import EzflowCLI
import EzflowCompiler
import Foundation

/// `ezbench distributed`: one `ezrun run FILE --backend URL` (the coordinator) and N
/// `ezrun worker --backend URL` processes of the release build, on SQLite, PostgreSQL and
/// Redis, each measurement in a fresh namespace (a schema, a key prefix, a file) dropped
/// afterwards. Two workloads: independent tasks of a `sim` agent (the workers complete them
/// at once, `--sim-agents`: the queue and the coordinator alone) and independent exec
/// tasks of `/bin/true`.
///
/// Reported per backend and workload: tasks/s over the run (journal start → end, from the
/// coordinator's `--summary`) and end to end (coordinator spawned → exited); the claim
/// latency (offer → claim) from the workers' `/metrics` histograms, merged; journal
/// appends and records per task from the coordinator's `--metrics-file`.
struct DistributedBench {
    struct Options: Sendable {
        var backends = ["sqlite", "postgres", "redis"]
        var explicitBackends = false
        var workers = 4
        var slots = 16
        var sim = 20_000
        var exec = 2_000
        var pg: String? = nil
        var redis: String? = nil
        var ezrun: String? = nil
        var keep = false
    }

    static func parse(_ a: Invocation) -> Options {
        var o = Options()
        for (arg, given) in CLI.options(a) {
            func value() -> String { given ?? "" }
            func count(_ min: Int) -> Int {
                guard let n = CLI.parseSize(Substring(value())) ?? (value() == "0" ? 0 : nil), n >= min else {
                    CLI.usageError(a, "\(arg) needs an integer >= \(min), not `\(value())`")
                }
                return n
            }
            switch arg {
            case "--backend":
                let names = value().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                guard !names.isEmpty, names.allSatisfy({ ["sqlite", "postgres", "redis", "all"].contains($0) }) else {
                    CLI.usageError(a, "--backend takes sqlite, postgres, redis or all, comma-separated")
                }
                if !names.contains("all") {
                    o.backends = ["sqlite", "postgres", "redis"].filter(names.contains)
                    o.explicitBackends = true
                }
            case "--workers": o.workers = count(1)
            case "--slots": o.slots = count(1)
            case "--sim": o.sim = count(0)
            case "--exec": o.exec = count(0)
            case "--pg": o.pg = value()
            case "--redis": o.redis = value()
            case "--ezrun": o.ezrun = value()
            case "--keep": o.keep = true
            default: break
            }
        }
        guard o.sim > 0 || o.exec > 0 else { CLI.usageError(a, "nothing to run: --sim and --exec are both 0") }
        guard o.workers <= 64, o.slots <= 1_024 else { CLI.usageError(a, "at most 64 workers of 1024 slots") }
        return o
    }

    var options: Options

    /// One measurement's figures.
    struct Figures {
        var tasks = 0
        var wallS = 0.0
        var runS = 0.0
        var latency = Histogram()
        var completed = 0
        var appends = 0
        var records = 0
    }

    func run() -> Int32 {
        let ezrun = options.ezrun ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("ezrun").path
        guard FileManager.default.isExecutableFile(atPath: ezrun) else {
            printError("ezbench: \(ezrun) not found; build it first (swift build -c release --product ezrun) or give --ezrun PATH")
            return 2
        }
        let env = ProcessInfo.processInfo.environment
        let pg = options.pg ?? env["EZ_PG"].flatMap { $0.isEmpty ? nil : Self.postgresURL(conninfo: $0) }
        let redis = (options.redis ?? env["EZ_REDIS"]).flatMap { $0.isEmpty ? nil : ($0.hasPrefix("redis://") ? $0 : "redis://" + $0) }
        var backends: [String] = []
        for b in options.backends {
            if b == "postgres", pg == nil {
                if options.explicitBackends { printError("ezbench: postgres needs --pg URL or $EZ_PG"); return 2 }
                continue
            }
            if b == "redis", redis == nil {
                if options.explicitBackends { printError("ezbench: redis needs --redis URL or $EZ_REDIS"); return 2 }
                continue
            }
            backends.append(b)
        }
        let dir = NSTemporaryDirectory() + "ezbench-distributed-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: dir) } }
        let parallel = options.workers * options.slots
        Self.say("ezbench distributed: \(options.workers) workers × \(options.slots) slots (max_parallel \(parallel)); ezrun = \(ezrun)")
        if let pg { Self.say("  postgres: \(Self.redacted(pg))") }
        if let redis { Self.say("  redis: \(Self.redacted(redis))") }
        Self.say("")
        Self.say("backend   workload  tasks   run s  tasks/s  e2e s  tasks/s(e2e)  claim p50/p99/max ms  appends/task  records/task")
        var status: Int32 = 0
        var n = 0
        for (workload, count) in [("sim", options.sim), ("exec", options.exec)] where count > 0 {
            let file = dir + "/\(workload)-\(count).ezir"
            guard Self.compile(workload: workload, tasks: count, parallel: parallel, to: file) else {
                printError("ezbench: the generated \(workload) workflow did not compile")
                return 1
            }
            for b in backends {
                n += 1
                let ns = "ezbench_\(getpid())_\(n)"
                let url: String = switch b {
                case "postgres": pg! + (pg!.contains("?") ? "&" : "?") + "namespace=\(ns)"
                case "redis": redis! + "?namespace=\(ns)"
                default: "sqlite:\(dir)/\(ns).db"
                }
                let work = dir + "/\(ns)"
                try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
                let result = measure(ezrun: ezrun, url: url, file: file, workload: workload, dir: work)
                if !options.keep { Self.drop(backend: b, namespace: ns, pg: pg, redis: redis) }
                switch result {
                case .success(let f): report(b, workload, f)
                case .failure(let why):
                    Self.say("\(b.padding(toLength: 9, withPad: " ", startingAt: 0)) \(workload.padding(toLength: 8, withPad: " ", startingAt: 0)) failed: \(why)")
                    status = 1
                }
            }
        }
        return status
    }

    struct Failed: Error { var why: String }

    /// A line on standard output, unbuffered: a row shows as soon as it is measured, piped or not.
    static func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

    /// Workers started and ready, the coordinator run to its end, the workers scraped and stopped.
    func measure(ezrun: String, url: String, file: String, workload: String, dir: String) -> Result<Figures, Failed> {
        // The URL (and a password in it) reaches the children through $EZFLOW_BACKEND, never argv.
        setenv("EZFLOW_BACKEND", url, 1)
        if url.hasPrefix("postgres") {
            let m = Child.run(ezrun, ["db", "migrate"], log: dir + "/migrate.err")
            guard m == 0 else { return .failure(Failed(why: "ezrun db migrate exited \(m): \(Self.tail(dir + "/migrate.err"))")) }
        }
        var workers: [(Child, UInt16)] = []
        defer {
            for (w, _) in workers { w.signal(SIGTERM) }
            for (w, _) in workers { _ = w.wait() }
        }
        for i in 0..<options.workers {
            guard let port = Self.freePort() else { return .failure(Failed(why: "no free port for a worker's /metrics")) }
            var args = ["worker", "--slots", "\(options.slots)", "--quiet", "--health-port", "\(port)"]
            if workload == "sim" { args.append("--sim-agents") }
            guard let w = Child(ezrun, args, log: dir + "/worker-\(i).err") else { return .failure(Failed(why: "cannot start a worker")) }
            workers.append((w, port))
        }
        for (i, (w, port)) in workers.enumerated() {
            let end = Date().addingTimeInterval(30)
            while !Self.get(port: port, path: "/readyz").hasPrefix("HTTP/1.1 200") {
                guard w.running, Date() < end else { return .failure(Failed(why: "worker \(i) not ready: \(Self.tail(dir + "/worker-\(i).err"))")) }
                usleep(20_000)
            }
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let rc = Child.run(ezrun, ["run", file, "--run-id", "bench", "--quiet", "--metrics-file", dir + "/run.prom",
                                   "--summary", dir + "/summary.json"], log: dir + "/run.err")
        var f = Figures()
        f.wallS = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        guard rc == 0 else { return .failure(Failed(why: "ezrun run exited \(rc): \(Self.tail(dir + "/run.err"))")) }
        for (i, (_, port)) in workers.enumerated() {
            let text = Self.get(port: port, path: "/metrics")
            guard text.hasPrefix("HTTP/1.1 200") else { return .failure(Failed(why: "worker \(i) gave no metrics")) }
            f.latency.merge(prometheus: text)
            f.completed += Self.value(text, "ezflow_worker_completed_total").map { Int($0) } ?? 0
        }
        let prom = (try? String(contentsOfFile: dir + "/run.prom", encoding: .utf8)) ?? ""
        f.appends = Self.value(prom, "ezflow_journal_appends_total").map { Int($0) } ?? 0
        f.records = Self.value(prom, "ezflow_journal_records_total").map { Int($0) } ?? 0
        guard let data = FileManager.default.contents(atPath: dir + "/summary.json"),
              let summary = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let started = summary["started_ms"] as? Int, let ended = summary["ended_ms"] as? Int,
              let tasks = summary["tasks"] as? [Any]
        else { return .failure(Failed(why: "the run's summary cannot be read")) }
        f.runS = Double(ended - started) / 1000
        f.tasks = tasks.count
        guard f.completed == f.tasks else { return .failure(Failed(why: "the workers completed \(f.completed) of \(f.tasks) tasks")) }
        return .success(f)
    }

    func report(_ backend: String, _ workload: String, _ f: Figures) {
        let t = Double(f.tasks)
        let lat = [0.5, 0.99].map { f.latency.quantileMs($0).map(String.init) ?? "-" }.joined(separator: "/") + "/\(f.latency.maxMs)"
        Self.say(backend.padding(toLength: 9, withPad: " ", startingAt: 0) + " " + workload.padding(toLength: 8, withPad: " ", startingAt: 0)
            + String(format: " %6d %7.3f %8.0f %6.3f %13.0f  ", f.tasks, f.runS, t / max(f.runS, 0.001), f.wallS, t / f.wallS)
            + lat.padding(toLength: 20, withPad: " ", startingAt: 0)
            + String(format: "  %12.3f  %12.3f", Double(f.appends) / t, Double(f.records) / t))
    }

    /// `tasks` independent tasks on one agent (`sim` or `exec`) of `parallel` slots, as IR.
    static func compile(workload: String, tasks: Int, parallel: Int, to path: String) -> Bool {
        var ez = "agent a {\n  driver: \(workload == "sim" ? "sim" : "exec")\n  capabilities: [\"shell\"]\n  concurrency: \(parallel)\n}\n"
        ez += "workflow bench {\n  agents: [a]\n  max_parallel: \(parallel)\n"
        for i in 0..<tasks { ez += "  task t\(i) { run: \"/bin/true\" }\n" }
        ez += "}\n"
        let source = (path as NSString).deletingPathExtension + ".ezflow"
        guard let ir = Compiler.build(root: source, files: [source: ez]).ir else { return false }
        return FileManager.default.createFile(atPath: path, contents: Data(ir))
    }

    /// The schema or the keys of `namespace`, dropped (psql, redis-cli); the SQLite file
    /// goes with the directory.
    static func drop(backend: String, namespace ns: String, pg: String?, redis: String?) {
        switch backend {
        case "postgres":
            guard let pg, var u = URLComponents(string: pg) else { return }
            // A password goes to psql through its environment, never argv.
            if let pw = u.password { setenv("PGPASSWORD", pw, 1) }
            u.password = nil
            _ = Child.run("/usr/bin/env", ["psql", u.string ?? pg, "-q", "-v", "ON_ERROR_STOP=1", "-c", "DROP SCHEMA IF EXISTS \(ns) CASCADE"], log: "/dev/null")
        case "redis":
            guard let redis, let hp = URL(string: redis), let host = hp.host else { return }
            let args = ["redis-cli", "-h", host, "-p", "\(hp.port ?? 6379)"]
            if let pw = hp.password { setenv("REDISCLI_AUTH", pw, 1) }
            // SCAN + UNLINK inside the server: one round trip, whatever the key count.
            let script = "local c='0' repeat local r=redis.call('SCAN',c,'MATCH',ARGV[1],'COUNT',1000) c=r[1] "
                + "for _,k in ipairs(r[2]) do redis.call('UNLINK',k) end until c=='0' return 0"
            _ = Child.run("/usr/bin/env", args + ["EVAL", script, "0", ns + ":*"], log: "/dev/null")
        default: break
        }
    }

    /// A libpq key=value conninfo (`$EZ_PG`) as a URL.
    static func postgresURL(conninfo: String) -> String {
        var kv: [String: String] = [:]
        for p in conninfo.split(separator: " ") {
            let parts = p.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { kv[parts[0]] = parts[1] }
        }
        return "postgresql://\(kv["user"] ?? "postgres")@\(kv["host"] ?? "127.0.0.1"):\(kv["port"] ?? "5432")/\(kv["dbname"] ?? "postgres")"
    }

    /// The URL with a password (user part) masked.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url.range(of: "@", options: .backwards) else { return url }
        let user = url[scheme.upperBound..<at.lowerBound]
        guard let colon = user.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at.lowerBound...])
    }

    /// The value of an unlabelled sample `name` in a Prometheus text.
    static func value(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    static func tail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    /// A port nobody listens on now (bound to 0 and released).
    static func freePort() -> UInt16? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return ok ? UInt16(bigEndian: addr.sin_port) : nil
    }

    /// One HTTP/1.1 GET on 127.0.0.1: the whole response, or "" when nobody answers.
    static func get(port: UInt16, path: String) -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return "" }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let req = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The claim-latency histograms of several workers, merged (per-bucket counts add up).
struct Histogram {
    /// Upper bound (ms) → cumulative count, summed over the workers.
    var cumulative: [Int64: Int] = [:]
    var count = 0
    var maxMs: Int64 = 0

    mutating func merge(prometheus text: String) {
        let name = "ezflow_worker_claim_latency_seconds"
        for line in text.split(separator: "\n") {
            if line.hasPrefix(name + "_bucket{le=\""), let close = line.range(of: "\"}") {
                let le = line[line.index(line.startIndex, offsetBy: name.count + 12)..<close.lowerBound]
                guard le != "+Inf", let s = Double(le), let n = Int(line[close.upperBound...].trimmingCharacters(in: .whitespaces)) else { continue }
                cumulative[Int64((s * 1000).rounded()), default: 0] += n
            } else if line.hasPrefix(name + "_count ") {
                count += Int(line.dropFirst(name.count + 7)) ?? 0
            }
        }
        if let m = DistributedBench.value(text, "ezflow_worker_claim_latency_max_seconds") { maxMs = max(maxMs, Int64((m * 1000).rounded())) }
    }

    /// The smallest bucket bound (ms) holding quantile `q`, at most the maximum (exact to the
    /// millisecond up to 10 ms, then an upper bound); nil without observations or beyond the last bound.
    func quantileMs(_ q: Double) -> Int64? {
        guard count > 0 else { return nil }
        let rank = Int((q * Double(count)).rounded(.up))
        // A bucket's bound, but never past the longest wait seen.
        return cumulative.keys.sorted().first { cumulative[$0]! >= rank }.map { min($0, maxMs) }
    }
}

/// A child process with its standard error in a file, standard output discarded.
final class Child {
    let pid: pid_t
    var status: Int32? = nil

    init?(_ exe: String, _ args: [String], log: String) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([exe] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var p: pid_t = 0
        guard posix_spawn(&p, exe, &actions, nil, argv, environ) == 0 else { return nil }
        pid = p
    }

    var running: Bool {
        if status != nil { return false }
        var st: Int32 = 0
        let r = waitpid(pid, &st, WNOHANG)
        if r == pid { status = Self.exitCode(st); return false }
        return r == 0
    }

    func signal(_ sig: Int32) { if running { kill(pid, sig) } }

    func wait() -> Int32 {
        if let status { return status }
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        status = Self.exitCode(st)
        return status!
    }

    static func exitCode(_ st: Int32) -> Int32 { (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f) }

    /// Runs to its end: its exit code (-1: it could not start).
    static func run(_ exe: String, _ args: [String], log: String) -> Int32 {
        guard let c = Child(exe, args, log: log) else { return -1 }
        return c.wait()
    }
}
