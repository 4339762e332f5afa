import EzflowCheck
import EzflowCompiler
import EzflowDiagnostics
import EzflowIDE
import EzflowIR
import Foundation

/// The language server's state machine: messages in, messages out, no I/O of its own
/// but reading files the editor has not opened. `StdioTransport` feeds it; tests drive it
/// directly. The features come from `EzflowIDE`; this type only converts.
public final class LanguageServer {
    /// What the server reports as its name and version in `initialize`.
    let version: String
    /// `--stdlib DIR`, or nil for the default search (as `ezc check`).
    let stdlibRoot: String?
    /// Where the server's log lines go (standard error; stdout carries only protocol).
    let log: (String) -> Void

    enum Phase { case starting, running, shuttingDown }
    var phase = Phase.starting
    public private(set) var encoding = PositionEncoding.utf16
    /// Set by `exit`: 0 after `shutdown`, else 1. The transport stops then.
    public private(set) var exitCode: Int32?

    var documents: [String: TextDocument] = [:]
    /// The workspace folders' paths: where references and rename look beyond open files.
    var folders: [String] = []
    /// Documents whose diagnostics must be published after the current batch.
    var stale: Set<String> = []
    /// What was last published per URI, so an unchanged list is not sent again.
    var published: [String: Published] = [:]
    struct Published: Equatable {
        var version: Int
        var list: JSONValue
    }
    /// Checks of the current texts by URI, dropped whenever any text changes (a change
    /// to one file can change what its importers report).
    var analyses: [String: Analysis] = [:]
    /// Line tables of the texts those checks read, by file key: one scan per text, not one
    /// per request or per diagnostic's label (a 10,000-task file is 2.4 MB). Dropped with
    /// `analyses`.
    var lineMaps: [String: LineMap] = [:]
    /// How many checks the server has run: an edit re-checks only what it can change.
    public private(set) var checks = 0
    /// Parses kept across checks: an edit re-parses only the files that changed.
    let parseCache = ParseCache()
    /// Where the stdlib is (found once, as `ezc check` finds it): rename and quick fixes
    /// leave its files alone.
    lazy var stdlibDirectory: String? = Self.stdlibDirectory(stdlibRoot)
    /// The stdlib's modules as an import names them (`std/retry`), listed once: the stdlib
    /// does not change while the server runs, and completion asks on every keystroke.
    lazy var stdlibModules: [String] = stdlibDirectory.map { Self.modules(in: $0).map { "std/" + $0 } } ?? []
    /// The diagnostic codes' reference each diagnostic links to, when it is installed.
    lazy var codeReference: String? = Self.codeReference(stdlibDirectory)

    public init(version: String, stdlibRoot: String? = nil, log: @escaping (String) -> Void = { _ in }) {
        self.version = version
        self.stdlibRoot = stdlibRoot
        self.log = log
    }

    /// The server is done when the client sent `exit`.
    public var finished: Bool { exitCode != nil }
    /// The exit status when the input ends without `exit`: 0 only after `shutdown`.
    public var statusAtEndOfInput: Int32 { exitCode ?? (phase == .shuttingDown ? 0 : 1) }

    /// Handles the messages that arrived together, then publishes the diagnostics of the
    /// documents they changed: one check per document per batch, however many edits
    /// came. A `$/cancelRequest` cancels a request of the same batch not yet answered.
    public func handle(_ bodies: [[UInt8]]) -> [JSONValue] {
        let messages = bodies.map(Incoming.decode)
        var cancelled: Set<RequestID> = []
        for case .success(.notification("$/cancelRequest", let params)) in messages {
            if let id = RequestID(params?["id"]) { cancelled.insert(id) }
        }
        var out: [JSONValue] = []
        for m in messages {
            guard !finished else { break }
            switch m {
            case .failure(let f): out.append(Outgoing.error(f.id, f.error))
            case .success(.request(let id, let method, let params)):
                if cancelled.contains(id) {
                    out.append(Outgoing.error(id, RPCError(RPCError.requestCancelled, "`\(method)` was cancelled")))
                    continue
                }
                do throws(RPCError) {
                    out.append(Outgoing.response(id, try request(method, params)))
                } catch {
                    out.append(Outgoing.error(id, error))
                }
            case .success(.notification(let method, let params)):
                do throws(RPCError) { try notification(method, params) } catch {
                    // A notification has no answer: a bad one is logged and dropped.
                    log("`\(method)`: \(error.message)")
                }
            case .success(.response): break
            }
        }
        if !finished { out += publishDiagnostics() }
        return out
    }

