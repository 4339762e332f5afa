// The simulation report's compensation line (docs/RUNTIME.md "Compensation"): how many
// runs undid something, and how many ended `compensation_incomplete` (an undo still failed
// after its retry rule). Read from each run's attempt history; only for plans with undos.
import EzflowRuntime
import EzflowUnits

extension SimReport {
    /// `compensation: 12 runs undid tasks (31 undos), 2 compensation_incomplete`; nil
    /// when the plan compensates nothing.
    var compensationLine: String? {
        guard plan.hasCompensation else { return nil }
        let undos = (0..<plan.taskCount).filter { plan.kind($0) == .compensation }
        var compensated = 0, ran = 0, incomplete = 0
        for r in runs {
            let started = undos.filter { !r.history[$0].isEmpty }
            if !started.isEmpty { compensated += 1 }
            ran += started.count
            if started.contains(where: { r.history[$0].last?.errorClass != nil }) { incomplete += 1 }
        }
        return "compensation: \(Units.counted(compensated, "run")) undid tasks (\(Units.counted(ran, "undo"))), "
            + "\(incomplete) compensation_incomplete"
    }
}
