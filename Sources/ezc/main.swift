import EzflowCompiler
import Foundation

exit(EzcCommand.main(Array(CommandLine.arguments.dropFirst())))
