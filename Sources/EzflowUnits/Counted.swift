// A count with its noun, for every user-facing line: "1 task", "2 tasks", "0 tasks".
// One helper so no message says "1 tasks" or "attempt(s)".

extension Units {
    /// `n` and the noun, singular for exactly one: `counted(1, "task")` → `1 task`,
    /// `counted(3, "task")` → `3 tasks`. `plural` for nouns that do not take an `s`
    /// (`counted(2, "process", "processes")`).
    public static func counted(_ n: some BinaryInteger, _ singular: String, _ plural: String? = nil) -> String {
        "\(n) " + noun(n, singular, plural)
    }

    /// The noun alone, in the form `n` takes (`noun(2, "attempt")` → `attempts`), for
    /// lines that print the number elsewhere.
    public static func noun(_ n: some BinaryInteger, _ singular: String, _ plural: String? = nil) -> String {
        n == 1 ? singular : plural ?? singular + "s"
    }
}
