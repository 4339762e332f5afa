import EzflowIR
import EzflowRuntime
import XCTest

/// Resuming a run on a compatible new plan: `RunState.migrated(to:)`, `Event.planUpgraded`
/// and `Replay.verify(plans:journal:environment:)`.
final class UpgradeTests: XCTestCase {
    static let v1Tasks = """
      task a {
        agent: w
        run: "echo a"
      }
      task b {
        agent: w
        after: [a]
        run: "echo b"
      }
      task c {
        agent: v
        after: [a]
        run: "echo c"
        timeout: 5s
      }
    """

    /// v1 plus `z` (after the finished `a`, declared first so ids shift) and `d` after `c`.
    static let v2Tasks = """
      task z {
        agent: x
        after: [a]
        run: "echo z"
      }
    """ + v1Tasks + """

      task d {
        agent: w
        after: [c]
        run: "echo d"
      }
    """

    func plans() throws -> (Plan, Plan) {
        (try makePlan(workflow(Self.v1Tasks)), try makePlan(workflow(Self.v2Tasks)))
    }

    /// v1 until `a` and `b` succeeded and `c` runs, then v2 to the end.
    func upgradedRun() throws -> (Plan, Plan, Harness) {
        let (v1, v2) = try plans()
        var h = Harness(v1)
        XCTAssertEqual(try h.start(), ["dispatch a#1@w"])
        XCTAssertEqual(try h.ok("a", at: 10), ["dispatch c#1@v", "timer timeout/\(h.id("c"))/1@5010", "dispatch b#1@w"])
        XCTAssertEqual(try h.ok("b", at: 20), [])
        let before = h.run.state
        XCTAssertEqual(h.run.records.count, 3)

        let cs = try h.run.upgrade(to: v2, atMs: 30)
        XCTAssertEqual(h.plan.hash, v2.hash)
        XCTAssertEqual(h.run.records.last?.event, .planUpgraded(fromHash: v1.hash, toHash: v2.hash, atMs: 30))
        // The live timeout again under c's new id, then the added task whose deps all succeeded.
        XCTAssertNotEqual(h.id("c"), before.plan.taskNames.firstIndex(of: "c"), "the ids should shift in this test")
        XCTAssertEqual(cs.map { show($0, v2) }, ["timer timeout/\(h.id("c"))/1@5010", "dispatch z#1@x"])
        let s = h.run.state
        XCTAssertEqual(s.previousPlanHash, v1.hash)
        XCTAssertFalse(s.upgradePending)
        XCTAssertEqual(h.state("a"), "succeeded")
        XCTAssertEqual(h.state("b"), "succeeded")
        XCTAssertEqual(h.state("c"), "running(attempt: 1, agent: \(v2.agentNames.firstIndex(of: "v")!))")
        XCTAssertEqual(h.state("d"), "waiting")
        XCTAssertEqual(s.pendingDeps[h.id("d")], 1)
        XCTAssertEqual(s.runningCount, 2)
        XCTAssertEqual(s.seq, 4)
        XCTAssertEqual(s.chargedMicros, before.chargedMicros)
        XCTAssertEqual(s.reservedMicros, before.reservedMicros + 0)  // z is free (agent x)
        XCTAssertEqual(s.rng, before.rng)

        XCTAssertEqual(try h.ok("c", at: 40), ["dispatch d#1@w"])
        XCTAssertEqual(try h.ok("z", at: 50), [])
        XCTAssertEqual(try h.ok("d", at: 60), ["finish success"])
        return (v1, v2, h)
    }

    func testUpgradeRunsAddedTasksAfterTheUnfinishedOne() throws {
        let (_, v2, h) = try upgradedRun()
        XCTAssertEqual(h.run.state.verdict, .success)
        XCTAssertEqual(h.run.state.tasks, Array(repeating: .succeeded, count: v2.taskCount))
        XCTAssertEqual(h.run.state.reservedMicros, 0)
        XCTAssertEqual(h.run.state.agentLoad, Array(repeating: 0, count: v2.agentNames.count))
    }

