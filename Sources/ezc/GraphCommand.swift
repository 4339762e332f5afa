/// `ezc graph` (in progress).
enum GraphCommand {
    static func run(_ args: [String]) -> Int32 {
        EzcCommand.fail("`graph` is not available yet")
    }
}
