import EzflowCheck
import EzflowDiagnostics
import EzflowSyntax

extension Analysis {
    /// What may be written at `offset` in `path`, filtered by the word being typed:
    /// attribute and block names where a block member starts, declaration keywords at the
    /// top level, the members of `inputs.`, `TASK.outputs.`, `secrets.`, `Enum.` and
    /// `alias.`, and otherwise the names in scope.
    public func completions(path: String, offset: Int) -> [Completion] {
        guard let m = module(path) else { return [] }
        let file = result.sources[model.modules[m].file]
        let line = file.lineText(file.position(of: offset).line)
        let column = Self.byteColumn(file, offset)
        let before = String(decoding: Array(line.utf8).prefix(column), as: UTF8.self)
        let (qualifier, word) = Self.split(before)
        let chain = blocks(m, offset)
        var out: [Completion]
        if let qualifier {
            out = members(m, of: qualifier, chain)
        } else if Self.startsMember(before, word) {
            out = memberNames(Self.enclosing(chain, offset, word))
        } else {
            out = names(m, chain)
        }
        return out.filter { $0.label.hasPrefix(word) }
            .sorted { ($0.label, $0.kind) < ($1.label, $1.kind) }
    }

    /// The block a member typed at `offset` goes in. A word typed on a line of its own
    /// above other members parses as a block header (`ma` with `role: ci` on the next
    /// line reads as a block `ma` named `role`): when the innermost block's kind is the
    /// word being typed, the member goes in the block around it.
    static func enclosing(_ chain: [Block], _ offset: Int, _ word: String) -> Block? {
        guard !word.isEmpty, let last = chain.last, last.kind.span.end == offset else { return chain.last }
        return chain.dropLast().last
    }

    /// Byte offset of `offset` within its line.
    static func byteColumn(_ file: SourceFile, _ offset: Int) -> Int {
        let line = file.position(of: offset).line
        return offset - file.lineStarts[line - 1]
    }

    /// The dotted qualifier before the word being typed (`a.outputs` in `a.outputs.x`) and the word.
    static func split(_ before: String) -> (qualifier: String?, word: String) {
        let ident: (Character) -> Bool = { $0.isLetter || $0.isNumber || $0 == "_" }
        let word = String(before.reversed().prefix(while: ident).reversed())
        let rest = before.dropLast(word.count)
        guard rest.hasSuffix(".") else { return (nil, word) }
        let q = String(rest.dropLast().reversed().prefix { ident($0) || $0 == "." }.reversed())
        return (q.isEmpty ? nil : q, word)
    }

    /// Whether the word starts a block member: only blanks (or `{`) before it on the line.
    static func startsMember(_ before: String, _ word: String) -> Bool {
        before.dropLast(word.count).allSatisfy { $0 == " " || $0 == "\t" || $0 == "{" }
    }

    /// Attributes and nested blocks of the innermost block; declarations at the top level.
    func memberNames(_ block: Block?) -> [Completion] {
        guard let block else { return SchemaInfo.declarations.map { Completion(label: $0, kind: "keyword", detail: "declaration") } }
        let given = Set(block.attributes.map(\.key.text))
        let attrs = SchemaInfo.attributes(of: block.kind.text).filter { !given.contains($0.name) }
            .map { Completion(label: $0.name, kind: "attribute", detail: $0.doc) }
        return attrs + SchemaInfo.blocks(in: block.kind.text).map { Completion(label: $0, kind: "block", detail: "nested `\($0)` block") }
    }

    /// Names an expression or reference may use here.
    func names(_ m: Int, _ chain: [Block]) -> [Completion] {
        var out = model.modules[m].decls.values.map { Completion(label: $0.name.text, kind: $0.kind.noun, detail: "\($0.kind.noun) `\($0.name.text)`") }
        out += model.modules[m].imports.keys.map { Completion(label: $0, kind: "module", detail: "imported module") }
        out += SchemaInfo.functions.map { Completion(label: $0.key, kind: "function", detail: $0.value) }
        if let w = workflow(m), chain.contains(where: { $0.kind.text == "workflow" }) {
            out += w.tasks.map { Completion(label: $0.name.text, kind: "task", detail: "task `\($0.name.text)`") }
            out.append(Completion(label: "inputs", kind: "keyword", detail: "the workflow's inputs"))
            out.append(Completion(label: "secrets", kind: "keyword", detail: "declared secrets (in `run`, `env` and `call` only)"))
        }
        if let task = chain.last(where: { $0.kind.text == "task" }) {
            if task.attribute("for_each") != nil {
                out.append(Completion(label: "item", kind: "keyword", detail: "the element of `for_each`"))
            } else if task.blocks.contains(where: { $0.kind.text == "matrix" }) {
                out.append(Completion(label: "item", kind: "keyword", detail: "this cell of the `matrix`: one field per axis"))
            }
        }
        return out
    }

    /// Members after `qualifier.`: inputs, task outputs, secrets, enum cases, a module's declarations.
    func members(_ m: Int, of qualifier: String, _ chain: [Block]) -> [Completion] {
        let parts = qualifier.split(separator: ".").map(String.init)
        let w = workflow(m)
        if parts == ["inputs"] { return (w?.inputs ?? []).map { Completion(label: $0.name, kind: "input", detail: $0.type.description) } }
        if parts == ["secrets"] {
            return model.modules[m].decls.values.filter { $0.kind == .secret }.map { Completion(label: $0.name.text, kind: "secret", detail: "secret") }
        }
        if let t = w?.tasks.first(where: { $0.name.text == parts[0] }) {
            if parts.count == 1 { return [Completion(label: "outputs", kind: "keyword", detail: "the task's outputs")] }
            return t.outputs.map { Completion(label: $0.key, kind: "output", detail: $0.value.description) }
        }
        var target = m
        var rest = parts[...]
        if let imp = model.modules[m].imports[parts[0]], let tm = imp.module {
            target = tm
            rest = parts.dropFirst()
            if rest.isEmpty {
                return model.modules[tm].decls.values.map { Completion(label: $0.name.text, kind: $0.kind.noun, detail: "\($0.kind.noun) `\($0.name.text)`") }
            }
        }
        if rest.count == 1, let d = model.modules[target].decls[rest.first!], d.kind == .enumeration {
            return d.block.cases.map { Completion(label: $0.text, kind: "case", detail: "case of `\(d.name.text)`") }
        }
        return []
    }
}
