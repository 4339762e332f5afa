// Builds the shell script of a `run:` task so that no interpolated value is ever part of
// the script text (docs/DRIVERS.md "Values are data"). Each `${…}` becomes a reference to
// an environment variable that carries the value; which form of reference depends on
// where the value lands, so this file reads the template's text the way a POSIX shell
// does (quotes, escapes, `$(…)`, backquotes, `${…}`, `$((…))`, comments, here-documents)
// and places each reference so that it expands to exactly the value, as one word.
//
// Why this is safe even where the reading is imperfect: the script is a function of the
// template's text alone. A value reaches the shell only through a variable expansion, and
// the shell never parses the result of an expansion as code (outside `eval`, `sh -c`,
// `.` and arithmetic — what the checker's W0800 and the integer rule below are for). A
// misread context can only split or glob a value, never run it.
//
// The checker runs the same reader over the same text to find values that reach a shell
// as code (W0800); the exec driver uses the script it builds.

/// Where a value lands in a script, as the shell reads the text around it.
public enum ShellContext: Sendable, Equatable {
    /// Outside quotes (also inside `$(…)`, backquotes, or `${…}` outside quotes).
    case unquoted
    case doubleQuoted
    case singleQuoted
    /// Inside `$'…'`.
    case dollarSingleQuoted
    /// The body of a here-document whose delimiter is unquoted (expanded, not split).
    case hereDocument
    /// The body of a here-document with a quoted delimiter (`<<'EOF'`): nothing is
    /// expanded there, so no value can be passed as data.
    case quotedHereDocument
    /// Inside `$((…))`: the shell evaluates the text as an arithmetic expression.
    case arithmetic
    /// After `#`: the shell ignores it.
    case comment
}

/// One value's place in a script.
public struct ShellSlot: Sendable, Equatable {
    public var context: ShellContext
    /// The words of its simple command before the word holding the value, without
    /// assignments and redirections: their text when it is literal, nil when a word holds
    /// an expansion or a value. Empty when the value is not in a command word.
    public var words: [String?]
    /// Whether the value is part of a command word (false: an assignment before the
    /// command, a redirection target, a comment, a here-document, arithmetic).
    public var inCommandWord: Bool
    /// How many backquote substitutions enclose it.
    public var backquotes: Int
}

/// A script being built from template text and values. `text` never holds a value: each
/// `appendValue` writes a reference to a variable the caller passes in the environment.
public struct ShellScript: Sendable {
    /// The script so far (bytes of UTF-8 text).
    public private(set) var bytes: [UInt8] = []
    /// One slot per `appendValue`, in order.
    public private(set) var slots: [ShellSlot] = []

    private var frames: [Frame] = [.command(Command(closer: .none))]
    private var pending: Pending = .none
    /// Here-documents announced on the current line, their bodies start after its newline.
    private var announced: [HereDoc] = []

    public init() {}

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends literal script text.
    public mutating func append(text: String) {
        let b = Array(text.utf8)
        var i = 0
        while i < b.count {
            i = step(b, i)
        }
    }

