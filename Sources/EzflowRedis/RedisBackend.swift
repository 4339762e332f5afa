// The Redis backend: `JournalStore`, `RunInbox`, `WorkQueue` and `RunLease` over hiredis
// and Redis Streams (DISTRIBUTED-NOTES.md §2). Being built; nothing uses it yet.
import CRedis
import EzflowIR
import EzflowPorts
import EzflowRuntime

/// The hiredis version this was built against, e.g. "0.14.1".
public func redisLibraryVersion() -> String { "\(HIREDIS_MAJOR).\(HIREDIS_MINOR).\(HIREDIS_PATCH)" }
