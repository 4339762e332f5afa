import EzflowCompiler
import EzflowIDE
import EzflowTestSupport
import Foundation
import XCTest

/// Hover, go to definition and completions at marked offsets of small sources.
final class QueryTests: XCTestCase {
    static let lib = """
        enum Tier { low, high }
        # Calls the deploy service.
        agent remote { driver: http capabilities: ["web"] }
        """

    static let main = Marked("""
        import "lib.ezflow" as l
        import "std/retry"

        # Runs shell steps.
        agent sh { driver: exec capabilities: ["sh"] }

        workflow w {
          input files: list[string] = ["a"]
          input tier: l.Tier = l.Tier.h1️⃣igh

          # Compiles everything.
          task bu2️⃣ild {
            run: "make ${len(3️⃣inputs.files) 4️⃣+ 1}"
            t5️⃣imeout: 5m
            retry: retry.stan6️⃣dard
            output bin: string
          }
          task ship {
            call: "http://x/${bu7️⃣ild.outputs.bin}"
            agent: l.rem8️⃣ote
            after: [build]
          }
          task each {
            for_each: inputs.files
            run: "echo ${item} ${inputs.tier}"
            9️⃣
          }
        }
        """)

    let analysis = Analysis(root: "main.ezflow", files: ["main.ezflow": QueryTests.main.text, "lib.ezflow": QueryTests.lib],
                            stdlibRoot: Repo.url("stdlib").path)

    func at(_ marker: String) -> Int { Self.main[marker] }

    func testTheSourcesCheckClean() {
        XCTAssertEqual(analysis.result.diagnostics.filter { $0.severity == .error }.map(\.message), [])
    }

    /// A shown path maps back to the file's key and text (an editor's URI and the bytes
    /// its offsets count in); a file's diagnostics are those whose primary label is in it.
    func testSourcesAndDiagnosticsPerFile() throws {
        let retry = try XCTUnwrap(analysis.source("stdlib/retry.ezflow"))
        XCTAssertEqual(retry.key, Repo.url("stdlib/retry.ezflow").path)
        XCTAssertEqual(retry.text.bytes, Array(try String(contentsOf: Repo.url("stdlib/retry.ezflow"), encoding: .utf8).utf8))
        XCTAssertEqual(analysis.source("main.ezflow")?.key, "main.ezflow")
        XCTAssertNil(analysis.source("elsewhere.ezflow"))

        let broken = Analysis(root: "main.ezflow", files: ["main.ezflow": "import \"lib.ezflow\" as l\nworkflow w { input t: l.Tier = l.Tier.mid }\n",
                                                           "lib.ezflow": "enum Tier { low, high }\nenum Tier { x }\n"])
        XCTAssertEqual(broken.diagnostics(in: "main.ezflow").map(\.code), ["W0100", "E0211"])
        XCTAssertEqual(broken.diagnostics(in: "lib.ezflow").map(\.code), ["E0201"])
    }

    func testHoverOnATaskShowsItsDocAgentAndRetry() throws {
        let h = try XCTUnwrap(analysis.hover(path: "main.ezflow", offset: at("7️⃣")))
        XCTAssertEqual(h.title, "task `build`")
        XCTAssertEqual(h.doc, "Compiles everything.\naction `run`; agent: picked from the pool; retry: 3 attempts, exponential backoff; retries timeout, transient\nworst case time: 15m3s (all attempts, their timeouts and backoff)")
        XCTAssertEqual(h.range.path, "main.ezflow")
        // The declaration's own name hovers the same.
        XCTAssertEqual(analysis.hover(path: "main.ezflow", offset: at("2️⃣"))?.title, "task `build`")
    }

    func testHoverShowsTypes() throws {
        let input = try XCTUnwrap(analysis.hover(path: "main.ezflow", offset: at("3️⃣")))
        XCTAssertEqual(input.title, "input `files`")
        XCTAssertEqual(input.type, "list[string]")
        let sum = try XCTUnwrap(analysis.hover(path: "main.ezflow", offset: at("4️⃣")))
        XCTAssertEqual(sum.type, "int")
        let agent = try XCTUnwrap(analysis.hover(path: "main.ezflow", offset: at("8️⃣")))
        XCTAssertEqual(agent.title, "agent `remote`")
        XCTAssertEqual(agent.doc, "Calls the deploy service.\ndriver http; capabilities: web")
        let enumCase = try XCTUnwrap(analysis.hover(path: "main.ezflow", offset: at("1️⃣")))
        XCTAssertEqual(enumCase.title, "case `high` of enum `Tier`")
    }