    /// Appends a reference to the variable `name` placed so that it expands to the value
    /// exactly, as one word, and returns where it landed. In a quoted here-document the
    /// reference stays literal text: the caller must refuse such a slot.
    @discardableResult
    public mutating func appendValue(variable name: String) -> ShellSlot {
        let bq = frames.reduce(0) { n, f in if case .command(let c) = f, c.closer == .backquote { n + 1 } else { n } }
        switch pending {
        case .none: break
        case .backslash:
            // `\` right before a value stands for itself (a literal backslash).
            bytes.removeLast()
            bytes += Array(repeating: UInt8(ascii: "\\"), count: 2 << bq)
        case .dollar:
            // `$` right before a value stands for itself (a literal dollar sign).
            bytes.removeLast()
            bytes += Array(repeating: UInt8(ascii: "\\"), count: (2 << bq) - 1) + [UInt8(ascii: "$")]
        }
        pending = .none
        let context = currentContext
        let ref = "${" + name + "}"
        let form: String = switch context {
        case .unquoted: "\"" + ref + "\""
        case .doubleQuoted, .hereDocument, .arithmetic, .comment, .quotedHereDocument: ref
        case .singleQuoted: "'\"" + ref + "\"'"
        case .dollarSingleQuoted: "'\"" + ref + "\"$'"
        }
        bytes += Array(form.utf8)
        var slot = ShellSlot(context: context, words: [], inCommandWord: false, backquotes: bq)
        if let ci = frames.lastIndex(where: { if case .command = $0 { true } else { false } }), case .command(var c) = frames[ci] {
            switch context {
            case .unquoted, .doubleQuoted, .singleQuoted, .dollarSingleQuoted:
                slot.inCommandWord = !c.word.assignment && !c.redirect
                if slot.inCommandWord { slot.words = c.words }
                c.word.started = true
                c.word.literal = false
                frames[ci] = .command(c)
            case .hereDocument, .quotedHereDocument, .arithmetic, .comment:
                break
            }
        }
        if case .hereDoc(var h) = frames[frames.count - 1] {
            h.lineHasValue = true
            frames[frames.count - 1] = .hereDoc(h)
        }
        slots.append(slot)
        return slot
    }

    // MARK: - the reader

    private enum Pending: Sendable, Equatable { case none, backslash, dollar }

    private enum Closer: Sendable, Equatable { case none, paren, backquote }

    private struct Word: Sendable {
        var text: [UInt8] = []
        var started = false
        var literal = true
        var quoted = false
        /// `NAME=` before the command name.
        var assignment = false
    }

    private struct Command: Sendable {
        var closer: Closer
        var parens = 0
        var words: [String?] = []
        var word = Word()
        /// The word being read is the target of a redirection.
        var redirect = false
        /// The redirection is `<<` (true: `<<-`, leading tabs stripped).
        var hereDoc: Bool?
    }

    private struct HereDoc: Sendable {
        var delimiter: [UInt8]
        var stripTabs: Bool
        var quoted: Bool
        var line: [UInt8] = []
        var lineHasValue = false
    }

    private enum Frame: Sendable {
        case command(Command)
        case doubleQuote
        case singleQuote
        case dollarSingle
        /// `${…}`; whether it sits inside double quotes, and its nested braces.
        case brace(inDoubleQuotes: Bool, depth: Int)
        case arithmetic(depth: Int)
        case comment
        case hereDoc(HereDoc)
    }

    private var currentContext: ShellContext {
        switch frames[frames.count - 1] {
        case .command: .unquoted
        case .doubleQuote: .doubleQuoted
        case .singleQuote: .singleQuoted
        case .dollarSingle: .dollarSingleQuoted
        case .brace(let dq, _): dq ? .doubleQuoted : .unquoted
        case .arithmetic: .arithmetic
        case .comment: .comment
        case .hereDoc(let h): h.quoted ? .quotedHereDocument : .hereDocument
        }
    }

    /// Reads the byte at `i` (peeking further within `b`), returns the next index.
    private mutating func step(_ b: [UInt8], _ i: Int) -> Int {
        let c = b[i]
        bytes.append(c)
        if pending != .none { return resume(b, i) }
        switch frames[frames.count - 1] {
        case .singleQuote:
            if c == UInt8(ascii: "'") { frames.removeLast() } else { addToWord(c) }
        case .dollarSingle:
            if c == UInt8(ascii: "\\") { pending = .backslash } else if c == UInt8(ascii: "'") { frames.removeLast() } else { addToWord(c) }
        case .doubleQuote:
            switch c {
            case UInt8(ascii: "\""): frames.removeLast()
            case UInt8(ascii: "\\"): pending = .backslash
            case UInt8(ascii: "$"): bytes.removeLast(); return dollar(b, i)
            case UInt8(ascii: "`"): markExpansion(); frames.append(.command(Command(closer: .backquote)))
            default: addToWord(c)
            }
        case .brace(let dq, let depth):
            return brace(dq, depth, b, i)
        case .arithmetic(let depth):
            return arithmetic(depth, b, i)
        case .comment:
            if c == UInt8(ascii: "\n") {
                frames.removeLast()
                bytes.removeLast()
                return i  // the newline ends the command in the frame below
            }
        case .hereDoc(let h):
            // The frame is taken out while it is read (every path puts it back or pops it):
            // the value is then the only owner of its arrays, which grow in place instead of
            // being copied at every byte.
            frames[frames.count - 1] = .comment
            return hereDoc(h, b, i)
        case .command(var cmd):
            frames[frames.count - 1] = .comment  // taken out while read, as above
            return command(&cmd, b, i)
        }
        return i + 1
    }

