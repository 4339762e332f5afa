/// Position markers in test sources, in the style of swift-syntax's tests: a source
/// written with `1️⃣`, `2️⃣`, ... where positions matter, and the byte offset of each
/// marker in the source with the markers removed.
public struct Marked: Sendable {
    /// The source without its markers.
    public var text: String
    /// Marker → byte offset in `text` (UTF-8).
    public var offsets: [String: Int]

    public init(_ source: String) {
        var text = ""
        var offsets: [String: Int] = [:]
        for ch in source {
            if Self.markers.contains(ch) {
                offsets[String(ch)] = text.utf8.count
            } else {
                text.append(ch)
            }
        }
        self.text = text
        self.offsets = offsets
    }

    /// The offset of `marker`; traps when the test source lacks it (a broken test).
    public subscript(_ marker: String) -> Int {
        guard let o = offsets[marker] else { preconditionFailure("no marker \(marker) in the test source") }
        return o
    }

    static let markers: Set<Character> = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟"]
}
