// A `run:` template rendered as a shell script in which values are data: each `${…}`
// becomes a reference to an environment variable (`EZFLOW_V1`, `EZFLOW_V2`, …) that
// carries its value, so no value — input, task output, item or secret — is ever part of
// the script text or of argv (docs/DRIVERS.md "Values are data"; `ShellScript` places
// the references).
import EzflowIR
import EzflowShell

/// A rendered `run:` script and the variables its references read.
public struct ShellCommand: Sendable, Equatable {
    /// The script for `sh -c`; it holds the template's text and variable references only.
    public var script: String
    /// `EZFLOW_V<n>` → the n-th interpolation's value, in order.
    public var environment: [(String, String)]

    public static func == (a: ShellCommand, b: ShellCommand) -> Bool {
        a.script == b.script && a.environment.elementsEqual(b.environment) { $0 == $1 }
    }
}

extension TemplateRenderer {
    /// The prefix of the variables that carry interpolated values (reserved: they are set
    /// after the task's own `env`).
    public static let valuePrefix = "EZFLOW_V"

    /// Linux's limit on one environment string (`MAX_ARG_STRLEN`, `NAME=value` and its NUL).
    public static let environmentStringMax = 131_072

    /// Renders a `run:` template (`parts`) as a script plus the values' variables. Fails,
    /// naming the interpolation, when a value cannot be passed as data: it holds a NUL
    /// byte, it is larger than one environment string may be, it is not an integer inside
    /// `$((…))`, or it sits in a here-document whose delimiter is quoted. `tasks` (the IR
    /// tasks) names task outputs in messages.
    public func renderScript(_ parts: [JSONValue], tasks: [JSONValue] = []) throws(RenderError) -> ShellCommand {
        var script = ShellScript()
        var env: [(String, String)] = []
        for p in parts {
            if case .object(let m) = p, m.count == 1, m[0].0 == "text", case .string(let t) = m[0].1 {
                script.append(text: t)
                continue
            }
            let value = try renderText(p)
            let name = Self.valuePrefix + String(env.count + 1)
            let what = describe(p, tasks: tasks)
            if value.utf8.contains(0) {
                throw RenderError("the value of `${\(what)}` contains a NUL byte, which no environment variable or argument can carry")
            }
            if name.utf8.count + value.utf8.count + 2 > Self.environmentStringMax {
                throw RenderError("the value of `${\(what)}` is \(value.utf8.count) bytes; a value passed to a shell can be at most "
                                  + "\(Self.environmentStringMax - name.utf8.count - 2) bytes (pass larger data in a file)")
            }
            let slot = script.appendValue(variable: name)
            switch slot.context {
            case .quotedHereDocument:
                throw RenderError("`${\(what)}` is inside a here-document with a quoted delimiter, where the shell expands nothing; "
                                  + "unquote the delimiter (`<<EOF`) to pass the value")
            case .arithmetic where !Self.isInteger(value):
                throw RenderError("`${\(what)}` is used in shell arithmetic (`$((…))`) but its value is not an integer")
            default:
                break
            }
            env.append((name, value))
        }
        return ShellCommand(script: script.text, environment: env)
    }

    /// A decimal integer, optionally negative: the only text arithmetic reads as data.
    static func isInteger(_ s: String) -> Bool {
        var u = Substring(s).utf8
        if u.first == UInt8(ascii: "-") { u = u.dropFirst() }
        return !u.isEmpty && u.count <= 19 && u.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// How the author wrote an interpolation, near enough to find it: `inputs.branch`,
    /// `fetch.outputs.body`, `item.path`, `secrets.token`; otherwise "an expression".
    func describe(_ e: JSONValue, tasks: [JSONValue]) -> String {
        guard case .object(let m) = e, let (kind, arg) = m.first(where: { $0.0 != "args" }) else { return "an expression" }
        func fields(_ xs: ArraySlice<JSONValue>) -> [String] { xs.compactMap { if case .string(let s) = $0 { s } else { nil } } }
        switch (kind, arg) {
        case ("secret", .string(let n)):
            return "secrets.\(n)"
        case ("item", .array(let f)):
            return (["item"] + fields(f[...])).joined(separator: ".")
        case ("ref", .array(let path)):
            if path.count >= 2, case .string("task") = path[0], case .int(let id) = path[1] {
                let name = values.depName(Int(id), tasks: tasks) ?? "task"
                return ([name] + fields(path.dropFirst(2))).joined(separator: ".")
            }
            return fields(path[...]).joined(separator: ".")
        default:
            return "an expression"
        }
    }
}
