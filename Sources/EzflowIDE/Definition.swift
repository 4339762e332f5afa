import EzflowCheck
import EzflowDiagnostics
import EzflowSyntax

extension Analysis {
    /// Where the thing at `offset` in `path` is declared, in this file, an imported module
    /// or the stdlib. Nil for what has no declaration (built-ins, `item`, principals).
    public func definition(path: String, offset: Int) -> Location? {
        guard let m = module(path), let (_, b) = binding(m, offset) else { return nil }
        return target(b).map(location)
    }

    /// The span declaring what a binding names.
    func target(_ b: Binding) -> Span? {
        switch b {
        case .decl(_, let id): return model.modules[id.module].decls[id.name]?.name.span
        case .task(let m, let i): return workflow(m)?.tasks[i].name.span
        case .group(let m, let i): return workflow(m)?.groups[i].name.span
        case .input(let m, let name): return workflow(m)?.inputs.first { $0.name == name }?.span
        case .output(let m, let name): return workflow(m)?.outputs.first { $0.name == name }?.span
        case .taskOutput(let m, let t, let name):
            guard let task = workflow(m)?.tasks[t] else { return nil }
            // Implicit outputs (`stdout`, `text`, ...) are declared by the action.
            let declared = task.block.blocks.first { $0.kind.text == "output" && $0.name?.text == name }
            return declared?.name?.span ?? task.actionSpan
        case .enumCase(let id, let c):
            return model.modules[id.module].decls[id.name]?.block.cases.first { $0.text == c }?.span
        case .module(let m):
            let file = model.modules[m].file
            return Span(file: file, start: 0, end: 0)
        case .taskStatus(let m, let t): return workflow(m)?.tasks[t].name.span
        case .item, .iteration, .previousOutput, .principal, .policyTask, .builtin, .builtinEnumCase, .runValue: return nil
        }
    }
}
