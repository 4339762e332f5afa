import EzflowCLI
import EzflowIR
import EzflowLSP
import Foundation

/// `ezbench lsp`: the real `ezc lsp` (the release build beside ezbench by default) as a
/// subprocess on pipes, one fresh server per size. It opens a generated chain workflow of
/// N tasks, then edits it `--edits` times, cycling through three small edits in one task
/// in the middle of the file: change a literal (the list stays empty), introduce an error
/// (the list gains it), remove it (the list is empty again). Each edit is timed from
/// writing its `didChange` to reading the `publishDiagnostics` of that version: the server
/// publishes every new version of the edited document, so no pull request is needed.
/// After each edit's publish, three completions are timed (request written → response
/// read), on the check that publish already made: a task block's attributes, the names
/// in an `after: [` list (every task of the workflow) and the members after `inputs.`.
/// Memory is the server's VmRSS: initialized, with the file open and checked, after the
/// edits.
struct LSPBench {
    struct Options: Sendable {
        var sizes = [1_000, 10_000]
        var edits = 100
        /// Other files open beside the edited one (copies of it under other names, importing
        /// nothing): what an edit costs when the editor has several files open.
        var others = 0
        var ezc: String? = nil
    }

    static func parse(_ a: Invocation) -> Options {
        var o = Options()
        for (flag, given) in CLI.options(a) {
            let value = given ?? ""
            switch flag {
            case "--sizes":
                let parts = value.split(separator: ",")
                let sizes = parts.compactMap(CLI.parseSize)
                guard !parts.isEmpty, sizes.count == parts.count else { CLI.usageError(a, "bad --sizes list `\(value)`") }
                guard sizes.allSatisfy({ $0 >= 3 && $0 <= 1_000_000 }) else { CLI.usageError(a, "sizes must be from 3 to 1M tasks") }
                o.sizes = sizes
            case "--edits":
                guard let n = CLI.parseSize(Substring(value)), n >= 3, n <= 100_000 else {
                    CLI.usageError(a, "--edits needs an integer from 3 to 100000, not `\(value)`")
                }
                o.edits = n
            case "--ezc": o.ezc = value
            case "--others":
                guard let n = Int(value), n >= 0, n <= 100 else { CLI.usageError(a, "--others needs an integer from 0 to 100, not `\(value)`") }
                o.others = n
            default: break
            }
        }
        return o
    }

    var options: Options

    /// The edits of one cycle, in order, with the number of diagnostics each must leave.
    enum Edit: CaseIterable {
        case literal, introduceError, removeError
        var label: String {
            switch self {
            case .literal: "  change a literal (list unchanged: 0)"
            case .introduceError: "  introduce an error (list: 1)"
            case .removeError: "  remove the error (list: 0)"
            }
        }
    }

    enum CompletionCase: CaseIterable {
        case member, names, inputs
        var label: String {
            switch self {
            case .member: "completion: attributes in a task block"
            case .names: "completion: task names in `after: [`"
            case .inputs: "completion: members after `inputs.`"
            }
        }
    }

    /// One size's figures, milliseconds.
    struct Figures {
        var lines = 0, bytes = 0
        var open = 0.0
        var edits: [Edit: [Double]] = [:]
        var completions: [CompletionCase: [Double]] = [:]
        var completionItems: [CompletionCase: Int] = [:]
        var rssInitialized = 0, rssOpen = 0, rssOthers = 0, rssEdited = 0
    }

    struct Failed: Error { var why: String }

    func run() -> Int32 {
        // A server that dies must fail the row, not end the benchmark by signal.
        signal(SIGPIPE, SIG_IGN)
        let ezc = options.ezc ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("ezc").path
        guard FileManager.default.isExecutableFile(atPath: ezc) else {
            printError("ezbench: \(ezc) not found; build it first (swift build -c release --product ezc) or give --ezc PATH")
            return 2
        }
        let say = DistributedBench.say
        say("ezbench lsp: ezc = \(ezc); chain workflows, \(options.edits) edits per size in one task mid-file, cycling:")
        say("  change a literal, introduce an error, remove it (all three publish: every new version does)"
            + (options.others > 0 ? "; \(options.others) other files of the same size open" : ""))
        say("diagnostics: didChange written → that version's publishDiagnostics read")
        say("completion: request written → response read, after the edit's publish (the check is cached)")
        say("")
        say(Self.header)
        say(String(repeating: "-", count: Self.header.count))
        var status: Int32 = 0
        var all: [Int: Figures] = [:]
        for size in options.sizes {
            switch measure(ezc: ezc, tasks: size) {
            case .success(let f):
                all[size] = f
                report(size, f)
            case .failure(let f):
                say("\(Self.pad("\(size)", 7)) failed: \(f.why)")
                status = 1
            }
        }
        say(String(repeating: "-", count: Self.header.count))
        if let f = all[1_000] {
            let p99 = Self.percentile(f.edits.values.flatMap { $0 }, 0.99)
            say(String(format: "target: diagnostics p99 < 50 ms on 1,000 tasks: %@ (%.1f ms)", p99 < 50 ? "met" : "MISSED", p99))
        }
        return status
    }

