// Access rules at run time: every policy condition the checker accepts is decided by
// `ezrun`, the starter of a run may not approve its own gates, and every decision is
// audited with its run id.
import EzflowPorts
import EzflowRunner
import EzflowStore
import Foundation
import XCTest

final class AccessTests: XCTestCase {
    static let principals = #"""
        {"ana": {"roles": ["ci"], "team": "platform", "groups": ["oncall"]},
         "bob": {"roles": ["ci"], "team": "web", "groups": []}}
        """#

    /// A workflow whose only policy is `deny`-when `condition`; `deploy` has tag `prod`
    /// and priority 7, `build` neither.
    static func workflow(_ condition: String) -> String {
        """
        agent sh {
          driver: exec
          capabilities: ["shell"]
        }
        role ci {
          allow: [run]
          agents: [sh]
        }
        policy rule {
          effect: deny
          action: run
          roles: [ci]
          when: \(condition)
        }
        workflow w {
          input target: string = "staging"
          task build {
            role: ci
            run: "echo built"
          }
          task deploy {
            role: ci
            after: [build]
            tags: ["prod"]
            priority: 7
            run: "echo deployed"
          }
        }
        """
    }

    enum Expect: Equatable { case refusedAtStart, deployForbidden, success }

    /// Each attribute a policy condition may read (principal.name/team/role/groups,
    /// task.name/tags/priority, inputs.*), once where it holds for `ana` and once where it
    /// does not. Before the fix, every condition on `task.*` refused the run at start.
    func testEveryPolicyAttributeTheCheckerAcceptsIsDecidedAtRunTime() throws {
        let cases: [(String, Expect)] = [
            (#"principal.name == "ana""#, .refusedAtStart), (#"principal.name == "zed""#, .success),
            (#"principal.team == "platform""#, .refusedAtStart), (#"principal.team == "web""#, .success),
            (#"principal.role == "ci""#, .refusedAtStart), (#"principal.role == "admin""#, .success),
            (#"contains(principal.groups, "oncall")"#, .refusedAtStart), (#"contains(principal.groups, "dba")"#, .success),
            (#"inputs.target == "staging""#, .refusedAtStart), (#"inputs.target == "prod""#, .success),
            (#"task.name == "deploy""#, .deployForbidden), (#"task.name == "nothing""#, .success),
            (#"contains(task.tags, "prod")"#, .deployForbidden), (#"contains(task.tags, "qa")"#, .success),
            (#"task.priority > 5"#, .deployForbidden), (#"task.priority > 8"#, .success),
            (#"task.priority > 5 && principal.team == "platform""#, .deployForbidden),
        ]
        let dir = tempDir("access")
        write(Self.principals, to: dir + "/principals.json")
        for (i, (condition, expect)) in cases.enumerated() {
            write(Self.workflow(condition), to: dir + "/w\(i).ezflow")
            let r = ezrun(["run", "w\(i).ezflow", "--run-id", "r\(i)", "--as", "ana", "--principals", "principals.json"], in: dir)
            switch expect {
            case .refusedAtStart:
                XCTAssertEqual(r.status, 2, "\(condition): \(r.stderr)")
                XCTAssertEqual(r.stderr, "ezrun: access refused: policy `rule` denies it\n", condition)
            case .deployForbidden:
                XCTAssertEqual(r.status, 1, "\(condition): \(r.stderr)")
                let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
                let run = try StoredRun.load(store: store, runID: "r\(i)")
                XCTAssertEqual(run.state.tasks.map(\.name), ["succeeded", "dead_lettered"], condition)
                XCTAssertEqual(run.state.history[1].last?.errorClass, "forbidden", condition)
            case .success:
                XCTAssertEqual(r.status, 0, "\(condition): \(r.stderr)")
            }
            XCTAssertFalse(r.stderr.contains("could not be evaluated"), "\(condition): \(r.stderr)")
        }
    }

    static let gate = """
        agent sh {
          driver: exec
          capabilities: ["shell"]
        }
        role ci {
          allow: [run]
          agents: [sh]
        }
        role releaser {
          inherits: [ci]
          allow: [approve]
        }
        workflow gated {
          task approve_deploy {
            role: ci
            approve: "Deploy?"
            approvers: [releaser]
            SELF
          }
          task deploy {
            role: ci
            after: [approve_deploy]
            run: "echo deployed"
          }
        }
        """

    /// Separation of duties: the principal who started a run may not approve its gates,
    /// unless the gate says `self_approval: allowed`; the refusal is audited (with the run
    /// id) and journalled by the run's writer.
    func testTheStarterMayNotApproveItsOwnGate() throws {
        let dir = tempDir("sod")
        write(Self.gate.replacingOccurrences(of: "SELF", with: ""), to: dir + "/strict.ezflow")
        write(Self.gate.replacingOccurrences(of: "SELF", with: "self_approval: allowed"), to: dir + "/relaxed.ezflow")

        XCTAssertEqual(ezrun(["run", "strict.ezflow", "--run-id", "s1", "--as", "rita:releaser"], in: dir).status, 4)
        let own = ezrun(["approve", "s1", "approve_deploy", "--as", "rita:releaser"], in: dir)
        XCTAssertEqual(own.status, 2)
        XCTAssertEqual(own.stderr, "ezrun: access refused: principal `rita` started this run and may not approve its gate "
                       + "`approve_deploy` (separation of duties; the gate would need `self_approval: allowed`)\n")
        XCTAssertEqual(ezrun(["approve", "s1", "approve_deploy", "--as", "rob:releaser", "--yes"], in: dir).status, 0)
        let done = ezrun(["resume", "s1", "--as", "rita:releaser"], in: dir)
        XCTAssertEqual(done.status, 0, done.stderr)

        XCTAssertEqual(ezrun(["run", "relaxed.ezflow", "--run-id", "s2", "--as", "rita:releaser"], in: dir).status, 4)
        XCTAssertEqual(ezrun(["approve", "s2", "approve_deploy", "--as", "rita:releaser", "--yes"], in: dir).status, 0)
        XCTAssertEqual(ezrun(["resume", "s2", "--as", "rita:releaser"], in: dir).status, 0)

        let store = try DurableStore(path: dir + "/.ezflow/ezflow.db")
        let refusals = try store.journal(run: "s1").compactMap { r -> String? in
            if case .approvalRefused(_, let p, _, _) = r.event { p } else { nil }
        }
        XCTAssertEqual(refusals, ["rita"])
        let audit = try store.auditLog().map { "\($0.runID ?? "-") \($0.principal) \($0.action) \($0.allowed)" }
        XCTAssertEqual(audit, ["s1 rita run true", "s1 rita approve false", "s1 rob approve true", "s1 rita resume true",
                               "s2 rita run true", "s2 rita approve true", "s2 rita resume true"])
    }

    /// `self_approval` belongs to approval gates only.
    func testSelfApprovalOnlyOnGates() {
        let dir = tempDir("sod")
        write(Self.gate.replacingOccurrences(of: "SELF", with: "").replacingOccurrences(of: "run: \"echo deployed\"",
              with: "run: \"echo deployed\"\n    self_approval: allowed"), to: dir + "/bad.ezflow")
        let r = ezrun(["run", "bad.ezflow"], in: dir)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("error[E0203]: `self_approval` applies only to `approve` tasks"), r.stderr)
    }
}
