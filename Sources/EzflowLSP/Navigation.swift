import EzflowCompiler
import EzflowIDE
import EzflowIR
import Foundation

/// References and rename, searched across every root (the open documents and the
/// workspace's files): a declaration's uses are in the files that import it, which its
/// own check never reads.
extension LanguageServer {
    func references(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        guard let (a, path, offset) = try at(params), let symbol = a.symbol(path: path, offset: offset) else { return .null }
        let withDeclaration = params?["context"]?["includeDeclaration"]?.boolValue ?? true
        let (found, complete) = uses(of: symbol, includeDeclaration: withDeclaration)
        if !complete {
            log("references of `\(symbol.name)`: the workspace has more than \(Self.workspaceFileLimit) ezflow files; the list may miss some")
        }
        return .array(found)
    }

    /// `textDocument/prepareRename`: the range of the name under the cursor and its text,
    /// or an error saying why it cannot be renamed (the editor shows it).
    func prepareRename(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        guard let (a, path, offset) = try at(params), let target = a.renameTarget(path: path, offset: offset) else { return .null }
        switch target {
        case .refused(let why): throw RPCError(RPCError.requestFailed, why)
        case .symbol(let s, let l):
            if let why = refusal(s) { throw RPCError(RPCError.requestFailed, why) }
            guard let r = range(l, a) else { return .null }
            return .object([("range", r), ("placeholder", .string(s.name))])
        }
    }

    /// `textDocument/rename`: a `WorkspaceEdit` renaming every use in every root, refused
    /// (with the reason) when the new name is not a name, or when the renamed files would
    /// check with a problem they did not have: a clash, a keyword, a shadowed built-in.
    func rename(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        let newName = try (params ?? .null).string("newName", in: "params")
        guard let (a, path, offset) = try at(params), let target = a.renameTarget(path: path, offset: offset) else {
            throw RPCError(RPCError.requestFailed, "there is nothing to rename here")
        }
        guard case .symbol(let symbol, _) = target else {
            if case .refused(let why) = target { throw RPCError(RPCError.requestFailed, why) }
            return .null
        }
        if let why = refusal(symbol) { throw RPCError(RPCError.requestFailed, why) }
        guard Analysis.isName(newName) else {
            throw RPCError(RPCError.requestFailed, "`\(newName)` is not a name: use letters, digits and `_`, starting with a letter or `_`")
        }
        guard newName != symbol.name else { return .object([("changes", .object([]))]) }
        // Edits by file key, each once (two roots reading the same file find the same uses).
        var edits: [String: Set<FileEdit>] = [:]
        var checked: [String] = []
        let (roots, complete) = searchRoots(mentioning: symbol.name)
        guard complete else {
            throw RPCError(RPCError.requestFailed, "the workspace folders hold more than \(Self.workspaceFileLimit) ezflow files: "
                           + "a rename could miss uses in the others; open a smaller folder")
        }
        for rootURI in roots {
            guard let (root, _) = analysis(rootURI) else { continue }
            let found = root.renameEdits(symbol, to: newName)
            guard !found.isEmpty else { continue }
            checked.append(rootURI)
            for e in found {
                guard let key = root.source(e.range.path)?.key else { continue }
                edits[key, default: []].insert(FileEdit(range: Location(path: key, start: e.range.start, end: e.range.end), newText: e.newText))
            }
        }
        if let why = breaks(edits, roots: checked, symbol, newName) { throw RPCError(RPCError.requestFailed, why) }
        var changes: [(String, JSONValue)] = []
        for key in edits.keys.sorted() {
            let lines = LineMap(text(key) ?? [])
            let list = edits[key]!.sorted { $0.range.start < $1.range.start }.map { e -> JSONValue in
                .object([("range", Self.range(lines, e.range.start, e.range.end, encoding)), ("newText", .string(e.newText))])
            }
            changes.append((uri(ofKey: key), .array(list)))
        }
        return .object([("changes", .object(changes))])
    }

