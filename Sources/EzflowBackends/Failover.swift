// `--backend PRIMARY --fallback SECONDARY`: which backend a NEW run is created on. A run
// lives on one backend for its whole life (its journal is its one source of truth and its
// coordinator the only writer), so failover moves new runs, never running ones: a run in
// progress on the primary waits for it, as without a fallback (docs/DISTRIBUTED.md,
// "Failover"). Only an outage moves a new run: a primary that answers and refuses (a
// password, a missing database, an unmigrated schema, a bad URL) is an error, exactly as
// without --fallback, because a misconfiguration is not an outage.
import EzflowPorts
import Foundation

/// The backend a command goes on with, and why it is not the primary when it is not.
public struct ChosenBackend: Sendable {
    public var ports: BackendPorts
    /// The URL opened (the primary's or the fallback's), for `flags.config.storePath`.
    public var url: String
    /// Set when the fallback was chosen: the primary as messages name it (no password)
    /// and why it was passed over, one line.
    public var passedOver: (primary: String, reason: String)?
}

extension Backend {
    /// Opens `primary` and asks it about run `runID` (which connects, and checks the schema);
    /// when it cannot be reached and `fallback` is given, opens the fallback instead. With
    /// `mustHold` (a resume), a primary that answers but has no such run also gives way to
    /// the fallback; a resume of a run on neither, while the primary cannot be reached, is
    /// an outage (the run is most likely the primary's, waiting for it). Both unreachable:
    /// one error naming both.
    public static func choose(primary: String, fallback: String?, runID: String, mustHold: Bool = false) throws(StoreError) -> ChosenBackend {
        let reason: String
        var unreachable = false
        do {
            let ports = try open(primary)
            let found = try ports.store.run(runID) != nil
            if found || !mustHold || fallback == nil { return ChosenBackend(ports: ports, url: primary) }
            reason = "it has no run `\(runID)`"
        } catch {
            guard fallback != nil, isUnreachable(error) else { throw error }
            reason = oneLine(error.message)
            unreachable = true
        }
        guard let fallback else { preconditionFailure("only a command with a fallback gets here") }
        let ports: BackendPorts, found: Bool
        do {
            ports = try open(fallback)
            // Probed like the primary: a fallback that cannot be reached either is said now,
            // with both reasons, not at the run's first write.
            found = try ports.store.run(runID) != nil
        } catch where error.kind == .unavailable {
            throw StoreError(.unavailable, path: redacted(fallback),
                             message: "cannot reach the primary backend \(redacted(primary)) (\(reason)) nor the fallback (\(oneLine(error.message)))",
                             nextStep: error.nextStep)
        }
        if mustHold, !found, unreachable {
            // Most likely a run of the primary's, which waits for it: a run never moves.
            throw StoreError(.unavailable, path: redacted(fallback),
                             message: "run `\(runID)` is not on the fallback, and the primary backend \(redacted(primary)) cannot be reached (\(reason))",
                             nextStep: "a run lives on one backend: resume it once the primary answers again")
        }
        return ChosenBackend(ports: ports, url: fallback, passedOver: (redacted(primary), reason))
    }

    /// Whether `error` says a backend could not be reached (a refused or timed-out
    /// connection, a server starting up or shutting down, a lost session) rather than that
    /// it answered and refused (a password, a role or database that does not exist, a
    /// certificate, pg_hba.conf): only the first is an outage a fallback stands in for. The
    /// connection layers report both as `unavailable` (a worker rides out either while it
    /// runs), so the refusals are told apart by the server's words.
    public static func isUnreachable(_ error: StoreError) -> Bool {
        guard error.kind == .unavailable else { return false }
        let m = error.message.lowercased()
        let refusals = ["authentication", "password", "does not exist", "pg_hba.conf", "certificate", "permission denied",
                        "cannot select database", "noauth", "wrongpass", "no such user",
                        // libpq refusing the URL itself (a port that is no number, an unknown
                        // parameter, a bad %-escape): the URL is wrong, not the server away.
                        "invalid", "unknown", "unrecognized"]
        return !refusals.contains { m.contains($0) }
    }

    /// `text`'s first line, trimmed and cut to 300 characters (a reason in one line).
    static func oneLine(_ text: String) -> String {
        let first = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = first.trimmingCharacters(in: .whitespaces)
        return trimmed.count > 300 ? String(trimmed.prefix(300)) + "…" : trimmed
    }
}
