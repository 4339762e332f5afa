// Values an attacker would pass to a workflow, for the shell-injection tests: each would
// run `touch MARKER` (or misbehave) if it were pasted into a script as code.

/// The hostile value table (issue 9 §1): name and value, `MARK` standing for a marker
/// file path that must never be created.
public enum HostileValues {
    public static func all(marker: String) -> [(name: String, value: String)] {
        let big = String(repeating: "A';\"$(touch \(marker))`x`\n", count: 100_000 / 24 + 1)
        return [
            ("semicolon", "x; touch \(marker)"),
            ("and", "x && touch \(marker)"),
            ("pipe", "x | touch \(marker)"),
            ("command substitution", "$(touch \(marker))"),
            ("backquotes", "`touch \(marker)`"),
            ("single quote", "it's'; touch \(marker); '"),
            ("double quote", "say \"hi\"; touch \(marker); \""),
            ("newline", "x\ntouch \(marker)\n"),
            ("carriage return", "x\rtouch \(marker)\r\n"),
            ("leading dash", "-n -e --help"),
            ("star glob", "*"),
            ("question glob", "/???/*"),
            ("tilde", "~"),
            ("tilde user", "~root/x"),
            ("brace expansion", "{a,b}"),
            ("variable", "$HOME ${HOME} $EZFLOW_V1"),
            ("backslashes", "a\\b\\\\c\\"),
            ("100 KB", String(big.prefix(102_400))),
            ("UTF-8", "héllo 🌍 日本語 \u{202E}rtl"),
            ("quote dance", "'\"'\"'"),
            ("empty", ""),
            ("spaces", "  two  spaces  "),
            ("tab", "a\tb"),
            ("arithmetic", "$((1+1)) $[2]"),
            ("here-document end", "x\nEOF\ntouch \(marker)\nEOF\n"),
            ("closers", ") ; touch \(marker) # '}\""),
            ("history", "!! !-1"),
            ("redirection", "> \(marker) < /etc/passwd 2>&1"),
            ("printf format", "%s%n%d\\n"),
            ("dash dash", "--"),
        ]
    }
}