    /// The byte at `i` (already written) after a `\` or a `$` that ended the previous text.
    private mutating func resume(_ b: [UInt8], _ i: Int) -> Int {
        let c = b[i]
        switch pending {
        case .backslash:
            pending = .none
            if case .hereDoc(var h) = frames[frames.count - 1] {
                h.line.append(c)
                frames[frames.count - 1] = .hereDoc(h)
            } else {
                addToWord(c)
            }
            return i + 1
        case .dollar:
            // Read the `$` again with what follows it.
            pending = .none
            bytes.removeLast(2)
            return dollar(b, i - 1)
        case .none:
            return i
        }
    }

    /// A byte inside `${…}`.
    private mutating func brace(_ dq: Bool, _ depth: Int, _ b: [UInt8], _ i: Int) -> Int {
        switch b[i] {
        case UInt8(ascii: "}"):
            if depth == 0 { frames.removeLast() } else { frames[frames.count - 1] = .brace(inDoubleQuotes: dq, depth: depth - 1) }
        case UInt8(ascii: "{"): frames[frames.count - 1] = .brace(inDoubleQuotes: dq, depth: depth + 1)
        case UInt8(ascii: "'"): if !dq { frames.append(.singleQuote) }  // inside "…", `'` is literal
        case UInt8(ascii: "\""): frames.append(.doubleQuote)
        case UInt8(ascii: "\\"): pending = .backslash
        case UInt8(ascii: "$"): bytes.removeLast(); return dollar(b, i)
        default: break
        }
        return i + 1
    }

    /// A byte inside `$((…))`: only parentheses matter.
    private mutating func arithmetic(_ depth: Int, _ b: [UInt8], _ i: Int) -> Int {
        if b[i] == UInt8(ascii: "(") {
            frames[frames.count - 1] = .arithmetic(depth: depth + 1)
        } else if b[i] == UInt8(ascii: ")") {
            if depth > 0 {
                frames[frames.count - 1] = .arithmetic(depth: depth - 1)
            } else if i + 1 < b.count, b[i + 1] == UInt8(ascii: ")") {
                bytes.append(b[i + 1])
                frames.removeLast()
                return i + 2
            }
        }
        return i + 1
    }

    /// A byte of a here-document body: a line equal to the delimiter (and holding no
    /// value) ends it.
    private mutating func hereDoc(_ body: consuming HereDoc, _ b: [UInt8], _ i: Int) -> Int {
        var h = body
        let c = b[i]
        if c == UInt8(ascii: "\n") {
            var line = h.line[...]
            if h.stripTabs { while line.first == UInt8(ascii: "\t") { line.removeFirst() } }
            if !h.lineHasValue && Array(line) == h.delimiter {
                frames.removeLast()
                return i + 1
            }
            h.line = []
            h.lineHasValue = false
        } else {
            h.line.append(c)
            if !h.quoted && c == UInt8(ascii: "\\") { pending = .backslash }
            if !h.quoted && c == UInt8(ascii: "$") && i + 1 == b.count { pending = .dollar }
        }
        frames[frames.count - 1] = .hereDoc(h)
        return i + 1
    }

