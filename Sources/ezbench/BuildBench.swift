import EzflowCompiler
import Foundation

/// `ezbench build`: times `Compiler.build` (check + lower + canonical JSON + SHA-256)
/// on the same generated workflows as `ezbench check`. Target: 100k tasks under 1 s
/// in release.
///
/// Per (shape, size): the best of `repeat` runs of the whole build, the best check
/// alone (so the lowering share is visible), the IR size, and the time `validate`
/// takes to parse and verify the IR (what `ezc build` adds as its pair assertion and
/// what the runtime pays on load). A row whose build fails is a failure.
struct BuildBench {
    var options: CheckBench.Options

    func run() -> Int32 {
        let generator = WorkflowGenerator()
        var failed = false
        print("ezbench build: best of \(options.repeats), Compiler.build(root:files:) on in-memory source (check+lower+serialize+hash)")
        let header = [
            pad("shape", 8, left: true), pad("tasks", 8), pad("build s", 9), pad("check s", 9), pad("lower s", 9),
            pad("IR bytes", 12), pad("B/task", 7), pad("tasks/s", 10), pad("validate s", 11), pad("peak RSS", 10),
        ].joined(separator: " ")
        print(header)
        print(String(repeating: "-", count: header.count))
        fflush(nil)
        for shape in options.shapes {
            for size in options.sizes {
                let workflow = generator.generate(shape: shape, tasks: size)
                let files = [workflow.fileName: workflow.text]
                var bestBuild = Double.infinity, bestCheck = Double.infinity, bestValidate = Double.infinity
                var irSize = 0
                var problem: String?
                for _ in 0..<max(1, options.repeats) {
                    let clock = ContinuousClock()
                    var start = clock.now
                    let result = Compiler.build(root: workflow.fileName, files: files)
                    bestBuild = min(bestBuild, start.duration(to: clock.now).seconds)
                    guard let ir = result.ir else {
                        problem = result.failure ?? "\(result.check.diagnostics.count) diagnostics, first: \(result.check.diagnostics.first?.message ?? "")"
                        break
                    }
                    irSize = ir.count
                    start = clock.now
                    let checked = Compiler.check(root: workflow.fileName, files: files)
                    bestCheck = min(bestCheck, start.duration(to: clock.now).seconds)
                    start = clock.now
                    do {
                        let p = try EzflowIR.validate(ir)
                        bestValidate = min(bestValidate, start.duration(to: clock.now).seconds)
                        if p.workflow.tasks.count != size { problem = "IR has \(p.workflow.tasks.count) tasks, expected \(size)" }
                    } catch {
                        problem = "IR does not validate: \(error)"
                    }
                    withExtendedLifetime((result, checked)) {}
                }
                if let problem {
                    failed = true
                    print("FAIL \(workflow.fileName): \(problem)")
                    continue
                }
                let rss = CheckBench.peakRSSKiB().map { String(format: "%.1f MiB", Double($0) / 1024) } ?? "n/a"
                print([
                    pad(shape.rawValue, 8, left: true), pad("\(size)", 8), pad(String(format: "%.4f", bestBuild), 9),
                    pad(String(format: "%.4f", bestCheck), 9), pad(String(format: "%.4f", max(0, bestBuild - bestCheck)), 9),
                    pad("\(irSize)", 12), pad("\(irSize / size)", 7), pad(String(format: "%.0f", Double(size) / bestBuild), 10),
                    pad(String(format: "%.4f", bestValidate), 11), pad(rss, 10),
                ].joined(separator: " "))
                fflush(nil)
            }
        }
        print(String(repeating: "-", count: header.count))
        print("lower s = build s - check s (lowering, canonical serialization and hashing); validate s is not part of build s")
        return failed ? 1 : 0
    }

    private func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return left ? s + fill : fill + s
    }
}