    /// Every use of `symbol` in every root, each once, sorted by URI and position.
    func uses(of symbol: Symbol, includeDeclaration: Bool) -> (locations: [JSONValue], complete: Bool) {
        var found: [FoundLocation: JSONValue] = [:]
        let (roots, complete) = searchRoots(mentioning: symbol.name)
        for root in roots {
            guard let (a, _) = analysis(root) else { continue }
            for l in a.references(to: symbol, includeDeclaration: includeDeclaration) {
                guard let key = a.source(l.path)?.key, let r = range(l, a) else { continue }
                found[FoundLocation(uri: uri(ofKey: key), start: l.start, end: l.end)] = r
            }
        }
        let sorted = found.keys.sorted { ($0.uri, $0.start) < ($1.uri, $1.start) }.map { l -> JSONValue in
            .object([("uri", .string(l.uri)), ("range", found[l]!)])
        }
        return (sorted, complete)
    }

    /// Why a symbol may not be renamed from here: it is declared in the stdlib, which
    /// belongs to the installation, not to the workspace.
    func refusal(_ s: Symbol) -> String? {
        guard let std = stdlibDirectory, s.key.hasPrefix(std) else { return nil }
        return "`\(s.name)` is declared in the standard library (\(s.declaration.path)), which a rename does not edit"
    }

    /// The stdlib's directory as `ezc check` finds it, ending in `/`.
    static func stdlibDirectory(_ flag: String?) -> String? {
        StdlibLocator.find(flag: flag).root.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
    }

    /// The `file:` URI of the diagnostic codes' reference beside the stdlib: installed
    /// (share/ezflow/doc/DIAGNOSTICS.md) or in the source tree (docs/DIAGNOSTICS.md).
    static func codeReference(_ stdlib: String?) -> String? {
        guard let stdlib else { return nil }
        let parent = (String(stdlib.dropLast()) as NSString).deletingLastPathComponent
        return ["doc/DIAGNOSTICS.md", "docs/DIAGNOSTICS.md"].lazy.map { parent + "/" + $0 }
            .first { FileManager.default.isReadableFile(atPath: $0) }.map(FileURI.uri)
    }

    /// Applies the edits in memory and checks each root again: the first diagnostic the
    /// rename would add, as a refusal; nil when the files check as well as before.
    func breaks(_ edits: [String: Set<FileEdit>], roots: [String], _ symbol: Symbol, _ newName: String) -> String? {
        var bytes: [String: [UInt8]] = [:]
        for d in documents.values { bytes[d.path] = d.bytes }
        for (key, list) in edits {
            guard var b = text(key) else { return "cannot read `\(key)`" }
            for e in list.sorted(by: { $0.range.start > $1.range.start }) {
                guard e.range.start <= e.range.end, e.range.end <= b.count else { return "`\(key)` changed while renaming" }
                b.replaceSubrange(e.range.start..<e.range.end, with: Array(e.newText.utf8))
            }
            bytes[key] = b
        }
        for root in roots {
            guard let (before, path) = analysis(root) else { continue }
            let after = Compiler.check(root: path, bytes: bytes, stdlibRoot: stdlibRoot, cache: parseCache)
            // A problem the file already had reads with the new name after the rename.
            let old = Set(before.result.diagnostics.map {
                "\($0.code) \($0.message)".replacingOccurrences(of: "`\(symbol.name)`", with: "`\(newName)`")
            })
            if let d = after.diagnostics.first(where: { $0.severity == .error && !old.contains("\($0.code) \($0.message)") }) {
                return "renaming \(symbol.kind) `\(symbol.name)` to `\(newName)` would make \(d.code): \(d.message)"
            }
        }
        return nil
    }

    /// A file's text: the open document's, else the file on disk.
    func text(_ key: String) -> [UInt8]? {
        if let d = documents.values.first(where: { $0.path == key }) { return d.bytes }
        return FileManager.default.contents(atPath: key).map { [UInt8]($0) }
    }

    /// The URI an edit or location in the file `key` goes to: the open document's own URI
    /// (as the editor spelled it), else the file's.
    func uri(ofKey key: String) -> String {
        documents.values.first { $0.path == key }?.uri ?? FileURI.uri(key)
    }
}

/// Where a use was found, for de-duplication and sorting.
struct FoundLocation: Hashable {
    var uri: String
    var start: Int
    var end: Int
}
