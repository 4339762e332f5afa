// `ezrun`'s commands, flags and help: the one table its parser, help, completions, man
// page and docs/CLI.md are made from.

extension Tool {
    public static let ezrun = Tool(
        name: "ezrun", version: ezflowVersion,
        summary: "the ezflow runtime: runs, resumes, inspects and simulates workflows",
        commands: [
            CommandSpec("run", "run a workflow to its end, journalled in the store",
                    arguments: [Argument("FILE", "an .ezflow source (compiled first) or an .ezir file", complete: .file)],
                    flags: [Flag("--input", value: "NAME=VALUE", "a workflow input, typed and checked as `ezc check` would (`wait=5s`, `cap=$2`)", repeatable: true),
                            Flag("--run-id", value: "ID", "the run's id (1…200 characters, no spaces or `/`; default: WORKFLOW-DATE-TIME-XXXX)"),
                            Flag("--seed", value: "N", "the run's seed (unsigned 64-bit; default: random, journalled)"),
                            RunTable.backend, RunTable.fallback, SharedFlags.stdlib] + RunTable.reportFlags,
                    details: RunTable.runDetails,
                    exitCodes: RunTable.runExitCodes),
            CommandSpec("resume", "continue a stopped, crashed or paused run from its journal",
                    arguments: [Argument("RUN", "the run id")],
                    flags: [Flag("--workflow", value: "FILE", "offer a changed workflow (.ezflow or .ezir): accepted when only what has not run yet changed", complete: .file),
                            Flag("--allow-compatible", "with --workflow: also accept changes to tasks that already ran, when their outputs keep their types"),
                            RunTable.backend, RunTable.fallback, SharedFlags.stdlib] + RunTable.reportFlags,
                    details: RunTable.resumeDetails,
                    exitCodes: RunTable.runExitCodes),
            CommandSpec("worker", "carry out the attempts coordinators queue on a backend, until stopped",
                    flags: [RunTable.backend, RunTable.fallback,
                            Flag("--queue", value: "NAME", "take work from this queue only (repeatable; default: every queue)", repeatable: true),
                            Flag("--slots", value: "N", "attempts run at once (1…1024, default 4)"),
                            Flag("--lease", value: "DURATION", "how long a claimed attempt stays this worker's without a renewal (1s…1h, default 30s)"),
                            Flag("--idle-exit", value: "DURATION", "stop once the queues stayed empty this long (default: never)"),
                            Flag("--sim-agents", "complete attempts of `sim` agents at once, as successes without outputs (benchmarks; default: they fail)"),
                            Flag("--health-port", value: "PORT", "serve /healthz (liveness), /readyz (the backend answers) and /metrics on this port (0 picks one)"),
                            Flag("--health-addr", value: "ADDR", "the IPv4 address the health port binds (default 127.0.0.1; 0.0.0.0 for a kubelet's probes)"),
                            Flag("--quiet", "no claim or stop lines on standard error")],
                    details: """
                        Leases are renewed every third of --lease while attempts run. SIGTERM or SIGINT stops claiming, ends the
                        attempts in flight and puts them back in the queue; a second signal kills them at once. A worker killed
                        with -9 loses its leases when they expire (or sooner, where the backend notices), and its attempts run
                        again elsewhere: delivery to agents is at least once (EZFLOW_IDEMPOTENCY_KEY is stable across attempts).
                        With --fallback it serves both backends in one pool of --slots, the primary first, and keeps serving
                        one while the other cannot be reached.
                        """,
                    exitCodes: [ExitCode(0, "stopped"), ExitCode(2, "usage error"), ExitCode(5, "the backend cannot be reached or written")]),
            CommandSpec("coordinator", "drive the runs of a backend whose coordinator is gone (a standby), until killed",
                    flags: [RunTable.backend, RunTable.fallback,
                            Flag("--poll", value: "DURATION", "how often to look for runs to adopt (100ms…60s, default 1s)"),
                            Flag("--health-port", value: "PORT", "serve /healthz, /scale-hint (JSON, `desired` workers) and /metrics on this port (0 picks one)"),
                            Flag("--health-addr", value: "ADDR", "the IPv4 address the health port binds (default 127.0.0.1; 0.0.0.0 in a pod)"),
                            Flag("--worker-slots", value: "N", "the workers' --slots, for /scale-hint (default 4)"),
                            Flag("--quiet", "no adoption lines on standard error")],
                    details: """
                        A run started with `ezrun run --backend URL` is coordinated by that ezrun; if it dies (killed, its machine
                        lost) a coordinator adopts the run once its run lease is free, replays its journal and goes on from there.
                        With --fallback it adopts the runs of both backends.
                        """,
                    exitCodes: [ExitCode(2, "usage error"), ExitCode(5, "the backend cannot be reached or read")]),
            CommandSpec("scale-hint", "print how many workers a backend's queue wants now, for an autoscaler",
                    flags: [RunTable.backend,
                            Flag("--queue", value: "NAME", "count this queue only (repeatable; default: every queue)", repeatable: true),
                            Flag("--slots", value: "N", "slots per worker (1…1024, default 4)"),
                            Flag("--min", value: "N", "never fewer workers (default 0)"),
                            Flag("--max", value: "N", "never more workers (default 100)"),
                            Flag("--window", value: "DURATION", "time between the two samples of the queue (0s…10m, default 5s)"),
                            SharedFlags.json, Flag("--quiet", "no explanation on standard error")],
                    details: """
                        Prints one integer: enough workers for the attempts waiting or running at --slots each, and at least
                        enough to keep up with the arrivals at the throughput measured per busy worker over --window, within
                        --min…--max. docs/DISTRIBUTED.md has Kubernetes manifests that scale `ezrun worker` on it.
                        """,
                    exitCodes: [ExitCode(0, "printed"), ExitCode(2, "usage error"), ExitCode(5, "the backend cannot be reached or read")]),
            CommandSpec("approve", "answer an approval gate (or an output conflict) of a run",
                    arguments: [Argument("RUN", "the run id"), Argument("TASK", "the approval task")],
                    flags: [Flag("--as", value: "NAME[:ROLE,...]", "who answers (required); roles from --principals, $EZFLOW_PRINCIPALS or .ezflow/principals.json unless given inline"),
                            RunTable.principals,
                            Flag("--reject", "reject instead of approving"),
                            Flag("--yes", "answer without the y/N question (it is asked on a terminal; without one and without --yes nothing is answered, exit 2)"),
                            Flag("--comment", value: "TEXT", "journalled with the answer"),
                            SharedFlags.db],
                    details: "The answer goes to the run's inbox; `ezrun resume RUN` (or the ezrun running it) folds it.",
                    exitCodes: [ExitCode(0, "answered"), ExitCode(1, "declined at the y/N question"),
                                ExitCode(2, "usage error, not answered, or access refused"), ExitCode(5, "the store cannot be read or written")]),
            CommandSpec("cancel", "ask a run to stop: a running ezrun stops it, or the next resume does",
                    arguments: [Argument("RUN", "the run id")],
                    flags: [RunTable.principal, RunTable.principals, Flag("--comment", value: "TEXT", "journalled with the request"), SharedFlags.db],
                    exitCodes: [ExitCode(0, "requested"), ExitCode(2, "usage error"), ExitCode(5, "the store cannot be read or written")]),
            CommandSpec("status", "a run's state: verdict, charges, each task's state and attempts, open approvals",
                    arguments: [Argument("RUN", "the run id")],
                    flags: [SharedFlags.json, SharedFlags.db],
                    exitCodes: RunTable.readExitCodes),
            CommandSpec("runs", "the runs in the store, newest last",
                    flags: [SharedFlags.json, SharedFlags.db],
                    exitCodes: [ExitCode(0, "printed"), ExitCode(2, "usage error"), ExitCode(5, "the store cannot be read")]),
            CommandSpec("logs", "the standard output and error of a run's attempts (of one TASK)",
                    arguments: [Argument("RUN", "the run id"), Argument("TASK", "only this task", optional: true)],
                    flags: [SharedFlags.json, SharedFlags.db],
                    exitCodes: RunTable.readExitCodes),
            CommandSpec("replay", "fold a journal through the core and check every event gives the recorded commands",
                    arguments: [Argument("JOURNAL|RUN", "a JSON-lines journal file, or a stored run's id", complete: .file)],
                    flags: [Flag("--workflow", value: "FILE", "the .ezflow or .ezir the journal's run used (journal files)", complete: .file),
                            SharedFlags.selector,
                            Flag("--scenario", value: "FILE", "the simulation's scenario (journal files)", complete: .file),
                            Flag("--faults", value: "SPEC", "the simulation's faults (journal files)"),
                            Flag("--prior", value: "JOURNAL", "for `learned`: an earlier run's journal, in order", complete: .file, repeatable: true),
                            RunTable.breakerFailures, RunTable.breakerCoolDown,
                            SharedFlags.db,
                            Flag("--export", value: "FILE", "(stored runs) write the journal as JSON lines with chain hashes", complete: .file),
                            SharedFlags.stdlib],
                    details: """
                        Pass the same workflow, selector, scenario, faults and breaker settings the run had. A line's `chain`
                        hash (exports carry one) is checked from the workflow's IR hash first. A stored run (with --db or
                        $EZFLOW_DB, or an argument that is not a file and does not end in .jsonl) is read from the store,
                        its IR and hash chain checked, and replayed as the run itself did.
                        """,
                    exitCodes: [ExitCode(0, "reproduced"), ExitCode(1, "determinism violation (the first divergent event is shown)"),
                                ExitCode(2, "invalid input"), ExitCode(5, "the store cannot be read"),
                                ExitCode(6, "a record or the IR does not match the hash chain (an edited journal)")]),
            CommandSpec("simulate", "run a workflow K times through the real runner on memory ports, simulated agents and faults",
                    arguments: [Argument("FILE", "an .ezflow source (compiled) or an .ezir document (validated)", complete: .file)],
                    flags: [Flag("--seed", value: "N", "master seed (unsigned 64-bit, required); run i uses a seed derived from it"),
                            Flag("--runs", value: "K", "number of runs (1…1000000, default 1)"),
                            Flag("--faults", value: "SPEC", "injected faults, clauses separated by `;` (below)"),
                            Flag("--scenario", value: "FILE", "JSON with per-agent model overrides and faults (docs/SIMULATION.md)", complete: .file),
                            SharedFlags.selector,
                            Flag("--journal-dir", value: "DIR", "write run i's journal to DIR/run-<i>.jsonl; a failed run's to DIR/failed-run-<i>.jsonl", complete: .directory),
                            Flag.choice("--oracle", value: "WHEN", ["on", "off"], "off skips the per-run oracle (for benchmarks of very large workflows)"),
                            RunTable.breakerFailures, RunTable.breakerCoolDown, SharedFlags.stdlib],
                    details: """
                        --faults clauses:
                          agent=NAME:fail=P,class=C,latency=xF,down=FROM-TO
                          task=NAME:fail=P,class=C
                          runner:crash=P          the runner dies between port calls and resumes
                          store:fail=P            a journal append fails (before or after writing)
                          completion:duplicate=P,delay=xF[,late=P]   completions twice, or late
                          clock:jump=MS           the wall clock jumps forward
                        P in 0…1; C agent_error|transient|timeout; F > 0; FROM-TO in ms. Infrastructure rates are
                        ceilings: per run each kind is on with probability 1/2 at a rate drawn from [0, P] (swarm testing).
                        e.g. 'agent=coder:fail=0.3,latency=x2;task=deploy:fail=1;runner:crash=0.05'

                        An oracle checks each run (results journalled once, no re-run of a finished task, budgets,
                        terminal states, byte-for-byte replay). Same arguments, same output, byte for byte.
                        """,
                    exitCodes: [ExitCode(0, "every run succeeded"), ExitCode(1, "some run failed"), ExitCode(2, "invalid input"),
                                ExitCode(3, "some run exceeded its budget or deadline"), ExitCode(127, "the runner failed"),
                                ExitCode(128, "a run stalled"), ExitCode(129, "the oracle found a broken run")]),
            CommandSpec("files", "the files a run's tasks left (name, size, digest), or copy one out with --out",
                    arguments: [Argument("RUN", "the run id"), Argument("TASK.OUTPUT", "one file: a `file` output, `TASK.OUTPUT[I]` for an item of a `list[file]`", optional: true)],
                    flags: [Flag("--out", value: "PATH", "with TASK.OUTPUT: write the file to PATH with its recorded mode (into PATH if a directory; `-`: standard output; a regular file there is replaced, anything else refused)", complete: .file),
                            SharedFlags.json, SharedFlags.db],
                    details: """
                        Files are kept in the store's content-addressed area (`<store>.files/sha256/`), once per content, while any
                        run in the store refers to them; the copy written with --out is checked against its digest.
                        """,
                    exitCodes: [ExitCode(0, "printed or copied"), ExitCode(2, "usage error, or no such run, task or file output"),
                                ExitCode(5, "the store cannot be read, the file is no longer in it, or PATH cannot be written"),
                                ExitCode(6, "the stored file does not match its digest")]),
            CommandSpec("gc", "delete stored files no run in the store refers to, and leftovers of attempts that ended",
                    flags: [Flag("--dry-run", "only say what would be deleted and how many bytes it would free"), SharedFlags.json, SharedFlags.db],
                    details: """
                        A file is kept while any run's journal refers to it. Files stored, and attempt directories left, in the
                        last 10 minutes are kept too: an attempt that just ended may not have been journalled yet.
                        """,
                    exitCodes: [ExitCode(0, "collected (or, with --dry-run, listed)"), ExitCode(2, "usage error"),
                                ExitCode(5, "the store cannot be read or a file cannot be deleted")]),
            CommandSpec("db", "the backend's schema",
                    subcommands: [
                        CommandSpec("migrate", "bring a backend's schema to this ezrun's version (PostgreSQL; a no-op elsewhere)",
                                flags: [RunTable.backend],
                                details: """
                                    Versioned migrations in one transaction each, under an advisory lock: two at once are safe, and a
                                    schema already at this version is left as it is. Run it once per release, before the workers.
                                    """,
                                exitCodes: [ExitCode(0, "at this version"), ExitCode(2, "usage error"),
                                            ExitCode(5, "the backend cannot be reached, or a newer ezrun migrated it")]),
                    ]),
            CommandSpec("dlq", "dead-lettered tasks: list them, show one's attempts, re-drive one",
                    subcommands: [
                        CommandSpec("list", "the dead-lettered tasks of every run in the store (or of one run)",
                                flags: [Flag("--run", value: "RUN", "only this run"), SharedFlags.json, SharedFlags.db],
                                exitCodes: RunTable.readExitCodes),
                        CommandSpec("show", "every attempt of TASK in RUN from the journal: agent, error, duration, cost, re-drives",
                                arguments: [Argument("RUN", "the run id"), Argument("TASK", "the task")],
                                flags: [SharedFlags.json, SharedFlags.db],
                                exitCodes: RunTable.readExitCodes),
                        CommandSpec("retry", "re-drive a dead-lettered TASK (and what was skipped because of it) within the run's limits",
                                arguments: [Argument("RUN", "the run id"), Argument("TASK", "the task")],
                                flags: [Flag("--no-resume", "only post the request (the next `ezrun resume RUN` folds it)")] + RunTable.reportFlags,
                                details: """
                                    The request goes to the run's inbox; when no ezrun is running the run, retry then resumes it
                                    itself, to its new verdict (exit status as `ezrun resume`); when one is, that ezrun folds it
                                    (exit 0). Needs the `run` permission. With --json, the run's state at the end on standard output.
                                    """,
                                exitCodes: RunTable.runExitCodes),
                    ]),
        ],
        exitCodes: RunTable.runExitCodes,
        environment: [
            EnvironmentVariable("EZFLOW_DB", "the store, when --db is not given (ignored when empty)"),
            EnvironmentVariable("EZFLOW_AS", "the principal, when --as is not given"),
            EnvironmentVariable("EZFLOW_PRINCIPALS", "the principals file, when --principals is not given (else .ezflow/principals.json)"),
            EnvironmentVariable("GITHUB_STEP_SUMMARY", "when set, the run's Markdown summary is appended to this file"),
            stdlibVariable, noColorVariable,
        ])
}

