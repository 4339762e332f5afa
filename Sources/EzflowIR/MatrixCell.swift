// The one rule for naming a `matrix` cell, shared by the checker's diagnostics and the
// runtime's plan (docs/RUNTIME.md, "matrix"): `test[os=linux,py=3.12]`.

/// Names of `matrix` cells.
public enum MatrixCell {
    /// The most cells one matrix may have (as GitHub Actions).
    public static let cellsMax = 256

    /// `task[axis=value,...]`, axes in declaration order; a value as written (a string
    /// without quotes, an int in decimal, a bool as `true`/`false`).
    public static func name(task: String, axes: [String], values: [JSONValue]) -> String {
        var parts: [String] = []
        for (k, axis) in axes.enumerated() {
            parts.append(axis + "=" + (k < values.count ? text(values[k]) : ""))
        }
        return task + "[" + parts.joined(separator: ",") + "]"
    }

    /// A cell's name from its item record (the IR's `for_each` element of a matrix task).
    public static func name(task: String, axes: [String], item: JSONValue) -> String {
        name(task: task, axes: axes, values: axes.map { item[$0] ?? .null })
    }

    /// A character a value in a cell name cannot hold: the name's own punctuation (two
    /// cells could share one name) or a control character (it would reach the terminal).
    /// The checker refuses such values (E0932).
    public static func breaksName(_ c: Unicode.Scalar) -> Bool {
        ",=[]".unicodeScalars.contains(c) || c.properties.generalCategory == .control
    }

    /// An axis value as a cell name shows it.
    public static func text(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): s
        case .int(let i): String(i)
        case .bool(let b): b ? "true" : "false"
        case .float(let d): String(d)
        case .null: "null"
        case .array, .object, .raw: "?"
        }
    }
}
