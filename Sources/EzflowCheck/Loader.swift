import EzflowDiagnostics
import EzflowSyntax

/// Where source text comes from. The checker never touches the disk itself;
/// `ezc` passes a file-system loader, tests and the LSP pass in-memory ones.
public protocol SourceLoader: Sendable {
    /// Resolves an import string written in `importer` (nil for a root path) to a
    /// canonical key (used to detect cycles and load each module once).
    func resolve(_ path: String, from importer: String?) -> String
    /// Reads a canonical key; the error is a human-readable reason.
    func read(_ key: String) -> Result<[UInt8], LoadError>
    /// How a key is shown in diagnostics (e.g. relative to the working directory).
    func display(_ key: String) -> String
}

public struct LoadError: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// One parsed file and its top-level declarations.
public struct Module: Sendable {
    public var key: String
    public var file: Int
    public var tree: SyntaxTree
    /// Declarations by name: top level and workflow body share one namespace.
    public var decls: [String: Decl] = [:]
    /// Import alias → module index in `CheckSession.modules` (nil when it failed to load).
    public var imports: [String: ImportBinding] = [:]
    public var workflow: Block?
}

public struct ImportBinding: Sendable {
    public var module: Int?
    public var span: Span
    public var alias: String
    /// The whole `import` statement.
    public var declSpan: Span
}

/// The kinds of named declarations.
public enum DeclKind: String, Sendable, CaseIterable {
    case workflow, task, group, agent, role, policy, secret, retry, enumeration = "enum", record = "type", error

    public var noun: String {
        switch self {
        case .enumeration: "enum"
        case .record: "type"
        case .error: "error class"
        default: rawValue
        }
    }
}

public struct Decl: Sendable {
    public var kind: DeclKind
    public var name: Name
    public var block: Block
    public var module: Int
}

/// Turns one file into a syntax tree; the façade picks one per file (text or YAML surface).
public typealias FrontEnd = @Sendable (_ source: SourceFile, _ file: Int) -> (SyntaxTree, [Diagnostic])

/// One `ezc check` invocation: loads modules once each, follows imports, reports cycles.
public struct CheckSession<Loader: SourceLoader> {
    public let loader: Loader
    /// Parses a `.ezflow.yaml` file; nil means YAML files are parsed as text (and fail).
    public var yamlFrontEnd: FrontEnd?
    public private(set) var sources = SourceMap()
    public var diagnostics: [Diagnostic] = []
    public private(set) var modules: [Module] = []
    /// Every workflow checked, root or imported.
    public private(set) var workflows: [CheckedWorkflow] = []
    /// What the checker resolved: bindings, types, modules (filled by `checkAll`).
    public private(set) var semantics = SemanticModel()
    var moduleByKey: [String: Int] = [:]
    /// Keys of modules being loaded, for import-cycle detection.
    var loading: [String] = []

    /// Parses by file and content; pass one cache to several sessions to reuse parses.
    public let parseCache: ParseCache

    public init(loader: Loader, yamlFrontEnd: FrontEnd? = nil, parseCache: ParseCache = ParseCache()) {
        self.loader = loader
        self.yamlFrontEnd = yamlFrontEnd
        self.parseCache = parseCache
    }

    /// Loads one root file and its imports; `checkAll` then checks everything loaded.
    public mutating func checkRoot(path: String) {
        let key = loader.resolve(path, from: nil)
        if moduleByKey[key] != nil { return }
        switch loader.read(key) {
        case .failure(let e):
            // No file to point into: an empty pseudo-file carries the position.
            let f = sources.add(SourceFile(path: path, bytes: []), key: key)
            diagnostics.append(.error("E0206", "cannot read `\(path)`: \(e.reason)", at: Span(file: f, start: 0, end: 0)))
        case .success(let bytes):
            _ = load(key: key, displayPath: path, bytes: bytes)
        }
    }

