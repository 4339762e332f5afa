import EzflowIDE
import EzflowIR

/// Document symbols, folding ranges, semantic tokens and range formatting: `EzflowIDE`'s
/// values converted to LSP's JSON.
extension LanguageServer {
    /// The check of the document a request names, its path, and the line map its
    /// positions count in; nil when the document is neither open nor readable.
    func document(_ params: JSONValue?) throws(RPCError) -> (Analysis, String, LineMap)? {
        let uri = try (params ?? .null).object("textDocument", in: "params").string("uri", in: "textDocument")
        guard let (a, path) = analysis(uri), let source = a.source(path) else { return nil }
        return (a, path, lineMap(source.key, source.text))
    }

    /// `textDocument/documentSymbol`: the outline as hierarchical `DocumentSymbol`s.
    func documentSymbols(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        guard let (a, path, lines) = try document(params) else { return .null }
        func convert(_ s: DocumentSymbol) -> JSONValue {
            var members: [(String, JSONValue)] = [("name", .string(s.name))]
            if !s.detail.isEmpty { members.append(("detail", .string(s.detail))) }
            members += [("kind", .int(Self.symbolKind(s.kind))),
                        ("range", Self.range(lines, s.range.lowerBound, s.range.upperBound, encoding)),
                        ("selectionRange", Self.range(lines, s.selection.lowerBound, s.selection.upperBound, encoding))]
            if !s.children.isEmpty { members.append(("children", .array(s.children.map(convert)))) }
            return .object(members)
        }
        return .array(a.symbols(path: path).map(convert))
    }

    /// LSP's `SymbolKind` numbers.
    static func symbolKind(_ k: SymbolKind) -> Int64 {
        switch k {
        case .module: 2
        case .namespace: 3
        case .package: 4
        case .class: 5
        case .property: 7
        case .field: 8
        case .enum: 10
        case .interface: 11
        case .function: 12
        case .variable: 13
        case .constant: 14
        case .array: 18
        case .object: 19
        case .enumMember: 22
        case .struct: 23
        case .event: 24
        }
    }

    /// `textDocument/foldingRange`: whole lines (`lineFoldingOnly` or not, no characters).
    func foldingRanges(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        guard let (a, path, _) = try document(params) else { return .null }
        return .array(a.foldingRanges(path: path).map { f in
            var members: [(String, JSONValue)] = [("startLine", .int(Int64(f.startLine))), ("endLine", .int(Int64(f.endLine)))]
            if let k = f.kind { members.append(("kind", .string(k.rawValue))) }
            return .object(members)
        })
    }

    /// The legend announced in `initialize`: the token types and modifiers by index.
    static var semanticTokensLegend: JSONValue {
        .object([("tokenTypes", .array(SemanticTokenType.allCases.map { .string($0.rawValue) })),
                 ("tokenModifiers", .array(SemanticTokenModifiers.names.map { .string($0) }))])
    }

    /// `textDocument/semanticTokens/full` and `/range` (the tokens that overlap the range).
    func semanticTokens(_ params: JSONValue?, range: Bool) throws(RPCError) -> JSONValue {
        let window = range ? try (params ?? .null).object("range", in: "params") : nil
        guard let (a, path, lines) = try document(params) else { return .null }
        var tokens = a.semanticTokens(path: path)
        if let window {
            let (lo, hi) = try TextDocument.range(window, lines, encoding)
            tokens = tokens.filter { $0.end > lo && $0.start < hi }
        }
        return .object([("data", .array(Self.encode(tokens, lines, encoding).map { .int(Int64($0)) }))])
    }

    /// The protocol's relative encoding, five numbers a token: line delta, start (from the
    /// previous token's start on the same line, else from the line's start), length,
    /// type index, modifier bits; characters count in `encoding`. A token over several
    /// lines (a `"""` string) becomes one per line, without the line breaks.
    static func encode(_ tokens: [SemanticToken], _ lines: LineMap, _ encoding: PositionEncoding) -> [Int] {
        let types = SemanticTokenType.allCases
        var out: [Int] = []
        out.reserveCapacity(tokens.count * 5)
        var cursor = PositionCursor(lines: lines, encoding: encoding)
        var line = 0, character = 0
        for t in tokens {
            let type = types.firstIndex(of: t.type)!
            let first = cursor.position(t.start)
            var s = t.start, ps = first
            // One piece per line the token covers, each without its line break.
            while true {
                let e = min(t.end, lines.lineEnd(ps.line))
                let pe = cursor.position(e)
                if e > s {
                    out += [ps.line - line, ps.line == line ? ps.character - character : ps.character,
                            pe.character - ps.character, type, t.modifiers.rawValue]
                    line = ps.line
                    character = ps.character
                }
                guard e < t.end, ps.line + 1 < lines.starts.count else { break }
                s = lines.starts[ps.line + 1]
                ps = cursor.position(s)
            }
        }
        return out
    }

    /// `textDocument/rangeFormatting`: `ezc fmt`'s changes on the requested lines only
    /// (see `Formatting.formatRange`); none when the document does not parse; a printer
    /// that refuses, or edits that would change the meaning, fail the request.
    func rangeFormatting(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        let p = params ?? .null
        let uri = try p.object("textDocument", in: "params").string("uri", in: "textDocument")
        let r = try p.object("range", in: "params")
        guard let d = documents[uri] else { throw .invalidParams("`\(uri)` is not open") }
        // The YAML surface has a printer of its own (`ezc fmt`); the server formats `.ezflow`.
        guard !d.path.hasSuffix(".yaml") else { return .array([]) }
        let lines = d.lines
        let (start, end) = try TextDocument.range(r, lines, encoding)
        switch Formatting.formatRange(d.bytes, path: d.path, start: start, end: end) {
        case .doesNotParse:
            return .array([])
        case .edits(let edits):
            return .array(edits.map { .object([("range", Self.range(lines, $0.start, $0.end, encoding)), ("newText", .string($0.text))]) })
        case .refused(let why):
            throw RPCError(RPCError.requestFailed, "ezc fmt left the lines as they are: \(why)")
        }
    }
}

/// Positions of offsets asked in increasing order, found by walking forward from the last
/// one: a document's tokens cost one pass over its text, not a search and a scan each.
struct PositionCursor {
    let lines: LineMap
    let encoding: PositionEncoding
    var line = 0, offset = 0, character = 0

    init(lines: LineMap, encoding: PositionEncoding) {
        self.lines = lines
        self.encoding = encoding
    }

    mutating func position(_ target: Int) -> Position {
        // Backwards (never for sorted tokens): the map's own search.
        guard target >= offset else { return lines.position(target, encoding) }
        while line + 1 < lines.starts.count, lines.starts[line + 1] <= target {
            line += 1
            offset = lines.starts[line]
            character = 0
        }
        let end = lines.lineEnd(line), stop = min(target, end)
        while offset < stop {
            let (size, width) = LineMap.scalar(lines.bytes, offset, end, encoding)
            if offset + size > stop { break }
            offset += size
            character += width
        }
        return Position(line: line, character: character)
    }
}
