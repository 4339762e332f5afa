import EzflowCheck
import EzflowCompiler
import EzflowDiagnostics
import EzflowSyntax
import EzflowTestSupport
import XCTest

/// The checker remembers what each reference resolved to and each expression's type.
final class BindingTests: XCTestCase {
    static let lib = """
        enum Tier { low, high }
        agent remote { driver: http capabilities: ["web"] }
        agent sh { driver: exec capabilities: [] }
        workflow sub {
          input n: int = 1
          task s { run: "echo ${inputs.n}" }
        }
        """

    func check(_ m: Marked) -> CompileResult {
        let r = Compiler.check(root: "main.ezflow", files: ["main.ezflow": m.text, "lib.ezflow": Self.lib],
                               stdlibRoot: Repo.url("stdlib").path)
        XCTAssertEqual(r.diagnostics.errorCount, 0, "\(r.diagnostics.map(\.message))")
        return r
    }

    /// The innermost binding at a marker of the root file.
    func binding(_ r: CompileResult, _ m: Marked, _ marker: String) -> Binding? {
        r.semantics.bindings.bindings(file: r.semantics.modules[0].file, containing: m[marker]).first?.binding
    }

    func testEveryKindOfReferenceIsBound() {
        let m = Marked("""
            import "lib.ezflow" as 1️⃣l
            agent local { driver: exec capabilities: ["sh"] }
            workflow main {
              input tier: l.Tier = l.Tier.2️⃣low
              input xs: list[string] = ["a"]
              output o: string
              task a {
                for_each: 3️⃣inputs.xs
                run: "echo ${4️⃣item}"
                agent: 5️⃣local
                output v: string
              }
              task b {
                run: "echo ${len(6️⃣a.outputs.v)}"
                after: [7️⃣a]
                writes: [8️⃣o]
                retry { attempts: 2 catch: l.9️⃣remote }
                output o: string
              }
              task c { workflow: l.🔟sub }
            }
            """)
        let r = check(m)
        let lib = r.semantics.modules.firstIndex { $0.key.hasSuffix("lib.ezflow") }!
        XCTAssertEqual(binding(r, m, "1️⃣"), .module(lib))
        XCTAssertEqual(binding(r, m, "2️⃣"), .enumCase(DeclID(module: lib, name: "Tier"), "low"))
        XCTAssertEqual(binding(r, m, "3️⃣"), .input(module: 0, name: "xs"))
        XCTAssertEqual(binding(r, m, "4️⃣"), .item)
        XCTAssertEqual(binding(r, m, "5️⃣"), .decl(.agent, DeclID(module: 0, name: "local")))
        XCTAssertEqual(binding(r, m, "6️⃣"), .task(module: 0, index: 0))
        XCTAssertEqual(binding(r, m, "7️⃣"), .task(module: 0, index: 0))
        XCTAssertEqual(binding(r, m, "8️⃣"), .output(module: 0, name: "o"))
        XCTAssertEqual(binding(r, m, "9️⃣"), .decl(.agent, DeclID(module: lib, name: "remote")))
        XCTAssertEqual(binding(r, m, "🔟"), .decl(.workflow, DeclID(module: lib, name: "sub")))
        // The whole `a.outputs.v` binds to the output, its head to the task.
        let all = r.semantics.bindings.bindings(file: r.semantics.modules[0].file, containing: m["6️⃣"]).map(\.binding)
        XCTAssertEqual(all, [.task(module: 0, index: 0), .taskOutput(module: 0, task: 0, name: "v")])
        // The fallback is resolved once, in the checked task.
        XCTAssertEqual(r.workflows.first { $0.module == 0 }?.tasks[1].fallback, .agent(DeclID(module: lib, name: "remote")))
    }

    func testExpressionTypesAreRecorded() {
        let m = Marked("""
            agent sh { driver: exec capabilities: [] }
            workflow main {
              input xs: list[string] = ["a"]
              task a { run: "echo ${1️⃣len(inputs.xs) + 1} ${len(2️⃣inputs.xs)}" }
              task b { run: "echo ${3️⃣a.outputs.exit_code}" }
            }
            """)
        let r = check(m)
        func type(_ marker: String) -> Ty? {
            let o = m[marker]
            return r.semantics.types.filter { $0.key.file == r.semantics.modules[0].file && $0.key.start == o }.max { $0.key.end < $1.key.end }?.value
        }
        XCTAssertEqual(type("1️⃣"), .int)
        XCTAssertEqual(type("2️⃣"), .list(.string))
        XCTAssertEqual(type("3️⃣"), .int)
    }

    /// `item` in an action's template was lowered before the item scope was known, so a
    /// clean file failed `ezc build` with an internal error. Lowering now reads the binding.
    func testItemInATemplateLowers() {
        let r = Compiler.build(root: "w.ezflow", files: ["w.ezflow": """
            agent sh { driver: exec capabilities: [] }
            workflow w {
              input xs: list[string] = ["a", "b"]
              task each { for_each: inputs.xs run: "echo ${item}" }
            }
            """], stdlibRoot: Repo.url("stdlib").path)
        XCTAssertNil(r.failure)
        let ir = r.ir.map { String(decoding: $0, as: UTF8.self) } ?? ""
        XCTAssertTrue(ir.contains(#""template":[{"text":"echo "},{"item":[]}]"#), ir)
    }

    /// In a YAML scalar that is not verbatim in its file every reference shares one span;
    /// the reference's text then tells them apart.
    func testReferencesSharingASpanKeepTheirOwnBindings() {
        var b = Bindings()
        let s = Span(file: 0, start: 4, end: 9)
        b.record(s, "a", .task(module: 0, index: 0))
        XCTAssertEqual(b.binding(at: s, text: "a"), .task(module: 0, index: 0))
        b.record(s, "a.outputs.v", .taskOutput(module: 0, task: 0, name: "v"))
        b.record(s, "v", .taskOutput(module: 0, task: 0, name: "v"))
        b.record(s, "inputs.x", .input(module: 0, name: "x"))
        XCTAssertEqual(b.binding(at: s, text: "a"), .task(module: 0, index: 0))
        XCTAssertEqual(b.binding(at: s, text: "a.outputs.v"), .taskOutput(module: 0, task: 0, name: "v"))
        XCTAssertEqual(b.binding(at: s, text: "inputs.x"), .input(module: 0, name: "x"))
        XCTAssertNil(b.binding(at: s, text: "b"))
    }
}