    // MARK: one size

    func measure(ezc: String, tasks: Int) -> Result<Figures, Failed> {
        let workflow = WorkflowGenerator().generate(shape: .chain, tasks: tasks)
        let lines = workflow.text.split(separator: "\n", omittingEmptySubsequences: false)
        let k = tasks / 2
        // Line numbers (zero-based, as LSP counts) of the edited task's lines.
        guard let head = lines.firstIndex(where: { $0 == "  task step_\(k) {" }),
              let priority = lines[head...].firstIndex(where: { $0.hasPrefix("    priority: ") }),
              let retry = lines[head...].firstIndex(where: { $0 == "    retry: standard" }),
              let role = lines[head...].firstIndex(where: { $0 == "    role: builder" }),
              let after = lines[head...].firstIndex(where: { $0.hasPrefix("    after: [") }),
              let run = lines[head...].firstIndex(where: { $0.hasPrefix("    run: ") }),
              let inputs = lines[run].range(of: "${inputs.")
        else { return .failure(Failed(why: "the generated workflow has no task step_\(k) of the expected form")) }
        let inputsColumn = lines[run].distance(from: lines[run].startIndex, to: inputs.upperBound)
        let digit = Int(String(lines[priority].last!))!

        let dir = NSTemporaryDirectory() + "ezbench-lsp-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/ezc-lsp-\(tasks).err"
        guard let server = ServerProcess(ezc, ["lsp"], log: log) else { return .failure(Failed(why: "cannot start \(ezc) lsp")) }
        defer { server.stop() }
        func failed(_ why: String) -> Result<Figures, Failed> {
            let tail = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").suffix(3).joined(separator: " | ")
            return .failure(Failed(why: why + (tail.isEmpty ? "" : "; ezc lsp said: " + tail)))
        }

        var id: Int64 = 0
        func request(_ method: String, _ params: JSONValue) -> (JSONValue, Double)? {
            id += 1
            let mine = id
            return server.send([.request(mine, method, params)]) { $0["id"] == .int(mine) }
        }
        guard request("initialize", .object([("processId", .int(Int64(getpid()))), ("rootUri", .null),
                                              ("capabilities", .object([]))])) != nil
        else { return failed("no answer to `initialize`") }
        guard server.send([.notification("initialized", .object([]))], until: nil) != nil else { return failed("the server is gone") }
        var f = Figures()
        f.lines = workflow.lines
        f.bytes = workflow.bytes
        f.rssInitialized = server.rssKiB() ?? 0

        let uri = "file://\(dir)/\(workflow.fileName)"
        var version: Int64 = 1
        func published(_ m: JSONValue) -> Bool {
            m["method"] == .string("textDocument/publishDiagnostics") && m["params"]?["uri"] == .string(uri)
                && m["params"]?["version"] == .int(version)
        }
        let document: JSONValue = .object([("uri", .string(uri)), ("languageId", .string("ezflow")),
                                           ("version", .int(version)), ("text", .string(workflow.text))])
        guard let (opened, openMs) = server.send([.notification("textDocument/didOpen", .object([("textDocument", document)]))],
                                                until: published)
        else { return failed("no publishDiagnostics after didOpen") }
        guard Self.count(opened) == 0 else { return failed("the generated workflow has \(Self.count(opened)) diagnostics (expected none)") }
        f.open = openMs
        f.rssOpen = server.rssKiB() ?? 0
        for k in 0..<options.others {
            let other = "file://\(dir)/other_\(k)_\(workflow.fileName)"
            let copy: JSONValue = .object([("uri", .string(other)), ("languageId", .string("ezflow")),
                                           ("version", .int(1)), ("text", .string(workflow.text))])
            guard server.send([.notification("textDocument/didOpen", .object([("textDocument", copy)]))], until: {
                $0["method"] == .string("textDocument/publishDiagnostics") && $0["params"]?["uri"] == .string(other)
            }) != nil else { return failed("no publishDiagnostics after opening \(other)") }
        }
        f.rssOthers = server.rssKiB() ?? 0

        func range(_ line: Int, _ from: Int, _ to: Int) -> JSONValue {
            func pos(_ c: Int) -> JSONValue { .object([("line", .int(Int64(line))), ("character", .int(Int64(c)))]) }
            return .object([("start", pos(from)), ("end", pos(to))])
        }
        let completionAt: [CompletionCase: (Int, Int)] = [
            .member: (role, 4),      // "    |role: builder": a member starts here
            .names: (after, 12),     // "    after: [|step_…"
            .inputs: (run, inputsColumn),  // "${inputs.|x}"
        ]
        for i in 0..<options.edits {
            let edit = Edit.allCases[i % Edit.allCases.count]
            let change: JSONValue
            let expected: Int
            switch edit {
            case .literal:
                // Toggles the priority between its digit and the next one.
                let now = (i / 3) % 2 == 0 ? (digit + 1) % 10 : digit
                change = .object([("range", range(priority, 14, 15)), ("text", .string("\(now)"))])
                expected = 0
            case .introduceError:
                change = .object([("range", range(retry, 11, 19)), ("text", .string("standrd"))])
                expected = 1
            case .removeError:
                change = .object([("range", range(retry, 11, 18)), ("text", .string("standard"))])
                expected = 0
            }
            version += 1
            let params: JSONValue = .object([("textDocument", .object([("uri", .string(uri)), ("version", .int(version))])),
                                             ("contentChanges", .array([change]))])
            guard let (message, ms) = server.send([.notification("textDocument/didChange", params)], until: published)
            else { return failed("no publishDiagnostics for version \(version)") }
            guard Self.count(message) == expected else {
                return failed("edit \(i) (\(edit)) left \(Self.count(message)) diagnostics, expected \(expected)")
            }
            f.edits[edit, default: []].append(ms)
            for c in CompletionCase.allCases {
                let (line, character) = completionAt[c]!
                let params: JSONValue = .object([
                    ("textDocument", .object([("uri", .string(uri))])),
                    ("position", .object([("line", .int(Int64(line))), ("character", .int(Int64(character)))])),
                ])
                guard let (answer, ms) = request("textDocument/completion", params) else { return failed("no answer to completion") }
                guard case .array(let items)? = answer["result"], !items.isEmpty else {
                    return failed("completion \(c) answered no items: \(String(decoding: CanonicalJSON.encode(answer), as: UTF8.self).prefix(200))")
                }
                f.completions[c, default: []].append(ms)
                f.completionItems[c] = items.count
            }
        }
        f.rssEdited = server.rssKiB() ?? 0
        guard request("shutdown", .null) != nil else { return failed("no answer to `shutdown`") }
        _ = server.send([.notification("exit", .null)], until: nil)
        let rc = server.wait(seconds: 10)
        guard rc == 0 else { return failed("ezc lsp exited \(rc.map(String.init) ?? "(not at all)") after `exit`") }
        return .success(f)
    }

