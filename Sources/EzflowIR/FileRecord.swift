// A file artifact as the journal holds it (docs/RUNTIME.md, "Files"): what a `file`
// output's value is once the runner has stored the file, `{digest, mode, name, size}`.
// No path of the user's machine is in it, so a journal replays byte for byte anywhere
// and the content-addressed blob it names (`<store>.files/sha256/<2 hex>/<hex>`) is found
// from the digest alone. The core never reads it; the runner, reports and `ezrun files` do.
import CCrypto

/// One stored file: its SHA-256, base name, size in bytes and mode bits as the task left it.
public struct FileRecord: Sendable, Equatable {
    /// `sha256:` + 64 lowercase hex digits.
    public var digest: String
    /// The base name of the path the task reported (`app.tar`).
    public var name: String
    public var size: Int64
    /// Permission bits in octal, four digits (`0755`): the executable bit survives.
    public var mode: String

    public init(digest: String, name: String, size: Int64, mode: String) {
        self.digest = digest
        self.name = name
        self.size = size
        self.mode = mode
    }

    /// The record `v` holds; nil when it is not one (any other value, a malformed digest).
    public init?(_ v: JSONValue) {
        guard case .object(let m) = v, m.count == 4, case .string(let d)? = v["digest"], Self.isDigest(d),
              case .string(let n)? = v["name"], case .int(let s)? = v["size"], s >= 0,
              case .string(let mode)? = v["mode"], Self.modeBits(mode) != nil else { return nil }
        self.init(digest: d, name: n, size: s, mode: mode)
    }

    /// The value the journal holds (canonical key order).
    public var json: JSONValue {
        .object([("digest", .string(digest)), ("mode", .string(mode)), ("name", .string(name)), ("size", .int(size))])
    }

    /// The digest's 64 hex digits.
    public var hex: String { String(digest.dropFirst(Self.prefix.count)) }

    /// Where the blob lives under a files root (`<store>.files`).
    public func blobPath(root: String) -> String {
        root + "/sha256/" + hex.prefix(2) + "/" + hex
    }

    /// The mode as bits (`0o755`).
    public var modeBits: UInt32 { Self.modeBits(mode) ?? 0o644 }

    public static let prefix = "sha256:"

    /// Whether `s` is `sha256:` and 64 lowercase hex digits (nothing that could climb a path).
    public static func isDigest(_ s: String) -> Bool {
        guard s.hasPrefix(prefix) else { return false }
        let hex = s.utf8.dropFirst(prefix.utf8.count)
        return hex.count == 64 && hex.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Whether an IR type string names `file` anywhere (`file`, `file?`, `list[file]`).
    public static func namesFile(_ type: String) -> Bool {
        type.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }).contains("file")
    }

    /// `0755` → 0o755; nil unless four octal digits.
    public static func modeBits(_ s: String) -> UInt32? {
        guard s.utf8.count == 4, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) else { return nil }
        return UInt32(s, radix: 8)
    }

    /// Mode bits written as a record holds them (`0o755` → `0755`).
    public static func modeText(_ bits: UInt32) -> String {
        let s = String(bits & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    /// The record `ezrun simulate` journals for output `output` of task `task`: a digest of
    /// their names (no file is read or written), so the same plan simulates the same journal.
    public static func synthetic(task: String, output: String) -> FileRecord {
        FileRecord(digest: IRDocument.sha256(Array("sim:\(task).\(output)".utf8)), name: output, size: 0, mode: "0644")
    }
}

extension FileRecord {
    /// `value` of type `type` with every file in it (a `file`, `file?` or `list[file]`
    /// output) replaced by `transform` of its record; other values as they are.
    public static func mapFiles(_ value: JSONValue, _ type: OutputType, _ transform: (FileRecord) -> JSONValue) -> JSONValue {
        switch (type, value) {
        case (.file, _): return FileRecord(value).map(transform) ?? value
        case (.optional(let t), _): return mapFiles(value, t, transform)
        case (.list(let t), .array(let items)): return .array(items.map { mapFiles($0, t, transform) })
        default: return value
        }
    }

    /// Every file record in `value` of type `type`, in order.
    public static func records(in value: JSONValue, _ type: OutputType) -> [FileRecord] {
        var out: [FileRecord] = []
        _ = mapFiles(value, type) { r in out.append(r); return .null }
        return out
    }
}

extension OutputType {
    /// Whether a value of this type may hold a file.
    public var holdsFile: Bool {
        switch self {
        case .file: true
        case .optional(let t), .list(let t), .map(let t): t.holdsFile
        case .record(_, let fields): fields.contains { $0.type.holdsFile }
        case .string, .int, .float, .bool, .unit, .json, .enumeration: false
        }
    }
}

/// SHA-256 over bytes fed piece by piece (a stored file is hashed as it is copied, never
/// held whole in memory); libcrypto's, as the IR hash is.
public final class SHA256Stream {
    let context: OpaquePointer?

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        _ = EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    /// `sha256:` + lowercase hex; the stream is spent.
    public func finish() -> String {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        digest.withUnsafeMutableBufferPointer { d in _ = EVP_DigestFinal_ex(context, d.baseAddress, nil) }
        var out = Array(FileRecord.prefix.utf8)
        for b in digest {
            out.append(CanonicalJSON.hex[Int(b >> 4)])
            out.append(CanonicalJSON.hex[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
