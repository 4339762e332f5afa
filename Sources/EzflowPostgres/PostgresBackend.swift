// The PostgreSQL backend: `JournalStore`, `RunInbox`, `WorkQueue` and `RunLease` over
// libpq (DISTRIBUTED-NOTES.md §2). Being built; nothing uses it yet.
import CPostgres
import EzflowIR
import EzflowPorts
import EzflowRuntime

/// The libpq version this was built against, e.g. 150018.
public func postgresLibraryVersion() -> Int { Int(PQlibVersion()) }
