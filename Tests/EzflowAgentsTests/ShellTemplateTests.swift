// Issue 9 §1/§2 at the driver: a `run:` template's values are data. Every hostile value
// goes through the real exec driver in every place a template can put it, under /bin/sh
// and bash; the task writes what it received to a file, which must hold exactly the
// value's bytes, and the marker file the value would `touch` must not exist.
import EzflowAgents
import EzflowIR
import EzflowShell
import EzflowTestSupport
import Foundation
import XCTest

final class ShellTemplateTests: XCTestCase {
    /// Template parts from text where `{v}` stands for `${inputs.v}`.
    func parts(_ template: String) -> [JSONValue] {
        var out: [JSONValue] = []
        let pieces = template.components(separatedBy: "{v}")
        for (i, p) in pieces.enumerated() {
            if !p.isEmpty { out.append(text(p)) }
            if i < pieces.count - 1 { out.append(inputRef("v")) }
        }
        return out
    }

    func script(_ template: String, _ v: String = "1") throws -> ShellCommand {
        try TemplateRenderer(values: RenderValues(inputs: ["v": .string(v)])).renderScript(parts(template))
    }

    /// Each context gets the reference form that expands to exactly the value.
    func testReferenceFormByContext() throws {
        let cases: [(String, String)] = [
            ("echo {v}", #"echo "${EZFLOW_V1}""#),
            ("echo '{v}'", #"echo ''"${EZFLOW_V1}"''"#),
            ("echo 'a{v}b'", #"echo 'a'"${EZFLOW_V1}"'b'"#),
            (#"echo "a{v}b""#, #"echo "a${EZFLOW_V1}b""#),
            ("echo $(cat {v})", #"echo $(cat "${EZFLOW_V1}")"#),
            ("echo `cat {v}`", #"echo `cat "${EZFLOW_V1}"`"#),
            (#"echo "$(cat '{v}')""#, #"echo "$(cat ''"${EZFLOW_V1}"'')""#),
            ("echo ${X:-{v}}", #"echo ${X:-"${EZFLOW_V1}"}"#),
            (#"echo "${X:-{v}}""#, #"echo "${X:-${EZFLOW_V1}}""#),
            ("echo $(({v} + 1))", "echo $((${EZFLOW_V1} + 1))"),
            ("cat <<EOF\n{v}\nEOF\necho {v}", "cat <<EOF\n${EZFLOW_V1}\nEOF\necho \"${EZFLOW_V2}\""),
            ("echo x # {v}\necho {v}", "echo x # ${EZFLOW_V1}\necho \"${EZFLOW_V2}\""),
            ("echo \\{v}", #"echo \\"${EZFLOW_V1}""#),
            (#"echo "\{v}""#, #"echo "\\${EZFLOW_V1}""#),
            ("echo x$" + "{v}", #"echo x\$"${EZFLOW_V1}""#),
            (#"echo "$"# + "{v}\"", #"echo "\$${EZFLOW_V1}""#),
            ("echo `echo \\{v}`", #"echo `echo \\\\"${EZFLOW_V1}"`"#),
        ]
        for (template, expected) in cases {
            let c = try script(template)
            XCTAssertEqual(c.script, expected, template)
            XCTAssertFalse(c.script.contains("x\u{0}"), template)
        }
        XCTAssertEqual(try script("echo {v} {v}", "a b").environment.map(\.0), ["EZFLOW_V1", "EZFLOW_V2"])
        // Two here-documents announced on one line, the second with a quoted delimiter
        // and `<<-` (tabs before its delimiter), then a command again.
        var s = ShellScript()
        s.append(text: "cat <<A; cat <<-'B'\n")
        let a = s.appendValue(variable: "X")
        s.append(text: "\nA\n")
        let b = s.appendValue(variable: "Y")
        s.append(text: "\n\tB\necho ")
        let c = s.appendValue(variable: "Z")
        XCTAssertEqual([a.context, b.context, c.context], [.hereDocument, .quotedHereDocument, .unquoted])
        XCTAssertEqual(c.words, ["echo"])
        XCTAssertEqual(try script("echo {v}", "a b").environment.map(\.1), ["a b"])
    }

    /// The template contexts the hostile table goes through, and what the task must see.
    static let contexts: [(name: String, template: String, around: (String, String))] = [
        ("bare", "printf '%s' {v} > out", ("", "")),
        ("single quotes", "printf '%s' '{v}' > out", ("", "")),
        ("single quotes with text", "printf '%s' '<{v}>' > out", ("<", ">")),
        ("double quotes", "printf '%s' \"{v}\" > out", ("", "")),
        ("double quotes with text", "printf '%s' \"<{v}>\" > out", ("<", ">")),
        ("after a word", "printf '%s' x{v}y > out", ("x", "y")),
        ("command substitution", "x=$(printf '%s' {v} > out)", ("", "")),
        ("backquotes", "x=`printf '%s' {v} > out`", ("", "")),
        ("here-document", "cat > out <<EOF\n{v}\nEOF", ("", "\n")),
        ("parameter default", "printf '%s' \"${UNSET_X:-{v}}\" > out", ("", "")),
        ("unquoted parameter default", "printf '%s' ${UNSET_X:-{v}} > out", ("", "")),
        ("after a backslash", "printf '%s' \\{v} > out", ("\\", "")),
        ("after a dollar", "printf '%s' x${v} > out", ("x$", "")),
        ("assignment", "X={v}; printf '%s' \"$X\" > out", ("", "")),
        ("case subject", "case {v} in *) printf '%s' {v} > out;; esac", ("", "")),
        ("sh -c argument", "sh -c 'printf %s \"$1\" > out' sh {v}", ("", "")),
    ]

    func testHostileValuesAreDataInEveryContext() async throws {
        let dir = NSTemporaryDirectory() + "ezflow-shell-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let marker = dir + "/PWNED"
        let shells = ["/bin/sh", "/bin/bash"].filter { FileManager.default.isExecutableFile(atPath: $0) }
        var runs = 0
        for shell in shells {
            for (vname, value) in HostileValues.all(marker: marker) {
                for ctx in Self.contexts {
                    let d = driver([irTask("t", parts(ctx.template))],
                                   options: ExecOptions(shell: shell, workingDirectory: dir, killGraceMs: 300))
                    let out = dir + "/out"
                    try? FileManager.default.removeItem(atPath: out)
                    let r = await runTask(d, values: RenderValues(inputs: ["v": .string(value)]))
                    let what = "\(shell), \(vname), \(ctx.name)"
                    XCTAssertNil(r.errorClass, "\(what): \(r.message) \(r.stderr)")
                    let seen = FileManager.default.contents(atPath: out).map { [UInt8]($0) }
                    XCTAssertEqual(seen, Array((ctx.around.0 + value + ctx.around.1).utf8), what)
                    XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "\(what): the value ran as code")
                    runs += 1
                }
            }
        }
        XCTAssertGreaterThanOrEqual(runs, 30 * Self.contexts.count)
    }

    func testNULByteIsARenderErrorNamingTheValue() async throws {
        let d = driver([irTask("t", parts("echo {v}"))])
        let r = await runTask(d, values: RenderValues(inputs: ["v": .string("a\u{0}; touch /tmp/x")]))
        XCTAssertEqual(r.errorClass, "render_error")
        XCTAssertEqual(r.message, "task `t`: the value of `${inputs.v}` contains a NUL byte, which no environment variable or argument can carry")
        XCTAssertNil(r.pid, "nothing ran")
        // An upstream task's output (an LLM reply, say) is named as the author wrote it.
        let o = driver([irTask("t", [text("echo "), outputRef(1, "text")], deps: [1]), irTask("ask", [text("x")])])
        let r1 = await runTask(o, values: RenderValues(taskOutputs: [1: .object([("text", .string("a\u{0}b"))])]))
        XCTAssertEqual(r1.message, "task `t`: the value of `${ask.outputs.text}` contains a NUL byte, which no environment variable or argument can carry")
        let e = driver([irTask("t", [text("echo $V")], env: [("V", inputRef("v"))])])
        let r2 = await runTask(e, values: RenderValues(inputs: ["v": .string("a\u{0}b")]))
        XCTAssertEqual(r2.errorClass, "render_error")
        XCTAssertEqual(r2.message, "task `t`: invalid environment variable `V`: its value contains a NUL byte, which no environment variable can carry")
    }

    func testValuesThatCannotBeDataAreRefused() async throws {
        func message(_ template: String, _ v: String) async -> (String?, String) {
            let r = await runTask(driver([irTask("t", parts(template))]), values: RenderValues(inputs: ["v": .string(v)]))
            return (r.errorClass, r.message)
        }
        let big = String(repeating: "x", count: 131_072)
        var (c, m) = await message("echo {v}", big)
        XCTAssertEqual(c, "render_error")
        XCTAssertEqual(m, "task `t`: the value of `${inputs.v}` is 131072 bytes; a value passed to a shell can be at most 131061 bytes (pass larger data in a file)")
        (c, m) = await message("echo $(({v} + 1))", "a[$(touch /tmp/x)]")
        XCTAssertEqual(c, "render_error")
        XCTAssertEqual(m, "task `t`: `${inputs.v}` is used in shell arithmetic (`$((…))`) but its value is not an integer")
        let ok = await runTask(driver([irTask("t", parts("echo $(({v} + 1))"))]), values: RenderValues(inputs: ["v": .string("-41")]))
        XCTAssertEqual(ok.out["stdout"], .string("-40"))
        (c, m) = await message("cat <<'EOF'\n{v}\nEOF", "x")
        XCTAssertEqual(c, "render_error")
        XCTAssertTrue(m.contains("here-document with a quoted delimiter"), m)
    }

    /// A secret interpolated in `run:` travels in the environment: the spawn request's
    /// argv holds only the reference.
    func testSecretInRunIsNotInArgv() throws {
        let secret = "s3cr3t-\(UUID().uuidString)"
        let d = driver([irTask("t", [text("curl -H 'Authorization: Bearer "), secretRef("tok"), text("' x")], secrets: ["tok"])],
                       specs: [SecretSpec(name: "tok", provider: .env, key: "TOK")], env: ["TOK": secret])
        guard case .ready(let p) = d.prepare(task: 0, attempt: 1, agent: -1, idempotencyKey: "k", runID: "r",
                                             values: RenderValues(secrets: ["tok": secret])) else { return XCTFail("not prepared") }
        XCTAssertEqual(p.request.arguments, ["/bin/sh", "-c", #"curl -H 'Authorization: Bearer '"${EZFLOW_V1}"'' x"#])
        XCTAssertFalse(p.request.arguments.joined().contains(secret))
        XCTAssertEqual(p.request.environment["EZFLOW_V1"], secret)
    }

    /// The last value's slot in a template where `{v}` stands for a value.
    func slot(_ template: String) -> ShellSlot? {
        var s = ShellScript()
        let pieces = template.components(separatedBy: "{v}")
        var last: ShellSlot?
        for (i, p) in pieces.enumerated() {
            s.append(text: p)
            if i < pieces.count - 1 { last = s.appendValue(variable: "V") }
        }
        return last
    }

    /// W0801's rule: a value in the argument list of a program, not of a builtin.
    func testReachesArgv() {
        for t in ["curl -H 'Authorization: {v}' u", "/bin/echo {v}", "{v}", "env T={v} cmd", "sh -c 'x' sh {v}",
                  "if ./login {v}; then :; fi", "if true; then curl {v}; fi", "exec ./run {v}", "x=$(./up \"{v}\")",
                  "echo `./up {v}`"] {
            XCTAssertEqual(slot(t)?.reachesArgv, true, t)
        }
        for t in ["echo {v}", "printf '%s' {v} | curl -H @- u", "T={v} ./up", "test -n {v}", "cat <<EOF\n{v}\nEOF",
                  "export T={v}", "./up > {v}", "case {v} in *) ;; esac", "for x in {v}; do :; done", "echo x # {v}",
                  "echo $(({v}))"] {
            XCTAssertEqual(slot(t)?.reachesArgv, false, t)
        }
    }

    /// The checker's rule: values run as code are found; values used as data are not.
    func testCodeUse() {
        func use(_ template: String) -> ShellCodeUse? { slot(template)?.codeUse }
        XCTAssertEqual(use("{v} --version"), .commandName)
        XCTAssertEqual(use("X=1 {v}"), .commandName)
        XCTAssertEqual(use("env -i A=b {v}"), .commandName)
        XCTAssertEqual(use("echo a; {v}"), .commandName)
        XCTAssertEqual(use("echo a | \"{v}\" x"), .commandName)
        XCTAssertEqual(use("eval \"echo {v}\""), .evaluated(command: "eval"))
        XCTAssertEqual(use("trap 'echo {v}' EXIT"), .evaluated(command: "trap"))
        XCTAssertEqual(use(". {v}"), .sourced(command: "."))
        XCTAssertEqual(use("sh -c 'echo {v}'"), .shellScript(shell: "sh"))
        XCTAssertEqual(use("/bin/bash -o pipefail -ec \"x {v}\""), .shellScript(shell: "bash"))
        XCTAssertEqual(use("xargs sh -c 'echo {v}'"), .shellScript(shell: "sh"))
        XCTAssertEqual(use("echo $(({v}))"), .arithmetic)
        XCTAssertEqual(use("if {v}; then :; fi"), .commandName)
        XCTAssertEqual(use("while true; do eval {v}; done"), .evaluated(command: "eval"))
        for data in ["echo {v}", "git checkout -- {v}", "X={v} make", "make BRANCH={v}", "sh -c 'echo \"$1\"' sh {v}",
                     "cat > {v}", "echo $(cat {v})", "echo `cat {v}`", "printf '%s' '{v}'", "trap 'rm x' EXIT {v}",
                     ". ./lib.sh {v}", "echo x # {v}", "cat <<EOF\n{v}\nEOF", "bash script.sh {v}", "sh -e {v}"] {
            XCTAssertNil(use(data), data)
        }
    }
}
