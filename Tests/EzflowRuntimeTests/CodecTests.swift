import EzflowIR
import EzflowRuntime
import XCTest

/// Every event and command kind survives the journal codec: encode → decode gives the
/// same value, and encoding the decoded value gives the same bytes. The samples come from
/// switches without `default` over `EventKind`/`CommandKind`, and the tests walk
/// `allCases`, so a new kind fails to compile (or to pass) until it has a case here.
final class CodecTests: XCTestCase {
    /// Values for `kind`, chosen to reach the edges of each field (empty and non-ASCII
    /// text, negative ids, the largest seed, every timer and verdict).
    static func samples(_ kind: EventKind) -> [Event] {
        switch kind {
        case .runStarted:
            [.runStarted(runID: "r-1", seed: 0, planHash: "sha256:ab", tagLimits: [:], atMs: 0),
             .runStarted(runID: "é \"q\"\n", seed: .max, planHash: "", tagLimits: ["gpu": 2, "b\u{0}": 0, "ä": 7], atMs: 12),
             .runStarted(runID: "r-2", seed: 1, planHash: "sha256:cd", tagLimits: [:], atMs: 3, prior: LearnedPrior(runs: 0, entries: [])),
             .runStarted(runID: "r-3", seed: 2, planHash: "sha256:cd", tagLimits: [:], atMs: 4, prior: Self.prior)]
        case .taskSucceeded:
            [.taskSucceeded(task: 0, attempt: 1, outputs: .object([]), costMicros: 0, tokens: 0, atMs: 5),
             .taskSucceeded(task: 3, attempt: 2, outputs: .object([("z", .array([.int(-1), .float(1.5), .null])), ("a", .string("ü"))]),
                            costMicros: .max, tokens: 9, atMs: .max)]
        case .taskFailed:
            [.taskFailed(task: 1, attempt: 1, errorClass: "transient", message: "", costMicros: 0, tokens: 0, atMs: 1),
             .taskFailed(task: 2, attempt: 3, errorClass: "my_class", message: "line1\nline2 \u{1B}[31m", costMicros: 10, tokens: 20, atMs: -1)]
        case .timerFired:
            timers.map { .timerFired($0, atMs: 77) }
        case .approvalGiven:
            [.approvalGiven(task: 0, principal: "ana", approved: true, atMs: 1),
             .approvalGiven(task: 4, principal: "", approved: false, atMs: 2)]
        case .agentHealth:
            [.agentHealth(agent: 0, healthy: true, atMs: 1), .agentHealth(agent: 5, healthy: false, atMs: 2)]
        case .cancelRequested:
            [.cancelRequested(reason: "", atMs: 0), .cancelRequested(reason: "by ops: «stop»", atMs: 9)]
        case .resumed:
            [.resumed(atMs: 0), .resumed(atMs: 1_700_000_000_000), .resumed(atMs: 5, restartsAttempts: true)]
        case .approvalRefused:
            [.approvalRefused(task: 2, principal: "bob", reason: "role `viewer` may not approve", atMs: 3)]
        case .planUpgraded:
            [.planUpgraded(fromHash: "sha256:aa", toHash: "sha256:bb", atMs: 4)]
        case .interrupted:
            [.interrupted(signal: "SIGINT", drain: false, atMs: 5), .interrupted(signal: "SIGTERM", drain: true, atMs: 6)]
        case .taskRedriven:
            [.taskRedriven(task: 0, principal: "ops", atMs: 7), .taskRedriven(task: 9, principal: "ö \"x\"", atMs: .max)]
        case .backendFallback:
            [.backendFallback(primary: "postgres://u:***@db:5432/ezflow", reason: "cannot connect: Connection refused", atMs: 8),
             .backendFallback(primary: "", reason: "ü \"x\"", atMs: .max)]
        }
    }

