import EzflowCLI
import EzflowDiagnostics
import EzflowSyntax
import EzflowUnits
import EzflowYAML
import Foundation

/// `ezc fmt [--check] FILE...` and `ezc fmt -` (stdin to stdout).
///
/// Exit codes: 0 nothing to do (or all written), 1 a file has syntax errors (it is left
/// untouched and its diagnostics go to stderr) or, under `--check`, a file would change;
/// 2 usage or I/O error, or the formatter's own pair check failed (see
/// `Formatter.reformat`), in which case nothing is written.
enum FmtCommand {
    static func run(_ inv: Invocation) -> Int32 {
        let check = inv.has("--check"), output = inv.value("--output"), files = inv.positional
        let target = inv.value("--to").flatMap(Surface.init(rawValue:))
        if let target {
            guard files.count == 1 else { EzcCommand.tool.usageFailure(inv, "`--to` converts one file at a time") }
            guard !check else { EzcCommand.tool.usageFailure(inv, "`--to` writes a converted file; it takes no `--check`") }
            return convert(files[0], to: target, output: output)
        }
        if output != nil { EzcCommand.tool.usageFailure(inv, "`-o` is only for `--to`") }
        if files.contains("-") && files.count > 1 { EzcCommand.tool.usageFailure(inv, "`fmt -` reads standard input and takes no other files") }

        var status: Int32 = 0
        func worst(_ s: Int32) { status = max(status, s) }
        for path in files {
            if path == "-" {
                worst(formatStdin(check: check))
                continue
            }
            worst(formatFile(path, check: check))
        }
        return status
    }

    static func stderr(_ s: String) { Console.err(s) }

    static func ioError(_ message: String) -> Int32 {
        stderr("ezc: error: \(message)\n")
        return 2
    }

    /// Formats one source; prints diagnostics or the internal error. Returns the new text
    /// or an exit status.
    static func reformat(_ source: SourceFile) -> Result<String, ExitStatus> {
        switch Formatter.reformat(source) {
        case .formatted(let text):
            return .success(text)
        case .syntaxErrors(let diags):
            printDiagnostics(diags, source)
            return .failure(ExitStatus(code: 1))
        case .unsafe(let reason):
            stderr("ezc: internal error: not formatting `\(source.path)`: \(reason); the file is left unchanged (please report this)\n")
            return .failure(ExitStatus(code: 2))
        }
    }

    struct ExitStatus: Error { var code: Int32 }

    static func formatStdin(check: Bool) -> Int32 {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        let source = SourceFile(path: "<stdin>", bytes: [UInt8](data))
        switch reformat(source) {
        case .failure(let e): return e.code
        case .success(let text):
            if check {
                if Array(text.utf8) == source.bytes { return 0 }
                Console.out("would reformat <stdin>" + "\n")
                return 1
            }
            Console.out(text)
            return 0
        }
    }

    /// The two surfaces of the language.
    enum Surface: String {
        case yaml, ezflow

        static func of(_ path: String) -> Surface {
            path.hasSuffix(".yaml") || path.hasSuffix(".yml") ? .yaml : .ezflow
        }

        func parse(_ source: SourceFile) -> (SyntaxTree, [Diagnostic]) {
            self == .yaml ? YAMLSurface.parse(source, file: 0) : Parser.parse(source, file: 0)
        }

        func print(_ tree: SyntaxTree, _ source: SourceFile) -> String {
            self == .yaml ? YAMLSurface.print(tree, source: source) : Formatter.format(tree, source: source)
        }
    }

    /// Prints a file in one surface or the other. The result is parsed back and must give
    /// the same tree (by value), so a conversion never changes meaning or the IR hash.
    /// YAML has no comments in libyaml's event stream, so converting to or from YAML
    /// drops comments (said on stderr when it happens).
    static func convert(_ path: String, to target: Surface, output: String?) -> Int32 {
        guard let data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: path) else {
            return ioError("cannot read `\(path)`: no such file")
        }
        let from = Surface.of(path)
        let source = SourceFile(path: path, bytes: [UInt8](data))
        let (tree, diags) = from.parse(source)
        if diags.contains(where: { $0.severity == .error }) {
            printDiagnostics(diags, source)
            return 1
        }
        let text = target.print(tree, source)
        let (again, diags2) = target.parse(SourceFile(path: "converted." + (target == .yaml ? "ezflow.yaml" : "ezflow"), text: text))
        // Across surfaces the trees are compared as YAML can keep them: a task's several
        // `retry` rules become one sequence where the first stood (`YAMLSurface.difference`).
        let same = from == target ? TreeDump.dump(again) == TreeDump.dump(tree) : YAMLSurface.difference(tree, again) == nil
        if diags2.contains(where: { $0.severity == .error }) || !same {
            stderr("ezc: internal error: converting `\(path)` to \(target.rawValue) does not round-trip; nothing written (please report this)\n")
            return 2
        }
        if !tree.comments.isEmpty && from != target {
            stderr("ezc: note: \(Units.counted(tree.comments.count, "comment")) of `\(path)` are not carried over to \(target.rawValue)\n")
        }
        guard let output, output != "-" else {
            Console.out(text)
            return 0
        }
        do { try writeAtomically(Data(text.utf8), to: output) } catch {
            return ioError("cannot write `\(output)`: \(error.localizedDescription)")
        }
        return 0
    }

    static func printDiagnostics(_ diags: [Diagnostic], _ source: SourceFile) {
        var map = SourceMap()
        map.add(source, id: 0)  // fmt parses one file with id 0
        let r = TextRenderer(color: EzcCommand.stderrColor(.auto))
        var out = r.render(diags.sortedByPosition(), sources: map)
        if let s = r.summary(diags) { out += s + "\n" }
        stderr(out)
    }

    static func formatFile(_ path: String, check: Bool) -> Int32 {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            return ioError("cannot read `\(path)`: no such file")
        }
        if isDir.boolValue { return ioError("cannot read `\(path)`: is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else {
            return ioError("cannot read `\(path)`: permission denied")
        }
        let source = SourceFile(path: path, bytes: [UInt8](data))
        let text: String
        if Surface.of(path) == .yaml {
            let (tree, diags) = YAMLSurface.parse(source, file: 0)
            if diags.contains(where: { $0.severity == .error }) { printDiagnostics(diags, source); return 1 }
            text = YAMLSurface.print(tree, source: source)
        } else {
            switch reformat(source) {
            case .failure(let e): return e.code
            case .success(let t): text = t
            }
        }
        if Array(text.utf8) == source.bytes { return 0 }
        if check {
            Console.out("would reformat \(path)" + "\n")
            return 1
        }
        do {
            try writeAtomically(Data(text.utf8), to: path)
        } catch {
            return ioError("cannot write `\(path)`: \(error.localizedDescription)")
        }
        return 0
    }

    /// Writes a sibling temporary file with the original's permissions, then renames it
    /// over the original, so a crash leaves either the old or the new file.
    static func writeAtomically(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let tmp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).ezfmt-\(ProcessInfo.processInfo.processIdentifier)")
        let fm = FileManager.default
        guard fm.createFile(atPath: tmp.path, contents: data) else {
            throw CocoaError(.fileWriteUnknown)
        }
        do {
            if let perms = try? fm.attributesOfItem(atPath: path)[.posixPermissions] {
                try fm.setAttributes([.posixPermissions: perms], ofItemAtPath: tmp.path)
            }
            guard rename(tmp.path, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
    }
}
