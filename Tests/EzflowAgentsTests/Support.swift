import EzflowAgents
import EzflowIR
import Foundation
import Glibc
import XCTest

/// A hand-written IR task object with the fields the exec driver reads.
func irTask(_ name: String, _ template: [JSONValue], env: [(String, JSONValue)]? = nil, secrets: [String] = [],
            granted: [String]? = nil, timeoutMs: Int64? = nil, deps: [Int] = [], action: String = "run") -> JSONValue {
    .object([
        ("name", .string(name)), ("action", .string(action)), ("template", .array(template)),
        ("env", env.map { .object($0) } ?? .null),
        ("secrets", .array(secrets.map { .string($0) })),
        ("permissions", granted.map { g in .object([("allow", .array([.string("run")])), ("agents", .array([])),
                                                     ("secrets", .array(g.map { .string($0) }))]) } ?? .null),
        ("timeout_ms", timeoutMs.map { .int($0) } ?? .null),
        ("deps", .array(deps.map { .int(Int64($0)) })),
    ])
}

func text(_ s: String) -> JSONValue { .object([("text", .string(s))]) }
func secretRef(_ s: String) -> JSONValue { .object([("secret", .string(s))]) }
func inputRef(_ path: String...) -> JSONValue { .object([("ref", .array([.string("inputs")] + path.map { .string($0) }))]) }
func outputRef(_ task: Int, _ path: String...) -> JSONValue {
    .object([("ref", .array([.string("task"), .int(Int64(task)), .string("outputs")] + path.map { .string($0) }))])
}

func workflow(tasks: [JSONValue], agents: [JSONValue] = [], secrets: [SecretSpec] = []) -> JSONValue {
    .object([
        ("tasks", .array(tasks)), ("agents", .array(agents)),
        ("secrets", .array(secrets.map { .object([("name", .string($0.name)), ("provider", .string($0.provider.rawValue)),
                                                  ("key", .string($0.key))]) })),
    ])
}

/// A driver over `tasks` with secrets from `specs` and an injected environment.
func driver(_ tasks: [JSONValue], specs: [SecretSpec] = [], env: [String: String] = [:], vault: (String, String)? = nil,
            options: ExecOptions = ExecOptions(killGraceMs: 300)) -> ExecDriver {
    let cfg = SecretConfig(environment: env, vaultAddress: vault?.0, vaultToken: vault?.1, vaultTimeout: 3)
    let resolver = SecretResolver(specs: specs, config: cfg, redactor: Redactor())
    return ExecDriver(workflow: workflow(tasks: tasks, secrets: specs), secrets: resolver, options: options)
}

/// Runs task 0 as attempt 1 on the local executor.
func runTask(_ d: ExecDriver, task: Int = 0, attempt: Int = 1, values: RenderValues = RenderValues()) async -> DriverResult {
    await d.run(task: task, attempt: attempt, agent: -1, idempotencyKey: "run1/t\(task)", runID: "run1", values: values)
}

extension DriverResult {
    var out: JSONValue { outputs ?? .null }
    var message: String { if case .failure(_, let m) = outcome { m } else { "" } }
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet: it runs no more).
func processGone(_ pid: Int32) -> Bool {
    if kill(pid, 0) != 0 && errno == ESRCH { return true }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return true }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state == "Z" || state == "X"
}

func tempDir() -> String {
    let d = NSTemporaryDirectory() + "ezflow-agents-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// A loopback stand-in for Vault's KV v2 read API (python3 http.server on 127.0.0.1,
/// port chosen by the OS). Serves `secrets["mount/path"] = {field: value}` to the right token.
/// Started with our own `Subprocess` (own pipes, clean signal mask, own process group)
/// so it never holds the test runner's stdout; it also exits when its parent goes away.
final class VaultStandIn {
    let address: String
    let dir: String
    let token = CancelToken()
    let done: Task<Void, Never>

    init(token vaultToken: String, secrets: [String: [String: String]]) throws {
        dir = tempDir()
        let script = dir + "/vault.py"
        let data = try JSONSerialization.data(withJSONObject: secrets)
        try """
        import http.server, json, os, sys, threading, time
        TOKEN = \(String(reflecting: vaultToken))
        SECRETS = json.loads(\(String(reflecting: String(decoding: data, as: UTF8.self))))
        PARENT = os.getppid()
        def watchdog():
            t0 = time.time()
            while os.getppid() == PARENT and time.time() - t0 < 60:
                time.sleep(0.2)
            os._exit(0)
        threading.Thread(target=watchdog, daemon=True).start()
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def send(self, code, body):
                b = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)
            def do_GET(self):
                if self.headers.get("X-Vault-Token") != TOKEN:
                    return self.send(403, {"errors": ["permission denied"]})
                p = self.path
                if not p.startswith("/v1/"): return self.send(404, {"errors": []})
                mount, _, rest = p[4:].partition("/")
                if not rest.startswith("data/"): return self.send(404, {"errors": []})
                key = mount + "/" + rest[5:]
                if key not in SECRETS: return self.send(404, {"errors": []})
                self.send(200, {"data": {"data": SECRETS[key], "metadata": {"version": 1}}})
        s = http.server.HTTPServer(("127.0.0.1", 0), H)
        with open(sys.argv[1] + ".tmp", "w") as f: f.write(str(s.server_address[1]))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        s.serve_forever()
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let portFile = dir + "/port"
        let env = ProcessInfo.processInfo.environment
        let req = SpawnRequest(executable: "/usr/bin/env", arguments: ["env", "python3", script, portFile],
                               environment: env,
                               timeoutMs: 60_000, killGraceMs: 500)
        let cancel = token
        done = Task.detached { _ = try? await Subprocess.run(req, cancel: cancel) }
        let until = Date().addingTimeInterval(10)
        var port: String?
        while Date() < until {
            if let p = try? String(contentsOfFile: portFile, encoding: .utf8) { port = p; break }
            usleep(20_000)
        }
        guard let port else {
            token.cancel()
            throw XCTSkip("python3 vault stand-in did not start")
        }
        address = "http://127.0.0.1:\(port)"
    }

    /// Stops the server (SIGTERM to its group, SIGKILL after the grace) and waits for it.
    func stop() async {
        token.cancel()
        await done.value
        try? FileManager.default.removeItem(atPath: dir)
    }
}