    func request(_ method: String, _ params: JSONValue?) throws(RPCError) -> JSONValue {
        switch (phase, method) {
        case (.starting, "initialize"): return initialize(params)
        case (.starting, _): throw RPCError(RPCError.serverNotInitialized, "the server is not initialized: send `initialize` first")
        case (.running, "initialize"), (.shuttingDown, "initialize"):
            throw RPCError(RPCError.invalidRequest, "`initialize` was already sent")
        case (.shuttingDown, _): throw RPCError(RPCError.invalidRequest, "the server is shutting down: only `exit` is accepted")
        case (.running, "shutdown"):
            phase = .shuttingDown
            return .null
        case (.running, "textDocument/hover"): return try hover(params)
        case (.running, "textDocument/definition"): return try definition(params)
        case (.running, "textDocument/completion"): return try completion(params)
        case (.running, "textDocument/formatting"): return try formatting(params)
        case (.running, "textDocument/diagnostic"): return try pullDiagnostics(params)
        case (.running, "textDocument/references"): return try references(params)
        case (.running, "textDocument/prepareRename"): return try prepareRename(params)
        case (.running, "textDocument/rename"): return try rename(params)
        case (.running, "textDocument/codeAction"): return try codeActions(params)
        case (.running, "textDocument/inlayHint"): return try inlayHints(params)
        case (.running, "textDocument/documentSymbol"): return try documentSymbols(params)
        case (.running, "textDocument/foldingRange"): return try foldingRanges(params)
        case (.running, "textDocument/semanticTokens/full"): return try semanticTokens(params, range: false)
        case (.running, "textDocument/semanticTokens/range"): return try semanticTokens(params, range: true)
        case (.running, "textDocument/rangeFormatting"): return try rangeFormatting(params)
        case (.running, _): throw RPCError(RPCError.methodNotFound, "no method `\(method)`")
        }
    }

    func notification(_ method: String, _ params: JSONValue?) throws(RPCError) {
        if method == "exit" {
            exitCode = phase == .shuttingDown ? 0 : 1
            return
        }
        // Before `initialize` and after `shutdown` notifications are dropped (the spec's rule).
        guard phase == .running else { return }
        switch method {
        case "textDocument/didOpen":
            let doc = try (params ?? .null).object("textDocument", in: "params")
            let d = TextDocument(uri: try doc.string("uri", in: "textDocument"), version: try doc.int("version", in: "textDocument"),
                                 text: try doc.string("text", in: "textDocument"))
            documents[d.uri] = d
            changed(d.uri)
        case "textDocument/didChange":
            let p = params ?? .null
            let doc = try p.object("textDocument", in: "params")
            let uri = try doc.string("uri", in: "textDocument")
            guard var d = documents[uri] else { throw .invalidParams("`\(uri)` is not open") }
            guard let changes = p["contentChanges"]?.arrayValue else { throw .invalidParams("`params.contentChanges` must be an array") }
            // A change that fails leaves the document as it was: never half an edit.
            try d.apply(changes, encoding)
            d.version = doc["version"]?.intValue ?? d.version
            documents[uri] = d
            edited(d.path, uri)
        case "textDocument/didClose":
            let uri = try (params ?? .null).object("textDocument", in: "params").string("uri", in: "textDocument")
            documents[uri] = nil
            changed(uri)
        case "textDocument/didSave":
            // Files on disk may have changed under the open ones (a save elsewhere).
            _ = try (params ?? .null).object("textDocument", in: "params").string("uri", in: "textDocument")
            analyses = [:]
            lineMaps = [:]
            stale.formUnion(documents.keys)
        case "workspace/didChangeWatchedFiles":
            // Files changed on disk (an import, a file of the workspace): check again.
            analyses = [:]
            lineMaps = [:]
            stale.formUnion(documents.keys)
        case "workspace/didChangeWorkspaceFolders":
            try changeFolders(params)
            analyses = [:]
        default: break  // `initialized`, `$/cancelRequest` (read per batch), `$/setTrace`, unknown ones
        }
    }

