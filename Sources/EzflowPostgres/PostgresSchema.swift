// The tables of the PostgreSQL backend, in one schema, as numbered migrations applied
// under `pg_advisory_xact_lock` (two processes migrating at once take turns; a version
// table says where a schema is). Layout per DISTRIBUTED-NOTES.md §2: the queue table has
// fillfactor 80 and no index on `lease_until`, so claims and renewals are HOT updates;
// the partial index covers only claimable rows, so it stays small however long the
// table's history.
import EzflowPorts

enum PostgresSchema {
    /// Migration `i` takes a schema from version `i` to `i + 1`.
    static let migrations: [String] = [
        """
        CREATE TABLE runs(
            run_id     text PRIMARY KEY,
            workflow   text NOT NULL,
            ir_hash    text NOT NULL,
            seed       bigint NOT NULL,
            status     text NOT NULL,
            verdict    text,
            created_ms bigint NOT NULL,
            updated_ms bigint NOT NULL,
            ir         bytea NOT NULL,
            meta       text NOT NULL DEFAULT '{}'
        );
        CREATE TABLE journal(
            run_id   text NOT NULL,
            seq      integer NOT NULL,
            event    text NOT NULL,
            commands text NOT NULL,
            chain    text NOT NULL,
            PRIMARY KEY(run_id, seq)
        );
        CREATE TABLE attempts(
            run_id          text NOT NULL,
            task            integer NOT NULL,
            attempt         integer NOT NULL,
            agent           integer NOT NULL,
            idempotency_key text NOT NULL,
            dispatched_seq  integer NOT NULL,
            PRIMARY KEY(run_id, task, attempt)
        );
        CREATE TABLE logs(
            run_id      text NOT NULL,
            task        integer NOT NULL,
            attempt     integer NOT NULL,
            seq         integer NOT NULL,
            agent       integer NOT NULL,
            exit_code   integer,
            duration_ms bigint NOT NULL,
            stdout      text NOT NULL,
            stderr      text NOT NULL,
            PRIMARY KEY(run_id, task, attempt, seq)
        );
        CREATE TABLE processes(
            run_id      text NOT NULL,
            task        integer NOT NULL,
            attempt     integer NOT NULL,
            pid         integer NOT NULL,
            pgid        integer NOT NULL,
            start_ticks bigint NOT NULL,
            PRIMARY KEY(run_id, task, attempt, pid)
        );
        CREATE TABLE inbox(
            id         bigserial PRIMARY KEY,
            run_id     text NOT NULL,
            kind       text NOT NULL,
            task       text,
            principal  text NOT NULL,
            approved   boolean NOT NULL,
            refusal    text,
            comment    text NOT NULL,
            created_ms bigint NOT NULL
        );
        CREATE INDEX inbox_run ON inbox(run_id, id);
        CREATE TABLE audit(
            id        bigserial PRIMARY KEY,
            run_id    text,
            principal text NOT NULL,
            action    text NOT NULL,
            target    text NOT NULL,
            allowed   boolean NOT NULL,
            reason    text NOT NULL,
            at_ms     bigint NOT NULL
        );
        CREATE TABLE versions(
            run_id   text NOT NULL,
            from_seq integer NOT NULL,
            ir_hash  text NOT NULL,
            ir       bytea NOT NULL,
            PRIMARY KEY(run_id, from_seq)
        );
        CREATE TABLE leases(
            run_id text PRIMARY KEY,
            epoch  bigint NOT NULL,
            owner  text NOT NULL
        );
        CREATE TABLE tasks(
            id              bigserial PRIMARY KEY,
            run_id          text NOT NULL,
            task            integer NOT NULL,
            attempt         integer NOT NULL,
            agent           integer NOT NULL,
            idempotency_key text NOT NULL,
            queue           text NOT NULL,
            priority        smallint NOT NULL,
            offered_ms      bigint NOT NULL,
            state           smallint NOT NULL DEFAULT 0,
            lease_owner     text,
            lease_until     bigint,
            deliveries      integer NOT NULL DEFAULT 0,
            cancelled       boolean NOT NULL DEFAULT false,
            payload         bytea NOT NULL,
            UNIQUE(run_id, task, attempt)
        ) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
                autovacuum_vacuum_cost_delay = 0);
        CREATE INDEX tasks_queued ON tasks(queue, priority, id) WHERE state = 0 AND NOT cancelled;
        CREATE INDEX tasks_queued_any ON tasks(priority, id) WHERE state = 0 AND NOT cancelled;
        CREATE INDEX tasks_leased ON tasks(lease_owner) WHERE state = 1;
        CREATE TABLE completions(
            id              bigserial PRIMARY KEY,
            run_id          text NOT NULL,
            task            integer NOT NULL,
            attempt         integer NOT NULL,
            agent           integer NOT NULL,
            idempotency_key text NOT NULL,
            owner           text NOT NULL,
            outcome         text NOT NULL,
            log_task        integer,
            log_attempt     integer,
            log_seq         integer,
            log_agent       integer,
            log_exit_code   integer,
            log_duration_ms bigint,
            log_stdout      text,
            log_stderr      text,
            UNIQUE(run_id, task, attempt)
        ) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0);
        CREATE INDEX completions_run ON completions(run_id, id);
        CREATE TABLE completion_reads(
            run_id  text NOT NULL,
            task    integer NOT NULL,
            attempt integer NOT NULL,
            reader  text NOT NULL,
            PRIMARY KEY(run_id, task, attempt, reader)
        );
        CREATE TABLE workers(
            owner         text PRIMARY KEY,
            registered_ms bigint NOT NULL
        );
        """,
        // 1 → 2: the dead-letter feed (`WorkQueue.deadLetter`, contract point 12), written
        // in the coordinator's journal append: a copy of the journal's dead letters and
        // re-drives that an operator can SELECT (docs/DISTRIBUTED.md, "Dead letters").
        """
        CREATE TABLE dead_letters(
            id          bigserial PRIMARY KEY,
            run_id      text NOT NULL,
            seq         integer NOT NULL,
            task        integer NOT NULL,
            task_name   text NOT NULL,
            kind        text NOT NULL CHECK (kind IN ('dead_lettered', 'redriven')),
            error_class text NOT NULL,
            message     text NOT NULL,
            attempts    integer NOT NULL,
            at_ms       bigint NOT NULL,
            principal   text NOT NULL,
            UNIQUE(run_id, seq, task, kind)
        );
        """,
    ]

