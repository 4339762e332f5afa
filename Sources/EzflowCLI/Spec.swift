// The one table of commands, flags and help text: parsing, `--help`, `help CMD`, shell
// completions, man pages and the docs' command tables are all read off these values, so
// they cannot drift apart (docs/CLI.md is generated from them and checked by the tests).

/// What a shell should offer for a value or an argument.
public enum Completion: Sendable, Equatable {
    case none
    case file
    case directory
    /// One of these words (the parser also refuses any other).
    case choices([String])
}

/// One option: `--name`, maybe `-x`, maybe a value.
public struct Flag: Sendable {
    public let name: String
    public let short: String?
    /// The value's placeholder (`FILE`, `N`); nil for a switch.
    public let value: String?
    public let help: String
    public let complete: Completion
    /// A flag that may be given more than once (`--input A=1 --input B=2`).
    public let repeatable: Bool

    public init(_ name: String, short: String? = nil, value: String? = nil, _ help: String,
                complete: Completion = .none, repeatable: Bool = false) {
        self.name = name
        self.short = short
        self.value = value
        self.help = help
        self.complete = complete
        self.repeatable = repeatable
    }

    /// `--format text|json`-style flags: the parser refuses any other value.
    public static func choice(_ name: String, value: String, _ choices: [String], _ help: String) -> Flag {
        Flag(name, value: value, help, complete: .choices(choices))
    }

    public var takesValue: Bool { value != nil }
    public var choices: [String]? { if case .choices(let c) = complete { return c } else { return nil } }
}

/// A positional argument.
public struct Argument: Sendable {
    public let name: String
    public let help: String
    public let optional: Bool
    /// Takes every remaining argument (`FILE...`).
    public let variadic: Bool
    public let complete: Completion

    public init(_ name: String, _ help: String, optional: Bool = false, variadic: Bool = false, complete: Completion = .none) {
        self.name = name
        self.help = help
        self.optional = optional
        self.variadic = variadic
        self.complete = complete
    }

    var synopsis: String {
        let core = variadic ? "\(name)..." : name
        return optional ? "[\(core)]" : core
    }
}

/// A command or a subcommand (`ezrun dlq list`).
public struct CommandSpec: Sendable {
    public let name: String
    /// One line, lower case, no final period: the command tables and `--help`'s first line.
    public let summary: String
    public let arguments: [Argument]
    public let flags: [Flag]
    /// Paragraphs after the options in `--help` (rules, examples); may be empty.
    public let details: String
    public let subcommands: [CommandSpec]
    /// Other usage lines when the arguments alone do not say it (`ezc build --validate FILE.ezir`).
    public let alternatives: [String]
    /// Exit statuses, when they differ from the tool's.
    public let exitCodes: [ExitCode]

    public init(_ name: String, _ summary: String, arguments: [Argument] = [], flags: [Flag] = [], details: String = "",
                subcommands: [CommandSpec] = [], alternatives: [String] = [], exitCodes: [ExitCode] = []) {
        self.name = name
        self.summary = summary
        self.arguments = arguments
        self.flags = flags
        self.details = details
        self.subcommands = subcommands
        self.alternatives = alternatives
        self.exitCodes = exitCodes
    }

    public func flag(_ name: String) -> Flag? {
        flags.first { $0.name == name || ($0.short != nil && $0.short == name) }
    }

    public func subcommand(_ name: String) -> CommandSpec? { subcommands.first { $0.name == name } }
}

/// One exit status and what it means.
public struct ExitCode: Sendable {
    public let code: Int32
    public let meaning: String
    public init(_ code: Int32, _ meaning: String) {
        self.code = code
        self.meaning = meaning
    }
}

/// An environment variable a tool reads.
public struct EnvironmentVariable: Sendable {
    public let name: String
    public let meaning: String
    public init(_ name: String, _ meaning: String) {
        self.name = name
        self.meaning = meaning
    }
}

/// A whole tool: `ezc`, `ezrun`, `ezbench`.
public struct Tool: Sendable {
    public let name: String
    public let version: String
    public let summary: String
    public let commands: [CommandSpec]
    public let exitCodes: [ExitCode]
    /// Environment variables the tool reads, and what for.
    public let environment: [EnvironmentVariable]

    public init(name: String, version: String, summary: String, commands: [CommandSpec], exitCodes: [ExitCode],
                environment: [EnvironmentVariable] = []) {
        self.name = name
        self.version = version
        self.summary = summary
        self.exitCodes = exitCodes
        self.environment = environment
        self.commands = commands + Tool.builtins(name, commands: commands.map(\.name))
    }

    public func command(_ name: String) -> CommandSpec? { commands.first { $0.name == name } }

    /// Every command path, depth first (`["dlq"]`, `["dlq", "list"]`, …).
    public var paths: [[String]] {
        func walk(_ c: CommandSpec, _ prefix: [String]) -> [[String]] {
            let p = prefix + [c.name]
            return [p] + c.subcommands.flatMap { walk($0, p) }
        }
        return commands.flatMap { walk($0, []) }
    }

    /// The command at a path.
    public func command(at path: [String]) -> CommandSpec? {
        guard let first = path.first, var c = command(first) else { return nil }
        for name in path.dropFirst() {
            guard let s = c.subcommand(name) else { return nil }
            c = s
        }
        return c
    }

    /// `help`, `completions` and `version`: the same on every tool, answered by `Tool.parse`.
    static func builtins(_ tool: String, commands: [String]) -> [CommandSpec] {
        let printed = [ExitCode(0, "printed"), ExitCode(2, "usage error")]
        return [
            CommandSpec("help", "print the help of a command (`\(tool) help COMMAND`)",
                    arguments: [Argument("COMMAND", "a command, or a command and its subcommand", optional: true, variadic: true,
                                         complete: .choices(commands + ["help", "completions", "version"]))],
                    flags: [Flag("--man", "print the manual page (roff) of \(tool) instead")], exitCodes: printed),
            CommandSpec("completions", "print the shell completion script for bash, zsh or fish",
                    arguments: [Argument("SHELL", "bash, zsh or fish", complete: .choices(["bash", "zsh", "fish"]))],
                    details: """
                        bash:  \(tool) completions bash > ~/.local/share/bash-completion/completions/\(tool)
                        zsh:   \(tool) completions zsh > "${fpath[1]}/_\(tool)"
                        fish:  \(tool) completions fish > ~/.config/fish/completions/\(tool).fish
                        (`make install` puts all three where the shells look.)
                        """, exitCodes: printed),
            CommandSpec("version", "print the version", exitCodes: printed),
        ]
    }
}

/// `-h, --help`: accepted by every command, listed in every help text.
public let helpFlag = Flag("--help", short: "-h", "print this help")
