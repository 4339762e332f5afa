// The journal store and inbox on Redis. Where a run lives (P = the backend's prefix):
//   P runs            ZSET   run ids scored by creation time (`runs()` oldest first)
//   P run:<id>        HASH   the run row, its IR bytes and meta
//   P jev:<id>        LIST   journal events (canonical JSON), index = seq
//   P jcmd:<id>       LIST   the records' commands, index = seq
//   P jchain:<id>     LIST   each record's chain hash (`JournalChain`), index = seq
//   P logs:<id>, P inbox:<id>, P att:<id> (open attempts), P proc:<id>, P ver:<id>/verir:<id>
// Durable with `appendonly yes` (checked at open): with the default `appendfsync
// everysec` a power loss may lose the last second of commits; a kill -9 of the server
// loses nothing (the AOF is written before the reply). `append` is ONE Lua script, so
// the records, chain hashes, logs, consumed inbox ids, open attempts, processes and the
// run update are applied together or not at all, fenced by the record count, by the
// head chain hash the client chained from, and by the run lease's epoch when this
// process holds the lease (a coordinator that lost its lease cannot append).
import EzflowIR
import EzflowPorts
import EzflowRuntime
import Foundation

/// `JournalStore` and `RunInbox` on one Redis connection (from `RedisBackend.store()`).
public final class RedisStore: JournalStore, RunInbox {
    let backend: RedisBackend
    let conn: RedisConnection
    let p: String

    init(backend: RedisBackend) {
        self.backend = backend
        conn = backend.connection()
        p = backend.prefix
    }

    public var location: String { backend.location + " (prefix \(p))" }

    func error(_ kind: StoreError.Kind, _ message: String) -> StoreError { StoreError(kind, path: location, message: message) }

    func k(_ what: String, _ runID: String) -> String { p + what + ":" + runID }

    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    static func b(_ i: Int) -> [UInt8] { Array(String(i).utf8) }
    static func b(_ i: Int64) -> [UInt8] { Array(String(i).utf8) }

    /// `read`: the script only reads (retried once on a connection found gone).
    func eval(_ s: RedisScript, _ keys: [String], _ args: [[UInt8]], read: Bool = false) throws(StoreError) -> RedisReply {
        do { return try conn.eval(s, keys: keys, args: args, retry: read) } catch { throw relocated(error) }
    }

    /// A connection error names this store (with its prefix).
    func relocated(_ e: StoreError) -> StoreError {
        var e = e
        e.path = location
        return e
    }

    func decodeJSON(_ bytes: [UInt8], _ what: String) throws(StoreError) -> JSONValue {
        do { return try JSONParser.parse(bytes) } catch { throw self.error(.corrupt, "\(what) is not JSON: \(error.description)") }
    }

    // MARK: Runs

    public func createRun(_ r: NewRun) throws(StoreError) {
        let meta = r.meta.map(CanonicalJSON.encode) ?? Self.b("{}")
        _ = try eval(Self.createRun, [k("run", r.runID), p + "runs"],
                     [Self.b(r.runID), Self.b(r.workflow), Self.b(r.irHash), Self.b(String(r.seed)), Self.b(r.createdMs), r.ir, meta])
    }

    public func run(_ runID: String) throws(StoreError) -> RunInfo? {
        let r = try eval(Self.runInfo, [k("run", runID), k("jev", runID), k("att", runID)], [], read: true)
        return try info(runID, r)
    }

    func info(_ runID: String, _ r: RedisReply) throws(StoreError) -> RunInfo? {
        let a = r.array
        guard a.count == 9, !a[0].isNull else { return nil }
        guard let status = RunStatus(rawValue: a[3].text ?? "") else { throw error(.corrupt, "run `\(runID)`: unknown status `\(a[3].text ?? "")`") }
        var verdict: Verdict?
        if let v = a[4].text, !v.isEmpty {
            guard let parsed = Verdict(rawValue: v) else { throw error(.corrupt, "run `\(runID)`: unknown verdict `\(v)`") }
            verdict = parsed
        }
        return RunInfo(runID: runID, workflow: a[0].text ?? "", irHash: a[1].text ?? "", seed: UInt64(a[2].text ?? "") ?? 0, status: status,
                       verdict: verdict, createdMs: a[5].int ?? 0, updatedMs: a[6].int ?? 0, journalCount: Int(a[7].int ?? 0),
                       openAttempts: Int(a[8].int ?? 0))
    }

    public func runs() throws(StoreError) -> [RunInfo] {
        let ids: [String]
        do { ids = try conn.read("ZRANGE", p + "runs", "0", "-1").array.compactMap(\.text) } catch { throw relocated(error) }
        var out: [RunInfo] = []
        for id in ids { if let i = try run(id) { out.append(i) } }
        return out.sorted { ($0.createdMs, $0.runID) < ($1.createdMs, $1.runID) }
    }

