import EzflowAgents
import EzflowCompiler
import EzflowIR
import Foundation
import EzflowTestSupport
import Glibc
import Synchronization
import XCTest

/// Compiles an .ezflow source into a validated IR program.
func buildProgram(_ source: String, file: StaticString = #filePath, line: UInt = #line) throws -> IRProgram {
    let built = Compiler.build(root: "main.ezflow", files: ["main.ezflow": source])
    let bytes = try XCTUnwrap(built.ir, "\(built.failure ?? "") \(built.check.diagnostics.map(\.message))", file: file, line: line)
    return try EzflowIR.validate(bytes)
}

/// Index of a task / an agent by name in the IR.
func taskIndex(_ p: IRProgram, _ name: String) -> Int {
    guard case .array(let ts)? = p.document["tasks"] else { return -1 }
    return ts.firstIndex { $0["name"] == .string(name) } ?? -1
}

func agentIndex(_ p: IRProgram, _ name: String) -> Int {
    guard case .array(let ags)? = p.document["agents"] else { return -1 }
    return ags.firstIndex { $0["name"] == .string(name) } ?? -1
}
