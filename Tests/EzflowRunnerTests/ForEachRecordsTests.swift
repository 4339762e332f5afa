import EzflowStore
import Foundation
import XCTest

/// Issue 10: `${item.image}` in a `for_each` task's `run:` builds and runs as written,
/// one instance per record, and an optional field left out (in the default or in an
/// `--input`) reads as null, so `??` gives its fallback.
final class ForEachRecordsTests: XCTestCase {
    static let workflow = """
        agent sh { driver: exec, capabilities: ["shell"] }
        type Cell { image: string, tag: string? }
        workflow matrix {
          input cells: list[Cell] = [{ image: "debian" }, { image: "alpine", tag: "3.20" }]
          task build {
            for_each: inputs.cells
            run: "echo build ${item.image}:${item.tag ?? "latest"}"
          }
        }
        """

    func lines(_ dir: String, _ run: String) throws -> [String] {
        try DurableStore(path: dir + "/.ezflow/ezflow.db").logs(run: run).map(\.stdout).sorted()
    }

    func testRecordItemsRenderInEachInstance() throws {
        let dir = tempDir("records")
        write(Self.workflow, to: dir + "/matrix.ezflow")
        let r = ezrun(["run", "matrix.ezflow", "--run-id", "m1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try lines(dir, "m1"), ["build alpine:3.20\n", "build debian:latest\n"])
        // Given on the command line, a record may leave the optional field out too.
        let cells = #"[{"image": "fedora"}, {"image": "arch", "tag": null}, {"image": "nix", "tag": "24.05"}]"#
        let r2 = ezrun(["run", "matrix.ezflow", "--run-id", "m2", "--input", "cells=" + cells], in: dir)
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(try lines(dir, "m2"), ["build arch:latest\n", "build fedora:latest\n", "build nix:24.05\n"])
    }
}