    public func ir(run runID: String) throws(StoreError) -> [UInt8]? {
        do { return try conn.read("HGET", k("run", runID), "ir").bytes } catch { throw relocated(error) }
    }

    public func update(run runID: String, _ u: RunUpdate) throws(StoreError) {
        _ = try eval(Self.update, [k("run", runID)], [Self.b(runID), Self.b(u.status.rawValue), Self.b(u.verdict?.rawValue ?? ""), Self.b(u.updatedMs)])
    }

    public func meta(run runID: String) throws(StoreError) -> JSONValue? {
        let r: RedisReply
        do { r = try conn.read("HGET", k("run", runID), "meta") } catch { throw relocated(error) }
        guard let bytes = r.bytes else { return nil }
        return try decodeJSON(bytes, "run `\(runID)`: metadata")
    }

    public func setMeta(run runID: String, _ meta: JSONValue) throws(StoreError) {
        _ = try eval(Self.setIfRun, [k("run", runID)], [Self.b("meta"), CanonicalJSON.encode(meta)])
    }

    public func versions(run runID: String) throws(StoreError) -> [(fromSeq: Int, irHash: String, ir: [UInt8])] {
        let a = try eval(Self.versions, [k("ver", runID), k("verir", runID)], [], read: true).array
        var out: [(fromSeq: Int, irHash: String, ir: [UInt8])] = []
        var i = 0
        while i + 2 < a.count {
            out.append((Int(a[i].int ?? 0), a[i + 1].text ?? "", a[i + 2].bytes ?? []))
            i += 3
        }
        return out.sorted { $0.fromSeq < $1.fromSeq }
    }

    public func addVersion(run runID: String, fromSeq: Int, irHash: String, ir: [UInt8]) throws(StoreError) {
        _ = try eval(Self.addVersion, [k("ver", runID), k("verir", runID)], [Self.b(fromSeq), Self.b(irHash), ir])
    }

    public func audit(_ e: AuditEntry) throws(StoreError) {
        let v: JSONValue = .object([("run", e.runID.map { .string($0) } ?? .null), ("principal", .string(e.principal)), ("action", .string(e.action)),
                                    ("target", .string(e.target)), ("allowed", .bool(e.allowed)), ("reason", .string(e.reason)), ("at", .int(e.atMs))])
        do { _ = try conn.checked([Self.b("RPUSH"), Self.b(p + "audit"), CanonicalJSON.encode(v)]) } catch { throw relocated(error) }
    }

    // MARK: Journal

    public func chainHash(run runID: String, seq: Int) throws(StoreError) -> String? {
        do {
            if seq < 0 { return try conn.read("HGET", k("run", runID), "ir_hash").text }
            return try conn.read("LINDEX", k("jchain", runID), String(seq)).text
        } catch { throw relocated(error) }
    }

