// The IR types (`JSONValue`, `IRProgram`, `validate`) are part of the compiler façade's
// API: `ezc`, `ezbench` and the runtime see them through `import EzflowCompiler`.
@_exported import EzflowIR