    /// Checks every loaded module once (declarations, workflow, imports), so a module
    /// imported by several roots reports its problems once.
    public mutating func checkAll() {
        var checker = WorkflowChecker(session: self)
        checker.checkAll()
        diagnostics.append(contentsOf: checker.diagnostics)
        workflows = checker.checked
        semantics.bindings = checker.bindings
        semantics.types = checker.types
        semantics.modules = modules
        semantics.workflows = workflows
    }

    /// Parses a module and, depth first, everything it imports.
    mutating func load(key: String, displayPath: String, bytes: [UInt8]) -> Int? {
        // Refuse huge files before indexing their lines.
        let file = sources.add(SourceFile(path: displayPath, bytes: bytes.count > Parser.fileBytesMax ? [] : bytes), key: key)
        if bytes.count > Parser.fileBytesMax {
            diagnostics.append(.error("E0107", "file is too large (\(bytes.count) bytes)", at: Span(file: file, start: 0, end: 0),
                                      notes: ["ezc reads files of at most \(Parser.fileBytesMax) bytes"],
                                      help: "split the workflow into modules and `import` them"))
            return nil
        }
        let isYAML = key.hasSuffix(".yaml") || key.hasSuffix(".yml")
        let source = sources[file]
        let (tree, parseDiags) = parseCache.parse(file: file, bytes: bytes, yaml: isYAML && yamlFrontEnd != nil) {
            isYAML && yamlFrontEnd != nil ? yamlFrontEnd!(source, file) : Parser.parse(source, file: file)
        }
        diagnostics.append(contentsOf: parseDiags)
        var module = Module(key: key, file: file, tree: tree)
        let index = modules.count
        modules.append(module)
        moduleByKey[key] = index
        loading.append(key)
        defer { loading.removeLast() }

        for imp in tree.imports {
            let alias = imp.alias?.text ?? Self.defaultAlias(imp.path)
            let aliasSpan = imp.alias?.span ?? imp.pathSpan
            if let prev = module.imports[alias] {
                diagnostics.append(.error("E0201", "`\(alias)` is imported twice", at: aliasSpan, label: "imported again here",
                                          secondary: [Label(prev.span, "first imported here")],
                                          help: "give one of them another name with `as`"))
                continue
            }
            let target = loader.resolve(imp.path, from: key)
            var binding = ImportBinding(module: nil, span: aliasSpan, alias: alias, declSpan: imp.span)
            if let cycleStart = loading.firstIndex(of: target) {
                let chain = (loading[cycleStart...] + [target]).map { Self.shortName($0) }.joined(separator: " → ")
                diagnostics.append(.error("E0207", "import cycle: \(chain)", at: imp.pathSpan,
                                          label: "this import closes the cycle",
                                          help: "move the shared declarations into a module both can import"))
            } else if let existing = moduleByKey[target] {
                binding.module = existing
            } else {
                switch loader.read(target) {
                case .failure(let e):
                    diagnostics.append(.error("E0206", "cannot find module `\(imp.path)`", at: imp.pathSpan,
                                              label: e.reason,
                                              help: imp.path.hasPrefix("std/") ? "the standard library has: \(StdlibNames.list)" : "paths are relative to the importing file; stdlib modules are imported as `std/NAME`"))
                case .success(let b):
                    binding.module = load(key: target, displayPath: displayName(target), bytes: b)
                }
            }
            module.imports[alias] = binding
        }
        module = collectDecls(module)
        modules[index] = module
        return index
    }

    func displayName(_ key: String) -> String { loader.display(key) }

    static func defaultAlias(_ path: String) -> String {
        var base = path.split(separator: "/").last.map(String.init) ?? path
        for ext in [".ezflow.yaml", ".ezflow"] where base.hasSuffix(ext) { base.removeLast(ext.count) }
        return base
    }

    static func shortName(_ key: String) -> String {
        key.split(separator: "/").last.map(String.init) ?? key
    }

