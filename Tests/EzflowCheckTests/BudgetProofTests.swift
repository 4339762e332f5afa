import EzflowCheck
import EzflowCompiler
import EzflowIR
import EzflowTestSupport
import XCTest

/// The budget proofs beyond the goldens: `strict` reaches the IR and must be a literal,
/// child budgets cap what their tasks add to the parent, what cannot be counted is said.
final class BudgetProofTests: XCTestCase {
    static let agent = "agent gpt { driver: llm, capabilities: [\"llm\"] }\n"

    func check(_ body: String) -> CompileResult {
        Compiler.check(root: "t.ezflow", files: ["t.ezflow": Self.agent + body])
    }

    func bound(_ r: CompileResult, _ scope: String, _ dim: BudgetBound.Dimension) throws -> BudgetBound {
        let w = try XCTUnwrap(r.workflows.first)
        return try XCTUnwrap(w.budgetProofs.first { $0.scope == scope }?.bounds.first { $0.dimension == dim }, "\(w.budgetProofs)")
    }

    /// `strict: true` is written to the IR (so no attribute is lost); `false` is the default
    /// and leaves the IR as before.
    func testStrictReachesTheIR() throws {
        for (value, expected) in [("true", JSONValue.bool(true)), ("false", nil)] {
            let src = Self.agent + "workflow w {\n  budget { money: $5, strict: \(value) }\n  task t { prompt: \"x\", max_cost: $1 }\n}\n"
            let r = Compiler.build(root: "t.ezflow", files: ["t.ezflow": src])
            let ir = try XCTUnwrap(r.ir, "\(r.check.diagnostics.map(\.message))")
            XCTAssertEqual(try JSONParser.parse(ir)["budget"]?["strict"], expected)
            XCTAssertEqual(try EzflowIR.validate(ir).workflow.budget?.strict, value == "true")
        }
    }

    func testStrictMustBeALiteral() {
        let r = check("workflow w {\n  task t {\n    prompt: \"x\"\n    budget { strict: 1 == 1 }\n  }\n}\n")
        XCTAssertEqual(r.diagnostics.filter { $0.severity == .error }.map(\.code), ["E0307"], "\(r.diagnostics.map(\.message))")
        let typed = check("workflow w {\n  budget { strict: \"yes\" }\n  task t { prompt: \"x\" }\n}\n")
        XCTAssertEqual(typed.diagnostics.filter { $0.severity == .error }.map(\.code), ["E0300"], "\(typed.diagnostics.map(\.message))")
    }

    /// A task's own budget holds what it adds to its parent: 5 × $1 would be $5, its $2
    /// budget stops it at $2, so the workflow's $3 holds.
    func testChildBudgetCapsItsContribution() throws {
        let r = check("""
            workflow w {
              budget { money: $3 }
              task a { prompt: "x", max_cost: $1, retry { attempts: 5 }, budget { money: $2 } }
              task b { prompt: "y", max_cost: $1 }
            }
            """)
        let b = try bound(r, "the workflow", .money)
        XCTAssertEqual(b.worst, 3_000_000)
        XCTAssertEqual(b.worstWhy, "`a` at most $2.00 (its budget) + 1 task × 1 attempt × $1.00 = $3.00")
        XCTAssertEqual(r.diagnostics.map(\.code), ["W0601"])  // only the task's own budget
    }

    /// A nested workflow task is not priced by its caller: the proof says so and counts
    /// the rest ("at least").
    func testUncountedPartsAreNamed() throws {
        let inner = Self.agent + "workflow inner { task x { prompt: \"x\", max_cost: $1 } }\n"
        let r = Compiler.check(root: "t.ezflow", files: ["inner.ezflow": inner, "t.ezflow": """
            import "./inner.ezflow"
            workflow w {
              budget { money: $1 }
              task call { workflow: inner.inner }
              task a { prompt: "x", max_cost: $1, retry { attempts: 2 } }
            }
            """])
        let w = try XCTUnwrap(r.workflows.first { $0.name == "w" })
        let b = try XCTUnwrap(w.budgetProofs.first?.bounds.first)
        XCTAssertEqual(b.unknown, ["`call` runs a nested workflow (its own budget holds it)"])
        XCTAssertEqual(b.worst, 2_000_000)
        let d = try XCTUnwrap(r.diagnostics.first { $0.code == "W0601" })
        XCTAssertTrue(d.message.contains("at least $2"), d.message)
    }

    /// Time has no best case above zero: a deadline is never an error but under `strict`.
    func testTimeBestCaseIsZero() throws {
        let r = check("workflow w {\n  deadline: 1m\n  task t { prompt: \"x\", timeout: 2m }\n}\n")
        let b = try bound(r, "the workflow", .deadline)
        XCTAssertEqual(b.best, 0)
        XCTAssertEqual(b.worst, 120_000)
        XCTAssertEqual(r.diagnostics.map(\.code), ["W0600"])
    }
}
