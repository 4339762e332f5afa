/// `ezc fmt` (in progress).
enum FmtCommand {
    static func run(_ args: [String]) -> Int32 {
        EzcCommand.fail("`fmt` is not available yet")
    }
}