    /// Fills the declaration table; reports duplicates and misplaced blocks.
    mutating func collectDecls(_ m: Module) -> Module {
        var m = m
        func declare(_ b: Block, allowTasks: Bool) {
            guard let kind = DeclKind(rawValue: b.kind.text) else {
                switch b.kind.text {
                case "input", "output", "budget":
                    diagnostics.append(.error("E0202", "`\(b.kind.text)` must be inside a `workflow`", at: b.kind.span))
                default:
                    diagnostics.append(Diagnostic.error("E0202", "unknown declaration `\(b.kind.text)`", at: b.kind.span)
                        .suggesting(suggest(b.kind.text, among: DeclKind.allCases.map(\.rawValue)), at: b.kind.span))
                }
                return
            }
            if (kind == .task || kind == .group) && !allowTasks {
                diagnostics.append(.error("E0202", "`\(kind.rawValue)` must be inside a `workflow`", at: b.kind.span,
                                          help: "tasks belong to the workflow that runs them"))
                return
            }
            if kind == .task || kind == .group { return }  // tasks live in the workflow's own namespace
            guard let name = b.name else {
                diagnostics.append(.error("E0204", "`\(kind.rawValue)` needs a name", at: b.kind.span,
                                          help: "write `\(kind.rawValue) NAME { ... }`"))
                return
            }
            if kind == .workflow {
                if let w = m.workflow {
                    diagnostics.append(.error("E0210", "a file declares at most one workflow", at: name.span,
                                              secondary: [Label(w.name?.span ?? w.span, "first workflow here")],
                                              help: "move this workflow to a file of its own and import it"))
                    return
                }
                m.workflow = b
            }
            if let prev = m.decls[name.text] {
                diagnostics.append(.error("E0201", "`\(name.text)` is declared twice", at: name.span,
                                          label: "redeclared here",
                                          secondary: [Label(prev.name.span, "first declared here as \(prev.kind.noun)")],
                                          help: "rename one of them"))
                return
            }
            m.decls[name.text] = Decl(kind: kind, name: name, block: b, module: 0)
        }
        let index = moduleByKey[m.key] ?? 0
        for item in m.tree.items {
            declare(item, allowTasks: false)
            if item.kind.text == "workflow" {
                // Unknown kinds in the body are reported by the workflow's own schema check.
                for inner in item.blocks where DeclKind(rawValue: inner.kind.text) != nil {
                    switch inner.kind.text {
                    case "task", "group": continue
                    default: declare(inner, allowTasks: true)
                    }
                }
            }
        }
        for k in m.decls.keys { m.decls[k]!.module = index }
        return m
    }
}

enum StdlibNames {
    static let list = "`std/retry`, `std/roles`, `std/agents`, `std/build_test_review`"
}

/// The closest candidate by edit distance, for "did you mean" help. A plural counts
/// as its singular (`retries` → `retry`, `agents` → `agent`), which plain distance
/// misses for short words.
public func suggest(_ name: String, among candidates: some Sequence<String>) -> String? {
    let a = Array(name.lowercased().utf8)
    let one = singular(a)
    var best: (String, Int)?
    for c in candidates where c != name {
        let b = Array(c.lowercased().utf8)
        if abs(a.count - b.count) > 3 { continue }
        let d = Swift.min(editDistance(a, b), one.map { editDistance($0, b) } ?? .max)
        let limit = max(1, min(3, max(a.count, b.count) / 3))
        if d <= limit, best == nil || d < best!.1 || (d == best!.1 && c < best!.0) { best = (c, d) }
    }
    return best?.0
}

/// The English singular of a lowercase plural (`retries` → `retry`, `needs` → `need`);
/// nil when the word does not end in `s`.
func singular(_ w: [UInt8]) -> [UInt8]? {
    guard w.count > 3, w.last == UInt8(ascii: "s") else { return nil }
    if w.suffix(3).elementsEqual("ies".utf8) { return w.dropLast(3) + Array("y".utf8) }
    return Array(w.dropLast())
}

/// Optimal-string-alignment distance: edits plus adjacent transpositions (`biuld` → `build` is 1).
func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            d[i][j] = Swift.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = Swift.min(d[i][j], d[i - 2][j - 2] + 1) }
        }
    }
    return d[a.count][b.count]
}