    /// A document was opened or closed: every open document is checked again (what its
    /// imports resolve to may have changed), and published if its diagnostics differ.
    func changed(_ uri: String) {
        analyses = [:]
        lineMaps = [:]
        stale.insert(uri)
        stale.formUnion(documents.keys)
    }

    /// An open document's text changed: it is checked again, and so are the documents
    /// whose checks read it (they import it); the others keep their checks. Its path was
    /// already open, so every check that imports it read this document's text.
    func edited(_ path: String, _ uri: String) {
        lineMaps = [:]
        stale.insert(uri)
        analyses[uri] = nil
        for (other, a) in analyses where a.source(path) != nil {
            analyses[other] = nil
            stale.insert(other)
        }
    }

    func initialize(_ params: JSONValue?) -> JSONValue {
        let offered = params?["capabilities"]?["general"]?["positionEncodings"]?.arrayValue?.compactMap(\.stringValue)
        encoding = PositionEncoding.negotiate(offered)
        setFolders(params)
        phase = .running
        let sync: JSONValue = .object([("openClose", .bool(true)), ("change", .int(2)),  // 2: incremental
                                       ("save", .object([("includeText", .bool(false))]))])
        let capabilities: JSONValue = .object([
            ("positionEncoding", .string(encoding.rawValue)),
            ("textDocumentSync", sync),
            ("hoverProvider", .bool(true)),
            ("definitionProvider", .bool(true)),
            ("completionProvider", .object([("triggerCharacters", .array([.string(".")]))])),
            ("documentFormattingProvider", .bool(true)),
            ("referencesProvider", .bool(true)),
            ("codeActionProvider", .object([("codeActionKinds", .array([.string("quickfix")]))])),
            ("inlayHintProvider", .bool(true)),
            ("renameProvider", .object([("prepareProvider", .bool(true))])),
            // Pull diagnostics too (3.17): a file's list depends on the files it imports.
            ("diagnosticProvider", .object([("interFileDependencies", .bool(true)), ("workspaceDiagnostics", .bool(false))])),
            ("workspace", .object([("workspaceFolders", .object([("supported", .bool(true)), ("changeNotifications", .bool(true))]))])),
            ("documentSymbolProvider", .bool(true)),
            ("foldingRangeProvider", .bool(true)),
            ("semanticTokensProvider", .object([("legend", Self.semanticTokensLegend), ("range", .bool(true)), ("full", .bool(true))])),
            ("documentRangeFormattingProvider", .bool(true)),
        ])
        return .object([("capabilities", capabilities),
                        ("serverInfo", .object([("name", .string("ezc")), ("version", .string(version))]))])
    }

    /// The check of `uri` as a root, over the open documents' texts (imports that are not
    /// open are read from disk, `std/` from the stdlib as `ezc check` finds it).
    func analysis(_ uri: String) -> (Analysis, String)? {
        let path: String
        if let d = documents[uri] { path = d.path } else {
            guard let p = FileURI.path(uri), FileManager.default.isReadableFile(atPath: p) else { return nil }
            path = p
        }
        if let a = analyses[uri] { return (a, path) }
        var bytes: [String: [UInt8]] = [:]
        for d in documents.values { bytes[d.path] = d.bytes }
        let a = Analysis(Compiler.check(root: path, bytes: bytes, stdlibRoot: stdlibRoot, cache: parseCache))
        checks += 1
        analyses[uri] = a
        return (a, path)
    }

    /// The line table of a checked text (`key` as the check loaded it): the open
    /// document's own when the check read that text, else one made once.
    func lineMap(_ key: String, _ text: SourceFile) -> LineMap {
        let bytes = text.bytes
        // Equal arrays sharing storage compare in O(1): the usual case, the check read the document.
        if let m = lineMaps[key], m.bytes == bytes { return m }
        let m = documents.values.first { $0.path == key && $0.bytes == bytes }?.lines ?? LineMap(bytes)
        lineMaps[key] = m
        return m
    }
}
