// Runs one child process with posix_spawn (never Foundation.Process: SWIFT-NOTES §4a):
// stdin/stdout/stderr through pipes, a fresh process group, default signal dispositions
// and an empty signal mask in the child, an explicit environment, concurrent pipe I/O
// with poll() (no deadlock on large output in either direction), capped capture, and a
// timeout that signals the whole process group (SIGTERM, then SIGKILL after a grace).
// The blocking call runs on a dedicated thread; `run` is the async wrapper.
//
// Lifetimes (docs/RUNNING.md, "Process lifetimes"): each child leads its own group; the
// group is registered with the `TaskGuard` (which ends it if this process dies) from
// the spawn until it is gone. An attempt is over only when its group is gone: the
// leader reaped, `kill(-pgid, 0)` → ESRCH (bounded).
import EzflowInstall
import Foundation
import Glibc
import Synchronization

/// What to run and how.
public struct SpawnRequest: Sendable {
    /// Absolute path of the program.
    public var executable: String
    /// argv, including argv[0].
    public var arguments: [String]
    /// The child's whole environment (nothing is inherited).
    public var environment: [String: String]
    public var workingDirectory: String?
    /// Bytes written to the child's stdin, which is then closed.
    public var stdin: [UInt8]
    /// Wall-clock limit; nil: none.
    public var timeoutMs: Int64?
    /// After SIGTERM to the group, how long before SIGKILL.
    public var killGraceMs: Int64
    /// Bytes of stdout/stderr kept; the rest is read and dropped (counted).
    public var stdoutLimit: Int
    public var stderrLimit: Int
    /// SIGKILL what is left of the process group once the main process exited, so
    /// nothing an attempt started outlives it.
    public var killGroupOnExit: Bool
    /// After the main process exited, how long to keep reading pipes that stay open
    /// (held by a background process) before giving up on them.
    public var exitDrainMs: Int64

    public init(executable: String, arguments: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
                stdin: [UInt8] = [], timeoutMs: Int64? = nil, killGraceMs: Int64 = 2000, stdoutLimit: Int = 4 << 20,
                stderrLimit: Int = 1 << 20, killGroupOnExit: Bool = true, exitDrainMs: Int64 = 200) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.stdin = stdin
        self.timeoutMs = timeoutMs
        self.killGraceMs = killGraceMs
        self.stdoutLimit = stdoutLimit
        self.stderrLimit = stderrLimit
        self.killGroupOnExit = killGroupOnExit
        self.exitDrainMs = exitDrainMs
    }
}

/// How a child ended and what it wrote.
public struct SpawnResult: Sendable {
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        /// The status was lost: something else in the process reaped the child.
        case unknown
    }

    public var pid: Int32
    public var termination: Termination
    /// Captured bytes (at most the limit) and the total the child wrote.
    public var stdout: [UInt8]
    public var stdoutTotal: Int
    public var stderr: [UInt8]
    public var stderrTotal: Int
    /// The timeout expired and the group was signalled.
    public var timedOut: Bool
    /// The run was cancelled (`CancelToken`) and the group was signalled.
    public var cancelled: Bool
    /// Spawn to reap, nanoseconds.
    public var durationNs: UInt64

    public var stdoutTruncated: Bool { stdoutTotal > stdout.count }
    public var stderrTruncated: Bool { stderrTotal > stderr.count }
    public var exitCode: Int32? { if case .exited(let c) = termination { c } else { nil } }
}

/// posix_spawn (or pipe setup) failed; nothing is running.
public struct SpawnError: Error, Sendable, Equatable, CustomStringConvertible {
    public var errno: Int32
    public var message: String
    public var description: String { "\(message): \(String(cString: strerror(errno)))" }
}

