// swift-tools-version:6.0
import PackageDescription

// No Swift package dependencies: Foundation plus C libraries from Debian packages,
// each wrapped as a system-library target (see ARCHITECTURE.md).
let package = Package(
    name: "ezflow",
    products: [
        .executable(name: "ezc", targets: ["ezc"]),
        .executable(name: "ezbench", targets: ["ezbench"]),
        .executable(name: "ezrun", targets: ["ezrun"]),
        .library(name: "EzflowCompiler", targets: ["EzflowCompiler"]),
    ],
    targets: [
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "EzflowDiagnostics"),
        .target(name: "EzflowSyntax", dependencies: ["EzflowDiagnostics"]),
        .target(name: "EzflowYAML", dependencies: ["EzflowSyntax", "EzflowDiagnostics", "CYAML"]),
        .target(name: "EzflowCheck", dependencies: ["EzflowSyntax", "EzflowDiagnostics"]),
        .target(name: "EzflowIR", dependencies: ["CCrypto"]),
        .target(name: "EzflowCompiler", dependencies: ["EzflowCheck", "EzflowSyntax", "EzflowYAML", "EzflowIR", "EzflowDiagnostics"]),
        .executableTarget(name: "ezc", dependencies: ["EzflowCompiler", "EzflowSyntax", "EzflowYAML", "EzflowDiagnostics"]),
        .executableTarget(name: "ezbench", dependencies: ["EzflowCompiler", "EzflowRuntime", "EzflowHost", "EzflowStore", "EzflowPorts", "EzflowRunner"]),
        .target(name: "EzflowHost", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowPorts", "EzflowRunner"]),
        .executableTarget(name: "ezrun", dependencies: ["EzflowHost", "EzflowCompiler", "EzflowRunner", "EzflowReport", "EzflowStore", "EzflowPorts", "EzflowAgents"]),
        .target(name: "EzflowTestSupport", dependencies: ["EzflowCompiler"]),
        .target(name: "EzflowRuntime", dependencies: ["EzflowIR"]),
        .target(name: "EzflowAgents", dependencies: ["EzflowRuntime", "EzflowIR"]),
        .target(name: "EzflowPorts", dependencies: ["EzflowRuntime", "EzflowIR"]),
        .target(name: "EzflowStore", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowPorts", "CSQLite"]),
        .target(name: "EzflowReport", dependencies: ["EzflowRuntime", "EzflowIR"]),
        .target(name: "EzflowRunner", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowAgents", "EzflowPorts", "EzflowStore"]),
        .testTarget(name: "EzflowStoreTests", dependencies: ["EzflowStore", "EzflowPorts", "EzflowRuntime", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowRuntimeTests", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowSyntaxTests", dependencies: ["EzflowSyntax", "EzflowTestSupport"]),
        .testTarget(name: "EzflowCheckTests", dependencies: ["EzflowCompiler", "EzflowSyntax", "EzflowDiagnostics", "EzflowTestSupport"]),
        .testTarget(name: "EzflowIRTests", dependencies: ["EzflowIR", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowYAMLTests", dependencies: ["EzflowYAML", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowSimTests", dependencies: ["EzflowHost", "EzflowPorts", "EzflowRunner", "EzflowRuntime", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzcTests", dependencies: ["EzflowTestSupport", "EzflowCompiler"]),
        .testTarget(name: "EzflowDiagnosticsTests", dependencies: ["EzflowDiagnostics"]),
        .testTarget(name: "EzflowReportTests", dependencies: ["EzflowReport", "EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowRunnerTests", dependencies: ["EzflowRunner", "EzflowPorts", "EzflowStore", "EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowAgentsTests", dependencies: ["EzflowAgents", "EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowTestSupport"]),
    ]
)