/// What `run`, `resume` and `dlq retry` share.
enum RunTable {
    static let backend = Flag("--backend", value: "URL",
                              "where runs and their queue live when workers elsewhere carry out the attempts: sqlite:PATH, postgres://HOST/DB or redis://HOST:PORT (default: $EZFLOW_BACKEND; docs/DISTRIBUTED.md)")
    static let fallback = Flag("--fallback", value: "URL",
                               "with --backend: where NEW runs go while the primary backend cannot be reached (default: $EZFLOW_FALLBACK); a run in progress stays on its backend (docs/DISTRIBUTED.md, \"Failover\")")
    static let principal = Flag("--as", value: "NAME[:ROLE,...]",
                                "the principal (roles from --principals, $EZFLOW_PRINCIPALS or .ezflow/principals.json unless given inline); without it the local operator runs unrestricted")
    static let principals = Flag("--principals", value: "FILE", "the principals file (JSON: names and their roles)", complete: .file)
    static let breakerFailures = Flag("--breaker-failures", value: "N",
                                      "every agent's circuit breaker opens after N outage failures in a row (default: the agent's breaker_failures, else 5)")
    static let breakerCoolDown = Flag("--breaker-cool-down", value: "D",
                                      "an open breaker refuses work for D, a duration such as 30s (default: the agent's breaker_cool_down, else 30s)")