    func testReplayWithBothPlansReproducesTheRun() throws {
        let (v1, v2, h) = try upgradedRun()
        // Through the codec, as a runner would read it back.
        let records = try Journal.decode(Journal.encode(h.run.records))
        XCTAssertEqual(records, h.run.records)
        let s = try Replay.verify(plans: [v1, v2], journal: records)
        XCTAssertEqual(s.plan.hash, v2.hash)
        XCTAssertEqual(s.tasks, h.run.state.tasks)
        XCTAssertEqual(s.history, h.run.state.history)
        XCTAssertEqual(s.transitions, h.run.state.transitions)
        XCTAssertEqual(s.seq, h.run.state.seq)
        XCTAssertEqual(s.verdict, .success)
        XCTAssertEqual(s.chargedMicros, h.run.state.chargedMicros)
        // Order of `plans` after the first does not matter; a prefix replays too.
        XCTAssertNoThrow(try Replay.verify(plans: [v1, v2, v1], journal: Array(records.prefix(4))))
        let mid = try Replay.verify(plans: [v1, v2], journal: Array(records.prefix(3)))
        XCTAssertEqual(mid.plan.hash, v1.hash)
    }

    func testReplayWithoutTheNewPlanNamesItsHash() throws {
        let (v1, v2, h) = try upgradedRun()
        XCTAssertThrowsError(try Replay.verify(plans: [v1], journal: h.run.records)) { e in
            guard let v = e as? DeterminismViolation else { return XCTFail("\(e)") }
            XCTAssertEqual(v.kind, .illegalEvent)
            XCTAssertEqual(v.index, 3)
            XCTAssertEqual(v.transition?.code, "R0004")
            XCTAssertTrue(v.description.contains(v2.hash), v.description)
        }
        // The one-plan API behaves the same.
        XCTAssertThrowsError(try Replay.verify(plan: v1, journal: h.run.records))
        // Starting from the wrong plan fails at `run_started`.
        XCTAssertThrowsError(try Replay.verify(plans: [v2, v1], journal: h.run.records)) { e in
            XCTAssertEqual((e as? DeterminismViolation)?.index, 0)
        }
    }

    func testTamperedUpgradeRecordIsCaught() throws {
        let (v1, v2, h) = try upgradedRun()
        var records = h.run.records
        records[3].commands.removeLast()  // drop `dispatch z`
        XCTAssertThrowsError(try Replay.verify(plans: [v1, v2], journal: records)) { e in
            XCTAssertEqual((e as? DeterminismViolation)?.kind, .commandsDiffer)
            XCTAssertEqual((e as? DeterminismViolation)?.index, 3)
        }
    }

    func testMigrationRefusesRemovedTaskAndChangedDependencies() throws {
        let (v1, _) = try plans()
        var h = Harness(v1)
        try h.start()
        try h.ok("a", at: 10)
        let removed = try makePlan(workflow("""
          task a {
            agent: w
            run: "echo a"
          }
          task b {
            agent: w
            after: [a]
            run: "echo b"
          }
        """))
        XCTAssertThrowsError(try h.run.state.migrated(to: removed)) { e in
            XCTAssertTrue("\(e)".contains("task `c` is not in the new plan"), "\(e)")
        }
        let rewired = try makePlan(workflow("""
          task a {
            agent: w
            run: "echo a"
          }
          task b {
            agent: w
            after: [a]
            run: "echo b"
          }
          task c {
            agent: v
            after: [a, b]
            run: "echo c"
            timeout: 5s
          }
        """))
        XCTAssertThrowsError(try h.run.state.migrated(to: rewired)) { e in
            XCTAssertTrue((e as? MigrationError)?.message.contains("task `c` depends on [a, b]") == true, "\(e)")
        }
        // Same plan, a fresh run, or an unjournalled migration: refused as well.
        XCTAssertThrowsError(try h.run.state.migrated(to: v1))
        XCTAssertThrowsError(try RunState(plan: v1).migrated(to: try plans().1))
        // The state is untouched by refusals: the run goes on on v1.
        XCTAssertEqual(try h.ok("b", at: 20), [])
    }

