import EzflowDiagnostics
import EzflowSyntax
import Synchronization

/// Parsed files by file id (a file's path) and content. One check parses each file
/// once; a cache kept across checks (an editor's) re-parses only files whose bytes
/// changed. Safe to share between threads.
public final class ParseCache: Sendable {
    struct Entry {
        var bytes: [UInt8]
        var yaml: Bool
        var tree: SyntaxTree
        var diagnostics: [Diagnostic]
    }

    struct State {
        var entries: [Int: Entry] = [:]
        var parses = 0
        var hits = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// How many files were parsed (cache misses).
    public var parses: Int { state.withLock { $0.parses } }
    /// How many parses were reused.
    public var hits: Int { state.withLock { $0.hits } }

    /// The parse of `bytes` as file `file`, from the cache when the same file had the
    /// same bytes; otherwise `parse` runs (outside the lock) and its result is kept.
    func parse(file: Int, bytes: [UInt8], yaml: Bool, _ parse: () -> (SyntaxTree, [Diagnostic])) -> (SyntaxTree, [Diagnostic]) {
        let cached: Entry? = state.withLock { s in
            guard let e = s.entries[file], e.yaml == yaml, e.bytes == bytes else { return nil }
            s.hits += 1
            return e
        }
        if let cached { return (cached.tree, cached.diagnostics) }
        let (tree, diags) = parse()
        state.withLock { s in
            s.parses += 1
            s.entries[file] = Entry(bytes: bytes, yaml: yaml, tree: tree, diagnostics: diags)
        }
        return (tree, diags)
    }
}
