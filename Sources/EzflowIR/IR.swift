import CCrypto

/// The IR format version written as `"ezir"`; the runtime accepts only this.
/// Any change to the shape or meaning of a field bumps it (see docs/IR.md).
public let ezirVersion = 1

/// Assembles and hashes IR documents. An IR document is one JSON object: the
/// workflow's fields, `ezir`, `hash` and `source_map`. The hash covers everything
/// except `hash` and `source_map`, so source positions never change it.
public enum IRDocument {
    /// Top-level keys that are not part of the hashed content.
    public static let unhashedKeys: Set<String> = ["hash", "source_map"]

    /// `sha256:` + lowercase hex SHA-256 of `bytes`.
    public static func sha256(_ bytes: [UInt8]) -> String { sha256(bytes, []) }

    /// `sha256:` + lowercase hex SHA-256 of `first` followed by `second` (without joining
    /// them: the journal chain hashes a previous hash and a record this way).
    public static func sha256(_ first: [UInt8], _ second: [UInt8]) -> String {
        let h = SHA256Stream()
        first.withUnsafeBytes { h.update($0) }
        second.withUnsafeBytes { h.update($0) }
        return h.finish()
    }

    /// The content hash of a document's members: the SHA-256 of the canonical bytes of
    /// the object made of every member except `hash` and `source_map`.
    public static func hash(of members: [(String, JSONValue)]) -> String {
        sha256(CanonicalJSON.encode(.object(members.filter { !unhashedKeys.contains($0.0) })))
    }

    /// The canonical bytes of a complete document: `content` (the workflow's fields,
    /// without `ezir`), plus `ezir`, the content hash and `source_map`. Each top-level
    /// member is serialized once; the hashed bytes and the output share the pieces.
    public static func assemble(content: [(String, JSONValue)], sourceMap: JSONValue) -> (bytes: [UInt8], hash: String) {
        precondition(!content.contains { $0.0 == "ezir" || unhashedKeys.contains($0.0) }, "reserved top-level key in content")
        var members = content
        members.append(("ezir", .int(Int64(ezirVersion))))
        members.sort { JSONValue.keyLess($0.0, $1.0) }
        var pieces: [(String, [UInt8])] = []
        pieces.reserveCapacity(members.count + 2)
        for (k, v) in members {
            var b: [UInt8] = []
            CanonicalJSON.writeString(k, into: &b)
            b.append(UInt8(ascii: ":"))
            CanonicalJSON.write(v, into: &b)
            pieces.append((k, b))
        }
        func join(_ ps: [(String, [UInt8])]) -> [UInt8] {
            var out: [UInt8] = [UInt8(ascii: "{")]
            out.reserveCapacity(ps.reduce(2) { $0 + $1.1.count + 1 })
            for (i, p) in ps.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: p.1)
            }
            out.append(UInt8(ascii: "}"))
            return out
        }
        let hash = sha256(join(pieces))
        for (k, v) in [("hash", JSONValue.string(hash)), ("source_map", sourceMap)] {
            var b: [UInt8] = []
            CanonicalJSON.writeString(k, into: &b)
            b.append(UInt8(ascii: ":"))
            CanonicalJSON.write(v, into: &b)
            pieces.append((k, b))
        }
        pieces.sort { JSONValue.keyLess($0.0, $1.0) }
        return (join(pieces), hash)
    }
}
