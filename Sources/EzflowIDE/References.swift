import EzflowCheck
import EzflowDiagnostics
import EzflowSyntax

/// A named thing the editor can find the uses of and rename: where its name is declared
/// (which identifies it across checks of different roots), the name and what it is.
public struct Symbol: Sendable, Hashable {
    /// The declaring name's range (the path as this check shows it).
    public var declaration: Location
    /// The declaring file as loaded (its path on disk): the same in every check that
    /// reads the file, whatever the root, so symbols compare across checks by it.
    public var key: String
    public var name: String
    /// The noun shown to the user: `task`, `input`, `agent`, `import alias`, ...
    public var kind: String
    /// An import alias is known only inside the file that declares it.
    public var fileLocal: Bool
}

/// A replacement of the text at `range` (what rename and quick fixes produce).
public struct FileEdit: Sendable, Hashable {
    public var range: Location
    public var newText: String

    public init(range: Location, newText: String) {
        self.range = range
        self.newText = newText
    }
}

extension Analysis {
    /// The symbol whose name is at `offset` in `path`: a declaration's name or a use of
    /// it. Nil for what has no declaration of its own (built-ins, `item`, implicit
    /// outputs such as `stdout`).
    public func symbol(path: String, offset: Int) -> Symbol? {
        guard let m = module(path) else { return nil }
        if let alias = importAlias(m, offset) { return alias }
        guard let (_, b) = binding(m, offset) else { return nil }
        return symbol(of: b)
    }

    /// Every place `symbol` is named in the files of this check (its declaration too
    /// when asked for), each the range of the name alone: the `files` of `inputs.files`,
    /// the `standard` of `retry.standard`. Sorted by file and position.
    public func references(to symbol: Symbol, includeDeclaration: Bool) -> [Location] {
        var found: Set<Location> = []
        if symbol.fileLocal {
            guard let m = model.modules.firstIndex(where: { $0.key == symbol.key }) else { return [] }
            for (span, b) in model.bindings.all where span.file == model.modules[m].file {
                guard case .module = b, let s = segment(span, index: 0, name: symbol.name) else { continue }
                found.insert(location(s))
            }
        } else {
            for (span, b) in model.bindings.all {
                guard let d = declaration(of: b), d.start == symbol.declaration.start, d.end == symbol.declaration.end,
                      key(d.file) == symbol.key,
                      let s = segment(span, index: nameIndex(b, span), name: symbol.name) else { continue }
                found.insert(location(s))
            }
        }
        // The declaration as this check shows its file.
        if let m = model.modules.firstIndex(where: { $0.key == symbol.key }) {
            let here = Location(path: result.sources[model.modules[m].file].path, start: symbol.declaration.start, end: symbol.declaration.end)
            if includeDeclaration { found.insert(here) } else { found.remove(here) }
        }
        return found.sorted { ($0.path, $0.start, $0.end) < ($1.path, $1.start, $1.end) }
    }

    /// The symbol a binding names, when it has a declaration whose text is its name.
    func symbol(of b: Binding) -> Symbol? {
        guard let d = declaration(of: b) else { return nil }
        let name: String
        let kind: String
        switch b {
        case .decl(let k, let id): (name, kind) = (id.name, k.noun)
        case .task(let m, let i), .taskStatus(let m, let i): (name, kind) = (workflow(m)?.tasks[i].name.text ?? "", "task")
        case .group(let m, let i): (name, kind) = (workflow(m)?.groups[i].name.text ?? "", "group")
        case .input(_, let n): (name, kind) = (n, "input")
        case .output(_, let n): (name, kind) = (n, "workflow output")
        case .taskOutput(_, _, let n), .previousOutput(_, _, let n): (name, kind) = (n, "task output")
        case .enumCase(_, let c): (name, kind) = (c, "enum case")
        default: return nil
        }
        // An implicit output (`stdout`) points at its action: nothing named there to rename.
        guard result.sources[d.file].text(d) == name else { return nil }
        return Symbol(declaration: location(d), key: key(d.file), name: name, kind: kind, fileLocal: false)
    }

    /// The key (path as loaded) of the file `file` of this check.
    func key(_ file: Int) -> String { model.modules.first { $0.file == file }?.key ?? result.sources[file].path }

    /// The span declaring the name a binding refers to: `target`, plus the previous
    /// iteration's output (declared as the task's output).
    func declaration(of b: Binding) -> Span? {
        if case .previousOutput(let m, let t, let n) = b { return target(.taskOutput(module: m, task: t, name: n)) }
        return target(b)
    }

    /// Which dotted segment of a reference written at `span` is the name: `inputs.NAME`,
    /// `TASK.outputs.NAME`, `previous.TASK.outputs.NAME`, `Enum.CASE`, `alias.NAME` and
    /// `secrets.NAME` (-1: the last segment).
    func nameIndex(_ b: Binding, _ span: Span) -> Int {
        switch b {
        case .input: return result.sources[span.file].text(span).hasPrefix("inputs.") ? 1 : 0
        case .taskOutput: return 2
        case .previousOutput: return 3
        case .decl, .enumCase: return -1
        default: return 0
        }
    }

    /// The span of dotted segment `index` (-1: the last) of the reference at `span`, when
    /// its text is `name`; nil when the reference is not written plainly there (a YAML
    /// scalar with escapes shares one span among its references).
    func segment(_ span: Span, index: Int, name: String) -> Span? {
        let bytes = result.sources[span.file].bytes
        guard span.start >= 0, span.end <= bytes.count, span.start < span.end else { return nil }
        var starts = [span.start]
        for i in span.start..<span.end where bytes[i] == UInt8(ascii: ".") { starts.append(i + 1) }
        let k = index < 0 ? starts.count - 1 : index
        guard starts.indices.contains(k) else { return nil }
        let end = k + 1 < starts.count ? starts[k + 1] - 1 : span.end
        let s = Span(file: span.file, start: starts[k], end: end)
        return result.sources[span.file].text(s) == name ? s : nil
    }

    /// An import's alias at `offset`: written after `as`, or a use `alias.name` of it.
    func importAlias(_ m: Int, _ offset: Int) -> Symbol? {
        let file = model.modules[m].file
        func symbol(_ imp: ImportBinding) -> Symbol {
            // No `as`: the alias is implied by the path; its "declaration" is the path.
            Symbol(declaration: location(imp.span), key: model.modules[m].key, name: imp.alias, kind: "import alias", fileLocal: true)
        }
        for imp in model.modules[m].imports.values where imp.declSpan.start <= offset && offset <= imp.declSpan.end {
            return symbol(imp)
        }
        // A use `alias.name`: the checker binds the alias segment alone.
        for b in model.bindings.bindings(file: file, containing: offset) {
            guard case .module = b.binding, let imp = model.modules[m].imports[result.sources[file].text(b.span)] else { continue }
            return symbol(imp)
        }
        return nil
    }
}
