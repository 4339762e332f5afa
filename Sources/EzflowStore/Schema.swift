// Schema versions (`PRAGMA user_version`) and the migration from any older version.
import CSQLite
import EzflowPorts
import EzflowRuntime

enum Schema {
    /// `migrations[i]` takes a file from version `i` to `i + 1`.
    static let migrations: [String] = [
        // 0 → 1
        """
        CREATE TABLE runs(
            run_id     TEXT PRIMARY KEY NOT NULL,
            workflow   TEXT NOT NULL,
            ir_hash    TEXT NOT NULL,
            ir         BLOB NOT NULL,
            seed       INTEGER NOT NULL,   -- UInt64 bit pattern
            status     TEXT NOT NULL,      -- created | running | waiting | finished
            verdict    TEXT,               -- Verdict raw value
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE journal(
            run_id   TEXT NOT NULL,
            seq      INTEGER NOT NULL,
            event    TEXT NOT NULL,        -- canonical JSON
            commands TEXT NOT NULL,        -- canonical JSON array
            PRIMARY KEY(run_id, seq)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE attempts(
            run_id          TEXT NOT NULL,
            task            INTEGER NOT NULL,
            attempt         INTEGER NOT NULL,
            agent           INTEGER NOT NULL,
            idempotency_key TEXT NOT NULL,
            dispatched_seq  INTEGER NOT NULL,
            PRIMARY KEY(run_id, task, attempt)
        ) STRICT, WITHOUT ROWID;
        """,
        // 1 → 2: the IR moves out of `runs` into `run_data`: SQLite rewrites a whole row
        // on UPDATE, and the status update of every commit then copied the IR (megabytes
        // for a large workflow: O(tasks) per commit). And what `ezrun run` keeps beside
        // the journal. Attempt logs are written in
        // the same transaction as the completion they belong to; the inbox is how other
        // processes (`ezrun approve`, `ezrun cancel`) reach the single writer of a run;
        // run_versions holds the IR a run was upgraded to (`resume --allow-compatible`);
        // the audit table keeps every access decision, including refusals of runs that
        // never got a journal.
        """
        CREATE TABLE run_data(
            run_id TEXT PRIMARY KEY NOT NULL,
            ir     BLOB NOT NULL,
            meta   TEXT NOT NULL DEFAULT '{}'  -- inputs, principal, selector
        ) STRICT;
        INSERT INTO run_data(run_id, ir) SELECT run_id, ir FROM runs;
        ALTER TABLE runs DROP COLUMN ir;
        CREATE TABLE logs(
            run_id      TEXT NOT NULL,
            task        INTEGER NOT NULL,
            attempt     INTEGER NOT NULL,
            seq         INTEGER NOT NULL,  -- journal seq of the completion
            agent       INTEGER NOT NULL,
            exit_code   INTEGER,
            duration_ms INTEGER NOT NULL,
            stdout      TEXT NOT NULL,     -- redacted
            stderr      TEXT NOT NULL,     -- redacted
            PRIMARY KEY(run_id, task, attempt, seq)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE inbox(
            id         INTEGER PRIMARY KEY,
            run_id     TEXT NOT NULL,
            kind       TEXT NOT NULL,      -- approval | cancel
            task       TEXT,               -- task name (approval)
            principal  TEXT NOT NULL,
            approved   INTEGER NOT NULL,   -- 1 approve, 0 reject
            refusal    TEXT,               -- non-null: the access check refused it
            comment    TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            consumed   INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX inbox_open ON inbox(run_id, consumed);
        CREATE TABLE run_versions(
            run_id   TEXT NOT NULL,
            from_seq INTEGER NOT NULL,     -- the journal seq of its `plan_upgraded` event
            ir_hash  TEXT NOT NULL,
            ir       BLOB NOT NULL,
            PRIMARY KEY(run_id, from_seq)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE audit(
            id        INTEGER PRIMARY KEY,
            run_id    TEXT,
            principal TEXT NOT NULL,
            action    TEXT NOT NULL,       -- run | approve | resume | cancel
            target    TEXT NOT NULL,
            allowed   INTEGER NOT NULL,
            reason    TEXT NOT NULL,
            at_ms     INTEGER NOT NULL
        ) STRICT;
        """,
        // 2 → 3: the work queue (`SQLiteWorkQueue`), so workers in other processes can
        // share the store's file. An item row stays after completion (state 2) so a
        // resumed coordinator's second offer is still a no-op; a completion row lives
        // until the coordinator acknowledges it after its journal commit, and
        // `work_reads` says which readers (coordinators) were handed it already.
        """
        CREATE TABLE work_items(
            id              INTEGER PRIMARY KEY,  -- offer order
            run_id          TEXT NOT NULL,
            task            INTEGER NOT NULL,
            attempt         INTEGER NOT NULL,
            agent           INTEGER NOT NULL,
            idempotency_key TEXT NOT NULL,
            state           INTEGER NOT NULL DEFAULT 0,  -- 0 queued, 1 leased, 2 completed
            owner           TEXT,                        -- the lease holder (state 1)
            lease_until     INTEGER,                     -- epoch ms (state 1)
            deliveries      INTEGER NOT NULL DEFAULT 0,  -- claims so far
            cancelled       INTEGER NOT NULL DEFAULT 0,  -- never claimed again
            UNIQUE(run_id, task, attempt)
        ) STRICT;
        CREATE INDEX work_items_queued ON work_items(id) WHERE state = 0 AND cancelled = 0;
        CREATE INDEX work_items_leased ON work_items(lease_until) WHERE state = 1;
        CREATE TABLE work_completions(
            id              INTEGER PRIMARY KEY,  -- acceptance order
            run_id          TEXT NOT NULL,
            task            INTEGER NOT NULL,
            attempt         INTEGER NOT NULL,
            agent           INTEGER NOT NULL,
            idempotency_key TEXT NOT NULL,
            owner           TEXT NOT NULL,
            outcome         TEXT NOT NULL,        -- the journal event it becomes (canonical JSON, at_ms 0)
            log_task        INTEGER,              -- NULL: no attempt log
            log_attempt     INTEGER,
            log_seq         INTEGER,
            log_agent       INTEGER,
            log_exit_code   INTEGER,
            log_duration_ms INTEGER,
            log_stdout      TEXT,                 -- raw: the journal writer redacts
            log_stderr      TEXT,
            UNIQUE(run_id, task, attempt)
        ) STRICT;
        CREATE TABLE work_reads(
            run_id  TEXT NOT NULL,
            task    INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            reader  TEXT NOT NULL,
            PRIMARY KEY(run_id, task, attempt, reader)
        ) STRICT;
        """,
        // 3 → 4: the journal's hash chain (`JournalChain`), one hash per record in the
        // record's own row. Records stored before are chained by `fillChains` in the same
        // migration transaction: an edit made before the upgrade is sealed, not detected.
        """
        ALTER TABLE journal ADD COLUMN chain TEXT;  -- sha256:hex of (previous chain ‖ record)
        """,
        // 4 → 5: the OS process of each running attempt (its group leader), written with
        // the next group commit after the spawn and deleted once its group is gone, so
        // `ezrun resume` can end a survivor it proves is that attempt (pid + start time).
        """
        CREATE TABLE attempt_processes(
            run_id      TEXT NOT NULL,
            task        INTEGER NOT NULL,
            attempt     INTEGER NOT NULL,
            pid         INTEGER NOT NULL,
            pgid        INTEGER NOT NULL,
            start_ticks INTEGER NOT NULL,  -- field 22 of /proc/PID/stat
            PRIMARY KEY(run_id, task, attempt, pid)
        ) STRICT, WITHOUT ROWID;
        """,
        // 5 → 6: a work item's queue (routing key), priority and payload (what a worker in
        // another process needs), so `--backend sqlite:FILE` workers can take them.
        """
        ALTER TABLE work_items ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
        ALTER TABLE work_items ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE work_items ADD COLUMN payload BLOB NOT NULL DEFAULT x'';
        DROP INDEX work_items_queued;
        CREATE INDEX work_items_queued ON work_items(priority, id) WHERE state = 0 AND cancelled = 0;
        """,
        // 6 → 7: the dead-letter feed (`WorkQueue.deadLetter`, contract point 12): a copy of
        // the journal's dead letters and re-drives an operator can read with SQL.
        """
        CREATE TABLE dead_letters(
            id          INTEGER PRIMARY KEY,  -- feed order
            run_id      TEXT NOT NULL,
            seq         INTEGER NOT NULL,     -- the journal record
            task        INTEGER NOT NULL,
            task_name   TEXT NOT NULL,
            kind        TEXT NOT NULL,        -- dead_lettered | redriven
            error_class TEXT NOT NULL,
            message     TEXT NOT NULL,
            attempts    INTEGER NOT NULL,
            at_ms       INTEGER NOT NULL,     -- epoch ms, the run's clock
            principal   TEXT NOT NULL,        -- who re-drove it ('' for a dead letter)
            UNIQUE(run_id, seq, task, kind)
        ) STRICT;
        """,
    ]