    /// A byte outside quotes in a command frame (`cmd` is the top frame's value).
    private mutating func command(_ cmd: inout Command, _ b: [UInt8], _ i: Int) -> Int {
        let c = b[i]
        let top = frames.count - 1
        func store(_ cmd: Command) { frames[top] = .command(cmd) }
        switch c {
        case UInt8(ascii: " "), UInt8(ascii: "\t"):
            endWord(&cmd)
        case UInt8(ascii: "\n"):
            endWord(&cmd)
            endCommand(&cmd)
            store(cmd)
            for h in announced.reversed() { frames.append(.hereDoc(h)) }
            announced = []
            return i + 1
        case UInt8(ascii: ";"), UInt8(ascii: "&"), UInt8(ascii: "|"):
            endWord(&cmd)
            endCommand(&cmd)
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "`"):
            nesting(&cmd, c, top)
            return i + 1
        case UInt8(ascii: "<"), UInt8(ascii: ">"):
            let j = redirection(&cmd, b, i)
            store(cmd)
            return j
        case UInt8(ascii: "#") where !cmd.word.started:
            store(cmd)
            frames.append(.comment)
            return i + 1
        case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "\\"):
            cmd.word.started = true
            cmd.word.quoted = true
            store(cmd)
            switch c {
            case UInt8(ascii: "'"): frames.append(.singleQuote)
            case UInt8(ascii: "\""): frames.append(.doubleQuote)
            default: pending = .backslash
            }
            return i + 1
        case UInt8(ascii: "$"):
            cmd.word.started = true
            store(cmd)
            bytes.removeLast()
            return dollar(b, i)
        case UInt8(ascii: "=") where cmd.word.started && cmd.word.literal && !cmd.word.assignment
            && cmd.words.isEmpty && !cmd.redirect && Self.isName(cmd.word.text):
            cmd.word.assignment = true
            cmd.word.text.append(c)
        default:
            cmd.word.started = true
            cmd.word.text.append(c)
        }
        store(cmd)
        return i + 1
    }

    /// `(`, `)` or a backquote outside quotes: a subshell, the end of the `$(…)` or
    /// backquote substitution this command frame reads, or the start of a backquote one.
    private mutating func nesting(_ cmd: inout Command, _ c: UInt8, _ top: Int) {
        endWord(&cmd)
        let closes = c == UInt8(ascii: ")") ? cmd.closer == .paren && cmd.parens == 0 : c == UInt8(ascii: "`") && cmd.closer == .backquote
        if closes {
            frames.removeLast()
            return
        }
        switch c {
        case UInt8(ascii: "("):
            endCommand(&cmd)
            cmd.parens += 1
            frames[top] = .command(cmd)
        case UInt8(ascii: ")"):
            cmd.parens = max(0, cmd.parens - 1)
            endCommand(&cmd)
            frames[top] = .command(cmd)
        default:
            frames[top] = .command(cmd)
            markExpansion()
            frames.append(.command(Command(closer: .backquote)))
        }
    }

    /// A redirection operator at `i` (already written): the next word is its target, and
    /// for `<<` / `<<-` a here-document delimiter. Returns the index after the operator.
    private mutating func redirection(_ cmd: inout Command, _ b: [UInt8], _ i: Int) -> Int {
        // `2>`: the digits before the operator are a file descriptor, not a word.
        let fd = cmd.word.started && cmd.word.literal && !cmd.word.text.isEmpty
            && cmd.word.text.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        if fd { cmd.word = Word() } else { endWord(&cmd) }
        var j = i + 1
        if b[i] == UInt8(ascii: "<"), j < b.count, b[j] == UInt8(ascii: "<") {
            j += 1
            if j < b.count, b[j] == UInt8(ascii: "<") {
                j += 1  // bash's here-string: an ordinary redirection target
            } else {
                let strip = j < b.count && b[j] == UInt8(ascii: "-")
                if strip { j += 1 }
                cmd.hereDoc = strip
            }
        }
        // `>&`, `<&`, `>|`, `<>`, `>>`: the rest of the operator.
        while j < b.count, b[j] == UInt8(ascii: "&") || b[j] == UInt8(ascii: "|") || b[j] == UInt8(ascii: ">") {
            j += 1
        }
        bytes += b[(i + 1)..<j]
        cmd.redirect = true
        return j
    }

    /// `$` at `i` of `b` (not yet written; -1: it ended the previous text): opens `$((`,
    /// `$(`, `${` or `$'`, or is a plain `$`. Returns the next index to read.
    private mutating func dollar(_ b: [UInt8], _ i: Int) -> Int {
        bytes.append(UInt8(ascii: "$"))
        let n = i + 1
        guard n < b.count else {
            pending = .dollar
            return n
        }
        // Substitutions inside a here-document are not followed (a value there is only
        // expanded, never split, so it needs no other form).
        if case .hereDoc = frames[frames.count - 1] { return n }
        let dq = insideDoubleQuotes
        markExpansion()
        switch b[n] {
        case UInt8(ascii: "("):
            if n + 1 < b.count, b[n + 1] == UInt8(ascii: "(") {
                bytes += [b[n], b[n + 1]]
                frames.append(.arithmetic(depth: 0))
                return n + 2
            }
            bytes.append(b[n])
            frames.append(.command(Command(closer: .paren)))
            return n + 1
        case UInt8(ascii: "{"):
            bytes.append(b[n])
            frames.append(.brace(inDoubleQuotes: dq, depth: 0))
            return n + 1
        case UInt8(ascii: "'") where !dq:
            bytes.append(b[n])
            frames.append(.dollarSingle)
            return n + 1
        default:
            return n
        }
    }

    /// Whether the innermost quoting around the top frame is double quotes.
    private var insideDoubleQuotes: Bool {
        switch frames[frames.count - 1] {
        case .doubleQuote: true
        case .brace(let dq, _): dq
        default: false
        }
    }

    /// The current word holds an expansion: its text is not known here.
    private mutating func markExpansion() {
        guard let ci = frames.lastIndex(where: { if case .command = $0 { true } else { false } }),
              case .command(var c) = frames[ci] else { return }
        c.word.started = true
        c.word.literal = false
        frames[ci] = .command(c)
    }

    /// A quoted byte belongs to the current word of the innermost command.
    private mutating func addToWord(_ c: UInt8) {
        guard let ci = frames.lastIndex(where: { if case .command = $0 { true } else { false } }),
              case .command(var cmd) = frames[ci] else { return }
        frames[ci] = .comment  // taken out while edited: its word grows in place
        cmd.word.started = true
        cmd.word.text.append(c)
        frames[ci] = .command(cmd)
    }

    private mutating func endWord(_ cmd: inout Command) {
        guard cmd.word.started else { return }
        let w = cmd.word
        cmd.word = Word()
        if cmd.redirect {
            cmd.redirect = false
            if let strip = cmd.hereDoc {
                cmd.hereDoc = nil
                announced.append(HereDoc(delimiter: w.text, stripTabs: strip, quoted: w.quoted))
            }
            return
        }
        if w.assignment && cmd.words.isEmpty { return }
        cmd.words.append(w.literal ? String(decoding: w.text, as: UTF8.self) : nil)
    }

    private func endCommand(_ cmd: inout Command) {
        cmd.words = []
        cmd.redirect = false
        cmd.hereDoc = nil
    }

    static func isName(_ t: [UInt8]) -> Bool {
        guard let f = t.first, !(f >= 0x30 && f <= 0x39) else { return false }
        return t.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
    }
}