    static let reportFlags: [Flag] = [
        principal, principals, SharedFlags.db, SharedFlags.selector,
        Flag("--wait", "keep waiting for approvals instead of exiting with 4"),
        Flag("--json", "print the run's final state as one JSON document on standard output (the run id line is left out)"),
        Flag("--quiet", "no progress lines or notices on standard error"),
        Flag("--no-progress", "plain progress lines only, no live status line"),
        SharedFlags.color,
        Flag("--junit", value: "FILE", "write a JUnit XML report", complete: .file),
        Flag("--summary", value: "FILE", "write a JSON summary", complete: .file),
        Flag("--summary-md", value: "FILE", "write a Markdown summary", complete: .file),
        Flag("--otlp", value: "FILE", "write the run's trace as OTLP JSON", complete: .file),
        Flag("--log", value: "FILE", "append every journal record as a JSON line", complete: .file),
        Flag("--metrics-port", value: "N", "serve Prometheus metrics on 127.0.0.1:N while running (0 picks a free port)"),
        Flag("--metrics-file", value: "FILE", "write the final metrics in Prometheus text format", complete: .file),
        Flag.choice("--on-signal", value: "POLICY", ["stop", "drain"],
                    "on SIGINT/SIGTERM nothing new starts; stop (default) ends the tasks in flight, drain lets them finish first; a second signal escalates"),
        breakerFailures, breakerCoolDown,
        Flag("--sync-normal", "SQLite synchronous=NORMAL: kill -9 safe, but a power loss may lose the last commits"),
    ]

