// Command lines read against the table (Spec.swift): one grammar for every command of
// every tool — `--flag value`, `--flag=value`, `-x value`, `--` ends the options, `-` is
// an argument (standard input), `-h`/`--help` anywhere asks for that command's help.

/// A parsed command line: which command, its flags and its arguments.
public struct Invocation: Sendable, Equatable {
    /// The command and subcommand names (`["dlq", "list"]`).
    public let path: [String]
    public internal(set) var positional: [String] = []
    /// Valued flags by long name, in the order given.
    public internal(set) var values: [String: [String]] = [:]
    /// Switches given, by long name.
    public internal(set) var flags: Set<String> = []

    public init(path: [String], positional: [String] = [], values: [String: [String]] = [:], flags: Set<String> = []) {
        self.path = path
        self.positional = positional
        self.values = values
        self.flags = flags
    }

    /// The value of a flag given once (the last one when given again).
    public func value(_ flag: String) -> String? { values[flag]?.last }
    /// Every value of a repeatable flag.
    public func all(_ flag: String) -> [String] { values[flag] ?? [] }
    public func has(_ flag: String) -> Bool { flags.contains(flag) || values[flag] != nil }
}

/// What a command line asks for: a command to run, or text to print and an exit status
/// (help, version, completions, a usage error), all decided without side effects.
public enum Parsed: Sendable, Equatable {
    case invoke(Invocation)
    case output(String, toStandardError: Bool, status: Int32)
}

extension Tool {
    /// The exit status of a usage error, on every tool.
    public static let usageStatus: Int32 = 2

    public func parse(_ argv: [String]) -> Parsed {
        guard let first = argv.first else {
            return .output("\(name): missing command\n" + Help.usage(self) + "\n" + Help.moreHint(self, []) + "\n", toStandardError: true, status: Tool.usageStatus)
        }
        switch first {
        case "-h", "--help": return .output(Help.toolHelp(self), toStandardError: false, status: 0)
        case "--version", "-V": return .output("\(name) \(version)\n", toStandardError: false, status: 0)
        default: break
        }
        guard var command = command(first) else {
            let isFlagOfACommand = paths.contains { command(at: $0)?.flag(first) != nil }
            let what = !first.hasPrefix("-") ? "unknown command `\(first)`"
                : isFlagOfACommand ? "`\(first)` goes after the command (`\(name) COMMAND \(first)`)" : "unknown option `\(first)`"
            let hint = Suggest.closest(first, among: commands.map(\.name)).map { " (did you mean `\($0)`?)" } ?? ""
            return usageError([], what + hint)
        }
        var path = [first]
        var i = 1
        while !command.subcommands.isEmpty {
            guard i < argv.count else { return usageError(path, "missing subcommand (\(Help.list(command.subcommands.map(\.name))))") }
            let word = argv[i]
            if word == "-h" || word == "--help" { return .output(Help.commandHelp(self, path), toStandardError: false, status: 0) }
            guard let sub = command.subcommand(word) else {
                let hint = Suggest.closest(word, among: command.subcommands.map(\.name)).map { " (did you mean `\($0)`?)" } ?? ""
                return usageError(path, "unknown subcommand `\(word)`\(hint)")
            }
            command = sub
            path.append(word)
            i += 1
        }
        switch parseArguments(Array(argv[i...]), of: command, at: path) {
        case .failure(let e): return e.parsed
        case .success(let inv): return builtin(inv) ?? .invoke(inv)
        }
    }

    /// An error naming what is wrong, then the command's usage: exit 2.
    func usageError(_ path: [String], _ message: String) -> Parsed {
        let who = ([name] + path).joined(separator: " ")
        let usage = path.isEmpty ? Help.usage(self) : Help.usage(self, path)
        return .output("\(who): \(message)\n\(usage)\n\(Help.moreHint(self, path))\n", toStandardError: true, status: Tool.usageStatus)
    }

    struct Stop: Error {
        let parsed: Parsed
    }