    /// A `prompt:` task's hover shows its worst case as the budget proofs count it: the
    /// prompt's bound (its UTF-8 bytes when literal) plus `max_tokens`, per attempt and
    /// under its retry rule.
    func testHoverOnAPromptTaskShowsItsWorstCase() throws {
        let src = Marked("""
            agent model { driver: llm, capabilities: ["llm"], cost_per_1k_tokens: $0.01 }
            workflow w {
              input topic: string = "x"
              budget { tokens: 20k tokens }
              task sum1️⃣marize {
                prompt: "Summarize every open incident."
                max_tokens: 3k tokens
                retry { attempts: 3 }
              }
              task ask2️⃣ {
                prompt: "About ${inputs.topic}"
                max_tokens: 1k tokens
              }
            }
            """)
        let a = Analysis(root: "main.ezflow", files: ["main.ezflow": src.text], stdlibRoot: Repo.url("stdlib").path)
        XCTAssertEqual(a.result.diagnostics.filter { $0.severity == .error }.map(\.message), [])
        let h = try XCTUnwrap(a.hover(path: "main.ezflow", offset: src["1️⃣"]))
        XCTAssertEqual(h.doc, "action `prompt`; agent: picked from the pool; retry: 3 attempts, fixed backoff; retries every class except "
                       + "cancelled, cap_exceeded, config_error, conflict, denied, forbidden, no_agent, prompt_too_large, render_error, "
                       + "secret_error, worker_lost (`on` left out)\n"
                       + "worst case per attempt: 3030 tokens (prompt 30 tokens + `max_tokens` 3k tokens), $0.04; "
                       + "3 attempts: 9090 tokens, $0.12")
        let open = try XCTUnwrap(a.hover(path: "main.ezflow", offset: src["2️⃣"]))
        XCTAssertEqual(open.doc, "action `prompt`; agent: picked from the pool\n"
                       + "worst case per attempt: at least 1k tokens (a prompt with run-time values, bounded when it runs, "
                       + "+ `max_tokens` 1k tokens), at least $0.01")
    }

    func testHoverOnAnAttributeShowsItsDoc() throws {
        let h = try XCTUnwrap(analysis.hover(path: "main.ezflow", offset: at("5️⃣")))
        XCTAssertEqual(h.title, "attribute `timeout` of `task`")
        XCTAssertEqual(h.doc, "each attempt is stopped after this long")
    }

    func testDefinitionInTheFileAnImportAndTheStdlib() throws {
        let text = Self.main.text
        let task = try XCTUnwrap(analysis.definition(path: "main.ezflow", offset: at("7️⃣")))
        XCTAssertEqual(task, Location(path: "main.ezflow", start: at("2️⃣") - 2, end: at("2️⃣") + 3))
        XCTAssertEqual(Self.slice(text, task), "build")

        let agent = try XCTUnwrap(analysis.definition(path: "main.ezflow", offset: at("8️⃣")))
        XCTAssertEqual(agent.path, "lib.ezflow")
        XCTAssertEqual(Self.slice(Self.lib, agent), "remote")

        let preset = try XCTUnwrap(analysis.definition(path: "main.ezflow", offset: at("6️⃣")))
        XCTAssertEqual(preset.path, "stdlib/retry.ezflow")
        let stdlib = try String(contentsOf: Repo.url("stdlib/retry.ezflow"), encoding: .utf8)
        XCTAssertEqual(Self.slice(stdlib, preset), "standard")
        XCTAssertTrue(stdlib.prefix(preset.start).hasSuffix("retry "))

        let enumCase = try XCTUnwrap(analysis.definition(path: "main.ezflow", offset: at("1️⃣")))
        XCTAssertEqual(enumCase.path, "lib.ezflow")
        XCTAssertEqual(Self.slice(Self.lib, enumCase), "high")
        // Built-ins have no declaration.
        XCTAssertNil(analysis.definition(path: "main.ezflow", offset: at("4️⃣")))
    }

    func testCompletionsOfAttributesInTheCurrentBlock() {
        let labels = analysis.completions(path: "main.ezflow", offset: at("9️⃣")).map(\.label)
        XCTAssertTrue(labels.contains("timeout"))
        XCTAssertTrue(labels.contains("retry"))
        XCTAssertTrue(labels.contains("output"), "nested blocks too")
        XCTAssertFalse(labels.contains("run"), "already given")
        XCTAssertFalse(labels.contains("deadline"), "a workflow attribute")
    }

