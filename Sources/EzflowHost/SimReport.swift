// The text `ezrun simulate` prints: a deterministic function of the results (no
// wall-clock figures, no dictionary iteration order, integer arithmetic for numbers).
import EzflowIR
import EzflowRuntime
import EzflowUnits

/// Aggregates of a simulation, as printed.
public struct SimReport: Sendable {
    public var workflow: String
    public var options: SimulationOptions
    public var selector: SelectorName
    /// The `--faults` spec as given (printed back).
    public var faultsSpec: String?
    public var runs: [SimRunResult]
    public var plan: Plan

    public init(workflow: String, options: SimulationOptions, selector: SelectorName, faultsSpec: String?,
                runs: [SimRunResult], plan: Plan) {
        self.workflow = workflow
        self.options = options
        self.selector = selector
        self.faultsSpec = faultsSpec
        self.runs = runs
        self.plan = plan
    }

    public var succeeded: Int { runs.count { $0.verdict == .success } }
    public var budgetViolations: Int { runs.count { $0.verdict == .budgetExceeded } }
    public var deadlineViolations: Int { runs.count { $0.verdict == .deadlineExceeded } }

    /// Exit code per DESIGN §4: 3 when a run exceeded its budget or deadline, else 1 when a
    /// run failed, else 0.
    public var exitCode: Int32 {
        if budgetViolations + deadlineViolations > 0 { return 3 }
        return succeeded == runs.count ? 0 : 1
    }

    /// Nearest-rank percentile of `values` (p in 0…100).
    public static func percentile(_ sorted: [Int64], _ p: Int) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = max(1, (p * sorted.count + 99) / 100)
        return sorted[min(rank, sorted.count) - 1]
    }

    /// `12.345s`.
    public static func seconds(_ ms: Int64) -> String {
        let neg = ms < 0, v = abs(ms)
        let frac = String(v % 1000)
        return (neg ? "-" : "") + "\(v / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac + "s"
    }

    /// Money by the one rule (`Units.money`): `$1.23`, `$0.0022`.
    public static func dollars(_ micros: Int64) -> String { Units.money(micros) }

    /// `97.5%` with one decimal, rounded half up.
    public static func percent(_ part: Int, _ whole: Int) -> String {
        guard whole > 0 else { return "0.0%" }
        let tenths = (part * 1000 * 2 + whole) / (2 * whole)
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// `name count, name count` by count descending then name, at most `limit`.
    static func ranked(_ counts: [String: Int], limit: Int) -> String {
        let items = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        if items.isEmpty { return "none" }
        var s = items.prefix(limit).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        if items.count > limit { s += ", … (\(items.count - limit) more)" }
        return s
    }

    /// The report. `command` is the reproduce line (the CLI's own arguments).
    public func render(command: String) -> String {
        var out = ""
        func line(_ s: String) { out += s + "\n" }
        let n = runs.count
        let makespans = runs.map(\.makespanMs).sorted(), costs = runs.map(\.costMicros).sorted()
        let virtualTotal = runs.reduce(Int64(0)) { $0 + $1.makespanMs }
        let steps = runs.reduce(0) { $0 + $1.steps }
        line("simulate \(workflow) (plan \(plan.hash.prefix(19))…, \(Units.counted(plan.taskCount, "task")), \(Units.counted(plan.agentNames.count, "agent")))")
        line("seed: \(options.seed)  runs: \(n)  selector: \(selector.rawValue)  faults: \(faultsSpec ?? "none")")
        line("breaker: open after \(Units.counted(options.breaker.failuresToOpen, "failure")), cool-down \(SimReport.seconds(options.breaker.coolDownMs))")
        line("virtual time: \(SimReport.seconds(virtualTotal)) over \(Units.counted(n, "run")) (memory only, no wall clock)")
        line("success: \(succeeded)/\(n) (\(SimReport.percent(succeeded, n)))")
        var verdicts: [String: Int] = [:]
        for r in runs where r.verdict != .success { verdicts[r.verdict.rawValue, default: 0] += 1 }
        line("failures by verdict: \(SimReport.ranked(verdicts, limit: 10))")
        if let c = compensationLine { line(c) }
        line("makespan: p50 \(SimReport.seconds(SimReport.percentile(makespans, 50)))  p95 \(SimReport.seconds(SimReport.percentile(makespans, 95)))  max \(SimReport.seconds(makespans.last ?? 0))")
        line("cost: p50 \(SimReport.dollars(SimReport.percentile(costs, 50)))  p95 \(SimReport.dollars(SimReport.percentile(costs, 95)))  max \(SimReport.dollars(costs.last ?? 0))")
        let tokens = runs.map(\.tokens).sorted()
        if plan.budgetTokens >= 0 || (tokens.last ?? 0) > 0 {
            // Token use per run: each simulated call stays within the cap on its dispatch,
            // so a token budget is never overshot (docs/SIMULATION.md).
            func t(_ n: Int64) -> String { Units.tokens(n) }
            let limit = plan.budgetTokens >= 0 ? "budget \(t(plan.budgetTokens)), runs over it: \(tokens.count { $0 > plan.budgetTokens })"
                : "no token budget"
            line("tokens: p50 \(t(SimReport.percentile(tokens, 50)))  p95 \(t(SimReport.percentile(tokens, 95)))  max \(t(tokens.last ?? 0))  (\(limit))")
        }
        let budget = plan.budgetMoneyMicros >= 0 ? SimReport.dollars(plan.budgetMoneyMicros) : "none"
        let deadline = plan.deadlineMs >= 0 ? SimReport.seconds(plan.deadlineMs) : "none"
        line("budget violations: \(budgetViolations) (budget \(budget))  deadline violations: \(deadlineViolations) (deadline \(deadline))")
        var critical: [String: Int] = [:]
        for r in runs { for t in Set(r.criticalPath) { critical[plan.taskNames[t], default: 0] += 1 } }
        line("critical path (runs the task was on it): \(SimReport.ranked(critical, limit: 8))")
        var dead: [String: Int] = [:]
        for r in runs { for t in r.deadLetters { dead[plan.taskNames[t], default: 0] += 1 } }
        line("dead letters: \(dead.values.reduce(0, +)) (\(SimReport.ranked(dead, limit: 8)))")
        line("agents (dispatched / failed / breaker opened):")
        for a in plan.agentNames.indices {
            let d = runs.reduce(0) { $0 + $1.dispatches[a] }, f = runs.reduce(0) { $0 + $1.failures[a] }
            let o = runs.reduce(0) { $0 + $1.breakerOpens[a] }
            if a >= 20 { line("  … \(plan.agentNames.count - 20) more \(Units.noun(plan.agentNames.count - 20, "agent"))"); break }
            line("  \(plan.agentNames[a]): \(d) / \(f) / \(o)")
        }
        line("invariants: checked after each of \(Units.counted(steps, "step")): \(options.checkInvariants ? "all held" : "not checked")")
        let crashes = runs.reduce(0) { $0 + $1.crashes }, storeFailures = runs.reduce(0) { $0 + $1.storeFailures }
        let duplicates = runs.reduce(0) { $0 + $1.duplicates }, refused = runs.reduce(0) { $0 + $1.completionsRefused }
        line("crashes injected: \(crashes)  store failures injected: \(storeFailures)  duplicate completions: \(duplicates)  completions refused: \(refused)")
        line("oracle: \(options.oracle ? "\(n)/\(Units.counted(n, "run")) held" : "not checked")")
        line("exit: \(exitCode)")
        line("reproduce: \(command)")
        return out
    }
}

