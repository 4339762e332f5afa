// `ezbench`'s commands, flags and help: the one table its parser, help and completions
// are made from. Release builds only for figures (`swift run -c release ezbench …`).

extension Tool {
    public static let ezbench = Tool(
        name: "ezbench", version: ezflowVersion,
        summary: "ezflow's benchmarks: checker, compiler, scheduler, durable journal, exec runs, distributed runs, fault sweeps, language server",
        commands: [
            CommandSpec("check", "time `ezc check` on generated workflows", flags: BenchTable.generated,
                    exitCodes: BenchTable.checkExitCodes),
            CommandSpec("build", "time `ezc build` (check, lower, encode) on generated workflows", flags: BenchTable.generated,
                    exitCodes: BenchTable.checkExitCodes),
            CommandSpec("schedule", "in-process scheduling throughput with simulated agents (each size in a child process)",
                    flags: [Flag("--sizes", value: "LIST", "task counts, comma-separated (k and M suffixes: 10k,100k,1M)"),
                            Flag("--agents", value: "N", "agents in the pool (at least 4; default 10000)"),
                            SharedFlags.selector,
                            Flag.choice("--journal", value: "KIND", ["records", "bytes", "none"], "how the journal is kept in memory (default records)"),
                            BenchTable.seed,
                            Flag("--one", value: "N", "(internal) run one size in this process: the child of a schedule benchmark")]),
            CommandSpec("durable", "the core with every journal record committed to SQLite before its commands take effect",
                    flags: [Flag("--sizes", value: "LIST", "task counts, comma-separated (default 10k,100k)"),
                            Flag("--batch", value: "LIST", "steps per transaction, comma-separated (default 1,64)"),
                            Flag("--sync", value: "LIST", "SQLite synchronous settings, comma-separated: full, normal"),
                            Flag("--dir", value: "DIR", "where the databases go (default: a temporary directory)", complete: .directory),
                            Flag("--keep", "keep the databases"),
                            BenchTable.seed,
                            Flag("--agents", value: "N", "agents (at least 4; default 64)"),
                            Flag("--crash-probe", value: "DB", "(the kill -9 test's child) append --records records to DB, one transaction each", complete: .file),
                            Flag("--records", value: "N", "with --crash-probe: how many records"),
                            Flag("--tasks", value: "T", "with --crash-probe: tasks in the probe's plan")],
                    alternatives: ["--crash-probe DB --records N [--tasks T] [--seed N]"]),
            CommandSpec("exec", "real subprocesses through `ezrun run`, side by side with make and ninja on the same DAG",
                    flags: [Flag("--sizes", value: "LIST", "task counts, comma-separated, each at least 20 (default 1k,10k)"),
                            Flag("--jobs", value: "N", "parallel jobs (default 2)"),
                            BenchTable.repeats,
                            Flag("--sync", value: "LIST", "ezrun's SQLite synchronous settings: full and/or normal"),
                            Flag("--keep", "keep the generated files")]),
            CommandSpec("distributed", "`ezrun run --backend` with N `ezrun worker` processes per backend: tasks/s, claim latency, journal writes",
                    flags: [Flag("--backend", value: "LIST", "sqlite, postgres, redis or all, comma-separated (default all: those reachable)"),
                            Flag("--workers", value: "N", "worker processes (default 4)"),
                            Flag("--slots", value: "N", "each worker's --slots (default 16)"),
                            Flag("--sim", value: "N", "independent tasks of a `sim` agent, completed at once by the workers (default 20000; 0: none)"),
                            Flag("--exec", value: "N", "independent exec tasks of `/bin/true` (default 2000; 0: none)"),
                            Flag("--pg", value: "URL", "the PostgreSQL server (default: from $EZ_PG, a libpq conninfo); a fresh schema per measurement"),
                            Flag("--redis", value: "URL", "the Redis server (default: from $EZ_REDIS, HOST:PORT); a fresh key prefix per measurement"),
                            Flag("--ezrun", value: "PATH", "the ezrun to measure (default: the one beside ezbench)", complete: .file),
                            Flag("--keep", "keep the generated files and the backends' data")],
                    details: """
                        The workflow's max_parallel is workers × slots, so every offer finds a free slot: the claim latency (the
                        workers' /metrics histogram, offer → claim, whole milliseconds) is the queue's, not a backlog's. Journal
                        writes come from the coordinator's --metrics-file (appends and records). Needs psql and redis-cli to
                        drop the schema and the keys afterwards.
                        """,
                    exitCodes: [ExitCode(0, "every run succeeded"), ExitCode(1, "a run or a worker failed"), ExitCode(2, "usage error")]),
            CommandSpec("sweep", "the long fault sweep: runs I … I+K-1 of FILE through the real runner under infrastructure faults",
                    arguments: [Argument("FILE", "the workflow", complete: .file)],
                    flags: [BenchTable.seed,
                            Flag("--from", value: "I", "the first run index (default 0); shard a long sweep with one process per range"),
                            Flag("--runs", value: "K", "how many runs (k and M suffixes)"),
                            Flag("--faults", value: "SPEC", "the faults (default: every kind; the syntax of `ezrun simulate --faults`)")],
                    details: "Prints runs per second, the faults injected and the first failing run, with the command that reproduces it.",
                    exitCodes: [ExitCode(0, "every run held"), ExitCode(1, "a run failed the oracle"), ExitCode(2, "usage error")]),
            CommandSpec("lsp", "the real `ezc lsp` on pipes: didChange → publishDiagnostics and completion latency, memory per open file",
                    flags: [Flag("--sizes", value: "LIST", "tasks in the generated chain workflow, comma-separated (k suffix; default 1000,10000)"),
                            Flag("--edits", value: "N", "edits per size, cycling: change a literal, introduce an error, remove it (default 100)"),
                            Flag("--others", value: "N", "other files of the same size open beside the edited one, importing nothing (default 0)"),
                            Flag("--ezc", value: "PATH", "the ezc to measure (default: the one beside ezbench)", complete: .file)],
                    details: """
                        One fresh server per size. Each edit is timed from writing its didChange to reading the
                        publishDiagnostics of that version (the server publishes every new version of the edited
                        document); after it, three completions are timed, request to response: a task block's
                        attributes, the task names in `after: [`, the members after `inputs.`. Memory is the server's
                        VmRSS once initialized, with the file open, and after the edits.
                        """,
                    exitCodes: [ExitCode(0, "every size measured"), ExitCode(1, "the server failed, went silent or published unexpected diagnostics"), ExitCode(2, "usage error")]),
        ],
        exitCodes: [ExitCode(0, "done"), ExitCode(1, "a benchmarked workflow or run failed"), ExitCode(2, "usage error")])
}

enum BenchTable {
    static let seed = Flag("--seed", value: "N", "the seed (unsigned 64-bit)")
    static let repeats = Flag("--repeat", value: "N", "runs per case; the best wall time is reported (default 3)")
    static let generated: [Flag] = [
        Flag("--sizes", value: "LIST", "task counts, comma-separated (k and M suffixes: 1000,10k,100k)"),
        Flag("--shapes", value: "LIST", "DAG shapes, comma-separated: chain, fanout, layered"),
        repeats,
        Flag("--emit", value: "DIR", "also write each generated workflow to DIR", complete: .directory),
    ]
    static let checkExitCodes = [ExitCode(0, "every workflow checked clean"), ExitCode(1, "a workflow had diagnostics"), ExitCode(2, "usage error")]
}