    func testCompletionsOfMembersAndNamesInScope() {
        func complete(_ source: String) -> [String] {
            let m = Marked(source)
            let a = Analysis(root: "c.ezflow", files: ["c.ezflow": m.text, "lib.ezflow": Self.lib], stdlibRoot: Repo.url("stdlib").path)
            return a.completions(path: "c.ezflow", offset: m["1️⃣"]).map(\.label)
        }
        let wf = { (body: String) in
            "import \"lib.ezflow\" as l\nagent sh { driver: exec capabilities: [] }\nworkflow w {\n  input files: list[string] = []\n  input name: string = \"x\"\n"
                + "  task a { run: \"x\" output bin: string }\n  task b { run: \"\(body)\" }\n}\n"
        }
        XCTAssertEqual(complete(wf("${inputs.1️⃣}")), ["files", "name"])
        XCTAssertEqual(complete(wf("${inputs.n1️⃣}")), ["name"])
        XCTAssertEqual(complete(wf("${a.1️⃣}")), ["outputs"])
        XCTAssertEqual(complete(wf("${a.outputs.1️⃣}")), ["bin", "exit_code", "stdout"])
        XCTAssertEqual(complete(wf("${l.1️⃣}")), ["Tier", "remote"])
        XCTAssertEqual(complete(wf("${l.Tier.1️⃣}")), ["high", "low"])
        let scope = complete(wf("${1️⃣}"))
        for name in ["a", "b", "inputs", "secrets", "len", "l", "sh"] { XCTAssertTrue(scope.contains(name), name) }
        XCTAssertFalse(scope.contains("item"), "no for_each here")
        XCTAssertEqual(complete("ag1️⃣"), ["agent"])
        // A word typed above other members of a task (or above a declaration): the
        // parser takes it for a block header, the completions are still the task's.
        XCTAssertEqual(complete(wf("x").replacingOccurrences(of: "task a { run", with: "task a {\n    ti1️⃣\n    run")), ["timeout"])
        XCTAssertEqual(complete("wor1️⃣\nworkflow w {}\n"), ["workflow"])
    }

    /// An attribute's value: its words, the declarations it names (built-in error classes
    /// too), units after a number, and import paths the caller lists.
    func testCompletionsOfValuesUnitsAndImportPaths() {
        func complete(_ source: String, modules: [String] = []) -> [String] {
            let m = Marked(source)
            let a = Analysis(root: "c.ezflow", files: ["c.ezflow": m.text, "lib.ezflow": Self.lib], stdlibRoot: Repo.url("stdlib").path)
            return a.completions(path: "c.ezflow", offset: m["1️⃣"], modules: modules).map(\.label)
        }
        XCTAssertEqual(complete("agent sh {\n  driver: 1️⃣\n}\n"), ["exec", "http", "llm", "sim"])
        XCTAssertEqual(complete("agent sh {\n  driver: e1️⃣\n}\n"), ["exec"])
        XCTAssertEqual(complete("error flaky\nretry r {\n  on: [timeout, 1️⃣]\n}\n"),
                       ["agent_error", "flaky", "output_error", "timeout", "transient"])
        XCTAssertEqual(complete("import \"lib.ezflow\" as l\nworkflow w {\n  task a {\n    run: \"x\"\n    agent: 1️⃣\n  }\n}\n"), ["l"])
        XCTAssertEqual(complete("workflow w {\n  task a {\n    run: \"x\"\n    timeout: 51️⃣\n  }\n}\n"), ["5d", "5h", "5m", "5ms", "5s"])
        XCTAssertEqual(complete("workflow w {\n  budget {\n    tokens: 2001️⃣\n  }\n}\n"), ["200 tokens", "200M tokens", "200k tokens"])
        XCTAssertEqual(complete("import \"std/r1️⃣\"\n", modules: ["std/agents", "std/retry", "std/roles", "lib"]), ["std/retry", "std/roles"])
        XCTAssertEqual(complete("imp1️⃣"), ["import"])
        // A half-typed attribute above another one, and what a retry may name after `alias.`.
        XCTAssertEqual(complete("workflow w {\n  task a {\n    ti1️⃣\n    run: \"true\"\n  }\n}\n"), ["timeout"])
        XCTAssertEqual(complete("import \"lib.ezflow\" as l\nworkflow w {\n  task a {\n    run: \"x\"\n    agent: l.1️⃣\n  }\n}\n"), ["remote"])
    }

    static func slice(_ text: String, _ l: Location) -> String {
        String(decoding: Array(text.utf8)[l.start..<l.end], as: UTF8.self)
    }
}
