/// The documentation of one diagnostic code: its title (the short name in docs/codes.txt)
/// and the long explanation that `ezc explain CODE` prints and SARIF rules carry.
public struct CatalogueEntry: Sendable, Hashable {
    /// `E0xxx` or `W0xxx`, as in `Diagnostic.code`.
    public let code: String
    /// The severity diagnostics with this code are reported at by default.
    public let severity: Severity
    /// A short lowercase name for the rule, e.g. "dependency cycle".
    public let title: String
    /// Plain text: a paragraph stating the rule and why it exists, then an erroneous and a
    /// corrected example in ezflow syntax, indented four spaces. Lines fit 80 columns.
    public let explanation: String

    public init(code: String, severity: Severity, title: String, explanation: String) {
        self.code = code
        self.severity = severity
        self.title = title
        self.explanation = explanation
    }

    /// The explanation's first paragraph on one line: the rule and its reason, for
    /// places that show a description but not the examples (SARIF `fullDescription`).
    public var summary: String {
        var words: [Substring] = []
        for line in explanation.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.allSatisfy({ $0 == " " }) { break }
            words += line.split(separator: " ")
        }
        return words.joined(separator: " ")
    }
}

/// Every diagnostic code ezc can report, with its explanation. This file is where the
/// teaching prose lives: code that finds a problem builds a `Diagnostic` with a terse
/// headline, and the "why" is written once, here. Entries are sorted by code; codes are
/// stable and never reused, and docs/codes.txt lists the same codes and titles (a test
/// keeps the two in step).
public enum Catalogue {
    /// All entries, sorted by code.
    public static let all: [CatalogueEntry] = [
        entry(
            "E0100", .error, "invalid character",
            #"""
            A character outside a string or comment cannot start any ezflow token.
            Outside strings and comments ezflow uses only ASCII letters, digits, `_`,
            whitespace and its own punctuation and operators. The usual culprits are
            "smart" quotes pasted from a document, a shell-style single quote, a
            lone `&` or `|` where `&&` or `||` was meant, or a `//` comment from
            another language: comments start with `#` (the fix replaces `//` with `#`,
            and the rest of that line is skipped as a comment). The lexer reports the whole
            run of bad characters once and skips it, so the rest of the file is still
            checked, rather than guessing what was meant and compiling something else.
            Any text is welcome inside strings and comments.

            Erroneous example:

                task build {
                  run: 'make all'
                }

            Corrected example:

                task build {
                  run: "make all"
                }
            """#),
        entry(
            "E0101", .error, "unterminated string literal",
            #"""
            A string was opened with `"` and not closed on the same line, or opened
            with `"""` and never closed. An ordinary string must end on the line where
            it starts: that keeps one missing quote from swallowing the rest of the
            file and turning a single mistake into dozens of errors. Text that spans
            several lines belongs in a `"""` string, whose common leading indentation
            is removed.

            Erroneous example:

                task greet {
                  run: "echo hello
                  timeout: 30s
                }

            Corrected example:

                task greet {
                  run: "echo hello"
                  timeout: 30s
                }

                task review {
                  prompt: """
                    Review this change.
                    Point out bugs first and style last.
                    """
                }
            """#),
        entry(
            "E0102", .error, "invalid escape sequence in string",
            #"""
            A backslash in a string is followed by a character that does not make one
            of ezflow's escapes: `\n` (newline), `\t` (tab), `\r` (carriage return),
            `\"` (quote), `\\` (backslash) and `\$` (a literal `$`, so that `\${` is
            not read as an interpolation). Unknown escapes are rejected rather than
            kept as written, so that every escape means exactly one thing and new ones
            can be added later without changing the meaning of existing workflows. A
            literal backslash, common in regular expressions and Windows paths, is
            written `\\`.

            Erroneous example:

                task count_errors {
                  run: "grep -cE '\d+ errors' build.log"
                }

            Corrected example:

                task count_errors {
                  run: "grep -cE '\\d+ errors' build.log"
                }
            """#),
        entry(
            "E0103", .error, "invalid number or unit literal",
            #"""
            A number is malformed or carries a suffix ezflow does not know. Durations
            take one of `ms`, `s`, `m`, `h` or `d` directly after the number (`250ms`,
            `1.5h`); token counts are a number, optionally with `k` or `M`, followed
            by the word `tokens` (`200k tokens`); money is `$` and an amount (`$2.50`).
            Units are part of the literal so that the checker can tell a duration from
            money or a token count (see E0301), and a misspelt unit is an error rather
            than being read as a bare number or as some other unit. Note that `m`
            means minutes and `M` means millions.

            Erroneous example:

                task build {
                  run: "make"
                  timeout: 10min
                  max_cost: $
                }

            Corrected example:

                task build {
                  run: "make"
                  timeout: 10m
                  max_cost: $0.50
                }
            """#),
        entry(
            "E0104", .error, "unexpected token",
            #"""
            The parser met a token that cannot continue what it was reading. Every
            construct has one of two shapes: an attribute `name: value`, or a block
            `kind name { ... }`; elements of lists, records and calls are separated by
            commas. Keeping to these shapes is what lets the text and YAML surfaces,
            the formatter and error recovery share one tree. The message says what was
            expected; the parser then skips to the next member or closing brace and
            carries on, so one typo gives one error rather than a cascade.

            Erroneous example:

                task build {
                  run = "make"
                  after: [fetch lint]
                }

            Corrected example:

                task build {
                  run: "make"
                  after: [fetch, lint]
                }
            """#),
        entry(
            "E0105", .error, "unclosed delimiter",
            #"""
            A `{`, `[` or `(` is never closed, or is closed by the wrong kind of
            bracket. Every block, list, record and call must be closed for the file to
            have one unambiguous structure. The error points at the opening delimiter,
            because the place where the parser notices the problem, often the end of
            the file, is usually far from where the bracket is missing. Indentation is
            a good guide: the culprit is usually the block whose closing brace does not
            line up with its start.

            Erroneous example:

                workflow release {
                  task build {
                    run: "make"

                  task test {
                    run: "make test"
                    after: [build]
                  }
                }

            Corrected example:

                workflow release {
                  task build {
                    run: "make"
                  }

                  task test {
                    run: "make test"
                    after: [build]
                  }
                }
            """#),
        entry(
            "E0106", .error, "nesting too deep",
            #"""
            Blocks, lists, records, parentheses or string interpolations are nested
            deeper than the compiler's fixed limit. The limit is what guarantees that
            any input, however hostile or badly generated, gives a diagnostic instead
            of exhausting the stack. Hand-written workflows stay far below it; hitting
            it usually means a generator emitted one deeply nested value where a flat
            list, or several named declarations, would do.

            Erroneous example (generated, shortened):

                input matrix: json = [[[[[[[[[[[[[[[[ ... ]]]]]]]]]]]]]]]]

            Corrected example:

                input matrix: list[list[string]] = [
                  ["linux", "x86_64"],
                  ["linux", "arm64"],
                  ["macos", "arm64"],
                ]
            """#),
        entry(
            "E0107", .error, "file too large",
            #"""
            A source file is larger than ezc accepts. Each file is held in memory with
            an index of its lines, and the limit bounds the time and memory one file
            can cost, so that a mistaken argument (a log, a binary, a data dump) fails
            at once instead of exhausting the machine. A workflow that really is this
            large should be split: put groups of tasks into sub-workflows in files of
            their own and run them as nested workflows.

            Erroneous example:

                $ ezc check everything.ezflow    # a generated file above the limit

            Corrected example:

                # ingest.ezflow
                workflow ingest {
                  input day: string
                  task fetch { run: "fetch --day ${inputs.day}" }
                }

                # nightly.ezflow
                import "./ingest.ezflow"

                workflow nightly {
                  input day: string
                  task ingest_day {
                    workflow: ingest.ingest
                    with: { day: inputs.day }
                  }
                }
            """#),
        entry(
            "E0108", .error, "file is not valid UTF-8",
            #"""
            Source files must be encoded as UTF-8. ezc reports the first invalid byte
            rather than guessing another encoding, because a wrong guess would silently
            change the text of strings, and every column it reported would be off
            (columns count Unicode characters). Files saved as Latin-1 or Windows-1252
            by an older editor are the usual cause: save the file as UTF-8 again, or
            convert it with `iconv -f latin1 -t utf-8`.

            Erroneous example (the file holds the Latin-1 byte 0xE9 for "é"):

                workflow rapport {
                  description: "r<0xE9>sum<0xE9> quotidien"
                }

            Corrected example (the same text saved as UTF-8):

                workflow rapport {
                  description: "résumé quotidien"
                }
            """#),
        entry(
            "E0200", .error, "cannot find name in scope",
            #"""
            A name is used that no declaration in scope defines. Names are resolved
            when the workflow is checked, not when it runs, so that a misspelt task,
            agent, role or import alias fails in `ezc check` rather than an hour into
            a run. In scope are the declarations of the file (those at top level and
            those inside the workflow share one namespace), the declarations of
            imported modules as `alias.name`, and the enum cases as `Enum.case`. When
            a similar name exists, the help line suggests it.

            A `${NAME}` inside a string is an ezflow interpolation, also in a `run:`
            script. A shell variable such as `${HOME}` is therefore read as an ezflow
            name; to hand it to the shell, escape the dollar: `\${HOME}` (the help
            line and the fix say so when the name is in no scope and looks like a
            shell variable).

            Erroneous example:

                workflow ci {
                  task build { run: "make" }
                  task test { run: "make test", after: [biuld] }
                }

            Corrected example:

                workflow ci {
                  task build { run: "make" }
                  task test { run: "make test", after: [build] }
                }
            """#),
        entry(
            "E0201", .error, "duplicate declaration",
            #"""
            Two declarations in one file have the same name. Every reference in ezflow
            is by name, so a second `task test` would make `after: [test]` or an output
            read such as `test.outputs.report` ambiguous, and ezc will not pick one
            for you. Declarations at top level and inside the workflow share one
            namespace, so a top-level declaration also clashes with one of the same
            name in the workflow. The error points at the second declaration and
            labels the first.

            Erroneous example:

                workflow ci {
                  task test { run: "make test" }
                  task test { run: "make integration-test" }
                }

            Corrected example:

                workflow ci {
                  task test { run: "make test" }
                  task integration_test { run: "make integration-test" }
                }
            """#),
        entry(
            "E0202", .error, "unknown block kind or block in the wrong place",
            #"""
            A block's kind is not one ezflow defines, or the block stands where that
            kind is not allowed. The syntax accepts any word in block position and the
            checker gives each kind its meaning: `workflow`, `task`, `group`, `agent`,
            `role`, `policy`, `secret`, `retry`, `error`, `budget`, `input`, `output`,
            `enum` and `type`, each in its own places (tasks and groups inside a
            workflow or group, `budget` inside a workflow, group or task, and so on).
            Anything else is an error, so that a misspelt kind is caught instead of
            being ignored together with everything inside it.

            Erroneous example:

                workflow ci {
                  taks build { run: "make" }
                  agent runner {
                    driver: exec
                    task warm_up { run: "true" }
                  }
                }

            Corrected example:

                workflow ci {
                  task build { run: "make" }
                  task warm_up { run: "true" }
                  agent runner { driver: exec }
                }
            """#),
        entry(
            "E0203", .error, "unknown attribute",
            #"""
            An attribute name is not one that the enclosing block accepts. Each block
            kind has a fixed set of attributes, and an unknown one is an error rather
            than being ignored, because a misspelt `timout` that was silently dropped
            would leave the task with no timeout at all, which nobody notices until
            the day it hangs. The help line suggests the closest valid name, also
            for a plural such as `retries` (the attribute is `retry`). An attribute
            that belongs to one action (`approvers` to `approve`, `system`,
            `messages`, `temperature` and `stop` to `prompt`) is refused on a task
            with another action for the same reason: nothing would read it.

            Erroneous example:

                task build {
                  run: "make"
                  timout: 10m
                }

            Corrected example:

                task build {
                  run: "make"
                  timeout: 10m
                }
            """#),
        entry(
            "E0204", .error, "missing required attribute",
            #"""
            A block lacks an attribute it must have. Most attributes are optional and
            have a documented default; the required ones are those where any default
            would be a guess with consequences, such as the `effect` and `action` of a
            policy: allowing by default would be unsafe and denying by default would
            be surprising, so the author has to say. The message names the missing
            attribute.

            Erroneous example:

                policy no_prod_for_developers {
                  action: run
                  roles: [developer]
                  when: "prod" in task.tags
                }

            Corrected example:

                policy no_prod_for_developers {
                  effect: deny
                  action: run
                  roles: [developer]
                  when: "prod" in task.tags
                }
            """#),
        entry(
            "E0205", .error, "attribute given twice",
            #"""
            The same attribute appears twice in one block. Whichever one won, the other
            would be silently ignored, and a reader cannot tell which was meant; ezc
            reports the second and labels the first. This usually comes from a merge,
            or from setting an attribute at the bottom of a long block without seeing
            that it is already set at the top. Keep the one you mean. The same holds
            for a task's one fallback: `catch` in two of its `retry` rules, and for
            `retry: NAME` next to `retry { }` blocks (write every rule as a block).

            Erroneous example:

                task integration_test {
                  run: "make integration-test"
                  timeout: 10m
                  after: [build]
                  timeout: 30m
                }

            Corrected example:

                task integration_test {
                  run: "make integration-test"
                  timeout: 30m
                  after: [build]
                }
            """#),
        entry(
            "E0206", .error, "import not found",
            #"""
            An `import` names a module that does not exist. `import "std/NAME"` loads
            `NAME.ezflow` from the standard library, and a path starting with `./` or
            `../` is taken from the directory of the importing file, not from the
            directory ezc runs in, so that a workflow checks the same wherever it is
            checked from. Imports are resolved before anything else, so a missing
            module is reported once, here, rather than at every use of its alias.

            Erroneous example:

                # in ci/release.ezflow; the module is ci/lib/deploy.ezflow
                import "std/retries"
                import "./ci/lib/deploy.ezflow"

            Corrected example:

                # in ci/release.ezflow; the module is ci/lib/deploy.ezflow
                import "std/retry"
                import "./lib/deploy.ezflow"
            """#),
        entry(
            "E0207", .error, "import cycle",
            #"""
            Modules import each other in a loop: one module imports another which,
            directly or through others, imports the first again. Each module is loaded
            and checked once, after the modules it imports, so that its declarations
            have one meaning; a cycle leaves no module to start from. The message
            lists the whole chain. Move what both modules need into a third module
            that both import.

            Erroneous example:

                # roles.ezflow
                import "./agents.ezflow"
                secret deploy_token { provider: env, key: "DEPLOY_TOKEN" }
                role deployer { allow: [run], agents: [agents.deploy_hook] }

                # agents.ezflow
                import "./roles.ezflow"
                agent deploy_hook {
                  driver: http
                  url: "https://deploy.example.com/run"
                  api_key: roles.deploy_token
                }

            Corrected example:

                # credentials.ezflow
                secret deploy_token { provider: env, key: "DEPLOY_TOKEN" }

                # roles.ezflow
                import "./agents.ezflow"
                role deployer { allow: [run], agents: [agents.deploy_hook] }

                # agents.ezflow
                import "./credentials.ezflow"
                agent deploy_hook {
                  driver: http
                  url: "https://deploy.example.com/run"
                  api_key: credentials.deploy_token
                }
            """#),
        entry(
            "E0208", .error, "task must have exactly one action",
            #"""
            A task has no action, or more than one. The action says what the task does
            and picks the driver that does it: `run` (a shell command), `prompt` (ask
            an agent), `call` (POST to a URL), `approve` (wait for a human) or
            `workflow` (run a nested workflow). A task with no action would do
            nothing, and one with two would leave unclear which runs first, what a
            retry repeats and what a timeout covers. Split work that needs two actions
            into two tasks joined by `after`.

            Erroneous example:

                task release {
                  run: "make dist"
                  call: "https://deploy.example.com/hooks/release"
                }

            Corrected example:

                task package {
                  run: "make dist"
                }

                task release {
                  call: "https://deploy.example.com/hooks/release"
                  after: [package]
                }
            """#),
        entry(
            "E0209", .error, "invalid value for attribute (not one of the allowed words)",
            #"""
            An attribute that takes a word from a fixed set was given another word.
            Such attributes (`driver`, `backoff`, `jitter`, `effect`, `action`,
            `allow`, `provider`, `selector` and `on_conflict`) take bare words, not
            strings, and each word names a behaviour the runtime implements; any other
            word would have no defined meaning. The help line lists the allowed words
            or suggests the closest one. The `role` of a message in a prompt task's
            `messages` is such a word too: `user` or `assistant` (the system prompt
            is the task's `system`); a role computed at run time is checked when the
            task runs (`render_error`).

            Erroneous example:

                retry flaky_network {
                  attempts: 4
                  backoff: exponentail
                  delay: 1s
                  jitter: random
                }

            Corrected example:

                retry flaky_network {
                  attempts: 4
                  backoff: exponential
                  delay: 1s
                  jitter: full
                }
            """#),
        entry(
            "E0210", .error, "more than one workflow in a file",
            #"""
            A file declares a second `workflow`. A file is what `ezc build` compiles
            into one IR, and its workflow is the entry point `ezrun` starts; with two
            there would be no saying which one the file means. (A file with no
            workflow is a library module.) Move the second workflow into a file of its
            own, and import it if the first should run it as a nested workflow.

            Erroneous example:

                # release.ezflow
                workflow build {
                  task compile { run: "make" }
                }

                workflow release {
                  task ship { run: "make publish" }
                }

            Corrected example:

                # build.ezflow
                workflow build {
                  task compile { run: "make" }
                }

                # release.ezflow
                import "./build.ezflow"

                workflow release {
                  task build_all { workflow: build.build }
                  task ship { run: "make publish", after: [build_all] }
                }
            """#),
        entry(
            "E0211", .error, "no such field",
            #"""
            A field access names a field the value does not have: an output the task
            does not declare, or a field missing from a record type. Every task output
            and record field is declared with a type, so that each read can be checked;
            reading one that does not exist could only give null at run time, far from
            the typo that caused it. The help line suggests the closest field.

            Erroneous example:

                task build {
                  run: "make dist"
                  output artifact: path
                }

                task publish {
                  run: "upload ${build.outputs.artefact}"
                }

            Corrected example:

                task build {
                  run: "make dist"
                  output artifact: path
                }

                task publish {
                  run: "upload ${build.outputs.artifact}"
                }
            """#),
        entry(
            "E0212", .error, "wrong kind of declaration (e.g. a role where an agent is expected)",
            #"""
            A name resolves, but to the wrong kind of declaration: a role where an
            agent is expected, a task where a retry rule is expected, and so on. Each
            reference expects one kind (`agent:` an agent, `role:` a role, `retry:` a
            retry rule, `after:` tasks, `secrets:` secrets), because a declaration of
            another kind has none of the properties the compiler needs from it there.
            Names of different kinds can look alike; the message says which kind the
            name is and which was expected.

            Erroneous example:

                role reviewer { allow: [run] }
                agent claude {
                  driver: llm
                  model: "claude-sonnet"
                  capabilities: ["review"]
                }

                workflow code_review {
                  task review {
                    prompt: "Review the diff"
                    agent: reviewer
                  }
                }

            Corrected example:

                workflow code_review {
                  task review {
                    prompt: "Review the diff"
                    agent: claude
                    role: reviewer
                  }
                }
            """#),
        entry(
            "E0300", .error, "type mismatch",
            #"""
            A value's type is not the type its place requires: a string where an int
            is expected, a list where a single value is expected, an optional `T?`
            where a plain `T` is required. Types are checked before the workflow runs
            so that every task receives the values it was written for, and a mismatch
            is reported where the value is written rather than where it is eventually
            used. The message names the expected and the found type. For an optional
            value, supply a fallback with `??` or `default(x, y)`.

            Erroneous example:

                workflow scale {
                  input replicas: int = "3"
                  task apply {
                    run: "kubectl scale deploy/web --replicas=${inputs.replicas}"
                    priority: "high"
                  }
                }

            Corrected example:

                workflow scale {
                  input replicas: int = 3
                  task apply {
                    run: "kubectl scale deploy/web --replicas=${inputs.replicas}"
                    priority: 8
                  }
                }
            """#),
        entry(
            "E0301", .error, "unit mismatch",
            #"""
            A quantity has the wrong unit: money where a duration is expected, a
            duration added to a token count, and so on. Durations (`30s`, `2h`), money
            (`$2.50`) and token counts (`200k tokens`) are distinct types so that
            budgets, timeouts and deadlines can be checked and added up exactly.
            Mixing them is always a mistake, however natural it reads: a "$5 timeout"
            was meant as a cost cap.

            Erroneous example:

                task summarize {
                  prompt: "Summarize the release notes"
                  timeout: $5
                }

            Corrected example:

                task summarize {
                  prompt: "Summarize the release notes"
                  timeout: 5m
                  max_cost: $5
                }
            """#),
        entry(
            "E0302", .error, "unknown type",
            #"""
            A type name is neither built in nor an enum or record type in scope. The
            built-in types are `string`, `int`, `float`, `bool`, `duration`, `money`,
            `tokens`, `path` and `json`, with `list[T]`, `map[T]` and optional `T?`;
            any other name must be an `enum` or `type` declared in the file or in an
            imported module (`alias.Name`). Inputs and outputs have declared types so
            that every use can be checked against them; an unknown type would leave
            them unchecked. The help line suggests the closest type.

            Erroneous example:

                workflow report {
                  input day: date
                  input retries: integer = 3
                }

            Corrected example:

                workflow report {
                  input day: string
                  input retries: int = 3
                }
            """#),
        entry(
            "E0303", .error, "operator cannot be applied to these types",
            #"""
            An operator is used on operands it does not accept: `&&`, `||` and `!`
            take `bool`, arithmetic takes numbers and quantities with compatible units,
            comparisons take two values of one type, and `??` takes an optional on its
            left. Expressions have no implicit conversions, so that a string can never
            quietly stand for "is not empty" or a number for "is not zero"; write the
            comparison you mean.

            Erroneous example:

                policy developers_not_in_prod {
                  effect: deny
                  action: run
                  roles: [developer]
                  when: inputs.env && "deploy" in task.tags
                }

            Corrected example:

                policy developers_not_in_prod {
                  effect: deny
                  action: run
                  roles: [developer]
                  when: inputs.env == "prod" && "deploy" in task.tags
                }
            """#),
        entry(
            "E0304", .error, "unknown function or wrong number of arguments",
            #"""
            A call names a function that does not exist, or passes the wrong number of
            arguments. Expressions are pure and fully type-checked, so they can call
            only the built-in functions: `len(x)`, `join(list, sep)`, `upper(s)`,
            `lower(s)`, `contains(c, x)`, `keys(map)` and `default(x, y)`. There are
            no user-defined functions and none with side effects; work that needs
            more belongs in a task.

            Erroneous example:

                task lint {
                  run: "lint ${join(inputs.files)}"
                  description: "lint ${length(inputs.files)} files"
                }

            Corrected example:

                task lint {
                  run: "lint ${join(inputs.files, " ")}"
                  description: "lint ${len(inputs.files)} files"
                }
            """#),
        entry(
            "E0305", .error, "nested workflow input missing or unknown",
            #"""
            A task that runs a nested workflow must supply, in `with`, every input of
            that workflow that has no default, and may supply only inputs it declares.
            The nested workflow's inputs are its interface: a missing one would leave a
            value undefined when the nested workflow runs, and an unknown one is almost
            always a misspelling of an input that then silently keeps its default.

            Erroneous example:

                # deploy.ezflow
                workflow deploy {
                  input environment: string
                  input version: string
                  input dry_run: bool = false
                  task apply {
                    run: "deploy ${inputs.environment} ${inputs.version} ${inputs.dry_run}"
                  }
                }

                # release.ezflow
                import "./deploy.ezflow"

                workflow release {
                  task ship {
                    workflow: deploy.deploy
                    with: { env: "prod" }
                  }
                }

            Corrected example:

                workflow release {
                  task ship {
                    workflow: deploy.deploy
                    with: { environment: "prod", version: "1.4.2" }
                  }
                }
            """#),
        entry(
            "E0306", .error, "value out of range (zero or negative timeout, priority outside 0-9, ...)",
            #"""
            A value has the right type but lies outside the range its attribute
            allows: for example a zero or negative `timeout`, a `priority` outside
            0 to 9 (on a task or a group), `max_parallel: 0`, a negative cost, a
            `temperature` above 2 or more than 4 `stop` sequences.
            Ranges are checked at compile time because at run time such values
            would mean a task that times out before it starts, or a scheduler given
            an order it cannot honour. Signs and units are folded first, so
            `timeout: -5s` is caught too. The message gives the allowed range;
            docs/ATTRIBUTES.md lists every attribute's range.

            Erroneous example:

                task build {
                  run: "make"
                  timeout: 0s
                  priority: 10
                }

            Corrected example:

                task build {
                  run: "make"
                  timeout: 15m
                  priority: 9
                }
            """#),
        entry(
            "E0307", .error, "attribute value must be a constant",
            #"""
            A numeric attribute (a `timeout`, a `priority`, `max_parallel`, a cost,
            a budget, ...) or a list of strings that the plan is built from
            (`needs`, `tags`, an agent's `capabilities`) was given an expression the
            compiler cannot evaluate, such as an input, a task output or the `item`
            of a `for_each`. These values shape the plan itself: the scheduler, the
            agent choice, the budgets and the deadline checks need them before the
            run starts, so they must be literals (a leading `-` is allowed on
            numbers, and then the range check decides). Pass a different value per
            run by writing a different file, or move the decision into the task's
            command. A fan-out whose items need different agents is written as one
            task per kind of agent, each with its own `needs`.

            Erroneous example:

                workflow ci {
                  input limit: duration
                  task test {
                    run: "pytest -q"
                    timeout: inputs.limit
                  }
                }

            Corrected example:

                workflow ci {
                  task test {
                    run: "pytest -q"
                    timeout: 10m
                  }
                }
            """#),
        entry(
            "E0308", .error, "for_each list not known when the run starts",
            #"""
            The list a `for_each` fans out over is expanded into one task instance
            per item when the run's plan is built, before any task has run: the
            plan's task ids, budgets and journal are fixed then, so the runtime can
            resume and replay a run exactly. The list may therefore be made only of
            literals, enum cases, workflow inputs and (in a nested workflow) the
            `item` of the task that runs it. A list read from a task's outputs, or
            computed by an operator or a function call, is known only while the run
            is under way, and the run would be refused when it starts. The same
            holds for a `with` value that a nested workflow fans out over. Pass the
            list as a workflow input instead.

            Erroneous example:

                workflow data_job {
                  task list_files { run: "ls-files --json" }
                  task process {
                    for_each: list_files.outputs.files
                    run: "process ${item}"
                  }
                }

            Corrected example:

                workflow data_job {
                  input files: list[string]
                  task process {
                    for_each: inputs.files
                    run: "process ${item}"
                  }
                }
            """#),
        entry(
            "E0400", .error, "dependency cycle",
            #"""
            Tasks depend on each other in a loop. A task depends on another when it
            lists it in `after` or reads one of its outputs (`tag.outputs.version`).
            A workflow must be a directed acyclic graph: every task in a cycle waits
            for another task of the same cycle, so none of them could ever start. The
            error shows the whole cycle, one label per dependency, because which edge
            to remove is a design decision only the author can make.

            Erroneous example:

                workflow release {
                  task build { run: "make VERSION=${tag.outputs.version}" }
                  task test { run: "make test", after: [build] }
                  task tag {
                    run: "git describe --tags"
                    output version: string
                    after: [test]
                  }
                }

            Corrected example:

                workflow release {
                  task tag {
                    run: "git describe --tags"
                    output version: string
                  }
                  task build { run: "make VERSION=${tag.outputs.version}" }
                  task test { run: "make test", after: [build] }
                }
            """#),
        entry(
            "E0401", .error, "task depends on itself",
            #"""
            A task lists itself in `after`, or reads one of its own outputs. A task's
            outputs exist only once it has finished, so a task waiting for itself
            could never start. It is reported apart from other cycles (E0400) because
            it is nearly always a copy-paste slip: an `after` list copied from the
            task above, or an output read that meant another task. To use a value
            from an earlier run, pass it in as an input.

            Erroneous example:

                task test {
                  run: "make test"
                  after: [test]
                }

            Corrected example:

                task test {
                  run: "make test"
                  after: [build]
                }
            """#),
        entry(
            "E0500", .error, "no agent has the required capabilities",
            #"""
            A task's `needs` lists capabilities that no single agent offers. The
            runtime gives each task to an agent whose `capabilities` include all of
            the task's `needs`, chosen from the agents declared in the file and those
            the workflow adds with `agents`. If no agent qualifies, the task could
            never be dispatched and the run would stall; checking at compile time
            turns that stall into an error naming the missing capability.

            Erroneous example:

                agent cpu_box { driver: exec, capabilities: ["shell", "linux"] }

                workflow train {
                  task fit { run: "python train.py", needs: ["shell", "gpu"] }
                }

            Corrected example:

                agent cpu_box { driver: exec, capabilities: ["shell", "linux"] }
                agent gpu_box { driver: exec, capabilities: ["shell", "linux", "gpu"] }

                workflow train {
                  task fit { run: "python train.py", needs: ["shell", "gpu"] }
                }
            """#),
        entry(
            "E0501", .error, "role lacks permission to run",
            #"""
            A task runs as a role that may not run tasks. A role's `allow` list,
            together with those of the roles it inherits, says what its holders may
            do: `run` tasks, `approve` them, or both. The check keeps a workflow from
            handing work to a role that access policy meant to keep from running
            anything, such as an auditor or approver role; finding it at compile time
            is better than having the run refused halfway through.

            Erroneous example:

                role auditor { allow: [approve] }

                workflow nightly {
                  task export_logs { run: "export-logs", role: auditor }
                }

            Corrected example:

                role auditor { allow: [approve] }
                role operator { allow: [run] }

                workflow nightly {
                  task export_logs { run: "export-logs", role: operator }
                }
            """#),
        entry(
            "E0502", .error, "role lacks access to a secret the task uses",
            #"""
            A task uses a secret that its role has not been granted. A task uses a
            secret when it lists it in `secrets` or reads `${secrets.NAME}` in its
            `run`, `env` or `headers` strings; the role it runs as, or a role that
            role inherits, must list the secret in its own `secrets`. Secrets are
            resolved at run time only for tasks whose role holds them, so that a
            careless or compromised task cannot read credentials it was never meant
            to have; the compiler checks the grant up front so the run does not fail
            on it later.

            Erroneous example:

                secret npm_token { provider: env, key: "NPM_TOKEN" }
                role builder { allow: [run] }

                workflow release {
                  task publish {
                    run: "npm publish --token ${secrets.npm_token}"
                    role: builder
                  }
                }

            Corrected example:

                secret npm_token { provider: env, key: "NPM_TOKEN" }
                role builder { allow: [run], secrets: [npm_token] }

                workflow release {
                  task publish {
                    run: "npm publish --token ${secrets.npm_token}"
                    role: builder
                  }
                }
            """#),
        entry(
            "E0503", .error, "role may not use the agent the task needs",
            #"""
            A task needs an agent its role may not use: it names one with `agent:`
            that is missing from the role's `agents`, or its `needs` can only be met
            by such agents. A role's `agents` list, with those of the roles it
            inherits, limits where its holders' work may go; it is how access policy
            keeps untrusted prompts away from an agent with production credentials,
            or expensive models away from routine jobs. Grant the agent to the role,
            or pick an agent the role may use.

            Erroneous example:

                agent small_model { driver: llm, model: "small", capabilities: ["chat"] }
                agent large_model { driver: llm, model: "large", capabilities: ["chat"] }
                role intern { allow: [run], agents: [small_model] }

                workflow digest {
                  task summarize {
                    prompt: "Summarize today's tickets"
                    agent: large_model
                    role: intern
                  }
                }

            Corrected example:

                workflow digest {
                  task summarize {
                    prompt: "Summarize today's tickets"
                    agent: small_model
                    role: intern
                  }
                }
            """#),
        entry(
            "E0504", .error, "approver role lacks permission to approve",
            #"""
            An `approve` task lists in `approvers` a role whose `allow` list, with
            inheritance, does not include `approve`. An approval is a human decision
            the run waits for: a listed role that may not approve can never give it,
            and if no listed role may, the run would wait forever. A role named as
            approver without the permission usually means the access policy and the
            workflow disagree about who signs off.

            Erroneous example:

                role developer { allow: [run] }

                workflow release {
                  input version: string
                  task sign_off {
                    approve: "Ship ${inputs.version} to production?"
                    approvers: [developer]
                  }
                }

            Corrected example:

                role developer { allow: [run] }
                role release_manager { allow: [approve] }

                workflow release {
                  input version: string
                  task sign_off {
                    approve: "Ship ${inputs.version} to production?"
                    approvers: [release_manager]
                  }
                }
            """#),
        entry(
            "E0505", .error, "role inheritance cycle",
            #"""
            Roles inherit from each other in a loop. A role holds its own permissions
            and those of every role it `inherits`, transitively; in a cycle every role
            ends up with the permissions of all the others, which is never what was
            meant, and there is no longer an order from narrow roles to broad ones for
            a reader to follow. Let the broader role inherit the narrower one, and
            put what several roles share in a base role they all inherit.

            Erroneous example:

                role developer { inherits: [maintainer], allow: [run] }
                role maintainer { inherits: [developer], allow: [approve] }

            Corrected example:

                role developer { allow: [run] }
                role maintainer { inherits: [developer], allow: [approve] }
            """#),
        entry(
            "E0506", .error, "an escalating gate names no roles to escalate to",
            #"""
            An `approve` task says `on_timeout: escalate` but has no `escalate_to`.
            When the gate's `timeout` passes unanswered, an escalating gate stops
            waiting for its `approvers` and asks the roles in `escalate_to` instead
            (for `escalate_timeout`, by default the same `timeout`, after which it is
            rejected). Without those roles nobody could be asked, so ezc refuses the
            gate rather than guess; name the roles, or choose another `on_timeout`
            (`reject`, the default, `approve` or `fail`).

            Erroneous example:

                task approve_deploy {
                  approve: "Deploy?"
                  approvers: [releaser]
                  timeout: 4h
                  on_timeout: escalate
                }

            Corrected example:

                task approve_deploy {
                  approve: "Deploy?"
                  approvers: [releaser]
                  timeout: 4h
                  on_timeout: escalate
                  escalate_to: [oncall]
                }
            """#),
        entry(
            "E0507", .error, "escalation settings on a gate that does not escalate",
            #"""
            An `approve` task has `escalate_to` or `escalate_timeout` but its
            `on_timeout` is not `escalate` (without `on_timeout` the gate is rejected
            when its `timeout` passes). The escalation settings would never be used,
            so ezc refuses them instead of dropping them: add `on_timeout: escalate`,
            or remove them (the fix removes the attribute).

            Erroneous example:

                task approve_deploy {
                  approve: "Deploy?"
                  approvers: [releaser]
                  timeout: 4h
                  escalate_to: [oncall]
                }

            Corrected example:

                task approve_deploy {
                  approve: "Deploy?"
                  approvers: [releaser]
                  timeout: 4h
                  on_timeout: escalate
                  escalate_to: [oncall]
                }
            """#),
        entry(
            "E0600", .error, "child budget exceeds parent budget",
            #"""
            A budget on a group or task allows more money, tokens or time than the
            budget of the group or workflow that contains it. Budgets nest: whatever a
            task spends also counts against every enclosing group and the workflow, so
            a child limit above its parent's can never be reached and only gives a
            false idea of what the child may spend. The message names the dimension
            and both amounts.

            Erroneous example:

                workflow nightly {
                  budget { money: $20, time: 2h }

                  group analysis {
                    budget { money: $50 }
                    task cluster { run: "python cluster.py" }
                  }
                }

            Corrected example:

                workflow nightly {
                  budget { money: $20, time: 2h }

                  group analysis {
                    budget { money: $15 }
                    task cluster { run: "python cluster.py" }
                  }
                }
            """#),
        entry(
            "E0601", .error, "worst case exceeds a strict budget",
            #"""
            A budget marked `strict: true` could be overrun in the worst case: if
            every attempt that every task under it may make failed at its per-attempt
            limit, and every fallback ran, the tasks under it would reserve more money
            or tokens, or take more time, than the budget allows. Without `strict`
            this is warning W0601; `strict` makes it an error, for budgets that must
            never stop a run partway. The worst case counts each attempt at what the
            runtime reserves before dispatching it (`max_cost`, else the agent's
            prices for the whole `timeout` and `max_tokens`), every attempt the retry
            rule allows, an attempt on a `catch` agent, `catch` tasks and `for_each`
            instances; for time, the longest chain of tasks by attempts × timeout
            plus backoff. The notes show the arithmetic; `ezc check
            --explain-budget FILE` prints every bound.

            Erroneous example (5 attempts at up to $2 each can cost $10):

                workflow incident {
                  budget { money: $5, strict: true }
                  task summarize {
                    prompt: "Summarize the incident report"
                    max_cost: $2
                    retry { attempts: 5, backoff: fixed, delay: 10s }
                  }
                }

            Corrected example:

                workflow incident {
                  budget { money: $5, strict: true }
                  task summarize {
                    prompt: "Summarize the incident report"
                    max_cost: $1
                    retry { attempts: 5, backoff: fixed, delay: 10s }
                  }
                }
            """#),
        entry(
            "E0602", .error, "retry must allow at least one attempt",
            #"""
            A retry rule has `attempts` below 1. `attempts` counts every try including
            the first, so `attempts: 1` means "run once and never retry", and
            `attempts: 0` would mean a task that never runs at all, which no workflow
            intends; it usually comes from reading `attempts` as the number of
            retries. To retry twice after a first failure, write `attempts: 3`.

            Erroneous example:

                retry once { attempts: 0 }

            Corrected example:

                retry once { attempts: 1 }
            """#),
        entry(
            "E0603", .error, "backoff is not monotone (delay exceeds max_delay)",
            #"""
            A retry rule's `delay` is longer than its `max_delay`. The wait before
            each retry starts at `delay` and stays the same (`fixed`) or grows
            (`linear`, `exponential`), never beyond `max_delay`. With the cap below the
            first delay the waits could not grow as the backoff says, so the rule does
            not mean what its author intended, and the worst-case time that budgets
            and deadlines are checked against would be wrong. Usually the two values
            are swapped or a unit is off.

            Erroneous example:

                retry api_calls {
                  attempts: 5
                  backoff: exponential
                  delay: 2m
                  max_delay: 30s
                }

            Corrected example:

                retry api_calls {
                  attempts: 5
                  backoff: exponential
                  delay: 2s
                  max_delay: 30s
                }
            """#),
        entry(
            "E0604", .error, "unknown error class",
            #"""
            A retry rule's `on` list names an error class that does not exist. The
            built-in classes are `timeout`, `transient`, `agent_error` and
            `output_error` (a model's reply that does not match the task's declared
            outputs); any other class must be declared with an `error` block
            (`error rate_limited`) in the file or in an imported module. A misspelt
            class would never match a failure, so the task would silently not be
            retried when it should be.

            Erroneous example:

                retry polite {
                  attempts: 5
                  backoff: exponential
                  delay: 1s
                  on: [timeout, rate_limited]
                }

            Corrected example:

                error rate_limited

                retry polite {
                  attempts: 5
                  backoff: exponential
                  delay: 1s
                  on: [timeout, rate_limited]
                }
            """#),
        entry(
            "E0605", .error, "retry fallback (catch) is not a task or agent",
            #"""
            A retry rule's `catch` names something other than a task or an agent.
            When a task has used up its attempts, `catch` says what happens instead:
            another task runs (a cleanup, a notification), or the work goes to another
            agent. Only those two kinds of declaration can take over; a role, secret or
            input named there has nothing to run. A task named there must be one plain
            task that does not run after the task it replaces: not a `for_each`
            fan-out, not a nested `workflow` task, since the plan keeps exactly one
            task ready to run instead. Nor may it wait for another fallback (that one
            runs only when its own task fails, so this one would be skipped whenever
            it is not needed), or be part of a cycle of fallbacks (none would ever
            run). A fallback may have its own `catch`: a chain of fallbacks.

            Erroneous example:

                role oncall { allow: [run] }

                workflow nightly {
                  task page_oncall { run: "notify --team oncall" }
                  task backup {
                    run: "backup.sh"
                    retry { attempts: 3, backoff: fixed, delay: 1m, catch: oncall }
                  }
                }

            Corrected example:

                workflow nightly {
                  task page_oncall { run: "notify --team oncall" }
                  task backup {
                    run: "backup.sh"
                    retry { attempts: 3, backoff: fixed, delay: 1m, catch: page_oncall }
                  }
                }
            """#),
        entry(
            "E0606", .error, "the budget cannot be met even if every attempt succeeds",
            #"""
            Even the best run, where every task succeeds at its first attempt and no
            fallback runs, needs more than the budget allows, so the run cannot
            succeed. Two things are unavoidable: before it dispatches an attempt the
            runtime reserves the attempt's worst case (`max_cost`, else the agent's
            prices for the whole `timeout` and `max_tokens`) and refuses, ending the
            run with `budget_exceeded`, an attempt whose reservation can never fit;
            and every task that must run pays at least its agent's `cost_per_call`.
            The note shows which of the two is over the limit.

            Erroneous example (one attempt reserves $8, the budget is $5):

                workflow report {
                  budget { money: $5 }
                  task draft { prompt: "Draft the weekly report", max_cost: $8 }
                }

            Corrected example:

                workflow report {
                  budget { money: $10 }
                  task draft { prompt: "Draft the weekly report", max_cost: $8 }
                }
            """#),
        entry(
            "E0607", .error, "critical path worst case exceeds the deadline of a strict budget",
            #"""
            The longest chain of dependent tasks could, in the worst case, take longer
            than the workflow's `deadline`, and the workflow's budget is marked
            `strict: true`, which covers its deadline too. Without `strict` this is
            warning W0600. A task's worst case is its `timeout` times its retry
            `attempts` (plus one attempt on a `catch` agent), plus the backoff delays
            and a `catch` task's worst case; along a chain these add up.

            Erroneous example (3 x 20m + 2 x 1m + 15m = 77m):

                workflow release {
                  deadline: 1h
                  budget { strict: true }
                  task build {
                    run: "make"
                    timeout: 20m
                    retry { attempts: 3, backoff: fixed, delay: 1m }
                  }
                  task test { run: "make test", timeout: 15m, after: [build] }
                }

            Corrected example:

                workflow release {
                  deadline: 90m
                  budget { strict: true }
                  task build {
                    run: "make"
                    timeout: 20m
                    retry { attempts: 3, backoff: fixed, delay: 1m }
                  }
                  task test { run: "make test", timeout: 15m, after: [build] }
                }
            """#),
        entry(
            "E0608", .error, "an llm task under a budget has no max_tokens",
            #"""
            A `prompt:` task sends its prompt to a model, and without `max_tokens`
            the server may answer with as many tokens as it likes: one reply could
            use the whole budget several times over, and no check before the run
            could bound it. So a `prompt:` task under a budget in tokens (its own,
            a group's or the workflow's), or under a budget in money when an agent
            that may run it has `cost_per_1k_tokens`, must give `max_tokens`, the
            most tokens one reply may use. The runtime sends it to the server as
            the reply's cap and reserves it before each attempt; the budget proofs
            count it for every attempt, plus the prompt's own tokens (its UTF-8
            byte length when its text is all literal).

            Erroneous example:

                workflow digest {
                  budget { tokens: 10k tokens }
                  task summarize { prompt: "Summarize the open incidents" }
                }

            Corrected example:

                workflow digest {
                  budget { tokens: 10k tokens }
                  task summarize {
                    prompt: "Summarize the open incidents"
                    max_tokens: 4k tokens
                  }
                }
            """#),
        entry(
            "E0609", .error, "an llm task that may run on an anthropic agent has no max_tokens",
            #"""
            The Anthropic Messages API refuses a request without `max_tokens`, so
            every attempt of a `prompt:` task on an agent with `format: anthropic`
            would fail. Give the task `max_tokens`, the most tokens one reply may
            use; the runtime sends it as the request's `max_tokens` (less the
            prompt's bound when a budget caps the attempt). An IR that skipped this
            check fails such an attempt with `config_error` before anything is sent.

            Erroneous example:

                agent claude { driver: llm, format: anthropic, capabilities: ["llm"] }
                workflow digest {
                  task summarize { prompt: "Summarize the open incidents", agent: claude }
                }

            Corrected example:

                agent claude { driver: llm, format: anthropic, capabilities: ["llm"] }
                workflow digest {
                  task summarize {
                    prompt: "Summarize the open incidents", agent: claude
                    max_tokens: 4k tokens
                  }
                }
            """#),
        entry(
            "E0610", .error, "temperature on an llm task that may run on an anthropic agent",
            #"""
            The Anthropic Messages API (as its official SDK describes the request
            today) takes no `temperature`. ezflow does not drop an attribute without a
            word, so the llm driver refuses such an attempt with `config_error`
            before sending it; the check says so first. Remove `temperature`, or run
            the task on an agent with `format: openai`.

            Erroneous example:

                agent claude { driver: llm, format: anthropic, capabilities: ["llm"] }
                workflow digest {
                  task summarize {
                    prompt: "Summarize the open incidents", agent: claude
                    max_tokens: 1k tokens, temperature: 0.2
                  }
                }

            Corrected example:

                agent claude { driver: llm, format: anthropic, capabilities: ["llm"] }
                workflow digest {
                  task summarize {
                    prompt: "Summarize the open incidents", agent: claude
                    max_tokens: 1k tokens
                  }
                }
            """#),
        entry(
            "E0615", .error, "a fallback does not provide an output read from the task it replaces",
            #"""
            When a task fails and its `catch` fallback succeeds, the tasks after it
            still run, and `TASK.outputs.NAME` reads the fallback's output of that
            name: the fallback stands in for the task. So every output of the task
            that some task reads must be declared by its fallback too, with the same
            type (and by the fallback's own fallback, down a chain). Otherwise the
            reader would find nothing when the fallback ran. Declare the output in
            the fallback, and make it write it.

            Erroneous example:

                workflow ship {
                  task build {
                    run: "make image"
                    output image: string
                    retry { attempts: 2, catch: use_cached }
                  }
                  task use_cached { run: "echo cached" }
                  task deploy { run: "deploy ${build.outputs.image}" }
                }

            Corrected example:

                workflow ship {
                  task build {
                    run: "make image"
                    output image: string
                    retry { attempts: 2, catch: use_cached }
                  }
                  task use_cached {
                    run: "echo '{\"image\": \"app:cached\"}'"
                    output image: string
                  }
                  task deploy { run: "deploy ${build.outputs.image}" }
                }
            """#),
        entry(
            "E0700", .error, "parallel tasks write one output without on_conflict",
            #"""
            Tasks that may run at the same time (neither depends on the other,
            directly or through others) write the same workflow output, and the output
            does not say what to do when both write. The result would then depend on
            which task happened to finish last, and the same workflow could give
            different results on different runs. Order the writers with `after`, or
            give the output an `on_conflict` of `fail`, `last_writer`, `merge` or
            `escalate` (ask a human), so that the choice is written down.

            Erroneous example:

                workflow audit {
                  output findings: list[string]

                  task lint { run: "lint --json", writes: [findings] }
                  task scan { run: "scan --json", writes: [findings] }
                }

            Corrected example:

                workflow audit {
                  output findings: list[string] {
                    on_conflict: merge
                  }

                  task lint { run: "lint --json", writes: [findings] }
                  task scan { run: "scan --json", writes: [findings] }
                }
            """#),
        entry(
            "E0701", .error, "on_conflict: merge on an output that cannot be merged",
            #"""
            An output says `on_conflict: merge`, but its type is not one that two
            writes can be merged into. When a second task writes an output that
            already has a value, `merge` combines the two: records and maps key by
            key (the later write wins for a key both give), lists by appending the
            later list to the earlier one. A string, a number or a bool has no such
            combination, so the run would stop with a conflict at the second write.
            Use `last_writer` (the later write wins), `fail` or `escalate` instead,
            or make the output a list that collects every write.

            Erroneous example:

                workflow release {
                  output version: string {
                    on_conflict: merge
                  }

                  task tag { run: "git describe", writes: [version] }
                  task bump { run: "bump --print", writes: [version] }
                }

            Corrected example:

                workflow release {
                  output version: string {
                    on_conflict: last_writer
                  }

                  task tag { run: "git describe", writes: [version] }
                  task bump { run: "bump --print", writes: [version] }
                }
            """#),
        entry(
            "E0900", .error, "condition is not a bool",
            #"""
            A `when:` on a task or a group must be a `bool`: the task runs only if
            it holds once its gate opens (its dependencies ended as `run_on` asks),
            and is skipped with reason `condition` otherwise. A value that is not a
            bool has no truth: compare it, or read a task's status.

            Erroneous example:

                task deploy { when: inputs.env, run: "./deploy" }

            Corrected example:

                task deploy { when: inputs.env == "prod", run: "./deploy" }
            """#),
        entry(
            "E0901", .error, "unknown task status",
            #"""
            `TASK.status` has the built-in type `status`, whose cases are
            `succeeded`, `failed`, `skipped` and `cancelled`; a case is written
            `status.CASE`. A failure a `catch` fallback recovered reads
            `succeeded`; a failure `allow_failure` lets through still reads
            `failed`.

            Erroneous example:

                task notify {
                  run_on: always
                  when: build.status == status.failure
                  run: "./page"
                }

            Corrected example:

                task notify {
                  run_on: always
                  when: build.status == status.failed
                  run: "./page"
                }
            """#),
        entry(
            "E0902", .error, "condition on a fallback",
            #"""
            A task a `catch` names runs only in place of a task that failed, when
            that task's retries are over: it has no gate of its own, so `when` and
            `run_on` (its own or an enclosing group's `when`) cannot apply to it. Put
            the condition on the task whose `catch` names it.

            Erroneous example:

                task cached { run_on: always, run: "cat cache.json" }
                task fetch { run: "./fetch", retry { attempts: 2, catch: cached } }

            Corrected example:

                task cached { run: "cat cache.json" }
                task fetch { run: "./fetch", retry { attempts: 2, catch: cached } }
            """#),
        entry(
            "E0903", .error, "condition on a workflow task",
            #"""
            A `workflow:` task runs the nested workflow's tasks as part of this
            run; they start as soon as their own dependencies allow, so a `when`,
            `run_on` or `allow_failure` on the calling task (or a `when` of a group
            around it) would be decided only after they ran. This is not supported
            yet: put the condition on the nested workflow's tasks.

            Erroneous example:

                task release { workflow: lib.release, when: inputs.publish }

            Corrected example:

                task release { workflow: lib.release, with: { publish: inputs.publish } }
            """#),
        entry(
            "E0904", .error, "`run` read outside `finally`",
            #"""
            `run.status` (how the main graph ended: `run_status.succeeded`,
            `failed`, `cancelled`, `deadline_exceeded` or `budget_exceeded`) and
            `run.failures` (the names of the main tasks that failed, in the order
            they ended) are known only once the main graph has ended, so only a
            task inside the workflow's `finally { }` may read them. Elsewhere,
            read one task's outcome with `TASK.status`.

            Erroneous example:

                task notify {
                  run_on: always
                  after: [deploy]
                  run: "echo ${run.status}"
                }

            Corrected example:

                finally {
                  task notify { timeout: 1m, run: "echo ${run.status}" }
                }
            """#),
        entry(
            "E0905", .error, "main task waits for a finally task",
            #"""
            A task in `finally { }` runs only once every task of the main graph
            has ended, so a main task that waits for it (`after`, an output or a
            status it reads) could never start. Move the task into `finally`, or
            drop the dependency.

            Erroneous example:

                task report { after: [cleanup], run: "./report" }
                finally {
                  task cleanup { timeout: 5m, run: "./cleanup" }
                }

            Corrected example:

                finally {
                  task cleanup { timeout: 5m, run: "./cleanup" }
                  task report { timeout: 1m, after: [cleanup], run: "./report" }
                }
            """#),
        entry(
            "E0906", .error, "finally task without a timeout",
            #"""
            The run's deadline and time budgets do not stop a `finally` task: a
            cleanup must happen even when the run ran out of time. So each
            `finally` task bounds itself with a `timeout`, and the whole run stays
            bounded.

            Erroneous example:

                finally {
                  task cleanup { run: "./cleanup" }
                }

            Corrected example:

                finally {
                  task cleanup { timeout: 5m, run: "./cleanup" }
                }
            """#),
        entry(
            "E0907", .error, "a task or group named like a built-in",
            #"""
            Expressions read `inputs`, `secrets`, `item`, `run`, `status` and
            `run_status` as built-ins. A task or group with one of these names
            either could not be read (`inputs.outputs.x` is an input) or would
            hide the built-in: in a `finally` task, `run.status` would read the
            task's status instead of the run's, and the exit handler would
            report the wrong outcome without a word.

            Erroneous example:

                task run { run: "make" }

            Corrected example:

                task build { run: "make" }
            """#),
        entry(
            "E0920", .error, "both for_each and matrix",
            #"""
            A task fans out once: over a `for_each` list or over the cells of a
            `matrix`, not both. A `matrix` axis can hold what the `for_each` list
            held, so the cross product covers both.

            Erroneous example:

                task test {
                  for_each: ["unit", "e2e"]
                  matrix { os: ["linux", "macos"] }
                  run: "make test"
                }

            Corrected example:

                task test {
                  matrix {
                    os: ["linux", "macos"]
                    suite: ["unit", "e2e"]
                  }
                  run: "make ${item.suite}"
                }
            """#),
        entry(
            "E0921", .error, "matrix axis is not a list of constants",
            #"""
            Every attribute of a `matrix` block other than `exclude`, `include`,
            `fail_fast` and `max_parallel` is an axis: a non-empty list of
            strings, ints or bools written out. The cells are computed when the
            file is checked, so the budget and deadline proofs count each one and
            each cell's `needs` is matched to an agent before the run; a list
            known only when the run starts cannot be.

            Erroneous example:

                matrix {
                  os: "linux"
                }

            Corrected example:

                matrix {
                  os: ["linux"]
                }
            """#),
        entry(
            "E0922", .error, "matrix values of different types",
            #"""
            An axis gives one field of the cell's `item` record, so all its
            values have one type; an `exclude` or `include` entry must give a
            value of that type too. `3.12` is a float and `"3.12"` a string:
            write versions as strings.

            Erroneous example:

                matrix {
                  py: ["3.11", 3]
                }

            Corrected example:

                matrix {
                  py: ["3.11", "3"]
                }
            """#),
        entry(
            "E0923", .error, "unknown matrix axis",
            #"""
            An `exclude` or `include` entry names an axis the matrix does not
            declare. Such an entry could match nothing, or add a cell whose
            `item` lacks a field; ezc suggests the closest axis.

            Erroneous example:

                matrix {
                  os: ["linux", "macos"]
                  exclude: [{ ox: "macos" }]
                }

            Corrected example:

                matrix {
                  os: ["linux", "macos"]
                  exclude: [{ os: "macos" }]
                }
            """#),
        entry(
            "E0924", .error, "matrix include does not bind every axis",
            #"""
            Each `include` entry adds exactly one cell, after `exclude`, so it
            gives a value to every axis. GitHub Actions also merges a partial
            include into existing cells, a rule that surprises its users; ezflow
            does not: to change cells, `exclude` them and include whole ones.

            Erroneous example:

                matrix {
                  os: ["linux", "macos"]
                  py: ["3.11", "3.12"]
                  include: [{ os: "linux" }]
                }

            Corrected example:

                matrix {
                  os: ["linux", "macos"]
                  py: ["3.11", "3.12"]
                  include: [{ os: "linux", py: "3.13" }]
                }
            """#),
        entry(
            "E0925", .error, "matrix has too many cells",
            #"""
            A matrix has at most 256 cells (as GitHub Actions allows), counted
            after `exclude` and `include`. Each cell is one task of the plan, with
            its own journal records and reservations. Split the task, or exclude
            the cells nobody needs.

            Erroneous example:

                matrix {
                  a: [1, 2, 3, 4, 5, 6, 7, 8, 9]
                  b: [1, 2, 3, 4, 5, 6]
                  c: [1, 2, 3, 4, 5, 6]
                }

            Corrected example:

                matrix {
                  a: [1, 2, 3, 4, 5, 6, 7, 8, 9]
                  b: [1, 2, 3, 4, 5, 6]
                }
            """#),
        entry(
            "E0926", .error, "matrix has no cell",
            #"""
            The `exclude` entries remove every cell of the cross product and no
            `include` adds one. A task with no cell would never run, and what
            reads its outputs would get an empty list: almost surely a mistake.

            Erroneous example:

                matrix {
                  os: ["linux"]
                  exclude: [{ os: "linux" }]
                }

            Corrected example:

                matrix {
                  os: ["linux", "macos"]
                  exclude: [{ os: "linux" }]
                }
            """#),
        entry(
            "E0927", .error, "matrix has no axis",
            #"""
            A `matrix` block gives at least one axis, `name: [values]`; its
            settings alone (`fail_fast`, `max_parallel`) make no cell.

            Erroneous example:

                matrix {
                  fail_fast: false
                }

            Corrected example:

                matrix {
                  os: ["linux", "macos"]
                  fail_fast: false
                }
            """#),
        entry(
            "E0928", .error, "matrix cell given twice",
            #"""
            An axis lists a value twice, or an `include` entry repeats a cell
            the matrix already has. Cells are named by their values
            (`test[os=linux]`), so each may exist once; the repeat would run the
            same cell again under the same name.

            Erroneous example:

                matrix {
                  os: ["linux", "macos"]
                  include: [{ os: "linux" }]
                }

            Corrected example:

                matrix {
                  os: ["linux", "macos"]
                }
            """#),
        entry(
            "E0929", .error, "no agent can run a cell",
            #"""
            `needs` reads `item` (`needs: [item.os]`), so each cell of a matrix,
            or each item of a `for_each` list written out, needs its own
            capabilities, and agents are chosen per cell. No agent of the pool
            (or of the task's role, or its pinned `agent`) offers what this cell
            needs: the cell could never start.

            Erroneous example:

                agent lin { driver: exec, capabilities: ["linux"] }
                workflow ci {
                  task test {
                    matrix { os: ["linux", "windows"] }
                    needs: [item.os]
                    run: "make test"
                  }
                }

            Corrected example:

                agent lin { driver: exec, capabilities: ["linux"] }
                agent win { driver: exec, capabilities: ["windows"] }
                workflow ci {
                  task test {
                    matrix { os: ["linux", "windows"] }
                    needs: [item.os]
                    run: "make test"
                  }
                }
            """#),
        entry(
            "E0930", .error, "invalid matrix setting",
            #"""
            A `matrix` block's settings are constants: `fail_fast` is `true` or
            `false` (default `true`: the first failed cell cancels the others),
            `max_parallel` a whole number of at least 1 (cells of this matrix
            running at once), `exclude` and `include` lists of records.

            Erroneous example:

                matrix {
                  os: ["linux", "macos"]
                  max_parallel: 0
                }

            Corrected example:

                matrix {
                  os: ["linux", "macos"]
                  max_parallel: 1
                }
            """#),
        entry(
            "E0931", .error, "matrix on an approve or workflow task",
            #"""
            A `matrix` fans out `run`, `prompt` and `call` tasks. Its `fail_fast`
            acts when a cell is dead-lettered and its `max_parallel` counts cells
            running on agents; an `approve` gate's denial and a nested workflow's
            failure are neither, so on such tasks both settings would silently do
            nothing. Gate once after the matrix, or fan out a nested workflow
            with `for_each` over a list of records.

            Erroneous example:

                task sign_off {
                  matrix { os: ["linux", "macos"] }
                  approve: "ship ${item.os}?"
                  approvers: [releaser]
                }

            Corrected example:

                task sign_off {
                  after: [test]
                  approve: "ship every os?"
                  approvers: [releaser]
                }
            """#),
        entry(
            "E0932", .error, "a matrix value a cell name cannot hold",
            #"""
            Every cell of a matrix is named `task[axis=value,...]` in status,
            reports, logs and on the command line (`ezrun logs RUN 'test[os=linux]'`).
            A value holding `,`, `=`, `[` or `]` could give two cells one name (the
            values `a,w=1` and `a` of two axes both read `t[v=a,w=1,w=2]`), and a
            control character would reach the terminal. Such values are refused.

            Erroneous example:

                matrix { target: ["linux,arm64", "linux,x86_64"] }

            Corrected example:

                matrix { target: ["linux-arm64", "linux-x86_64"] }
            """#),
        entry(
            "E0940", .error, "a task that is not a `run` task declares a `file` output",
            #"""
            A `file` output is a file a task leaves in its working directory: the
            task reports its relative path, and the runner stores the file by its
            SHA-256 digest and hands later tasks the stored copy's path. Only a
            `run` task runs on this machine and can leave a file there; a `prompt`
            answers with text, a `call` with a response body and an `approve` with a
            decision, so none of them has a file for the runner to store. Declare
            the output as a string (or a record) there, and write the file in a
            `run` task that reads it.

            Erroneous example:

                task notes {
                  prompt: "Write the release notes."
                  output notes: file
                }

            Corrected example:

                task notes {
                  prompt: "Write the release notes."
                }

                task save_notes {
                  env: { NOTES: notes.outputs.text }
                  run: "./save.sh notes.md"
                  output notes: file
                }
            """#),
        entry(
            "E0941", .error, "a file read as text outside `run` and `env`",
            #"""
            A `file` value is the path of the stored, read-only copy of a task's
            file on this machine, and that path means something only to a program
            that runs here. So a file reads as text only in a `run` task's `run:`
            script and its `env`. A prompt, a URL, a request body, an approval's
            question or a workflow output of type `string` would carry a path of
            the runner's machine that the reader cannot open (and that changes from
            store to store). Read the file in a `run` task and hand on what it
            finds, or declare the workflow output as `file`.

            Erroneous example:

                task build {
                  run: "./build.sh"
                  output app: file
                }

                task describe {
                  prompt: "Describe ${build.outputs.app}."
                }

            Corrected example:

                task list_contents {
                  env: { APP: build.outputs.app }
                  run: "tar -tf \"$APP\""
                }
            """#),
        entry(
            "E0942", .error, "`file` declared where it cannot be",
            #"""
            `file` is a type of outputs only: a task's output or a workflow's, as
            `file`, `file?` (the task may leave none) or `list[file]`. An input of
            type `file` would put a path of the user's machine into the journal,
            which holds only digests so that a run replays anywhere; a path the
            run should read is a `path` input. A file inside a record, a map or a
            list of optional files could not be listed, kept and collected one by
            one; declare one output per file, or a `list[file]`.

            Erroneous example:

                workflow release {
                  input source: file
                }

            Corrected example:

                workflow release {
                  input source: path
                }
            """#),
        entry(
            "E0960", .error, "`repeat` without `max`, `until` or a task",
            #"""
            A group with `repeat { }` is a bounded loop: its tasks run again and
            again until `until` holds after an iteration, at most `max` times. Both
            are required. There is no default bound, because `max` is what the
            budget and deadline proofs multiply the body by, and a loop that stops
            at a silent default is a loop that ends without saying why. A loop
            with no task in its group would repeat nothing.

            Erroneous example:

                group revise {
                  repeat { until: review.outputs.approved }
                  task draft { ... }
                  task review { ... output approved: bool }
                }

            Corrected example:

                group revise {
                  repeat { max: 3  until: review.outputs.approved }
                  task draft { ... }
                  task review { ... output approved: bool }
                }
            """#),
        entry(
            "E0961", .error, "`previous` or `iteration` outside a loop's body",
            #"""
            Inside the body of a loop (a group with `repeat { }`),
            `previous.TASK.outputs.NAME` reads the previous iteration's output of a
            task of the same loop (typed `T?`: there is none in iteration 1), and
            `iteration` is the 1-based number of the iteration. Anywhere else they
            have no meaning: outside the loop, a body task's outputs already read
            as the last iteration's.

            Erroneous example:

                task publish { run: "echo ${previous.draft.outputs.text}" }

            Corrected example:

                task publish { run: "echo ${draft.outputs.text}" }
            """#),
        entry(
            "E0962", .error, "`until` that is not a bool",
            #"""
            `until` decides, after each iteration, whether the loop is done: it
            must be a bool. Compare a value to get one.

            Erroneous example:

                repeat { max: 3  until: review.outputs.verdict }

            Corrected example:

                repeat { max: 3  until: review.outputs.verdict == "approved" }
            """#),
        entry(
            "E0963", .error, "`until` reading a task outside the loop's body",
            #"""
            `until` is evaluated after each iteration over the outputs of that
            iteration: it may read the loop's own tasks (and the workflow's
            inputs), not a task outside the loop, whose value would not change
            from one iteration to the next. Gate the whole loop with the group's
            `when` instead.

            Erroneous example:

                task lint { ... output clean: bool }
                group revise {
                  repeat { max: 3  until: lint.outputs.clean }
                  task draft { ... }
                }

            Corrected example:

                group revise {
                  repeat { max: 3  until: check.outputs.clean }
                  task draft { ... }
                  task check { after: [draft] ... output clean: bool }
                }
            """#),
        entry(
            "E0964", .error, "a loop nested in another loop",
            #"""
            Loops do not nest: the bound of a nested loop would multiply the
            outer one's, and an iteration of the outer loop could not say which
            inner iteration it reads. Fold both into one loop, or move the inner
            one out.

            Erroneous example:

                group outer {
                  repeat { max: 3  until: b.outputs.done }
                  group inner {
                    repeat { max: 2  until: a.outputs.done }
                    task a { ... }
                  }
                  task b { ... }
                }

            Corrected example:

                group outer {
                  repeat { max: 6  until: b.outputs.done }
                  task a { ... }
                  task b { after: [a] ... }
                }
            """#),
        entry(
            "E0965", .error, "a loop body task that cannot repeat",
            #"""
            A loop's body is unrolled once per iteration (`draft[iteration=2]`), so
            each of its tasks must be one plain task that can run again: it may not
            fan out (`matrix`, `for_each`), run a nested workflow, write a
            workflow output (every iteration would write it), run on `failure` or
            `always` (it would react to the previous iteration), or fall back to a
            task with `catch`; and no task outside may fall back to a body task.
            Do these in a task before or after the loop; after it, the body's
            outputs read as the last iteration's.

            Erroneous example:

                group revise {
                  repeat { max: 3  until: review.outputs.approved }
                  task review { ... writes: [verdict] }
                }

            Corrected example:

                group revise {
                  repeat { max: 3  until: review.outputs.approved }
                  task review { ... }
                }
                task record { run: "echo ${review.outputs.approved}", writes: [verdict] }
            """#),
        entry(
            "E0970", .error, "a `for_each` over a task's output without `max_items`",
            #"""
            A `for_each` over a task's output fans out over a list known only once
            that task has run. The plan reserves one slot per possible item before
            the run starts, so the list needs a declared maximum: `max_items: N`
            (1 to 1024). A longer list fails the fan-out task with the class
            `fanout_overflow`; a shorter one leaves the other slots unused; an
            empty one succeeds with `[]`. The budget and deadline proofs count the
            fan-out at its maximum.

            Erroneous example:

                task lint {
                  for_each: list_files.outputs.files
                  run: "lint ${item}"
                }

            Corrected example:

                task lint {
                  for_each: list_files.outputs.files
                  max_items: 20
                  run: "lint ${item}"
                }
            """#),
        entry(
            "E0971", .error, "`max_items` where the list is known when the run starts",
            #"""
            `max_items` declares the most items a `for_each` over a task's output
            may have. A list of literals, workflow inputs or a matrix's cells is
            known before any task runs, so its length is its count and a maximum
            would say nothing (or contradict it). Remove `max_items` there.

            Erroneous example:

                task build {
                  for_each: inputs.targets
                  max_items: 10
                  run: "make ${item}"
                }

            Corrected example:

                task build {
                  for_each: inputs.targets
                  run: "make ${item}"
                }
            """#),
        entry(
            "E0972", .error, "a dynamic `for_each` that is not one task's list output",
            #"""
            A `for_each` with `max_items` fans out over exactly one task's output:
            `for_each: TASK.outputs.NAME`, of type `list[T]`. That list is
            journalled with the task's success, so a resumed or replayed run fans
            out over the same items in the same order. An expression built from
            several outputs, and the outputs of a task that fans out itself (a list
            per instance), are refused: compute the list in one task.

            Erroneous example:

                task lint {
                  for_each: a.outputs.files + b.outputs.files
                  max_items: 20
                  run: "lint ${item}"
                }

            Corrected example:

                task gather {
                  run: "./gather.sh"
                  output files: list[string]
                }

                task lint {
                  for_each: gather.outputs.files
                  max_items: 20
                  run: "lint ${item}"
                }
            """#),
        entry(
            "E0973", .error, "a task that cannot fan out over a list known only at run time",
            #"""
            The slots of a dynamic fan-out are decided when its list's task has
            succeeded. A `workflow` task (its nested tasks are planned per item
            before the run), an `approve` gate, a task with `run_on: failure` or
            `always` (it runs when the list's task may have none) and a `finally`
            task cannot fan out that way. Fan out in a plain task that runs on
            success, and gate or react around it.

            Erroneous example:

                task review {
                  for_each: list_changes.outputs.ids
                  max_items: 5
                  approve: "Ship ${item}?"
                }

            Corrected example:

                task review {
                  approve: "Ship ${join(list_changes.outputs.ids, ", ")}?"
                }
            """#),
        entry(
            "E0980", .error, "`compensate` names no task",
            #"""
            `compensate` names the task that undoes this one when the run fails
            after it succeeded. It must be a task of the same workflow, other than
            the task itself; a group cannot undo anything, and a name that matches
            no task is usually a typo.

            Erroneous example:

                task reserve { run: "./reserve", compensate: cancl }
                task cancel { timeout: 1m, run: "./cancel" }

            Corrected example:

                task reserve { run: "./reserve", compensate: cancel }
                task cancel { timeout: 1m, run: "./cancel" }
            """#),
        entry(
            "E0981", .error, "a task waits for a compensation",
            #"""
            A compensation runs only as an undo, after the main graph failed, and
            only if the task it undoes succeeded. A task that waits for it, by
            `after` or by reading its outputs or status, could never start in a run
            that goes well. React to a failure with `run_on: failure`, or clean up
            in `finally { }`.

            Erroneous example:

                task reserve { run: "./reserve", compensate: cancel }
                task cancel { timeout: 1m, run: "./cancel" }
                task mail { after: [cancel], run: "./mail" }

            Corrected example:

                task reserve { run: "./reserve", compensate: cancel }
                task cancel { timeout: 1m, run: "./cancel" }
                task mail { after: [reserve], run: "./mail" }
            """#),
        entry(
            "E0982", .error, "a compensation with a condition, fan-out or fallback",
            #"""
            A compensation runs exactly once, as the undo of the task that names it,
            after that task succeeded and the run failed. `when`, `run_on`,
            `allow_failure`, `after`, `writes`, `for_each`, `matrix`, a `catch`
            fallback or a `compensate` of its own would give it a second trigger or
            several instances, and an undo that is a `workflow` or an `approve`
            task cannot be bounded by its `timeout`. Put a condition into the
            undo's command instead.

            Erroneous example:

                task reserve { run: "./reserve", compensate: cancel }
                task cancel { when: inputs.live, timeout: 1m, run: "./cancel" }

            Corrected example:

                task reserve { run: "./reserve", compensate: cancel }
                task cancel { timeout: 1m, run: "./cancel ${inputs.live}" }
            """#),
        entry(
            "E0983", .error, "compensation without a timeout",
            #"""
            A cancel and the run's deadline do not stop a compensation: an undo
            that a second cancel interrupted would leave the booking half undone.
            So each compensation bounds itself with a `timeout`, and the whole run
            stays bounded.

            Erroneous example:

                task reserve { run: "./reserve", compensate: cancel }
                task cancel { run: "./cancel" }

            Corrected example:

                task reserve { run: "./reserve", compensate: cancel }
                task cancel { timeout: 1m, run: "./cancel" }
            """#),
        entry(
            "E0984", .error, "a compensation named by two tasks",
            #"""
            An undo reads the outputs of the task it undoes, and runs once for it.
            Named by two tasks, it would not know whose outputs it reads, nor
            whether to run once or twice. Declare one undo task per compensated
            task.

            Erroneous example:

                task hotel { run: "./hotel", compensate: cancel }
                task flight { run: "./flight", compensate: cancel }
                task cancel { timeout: 1m, run: "./cancel" }

            Corrected example:

                task hotel { run: "./hotel", compensate: cancel_hotel }
                task flight { run: "./flight", compensate: cancel_flight }
                task cancel_hotel { timeout: 1m, run: "./cancel hotel" }
                task cancel_flight { timeout: 1m, run: "./cancel flight" }
            """#),
        entry(
            "E0985", .error, "compensation across `finally` or a fallback",
            #"""
            Compensation runs after the main graph and before `finally`, so a
            `finally` task is never compensated and cannot be an undo. A `catch`
            fallback runs in place of a failed task and cannot be an undo either:
            declare a separate task for the undo. Nor can a task with a `catch`
            fallback be compensated: when the fallback stood in for it, its undo
            would undo work the fallback did not do, and leave what it did.

            Erroneous example:

                task reserve { run: "./reserve", compensate: notify }
                finally {
                  task notify { timeout: 1m, run: "./notify" }
                }

            Corrected example:

                task reserve { run: "./reserve", compensate: cancel }
                task cancel { timeout: 1m, run: "./cancel" }
                finally {
                  task notify { timeout: 1m, run: "./notify" }
                }
            """#),
        entry(
            "E0986", .error, "compensation of a task that fans out",
            #"""
            A task with `for_each` or `matrix` runs as several instances, and
            undoing each succeeded instance with its own outputs and `item` is not
            supported yet. Compensate a task that runs once: for instance, move the
            fan-out into a nested workflow and compensate each task inside it.

            Erroneous example:

                task reserve {
                  for_each: inputs.rooms
                  run: "./reserve ${item}"
                  compensate: cancel
                }
                task cancel { timeout: 1m, run: "./cancel" }

            Corrected example:

                task reserve {
                  run: "./reserve ${join(inputs.rooms, " ")}"
                  compensate: cancel
                }
                task cancel { timeout: 1m, run: "./cancel" }
            """#),
        entry(
            "E0987", .error, "a compensation reads another task",
            #"""
            A compensation runs only after the task it undoes succeeded; any other
            task may have failed, been skipped or cancelled when the undo runs. So
            an undo reads the outputs of the task it undoes (surely there) and the
            workflow's inputs, nothing else. Pass what the undo needs as an output
            of the task it undoes.

            Erroneous example:

                task quote { run: "./quote", output price: string }
                task pay { after: [quote], run: "./pay", compensate: refund }
                task refund { timeout: 1m, run: "./refund ${quote.outputs.price}" }

            Corrected example:

                task quote { run: "./quote", output price: string }
                task pay {
                  run: "./pay ${quote.outputs.price}"
                  output paid: string
                  compensate: refund
                }
                task refund { timeout: 1m, run: "./refund ${pay.outputs.paid}" }
            """#),
        entry(
            "W0100", .warning, "unused input",
            #"""
            A workflow input is declared but never read. Whoever starts the workflow,
            or a task that runs it as a nested workflow, will set the input believing
            it changes something, and it does not. Usually the input was renamed in
            one place only, or the task that used it was deleted. Read it where it was
            meant to be used, or remove it.

            Erroneous example:

                workflow deploy {
                  input environment: string
                  input dry_run: bool = false
                  task apply { run: "deploy --env ${inputs.environment}" }
                }

            Corrected example:

                workflow deploy {
                  input environment: string
                  input dry_run: bool = false
                  task apply {
                    run: "deploy --env ${inputs.environment} --dry-run=${inputs.dry_run}"
                  }
                }
            """#),
        entry(
            "W0101", .warning, "unused role",
            #"""
            A role is declared but nothing refers to it: no task or group runs as it,
            no `approve` task lists it among its `approvers`, no policy names it, and
            no other role inherits it. An unused role is dead access policy: readers
            assume it matters and keep it up to date, and a reviewer cannot tell
            whether it is left over or whether the task meant to use it forgot to.
            Use it where it was meant to be used, or remove it.

            Erroneous example:

                role builder { allow: [run] }
                role deployer { allow: [run] }

                workflow ci {
                  task build { run: "make", role: builder }
                  task deploy { run: "make deploy", role: builder, after: [build] }
                }

            Corrected example:

                role builder { allow: [run] }
                role deployer { allow: [run] }

                workflow ci {
                  task build { run: "make", role: builder }
                  task deploy { run: "make deploy", role: deployer, after: [build] }
                }
            """#),
        entry(
            "W0102", .warning, "unused grant",
            #"""
            A role grants a secret or an agent that no task running as that role, or
            as a role inheriting from it, uses. Every grant is something a careless or
            compromised task could misuse, so a grant that nothing needs only widens
            what could go wrong; this is the principle of least privilege. Unused
            grants usually outlive the task that once needed them. Remove the grant.

            Erroneous example:

                secret prod_db_password { provider: vault, key: "db/prod/password" }
                role builder { allow: [run], secrets: [prod_db_password] }

                workflow ci {
                  task build { run: "make", role: builder }
                }

            Corrected example:

                role builder { allow: [run] }

                workflow ci {
                  task build { run: "make", role: builder }
                }
            """#),
        entry(
            "W0103", .warning, "agent no role may use",
            #"""
            An agent is declared, but no role lists it in its `agents`, so no task
            running as a role can be given to it. Perhaps the role that should use it
            was never updated, or the agent is left over from an earlier version of
            the workflow. An agent nothing can use still costs a reader's attention,
            and an `http` or `llm` agent may hold an API key for nothing. Grant it to
            the role that should use it, or remove it.

            Erroneous example:

                agent linux_runner { driver: exec, capabilities: ["shell"] }
                agent mac_runner { driver: exec, capabilities: ["shell", "macos"] }
                role builder { allow: [run], agents: [linux_runner] }

            Corrected example:

                agent linux_runner { driver: exec, capabilities: ["shell"] }
                agent mac_runner { driver: exec, capabilities: ["shell", "macos"] }
                role builder { allow: [run], agents: [linux_runner, mac_runner] }
            """#),
        entry(
            "W0104", .warning, "unused import",
            #"""
            A module is imported but none of its declarations is used. Each import
            costs loading and checking the module on every compile, and a reader takes
            every import as something the workflow depends on; an unused one is
            usually left over from a refactoring. Remove it.

            Erroneous example:

                import "./presets.ezflow"
                import "./roles.ezflow"

                workflow ci {
                  task build { run: "make", retry: presets.flaky }
                }

            Corrected example:

                import "./presets.ezflow"

                workflow ci {
                  task build { run: "make", retry: presets.flaky }
                }
            """#),
        entry(
            "W0105", .warning, "entry listed twice",
            #"""
            A list of names or words (`after`, `writes`, `needs`, `tags`, `secrets`,
            `approvers`, a role's `agents`, a retry rule's `on`, ...) names the same
            entry twice. These lists are sets: the second entry adds nothing, and
            the run behaves as if it were written once. A repeat usually means that
            another name was meant (`after: [build, build]` where `test` was meant
            too), so ezc points at it; the fix removes the repeat.

            Erroneous example:

                workflow ci {
                  task build { run: "make" }
                  task lint { run: "make lint" }
                  task test { run: "make test", after: [build, build] }
                }

            Corrected example:

                workflow ci {
                  task build { run: "make" }
                  task lint { run: "make lint" }
                  task test { run: "make test", after: [build, lint] }
                }
            """#),
        entry(
            "W0106", .warning, "`on_timeout` on a gate without `timeout`",
            #"""
            An `approve` task says what to do when its `timeout` passes unanswered
            (`on_timeout`), but has no `timeout`: the gate waits for an answer as long
            as the run lasts, and `on_timeout` never applies. Give the gate a
            `timeout` (counted from the moment it asks for approval), or remove
            `on_timeout`.

            Erroneous example:

                task approve_deploy {
                  approve: "Deploy?"
                  approvers: [releaser]
                  on_timeout: approve
                }

            Corrected example:

                task approve_deploy {
                  approve: "Deploy?"
                  approvers: [releaser]
                  timeout: 30m
                  on_timeout: approve
                }
            """#),
        entry(
            "W0107", .warning, "selector that only works in simulation",
            #"""
            The workflow picks its agents with `selector: auction`. An auction asks
            every candidate agent for a bid (price and time) and takes the best one.
            Only `ezrun simulate` has bidders: there each simulated agent bids from its
            model. In `ezrun run` no agent is asked: every bid is priced from the
            agent's declared cost and a fixed profile, so the auction is a static
            price list, not a market. ezc says so, and so does `ezrun run`.

            Erroneous example:

                workflow ci {
                  selector: auction
                  task build { run: "make" }
                }

            Corrected example:

                workflow ci {
                  selector: learned
                  task build { run: "make" }
                }
            """#),
        entry(
            "W0108", .warning, "retry rule an earlier rule shadows",
            #"""
            A task may have several `retry` rules. A failure goes to the first rule
            whose classes include the failure's class (a rule without `on:` takes
            every class a retry can fix), and each rule counts its own retries. So a
            class that an earlier rule already takes never reaches a later rule that
            names it, and a rule without `on:` after another one without `on:` never
            applies: the later rule's `attempts`, delays and backoff are dead text.
            Put the specific rules first and the catch-all rule last.

            Erroneous example:

                task fetch {
                  run: "curl -fsS https://example.com"
                  retry { attempts: 3 }
                  retry { on: [timeout], attempts: 10, backoff: exponential, delay: 1s }
                }

            Corrected example:

                task fetch {
                  run: "curl -fsS https://example.com"
                  retry { on: [timeout], attempts: 10, backoff: exponential, delay: 1s }
                  retry { attempts: 3 }
                }
            """#),
        entry(
            "W0600", .warning, "critical path worst case exceeds the deadline",
            #"""
            The longest chain of dependent tasks could, in the worst case, take longer
            than the workflow's `deadline`. A task's worst case is its `timeout` times
            its retry `attempts` (plus one attempt on a `catch` agent), plus the
            backoff delays between attempts and a `catch` task's worst case; along a
            chain of dependencies these add up, and the chain with the largest total
            is the critical path. It is a warning, not an error, because the worst
            case needs every attempt on the path to time out; but if that happens the
            run is stopped at the deadline, so the warning shows the path and the
            arithmetic, to help you raise the deadline or tighten timeouts and
            retries. `--deny-warnings` fails on it; `strict: true` on the workflow's
            budget makes it error E0607.

            Erroneous example:

                workflow release {
                  deadline: 1h
                  task build {
                    run: "make"
                    timeout: 20m
                    retry { attempts: 3, backoff: fixed, delay: 1m }
                  }
                  task test { run: "make test", timeout: 15m, after: [build] }
                }

            Here `build` may take 3 x 20m + 2 x 1m = 62m and `test` 15m more: 77m.

            Corrected example:

                workflow release {
                  deadline: 90m
                  task build {
                    run: "make"
                    timeout: 20m
                    retry { attempts: 3, backoff: fixed, delay: 1m }
                  }
                  task test { run: "make test", timeout: 15m, after: [build] }
                }
            """#),
        entry(
            "W0601", .warning, "worst case exceeds the budget",
            #"""
            If every attempt that every task under a budget may make failed at its
            per-attempt limit, and every fallback ran, the tasks would reserve more
            money or tokens, or take more time, than the budget allows; the run would
            then be stopped partway with `budget_exceeded` instead of finishing. Each
            attempt counts at what the runtime reserves before dispatching it
            (`max_cost`, else the agent's prices for the whole `timeout` and
            `max_tokens`); the worst case adds every attempt the retry rule allows,
            one attempt on a `catch` agent, `catch` tasks and every `for_each`
            instance, and a child budget at most at its limit. For time it is the
            longest chain of tasks by attempts × timeout plus backoff. The notes show
            the arithmetic. It is a warning because it needs everything to fail;
            `--deny-warnings` fails on it, and `strict: true` on the budget makes it
            error E0601.

            Erroneous example (2 tasks × 1 attempt × $30 = $60 > $50):

                workflow review {
                  budget { money: $50 }
                  task first { prompt: "Review the design", max_cost: $30 }
                  task second { prompt: "Review the code", max_cost: $30 }
                }

            Corrected example:

                workflow review {
                  budget { money: $60 }
                  task first { prompt: "Review the design", max_cost: $30 }
                  task second { prompt: "Review the code", max_cost: $30 }
                }
            """#),
        entry(
            "W0800", .warning, "untrusted value runs as shell code",
            #"""
            A value that whoever starts the run, another task (an LLM reply too) or
            a `for_each` list controls reaches the shell of a `run:` as code. ezrun
            passes every `${…}` in a `run:` as data: the script reads it from an
            environment variable, so quotes, `;`, `$(…)` or newlines in it are
            only text, and `echo ${inputs.x}` is safe. What no quoting can make
            safe is a script that runs the value itself: as the command name,
            through `eval` or `trap`, as the file `.` runs, as the script of
            `sh -c`, or inside `$((…))`. Pass the value as an argument instead. A
            value starting with `-` is still one argument, but a command that
            parses options takes it for one: put `--` before it. Numbers, units,
            booleans and enum cases are never reported. The same warning marks a
            value inside a here-document with a quoted delimiter, which cannot be
            passed at all: the task fails there.

            Erroneous example:

                workflow deploy {
                  input target: string
                  task ship { run: "sh -c 'deploy --to ${inputs.target}'" }
                }

            Corrected example:

                workflow deploy {
                  input target: string
                  task ship { run: "sh -c 'deploy --to \"$1\"' sh ${inputs.target}" }
                }
            """#),
        entry(
            "W0801", .warning, "secret on a command line",
            #"""
            A secret reaches the argument list of a program that a `run:` script
            starts. ezrun never puts a secret into the script or its command line:
            `${secrets.tok}` becomes a reference to an environment variable. But
            when the script hands that value to another program as an argument,
            it is in that program's command line, which every local user can read
            while it runs (`ps`, /proc/PID/cmdline). Shell builtins (`echo`,
            `printf`, `test`, `export`, ...) start no program and are not
            reported, nor is an assignment before a command (`TOKEN=... cmd`),
            which goes to the command's environment. Let the program read the
            secret from its environment (`$EZFLOW_SECRET_TOK`), from stdin, or
            from a file.

            Erroneous example:

                task publish {
                  secrets: [tok]
                  run: "curl -H 'Authorization: Bearer ${secrets.tok}' $URL"
                }

            Corrected example:

                task publish {
                  secrets: [tok]
                  run: "printf 'Authorization: Bearer %s' ${secrets.tok} | curl -H @- $URL"
                }
            """#),
        entry(
            "W0900", .warning, "failure handler with nothing to react to",
            #"""
            A `run_on: failure` task runs only when at least one of its
            dependencies failed, after their retries and fallbacks. A task that
            depends on nothing has no failure to react to and is always skipped.
            Name the tasks it reacts to with `after`.

            Erroneous example:

                task page { run_on: failure, run: "./page-oncall" }

            Corrected example:

                task page { run_on: failure, after: [deploy], run: "./page-oncall" }
            """#),
        entry(
            "W0920", .warning, "matrix exclude matches no cell",
            #"""
            An `exclude` entry removes every cell whose values match all the keys
            it names; this one matches none, usually because a value is spelled
            differently from the axis (`macOS` for `macos`). The matrix runs
            every cell the entry was meant to drop.

            Erroneous example:

                matrix {
                  os: ["linux", "macos"]
                  exclude: [{ os: "macOS" }]
                }

            Corrected example:

                matrix {
                  os: ["linux", "macos"]
                  exclude: [{ os: "macos" }]
                }
            """#),
    ]

    /// Entries by code, for lookup.
    public static let entries: [String: CatalogueEntry] = Dictionary(
        uniqueKeysWithValues: all.map { ($0.code, $0) })

    /// The entry for `code`, ignoring case and surrounding whitespace (`ezc explain e0400`).
    public static func entry(_ code: String) -> CatalogueEntry? {
        entries[normalize(code)]
    }

    /// What `ezc explain CODE` prints: `E0400: dependency cycle`, a blank line, the
    /// explanation, and a final newline. Nil for an unknown code.
    public static func explain(_ code: String) -> String? {
        guard let e = entry(code) else { return nil }
        return "\(e.code): \(e.title)\n\n\(e.explanation)\n"
    }

    /// docs/DIAGNOSTICS.md: every entry under an anchor named by its code (`#E0400`),
    /// which an editor's link from a diagnostic (LSP `codeDescription`) opens. Installed
    /// as share/ezflow/doc/DIAGNOSTICS.md beside the stdlib.
    public static func markdown() -> String {
        var out = """
            # Diagnostic codes

            Every code `ezc` reports, with what `ezc explain CODE` prints. Generated from the
            catalogue (`Sources/EzflowDiagnostics/Catalogue.swift`); the tests fail when this file
            differs (`EZFLOW_UPDATE_GOLDEN=1 swift test --filter CatalogueTests` rewrites it).
            Editors link each diagnostic to its section here (`ezc lsp`).

            """
        for e in all {
            out += "\n<a id=\"\(e.code)\"></a>\n\n## \(e.code): \(e.title)\n\nSeverity: \(e.severity.rawValue).\n\n\(e.explanation)\n"
        }
        return out
    }

    private static func normalize(_ code: String) -> String {
        String(code.unicodeScalars.filter { !$0.properties.isWhitespace }).uppercased()
    }

    private static func entry(
        _ code: String, _ severity: Severity, _ title: String, _ explanation: String
    ) -> CatalogueEntry {
        CatalogueEntry(code: code, severity: severity, title: title, explanation: explanation)
    }
}
