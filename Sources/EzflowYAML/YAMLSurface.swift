import CYAML
import EzflowDiagnostics
import EzflowSyntax

/// The `.ezflow.yaml` surface (mapping rules: docs/YAML.md). A YAML file read with
/// libyaml maps onto the same `SyntaxTree` as the text surface, with spans pointing
/// into the YAML file, so the checker gives the same diagnostics and the same IR.
public enum YAMLSurface {
    /// Parses a `.ezflow.yaml` file. Never fails: broken input gives a partial tree
    /// and diagnostics (E0104 for YAML structure errors, E0106, E0107, E0108).
    public static func parse(_ source: SourceFile, file: Int) -> (SyntaxTree, [Diagnostic]) {
        let bytes = source.bytes
        let empty = Make.tree(file: file)
        if bytes.count > Parser.fileBytesMax {
            return (empty, [.error("E0107", "file is too large (\(bytes.count) bytes)",
                                   at: Span(file: file, start: 0, end: 0),
                                   notes: ["ezc reads files of at most \(Parser.fileBytesMax) bytes"],
                                   help: "split the workflow into modules and `import` them")])
        }
        if let bad = firstInvalidUTF8(bytes) {
            // libyaml would stop at the same byte; report it as the text surface does.
            return (empty, [.error("E0108", "file is not valid UTF-8", at: Span(file: file, start: bad, end: bad + 1),
                                   label: "invalid byte sequence here", help: "save the file as UTF-8")])
        }
        var reader = YAMLReader(bytes: bytes, file: file)
        let documents = reader.read()
        var mapper = YAMLMapper(bytes: bytes, file: file)
        let tree = mapper.tree(documents)
        var diags = reader.diagnostics + mapper.allDiagnostics
        if diags.count > Parser.errorsMax {
            diags = Array(diags.prefix(Parser.errorsMax))
        }
        return (tree, diags)
    }
}
