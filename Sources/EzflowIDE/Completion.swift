import EzflowCheck
import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits

extension Analysis {
    /// What may be written at `offset` in `path`, filtered by the word being typed:
    /// attribute and block names where a block member starts, declaration keywords at the
    /// top level, the members of `inputs.`, `TASK.outputs.`, `secrets.`, `Enum.` and
    /// `alias.`, the words, names or enum cases an attribute's value takes, units after a
    /// number, and otherwise the names in scope.
    ///
    /// Inside an `import` string, `modules` are the paths offered (`std/retry`, `lib`): the
    /// caller lists the stdlib and the importer's directory.
    public func completions(path: String, offset: Int, modules: [String] = []) -> [Completion] {
        guard let m = module(path) else { return [] }
        let file = result.sources[model.modules[m].file]
        let line = file.lineText(file.position(of: offset).line)
        let column = Self.byteColumn(file, offset)
        let before = String(decoding: Array(line.utf8).prefix(column), as: UTF8.self)
        let (qualifier, word) = Self.split(before)
        var chain = blocks(m, offset)
        // The word being typed may have parsed as a block's kind (`ti` above `run: …`
        // reads as a block `ti run`): the context is then the block around it.
        if let last = chain.last, last.kind.span.start <= offset, offset <= last.kind.span.end { chain.removeLast() }
        var out: [Completion]
        if let typed = Self.importPath(before) {
            // Inside `import "…`: the paths the caller found (stdlib modules, files beside this one).
            return modules.filter { $0.hasPrefix(typed) }.sorted().map {
                Completion(label: $0, kind: "module", detail: $0.hasPrefix("std/") ? "standard library module" : "a file beside this one",
                           replaceStart: offset - typed.utf8.count)
            }
        } else if let qualifier {
            out = members(m, of: qualifier, chain)
            // `retry: lib.` lists only what the attribute can name (retry rules, not agents).
            let head = String(before.dropLast(word.count + qualifier.count + 1))
            if let key = Self.valueOf(head, ""), let block = chain.last, case .names(let kinds)? = attribute(key, of: block)?.values {
                out = out.filter { c in kinds.contains { $0.noun == c.kind } }
            }
        } else if let first = word.unicodeScalars.first, ("0"..."9").contains(first) {
            out = units(word, Self.valueOf(before, word).flatMap { key in chain.last.flatMap { attribute(key, of: $0) } })
        } else if Self.startsMember(before, word) {
            out = memberNames(chain.last)
        } else if let key = Self.valueOf(before, word), let block = chain.last, let a = attribute(key, of: block),
                  let values = values(m, a.values) {
            out = values
        } else {
            out = names(m, chain)
        }
        return out.filter { $0.label.hasPrefix(word) }
            .map { var c = $0; if c.kind == "unit" { c.replaceStart = offset - word.utf8.count }; return c }
            .sorted { ($0.label, $0.kind) < ($1.label, $1.kind) }
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

    /// The attribute whose value (or list element) is being typed: `driver` in
    /// `driver: e`, `on` in `on: [timeout, t`; nil elsewhere.
    static func valueOf(_ before: String, _ word: String) -> String? {
        var rest = Substring(before.dropLast(word.count))
        while rest.last == " " || rest.last == "\t" { rest.removeLast() }
        if rest.last == "[" || rest.last == "," {
            guard let open = rest.lastIndex(of: "["), !rest[open...].contains("]") else { return nil }
            rest = rest[..<open]
            while rest.last == " " || rest.last == "\t" { rest.removeLast() }
        }
        guard rest.last == ":" else { return nil }
        rest.removeLast()
        while rest.last == " " { rest.removeLast() }
        let key = rest.reversed().prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return key.isEmpty ? nil : String(key.reversed())
    }

    /// The text typed so far inside an `import "…` string, or nil outside one.
    static func importPath(_ before: String) -> String? {
        guard let m = before.wholeMatch(of: /\s*import\s+"([^"]*)/) else { return nil }
        return String(m.1)
    }

    func attribute(_ key: String, of block: Block) -> SchemaInfo.Attribute? {
        SchemaInfo.attributes(of: block.kind.text).first { $0.name == key }
    }

    /// Bare words, or the declarations of the kinds an attribute names (built-in error
    /// classes too, for `on:`); nil for an expression, whose names are the usual ones.
    func values(_ m: Int, _ v: SchemaInfo.Values) -> [Completion]? {
        switch v {
        case .words(let ws): return ws.map { Completion(label: $0, kind: "keyword", detail: "one of: " + ws.joined(separator: ", ")) }
        case .names(let kinds):
            var out = model.modules[m].decls.values.filter { kinds.contains($0.kind) }
                .map { Completion(label: $0.name.text, kind: $0.kind.noun, detail: "\($0.kind.noun) `\($0.name.text)`") }
            // `alias.name` for what an import declares: the alias, then members after `.`.
            for (alias, imp) in model.modules[m].imports {
                guard let tm = imp.module, model.modules[tm].decls.values.contains(where: { kinds.contains($0.kind) }) else { continue }
                out.append(Completion(label: alias, kind: "module", detail: "imported module"))
            }
            if kinds.contains(.error) {
                out += SchemaInfo.builtinErrorClasses.map { Completion(label: $0, kind: "error class", detail: "built-in error class") }
            }
            return out
        case .type(let t):
            if case .enumeration(let e) = t {
                return e.cases.map { Completion(label: "\(e.name).\($0)", kind: "case", detail: "case of `\(e.name)`") }
            }
            return nil
        case .other: return nil
        }
    }

    /// A number being typed, completed with the units its attribute takes (`5` → `5m`,
    /// `5s`, …; `200` → `200k tokens`); every unit when the attribute is not known.
    func units(_ number: String, _ a: SchemaInfo.Attribute?) -> [Completion] {
        let digits = String(number.prefix { $0.isNumber || $0 == "_" || $0 == "." })
        var type: Ty?
        if case .type(let t)? = a?.values { type = t }
        var out: [Completion] = []
        if type == nil || type == .duration {
            out += Units.durationUnits.map { Completion(label: digits + $0.suffix, kind: "unit", detail: "duration") }
        }
        if type == nil || type == .tokens {
            out.append(Completion(label: digits + " tokens", kind: "unit", detail: "tokens"))
            out += Units.tokenMagnitudes.map { Completion(label: digits + $0.suffix + " tokens", kind: "unit", detail: "tokens") }
        }
        return out
    }

    /// Whether the word starts a block member: only blanks (or `{`) before it on the line.
    static func startsMember(_ before: String, _ word: String) -> Bool {
        before.dropLast(word.count).allSatisfy { $0 == " " || $0 == "\t" || $0 == "{" }
    }

    /// Attributes and nested blocks of the innermost block; declarations at the top level.
    func memberNames(_ block: Block?) -> [Completion] {
        guard let block else {
            return SchemaInfo.declarations.map { Completion(label: $0, kind: "keyword", detail: "declaration") }
                + [Completion(label: "import", kind: "keyword", detail: "import \"std/NAME\" or a file: its declarations as `NAME.x`")]
        }
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
