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
        .executable(name: "ezguard", targets: ["ezguard"]),
        .library(name: "EzflowCompiler", targets: ["EzflowCompiler"]),
        .library(name: "EzflowIDE", targets: ["EzflowIDE"]),
    ],
    targets: [
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "EzflowDiagnostics", dependencies: ["EzflowUnits"]),
        // The one table of commands and flags: parsing, help, completions, man pages, docs/CLI.md.
        .target(name: "EzflowCLI"),
        .target(name: "EzflowUnits"),
        .target(name: "EzflowShell"),
        .target(name: "EzflowInstall"),
        .target(name: "EzflowAttributes", dependencies: ["EzflowUnits"]),
        .target(name: "EzflowSyntax", dependencies: ["EzflowDiagnostics", "EzflowUnits"]),
        .target(name: "EzflowYAML", dependencies: ["EzflowSyntax", "EzflowDiagnostics", "CYAML"]),
        .target(name: "EzflowCheck", dependencies: ["EzflowSyntax", "EzflowDiagnostics", "EzflowAttributes", "EzflowUnits", "EzflowShell", "EzflowIR"]),
        .target(name: "EzflowIR", dependencies: ["CCrypto", "EzflowAttributes", "EzflowUnits"]),
        .target(name: "EzflowCompiler", dependencies: ["EzflowCheck", "EzflowSyntax", "EzflowYAML", "EzflowIR", "EzflowDiagnostics", "EzflowAttributes", "EzflowInstall"]),
        .target(name: "EzflowIDE", dependencies: ["EzflowCompiler", "EzflowCheck", "EzflowSyntax", "EzflowDiagnostics", "EzflowUnits"]),
        .executableTarget(name: "ezc", dependencies: ["EzflowCLI", "EzflowCompiler", "EzflowSyntax", "EzflowYAML", "EzflowDiagnostics", "EzflowUnits"]),
        .executableTarget(name: "ezbench", dependencies: ["EzflowCLI", "EzflowCompiler", "EzflowRuntime", "EzflowHost", "EzflowStore", "EzflowPorts", "EzflowDiagnostics", "EzflowSim"]),
        .target(name: "EzflowHost", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowPorts", "EzflowRunner", "EzflowUnits", "EzflowDiagnostics", "EzflowSim"]),
        // C, libc only: one per `ezrun run`/`resume`, ends its task groups when it dies
        // (docs/RUNNING.md, "Process lifetimes").
        .executableTarget(name: "ezguard"),
        .executableTarget(name: "ezrun", dependencies: ["EzflowCLI", "EzflowHost", "EzflowCompiler", "EzflowRunner", "EzflowReport", "EzflowStore", "EzflowPorts", "EzflowAgents", "EzflowUnits", "EzflowDiagnostics", "EzflowIR", "EzflowRuntime", "EzflowSim"]),
        .target(name: "EzflowTestSupport", dependencies: ["EzflowCompiler", "EzflowDiagnostics", "EzflowIR"]),
        .target(name: "EzflowRuntime", dependencies: ["EzflowIR", "EzflowUnits"]),
        .target(name: "EzflowSim", dependencies: ["EzflowRuntime", "EzflowIR"]),
        .target(name: "EzflowAgents", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowShell", "EzflowInstall"]),
        .target(name: "EzflowPorts", dependencies: ["EzflowRuntime", "EzflowIR"]),
        .target(name: "EzflowStore", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowPorts", "CSQLite"]),
        .target(name: "EzflowReport", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowUnits", "EzflowDiagnostics"]),
        .target(name: "EzflowRunner", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowUnits", "EzflowAgents", "EzflowPorts", "EzflowStore"]),
        .testTarget(name: "EzflowStoreTests", dependencies: ["EzflowStore", "EzflowPorts", "EzflowRuntime", "EzflowCompiler", "EzflowTestSupport", "EzflowIR", "EzflowSim"]),
        .testTarget(name: "EzflowRuntimeTests", dependencies: ["EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowSyntaxTests", dependencies: ["EzflowSyntax", "EzflowTestSupport", "EzflowDiagnostics"]),
        .testTarget(name: "EzflowCheckTests", dependencies: ["EzflowCompiler", "EzflowSyntax", "EzflowDiagnostics", "EzflowTestSupport", "EzflowAttributes", "EzflowIR", "EzflowCheck"]),
        .testTarget(name: "EzflowUnitsTests", dependencies: ["EzflowUnits"]),
        .testTarget(name: "EzflowIRTests", dependencies: ["EzflowIR", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowYAMLTests", dependencies: ["EzflowYAML", "EzflowCompiler", "EzflowTestSupport", "EzflowDiagnostics", "EzflowSyntax"]),
        .testTarget(name: "EzflowSimTests", dependencies: ["EzflowHost", "EzflowPorts", "EzflowRunner", "EzflowRuntime", "EzflowCompiler", "EzflowTestSupport", "EzflowSim"]),
        .testTarget(name: "EzcTests", dependencies: ["EzflowTestSupport", "EzflowCompiler", "EzflowCLI"]),
        .testTarget(name: "EzflowIDETests", dependencies: ["EzflowIDE", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowDiagnosticsTests", dependencies: ["EzflowDiagnostics"]),
        .testTarget(name: "EzflowReportTests", dependencies: ["EzflowReport", "EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowPortsTests", dependencies: ["EzflowPorts", "EzflowStore", "EzflowRuntime", "EzflowIR", "EzflowTestSupport"]),
        .testTarget(name: "EzflowRunnerTests", dependencies: ["EzflowRunner", "EzflowAgents", "EzflowPorts", "EzflowStore", "EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowTestSupport"]),
        .testTarget(name: "EzflowAgentsTests", dependencies: ["EzflowAgents", "EzflowRuntime", "EzflowIR", "EzflowCompiler", "EzflowTestSupport", "EzflowShell"]),
    ]
)