/// How a value reaches the shell as code rather than as data, even though it is passed in
/// a variable: the command around it evaluates its argument as code, or the value is the
/// command itself. What the checker warns about (W0800).
public enum ShellCodeUse: Sendable, Equatable {
    /// The value is the command name (after `env`, `sudo`, `exec` and the like).
    case commandName
    /// An argument of a command that runs its arguments as code: `eval`, `trap`.
    case evaluated(command: String)
    /// The file that `.` / `source` runs.
    case sourced(command: String)
    /// Part of the script operand of `sh -c` (`bash -c`, …).
    case shellScript(shell: String)
    /// Inside `$((…))`.
    case arithmetic
    /// Inside a here-document with a quoted delimiter: it cannot be passed at all.
    case quotedHereDocument
}

extension ShellSlot {
    static let wrappers: Set<String> = ["env", "sudo", "doas", "exec", "command", "builtin", "nohup", "nice", "time", "xargs", "busybox", "setsid", "stdbuf"]
    static let shells: Set<String> = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh"]

    /// How this value reaches the shell as code, if it does (see `ShellCodeUse`).
    public var codeUse: ShellCodeUse? {
        switch context {
        case .arithmetic: return .arithmetic
        case .quotedHereDocument: return .quotedHereDocument
        case .comment, .hereDocument: return nil
        case .unquoted, .doubleQuoted, .singleQuoted, .dollarSingleQuoted: break
        }
        guard inCommandWord else { return nil }
        // Wrappers run their operand as the command; their options and `env`'s
        // assignments come first.
        var rest = Self.droppingKeywords(words[...])
        while let w = rest.first, let word = w, Self.wrappers.contains(Self.base(word)) {
            rest = rest.dropFirst()
            while let o = rest.first, let opt = o, opt.hasPrefix("-") || (Self.base(word) == "env" && opt.contains("=")) {
                rest = rest.dropFirst()
            }
        }
        guard let first = rest.first else { return .commandName }
        guard let name = first.map(Self.base) else { return nil }
        let args = rest.dropFirst()
        switch name {
        case "eval": return .evaluated(command: name)
        case "trap": return args.isEmpty ? .evaluated(command: name) : nil
        case ".", "source": return args.isEmpty ? .sourced(command: name) : nil
        default: break
        }
        guard Self.shells.contains(name) else { return nil }
        // `sh [options] -c SCRIPT [name [args…]]`: the value is the script when every word
        // after the `-c` cluster is still an option.
        var sawC = false
        var skipNext = false
        for w in args {
            if skipNext { skipNext = false; continue }
            guard let word = w, word.hasPrefix("-") || word.hasPrefix("+"), word != "-", word != "--" else {
                return nil  // an operand before the value: the value is an argument, or no -c
            }
            if word == "-o" || word == "+o" || word == "-O" || word == "+O" { skipNext = true; continue }
            if !word.hasPrefix("--") && word.dropFirst().contains("c") { sawC = true }
        }
        return sawC ? .shellScript(shell: name) : nil
    }