    static let runDetails = """
        Standard output: the run id on one line (once the run exists, before anything runs), or with --json one document at the end
        (what `ezrun status RUN --json` prints, with `exit_code`). Everything else goes to standard error. The journal, queue and logs live in one SQLite file.
        Every task runs in its own process group, ended with ezrun even on kill -9 (docs/RUNNING.md).
        """

    static let resumeDetails = """
        Standard output: nothing, or with --json one document at the end (what `ezrun status RUN --json` prints,
        with `exit_code`). Progress and notices go to standard error.
        """

    static let runExitCodes = [
        ExitCode(0, "success"), ExitCode(1, "the run failed"), ExitCode(2, "invalid input, usage error or access refused"),
        ExitCode(3, "budget or deadline exceeded"), ExitCode(4, "waiting for approval"),
        ExitCode(5, "the store cannot be read or written (corrupt journal, locked or unreadable file)"),
        ExitCode(6, "a journal record or the IR does not match the run's hash chain (the store was edited)"),
        ExitCode(130, "interrupted by SIGINT (the run is left resumable)"), ExitCode(143, "interrupted by SIGTERM (the run is left resumable)"),
    ]

    static let readExitCodes = [
        ExitCode(0, "printed"), ExitCode(2, "usage error, or no such run or task"),
        ExitCode(5, "the store cannot be read"), ExitCode(6, "the journal does not match its hash chain"),
    ]
}
