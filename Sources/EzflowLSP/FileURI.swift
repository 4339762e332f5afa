import Foundation

/// `file:` URIs and paths. The compiler keys files by absolute path; the editor names
/// them by URI, percent-encoded.
public enum FileURI {
    /// The path of a `file:` URI (`file:///a/b%20c` → `/a/b c`), or nil for other schemes.
    public static func path(_ uri: String) -> String? {
        var rest: Substring
        if uri.hasPrefix("file://") { rest = uri.dropFirst(7) } else { return nil }
        // An authority, if any: `file://localhost/x`; another host cannot be read here.
        if !rest.hasPrefix("/") {
            guard let slash = rest.firstIndex(of: "/"), rest[..<slash].lowercased() == "localhost" else { return nil }
            rest = rest[slash...]
        }
        guard let decoded = String(rest).removingPercentEncoding, !decoded.isEmpty else { return nil }
        return (decoded as NSString).standardizingPath
    }

    /// The URI of an absolute path: every byte but unreserved characters and `/` percent-encoded.
    public static func uri(_ path: String) -> String {
        var out = "file://"
        for b in path.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
