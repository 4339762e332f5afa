/// Renders diagnostics as a SARIF 2.1.0 log, the format code-scanning services (GitHub
/// code scanning among them) read to annotate source.
///
/// One run, one result per diagnostic. The driver lists a rule only for each code that
/// occurs, sorted by code, and each result points at its rule by `ruleIndex`; rules
/// carry the catalogue's title and explanation so a viewer can show `ezc explain` text
/// without running ezc. Columns are Unicode scalars (`columnKind: unicodeCodePoints`),
/// matching `SourceFile.position(of:)`. Relative paths stay relative to `%SRCROOT%`,
/// which the consumer binds to its checkout; absolute paths become `file://` URIs.
/// Output is pretty-printed with sorted keys, so it is byte-for-byte deterministic.
public struct SARIFRenderer: DiagnosticRenderer {
    /// The ezc version recorded as `tool.driver.version`.
    public var toolVersion: String

    public init(toolVersion: String) { self.toolVersion = toolVersion }

    public func render(_ diags: [Diagnostic], sources: SourceMap) -> String {
        let codes = Set(diags.map(\.code)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var ruleIndex: [String: Int] = [:]
        for (i, code) in codes.enumerated() { ruleIndex[code] = i }

        let driver: JSON = [
            "name": "ezc",
            "informationUri": "https://github.com/ezflow/ezflow",
            "version": .string(toolVersion),
            "rules": .array(codes.map(rule)),
        ]
        let run: JSON = [
            "tool": ["driver": driver],
            "columnKind": "unicodeCodePoints",
            "results": .array(diags.map { result($0, ruleIndex: ruleIndex[$0.code]!, sources) }),
        ]
        let log: JSON = [
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [run],
        ]
        return log.serialized(indent: 2) + "\n"
    }

    /// A reporting descriptor for `code`. A code missing from the catalogue (a bug the
    /// catalogue test exists to catch) still gets a rule, so the log stays valid.
    private func rule(_ code: String) -> JSON {
        guard let entry = Catalogue.entries[code] else { return ["id": .string(code)] }
        return [
            "id": .string(code),
            "name": .string(Self.ruleName(entry.title)),
            "shortDescription": ["text": .string(entry.title)],
            "fullDescription": ["text": .string(entry.summary)],
            "help": ["text": .string(entry.explanation)],
            "defaultConfiguration": ["level": .string(Self.level(entry.severity))],
        ]
    }

    private func result(_ d: Diagnostic, ruleIndex: Int, _ sources: SourceMap) -> JSON {
        var text = [d.message]
        text += d.notes.map { "note: \($0)" }
        if let help = d.help { text.append("help: \(help)") }
        var primary = location(d.primary.span, sources)
        if !d.primary.message.isEmpty { primary["message"] = ["text": .string(d.primary.message)] }
        var fields: [String: JSON] = [
            "ruleId": .string(d.code),
            "ruleIndex": .int(ruleIndex),
            "level": .string(Self.level(d.severity)),
            "message": ["text": .string(text.joined(separator: "\n"))],
            "locations": [.object(primary)],
        ]
        if !d.secondary.isEmpty {
            // Ids let a message link to a location (`[here](0)`); they are label indices.
            fields["relatedLocations"] = .array(
                d.secondary.enumerated().map { i, label in
                    var loc = location(label.span, sources)
                    loc["id"] = .int(i)
                    if !label.message.isEmpty { loc["message"] = ["text": .string(label.message)] }
                    return .object(loc)
                })
        }
        if !d.fixes.isEmpty { fields["fixes"] = .array(d.fixes.map { fix($0, sources) }) }
        return .object(fields)
    }

    /// A SARIF `fix`: one `artifactChange` per file touched, each with its replacements.
    private func fix(_ f: Fix, _ sources: SourceMap) -> JSON {
        var files: [Int] = []
        for e in f.edits where !files.contains(e.span.file) { files.append(e.span.file) }
        let changes: [JSON] = files.map { file in
            let edits = f.edits.filter { $0.span.file == file }
            return [
                "artifactLocation": .object(artifact(sources[file].path)),
                "replacements": .array(edits.map { e in
                    let at = sources.resolve(e.span)
                    return [
                        "deletedRegion": [
                            "startLine": .int(at.line), "startColumn": .int(at.column),
                            "endLine": .int(at.endLine), "endColumn": .int(at.endColumn),
                        ],
                        "insertedContent": ["text": .string(e.replacement)],
                    ]
                }),
            ]
        }
        return ["description": ["text": .string(f.title)], "artifactChanges": .array(changes)]
    }

    private func artifact(_ path: String) -> [String: JSON] {
        var artifact: [String: JSON] = ["uri": .string(Self.uri(path))]
        if !path.hasPrefix("/") { artifact["uriBaseId"] = "%SRCROOT%" }
        return artifact
    }

    private func location(_ span: Span, _ sources: SourceMap) -> [String: JSON] {
        let at = sources.resolve(span)
        return [
            "physicalLocation": [
                "artifactLocation": .object(artifact(at.path)),
                "region": [
                    "startLine": .int(at.line),
                    "startColumn": .int(at.column),
                    "endLine": .int(at.endLine),
                    "endColumn": .int(at.endColumn),
                ],
            ]
        ]
    }

    static func level(_ severity: Severity) -> String {
        switch severity {
        case .error: "error"
        case .warning: "warning"
        case .note: "note"
        }
    }

    /// SARIF's `name`: an identifier-like form of the title, e.g. "dependency cycle" →
    /// "DependencyCycle". Parenthesised asides in titles are examples, not the name.
    static func ruleName(_ title: String) -> String {
        var plain = ""
        var depth = 0
        for c in title {
            switch c {
            case "(": depth += 1
            case ")": depth = max(0, depth - 1)
            default: if depth == 0 { plain.append(c) }
            }
        }
        return plain.split(whereSeparator: { !($0.isASCII && ($0.isLetter || $0.isNumber)) })
            .map { $0.prefix(1).uppercased() + $0.dropFirst() }
            .joined()
    }

    /// A path as a URI reference. Relative paths stay relative (minus a leading `./`, which
    /// some consumers do not resolve); absolute ones become `file://` URIs. Everything
    /// outside RFC 3986's path characters is percent-encoded, and so is `:` in relative
    /// paths, which would otherwise read as a scheme (`c:x.ezflow`).
    static func uri(_ path: String) -> String {
        var p = Substring(path)
        let absolute = p.hasPrefix("/")
        while p.hasPrefix("./") { p = p.dropFirst(2).drop(while: { $0 == "/" }) }
        var out = absolute ? "file://" : ""
        let hex = Array("0123456789ABCDEF")
        for b in p.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "/"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"),
                UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
                UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "@"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: ":") where absolute:
                out.append(":")
            default:
                out += "%\(hex[Int(b >> 4)])\(hex[Int(b & 0xF)])"
            }
        }
        return out
    }
}
