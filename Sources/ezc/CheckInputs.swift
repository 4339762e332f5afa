import EzflowCompiler
import EzflowCLI
import Foundation

/// The roots `ezc check` was given, sorted into what can be checked and what cannot:
/// `-` is standard input (read once, checked as `<stdin>`); a file that cannot be
/// read is reported on stderr as an I/O error and left out, so the others are still
/// checked (the exit code is then 2 whatever they report).
struct CheckInputs {
    var paths: [String] = []
    var stdin: [UInt8]?
    var ioFailed = false

    init(_ files: [String]) {
        for f in files {
            if f == "-" {
                if stdin == nil { stdin = [UInt8](FileHandle.standardInput.readDataToEndOfFile()) }
                if !paths.contains(Compiler.stdinPath) { paths.append(Compiler.stdinPath) }
            } else if let reason = BuildCommand.unreadable(f) {
                Console.err("ezc: error: cannot read `\(f)`: \(reason)\n")
                ioFailed = true
            } else {
                paths.append(f)
            }
        }
    }
}
