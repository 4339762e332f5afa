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

    /// The `.ezflow` files under the folders, sorted, skipping hidden and build directories.
    func workspaceFiles() -> [String] {
        var out: Set<String> = []
        let fm = FileManager.default
        for folder in folders {
            guard let e = fm.enumerator(at: URL(fileURLWithPath: folder), includingPropertiesForKeys: [.isDirectoryKey, .isRegularFileKey],
                                        options: [.skipsHiddenFiles]) else { continue }
            for case let url as URL in e {
                if out.count >= Self.workspaceFileLimit { break }
                let name = url.lastPathComponent
                if name == "node_modules" || name.hasPrefix(".build") { e.skipDescendants(); continue }
                if name.hasSuffix(".ezflow"), (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
                    out.insert(url.standardizedFileURL.path)
                }
            }
        }
        return out.sorted()
    }

    /// Every file a reference may be in, as URIs: the open documents, then the workspace's
    /// files (each checked as a root, so an importer of the edited file is seen).
    func searchRoots() -> [String] {
        let open = documents.keys.sorted()
        let openPaths = Set(documents.values.map(\.path))
        return open + workspaceFiles().filter { !openPaths.contains($0) }.map(FileURI.uri)
    }
}
