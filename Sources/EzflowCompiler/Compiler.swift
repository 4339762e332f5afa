import EzflowCheck
import EzflowDiagnostics
import EzflowSyntax
import EzflowYAML
import Foundation

/// The result of checking one or more root files and everything they import.
public struct CompileResult: Sendable {
    /// Every file read, by `Span.file` (an id derived from the file's path).
    public var sources: SourceMap
    /// All diagnostics, sorted by position.
    public var diagnostics: [Diagnostic]
    /// Every checked workflow, root first; lowering requires `hasErrors == false`.
    public var workflows: [CheckedWorkflow]
    /// What the checker resolved (bindings, types, modules), for lowering and `EzflowIDE`.
    public var semantics: SemanticModel
    public var hasErrors: Bool { diagnostics.errorCount > 0 }

    /// `ezc check --explain-budget`: the proven bounds of every budget and the deadline of
    /// the workflows declared in `roots` (all workflows when none is), one block each.
    public func budgetReport(roots: [String]) -> String {
        rootWorkflows(roots).map { BudgetProof.render(workflow: $0.name, $0.budgetProofs) }.joined(separator: "\n")
    }

    /// `ezc check --explain-retry`: per task of the workflows declared in `roots`, its
    /// attempts, delays and the error classes its rule retries, then the classes a rule
    /// without `on:` leaves alone.
    public func retryReport(roots: [String]) -> String {
        let blocks = rootWorkflows(roots).map { RetryReport.render(workflow: $0.name, tasks: $0.tasks) }
        return (blocks + [RetryReport.notRetriedLegend]).joined(separator: "\n")
    }

    /// The workflows declared in `roots` (all workflows when none is).
    func rootWorkflows(_ roots: [String]) -> [CheckedWorkflow] {
        let own = workflows.filter { roots.contains($0.files[$0.module] ?? "") }
        return own.isEmpty ? workflows : own
    }
}

/// The façade `ezc`, the LSP and benchmarks call. Stages below it never touch the disk;
/// this type chooses the loader.
public enum Compiler {
    /// Checks each root file (and its imports). `stdlibRoot` is `--stdlib DIR`, the directory
    /// `import "std/x"` resolves to; nil means the default search (see `StdlibLocator`).
    /// The root path that stands for standard input (`ezc check -`), and its display name.
    public static let stdinPath = "<stdin>"

    /// The path `<stdin>` stands for `stdin` (the bytes `ezc check -` read from standard
    /// input); its relative imports resolve from the working directory.
    public static func check(paths: [String], stdlibRoot: String? = nil, stdin: [UInt8]? = nil) -> CompileResult {
        let loader = FileSystemLoader(stdlib: StdlibLocator.find(flag: stdlibRoot), stdin: stdin)
        return check(roots: paths, loader: loader)
    }

    /// Checks in-memory sources: `files` maps paths to text; imports resolve among them.
    /// A `cache` kept across calls (an editor's) re-parses only files whose text changed.
    public static func check(root: String, files: [String: String], stdlibRoot: String? = nil,
                             cache: ParseCache = ParseCache()) -> CompileResult {
        check(root: root, bytes: files.mapValues { Array($0.utf8) }, stdlibRoot: stdlibRoot, cache: cache)
    }

    /// Like `check(root:files:)` for raw bytes, which may be invalid UTF-8.
    public static func check(root: String, bytes: [String: [UInt8]], stdlibRoot: String? = nil,
                             cache: ParseCache = ParseCache()) -> CompileResult {
        let loader = MemoryLoader(files: bytes, stdlib: StdlibLocator.find(flag: stdlibRoot))
        return check(roots: [root], loader: loader, cache: cache)
    }

    static func check(roots: [String], loader: some SourceLoader, cache: ParseCache = ParseCache()) -> CompileResult {
        result(of: session(roots: roots, loader: loader, cache: cache))
    }

    /// Loads and checks `roots` with both surfaces' front ends.
    static func session<L: SourceLoader>(roots: [String], loader: L, cache: ParseCache = ParseCache()) -> CheckSession<L> {
        var session = CheckSession(loader: loader, yamlFrontEnd: YAMLSurface.parse, parseCache: cache)
        // EZFLOW_TIMING=1 prints phase times to stderr (for profiling, not a stable format).
        let timing = ProcessInfo.processInfo.environment["EZFLOW_TIMING"] == "1"
        let t0 = DispatchTime.now().uptimeNanoseconds
        for root in roots { session.checkRoot(path: root) }
        let t1 = DispatchTime.now().uptimeNanoseconds
        session.checkAll()
        let t2 = DispatchTime.now().uptimeNanoseconds
        if timing {
            FileHandle.standardError.write(Data("timing: load+parse \((t1 - t0) / 1_000_000) ms, check \((t2 - t1) / 1_000_000) ms\n".utf8))
        }
        return session
    }

    static func result(of session: CheckSession<some SourceLoader>) -> CompileResult {
        CompileResult(sources: session.sources, diagnostics: session.diagnostics.sortedByPosition(in: session.sources),
                      workflows: session.workflows, semantics: session.semantics)
    }
}
