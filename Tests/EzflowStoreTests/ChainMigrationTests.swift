// Schema 3 → 4: journals written before the hash chain are chained by the migration, in
// its transaction, from each run's IR hash; the file then reads and verifies like a new one.
import EzflowIR
import EzflowPorts
import EzflowRuntime
@testable import EzflowStore
import Foundation
import XCTest

final class ChainMigrationTests: XCTestCase {
    func testVersion3JournalsAreChainedByTheMigration() throws {
        let path = try tempDir(self) + "/v3.db"
        let records = [
            JournalRecord(seq: 0, event: .runStarted(runID: "old", seed: 7, planHash: "sha256:ab", tagLimits: [:], atMs: 1), commands: []),
            JournalRecord(seq: 1, event: .taskSucceeded(task: 0, attempt: 1, outputs: .object([("it's", .string("x"))]), costMicros: 5,
                                                        tokens: 2, atMs: 3), commands: [.finishRun(.success)]),
        ]
        var sql = Schema.migrations[0] + Schema.migrations[1] + Schema.migrations[2] + """
            PRAGMA application_id=\(DurableStore.applicationID); PRAGMA user_version=3;
            INSERT INTO runs VALUES ('old', 'wf', 'sha256:ab', 7, 'finished', 'success', 1, 2);
            INSERT INTO run_data(run_id, ir) VALUES ('old', x'7b7d');
            """
        for r in records {
            func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self).replacingOccurrences(of: "'", with: "''") }
            sql += "INSERT INTO journal VALUES ('old', \(r.seq), '\(text(Journal.eventBytes(r.event)))', '\(text(Journal.commandBytes(r.commands)))');\n"
        }
        try DurableStore.rawExec(path: path, sql: sql)
        let store = try DurableStore(path: path)
        XCTAssertEqual(try store.storedSchemaVersion(), DurableStore.schemaVersion)
        XCTAssertEqual(try store.journal(run: "old"), records)
        let chain = JournalChain.hashes(after: "sha256:ab", records)
        XCTAssertEqual(try store.chainHash(run: "old", seq: 1), chain[1])
        // The migrated run goes on like any other, and is verified like any other.
        try store.append(run: "old", records: [JournalRecord(seq: 2, event: .resumed(atMs: 9), commands: [])])
        XCTAssertEqual(try store.journal(run: "old").count, 3)
        try DurableStore.rawExec(path: path, sql: "UPDATE journal SET event = replace(event, '\"cost_micros\":5', '\"cost_micros\":0') WHERE seq = 1")
        XCTAssertThrowsError(try store.journal(run: "old")) { e in XCTAssertEqual((e as? StoreError)?.chainBreak?.seq, 1) }
    }
}