    /// Swift steps after `migrations[i]` (SQLite has no SHA-256).
    static func afterMigration(_ c: Connection, to version: Int) throws(StoreError) {
        if version == 4 { try fillChains(c) }
    }

    /// Chains every stored journal (from each run's IR hash), as `append` would have.
    static func fillChains(_ c: Connection) throws(StoreError) {
        var runs: [(String, String)] = []
        try c.query("SELECT run_id, ir_hash FROM runs ORDER BY run_id") { st in runs.append((st.text(0), st.text(1))) }
        for (runID, irHash) in runs {
            var rows: [(Int, [UInt8], [UInt8])] = []
            try c.query("SELECT seq, event, commands FROM journal WHERE run_id = ?1 ORDER BY seq", { $0.bind(1, runID) }) { st in
                rows.append((Int(st.int(0)), st.bytes(1), st.bytes(2)))
            }
            var chain = irHash
            for (seq, event, commands) in rows {
                chain = JournalChain.link(chain, JournalChain.recordBytes(seq: seq, event: event, commands: commands))
                try c.run("UPDATE journal SET chain = ?3 WHERE run_id = ?1 AND seq = ?2") { st in
                    st.bind(1, runID); st.bind(2, seq); st.bind(3, chain)
                }
            }
        }
    }