    /// The replay golden's prior and a cell with sums at the top of their range.
    static let prior: LearnedPrior = {
        var top = LearnedPrior.Entry(agent: "bad ü", kind: "build")
        top.failures = .max
        top.latencySumSq = .max
        top.costSumSq = .max
        return LearnedPrior(runs: 4, entries: ReplayTests.redrivePrior.entries + [top])
    }()

    static func samples(_ kind: CommandKind) -> [Command] {
        switch kind {
        case .dispatch:
            [.dispatch(task: 0, attempt: 1, agent: -1, idempotencyKey: "r/t"),
             .dispatch(task: 7, attempt: 2, agent: 3, idempotencyKey: "r-ü/a.b[0]"),
             .dispatch(task: 2, attempt: 1, agent: 0, idempotencyKey: "r/llm", tokenCap: 1_990)]
        case .setTimer:
            timers.map { .setTimer($0, atMs: 1_000) }
        case .cancel:
            [.cancel(task: 1, attempt: 2)]
        case .requestApproval:
            [.requestApproval(task: 1, reason: .gate), .requestApproval(task: 2, reason: .conflict(output: "report")),
             .requestApproval(task: 1, reason: .gate, text: "Deploy \"v2\"?\nThe reviewer said: ok")]
        case .deadLetter:
            [.deadLetter(task: 1, history: []),
             .deadLetter(task: 2, history: [
                AttemptRecord(attempt: 1, agent: -1, errorClass: "timeout", message: "slow\n", startedAtMs: 1, endedAtMs: 2,
                              costMicros: 3, tokens: 4),
                AttemptRecord(attempt: 2, agent: 0, errorClass: nil, message: "", startedAtMs: 5, endedAtMs: 6, costMicros: 0, tokens: 0),
             ])]
        case .finishRun:
            verdicts.map { .finishRun($0) }
        }
    }

    /// Every `TimerID` shape (the switch makes a new one fail to compile until listed).
    static let timers: [TimerID] = {
        let all: [TimerID] = [.attemptTimeout(task: 2, attempt: 3), .retryDue(task: 0, attempt: 1), .deadline, .budgetTime, .wake,
                              .groupBudgetTime(group: 4), .approvalTimeout(task: 1, attempt: 1, stage: 0),
                              .approvalTimeout(task: 3, attempt: 2, stage: 1)]
        for t in all {
            switch t { case .attemptTimeout, .retryDue, .deadline, .budgetTime, .wake, .groupBudgetTime, .approvalTimeout: break }
        }
        return all
    }()

    static let verdicts: [Verdict] = {
        let all: [Verdict] = [.success, .failed, .budgetExceeded, .deadlineExceeded, .waitingForApproval, .cancelled]
        for v in all {
            switch v { case .success, .failed, .budgetExceeded, .deadlineExceeded, .waitingForApproval, .cancelled: break }
        }
        return all
    }()

    func encoded(_ e: Event) -> [UInt8] {
        var s = CanonicalStream(capacity: 64)
        e.encode(into: &s)
        return s.bytes
    }

    func encoded(_ c: Command) -> [UInt8] {
        var s = CanonicalStream(capacity: 64)
        c.encode(into: &s)
        return s.bytes
    }

    /// For each sample of `kind`: it is filed under `kind`, encode → decode gives it back,
    /// encoding that gives the same bytes, and the JSON `type` is the kind's name.
    func assertRoundTrips<T: Equatable>(_ kind: String, _ samples: [T], kindOf: (T) -> String, encode: (T) -> [UInt8],
                                        decode: (JSONValue) throws -> T) throws {
        XCTAssertFalse(samples.isEmpty, "no sample for \(kind)")
        for value in samples {
            XCTAssertEqual(kindOf(value), kind, "sample \(value) is filed under \(kind)")
            let bytes = encode(value)
            let back = try decode(try JSONParser.parse(bytes))
            XCTAssertEqual(back, value, "\(kind) did not round-trip")
            XCTAssertEqual(encode(back), bytes, "\(kind): re-encoding changed the bytes")
            XCTAssertEqual(try JSONParser.parse(bytes)["type"], .string(kind))
        }
    }

