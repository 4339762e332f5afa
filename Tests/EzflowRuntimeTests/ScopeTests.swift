import EzflowCompiler
import EzflowIR
@testable import EzflowRuntime
import XCTest

/// Compiles several files (`main.ezflow` the root) into a plan, or fails the test.
func makePlan(files: [String: String], inputs: [String: JSONValue]? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> Plan {
    let r = Compiler.build(root: "main.ezflow", files: files)
    guard let bytes = r.ir else {
        XCTFail("snippet did not build: \(r.failure ?? "") \(r.check.diagnostics.map(\.message))", file: file, line: line)
        throw XCTSkip("build failed")
    }
    let program = try EzflowIR.validate(bytes)
    if let inputs { return try Plan(program, inputs: inputs) }
    return try Plan(program)
}

/// Group and task budgets, the half-open probe, selector limits and the audit-only
/// `approvalRefused`, as event → command sequences.
final class ScopeTests: XCTestCase {
    // MARK: approval_refused

    func testApprovalRefusedChangesNothingButSeqAndTime() throws {
        var h = Harness(try makePlan(workflow("""
          task gate {
            role: ops
            approve: "ship?"
            approvers: [ops]
          }
          task after_gate {
            agent: v
            after: [gate]
            run: "echo"
          }
        """)))
        XCTAssertEqual(try h.start(), ["approve gate", "finish waiting_for_approval"])
        let before = h.run.state
        XCTAssertEqual(try h.send(.approvalRefused(task: h.id("gate"), principal: "mallory", reason: "role `dev` may not approve", atMs: 7)), [])
        let after = h.run.state
        XCTAssertEqual(after.seq, before.seq + 1)
        XCTAssertEqual(after.nowMs, 7)
        XCTAssertEqual(after.tasks, before.tasks)
        XCTAssertEqual(after.transitions, before.transitions)
        XCTAssertEqual(after.phase, before.phase)
        XCTAssertEqual(after.rng, before.rng)
        XCTAssertEqual(try h.approval("gate", true, at: 9), ["dispatch after_gate#1@v"])
        // Unknown task: R0001; before the run: R0003.
        XCTAssertThrowsError(try h.send(.approvalRefused(task: 99, principal: "m", reason: "r", atMs: 10)))
        var fresh = RunState(plan: h.plan)
        XCTAssertThrowsError(try Core.step(&fresh, .approvalRefused(task: 0, principal: "m", reason: "r", atMs: 0)))
        // Codec and replay.
        let bytes = Journal.encode(h.run.records)
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains(#"{"at_ms":7,"principal":"mallory","reason":"role `dev` may not approve","task":0,"type":"approval_refused"}"#), text)
        let decoded = try Journal.decode(bytes)
        XCTAssertEqual(decoded, h.run.records)
        XCTAssertNoThrow(try Replay.verify(plan: h.plan, journal: decoded))
    }

    // MARK: backend_fallback

    /// `ezrun run --fallback` journals the switch right after `run_started`: audit only,
    /// it changes nothing but `seq` and `nowMs` (no scheduling pass, no command), and it
    /// replays byte for byte.
    func testBackendFallbackChangesNothingButSeqAndTime() throws {
        var h = Harness(try makePlan(workflow("""
          task build { agent: v  run: "echo" }
          task test { agent: v  run: "echo"  after: [build] }
        """)))
        XCTAssertEqual(try h.start(), ["dispatch build#1@v"])
        let before = h.run.state
        XCTAssertEqual(try h.send(.backendFallback(primary: "postgres://ezflow:***@db/ezflow", reason: "cannot connect: Connection refused", atMs: 3)), [])
        let after = h.run.state
        XCTAssertEqual(after.seq, before.seq + 1)
        XCTAssertEqual(after.nowMs, 3)
        XCTAssertEqual(after.tasks, before.tasks)
        XCTAssertEqual(after.transitions, before.transitions)
        XCTAssertEqual(after.phase, before.phase)
        XCTAssertEqual(after.rng, before.rng)
        XCTAssertEqual(try h.ok("build", at: 5), ["dispatch test#1@v"])
        // Before the run: refused like any event but `run_started`.
        var fresh = RunState(plan: h.plan)
        XCTAssertThrowsError(try Core.step(&fresh, .backendFallback(primary: "p", reason: "r", atMs: 0)))
        let bytes = Journal.encode(h.run.records)
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains(#"{"at_ms":3,"primary":"postgres://ezflow:***@db/ezflow","reason":"cannot connect: Connection refused","type":"backend_fallback"}"#), text)
        let decoded = try Journal.decode(bytes)
        XCTAssertEqual(decoded, h.run.records)
        XCTAssertNoThrow(try Replay.verify(plan: h.plan, journal: decoded))
    }

    // MARK: half-open breaker

    func testHalfOpenAdmitsExactlyOneProbe() throws {
        let retry = "    retry {\n      attempts: 3\n      backoff: fixed\n      delay: 10ms\n      on: [transient]\n    }\n"
        let p = try makePlan(workflow("""
          task a {
            agent: w
            run: "echo"
        \(retry)  }
          task b {
            agent: w
            run: "echo"
        \(retry)  }
          task c {
            agent: w
            run: "echo"
          }
        """))
        let env = RunEnvironment(breaker: CircuitBreaker(failuresToOpen: 1, coolDownMs: 100))
        var h = Harness(p, environment: env)
        XCTAssertEqual(try h.start(), ["dispatch a#1@w", "dispatch b#1@w"])
        XCTAssertEqual(try h.fail("a", 1, at: 5), ["timer retry/0/2@15"])
        XCTAssertEqual(h.run.state.agentHealth[1].breaker, .open(untilMs: 105))
        XCTAssertEqual(try h.fail("b", 1, at: 6), ["timer retry/1/2@16"], "a late failure while open changes nothing")
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 2), at: 15), [])
        XCTAssertEqual(try h.timer(.retryDue(task: 1, attempt: 2), at: 16), ["timer wake@105"], "stalled until the cool-down ends")
        // Cool-down over: one probe (the first in rank order), the others wait.
        XCTAssertEqual(try h.timer(.wake, at: 105), ["dispatch a#2@w"])
        XCTAssertEqual(h.run.state.agentHealth[1].breaker, .halfOpen)
        XCTAssertEqual(h.run.state.agentHealth[1].probeTask, 0)
        XCTAssertEqual(h.state("b"), "ready")
        XCTAssertEqual(h.state("c"), "ready")
        // The probe fails: open again for the cool-down, nothing else admitted.
        XCTAssertEqual(try h.fail("a", 2, at: 110), ["timer retry/0/3@120"])
        XCTAssertEqual(h.run.state.agentHealth[1].breaker, .open(untilMs: 210))
        XCTAssertEqual(h.run.state.agentHealth[1].probeTask, -1)
        XCTAssertEqual(try h.timer(.retryDue(task: 0, attempt: 3), at: 120), ["timer wake@210"])
        XCTAssertEqual(try h.timer(.wake, at: 210), ["dispatch a#3@w"])
        // The next probe succeeds: closed, and the bulkhead is the only limit again.
        XCTAssertEqual(try h.ok("a", 3, at: 215), ["dispatch b#2@w", "dispatch c#1@w"])
        XCTAssertEqual(h.run.state.agentHealth[1].breaker, .closed)
        XCTAssertEqual(try h.ok("b", 2, at: 220), [])
        XCTAssertEqual(try h.ok("c", 1, at: 221), ["finish success"])
        XCTAssertNoThrow(try Replay.verify(plan: p, journal: h.run.records, environment: env))
    }

    // MARK: group and task budgets

    func testGroupBudgetRefusalDrainsAndNamesTaskAndGroup() throws {
        // The checker refuses $0.015 for two $0.01 calls (E0606); tightened after checking.
        var p = try makePlan(workflow("""
          group outer {
            budget {
              money: $0.05
            }
            group inner {
              budget {
                money: $0.02
              }
              task a {
                agent: w
                run: "echo"
              }
              task b {
                agent: w
                after: [a]
                run: "echo"
              }
            }
          }
          task free {
            agent: v
            run: "echo"
          }
        """))
        let inner = try XCTUnwrap(p.groupNames.firstIndex(of: "inner")), outer = try XCTUnwrap(p.groupNames.firstIndex(of: "outer"))
        p.groupBudgetMoneyMicros[inner] = 15_000
        XCTAssertEqual(p.groupParent[inner], outer)
        XCTAssertEqual(p.taskGroup[p.taskNames.firstIndex(of: "a")!], inner)
        XCTAssertEqual(p.taskBudgetScope[p.taskNames.firstIndex(of: "a")!], inner)
        XCTAssertEqual(p.groupBudgetParent[inner], outer)
        XCTAssertEqual(p.taskBudgetScope[p.taskNames.firstIndex(of: "free")!], -1)
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch a#1@w", "dispatch free#1@v"])
        XCTAssertEqual(h.run.state.groupReservedMicros[inner], 10_000)
        XCTAssertEqual(h.run.state.groupReservedMicros[outer], 10_000)
        // a is charged to inner, outer and the workflow; b's worst case no longer fits inner.
        XCTAssertEqual(try h.ok("a", at: 4, cost: 10_000), [])
        XCTAssertEqual(h.run.state.groupChargedMicros[inner], 10_000)
        XCTAssertEqual(h.run.state.groupChargedMicros[outer], 10_000)
        XCTAssertEqual(h.run.state.chargedMicros, 10_000)
        XCTAssertEqual(h.run.state.phase, .draining(.budgetExceeded), "free still runs: drain, not abort")
        XCTAssertEqual(h.run.state.refusedTask, h.id("b"))
        XCTAssertEqual(h.run.state.refusedGroup, inner)
        XCTAssertEqual(try h.ok("free", at: 6), ["finish budget_exceeded"])
        XCTAssertEqual(h.state("b"), "skipped")
    }

    func testGroupReservationWaitsAndOverrunAborts() throws {
        // Tightened after checking, as above.
        var p = try makePlan(workflow("""
          group g {
            budget {
              money: $0.02
              tokens: 100 tokens
            }
            task a {
              agent: w
              run: "echo"
            }
            task b {
              agent: w
              run: "echo"
            }
          }
        """))
        p.groupBudgetMoneyMicros[0] = 15_000
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch a#1@w"], "b waits: a's worst case is reserved in g")
        XCTAssertEqual(try h.ok("a", at: 4, cost: 2_000), ["dispatch b#1@w"])
        // b reports more than g allows: everything stops at once.
        XCTAssertEqual(try h.ok("b", at: 5, cost: 1_000, tokens: 101), ["finish budget_exceeded"])
        XCTAssertEqual(h.run.state.refusedGroup, 0)
        XCTAssertEqual(h.run.state.groupChargedTokens[0], 101)
    }

    func testTaskBudgetRefusesARetryThatCannotFit() throws {
        let p0 = try makePlan(workflow("""
          task a {
            agent: w
            run: "echo"
            retry {
              attempts: 3
              backoff: fixed
              delay: 1s
              on: [transient]
            }
            budget {
              money: $0.03
            }
          }
        """))
        // The checker refuses a budget below the static worst case (3 × $0.01), so the
        // test tightens it the way a run-time-only limit would be.
        var p = p0
        let a = p.taskNames.firstIndex(of: "a")!
        p.taskBudgetMoneyMicros[a] = 15_000
        p.groupBudgetMoneyMicros[p.taskBudgetScope[a]] = 15_000
        XCTAssertEqual(p.taskBudgetMoneyMicros[a], 15_000)
        let scope = p.taskBudgetScope[a]
        XCTAssertEqual(p.groupTask[scope], a)
        XCTAssertEqual(p.groupNames[scope], "a")
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch a#1@w"])
        XCTAssertEqual(try h.fail("a", 1, at: 5, cost: 10_000), ["timer retry/0/2@1005"])
        // Second attempt: 10 000 charged + 10 000 worst case > 15 000.
        XCTAssertEqual(try h.timer(.retryDue(task: a, attempt: 2), at: 1005), ["finish budget_exceeded"])
        XCTAssertEqual(h.run.state.refusedTask, a)
        XCTAssertEqual(h.run.state.refusedGroup, scope)
    }

    func testGroupTimeCountsFromTheFirstDispatchInside() throws {
        let p = try makePlan(workflow("""
          task pre {
            agent: v
            run: "echo"
          }
          group g {
            budget {
              time: 1s
            }
            task a {
              agent: w
              after: [pre]
              run: "echo"
            }
            task b {
              agent: w
              after: [a]
              run: "echo"
            }
          }
        """))
        var h = Harness(p)
        XCTAssertEqual(try h.start(), ["dispatch pre#1@v"])
        XCTAssertEqual(try h.ok("pre", at: 500), ["dispatch a#1@w", "timer budget/0@1500"])
        XCTAssertEqual(try h.ok("a", at: 900), ["dispatch b#1@w"], "the clock is set once")
        XCTAssertEqual(try h.timer(.groupBudgetTime(group: 0), at: 1500), ["cancel b#1", "finish budget_exceeded"])
        XCTAssertEqual(h.run.state.refusedGroup, 0)
        // Resume re-sets it; the codec reads it back.
        XCTAssertEqual(TimerID(text: "budget/0"), .groupBudgetTime(group: 0))
        XCTAssertNil(TimerID(text: "budget/x"))
        XCTAssertNoThrow(try Replay.verify(plan: p, journal: try Journal.decode(Journal.encode(h.run.records))))
    }

    // MARK: selector limits

    struct Recorder: AgentSelector {
        final class Box: @unchecked Sendable { var views: [SelectorLimits] = [] }
        let box = Box()
        func choose(task: Int, candidates: [Int], view: SelectorView, rng: inout SeededRandom) -> Int? {
            box.views.append(view.limits)
            return candidates.first
        }
    }

    func testSelectorViewCarriesClockAndRemainingBudget() throws {
        let p = try makePlan(workflow("""
          deadline: 10s
          budget {
            money: $1
            tokens: 1000 tokens
          }
          group g {
            budget {
              money: $0.025
              time: 2s
            }
            task a {
              agent: w
              run: "echo"
              max_tokens: 100 tokens
            }
            task b {
              agent: w
              run: "echo"
            }
          }
        """))
        let rec = Recorder()
        var h = Harness(p, environment: RunEnvironment(selector: rec))
        XCTAssertEqual(try h.start(at: 1000), ["timer deadline@11000", "dispatch a#1@w", "timer budget/0@3000", "dispatch b#1@w"])
        let first = rec.box.views[0], second = rec.box.views[1]
        XCTAssertEqual(first.runStartedAtMs, 1000)
        XCTAssertEqual(first.deadlineAtMs, 11_000)
        XCTAssertEqual(first.remainingMoneyMicros, 25_000, "g is tighter than the workflow")
        XCTAssertEqual(first.remainingTokens, 1000)
        XCTAssertEqual(first.stopAtMs, 3000, "g's clock would start now")
        XCTAssertEqual(second.reservedMicros, 10_000)
        XCTAssertEqual(second.reservedTokens, 100)
        XCTAssertEqual(second.remainingMoneyMicros, 15_000)
        XCTAssertEqual(second.remainingTokens, 900)
        XCTAssertEqual(second.budgetMoneyMicros, 1_000_000)
    }
}