/// Stops a running child from another thread or task (SIGTERM to its group, then SIGKILL).
public final class CancelToken: Sendable {
    private let flag = Atomic<Bool>(false)
    private let forced = Atomic<Bool>(false)
    public init() {}
    public func cancel() { flag.store(true, ordering: .releasing) }
    /// Cancels without the grace period: SIGKILL to the group at once.
    public func kill() {
        forced.store(true, ordering: .releasing)
        cancel()
    }
    public var isCancelled: Bool { flag.load(ordering: .acquiring) }
    public var isForced: Bool { forced.load(ordering: .acquiring) }
}

/// A started child as the kernel knows it: enough to prove later that a process is this
/// one (a pid alone may have been reused; pid + start time may not).
public struct SpawnedProcess: Sendable, Equatable {
    public var pid: Int32
    /// The child leads its own group: the pgid is its pid.
    public var pgid: Int32
    /// Field 22 of /proc/PID/stat (clock ticks after boot); 0 if it could not be read.
    public var startTicks: UInt64
    public init(pid: Int32, pgid: Int32, startTicks: UInt64) {
        self.pid = pid
        self.pgid = pgid
        self.startTicks = startTicks
    }
}

/// libc functions Swift's Glibc module does not export (GNU extensions), looked up once.
enum LibC {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    static func symbol<T>(_ name: String, _: T.Type) -> T? {
        guard let p = dlsym(nil, name) else { return nil }
        return unsafeBitCast(p, to: T.self)
    }

    static var pipe2: Pipe2? { symbol("pipe2", Pipe2.self) }
    static var pidfdOpen: PidfdOpen? { symbol("pidfd_open", PidfdOpen.self) }
    static var closeFrom: CloseFrom? { symbol("posix_spawn_file_actions_addclosefrom_np", CloseFrom.self) }
    static var addChdir: AddChdir? { symbol("posix_spawn_file_actions_addchdir_np", AddChdir.self) }

    static let resolved: (pipe2: Pipe2?, pidfdOpen: PidfdOpen?, closeFrom: CloseFrom?, addChdir: AddChdir?) = {
        // Writing to a pipe whose reader exited must give EPIPE, not kill the runtime.
        // Children get default dispositions back (POSIX_SPAWN_SETSIGDEF).
        signal(SIGPIPE, SIG_IGN)
        return (pipe2, pidfdOpen, closeFrom, addChdir)
    }()

    static func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// A close-on-exec pipe (read end, write end).
    static func pipe() -> (Int32, Int32)? {
        var fds: [Int32] = [-1, -1]
        if let p2 = resolved.pipe2 {
            guard fds.withUnsafeMutableBufferPointer({ p2($0.baseAddress, O_CLOEXEC) }) == 0 else { return nil }
        } else {
            guard Glibc.pipe(&fds) == 0 else { return nil }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }

    static func setNonBlocking(_ fd: Int32) {
        let fl = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, fl | O_NONBLOCK)
    }
}

