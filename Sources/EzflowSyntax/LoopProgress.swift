/// Checks that a parser loop consumed at least one token since its previous iteration,
/// after swift-syntax's `LoopProgressCondition`. Every `while` in Parser.swift and
/// ParseExpr.swift ends its condition with `progress.evaluate(consumed)` (a test reads the
/// sources to make sure). In debug builds, and so in every test, a loop that stalls trips
/// an assertion; in release builds the loop just ends, so a missed case costs a worse
/// diagnostic, never a hang.
struct LoopProgress {
    private var last: Int? = nil

    /// True on the first call and whenever `consumed` (the parser's count of tokens
    /// consumed) grew since the previous call; asserts when it did not.
    mutating func evaluate(_ consumed: Int) -> Bool {
        let moved = check(consumed)
        assert(moved, "parser loop made no progress: no token consumed since its previous iteration")
        return moved
    }

    /// `evaluate` without the assertion (for tests of the check itself).
    mutating func check(_ consumed: Int) -> Bool {
        defer { last = consumed }
        guard let last else { return true }
        return consumed > last
    }
}
