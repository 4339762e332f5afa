import EzflowDiagnostics
import EzflowIDE
import EzflowIR
import Foundation

/// The requests answered by `EzflowIDE`, converted: positions to byte offsets and back,
/// plain values to LSP's JSON.
extension LanguageServer {
    /// `TextDocumentPositionParams`: the document's check, its path and the byte offset.
    func at(_ params: JSONValue?) throws(RPCError) -> (Analysis, String, Int)? {
        let p = params ?? .null
        let uri = try p.object("textDocument", in: "params").string("uri", in: "textDocument")
        let pos = try TextDocument.position(p.object("position", in: "params"), "position")
        guard let (analysis, path) = analysis(uri), let source = analysis.source(path) else { return nil }
        return (analysis, path, lineMap(source.key, source.text).offset(pos, encoding))
    }

    func hover(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        guard let (a, path, offset) = try at(params), let h = a.hover(path: path, offset: offset) else { return .null }
        var text = "```ezflow\n" + h.title + (h.type.map { ": \($0)" } ?? "") + "\n```"
        if !h.doc.isEmpty { text += "\n\n" + h.doc }
        var members: [(String, JSONValue)] = [("contents", .object([("kind", .string("markdown")), ("value", .string(text))]))]
        if let r = range(h.range, a) { members.append(("range", r)) }
        return .object(members)
    }

    func definition(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        guard let (a, path, offset) = try at(params), let l = a.definition(path: path, offset: offset),
              let loc = location(l, a) else { return .null }
        return loc
    }

    func completion(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        guard let (a, path, offset) = try at(params), let source = a.source(path) else { return .array([]) }
        let lines = lineMap(source.key, source.text)
        return .array(a.completions(path: path, offset: offset, modules: importable(from: path)).map { c in
            var item: [(String, JSONValue)] = [("label", .string(c.label)), ("kind", .int(Self.completionKind(c.kind))), ("detail", .string(c.detail))]
            if let start = c.replaceStart {
                item.append(("textEdit", .object([("range", Self.range(lines, start, offset, encoding)), ("newText", .string(c.label))])))
            }
            return .object(item)
        })
    }

    /// What an import in the file `path` may name: the stdlib's modules (`std/NAME`) and
    /// the `.ezflow` files beside it (without the extension).
    func importable(from path: String) -> [String] {
        var out = stdlibModules
        let own = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        if path.hasPrefix("/") { out += Self.modules(in: (path as NSString).deletingLastPathComponent).filter { $0 != own } }
        return out
    }

