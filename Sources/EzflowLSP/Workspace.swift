import EzflowIR
import Foundation

/// The workspace folders the editor opened: where references and rename look for files
/// that are not open (a file importing the one edited is a use of its declarations).
extension LanguageServer {
    /// At most this many files are searched per request: a folder such as `/` or a home
    /// directory must not make a rename read the whole disk.
    static let workspaceFileLimit = 2_000

    /// `initialize`'s `workspaceFolders`, else its `rootUri`.
    func setFolders(_ params: JSONValue?) {
        if let folders = params?["workspaceFolders"]?.arrayValue {
            self.folders = folders.compactMap { $0["uri"]?.stringValue.flatMap(FileURI.path) }
        } else if let root = params?["rootUri"]?.stringValue.flatMap(FileURI.path) {
            self.folders = [root]
        }
    }

    /// `workspace/didChangeWorkspaceFolders`: folders added and removed.
    func changeFolders(_ params: JSONValue?) throws(RPCError) {
        let event = try (params ?? .null).object("event", in: "params")
        let removed = Set((event["removed"]?.arrayValue ?? []).compactMap { $0["uri"]?.stringValue.flatMap(FileURI.path) })
        let added = (event["added"]?.arrayValue ?? []).compactMap { $0["uri"]?.stringValue.flatMap(FileURI.path) }
        folders = folders.filter { !removed.contains($0) } + added.filter { !folders.contains($0) }
    }

    /// The `.ezflow` and `.ezflow.yaml` files under the folders, sorted, skipping hidden and
    /// build directories; `complete` is false when the limit cut the list short.
    func workspaceFiles() -> (files: [String], complete: Bool) {
        var out: Set<String> = []
        var complete = true
        let fm = FileManager.default
        for folder in folders {
            guard let e = fm.enumerator(at: URL(fileURLWithPath: folder), includingPropertiesForKeys: [.isDirectoryKey, .isRegularFileKey],
                                        options: [.skipsHiddenFiles]) else { continue }
            for case let url as URL in e {
                let name = url.lastPathComponent
                if name == "node_modules" || name.hasPrefix(".build") { e.skipDescendants(); continue }
                guard name.hasSuffix(".ezflow") || name.hasSuffix(".ezflow.yaml"),
                      (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
                guard out.count < Self.workspaceFileLimit else {
                    complete = false
                    break
                }
                out.insert(url.standardizedFileURL.path)
            }
        }
        return (out.sorted(), complete)
    }

    /// Every file a use of `name` may be in, as URIs: the open documents, then the
    /// workspace's files that contain the name's text (a use writes the name; a file that
    /// does not is not checked at all). Each is checked as a root, so an importer of the
    /// file that declares the name is seen. Checks of files that are not open are dropped
    /// first: the disk may have changed since (no editor reports every change).
    func searchRoots(mentioning name: String) -> (uris: [String], complete: Bool) {
        for uri in analyses.keys where documents[uri] == nil { analyses[uri] = nil }
        let open = documents.keys.sorted()
        let openPaths = Set(documents.values.map(\.path))
        let (files, complete) = workspaceFiles()
        let needle = Array(name.utf8)
        let mentioning = files.filter { path in
            guard !openPaths.contains(path), let data = FileManager.default.contents(atPath: path) else { return false }
            return [UInt8](data).contains(needle)
        }
        return (open + mentioning.map(FileURI.uri), complete)
    }
}