    func parseArguments(_ args: [String], of command: CommandSpec, at path: [String]) -> Result<Invocation, Stop> {
        var inv = Invocation(path: path)
        var i = 0
        var optionsEnded = false
        func fail(_ message: String) -> Result<Invocation, Stop> { .failure(Stop(parsed: usageError(path, message))) }
        while i < args.count {
            let arg = args[i]
            i += 1
            if optionsEnded || arg == "-" || !arg.hasPrefix("-") {
                inv.positional.append(arg)
                continue
            }
            if arg == "--" { optionsEnded = true; continue }
            if arg == "-h" || arg == "--help" {
                return .failure(Stop(parsed: .output(Help.commandHelp(self, path), toStandardError: false, status: 0)))
            }
            var name = arg, inline: String? = nil
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            guard let flag = command.flag(name) else {
                let hint = Suggest.closest(name, among: command.flags.map(\.name)).map { " (did you mean `\($0)`?)" } ?? ""
                return fail("unknown option `\(name)`\(hint)")
            }
            guard let placeholder = flag.value else {
                if inline != nil { return fail("`\(flag.name)` takes no value") }
                inv.flags.insert(flag.name)
                continue
            }
            let value: String
            if let inline { value = inline } else {
                guard i < args.count else { return fail("`\(name)` needs a value (\(placeholder))") }
                value = args[i]
                i += 1
            }
            if let choices = flag.choices, !choices.contains(value) {
                return fail("`\(name)` takes \(Help.list(choices)), not `\(value)`")
            }
            inv.values[flag.name, default: []].append(value)
        }
        let required = command.arguments.filter { !$0.optional }
        if inv.positional.count < required.count {
            return fail("missing \(required[inv.positional.count].name)")
        }
        let variadic = command.arguments.last?.variadic ?? false
        if !variadic && inv.positional.count > command.arguments.count {
            let extra = inv.positional[command.arguments.count]
            return fail(command.arguments.isEmpty ? "takes no arguments, found `\(extra)`" : "unexpected argument `\(extra)`")
        }
        for (n, arg) in command.arguments.enumerated() where n < inv.positional.count && !arg.variadic {
            if case .choices(let c) = arg.complete, !c.contains(inv.positional[n]) {
                return fail("\(arg.name) is \(Help.list(c)), not `\(inv.positional[n])`")
            }
        }
        return .success(inv)
    }

    /// `help`, `completions`, `version`: answered here for every tool.
    func builtin(_ inv: Invocation) -> Parsed? {
        switch inv.path {
        case ["version"]:
            return .output("\(name) \(version)\n", toStandardError: false, status: 0)
        case ["completions"]:
            let shell = Completions.Shell(rawValue: inv.positional[0])!
            return .output(Completions.script(self, shell: shell), toStandardError: false, status: 0)
        case ["help"]:
            if inv.flags.contains("--man") {
                guard inv.positional.isEmpty else { return usageError(["help"], "`--man` prints the whole manual; give no COMMAND") }
                return .output(ManPage.render(self), toStandardError: false, status: 0)
            }
            if inv.positional.isEmpty { return .output(Help.toolHelp(self), toStandardError: false, status: 0) }
            guard command(at: inv.positional) != nil else {
                let known = inv.positional.count == 1 ? commands.map(\.name) : (command(at: Array(inv.positional.dropLast()))?.subcommands.map(\.name) ?? [])
                let hint = Suggest.closest(inv.positional.last!, among: known).map { " (did you mean `\($0)`?)" } ?? ""
                return usageError(["help"], "no command `\(inv.positional.joined(separator: " "))`\(hint)")
            }
            return .output(Help.commandHelp(self, inv.positional), toStandardError: false, status: 0)
        default:
            return nil
        }
    }
}

/// "did you mean": the closest name within two edits (a typo, not a guess).
enum Suggest {
    static func closest(_ word: String, among names: [String]) -> String? {
        let scored = names.map { ($0, distance(Array(word), Array($0))) }.filter { $0.1 <= 2 && $0.1 < max(2, word.count / 2 + 1) }
        return scored.min { $0.1 < $1.1 }?.0
    }

    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count), beforePrevious = previous
        for i in 1...a.count {
            var row = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                // A swap of two neighbours is one typo (`rnu` for `run`).
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { row[j] = min(row[j], beforePrevious[j - 2] + 1) }
            }
            beforePrevious = previous
            previous = row
        }
        return previous[b.count]
    }
}
