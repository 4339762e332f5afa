// Turning `--input k=v` strings into typed input values (the IR's input types, read by the
// language's literal rules: `90s`, `$2.50`, `200k tokens`; `InputValue`), then applying defaults.
import EzflowAgents
import EzflowIR
import Foundation

/// Why `ezrun` cannot go on (the CLI exits with 2, invalid input, for all of them but a
/// store failure and an edited store).
public enum RunnerError: Error, Sendable, CustomStringConvertible {
    case invalid(String)
    case store(String)
    case refused(String)
    /// The journal or the IR does not match the run's hash chain (`JournalChain`): the
    /// store was edited outside ezflow.
    case integrity(String)

    public var description: String {
        switch self {
        case .invalid(let m), .store(let m), .integrity(let m): m
        case .refused(let m): "access refused: \(m)"
        }
    }

}

public enum RunInputs {
    /// Parses `k=v` pairs against the workflow's declared inputs and applies defaults
    /// (constant ones, then computed ones, which may read the others).
    public static func resolve(_ pairs: [String], workflow doc: JSONValue) throws(RunnerError) -> [String: JSONValue] {
        var declared: [String: JSONValue] = [:]
        var order: [String] = []
        if case .array(let xs)? = doc["inputs"] {
            for x in xs { if case .string(let n)? = x["name"] { declared[n] = x; order.append(n) } }
        }
        var values: [String: JSONValue] = [:]
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "=") else { throw .invalid("--input \(InputValue.shown(pair)): expected NAME=VALUE") }
            let name = String(pair[..<eq]), text = String(pair[pair.index(after: eq)...])
            guard let decl = declared[name] else {
                let known = order.isEmpty ? "it declares none" : "it declares " + order.joined(separator: ", ")
                throw .invalid("--input \(InputValue.shown(name)): the workflow has no such input (\(known))")
            }
            guard case .string(let type)? = decl["type"] else { throw .invalid("input `\(name)` has no type in the IR") }
            do throws(InputMismatch) { values[name] = try InputValue.read(text, type: type, types: doc["types"]) } catch {
                throw .invalid("--input \(InputValue.shown(pair, quoted: false)): \(error.message(input: name))")
            }
        }
        for n in order where values[n] == nil {
            if let d = declared[n]?["default"], d != .null { values[n] = d }
        }
        for n in order where values[n] == nil {
            if let e = declared[n]?["default_expr"], e != .null {
                do throws(RenderError) { values[n] = try TemplateRenderer(values: RenderValues(inputs: values)).evaluate(e) } catch {
                    throw .invalid("input `\(n)`: cannot compute its default: \(error.message)")
                }
            }
        }
        for n in order where values[n] == nil {
            if declared[n]?["required"] == .bool(true) {
                throw .invalid("input `\(n)` is required: pass --input \(n)=VALUE")
            }
            values[n] = .null
        }
        return values
    }
}