    /// Reserved words that start a command list (`if`, `then`, `while`, `!`, …) are not
    /// the command.
    public static func droppingKeywords(_ words: ArraySlice<String?>) -> ArraySlice<String?> {
        var rest = words
        while let w = rest.first, let word = w, keywords.contains(word) { rest = rest.dropFirst() }
        return rest
    }

    static let keywords: Set<String> = ["if", "then", "elif", "else", "while", "until", "do", "!", "{"]

    /// Commands every POSIX shell runs itself, without a new program: their arguments
    /// never appear in a process's command line.
    static let builtins: Set<String> = [
        ":", ".", "break", "continue", "eval", "exit", "export", "readonly", "return", "set", "shift", "times", "trap",
        "unset", "alias", "cd", "echo", "printf", "false", "true", "getopts", "hash", "kill", "read", "test", "[", "type",
        "ulimit", "umask", "unalias", "wait", "local", "source", "case", "for",
    ]

    /// Whether the value lands in the argument list of a program the script starts (not a
    /// shell builtin), where every local user can read it (`ps`, /proc/PID/cmdline).
    public var reachesArgv: Bool {
        switch context {
        case .unquoted, .doubleQuoted, .singleQuoted, .dollarSingleQuoted: break
        case .hereDocument, .quotedHereDocument, .arithmetic, .comment: return false
        }
        guard inCommandWord else { return false }
        var rest = Self.droppingKeywords(words[...])
        // `exec` and `command` are builtins that start their operand.
        while let w = rest.first, let word = w, word == "exec" || word == "command" {
            rest = rest.dropFirst()
            while let o = rest.first, let opt = o, opt.hasPrefix("-") { rest = rest.dropFirst() }
        }
        guard let first = rest.first else { return true }  // the value is the program itself
        guard let name = first else { return false }  // a computed command: not known here
        return name.contains("/") || !Self.builtins.contains(name)
    }

    static func base(_ word: String) -> String {
        if let slash = word.lastIndex(of: "/") { return String(word[word.index(after: slash)...]) }
        return word
    }
}