    func testPlanUpgradedIsLegalOnlyRightAfterAMigration() throws {
        let (v1, v2) = try plans()
        var h = Harness(v1)
        try h.start()
        try h.ok("a", at: 10)
        // No migration: refused.
        XCTAssertThrowsError(try h.send(.planUpgraded(fromHash: v1.hash, toHash: v2.hash, atMs: 20)))
        var s = try h.run.state.migrated(to: v2)
        XCTAssertTrue(s.upgradePending)
        XCTAssertEqual(s.tasks[v2.taskNames.firstIndex(of: "z")!], .ready)
        XCTAssertThrowsError(try s.migrated(to: v1))  // not journalled yet
        // Any other event first, wrong hashes, or time going back: refused, state unchanged.
        var t = s
        XCTAssertThrowsError(try Core.step(&t, .resumed(atMs: 20)))
        XCTAssertThrowsError(try Core.step(&t, .planUpgraded(fromHash: v2.hash, toHash: v1.hash, atMs: 20)))
        XCTAssertThrowsError(try Core.step(&t, .planUpgraded(fromHash: "other", toHash: v2.hash, atMs: 20)))
        XCTAssertThrowsError(try Core.step(&t, .planUpgraded(fromHash: v1.hash, toHash: v2.hash, atMs: 5)))
        XCTAssertTrue(t.upgradePending)
        let cs = try Core.step(&s, .planUpgraded(fromHash: v1.hash, toHash: v2.hash, atMs: 20))
        XCTAssertEqual(cs.map { show($0, v2) }, ["timer timeout/\(v2.taskNames.firstIndex(of: "c")!)/1@5010", "dispatch z#1@x"])
        XCTAssertThrowsError(try Core.step(&s, .planUpgraded(fromHash: v1.hash, toHash: v2.hash, atMs: 20)))
    }

    func testAddedTaskAfterAFailedTaskIsSkipped() throws {
        let v1 = try makePlan(workflow("""
          task a {
            agent: w
            run: "echo a"
          }
          task b {
            agent: w
            run: "echo b"
          }
        """))
        let v2 = try makePlan(workflow("""
          task a {
            agent: w
            run: "echo a"
          }
          task b {
            agent: w
            run: "echo b"
          }
          task e {
            agent: w
            after: [a, b]
            run: "echo e"
          }
        """))
        var h = Harness(v1)
        try h.start()
        XCTAssertEqual(try h.fail("a", 1, "fatal", at: 10), ["dead a [fatal]"])
        XCTAssertEqual(try h.run.upgrade(to: v2, atMs: 20), [])
        XCTAssertEqual(h.state("e"), "skipped")
        XCTAssertEqual(try h.ok("b", at: 30), ["finish failed"])
        XCTAssertEqual(try Replay.verify(plans: [v1, v2], journal: h.run.records).tasks, h.run.state.tasks)
    }

    func testPlanUpgradedCodecRoundTrip() throws {
        let e = Event.planUpgraded(fromHash: "sha256:aa", toHash: "sha256:bb", atMs: 1234)
        var s = CanonicalStream()
        e.encode(into: &s)
        let text = String(decoding: s.bytes, as: UTF8.self)
        XCTAssertEqual(text, #"{"at_ms":1234,"from":"sha256:aa","to":"sha256:bb","type":"plan_upgraded"}"#)
        XCTAssertEqual(try Event.decode(try JSONParser.parse(s.bytes)), e)
        XCTAssertEqual(e.atMs, 1234)
        XCTAssertEqual(e.typeName, "plan_upgraded")
        let r = JournalRecord(seq: 5, event: e, commands: [.dispatch(task: 1, attempt: 1, agent: 0, idempotencyKey: "r/x")])
        XCTAssertEqual(try Journal.decode(Journal.encode([r])), [r])
    }
}
