import EzflowCLI
import EzflowCompiler
import Foundation

/// `ezbench exec`: N `exec` tasks of `/bin/true` in a layered DAG (10 layers, each task
/// depending on 2 of the previous layer) run by `ezrun run` with the durable SQLite
/// journal, beside `make -j2` and `ninja -j2` on the same DAG, in the same process run.
///
/// The workflow is compiled to IR first (in process, timed separately), so the ezrun time
/// is validate + plan + run + journal, like make's parse + run. Every tool gets the same
/// parallelism (`--jobs`, default 2: the workflow's `max_parallel` and `-j`). Each
/// measurement is the best of `--repeat` wall times.
struct ExecBench {
    struct Options: Sendable {
        var sizes = [1_000, 10_000]
        var jobs = 2
        var repeats = 3
        var syncs = ["full", "normal"]
        var keep = false
    }

    static func parse(_ a: Invocation) -> Options {
        var o = Options()
        for (arg, given) in CLI.options(a) {
            func value() -> String { given ?? "" }
            switch arg {
            case "--sizes":
                let sizes = value().split(separator: ",").compactMap(CLI.parseSize)
                guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 20 }) else { CLI.usageError(a, "--sizes needs task counts >= 20") }
                o.sizes = sizes
            case "--jobs":
                guard let j = Int(value()), j >= 1 else { CLI.usageError(a, "--jobs needs an integer >= 1") }
                o.jobs = j
            case "--repeat":
                guard let r = Int(value()), r >= 1 else { CLI.usageError(a, "--repeat needs an integer >= 1") }
                o.repeats = r
            case "--sync":
                o.syncs = value().split(separator: ",").map(String.init)
                guard o.syncs.allSatisfy({ $0 == "full" || $0 == "normal" }) else { CLI.usageError(a, "--sync takes full and/or normal") }
            case "--keep": o.keep = true
            default: break
            }
        }
        return o
    }

    var options: Options

    /// Layer `l`, index `i` → task name; 10 layers of `n / 10`.
    static func generate(n: Int, jobs: Int) -> (ezflow: String, makefile: String, ninja: String) {
        let layers = 10, width = n / layers
        var ez = "agent local {\n  driver: exec\n  capabilities: [\"shell\"]\n  concurrency: \(jobs)\n}\n"
        ez += "workflow bench {\n  max_parallel: \(jobs)\n"
        var names: [String] = []
        var mk = "", nj = "rule t\n  command = /bin/true\n"
        for l in 0..<layers {
            for i in 0..<width {
                let name = "t\(l)_\(i)"
                names.append(name)
                let deps = l == 0 ? [] : ["t\(l - 1)_\(i)", "t\(l - 1)_\((i + 1) % width)"]
                ez += "  task \(name) {\n"
                if !deps.isEmpty { ez += "    after: [\(deps.joined(separator: ", "))]\n" }
                ez += "    run: \"/bin/true\"\n  }\n"
                mk += "\(name): \(deps.joined(separator: " "))\n\t@/bin/true\n"
                nj += "build \(name): t" + (deps.isEmpty ? "" : " || " + deps.joined(separator: " ")) + "\n"
            }
        }
        ez += "}\n"
        mk = ".PHONY: all \(names.joined(separator: " "))\nall: \(names.joined(separator: " "))\n" + mk
        return (ez, mk, nj)
    }

    func run() -> Int32 {
        let ezrun = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("ezrun").path
        guard FileManager.default.isExecutableFile(atPath: ezrun) else {
            printError("ezbench: \(ezrun) not found; build it first (swift build -c release --product ezrun)")
            return 2
        }
        let make = Self.which("make"), ninja = Self.which("ninja")
        print("ezbench exec: \(options.jobs) jobs, best of \(options.repeats); ezrun = \(ezrun)")
        print("  make: \(make ?? "not installed")   ninja: \(ninja ?? "not installed (apt-get install ninja-build)")")
        print("")
        print("     tasks  tool                    wall s   ms/task   vs make")
        var status: Int32 = 0
        for n in options.sizes {
            let dir = NSTemporaryDirectory() + "ezbench-exec-\(n)-\(getpid())"
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { if !options.keep { try? FileManager.default.removeItem(atPath: dir) } }
            let g = Self.generate(n: n, jobs: options.jobs)
            let tasks = (n / 10) * 10
            try? Data(g.makefile.utf8).write(to: URL(fileURLWithPath: dir + "/Makefile"))
            try? Data(g.ninja.utf8).write(to: URL(fileURLWithPath: dir + "/build.ninja"))
            let t0 = DispatchTime.now().uptimeNanoseconds
            let built = Compiler.build(root: dir + "/bench.ezflow", files: [dir + "/bench.ezflow": g.ezflow])
            let compileS = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            guard let ir = built.ir else {
                printError("ezbench: the generated workflow did not compile")
                return 1
            }
            try? Data(ir).write(to: URL(fileURLWithPath: dir + "/bench.ezir"))

            var makeS: Double? = nil
            if let make {
                makeS = best { Self.spawn(make, ["-s", "-j\(options.jobs)", "-f", dir + "/Makefile"], cwd: dir) }
                report(tasks, "make -j\(options.jobs)", makeS, makeS)
            }
            if let ninja {
                let s = best {
                    try? FileManager.default.removeItem(atPath: dir + "/.ninja_log")
                    return Self.spawn(ninja, ["-j\(options.jobs)", "-C", dir, "--quiet"], cwd: dir)
                }
                report(tasks, "ninja -j\(options.jobs)", s, makeS)
            }
            for sync in options.syncs {
                var i = 0
                let s = best {
                    i += 1
                    let db = dir + "/run-\(sync)-\(i).db"
                    var args = ["run", dir + "/bench.ezir", "--db", db, "--quiet", "--run-id", "bench"]
                    if sync == "normal" { args.append("--sync-normal") }
                    return Self.spawn(ezrun, args, cwd: dir)
                }
                report(tasks, "ezrun (sqlite \(sync))", s, makeS)
                if s == nil { status = 1 }
            }
            print(String(format: "%10d  ", tasks) + "ezc build".padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: " %8.3f   (compile to IR, not in the run time)", compileS))
        }
        return status
    }

    func best(_ body: () -> Double?) -> Double? {
        var b: Double? = nil
        for _ in 0..<options.repeats {
            guard let t = body() else { return nil }
            b = min(b ?? t, t)
        }
        return b
    }

    func report(_ tasks: Int, _ tool: String, _ s: Double?, _ makeS: Double?) {
        guard let s else {
            print(String(format: "%10d  ", tasks) + tool.padding(toLength: 22, withPad: " ", startingAt: 0) + " failed")
            return
        }
        let ratio = makeS.map { String(format: "%6.2fx", s / $0) } ?? "     -"
        print(String(format: "%10d  ", tasks) + tool.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: " %8.3f  %8.3f   ", s, s * 1000 / Double(tasks)) + ratio)
    }

    /// Wall seconds of one run (posix_spawn), or nil when it failed.
    static func spawn(_ exe: String, _ args: [String], cwd: String) -> Double? {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = ([exe] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let old = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(cwd)
        defer { FileManager.default.changeCurrentDirectoryPath(old) }
        let t0 = DispatchTime.now().uptimeNanoseconds
        guard posix_spawn(&pid, exe, &actions, nil, argv, environ) == 0 else { return nil }
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return (st & 0x7f) == 0 && ((st >> 8) & 0xff) == 0 ? s : nil
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}
