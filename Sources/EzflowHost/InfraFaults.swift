// Infrastructure faults for `ezrun simulate --faults`: the runner dies between port calls,
// a store write fails, a completion arrives twice or late, the wall clock jumps. They join
// the agent and task faults (`agent=…`, `task=…`) in the same spec.
//
// Swarm testing: the spec gives ceilings. Per run, each kind is switched on with
// probability ½ and its rate drawn from [0, ceiling], so some runs see only crashes, some
// only duplicates, some nothing, and rare combinations are not crowded out.
import EzflowRuntime
import EzflowSim
import Foundation

/// The ceilings from the spec.
public struct InfraFaultSpec: Sendable, Equatable {
    /// `runner:crash=P`: before or after any port call, the runner dies.
    public var crash: Double = 0
    /// `store:fail=P`: a journal append fails (half before it is stored, half after).
    public var storeFail: Double = 0
    /// `completion:duplicate=P`: a completion is delivered twice.
    public var duplicate: Double = 0
    /// `completion:delay=xF`: a late completion takes F times as long.
    public var delayFactor: Double = 1
    /// `completion:late=P`: the share of completions that are late (default 0.1 when a
    /// delay is given).
    public var late: Double = 0
    /// `clock:jump=MS`: the wall clock may jump forward by up to MS.
    public var clockJumpMs: Int64 = 0

    public init() {}

    public var isEmpty: Bool { self == InfraFaultSpec() }

    /// Splits a `--faults` spec into the infrastructure part and the rest (agent and task
    /// clauses, for `SimFault.parse`).
    ///
    ///     runner:crash=P   store:fail=P   completion:duplicate=P,delay=xF,late=P   clock:jump=MS
    public static func split(spec: String) throws(SimSpecError) -> (InfraFaultSpec, String) {
        var infra = InfraFaultSpec()
        var rest: [Substring] = []
        for clause in spec.split(separator: ";", omittingEmptySubsequences: true) {
            let c = clause.drop { $0 == " " }
            guard let colon = c.firstIndex(of: ":"), !c[..<colon].contains("=") else {
                rest.append(clause)
                continue
            }
            let kind = String(c[..<colon])
            for setting in c[c.index(after: colon)...].split(separator: ",") {
                let kv = setting.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2 else { throw SimSpecError("fault `\(c)`: expected KEY=VALUE, found `\(setting)`") }
                try infra.set(kind: kind, key: kv[0], value: kv[1], clause: String(c))
            }
        }
        if infra.delayFactor != 1 && infra.late == 0 { infra.late = 0.1 }
        return (infra, rest.joined(separator: ";"))
    }

    mutating func set(kind: String, key: String, value: String, clause: String) throws(SimSpecError) {
        func probability() throws(SimSpecError) -> Double {
            guard let x = Double(value), (0...1).contains(x) else { throw SimSpecError("fault `\(clause)`: \(key) must be a number in 0…1, found `\(value)`") }
            return x
        }
        switch (kind, key) {
        case ("runner", "crash"): crash = try probability()
        case ("store", "fail"): storeFail = try probability()
        case ("completion", "duplicate"): duplicate = try probability()
        case ("completion", "late"): late = try probability()
        case ("completion", "delay"):
            guard value.hasPrefix("x"), let f = Double(value.dropFirst()), f >= 1, f.isFinite else {
                throw SimSpecError("fault `\(clause)`: delay must be xF with F ≥ 1 (e.g. x3), found `\(value)`")
            }
            delayFactor = f
        case ("clock", "jump"):
            guard let ms = Int64(value), ms > 0, ms <= 365 * 86_400_000 else {
                throw SimSpecError("fault `\(clause)`: jump must be milliseconds in 1…31536000000, found `\(value)`")
            }
            clockJumpMs = ms
        case ("runner", _), ("store", _), ("completion", _), ("clock", _):
            throw SimSpecError("fault `\(clause)`: unknown setting `\(key)` for \(kind) (runner: crash; store: fail; completion: duplicate, delay, late; clock: jump)")
        default:
            throw SimSpecError("fault `\(clause)`: unknown fault kind `\(kind)` (expected runner, store, completion, clock, or agent=NAME / task=NAME)")
        }
    }

    /// This run's rates: each kind on with probability ½, its rate uniform in [0, ceiling].
    func swarm(_ r: inout SeededRandom) -> InfraFaultSpec {
        var out = InfraFaultSpec()
        func pick(_ ceiling: Double) -> Double {
            let on = SimDraw.unit(&r) < 0.5
            let rate = SimDraw.unit(&r) * ceiling
            return on ? rate : 0
        }
        out.crash = pick(crash)
        out.storeFail = pick(storeFail)
        out.duplicate = pick(duplicate)
        out.late = pick(late)
        out.delayFactor = delayFactor
        out.clockJumpMs = SimDraw.unit(&r) < 0.5 ? clockJumpMs : 0
        return out
    }
}

/// Independent random streams per fault kind, each derived from the run seed by name, so
/// adding a kind never shifts the draws of another.
struct FaultStreams {
    var crash: SeededRandom
    var store: SeededRandom
    var completion: SeededRandom
    var clock: SeededRandom
    var swarm: SeededRandom

    init(runSeed: UInt64) {
        func stream(_ name: String) -> SeededRandom {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325 // FNV-1a
            for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
            var r = SeededRandom(seed: runSeed ^ h)
            return SeededRandom(seed: r.next())
        }
        crash = stream("crash")
        store = stream("store")
        completion = stream("completion")
        clock = stream("clock")
        swarm = stream("swarm")
    }
}