    static func count(_ publish: JSONValue) -> Int {
        guard case .array(let a)? = publish["params"]?["diagnostics"] else { return -1 }
        return a.count
    }

    // MARK: output

    static let header = [
        pad("tasks", 7), pad("lines", 7), pad("bytes", 9), "  " + pad("measure", 46, left: true),
        pad("n", 5), pad("p50 ms", 8), pad("p99 ms", 8), pad("max ms", 8),
    ].joined(separator: " ")

    func report(_ tasks: Int, _ f: Figures) {
        let lead = [Self.pad("\(tasks)", 7), Self.pad("\(f.lines)", 7), Self.pad("\(f.bytes)", 9)].joined(separator: " ")
        let blank = String(repeating: " ", count: lead.count)
        func row(_ first: Bool, _ label: String, _ xs: [Double]) {
            DistributedBench.say([first ? lead : blank, "  " + Self.pad(label, 46, left: true), Self.pad("\(xs.count)", 5),
                                  Self.ms(Self.percentile(xs, 0.5)), Self.ms(Self.percentile(xs, 0.99)), Self.ms(xs.max() ?? 0)]
                .joined(separator: " "))
        }
        row(true, "didOpen → publish (first check)", [f.open])
        row(false, "didChange → publish, all edits", Edit.allCases.flatMap { f.edits[$0] ?? [] })
        for e in Edit.allCases { row(false, e.label, f.edits[e] ?? []) }
        for c in CompletionCase.allCases { row(false, c.label + " (\(f.completionItems[c] ?? 0))", f.completions[c] ?? []) }
        func mib(_ kib: Int) -> String { String(format: "%.1f", Double(kib) / 1024) }
        DistributedBench.say(blank + "   memory (VmRSS MiB): initialized \(mib(f.rssInitialized)), file open \(mib(f.rssOpen)) "
                             + "(+\(mib(f.rssOpen - f.rssInitialized)) for the file)"
                             + (options.others > 0 ? ", \(options.others) others open \(mib(f.rssOthers))" : "")
                             + ", after \(options.edits) edits \(mib(f.rssEdited))")
    }

