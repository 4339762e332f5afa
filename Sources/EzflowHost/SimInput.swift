// Loading what `ezrun simulate` runs: an `.ezflow` source (compiled with
// `Compiler.build`) or an `.ezir` document (validated with `EzflowIR.validate`).
import EzflowCompiler
import EzflowDiagnostics
import EzflowIR
import EzflowRuntime
import Foundation

/// Invalid input for a simulation (exit code 2): unreadable file, compile errors,
/// IR the validator or the planner refuses, a bad scenario or faults spec.
public struct SimInputError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A workflow ready to simulate.
public struct SimInput: Sendable {
    public var program: IRProgram
    public var plan: Plan

    /// Reads `path`: `.ezir`/`.json` files are validated as IR, anything else is compiled.
    /// `stdlib`: where `import "std/..."` looks (nil: found as `ezc` finds it).
    public static func load(path: String, stdlib: String? = nil) throws(SimInputError) -> SimInput {
        guard FileManager.default.isReadableFile(atPath: path) else { throw SimInputError("\(path): cannot read the file") }
        let bytes: [UInt8]
        if path.hasSuffix(".ezir") || path.hasSuffix(".ezir.json") || path.hasSuffix(".json") {
            guard let d = FileManager.default.contents(atPath: path) else { throw SimInputError("\(path): cannot read the file") }
            bytes = [UInt8](d)
        } else {
            let r = Compiler.build(path: path, stdlibRoot: stdlib)
            if r.hasErrorsOrNoIR {
                let text = TextRenderer(color: false).render(r.check.diagnostics, sources: r.check.sources)
                throw SimInputError(text.isEmpty ? "\(path): \(r.failure ?? "no IR produced")" : text.trimmingCharacters(in: .newlines))
            }
            bytes = r.ir!
        }
        return try load(irBytes: bytes, name: path)
    }

    /// Validates IR bytes and builds the plan.
    public static func load(irBytes: [UInt8], name: String) throws(SimInputError) -> SimInput {
        let program: IRProgram
        do { program = try validate(irBytes) } catch { throw SimInputError("\(name): invalid IR: \(error)") }
        do { return SimInput(program: program, plan: try Plan(program)) } catch { throw SimInputError("\(name): \(error)") }
    }
}

extension BuildResult {
    var hasErrorsOrNoIR: Bool { check.hasErrors || ir == nil }
}
