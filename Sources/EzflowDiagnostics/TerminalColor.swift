// Whether to colour a stream and whether it can hold a live status line: the one decision
// `ezc` and `ezrun` share, so `--color`, NO_COLOR and TERM=dumb mean the same in both.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The values of `--color`.
public enum ColorChoice: String, Sendable, CaseIterable {
    /// Colour when the stream is a terminal, NO_COLOR is unset or empty and TERM is not `dumb`.
    case auto
    /// Colour whatever the stream and the environment say.
    case always
    /// Never colour.
    case never

    /// The `--color` help line, for every command that takes the flag.
    public static let help = "auto (default: colour on a terminal, unless NO_COLOR is set and non-empty or TERM=dumb), always or never"
}

/// Terminal decisions, read from the environment and the file descriptor written to.
public enum TerminalColor {
    /// `--color always` overrides NO_COLOR and TERM=dumb, as no-color.org asks of an
    /// explicit flag; `auto` needs a terminal on `fd`, NO_COLOR unset or empty
    /// (no-color.org: "when present and not an empty string"), and a TERM other than `dumb`.
    public static func enabled(_ choice: ColorChoice, fd: Int32, environment: [String: String]) -> Bool {
        switch choice {
        case .always: return true
        case .never: return false
        case .auto: return isatty(fd) == 1 && !noColorRequested(environment) && !isDumb(environment)
        }
    }

    /// NO_COLOR is set to something other than the empty string.
    public static func noColorRequested(_ environment: [String: String]) -> Bool {
        !(environment["NO_COLOR"] ?? "").isEmpty
    }

    /// TERM=dumb: a terminal that cannot move the cursor or colour (Emacs shells, some CI).
    public static func isDumb(_ environment: [String: String]) -> Bool {
        environment["TERM"] == "dumb"
    }

    /// A terminal on `fd` that can redraw a line in place (`\r`, erase line): not dumb.
    /// Colour does not matter here: `--color never` keeps the live status line, plain.
    public static func canRedraw(fd: Int32, environment: [String: String]) -> Bool {
        isatty(fd) == 1 && !isDumb(environment)
    }

    /// SGR colours used on terminals.
    public enum Tint: String, Sendable {
        case red = "31", green = "32", yellow = "33", blue = "34", cyan = "36", bold = "1", dim = "2"
    }

    /// `s` in `tints` (`[.bold, .red]`) when `enabled`, else `s` unchanged.
    public static func paint(_ s: String, _ tints: Tint..., enabled: Bool) -> String {
        guard enabled, !s.isEmpty, !tints.isEmpty else { return s }
        return "\u{1B}[\(tints.map(\.rawValue).joined(separator: ";"))m\(s)\u{1B}[0m"
    }

    /// Carriage return and erase line: where a live status line was, an empty line.
    public static let eraseLine = "\r\u{1B}[K"
}
