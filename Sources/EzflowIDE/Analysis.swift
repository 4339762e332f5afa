import EzflowCheck
import EzflowCompiler
import EzflowDiagnostics
import EzflowSyntax

/// A range in a file, as editors address text: the file's path (as the compiler shows
/// it) and UTF-8 byte offsets, end exclusive.
public struct Location: Sendable, Hashable {
    public var path: String
    public var start: Int
    public var end: Int

    public init(path: String, start: Int, end: Int) {
        self.path = path
        self.start = start
        self.end = end
    }
}

/// What hovering shows: the range it describes, the type (when the thing has one) and
/// a line of documentation.
public struct Hover: Sendable, Hashable {
    public var range: Location
    /// A one-line signature, e.g. "task `build`" or "input `files`: list[string]".
    public var title: String
    public var type: String?
    /// The doc comment above the declaration, an attribute's doc, or details such as a
    /// task's agent and retry rule.
    public var doc: String
}

/// One completion candidate.
public struct Completion: Sendable, Hashable {
    public var label: String
    /// What it names: `attribute`, `block`, `keyword`, `task`, `input`, `agent`, `function`, ...
    public var kind: String
    public var detail: String
    /// Where the text it replaces starts (a byte offset), when that is not just the word
    /// before the cursor: an import path with its `/`, a number and its unit.
    public var replaceStart: Int?

    public init(label: String, kind: String, detail: String, replaceStart: Int? = nil) {
        self.label = label
        self.kind = kind
        self.detail = detail
        self.replaceStart = replaceStart
    }
}

/// Editor queries over one check: hover, go to definition and completions at a byte
/// offset. Answers come from the checker's `SemanticModel` (bindings, types, modules);
/// nothing is resolved here. The language server adds only the protocol on top.
public struct Analysis: Sendable {
    public let result: CompileResult
    var model: SemanticModel { result.semantics }

    public init(_ result: CompileResult) { self.result = result }

    /// Checks `root` among in-memory `files` (imports resolve among them, then the stdlib).
    public init(root: String, files: [String: String], stdlibRoot: String? = nil) {
        self.init(Compiler.check(root: root, files: files, stdlibRoot: stdlibRoot))
    }

    /// The file checked for `path` (its key as loaded, or its path as shown): the key is
    /// where the file is on disk (or in the editor), the text what offsets count in. An
    /// editor maps a `Location` back to a document with it.
    public func source(_ path: String) -> (key: String, text: SourceFile)? {
        guard let m = module(path) else { return nil }
        return (model.modules[m].key, result.sources[model.modules[m].file])
    }

    /// The diagnostics whose primary label lies in the file of `path`, by position: what an
    /// editor shows on that file (an imported module's problems show on the module).
    public func diagnostics(in path: String) -> [Diagnostic] {
        guard let m = module(path) else { return [] }
        let file = model.modules[m].file
        return result.diagnostics.filter { $0.primary.span.file == file }
    }

    /// The module whose file has `path` (as shown in diagnostics, or as loaded).
    func module(_ path: String) -> Int? {
        model.modules.firstIndex { $0.key == path || result.sources[$0.file].path == path }
    }

    func location(_ span: Span) -> Location {
        Location(path: result.sources[span.file].path, start: span.start, end: span.end)
    }

    func workflow(_ module: Int) -> CheckedWorkflow? { model.workflows.first { $0.module == module } }

    /// What is at `offset`: the innermost recorded binding, else the declaration whose
    /// name is there.
    func binding(_ m: Int, _ offset: Int) -> (span: Span, binding: Binding)? {
        let file = model.modules[m].file
        if let b = model.bindings.bindings(file: file, containing: offset).first { return b }
        return declaration(m, offset)
    }

    /// A declaration (top-level, an enum case, task, a task's output, group, input or
    /// workflow output) whose name contains `offset`.
    func declaration(_ m: Int, _ offset: Int) -> (span: Span, binding: Binding)? {
        func at(_ s: Span) -> Bool { s.start <= offset && offset <= s.end }
        for d in model.modules[m].decls.values {
            if at(d.name.span) { return (d.name.span, .decl(d.kind, DeclID(module: m, name: d.name.text))) }
            if d.kind == .enumeration, let c = d.block.cases.first(where: { at($0.span) }) {
                return (c.span, .enumCase(DeclID(module: m, name: d.name.text), c.text))
            }
        }
        guard let w = workflow(m) else { return nil }
        for t in w.tasks {
            if at(t.name.span) { return (t.name.span, .task(module: m, index: t.id)) }
            // A declared output (`output sha: string`) inside the task.
            guard t.block.span.start <= offset, offset <= t.block.span.end else { continue }
            for b in t.block.blocks where b.kind.text == "output" {
                if let n = b.name, at(n.span) { return (n.span, .taskOutput(module: m, task: t.id, name: n.text)) }
            }
        }
        for (i, g) in w.groups.enumerated() where at(g.name.span) { return (g.name.span, .group(module: m, index: i)) }
        for i in w.inputs where at(i.span) { return (i.span, .input(module: m, name: i.name)) }
        for o in w.outputs where at(o.span) { return (o.span, .output(module: m, name: o.name)) }
        return nil
    }

    /// The innermost type recorded for an expression containing `offset`.
    func type(_ file: Int, _ offset: Int) -> (span: Span, type: Ty)? {
        var best: (span: Span, type: Ty)?
        for (s, t) in model.types where s.file == file && s.start <= offset && offset <= s.end {
            if best == nil || s.end - s.start < best!.span.end - best!.span.start { best = (s, t) }
        }
        return best
    }

    /// The chain of blocks containing `offset`, outermost first.
    func blocks(_ m: Int, _ offset: Int) -> [Block] {
        var chain: [Block] = []
        var level = model.modules[m].tree.items
        while let b = level.first(where: { $0.span.start < offset && offset < $0.span.end }) {
            chain.append(b)
            level = b.blocks
        }
        return chain
    }
}