public enum Subprocess {
    /// Runs the request on a dedicated thread; Swift task cancellation cancels the child.
    /// `started` is told the child's identity right after the spawn.
    public static func run(_ request: SpawnRequest, cancel: CancelToken? = nil,
                           started: (@Sendable (SpawnedProcess) -> Void)? = nil) async throws(SpawnError) -> SpawnResult {
        let token = cancel ?? CancelToken()
        let r: Result<SpawnResult, SpawnError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Result<SpawnResult, SpawnError>, Never>) in
                let t = Thread {
                    do throws(SpawnError) { c.resume(returning: .success(try runBlocking(request, cancel: token, started: started))) } catch {
                        c.resume(returning: .failure(error))
                    }
                }
                t.stackSize = 1 << 20
                t.start()
            }
        } onCancel: {
            token.cancel()
        }
        return try r.get()
    }

    /// Runs the request on the calling thread until the child is reaped and its process
    /// group is gone; `started` is told the child's identity right after the spawn.
    public static func runBlocking(_ request: SpawnRequest, cancel: CancelToken? = nil,
                                   started: ((SpawnedProcess) -> Void)? = nil) throws(SpawnError) -> SpawnResult {
        let lib = LibC.resolved
        var opened: [Int32] = []
        func closeAll() { for fd in opened where fd >= 0 { close(fd) } }
        func pipeOrThrow() throws(SpawnError) -> (Int32, Int32) {
            guard let p = LibC.pipe() else {
                let e = errno
                closeAll()
                throw SpawnError(errno: e, message: "pipe")
            }
            opened += [p.0, p.1]
            return p
        }
        let (inR, inW) = try pipeOrThrow()
        let (outR, outW) = try pipeOrThrow()
        let (errR, errW) = try pipeOrThrow()

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inR, 0)
        posix_spawn_file_actions_adddup2(&actions, outW, 1)
        posix_spawn_file_actions_adddup2(&actions, errW, 2)
        if let cf = lib.closeFrom {
            _ = cf(&actions, 3)  // nothing else of ours leaks into the child
        }
        if let dir = request.workingDirectory {
            guard let ch = lib.addChdir else {
                closeAll()
                throw SpawnError(errno: ENOSYS, message: "posix_spawn_file_actions_addchdir_np")
            }
            _ = ch(&actions, dir)
        }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attr, &all)

        let argv: [UnsafeMutablePointer<CChar>?] = request.arguments.map { strdup($0) } + [nil]
        var env = request.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        if let mark = TaskGuard.environmentEntry { env.append(mark) }
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let t0 = LibC.monotonicNs()
        let rc = argv.withUnsafeBufferPointer { a in
            envp.withUnsafeBufferPointer { e in
                posix_spawn(&pid, request.executable, &actions, &attr, a.baseAddress!, e.baseAddress!)
            }
        }
        guard rc == 0 else {
            closeAll()
            throw SpawnError(errno: rc, message: "posix_spawn \(request.executable)")
        }
        close(inR)
        close(outW)
        close(errW)
        let spawned = SpawnedProcess(pid: pid, pgid: pid, startTicks: ProcessTable.startTicks(pid) ?? 0)
        TaskGuard.register(spawned)
        defer { TaskGuard.unregister(spawned) }  // after `finish`: the group is gone
        started?(spawned)

        var io = ChildIO(pid: pid, request: request, stdinFD: inW, stdoutFD: outR, stderrFD: errR, startNs: t0)
        io.pidfd = lib.pidfdOpen.map { $0(pid, 0) } ?? -1
        io.loop(cancel: cancel)
        let term: SpawnResult.Termination
        if let status = io.finish() {
            term = status & 0x7F == 0 ? .exited((status >> 8) & 0xFF) : .signaled(status & 0x7F)
        } else {
            term = .unknown
        }
        return SpawnResult(pid: pid, termination: term, stdout: io.out, stdoutTotal: io.outTotal, stderr: io.err,
                           stderrTotal: io.errTotal, timedOut: io.timedOut, cancelled: io.cancelled,
                           durationNs: LibC.monotonicNs() - t0)
    }
}

/// The parent's side of one running child: pipe pumping, exit detection, signalling.
struct ChildIO {
    let pid: pid_t
    let request: SpawnRequest
    var stdinFD: Int32
    var stdoutFD: Int32
    var stderrFD: Int32
    var pidfd: Int32 = -1
    let startNs: UInt64
    var stdinOffset = 0
    var out: [UInt8] = []
    var err: [UInt8] = []
    var outTotal = 0
    var errTotal = 0
    var exited = false
    var exitedAtNs: UInt64 = 0
    var terminating = false
    var killAtNs: UInt64 = 0
    var killed = false
    var timedOut = false
    var cancelled = false

    init(pid: pid_t, request: SpawnRequest, stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32, startNs: UInt64) {
        self.pid = pid
        self.request = request
        self.stdinFD = stdinFD
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
        self.startNs = startNs
        LibC.setNonBlocking(stdinFD)
        LibC.setNonBlocking(stdoutFD)
        LibC.setNonBlocking(stderrFD)
        if request.stdin.isEmpty { closeStdin() }
    }

