import EzflowTestSupport
import Foundation
import XCTest

/// The package graph has one truth in three places that must agree: ARCHITECTURE.md's
/// code map ("depends on"), Package.swift's target dependencies, and the `import` lines
/// of each target's sources. Like rust-analyzer's tidy tests, this reads all three.
final class PackageGraphTests: XCTestCase {
    struct Target {
        var kind: String
        var dependencies: Set<String>
        var isTest: Bool { kind == "testTarget" }
        var isSystemLibrary: Bool { kind == "systemLibrary" }
    }

    /// `name → target` from Package.swift; every dependency must be a plain `"Name"`.
    func packageTargets() throws -> [String: Target] {
        let text = try String(contentsOf: Repo.url("Package.swift"), encoding: .utf8)
        let head = try NSRegularExpression(pattern: #"\.(target|executableTarget|testTarget|systemLibrary)\(name: "([A-Za-z0-9_]+)""#)
        let ns = text as NSString
        let matches = head.matches(in: text, range: NSRange(location: 0, length: ns.length))
        var out: [String: Target] = [:]
        for (i, m) in matches.enumerated() {
            let end = i + 1 < matches.count ? matches[i + 1].range.location : ns.length
            let call = ns.substring(with: NSRange(location: m.range.location, length: end - m.range.location))
            var deps: Set<String> = []
            if let open = call.range(of: "dependencies: [") {
                guard let close = call[open.upperBound...].firstIndex(of: "]") else { throw XCTSkip("unreadable Package.swift") }
                for item in call[open.upperBound..<close].split(separator: ",") {
                    let t = item.trimmingCharacters(in: .whitespacesAndNewlines)
                    guard t.count > 2, t.hasPrefix("\""), t.hasSuffix("\""), !t.dropFirst().dropLast().contains("\"") else {
                        XCTFail("Package.swift: dependency `\(t)` of \(ns.substring(with: m.range(at: 2))) is not a plain target name")
                        continue
                    }
                    deps.insert(String(t.dropFirst().dropLast()))
                }
            }
            out[ns.substring(with: m.range(at: 2))] = Target(kind: ns.substring(with: m.range(at: 1)), dependencies: deps)
        }
        return out
    }

    /// `target → depends on` from the ARCHITECTURE.md table with a "depends on" column.
    /// A row may name several targets (they share the cell); `—` means none.
    func architectureTable() throws -> [String: Set<String>] {
        let text = try String(contentsOf: Repo.url("ARCHITECTURE.md"), encoding: .utf8)
        var column: Int? = nil
        var out: [String: Set<String>] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("|") else { column = nil; continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if column == nil {
                column = cells.firstIndex(of: "depends on")
                continue
            }
            guard let c = column, c < cells.count, !cells[0].hasPrefix("---") else { continue }
            for name in Self.backticked(cells[0]) { out[name] = Set(Self.backticked(cells[c])) }
        }
        return out
    }

    static func backticked(_ s: String) -> [String] {
        s.split(separator: "`", omittingEmptySubsequences: false).enumerated().compactMap { $0.offset % 2 == 1 ? String($0.element) : nil }
    }

    /// Package modules imported by the Swift files under `dir`.
    func imports(in dir: String, among names: Set<String>) throws -> Set<String> {
        let line = try NSRegularExpression(pattern: #"^\s*(?:@\w+\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?(\w+)"#,
                                           options: [.anchorsMatchLines])
        var out: Set<String> = []
        for f in Repo.files(in: dir, ext: [".swift"]) {
            let text = try String(contentsOf: Repo.url(f), encoding: .utf8)
            let ns = text as NSString
            for m in line.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                let module = ns.substring(with: m.range(at: 1))
                if names.contains(module) { out.insert(module) }
            }
        }
        return out
    }

    func testEveryTargetImportsExactlyWhatItDeclares() throws {
        let targets = try packageTargets()
        XCTAssertGreaterThan(targets.count, 20, "Package.swift was not read")
        let names = Set(targets.keys)
        for (name, t) in targets.sorted(by: { $0.key < $1.key }) where !t.isSystemLibrary {
            let dir = (t.isTest ? "Tests/" : "Sources/") + name
            let used = try imports(in: dir, among: names)
            XCTAssertFalse(used.isEmpty && !t.dependencies.isEmpty, "\(dir): no sources read")
            let undeclared = used.subtracting(t.dependencies), unused = t.dependencies.subtracting(used)
            XCTAssertTrue(undeclared.isEmpty, "\(name) imports \(undeclared.sorted()) without declaring it in Package.swift")
            XCTAssertTrue(unused.isEmpty, "\(name) declares \(unused.sorted()) in Package.swift but imports none of it")
        }
    }

    func testArchitectureMapMatchesPackageSwift() throws {
        let targets = try packageTargets()
        let map = try architectureTable()
        XCTAssertFalse(map.isEmpty, "ARCHITECTURE.md has no table with a `depends on` column")
        for (name, t) in targets.sorted(by: { $0.key < $1.key }) where !t.isTest {
            guard let deps = map[name] else {
                XCTFail("ARCHITECTURE.md's code map has no row for `\(name)`")
                continue
            }
            XCTAssertEqual(deps, t.dependencies,
                           "`\(name)`: ARCHITECTURE.md says \(deps.sorted()), Package.swift says \(t.dependencies.sorted())")
        }
        for name in map.keys.sorted() where targets[name] == nil || targets[name]!.isTest {
            XCTFail("ARCHITECTURE.md's code map names `\(name)`, which is not a target of Package.swift")
        }
    }

    /// The reader must see drift, not just agree with itself.
    func testTheReadersSeeTheRealGraph() throws {
        let targets = try packageTargets()
        XCTAssertEqual(targets["EzflowRuntime"]?.dependencies, ["EzflowIR", "EzflowUnits"])
        XCTAssertEqual(targets["CSQLite"]?.kind, "systemLibrary")
        XCTAssertEqual(targets["EzflowRunnerTests"]?.isTest, true)
        XCTAssertEqual(try architectureTable()["EzflowRuntime"], ["EzflowIR", "EzflowUnits"])
        XCTAssertEqual(try imports(in: "Sources/EzflowStore", among: ["CSQLite", "EzflowIR", "EzflowCompiler"]), ["CSQLite", "EzflowIR"])
    }
}
