// Running a built binary on a pseudo-terminal, as a user at a terminal would: what
// `isatty`, TERM and NO_COLOR decide can only be tested so.
import Foundation

/// The environment of this process without the variables that decide colour and the
/// live status line (NO_COLOR, TERM, CLICOLOR*), plus `set`.
public func terminalEnvironment(_ set: [String: String] = [:]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    for k in ["NO_COLOR", "TERM", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR"] { env[k] = nil }
    env.merge(set) { $1 }
    return env
}

/// Runs `exe` with stdout and stderr on a new pseudo-terminal (stdin is /dev/null) and
/// returns its exit status and every byte it wrote, as the terminal received them (the
/// terminal turns `\n` into `\r\n`). Kills it after `timeout` seconds.
public func runInTerminal(_ exe: URL, _ args: [String], cwd: URL? = nil, environment: [String: String],
                          columns: UInt16 = 120, timeout: Double = 60) -> (status: Int32, output: [UInt8]) {
    guard let (master, slave) = openPseudoTerminal() else { return (-1, []) }
    var size = winsize(ws_row: 40, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
    _ = ioctl(slave, UInt(TIOCSWINSZ), &size)
    let p = Process()
    p.executableURL = exe
    p.arguments = args
    p.environment = environment
    if let cwd { p.currentDirectoryURL = cwd }
    let tty = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
    p.standardOutput = tty
    p.standardError = tty
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { close(slave); close(master); return (-1, []) }
    close(slave)  // the child holds it now; the master reads EIO once every holder is gone
    nonisolated(unsafe) var output: [UInt8] = []
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(master, &buf, buf.count)
            if n > 0 { output += buf[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        done.signal()
    }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(5_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    // A process the child left behind may hold the terminal a little longer.
    _ = done.wait(timeout: .now() + 10)
    close(master)
    let status = p.terminationReason == .uncaughtSignal ? -p.terminationStatus : p.terminationStatus
    return (status, output)
}

/// A new pseudo-terminal's two ends (master, slave). Glibc's module hides the Unix 98
/// pty functions behind `_XOPEN_SOURCE`, so they are looked up by name.
func openPseudoTerminal() -> (Int32, Int32)? {
    typealias FD = @convention(c) (Int32) -> Int32
    typealias Name = @convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32
    guard let h = dlopen(nil, RTLD_NOW), let o = dlsym(h, "posix_openpt"), let g = dlsym(h, "grantpt"),
          let u = dlsym(h, "unlockpt"), let n = dlsym(h, "ptsname_r") else { return nil }
    let master = unsafeBitCast(o, to: FD.self)(O_RDWR | O_NOCTTY)
    guard master >= 0 else { return nil }
    var name = [CChar](repeating: 0, count: 128)
    guard unsafeBitCast(g, to: FD.self)(master) == 0, unsafeBitCast(u, to: FD.self)(master) == 0,
          unsafeBitCast(n, to: Name.self)(master, &name, name.count) == 0 else { close(master); return nil }
    let slave = open(String(cString: name), O_RDWR | O_NOCTTY)
    guard slave >= 0 else { close(master); return nil }
    return (master, slave)
}