    mutating func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// Whether the child has exited (left as a zombie, not reaped: its pid stays
    /// reserved, so signalling its process group afterwards cannot hit a stranger).
    mutating func pollExit() -> Bool {
        if exited { return true }
        var info = siginfo_t()
        let rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        if (rc == 0 && info._sifields._kill.si_pid == pid) || (rc < 0 && errno == ECHILD) {
            exited = true
            exitedAtNs = LibC.monotonicNs()
        }
        return exited
    }

    mutating func beginTermination(now: UInt64) {
        guard !terminating else { return }
        terminating = true
        killpg(pid, SIGTERM)
        killAtNs = now + UInt64(max(0, request.killGraceMs)) * 1_000_000
    }

    mutating func loop(cancel: CancelToken?) {
        let deadline: UInt64? = request.timeoutMs.map { startNs + UInt64(max(0, $0)) * 1_000_000 }
        var backoffMs: Int32 = 1
        var fds: [pollfd] = []
        fds.reserveCapacity(4)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let now = LibC.monotonicNs()
            if let cancel, !terminating, cancel.isCancelled {
                cancelled = true
                beginTermination(now: now)
            }
            if let cancel, terminating, !killed, cancel.isForced { killAtNs = now }
            if let d = deadline, !terminating, now >= d {
                timedOut = true
                beginTermination(now: now)
            }
            if terminating && !killed && now >= killAtNs {
                killpg(pid, SIGKILL)
                killed = true
            }
            let done = pollExit()
            if done && stdoutFD < 0 && stderrFD < 0 { break }
            if done && now >= exitedAtNs + UInt64(max(0, request.exitDrainMs)) * 1_000_000 { break }

            // Sleep until I/O, the child's exit (pidfd), or the next deadline.
            var waitNs: UInt64 = .max
            if let d = deadline, !terminating { waitNs = min(waitNs, d > now ? d - now : 0) }
            if terminating && !killed { waitNs = min(waitNs, killAtNs > now ? killAtNs - now : 0) }
            if done { let end = exitedAtNs + UInt64(max(0, request.exitDrainMs)) * 1_000_000; waitNs = min(waitNs, end > now ? end - now : 0) }
            var timeout: Int32 = waitNs == .max ? -1 : Int32(min(UInt64(Int32.max), (waitNs + 999_999) / 1_000_000))
            if cancel != nil { timeout = timeout < 0 ? 50 : min(timeout, 50) }
            if !done && pidfd < 0 {
                // No pidfd: check for the exit with a growing interval.
                timeout = timeout < 0 ? backoffMs : min(timeout, backoffMs)
                backoffMs = min(backoffMs * 2, 50)
            }
            fds.removeAll(keepingCapacity: true)
            if stdoutFD >= 0 { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if stderrFD >= 0 { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            if pidfd >= 0 && !done { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            let n = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            if n == 0 { continue }
            for p in fds where p.revents != 0 {
                if p.fd == stdoutFD { Self.drain(&stdoutFD, into: &out, total: &outTotal, limit: request.stdoutLimit, chunk: &chunk) }
                else if p.fd == stderrFD { Self.drain(&stderrFD, into: &err, total: &errTotal, limit: request.stderrLimit, chunk: &chunk) }
                else if p.fd == stdinFD { feed() }
            }
        }
    }

    /// Reads everything available now; closes the fd at EOF or error.
    static func drain(_ fd: inout Int32, into buf: inout [UInt8], total: inout Int, limit: Int, chunk: inout [UInt8]) {
        while fd >= 0 {
            let r = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if r > 0 {
                let keep = max(0, min(r, limit - buf.count))
                if keep > 0 { buf.append(contentsOf: chunk[0..<keep]) }
                total += r
                if r < chunk.count { return }
                continue
            }
            if r < 0 && (errno == EAGAIN || errno == EINTR) { return }
            close(fd)
            fd = -1
        }
    }

    mutating func feed() {
        let data = request.stdin
        while stdinFD >= 0 && stdinOffset < data.count {
            let w = data.withUnsafeBytes { b in write(stdinFD, b.baseAddress! + stdinOffset, min(65536, data.count - stdinOffset)) }
            if w > 0 { stdinOffset += w; continue }
            if w < 0 && errno == EINTR { continue }
            if w < 0 && errno == EAGAIN { return }
            closeStdin()  // EPIPE: the child does not read its stdin
            return
        }
        closeStdin()
    }

    /// Closes what is still open, clears the process group if asked (or on timeout),
    /// and reaps the child. Returns the raw wait status (nil: reaped by someone else).
    mutating func finish() -> Int32? {
        closeStdin()
        if stdoutFD >= 0 { close(stdoutFD); stdoutFD = -1 }
        if stderrFD >= 0 { close(stderrFD); stderrFD = -1 }
        if pidfd >= 0 { close(pidfd); pidfd = -1 }
        let clear = terminating || request.killGroupOnExit
        if clear {
            // The main process is a zombie or still running: its pid (= the group id)
            // cannot have been reused yet.
            killpg(pid, SIGKILL)
        }
        var status: Int32 = 0
        var reaped: Int32? = nil
        while true {
            if waitpid(pid, &status, 0) == pid { reaped = status; break }
            if errno != EINTR { break }
        }
        if clear { ProcessTable.clearGroup(pid, limitMs: max(1000, request.killGraceMs)) }
        return reaped
    }
}

/// What this process can learn and do about other processes through /proc and signals.
public enum ProcessTable {
    /// Field 22 of /proc/PID/stat (start time in clock ticks after boot), or nil.
    public static func startTicks(_ pid: Int32) -> UInt64? {
        // Read once per spawn: the bytes are scanned in place.
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buf -> UInt64? in
            let n = read(fd, buf.baseAddress, buf.count)
            guard n > 0, let close = buf[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
            var field = 2, value: UInt64 = 0, i = close + 1
            while i < n && field < 22 {
                if buf[i] == 0x20 { field += 1 }
                i += 1
            }
            while i < n, buf[i] >= 0x30, buf[i] <= 0x39 {
                value = value &* 10 &+ UInt64(buf[i] - 0x30)
                i += 1
            }
            return field == 22 ? value : nil
        }
    }

    /// The fields of /proc/PID/stat after the command name: [0] state, [2] pgrp, [19] starttime.
    static func statFields(_ pid: Int32) -> [Substring]? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let text = String(decoding: buf[0..<n], as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// Whether a process that is not a zombie is in group `pgid` (a /proc walk).
    public static func groupHasLiveMembers(_ pgid: Int32) -> Bool {
        guard let dir = opendir("/proc") else { return kill(-pgid, 0) == 0 }
        defer { closedir(dir) }
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), let f = statFields(pid), f.count > 2 else { continue }
            if f[2] == "\(pgid)" && f[0] != "Z" && f[0] != "X" { return true }
        }
        return false
    }

    /// Ends process group `pgid` and waits until it is gone: reaps the members this
    /// process inherited (it is a subreaper in `ezrun`), SIGKILLs stragglers, and counts
    /// zombies another parent has yet to reap as gone. Gives up after `limitMs`.
    @discardableResult
    public static func clearGroup(_ pgid: Int32, limitMs: Int64) -> Bool {
        let end = LibC.monotonicNs() + UInt64(max(0, limitMs)) * 1_000_000
        var pauseUs: UInt32 = 100
        var rounds = 0
        while true {
            while waitpid(-pgid, nil, WNOHANG) > 0 {}
            if kill(-pgid, 0) != 0 && errno == ESRCH { return true }
            rounds += 1
            if rounds > 3 && !groupHasLiveMembers(pgid) { return true }
            if LibC.monotonicNs() >= end { return false }
            killpg(pgid, SIGKILL)
            usleep(pauseUs)
            pauseUs = min(pauseUs * 2, 10_000)
        }
    }

    /// Ends the process group of a recorded attempt if its leader is still the process
    /// that was recorded (same pid and start time): SIGTERM, `graceMs`, SIGKILL, then
    /// waits for the group to be gone. Returns whether it found (and ended) one.
    public static func endSurvivor(_ p: SpawnedProcess, graceMs: Int64) -> Bool {
        guard p.pid > 0, p.startTicks != 0, startTicks(p.pid) == p.startTicks,
              let f = statFields(p.pid), f.count > 2, f[2] == "\(p.pgid)", f[0] != "Z" else { return false }
        killpg(p.pgid, SIGTERM)
        kill(p.pid, SIGTERM)
        let end = LibC.monotonicNs() + UInt64(max(0, graceMs)) * 1_000_000
        while LibC.monotonicNs() < end {
            while waitpid(-p.pgid, nil, WNOHANG) > 0 {}
            if kill(-p.pgid, 0) != 0 && errno == ESRCH { return true }
            if !groupHasLiveMembers(p.pgid) { return true }
            usleep(2_000)
        }
        clearGroup(p.pgid, limitMs: 2_000)
        return true
    }

    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32

    /// Makes this process the subreaper of its descendants (PR_SET_CHILD_SUBREAPER): an
    /// orphan of a task re-parents here, not to init, so `clearGroup` can reap it.
    public static func becomeSubreaper() {
        guard let prctl = LibC.symbol("prctl", Prctl.self) else { return }
        _ = prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0)
    }
}