    /// Nearest rank: the smallest sample with at least `q` of them at or below it.
    static func percentile(_ xs: [Double], _ q: Double) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s[min(s.count - 1, max(0, Int((q * Double(s.count)).rounded(.up)) - 1))]
    }

    static func ms(_ x: Double) -> String { pad(String(format: "%.2f", x), 8) }

    static func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return left ? s + fill : fill + s
    }
}

/// `ezc lsp` on two pipes (standard error to a log file): frames written whole, frames
/// read with a deadline, the child's VmRSS from /proc.
final class ServerProcess {
    enum Message {
        case request(Int64, String, JSONValue)
        case notification(String, JSONValue)
    }

    let pid: pid_t
    let toServer: Int32, fromServer: Int32
    var reader = FrameReader()
    /// Messages read but not yet asked for.
    var queue: [JSONValue] = []
    var status: Int32? = nil

    init?(_ exe: String, _ args: [String], log: String) {
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        guard pipe(&input) == 0 else { return nil }
        guard pipe(&output) == 0 else { close(input[0]); close(input[1]); return nil }
        // Close-on-exec, so no other child inherits the server's pipes (and keeps them open).
        for fd in input + output { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the copies: the child keeps exactly 0, 1 and 2.
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([exe] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var p: pid_t = 0
        let spawned = posix_spawn(&p, exe, &actions, nil, argv, environ)
        close(input[0])
        close(output[1])
        guard spawned == 0 else { close(input[1]); close(output[0]); return nil }
        pid = p
        toServer = input[1]
        fromServer = output[0]
    }

    /// Writes `messages` in one write, then reads until a message `until` accepts (nil:
    /// none awaited). Returns it and the milliseconds from before the write to the end of
    /// its frame; nil when the server is gone or 60 s pass.
    func send(_ messages: [Message], until wanted: ((JSONValue) -> Bool)?) -> (JSONValue, Double)? {
        var bytes: [UInt8] = []
        for m in messages {
            var body: [(String, JSONValue)] = [("jsonrpc", .string("2.0"))]
            switch m {
            case .request(let id, let method, let params):
                body += [("id", .int(id)), ("method", .string(method))] + (params == .null ? [] : [("params", params)])
            case .notification(let method, let params):
                body += [("method", .string(method))] + (params == .null ? [] : [("params", params)])
            }
            bytes += FrameReader.frame(CanonicalJSON.encode(.object(body)))
        }
        let start = DispatchTime.now().uptimeNanoseconds
        guard StdioTransport.write(toServer, bytes) else { return nil }
        guard let wanted else { return (.null, 0) }
        if let i = queue.firstIndex(where: wanted) { return (queue.remove(at: i), 0) }
        let deadline = start + 60_000_000_000
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while DispatchTime.now().uptimeNanoseconds < deadline {
            var fd = pollfd(fd: fromServer, events: Int16(POLLIN), revents: 0)
            let left = Int32((deadline - min(deadline, DispatchTime.now().uptimeNanoseconds)) / 1_000_000)
            let r = poll(&fd, 1, max(1, left))
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fromServer, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            reader.append(buffer[0..<n])
            while let frame = reader.next() {
                guard case .message(let body) = frame else { continue }
                let at = DispatchTime.now().uptimeNanoseconds
                guard let m = try? JSONParser.parse(body) else { continue }
                if wanted(m) { return (m, Double(at - start) / 1e6) }
                queue.append(m)
            }
        }
        return nil
    }

    /// The server's resident set (VmRSS), KiB.
    func rssKiB() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst("VmRSS:".count).filter(\.isNumber))
        }
        return nil
    }

    /// Its exit status, waiting up to `seconds`; nil if it is still running.
    func wait(seconds: Double) -> Int32? {
        if let status { return status }
        let end = Date().addingTimeInterval(seconds)
        repeat {
            var st: Int32 = 0
            if waitpid(pid, &st, WNOHANG) == pid {
                status = Child.exitCode(st)
                return status
            }
            usleep(5_000)
        } while Date() < end
        return nil
    }

    /// Ends it if it still runs (SIGKILL after 2 s of SIGTERM), and closes the pipes.
    func stop() {
        close(toServer)
        if wait(seconds: 2) == nil {
            kill(pid, SIGTERM)
            if wait(seconds: 2) == nil { kill(pid, SIGKILL); _ = wait(seconds: 5) }
        }
        close(fromServer)
    }
}