    public func journal(run runID: String, from seq: Int) throws(StoreError) -> [JournalRecord] {
        let from = max(0, seq)
        let a = try eval(Self.journal, [k("run", runID), k("jev", runID), k("jcmd", runID), k("jchain", runID)], [Self.b(from)], read: true).array
        guard a.count == 4 else { return [] }
        let events = a[1].array, commands = a[2].array, chains = a[3].array
        guard !events.isEmpty else { return [] }
        guard events.count == commands.count, events.count == chains.count, let previous = a[0].text else {
            throw error(.corrupt, "run `\(runID)` journal: its lists of events, commands and chain hashes differ in length")
        }
        var records: [JournalRecord] = []
        records.reserveCapacity(events.count)
        var raw: [([UInt8], [UInt8])] = []
        for (i, (e, c)) in zip(events, commands).enumerated() {
            let s = from + i
            let eb = e.bytes ?? [], cb = c.bytes ?? []
            raw.append((eb, cb))
            do throws(JournalError) {
                records.append(JournalRecord(seq: s, event: try Journal.event(from: eb), commands: try Journal.commands(from: cb)))
            } catch {
                throw self.error(.corrupt, "run `\(runID)` journal seq \(s): \(error.message)")
            }
        }
        if let why = JournalBoundary.identityViolation(run: runID, records) { throw error(.corrupt, why) }
        // The stored bytes are hashed as they are: an edit that still decodes breaks the chain.
        var chain = previous
        for (i, (e, c)) in raw.enumerated() {
            chain = JournalChain.link(chain, JournalChain.recordBytes(seq: from + i, event: e, commands: c))
            guard chains[i].text == chain else { throw StoreError.chainBroken(path: location, run: runID, ChainBreak(seq: from + i, event: records[i].event)) }
        }
        return records
    }

    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64]) throws(StoreError) {
        try append(run: runID, expectedSeq: expectedSeq, records: records, update: update, logs: logs, consumedInbox: consumedInbox,
                   processes: ProcessChanges())
    }

    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64], processes: ProcessChanges) throws(StoreError) {
        try append(run: runID, expectedSeq: expectedSeq, records: records, update: update, logs: logs, consumedInbox: consumedInbox,
                   processes: processes, deadLetters: [])
    }

    func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                consumedInbox: [Int64], processes: ProcessChanges, deadLetters: [DeadLetterEntry]) throws(StoreError) {
        if let why = JournalBoundary.sequenceViolation(run: runID, expectedSeq: expectedSeq, records) { throw error(.conflict, why) }
        if let why = JournalBoundary.identityViolation(run: runID, records) { throw error(.conflict, why) }
        // The head this batch chains from; the script refuses the batch if it moved.
        var head = ""
        var encoded: [[UInt8]] = []
        if !records.isEmpty {
            guard let h = try chainHash(run: runID, seq: expectedSeq - 1) else {
                if try run(runID) == nil { throw error(.notFound, "no run `\(runID)`") }
                let count = try run(runID)?.journalCount ?? 0
                throw error(.conflict, "run `\(runID)`: batch expects seq \(expectedSeq), the journal has \(count) records")
            }
            head = h
            var chain = h
            for r in records {
                let e = Journal.eventBytes(r.event), c = Journal.commandBytes(r.commands)
                chain = JournalChain.link(chain, JournalChain.recordBytes(seq: r.seq, event: e, commands: c))
                encoded += [e, c, Self.b(chain)]
            }
        }
        let lease = backend.held.get(runID)
        var ops: [String: Bool] = [:]  // "task:attempt" → open; the last change per attempt wins
        var order: [String] = []
        for op in QueueOp.derived(from: records) {
            let key: String, open: Bool
            switch op {
            case .open(let a): (key, open) = ("\(a.task):\(a.attempt)", true)
            case .close(let t, let a): (key, open) = ("\(t):\(a)", false)
            }
            if ops[key] == nil { order.append(key) }
            ops[key] = open
        }
        var args: [[UInt8]] = [Self.b(runID), Self.b(expectedSeq), Self.b(head), Self.b(lease?.owner ?? ""), Self.b(lease?.epoch ?? 0),
                               Self.b(update == nil ? "" : "1"), Self.b(update?.status.rawValue ?? ""), Self.b(update?.verdict?.rawValue ?? ""),
                               Self.b(update?.updatedMs ?? 0), Self.b(records.count), Self.b(logs.count), Self.b(consumedInbox.count),
                               Self.b(order.count), Self.b(processes.started.count), Self.b(processes.ended.count), Self.b(deadLetters.count)]
        args += encoded
        args += logs.map { CanonicalJSON.encode(Self.logJSON($0)) }
        args += consumedInbox.map { Self.b($0) }
        args += order.map { Self.b((ops[$0]! ? "+" : "-") + $0) }
        for a in processes.started { args += [Self.b("\(a.task):\(a.attempt):\(a.pid)"), Self.b("\(a.pgid):\(a.startTicks)")] }
        args += processes.ended.map { Self.b("\($0.task):\($0.attempt):\($0.pid)") }
        args += RedisWorkQueue.deadLetterArgs(deadLetters)
        _ = try eval(Self.append, [k("run", runID), k("jev", runID), k("jcmd", runID), k("jchain", runID), k("logs", runID), k("inbox", runID),
                                   k("att", runID), k("proc", runID), k("lease", runID), p + "dlq", p + "dlq:keys"], args)
    }

    // MARK: Companions

    static func logJSON(_ l: AttemptLogRow) -> JSONValue {
        .object([("task", .int(Int64(l.task))), ("attempt", .int(Int64(l.attempt))), ("seq", .int(Int64(l.seq))), ("agent", .int(Int64(l.agent))),
                 ("exit", l.exitCode.map { .int(Int64($0)) } ?? .null), ("duration", .int(l.durationMs)), ("stdout", .string(l.stdout)),
                 ("stderr", .string(l.stderr))])
    }

    static func log(_ v: JSONValue) -> AttemptLogRow? {
        guard case .int(let t)? = v["task"], case .int(let a)? = v["attempt"], case .int(let s)? = v["seq"], case .int(let g)? = v["agent"],
              case .int(let d)? = v["duration"], case .string(let out)? = v["stdout"], case .string(let err)? = v["stderr"] else { return nil }
        var exit: Int32?
        if case .int(let e)? = v["exit"] { exit = Int32(truncatingIfNeeded: e) }
        return AttemptLogRow(task: Int(t), attempt: Int(a), seq: Int(s), agent: Int(g), exitCode: exit, durationMs: d, stdout: out, stderr: err)
    }

    public func logs(run runID: String, task: Int?) throws(StoreError) -> [AttemptLogRow] {
        let items: [RedisReply]
        do { items = try conn.read("LRANGE", k("logs", runID), "0", "-1").array } catch { throw relocated(error) }
        var out: [AttemptLogRow] = []
        for i in items {
            guard let l = Self.log(try decodeJSON(i.bytes ?? [], "run `\(runID)`: an attempt log")) else {
                throw error(.corrupt, "run `\(runID)`: an attempt log lacks a field")
            }
            if task == nil || l.task == task { out.append(l) }
        }
        return out.sorted { ($0.seq, $0.task, $0.attempt) < ($1.seq, $1.task, $1.attempt) }
    }

    public func processes(run runID: String) throws(StoreError) -> [AttemptProcess] {
        let a: [RedisReply]
        do { a = try conn.read("HGETALL", k("proc", runID)).array } catch { throw relocated(error) }
        var out: [AttemptProcess] = []
        var i = 0
        while i + 1 < a.count {
            let key = (a[i].text ?? "").split(separator: ":").compactMap { Int64($0) }
            let val = (a[i + 1].text ?? "").split(separator: ":")
            guard key.count == 3, val.count == 2, let pgid = Int32(val[0]), let ticks = UInt64(val[1]) else {
                throw error(.corrupt, "run `\(runID)`: an attempt process record does not parse")
            }
            out.append(AttemptProcess(task: Int(key[0]), attempt: Int(key[1]), pid: Int32(truncatingIfNeeded: key[2]), pgid: pgid, startTicks: ticks))
            i += 2
        }
        return out.sorted { ($0.task, $0.attempt, $0.pid) < ($1.task, $1.attempt, $1.pid) }
    }

    public func post(_ item: InboxItem) throws(StoreError) -> Int64 {
        let v: JSONValue = .object([("kind", .string(item.kind.rawValue)), ("task", item.task.map { .string($0) } ?? .null),
                                    ("principal", .string(item.principal)), ("approved", .bool(item.approved)),
                                    ("refusal", item.refusal.map { .string($0) } ?? .null), ("comment", .string(item.comment)),
                                    ("created", .int(item.createdMs))])
        let r = try eval(Self.post, [k("run", item.runID), k("inbox", item.runID), p + "inbox:next"], [Self.b(item.runID), CanonicalJSON.encode(v)])
        guard let id = r.int else { throw error(.corrupt, "the server did not return the request's id") }
        return id
    }

    public func inbox(run runID: String) throws(StoreError) -> [InboxItem] {
        let a: [RedisReply]
        do { a = try conn.read("HGETALL", k("inbox", runID)).array } catch { throw relocated(error) }
        var out: [InboxItem] = []
        var i = 0
        while i + 1 < a.count {
            let v = try decodeJSON(a[i + 1].bytes ?? [], "run `\(runID)`: an inbox request")
            guard let id = a[i].int, case .string(let kindText)? = v["kind"], let kind = InboxItem.Kind(rawValue: kindText),
                  case .string(let principal)? = v["principal"], case .bool(let approved)? = v["approved"],
                  case .string(let comment)? = v["comment"], case .int(let created)? = v["created"] else {
                throw error(.corrupt, "run `\(runID)`: an inbox request does not decode")
            }
            var task: String?, refusal: String?
            if case .string(let t)? = v["task"] { task = t }
            if case .string(let r)? = v["refusal"] { refusal = r }
            out.append(InboxItem(id: id, runID: runID, kind: kind, task: task, principal: principal, approved: approved, refusal: refusal,
                                 comment: comment, createdMs: created))
            i += 2
        }
        return out.sorted { $0.id < $1.id }
    }

    /// A test hook: replaces a stored event as an edit of the server would, keeping its chain hash.
    func tamper(run runID: String, _ record: JournalRecord) throws(StoreError) {
        _ = try conn.checked([Self.b("LSET"), Self.b(k("jev", runID)), Self.b(record.seq), Journal.eventBytes(record.event)])
    }
}

extension RedisStore: TurnStore {
    /// `append` with the turn's dead-letter entries in the same script (the stream PREFIX
    /// `dlq` beside the journal); a turn that acknowledges, cancels or offers is refused
    /// (those are `RedisWorkQueue`'s, after the commit).
    public func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                       consumedInbox: [Int64], processes: ProcessChanges, queue: TurnQueueWrites) throws(StoreError) {
        guard queue.acknowledged.isEmpty && queue.cancelled.isEmpty && queue.offered.isEmpty else {
            throw error(.misuse, "this store writes only the dead-letter feed with its journal, not the queue's items")
        }
        try append(run: runID, expectedSeq: expectedSeq, records: records, update: update, logs: logs, consumedInbox: consumedInbox,
                   processes: processes, deadLetters: queue.deadLetters)
    }
}
