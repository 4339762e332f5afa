// Proxies around the memory ports that inject the simulation's infrastructure faults into
// the real runner: before and after every port call it may "die" (the call throws and the
// runner is thrown away), and a journal append may fail before or after it is stored
// (an indeterminate write). Only the coordinator's calls go through here; simulated
// workers talk to the queue directly, as they would to a real backend.
import EzflowIR
import EzflowPorts
import EzflowRuntime

/// The fault switchboard of one simulated run. Single-threaded, like the simulation.
final class FaultSwitch: @unchecked Sendable {
    var rates: InfraFaultSpec
    var streams: FaultStreams
    /// Set when the current runner incarnation has died; cleared on restart.
    var crashed = false
    var crashes = 0
    var storeFailures = 0
    /// Crashes per run are capped so every run can finish.
    let crashesMax = 16

    init(rates: InfraFaultSpec, streams: FaultStreams) {
        self.rates = rates
        self.streams = streams
    }

    func error(_ message: String) -> StoreError { StoreError(.unavailable, path: "memory", message: message) }

    /// Called around every port call: maybe die here.
    func gate(_ call: String) throws(StoreError) {
        if crashed { throw error("the runner is dead (\(call))") }
        guard rates.crash > 0, crashes < crashesMax, SimDraw.unit(&streams.crash) < rates.crash else { return }
        crashed = true
        crashes += 1
        throw error("injected crash at \(call)")
    }

    /// A port call with a chance to die before it and after it.
    func around<R>(_ call: String, _ body: () throws(StoreError) -> R) throws(StoreError) -> R {
        try gate(call)
        let r = try body()
        try gate(call)
        return r
    }

    /// For a journal append: nil, or whether the failure comes after the write.
    func appendFailure() -> Bool? {
        guard rates.storeFail > 0, storeFailures < crashesMax, SimDraw.unit(&streams.store) < rates.storeFail else { return nil }
        storeFailures += 1
        crashed = true // a failed write stops the runner: it restarts from the journal
        return SimDraw.unit(&streams.store) < 0.5
    }
}

/// `JournalStore` and `RunInbox` over a `MemoryStore`, with faults.
final class FaultyStore: JournalStore, RunInbox, @unchecked Sendable {
    let base: MemoryStore
    let faults: FaultSwitch
    init(base: MemoryStore, faults: FaultSwitch) {
        self.base = base
        self.faults = faults
    }

    var location: String { base.location }
    func createRun(_ run: NewRun) throws(StoreError) { try faults.around("createRun") { () throws(StoreError) in try base.createRun(run) } }
    func run(_ runID: String) throws(StoreError) -> RunInfo? { try faults.around("run") { () throws(StoreError) in try base.run(runID) } }
    func runs() throws(StoreError) -> [RunInfo] { try faults.around("runs") { () throws(StoreError) in try base.runs() } }
    func ir(run runID: String) throws(StoreError) -> [UInt8]? { try faults.around("ir") { () throws(StoreError) in try base.ir(run: runID) } }
    func journal(run runID: String, from seq: Int) throws(StoreError) -> [JournalRecord] {
        try faults.around("journal") { () throws(StoreError) in try base.journal(run: runID, from: seq) }
    }
    func chainHash(run runID: String, seq: Int) throws(StoreError) -> String? { try base.chainHash(run: runID, seq: seq) }
    func append(run runID: String, expectedSeq: Int, records: [JournalRecord], update: RunUpdate?, logs: [AttemptLogRow],
                consumedInbox: [Int64]) throws(StoreError) {
        try faults.gate("append")
        let failure = faults.appendFailure()
        if failure == false { throw faults.error("injected store failure before the append") }
        try base.append(run: runID, expectedSeq: expectedSeq, records: records, update: update, logs: logs, consumedInbox: consumedInbox)
        if failure == true { throw faults.error("injected store failure after the append (indeterminate)") }
        try faults.gate("append")
    }
    func update(run runID: String, _ u: RunUpdate) throws(StoreError) { try faults.around("update") { () throws(StoreError) in try base.update(run: runID, u) } }
    func meta(run runID: String) throws(StoreError) -> JSONValue? { try faults.around("meta") { () throws(StoreError) in try base.meta(run: runID) } }
    func setMeta(run runID: String, _ meta: JSONValue) throws(StoreError) {
        try faults.around("setMeta") { () throws(StoreError) in try base.setMeta(run: runID, meta) }
    }
    func versions(run runID: String) throws(StoreError) -> [(fromSeq: Int, irHash: String, ir: [UInt8])] {
        try faults.around("versions") { () throws(StoreError) in try base.versions(run: runID) }
    }
    func addVersion(run runID: String, fromSeq: Int, irHash: String, ir: [UInt8]) throws(StoreError) {
        try faults.around("addVersion") { () throws(StoreError) in try base.addVersion(run: runID, fromSeq: fromSeq, irHash: irHash, ir: ir) }
    }
    func audit(_ entry: AuditEntry) throws(StoreError) { try faults.around("audit") { () throws(StoreError) in try base.audit(entry) } }
    func logs(run runID: String, task: Int?) throws(StoreError) -> [AttemptLogRow] {
        try faults.around("logs") { () throws(StoreError) in try base.logs(run: runID, task: task) }
    }
    func inbox(run runID: String) throws(StoreError) -> [InboxItem] { try faults.around("inbox") { () throws(StoreError) in try base.inbox(run: runID) } }
    func post(_ item: InboxItem) throws(StoreError) -> Int64 { try faults.around("post") { () throws(StoreError) in try base.post(item) } }
}