    static var current: Int { migrations.count }

    /// A schema name we can splice into SQL: lower-case letters, digits and `_`.
    static func isValidName(_ s: String) -> Bool {
        guard let f = s.utf8.first, !s.isEmpty, s.utf8.count <= 63, f == UInt8(ascii: "_") || (f >= 97 && f <= 122) else { return false }
        return s.utf8.allSatisfy { $0 == UInt8(ascii: "_") || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
    }

    /// Brings the schema to `current`, under a transaction-scoped advisory lock.
    static func migrate(_ s: PGSession, schema: String) throws(StoreError) -> (from: Int, to: Int) {
        try s.transaction { () throws(StoreError) -> (from: Int, to: Int) in
            try s.exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["ezflow:migrate:" + schema])
            try s.execScript("""
                CREATE SCHEMA IF NOT EXISTS "\(schema)";
                CREATE TABLE IF NOT EXISTS "\(schema)".schema_version(version integer NOT NULL);
                SET LOCAL search_path TO "\(schema)"
                """)
            let from = Int(try s.exec("SELECT coalesce(max(version), 0) FROM schema_version").first?.int(0) ?? 0)
            if from > current {
                throw StoreError(.schema, path: s.location, message: "schema version \(from) is newer than this build's \(current)",
                                 nextStep: "use the ezrun that migrated this schema, or a newer one")
            }
            for m in migrations[from...] { try s.execScript(m) }
            if from < current {
                try s.exec("DELETE FROM schema_version")
                try s.exec("INSERT INTO schema_version(version) VALUES ($1)", [PG.int(current)])
            }
            return (from, current)
        }
    }

    /// Refuses a schema that is not at this build's version (on every new session).
    static func check(_ s: PGSession) throws(StoreError) {
        let v = Int(try s.exec("SELECT coalesce(max(version), 0) FROM schema_version").first?.int(0) ?? 0)
        guard v == current else {
            throw StoreError(.schema, path: s.location, message: "schema version \(v), this build needs \(current)",
                             nextStep: v < current ? "run `ezrun db migrate` against this database and schema"
                                 : "use the ezrun that migrated this schema, or a newer one")
        }
    }
}