/// The `ezguard` process of this process: it ends every registered task group when this
/// process dies, even by SIGKILL (it reads EOF on a pipe only this process writes).
/// Started once by `start`; without it registration does nothing.
public enum TaskGuard {
    private static let writeFD = Atomic<Int32>(-1)
    /// `EZFLOW_RUNNER`'s value in every task's environment: random per process, so the
    /// guard can find a task spawned in the instant before it was registered.
    public static let token: String = {
        var g = SystemRandomNumberGenerator()
        return "\(getpid())-\(String(g.next(), radix: 16))"
    }()
    static var environmentEntry: String? { writeFD.load(ordering: .acquiring) >= 0 ? "EZFLOW_RUNNER=\(token)" : nil }

    /// `ezguard` next to the running binary (`EZFLOW_GUARD` overrides; empty: none).
    public static var path: String? {
        if let s = ProcessInfo.processInfo.environment["EZFLOW_GUARD"] { return s.isEmpty ? nil : s }
        return Executable.sibling("ezguard")
    }

    /// Starts the guard (in a process group of its own, so terminal signals do not reach
    /// it); false when there is none to start.
    @discardableResult
    public static func start(graceMs: Int64) -> Bool {
        guard writeFD.load(ordering: .acquiring) < 0, let path, let (r, w) = LibC.pipe() else { return false }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, r, 0)
        if let cf = LibC.resolved.closeFrom { _ = cf(&actions, 3) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), strdup(String(max(0, graceMs))), strdup(token), nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = argv.withUnsafeBufferPointer { posix_spawn(&pid, path, &actions, &attr, $0.baseAddress!, environ) }
        close(r)
        guard rc == 0 else {
            close(w)
            return false
        }
        writeFD.store(w, ordering: .releasing)
        return true
    }

    static func register(_ p: SpawnedProcess) { send("+\(p.pgid) \(p.startTicks)\n") }
    static func unregister(_ p: SpawnedProcess) { send("-\(p.pgid)\n") }

    /// One write per line: a pipe write of at most PIPE_BUF bytes is atomic.
    private static func send(_ line: String) {
        let fd = writeFD.load(ordering: .acquiring)
        guard fd >= 0 else { return }
        var bytes = Array(line.utf8)
        while true {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            return  // a dead guard (EPIPE) leaves the other defences
        }
    }
}