    static var current: Int { migrations.count }

    /// `StoreError.code` of a read-only open refused because the file needs a migration
    /// (not an SQLite code: `DurableStore.reading` opens read-write then).
    static let olderVersionCode: Int32 = -1

    /// Bytes the WAL is cut back to after a checkpoint, and emptied to when the last
    /// connection closes (`journal_size_limit`; the file itself is kept).
    static let walSizeLimit = 16 << 20

    /// Sets the connection up (WAL, synchronous) and brings the schema to `current`;
    /// refuses a newer schema and files that are not ezflow stores.
    static func prepare(_ c: Connection, options: StoreOptions) throws(StoreError) {
        // The first read of the header: a non-database file fails here as `corrupt`. One
        // read transaction, so the version, id and table count are one snapshot: another
        // process creating the store between two reads looked like a foreign database.
        let (version, appID, tables) = try c.snapshot { () throws(StoreError) in
            (Int(try c.scalarInt("PRAGMA user_version") ?? 0), Int32(truncatingIfNeeded: try c.scalarInt("PRAGMA application_id") ?? 0),
             try c.scalarInt("SELECT count(*) FROM sqlite_schema") ?? 0)
        }
        if version > current {
            throw StoreError(.schema, path: c.path,
                             message: "a newer ezrun wrote it (store version \(version); this ezrun reads up to \(current))",
                             nextStep: "upgrade ezrun to read it, or use another store (--db PATH or EZFLOW_DB)")
        }
        let foreign = "pass the path of an ezflow store (--db PATH or EZFLOW_DB)"
        if appID != 0 && appID != DurableStore.applicationID {
            throw StoreError(.schema, path: c.path, message: "not an ezflow store (another program's database)", nextStep: foreign)
        }
        if version == 0 {
            if tables > 0 && appID != DurableStore.applicationID {
                throw StoreError(.schema, path: c.path, message: "not an ezflow store (a database with tables of its own)",
                                 nextStep: foreign)
            }
        }
        if !options.readOnly {
            let mode = try c.scalarText("PRAGMA journal_mode=WAL")
            guard mode?.lowercased() == "wal" else {
                throw StoreError(.io, path: c.path, message: "cannot keep a write-ahead log beside it (the journal mode stays \(mode ?? "unknown"))",
                                 nextStep: "put the store on a local disk (--db PATH or EZFLOW_DB)")
            }
            // Keep the -wal and -shm files when the last connection closes (emptied), so
            // another user who may only read the store can still open it (SQLite needs
            // them to read a WAL database it cannot write: docs/RUNNING.md, "The store").
            var persist: Int32 = 1
            sqlite3_file_control(c.db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
            try c.exec("PRAGMA journal_size_limit=\(walSizeLimit)")
        }
        try c.exec("PRAGMA synchronous=\(options.synchronous == .full ? "FULL" : "NORMAL")")
        if version < current {
            if options.readOnly {
                throw StoreError(.schema, path: c.path, code: olderVersionCode,
                                 message: "an older ezrun wrote it (store version \(version); this ezrun uses \(current)) and this command only reads",
                                 nextStep: "ask its owner to run `ezrun runs --db PATH` with this ezrun once, which upgrades it")
            }
            try migrate(c, from: version)
        }
    }

    /// Applies `migrations[from...]` in one transaction (re-checking the version under
    /// the write lock: another process may have migrated meanwhile).
    static func migrate(_ c: Connection, from: Int) throws(StoreError) {
        try c.transaction { () throws(StoreError) in
            let v = Int(try c.scalarInt("PRAGMA user_version") ?? 0)
            guard v < current else { return }
            for i in v..<current {
                try c.exec(migrations[i])
                try afterMigration(c, to: i + 1)
            }
            try c.exec("PRAGMA application_id=\(DurableStore.applicationID); PRAGMA user_version=\(current)")
        }
    }
}
