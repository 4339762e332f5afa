// Issue 9 §1 and §2 end to end: the built `ezrun run` on SQLite, real shells, and a
// loopback LLM endpoint. Hostile values reach `run:` scripts as inputs (bare, in single
// and double quotes), through `env`, as `for_each` items, as an LLM reply and as an
// upstream task's output; each task writes what it received to a file, which must hold
// exactly the value's bytes, and the marker file the value would create must not exist.
// Secrets: while the task runs, no process of the run's tree has the secret in its
// command line.
import EzflowIR
import EzflowStore
import EzflowTestSupport
import Foundation
import XCTest

final class ShellSafetyTests: XCTestCase {
    /// Runs the built `ezrun` in `dir` with only `env` as its environment (plus PATH).
    func ezrunWith(_ args: [String], in dir: String, env: [String: String] = [:]) -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.environment = env.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return (-1, "\(error)") }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    static func workflow(base: String) -> String {
        #"""
        agent sh { driver: exec, capabilities: ["shell"] }
        agent model { driver: llm, capabilities: ["llm"], model: "tiny-1", url: "\#(base)/v1" }

        workflow hostile {
          input v: string
          input items: list[string]

          task bare { run: "printf '%s' ${inputs.v} > bare.out" }
          task sq { run: "printf '%s' '${inputs.v}' > sq.out" }
          task dq { run: "printf '%s' \"${inputs.v}\" > dq.out" }
          task viaenv { env: { V: inputs.v }, run: "printf '%s' \"$V\" > env.out" }
          task each { for_each: inputs.items, run: "printf '%s' ${item} > each.out" }
          task ask { prompt: "${inputs.v}", needs: ["llm"] }
          task llm { run: "printf '%s' ${ask.outputs.text} > llm.out" }
          task up { env: { V: inputs.v }, run: "printf '%s' \"$V\"" }
          task down { run: "printf '%s' \"<${up.outputs.stdout}>\" > up.out" }
        }
        """#
    }

    /// A chat endpoint that answers with the prompt it was sent (the hostile value).
    func echoModel() throws -> LoopbackServer {
        try LoopbackServer { req in
            let prompt = req.json?["messages"]?.array?.last?["content"] ?? .string("")
            let reply: JSONValue = .object([
                ("choices", .array([.object([("message", .object([("role", .string("assistant")), ("content", prompt)]))])])),
                ("usage", .object([("total_tokens", .int(1))])),
            ])
            return CannedResponse(status: 200, body: CanonicalJSON.encode(reply))
        }
    }

    func testHostileValuesEndToEnd() throws {
        let server = try echoModel()
        defer { server.stop() }
        let dir = tempDir("hostile")
        write(Self.workflow(base: server.base), to: dir + "/hostile.ezflow")
        let marker = dir + "/PWNED"
        let values = HostileValues.all(marker: marker)
        XCTAssertGreaterThanOrEqual(values.count, 20)
        for (i, (name, value)) in values.enumerated() {
            let items = String(decoding: CanonicalJSON.encode(.array([.string(value)])), as: UTF8.self)
            let r = ezrunWith(["run", "hostile.ezflow", "--run-id", "h\(i)", "--input", "v=" + value, "--input", "items=" + items],
                              in: dir)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            // The upstream task's output is its stdout, trailing newlines trimmed.
            var trimmed = Substring(value)
            while trimmed.last == "\n" || trimmed.last == "\r\n" { trimmed.removeLast() }
            let expected: [(String, String)] = [
                ("bare", value), ("sq", value), ("dq", value), ("env", value), ("each", value), ("llm", value),
                ("up", "<" + trimmed + ">"),
            ]
            for (file, want) in expected {
                let seen = FileManager.default.contents(atPath: "\(dir)/\(file).out").map { [UInt8]($0) }
                XCTAssertEqual(seen, Array(want.utf8), "\(name): \(file)")
                try? FileManager.default.removeItem(atPath: "\(dir)/\(file).out")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "\(name): the value ran as code")
        }
    }

    /// The issue's own reproduction.
    func testCheckingOutABranchNamedLikeACommand() throws {
        let dir = tempDir("hostile")
        write("""
            agent sh { driver: exec, capabilities: ["shell"] }
            workflow ci {
              input branch: string
              task checkout { run: "echo checking out ${inputs.branch}" }
            }
            """, to: dir + "/ci.ezflow")
        let marker = dir + "/PWNED"
        let r = ezrunWith(["run", "ci.ezflow", "--run-id", "c1", "--input", "branch=x; touch \(marker)"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        let logs = try runLogs(dir, "c1")
        XCTAssertEqual(logs, ["checking out x; touch \(marker)\n"])
    }

    /// A NUL byte cannot be carried by an environment variable or an argument: the task
    /// fails with `render_error` naming the value, and nothing runs.
    func testNULInAnLLMReplyOrAnItemFailsTheTask() throws {
        let server = try echoModel()
        defer { server.stop() }
        let dir = tempDir("hostile")
        write(Self.workflow(base: server.base), to: dir + "/hostile.ezflow")
        let marker = dir + "/PWNED"
        let items = #"["a\u0000; touch "# + marker + #""]"#
        let r = ezrunWith(["run", "hostile.ezflow", "--run-id", "z1", "--input", "v=x", "--input", "items=" + items], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("render_error"), r.stderr)
        XCTAssertTrue(r.stderr.contains("the value of `${item}` contains a NUL byte"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/each.out"), "nothing ran")
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    func runLogs(_ dir: String, _ run: String) throws -> [String] {
        try DurableStore(path: dir + "/.ezflow/ezflow.db").logs(run: run).map(\.stdout)
    }

    // MARK: - secrets

    /// The pids of `root`'s descendants, from /proc/*/stat.
    static func descendants(of root: Int32) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { children[ppid, default: []].append(pid) }
        }
        var out: [Int32] = []
        var queue = [root]
        while let p = queue.popLast() {
            for c in children[p] ?? [] { out.append(c); queue.append(c) }
        }
        return out
    }

    static func bytes(_ path: String) -> [UInt8] { FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? [] }

    func testSecretNeverInAnyCommandLine() throws {
        let dir = tempDir("secret")
        let secret = "tok-\(UUID().uuidString)"
        write(#"""
            secret tok { provider: env, key: "EZ_SHELL_TOK" }
            agent sh { driver: exec, capabilities: ["shell"] }
            role builder { allow: [run], agents: [sh], secrets: [tok] }
            workflow s {
              task use {
                role: builder
                env: { T: secrets.tok }
                run: "printf '%s' ${secrets.tok} > seen; printf '%s' \"$T\" > seen_env; printf '%s' 'key=${secrets.tok}' > seen_sq; : > ready; sh -c 'sleep 2' zz-canary-cmdline; true"
              }
            }
            """#, to: dir + "/s.ezflow")
        let p = Process()
        p.executableURL = Repo.executable("ezrun")
        p.arguments = ["run", "s.ezflow", "--run-id", "s1"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.environment = ["EZ_SHELL_TOK": secret, "PATH": "/usr/bin:/bin"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: dir + "/ready") && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/ready"), "the task never started")
        let needle = Array(secret.utf8)
        var scans = 0, processesSeen = 0, canarySeen = false, environHolds = false
        while p.isRunning && scans < 20 {
            for pid in Self.descendants(of: p.processIdentifier) {
                let cmdline = Self.bytes("/proc/\(pid)/cmdline")
                processesSeen += 1
                XCTAssertFalse(cmdline.contains(needle), "pid \(pid) has the secret in its command line: "
                               + String(decoding: cmdline.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self))
                if cmdline.contains(Array("zz-canary-cmdline".utf8)) { canarySeen = true }
                if Self.bytes("/proc/\(pid)/environ").contains(needle) { environHolds = true }
            }
            scans += 1
            usleep(50_000)
        }
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertGreaterThan(scans, 3)
        XCTAssertTrue(canarySeen, "the scan reads the command lines of the task's descendants")
        XCTAssertTrue(environHolds, "the secret reaches the task through its environment")
        XCTAssertGreaterThan(processesSeen, scans)
        XCTAssertEqual(read(dir + "/seen"), secret)
        XCTAssertEqual(read(dir + "/seen_env"), secret)
        XCTAssertEqual(read(dir + "/seen_sq"), "key=" + secret)
    }
}

extension Array where Element == UInt8 {
    func contains(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        for i in 0...(count - needle.count) where self[i] == needle[0] && Array(self[i..<(i + needle.count)]) == needle { return true }
        return false
    }
}