/// The coordinator's side of a `MemoryWorkQueue`, with faults.
final class FaultyQueue: WorkQueue, @unchecked Sendable {
    let base: MemoryWorkQueue
    let faults: FaultSwitch
    init(base: MemoryWorkQueue, faults: FaultSwitch) {
        self.base = base
        self.faults = faults
    }

    func offer(_ items: [WorkItem], nowMs: Millis) throws(StoreError) {
        try faults.around("offer") { () throws(StoreError) in try base.offer(items, nowMs: nowMs) }
    }
    func claim(owner: String, queues: [String], max: Int, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> [Lease] {
        try faults.around("claim") { () throws(StoreError) in
            try base.claim(owner: owner, queues: queues, max: max, nowMs: nowMs, leaseMs: leaseMs)
        }
    }
    func renew(owner: String, nowMs: Millis, leaseMs: Millis) throws(StoreError) -> Int {
        try faults.around("renew") { () throws(StoreError) in try base.renew(owner: owner, nowMs: nowMs, leaseMs: leaseMs) }
    }
    func release(owner: String) throws(StoreError) { try faults.around("release") { () throws(StoreError) in try base.release(owner: owner) } }
    func depth() throws(StoreError) -> QueueDepth { try faults.around("depth") { () throws(StoreError) in try base.depth() } }
    func complete(_ completion: WorkCompletion, nowMs: Millis) throws(StoreError) -> Bool {
        try faults.around("complete") { () throws(StoreError) in try base.complete(completion, nowMs: nowMs) }
    }
    func expire(nowMs: Millis) throws(StoreError) -> [WorkItem] { try faults.around("expire") { () throws(StoreError) in try base.expire(nowMs: nowMs) } }
    func cancel(run runID: String, task: Int, attempt: Int) throws(StoreError) {
        try faults.around("cancel") { () throws(StoreError) in try base.cancel(run: runID, task: task, attempt: attempt) }
    }
    func completions(run runID: String, reader: String) throws(StoreError) -> [WorkCompletion] {
        try faults.around("completions") { () throws(StoreError) in try base.completions(run: runID, reader: reader) }
    }
    func acknowledge(run runID: String, _ items: [WorkItem]) throws(StoreError) {
        try faults.around("acknowledge") { () throws(StoreError) in try base.acknowledge(run: runID, items) }
    }
    func forget(run runID: String) throws(StoreError) { try faults.around("forget") { () throws(StoreError) in try base.forget(run: runID) } }
    func cancelled(owner: String) throws(StoreError) -> [WorkItem] {
        try faults.around("cancelled") { () throws(StoreError) in try base.cancelled(owner: owner) }
    }
    func deadLetter(_ entries: [DeadLetterEntry]) throws(StoreError) {
        try faults.around("deadLetter") { () throws(StoreError) in try base.deadLetter(entries) }
    }
    func deadLetters(run runID: String?) throws(StoreError) -> [DeadLetterEntry] { try base.deadLetters(run: runID) }
}
