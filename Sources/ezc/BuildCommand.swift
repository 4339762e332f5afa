/// `ezc build` (in progress).
enum BuildCommand {
    static func run(_ args: [String]) -> Int32 {
        EzcCommand.fail("`build` is not available yet")
    }
}
