import EzflowAgents
import EzflowCompiler
import EzflowIR
import EzflowRuntime
import Foundation
import Glibc
import XCTest

final class SecretsTests: XCTestCase {
    func testEnvSecretReachesGrantedTaskOnly() async {
        let specs = [SecretSpec(name: "api_key", provider: .env, key: "MY_API_KEY")]
        let env = ["MY_API_KEY": "sk-live-0123456789"]
        let cmd = [text(#"test "$EZFLOW_SECRET_API_KEY" = sk-live-0123456789 && echo granted"#)]
        let granted = driver([irTask("t", cmd, secrets: ["api_key"], granted: ["api_key"])], specs: specs, env: env)
        let r = await runTask(granted)
        XCTAssertEqual(r.out["stdout"], .string("granted"), r.message)

        // Declared by the task but not granted by its role: no variable, and a template
        // reference is refused before anything runs.
        let notGranted = driver([irTask("t", [text("env")], secrets: ["api_key"], granted: [])], specs: specs, env: env)
        let r2 = await runTask(notGranted)
        XCTAssertNil(r2.errorClass)
        XCTAssertFalse(r2.stdout.contains("EZFLOW_SECRET"))
        XCTAssertFalse(r2.stdout.contains("sk-live"))
        XCTAssertEqual(notGranted.secrets.redactor.patternCount, 0, "a secret was resolved for a task not granted it")
        let noRole = driver([irTask("t", [text("echo "), secretRef("api_key")], secrets: ["api_key"], granted: nil)],
                            specs: specs, env: env)
        let r3 = await runTask(noRole)
        XCTAssertEqual(r3.errorClass, "render_error")
        XCTAssertTrue(r3.message.contains("not granted"), r3.message)
    }

    func testMissingEnvSecretFails() async {
        let specs = [SecretSpec(name: "tok", provider: .env, key: "UNSET_VAR_XYZ")]
        let d = driver([irTask("t", [text("true")], secrets: ["tok"], granted: ["tok"])], specs: specs)
        let r = await runTask(d)
        XCTAssertEqual(r.errorClass, "secret_error")
        XCTAssertTrue(r.message.contains("UNSET_VAR_XYZ"), r.message)
    }

    func testFileSecret() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/db_password"
        try "hunter2-file-secret\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        let specs = [SecretSpec(name: "db_password", provider: .file, key: path)]
        let resolver = SecretResolver(specs: specs, config: SecretConfig(environment: [:]), redactor: Redactor())
        let v = try await resolver.resolve("db_password")
        XCTAssertEqual(v, "hunter2-file-secret")
        XCTAssertEqual(resolver.warnings, [])

        chmod(path, 0o644)
        let r2 = SecretResolver(specs: specs, config: SecretConfig(environment: [:]), redactor: Redactor())
        _ = try await r2.resolve("db_password")
        XCTAssertEqual(r2.warnings.count, 1)
        let strict = SecretResolver(specs: specs, config: SecretConfig(environment: [:], refuseWorldReadableFiles: true), redactor: Redactor())
        do {
            _ = try await strict.resolve("db_password")
            XCTFail("world-readable file accepted")
        } catch { XCTAssertEqual(error.kind, .forbidden) }

        // Through the driver, interpolated into the command line: works; the output is raw
        // and the value registered, so the runner's journal writer redacts it.
        chmod(path, 0o600)
        let d = driver([irTask("t", [text("echo password is "), secretRef("db_password")], secrets: ["db_password"],
                               granted: ["db_password"])], specs: specs)
        let r = await runTask(d)
        XCTAssertEqual(r.out["stdout"], .string("password is hunter2-file-secret"))
        XCTAssertEqual(d.redactor.redact(r.out), .object([("stdout", .string("password is [REDACTED:db_password]")), ("exit_code", .int(0))]))
    }

    func testVaultSecretFromLoopbackStandIn() async throws {
        let vault = try VaultStandIn(token: "s.test-token-42", secrets: ["secret/ezflow/llm": ["api_key": "vault-llm-key-777"]])
        let specs = [SecretSpec(name: "llm_key", provider: .vault, key: "secret/ezflow/llm#api_key"),
                     SecretSpec(name: "llm_key_api_form", provider: .vault, key: "secret/data/ezflow/llm#api_key"),
                     SecretSpec(name: "missing", provider: .vault, key: "secret/nope#x"),
                     SecretSpec(name: "no_field", provider: .vault, key: "secret/ezflow/llm#other")]
        let redactor = Redactor()
        let resolver = SecretResolver(specs: specs, config: SecretConfig(environment: [:], vaultAddress: vault.address,
                                                                         vaultToken: "s.test-token-42", vaultTimeout: 3),
                                      redactor: redactor)
        let v = try? await resolver.resolve("llm_key")
        XCTAssertEqual(v, "vault-llm-key-777")
        let v2 = try? await resolver.resolve("llm_key_api_form")
        XCTAssertEqual(v2, "vault-llm-key-777")
        do { _ = try await resolver.resolve("missing"); XCTFail("404 accepted") } catch { XCTAssertEqual(error.kind, .notFound) }
        do { _ = try await resolver.resolve("no_field"); XCTFail("missing field accepted") } catch { XCTAssertEqual(error.kind, .notFound) }
        // The token itself is redacted too.
        XCTAssertEqual(redactor.redact("token s.test-token-42"), "token [REDACTED:vault_token]")

        let wrong = SecretResolver(specs: specs, config: SecretConfig(environment: [:], vaultAddress: vault.address, vaultToken: "bad"),
                                   redactor: Redactor())
        do { _ = try await wrong.resolve("llm_key"); XCTFail("bad token accepted") } catch { XCTAssertEqual(error.kind, .forbidden) }

        // Through the driver.
        let d = driver([irTask("t", [text(#"echo "key=$EZFLOW_SECRET_LLM_KEY""#)], secrets: ["llm_key"], granted: ["llm_key"])],
                       specs: specs, vault: (vault.address, "s.test-token-42"))
        let r = await runTask(d)
        await vault.stop()
        XCTAssertEqual(r.out["stdout"], .string("key=vault-llm-key-777"), r.message)
        XCTAssertEqual(d.redactor.redact("key=vault-llm-key-777"), "key=[REDACTED:llm_key]")
    }

    func testVaultUnreachableIsTransient() async throws {
        // A port nobody listens on.
        let specs = [SecretSpec(name: "k", provider: .vault, key: "secret/a#b")]
        let d = driver([irTask("t", [text("true")], secrets: ["k"], granted: ["k"])], specs: specs, vault: ("http://127.0.0.1:9", "t"))
        let r = await runTask(d)
        XCTAssertEqual(r.errorClass, "transient", r.message)
    }

    /// The driver hands over raw stdout, stderr, messages and outputs; every form of the
    /// value it resolved is registered, so the journal writer's redaction finds them all.
    func testRawStdoutStderrAndErrorsWithTheSecretRegistered() async {
        let secret = "p@ss w/rd+42=="
        let specs = [SecretSpec(name: "api_key", provider: .env, key: "K")]
        let script = #"""
        echo "raw: $EZFLOW_SECRET_API_KEY"
        printf '%s' "$EZFLOW_SECRET_API_KEY" | base64
        echo "stderr: $EZFLOW_SECRET_API_KEY" >&2
        """#
        let d = driver([irTask("leaky", [text(script)], secrets: ["api_key"], granted: ["api_key"])], specs: specs, env: ["K": secret])
        let r = await runTask(d)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["stdout"], .string("raw: \(secret)\ncEBzcyB3L3JkKzQyPT0="))
        XCTAssertEqual(r.stderr, "stderr: \(secret)\n")
        XCTAssertEqual(d.redactor.redact(r.out)["stdout"], .string("raw: [REDACTED:api_key]\n[REDACTED:api_key]"))
        XCTAssertEqual(d.redactor.redact(r.stderr), "stderr: [REDACTED:api_key]\n")
        XCTAssertEqual(d.redactor.redact(r.stdout), "raw: [REDACTED:api_key]\n[REDACTED:api_key]\n")

        // Error messages: from stderr on a non-zero exit, and from a JSON error report.
        let d2 = driver([irTask("leaky", [text(#"echo "could not log in with $EZFLOW_SECRET_API_KEY" >&2; exit 1"#)],
                                secrets: ["api_key"], granted: ["api_key"])], specs: specs, env: ["K": secret])
        let r2 = await runTask(d2)
        XCTAssertEqual(r2.errorClass, "agent_error")
        XCTAssertEqual(r2.message, "task `leaky`: exit code 1: could not log in with \(secret)")
        XCTAssertEqual(d2.redactor.redact(r2.message), "task `leaky`: exit code 1: could not log in with [REDACTED:api_key]")
        let d3 = driver([irTask("leaky", [text(#"printf '{"error": {"class": "auth", "message": "bad key %s"}}' "$EZFLOW_SECRET_API_KEY""#)],
                                secrets: ["api_key"], granted: ["api_key"])], specs: specs, env: ["K": secret])
        let r3 = await runTask(d3)
        XCTAssertEqual(r3.errorClass, "auth")
        XCTAssertEqual(r3.message, "task `leaky`: bad key \(secret)")
        XCTAssertEqual(d3.redactor.redact(r3.message), "task `leaky`: bad key [REDACTED:api_key]")
        // JSON outputs: parsed from the raw bytes, so the value is whole in its string.
        let d4 = driver([irTask("leaky", [text(#"printf '{"token": "%s"}' "$EZFLOW_SECRET_API_KEY""#)],
                                secrets: ["api_key"], granted: ["api_key"])], specs: specs, env: ["K": secret])
        let r4 = await runTask(d4)
        XCTAssertEqual(r4.out["token"], .string(secret))
        XCTAssertEqual(d4.redactor.redact(r4.out)["token"], .string("[REDACTED:api_key]"))
    }

    /// Outputs are parsed from the raw bytes: a secret split by a JSON escape is whole in
    /// the parsed string, where the writer's redaction finds it (in the redacted bytes
    /// the escape would have hidden it).
    func testSecretSplitByAJSONEscapeIsWholeInTheOutputs() async {
        let secret = "zk-7Aq9-sealed"
        let specs = [SecretSpec(name: "api_key", provider: .env, key: "K")]
        let d = driver([irTask("split", [text(#"printf '{"token": "zk-7\\u0041q9-sealed"}'"#)], secrets: ["api_key"], granted: ["api_key"])],
                       specs: specs, env: ["K": secret])
        let r = await runTask(d)
        XCTAssertNil(r.errorClass, r.message)
        XCTAssertEqual(r.out["token"], .string(secret))
        XCTAssertEqual(d.redactor.redact(r.out)["token"], .string("[REDACTED:api_key]"))
    }

    /// A numeric secret parsed from raw output is a number: redacting the value turns it
    /// into the redacted text, as redacting the bytes did.
    func testNumericSecretInAJSONValueIsRedacted() {
        let r = Redactor()
        r.add(name: "pin", value: "73914582")
        let v: JSONValue = .object([("pin", .int(73_914_582)), ("n", .int(7)), ("f", .float(1.5)), ("b", .bool(true))])
        XCTAssertEqual(r.redact(v), .object([("pin", .string("[REDACTED:pin]")), ("n", .int(7)), ("f", .float(1.5)), ("b", .bool(true))]))
    }

    /// Text a driver cut (a capped capture, a stderr tail, a body excerpt) can hold part
    /// of a secret at either end or next to the `…` the cut left: it goes too.
    func testRedactCutRemovesASecretCutShort() {
        let r = Redactor()
        r.add(name: "tok", value: "tk-9Aw2-hush-0451")
        XCTAssertEqual(r.redactCut("log ends tk-9Aw2"), "log ends [REDACTED:tok]")
        XCTAssertEqual(r.redactCut("sh-0451 starts"), "[REDACTED:tok] starts")
        XCTAssertEqual(r.redactCut("x: …hush-0451 tail | tk-9A…", marks: true), "x: …[REDACTED:tok] tail | [REDACTED:tok]…")
        // Without marks, only the ends; parts shorter than minimumPartLength stay.
        XCTAssertEqual(r.redactCut("a …hush-0451 b"), "a …hush-0451 b")
        XCTAssertEqual(r.redactCut("ends tk-"), "ends tk-")
        XCTAssertEqual(r.redactCut("whole tk-9Aw2-hush-0451 and tk-9Aw"), "whole [REDACTED:tok] and [REDACTED:tok]")
        XCTAssertEqual(Redactor().redactCut("nothing registered tk-9"), "nothing registered tk-9")
    }

    /// A JSON document (a task's stdout, as a log or the implicit `stdout` output) whose
    /// escape hides a secret from the byte patterns is re-encoded, redacted; one with
    /// nothing hidden keeps its bytes.
    func testRedactDocumentFindsASecretBehindAnEscape() {
        let r = Redactor()
        r.add(name: "tok", value: "tk-9Aw2-hush-0451")
        let hidden = #"{"a": "tk-9\u0041w2-hush-0451", "b": "x\ny"}"# + "\n"
        XCTAssertEqual(r.redactDocument(hidden), #"{"a":"[REDACTED:tok]","b":"x\ny"}"# + "\n")
        XCTAssertEqual(r.redact(.object([("stdout", .string(hidden))])), .object([("stdout", .string(#"{"a":"[REDACTED:tok]","b":"x\ny"}"# + "\n"))]))
        let plain = #"{"a":  "tk-9Aw2-hush-0451", "b": "x\ny"}"#
        XCTAssertEqual(r.redactDocument(plain), #"{"a":  "[REDACTED:tok]", "b": "x\ny"}"#)
        XCTAssertEqual(r.redactDocument(#"not json tk-9\u0041w2"#), #"not json tk-9\u0041w2"#)
    }

    func testRedactorEncodings() {
        let r = Redactor()
        r.add(name: "s", value: "a b/c?d&e=f")
        XCTAssertEqual(r.redact("x a b/c?d&e=f y"), "x [REDACTED:s] y")
        XCTAssertEqual(r.redact("q=a%20b%2Fc%3Fd%26e%3Df"), "q=[REDACTED:s]")
        XCTAssertEqual(r.redact("q=a+b%2Fc%3Fd%26e%3Df"), "q=[REDACTED:s]")
        XCTAssertEqual(r.redact("q=a%20b%2fc%3fd%26e%3df"), "q=[REDACTED:s]")
        let b64 = Data("a b/c?d&e=f".utf8).base64EncodedString()
        XCTAssertEqual(r.redact("auth: \(b64)"), "auth: [REDACTED:s]")
        r.add(name: "q", value: #"say "hi"\now"#)
        XCTAssertEqual(r.redact(#"{"v":"say \"hi\"\\now"}"#), #"{"v":"[REDACTED:q]"}"#)
        XCTAssertEqual(r.redact(.object([("k", .array([.string("say \"hi\"\\now!")]))])),
                       .object([("k", .array([.string("[REDACTED:q]!")]))]))
        // Too short to redact safely.
        r.add(name: "tiny", value: "ab")
        XCTAssertEqual(r.redact("abc"), "abc")
        // Longest first: a secret containing another is replaced whole.
        let r2 = Redactor()
        r2.add(name: "short", value: "abc")
        r2.add(name: "long", value: "xxabcxx")
        XCTAssertEqual(r2.redact("xxabcxx abc"), "[REDACTED:long] [REDACTED:short]")
    }

    /// End to end from ezflow source: the compiler's IR, its role grants and env secrets.
    func testCompiledWorkflow() async throws {
        let src = """
        secret deploy_token {
          provider: env
          key: "DEPLOY_TOKEN"
        }
        secret other_token {
          provider: env
          key: "OTHER_TOKEN"
        }
        agent runner {
          driver: exec
          capabilities: ["shell"]
        }
        role deployer {
          allow: [run]
          agents: [runner]
          secrets: [deploy_token]
        }
        role reader {
          allow: [run]
          agents: [runner]
          secrets: [other_token]
        }
        workflow ship {
          input target: string = "staging"
          task build {
            role: reader
            run: "printf '{\\"image\\": \\"app:%s\\"}' \\"$TARGET\\""
            env: { TARGET: inputs.target }
            output image: string
          }
          task deploy {
            role: deployer
            env: { IMAGE: build.outputs.image, TOKEN: secrets.deploy_token }
            run: "echo deploying $IMAGE with $TOKEN; env | grep -c OTHER || true"
          }
        }
        """
        let built = Compiler.build(root: "main.ezflow", files: ["main.ezflow": src])
        let bytes = try XCTUnwrap(built.ir, "\(built.failure ?? "") \(built.check.diagnostics.map(\.message))")
        let program = try EzflowIR.validate(bytes)
        let plan = try Plan(program)
        let d = ExecDriver(program: program,
                           secretConfig: SecretConfig(environment: ["DEPLOY_TOKEN": "dt-secret-1", "OTHER_TOKEN": "ot-secret-2"]))
        let build = plan.taskNames.firstIndex(of: "build")!, deploy = plan.taskNames.firstIndex(of: "deploy")!
        let inputs: [String: JSONValue] = ["target": .string("prod")]
        let r1 = await d.perform(.dispatch(task: build, attempt: 1, agent: 0, idempotencyKey: "run/build"), runID: "run",
                                 values: RenderValues(inputs: inputs))
        let o1 = try XCTUnwrap(r1?.outputs, r1?.message ?? "")
        XCTAssertEqual(o1["image"], .string("app:prod"))
        let r2 = await d.perform(.dispatch(task: deploy, attempt: 1, agent: 0, idempotencyKey: "run/deploy"), runID: "run",
                                 values: RenderValues(inputs: inputs, taskOutputs: [build: o1]))
        XCTAssertEqual(r2?.outputs?["stdout"], .string("deploying app:prod with dt-secret-1\n0"), r2?.message ?? "")
        XCTAssertEqual(d.redactor.redact("with dt-secret-1 not ot-secret-2"), "with [REDACTED:deploy_token] not ot-secret-2")
        let none = await d.perform(.finishRun(.success), runID: "run", values: RenderValues())
        XCTAssertNil(none)
    }
}
