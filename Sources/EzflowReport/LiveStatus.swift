// The live status line of `ezrun run`/`resume` on a terminal: one line at the bottom,
// redrawn in place, with the progress lines scrolling above it. Its own thread redraws it
// every `periodMs`, so the elapsed time ticks while no event arrives (a task that prints
// nothing for minutes). The wall clock is read here, for the screen only: nothing of it
// reaches the runner or the journal.
import EzflowDiagnostics
import Foundation

/// A status line kept on a terminal. Every write (a redraw, lines printed above it, the
/// final erase) goes out whole under one lock, so the ticking thread never tears a line.
public final class LiveStatus: @unchecked Sendable {
    /// Redraws at most this often; a line that did not change is not written again.
    public let periodMs: Int
    let render: @Sendable (StatusFacts, Int64) -> String
    let clock: @Sendable () -> Int64
    let write: @Sendable (String) -> Void
    let lock = NSCondition()
    var facts: StatusFacts?
    /// The status line on screen now ("" when none).
    var shown = ""
    var stopped = false

    /// `render` makes the line from the facts and the clock's time; `write` puts bytes on
    /// the terminal (stderr). Nothing is drawn before the first `update`.
    public init(periodMs: Int = 250, clock: @escaping @Sendable () -> Int64 = LiveStatus.wallClockMs,
                write: @escaping @Sendable (String) -> Void, render: @escaping @Sendable (StatusFacts, Int64) -> String) {
        self.periodMs = periodMs
        self.clock = clock
        self.write = write
        self.render = render
    }

    /// Milliseconds since the epoch, for the screen.
    public static let wallClockMs: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Starts the thread that redraws the line every `periodMs` until `finish`.
    public func start() {
        let t = Thread { [self] in
            lock.lock()
            while !stopped {
                _ = lock.wait(until: Date().addingTimeInterval(Double(periodMs) / 1000))
                emit("")  // the elapsed time moved on
            }
            lock.unlock()
        }
        t.name = "ezrun-status"
        t.start()
    }

    /// New facts (after a committed batch), with `lines` (each ending in a newline) printed
    /// above the status line in the same write.
    public func update(_ facts: StatusFacts, printing lines: String = "") {
        lock.lock()
        defer { lock.unlock() }
        self.facts = facts
        emit(lines)
    }

    /// Prints `lines` (each ending in a newline) above the status line; after `finish`,
    /// plainly.
    public func print(_ lines: String) {
        lock.lock()
        defer { lock.unlock() }
        emit(lines)
    }

    /// Stops the ticking and erases the status line, so what follows starts on a clean line.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        if !shown.isEmpty { write(TerminalColor.eraseLine) }
        shown = ""
        lock.signal()
    }

    /// Erase, the lines, the status line again (when it or the lines changed): one write.
    /// Called with the lock held.
    func emit(_ lines: String) {
        guard !stopped, let facts else {
            if !lines.isEmpty { write(lines) }
            return
        }
        let line = render(facts, clock())
        if lines.isEmpty && line == shown { return }
        write((shown.isEmpty ? "" : TerminalColor.eraseLine) + lines + line)
        shown = line
    }
}