    func testEveryEventKindRoundTrips() throws {
        for kind in EventKind.allCases {
            try assertRoundTrips(kind.rawValue, Self.samples(kind), kindOf: \.kind.rawValue, encode: encoded, decode: { try Event.decode($0) })
        }
    }

    func testEveryCommandKindRoundTrips() throws {
        for kind in CommandKind.allCases {
            try assertRoundTrips(kind.rawValue, Self.samples(kind), kindOf: \.kind.rawValue, encode: encoded, decode: { try Command.decode($0) })
        }
    }

    /// The whole journal line format, with every event carrying every command kind.
    func testJournalOfEveryKindRoundTripsByteForByte() throws {
        let commands = CommandKind.allCases.flatMap(Self.samples)
        let records = EventKind.allCases.flatMap(Self.samples).enumerated().map { i, e in
            JournalRecord(seq: i, event: e, commands: i % 2 == 0 ? commands : [])
        }
        let bytes = Journal.encode(records)
        let back = try Journal.decode(bytes)
        XCTAssertEqual(back, records)
        XCTAssertEqual(Journal.encode(back), bytes)
    }

    /// The chain hashes a record's canonical line (the bytes `Journal.encode` writes, and
    /// what the JSON parser and canonical writer give back); an export adds each hash as
    /// `chain` beside the record's members, and a file replay finds the first edited line.
    func testExportCarriesTheChainBesideCanonicalRecords() throws {
        let records = EventKind.allCases.flatMap(Self.samples).enumerated().map { i, e in
            JournalRecord(seq: i, event: e, commands: CommandKind.allCases.flatMap(Self.samples))
        }
        let plain = Journal.encode(records).split(separator: UInt8(ascii: "\n")).map(Array.init)
        for (r, line) in zip(records, plain) {
            XCTAssertEqual(JournalChain.recordBytes(r), line)
            XCTAssertEqual(CanonicalJSON.encode(try JSONParser.parse(line)), line, "record \(r.seq) is not canonical")
        }
        let exported = Journal.encode(records, chainSeed: "sha256:ir")
        let back = try Journal.decodeChained(exported)
        XCTAssertEqual(back.map(\.record), records)
        XCTAssertEqual(back.map(\.chain), JournalChain.hashes(after: "sha256:ir", records))
        XCTAssertEqual(try Journal.decode(exported), records, "a plain decode ignores the chain")
        XCTAssertNil(JournalChain.firstBreak(seed: "sha256:ir", back))
        XCTAssertNil(JournalChain.firstBreak(seed: "sha256:ir", records.map { ($0, nil) }), "a file without hashes has nothing to check")
        XCTAssertEqual(JournalChain.firstBreak(seed: "sha256:other", back)?.seq, 0, "the head is bound to the IR hash")
        var forged = back
        forged[3].record.event = .resumed(atMs: 1)
        XCTAssertEqual(JournalChain.firstBreak(seed: "sha256:ir", forged), ChainBreak(seq: 3, event: .resumed(atMs: 1)))
        forged = back
        forged.swapAt(1, 2)
        XCTAssertEqual(JournalChain.firstBreak(seed: "sha256:ir", forged)?.seq, back[2].record.seq)
    }

    func testUnknownKindsAreNamedErrors() {
        XCTAssertThrowsError(try Event.decode(try JSONParser.parse(Array(#"{"at_ms":1,"type":"task_exploded"}"#.utf8)))) { e in
            XCTAssertEqual((e as? JournalError)?.message, "event: unknown type `task_exploded`")
        }
        XCTAssertThrowsError(try Command.decode(try JSONParser.parse(Array(#"{"type":"launch"}"#.utf8)))) { e in
            XCTAssertEqual((e as? JournalError)?.message, "command: unknown type `launch`")
        }
    }
}
