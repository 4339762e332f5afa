// W0800: an untrusted value (an input, a task's output — an LLM reply among them — or a
// `for_each` item) that reaches the shell of a `run:` as code. Every interpolation is
// passed as data (docs/DRIVERS.md "Values are data"), so `echo ${inputs.x}` is safe; what
// is left is a script that runs the value itself: as the command name, through `eval`,
// `trap`, `.`, `sh -c SCRIPT`, or in `$((…))`. Modelled on actionlint's script injection
// check. The template is read with the same `ShellScript` the exec driver builds with.
import EzflowDiagnostics
import EzflowShell
import EzflowSyntax

extension WorkflowChecker {
    /// Reports W0800 for each interpolation of a `run:` string that reaches the shell as code.
    mutating func checkShellInjection(_ run: Expr) {
        guard case .string(let parts) = run.kind else { return }
        var script = ShellScript()
        for p in parts {
            switch p {
            case .text(let t):
                script.append(text: t)
            case .interpolation(let x):
                let slot = script.appendValue(variable: "V")
                if slot.reachesArgv, let secret = reference(in: x, where: { if case .decl(.secret, _) = $0 { true } else { false } }) {
                    report(secretOnCommandLine(secret, slot, x.span))
                }
                guard let use = slot.codeUse else { continue }
                if use == .quotedHereDocument {
                    report(.warning("W0800", "a value cannot be passed into a here-document whose delimiter is quoted", at: x.span,
                                    label: "the task fails here at run time",
                                    help: "unquote the delimiter (`<<EOF`): the value is then expanded as data"))
                    continue
                }
                guard let source = untrustedSource(x), !Self.isDataOnly(types[x.span]) else { continue }
                report(shellInjection(use, source, x.span))
            }
        }
    }

    func shellInjection(_ use: ShellCodeUse, _ source: String, _ span: Span) -> Diagnostic {
        let (what, help): (String, String) = switch use {
        case .commandName:
            ("is run as a command", "run a fixed command and pass the value as an argument; to choose among commands, "
                + "match it against fixed names: `case ${\(source)} in gcc|clang) …`")
        case .evaluated(let c):
            ("is passed to `\(c)`, which runs it as shell code", "drop `\(c)`: `${\(source)}` is already passed as one argument "
                + "(put `--` before it for a command that parses options)")
        case .sourced(let c):
            ("names the script that `\(c)` runs", "source a fixed path")
        case .shellScript(let sh):
            ("is part of the script of `\(sh) -c`, which runs it as shell code",
             "pass it as an argument after the script and read `\"$1\"`: `\(sh) -c 'echo \"$1\"' \(sh) ${\(source)}`")
        case .arithmetic:
            ("is used in shell arithmetic (`$((…))`), which evaluates it", "give it type `int`, or compare it as text")
        case .quotedHereDocument:
            ("", "")
        }
        return .warning("W0800", "untrusted value `\(source)` \(what)", at: span,
                        label: "comes from \(Self.origin(source))", help: help)
    }

    /// Types whose text cannot be shell code (numbers, units, booleans, enum cases).
    static func isDataOnly(_ t: Ty?) -> Bool {
        switch t {
        case .int?, .float?, .bool?, .duration?, .money?, .tokens?, .enumeration?: true
        default: false
        }
    }

    static func origin(_ source: String) -> String {
        if source.hasPrefix("inputs.") { return "whoever starts the run" }
        if source == "item" || source.hasPrefix("item.") { return "the `for_each` list" }
        return "another task's output"
    }

    /// The first reference in `e` to an input, a task output or the fan-out item, as written.
    func untrustedSource(_ e: Expr) -> String? {
        reference(in: e) { b in
            switch b {
            case .input, .taskOutput, .previousOutput, .item: true
            default: false
            }
        }
    }

    /// The first reference in `e` whose binding `matches`, as written.
    func reference(in e: Expr, where matches: (Binding) -> Bool) -> String? {
        func first(_ es: [Expr]) -> String? {
            for x in es { if let s = find(x) { return s } }
            return nil
        }
        func find(_ e: Expr) -> String? {
            switch e.kind {
            case .name, .member:
                if let path = e.path, let b = bindings.binding(of: e), matches(b) { return path.map(\.text).joined(separator: ".") }
                if case .member(let base, _) = e.kind { return find(base) }
                return nil
            case .index(let a, let b): return find(a) ?? find(b)
            case .call(_, let args): return first(args)
            case .unary(_, let x): return find(x)
            case .binary(_, let l, let r): return find(l) ?? find(r)
            case .list(let items): return first(items)
            case .record(let entries): return first(entries.map(\.value))
            case .string(let parts):
                for case .interpolation(let x) in parts { if let s = find(x) { return s } }
                return nil
            case .int, .float, .duration, .money, .tokens, .bool, .null, .error: return nil
            }
        }
        return find(e)
    }

    /// W0801: a secret in the argument list of a program the script starts.
    func secretOnCommandLine(_ secret: String, _ slot: ShellSlot, _ span: Span) -> Diagnostic {
        let program = ShellSlot.droppingKeywords(slot.words[...]).first.flatMap { $0 }
        let whose = program.map { "the command line of `\($0)`" } ?? "a command line"
        let env = "EZFLOW_SECRET_" + String(secret.split(separator: ".").last ?? "").uppercased()
        return .warning("W0801", "secret `\(secret)` is passed on \(whose)", at: span,
                        label: "every local user can read it there (`ps`, /proc/PID/cmdline)",
                        help: "let the program read it from its environment (`$\(env)`) or stdin, e.g. "
                            + "`printf 'Authorization: Bearer %s\\n' ${\(secret)} | curl -H @- URL`")
    }
}