    /// The `.ezflow` files of `dir`, without the extension (as an import names them).
    static func modules(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".ezflow") }.map { String($0.dropLast(7)) }
    }

    /// `textDocument/formatting`: `ezc fmt`'s text as one edit of the whole document (none
    /// when it is formatted already or does not parse: its diagnostics say why); a printer
    /// that would change the meaning refuses, and the document is left alone.
    func formatting(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        let uri = try (params ?? .null).object("textDocument", in: "params").string("uri", in: "textDocument")
        guard let d = documents[uri] else { throw .invalidParams("`\(uri)` is not open") }
        // The YAML surface has a printer of its own (`ezc fmt`); the server formats `.ezflow`.
        guard !d.path.hasSuffix(".yaml") else { return .array([]) }
        switch Formatting.format(d.bytes, path: d.path) {
        case .doesNotParse:
            return .array([])
        case .text(let t) where Array(t.utf8) == d.bytes:
            return .array([])
        case .text(let t):
            return .array([.object([("range", Self.range(d.lines, 0, d.bytes.count, encoding)), ("newText", .string(t))])])
        case .refused(let why):
            throw RPCError(RPCError.requestFailed, "ezc fmt left the file as it is: \(why)")
        }
    }

    /// `textDocument/diagnostic` (pull): the same list as the one published.
    func pullDiagnostics(_ params: JSONValue?) throws(RPCError) -> JSONValue {
        let uri = try (params ?? .null).object("textDocument", in: "params").string("uri", in: "textDocument")
        return .object([("kind", .string("full")), ("items", .array(diagnostics(uri)))])
    }

    /// LSP's `CompletionItemKind` for `EzflowIDE`'s kinds (declaration nouns among them).
    static func completionKind(_ kind: String) -> Int64 {
        switch kind {
        case "attribute": 10       // Property
        case "block", "type": 22   // Struct
        case "keyword": 14
        case "task", "function", "workflow", "group": 3  // Function
        case "input": 6            // Variable
        case "output": 5           // Field
        case "secret": 21          // Constant
        case "module": 9
        case "unit": 11            // Unit
        case "case": 20            // EnumMember
        case "enum": 13
        case "agent", "role", "policy", "retry", "error class": 7  // Class
        default: 1                 // Text
        }
    }

    /// A `Location` of the check as an LSP `Location` (URI and range), nil when its file
    /// is not one the check read.
    func location(_ l: Location, _ a: Analysis) -> JSONValue? {
        guard let source = a.source(l.path), let r = range(l, a) else { return nil }
        let uri = documents.values.first { $0.path == source.key }?.uri ?? FileURI.uri(source.key)
        return .object([("uri", .string(uri)), ("range", r)])
    }

    func range(_ l: Location, _ a: Analysis) -> JSONValue? {
        guard let source = a.source(l.path) else { return nil }
        return Self.range(lineMap(source.key, source.text), l.start, l.end, encoding)
    }

    static func range(_ lines: LineMap, _ start: Int, _ end: Int, _ encoding: PositionEncoding) -> JSONValue {
        func pos(_ p: Position) -> JSONValue { .object([("line", .int(Int64(p.line))), ("character", .int(Int64(p.character)))]) }
        return .object([("start", pos(lines.position(start, encoding))), ("end", pos(lines.position(end, encoding)))])
    }

    /// `textDocument/publishDiagnostics` for each stale document whose version or list
    /// changed; a closed document gets an empty list (its problems leave with it).
    func publishDiagnostics() -> [JSONValue] {
        defer { stale = [] }
        var out: [JSONValue] = []
        for uri in stale.sorted() {
            let now: Published?
            if let d = documents[uri] { now = Published(version: d.version, list: .array(diagnostics(uri))) } else { now = nil }
            guard now != published[uri] else { continue }
            published[uri] = now
            var params: [(String, JSONValue)] = [("uri", .string(uri))]
            if let now { params.append(("version", .int(Int64(now.version)))) }
            params.append(("diagnostics", now?.list ?? .array([])))
            out.append(Outgoing.notification("textDocument/publishDiagnostics", .object(params)))
        }
        return out
    }

    /// The diagnostics of one open document as LSP `Diagnostic`s: same code, the message
    /// with its help, labels elsewhere and notes as related information.
    func diagnostics(_ uri: String) -> [JSONValue] {
        guard let (a, path) = analysis(uri), let source = a.source(path) else { return [] }
        let lines = lineMap(source.key, source.text)
        return a.diagnostics(in: path).map { diagnostic($0, uri, lines, a) }
    }

    /// One diagnostic of the document `uri` (whose lines are `lines`) as LSP's `Diagnostic`.
    func diagnostic(_ d: Diagnostic, _ uri: String, _ lines: LineMap, _ a: Analysis) -> JSONValue {
        var message = d.message
        if !d.primary.message.isEmpty, d.primary.message != d.message { message += "\n" + d.primary.message }
        if let help = d.help { message += "\nhelp: " + help }
        var related: [JSONValue] = []
        for label in d.secondary {
            let file = a.result.sources[label.span.file].path
            if let loc = location(Location(path: file, start: label.span.start, end: label.span.end), a) {
                related.append(.object([("location", loc), ("message", .string(label.message.isEmpty ? "related" : label.message))]))
            }
        }
        let here = JSONValue.object([("uri", .string(uri)), ("range", Self.range(lines, d.primary.span.start, d.primary.span.end, encoding))])
        for note in d.notes { related.append(.object([("location", here), ("message", .string("note: " + note))])) }
        var members: [(String, JSONValue)] = [
            ("range", Self.range(lines, d.primary.span.start, d.primary.span.end, encoding)),
            ("severity", .int(Self.severity(d.severity))),
            ("code", .string(d.code)),
        ] + (codeReference.map { [("codeDescription", .object([("href", .string($0 + "#" + d.code))]))] } ?? []) + [
            ("source", .string("ezc")),
            ("message", .string(message)),
        ]
        if !related.isEmpty { members.append(("relatedInformation", .array(related))) }
        return .object(members)
    }

    static func severity(_ s: Severity) -> Int64 {
        switch s {
        case .error: 1
        case .warning: 2
        case .note: 3
        }
    }
}
