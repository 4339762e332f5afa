import CYAML
import EzflowDiagnostics
import EzflowSyntax

/// A YAML node as read from libyaml events: positions are byte offsets into the file.
struct YNode {
    enum Style { case plain, single, double, literal, folded }
    indirect enum Kind {
        case scalar(value: [UInt8], style: Style)
        case sequence([YNode])
        case mapping([(key: YNode, value: YNode)])
        /// An alias (`*a`) or a node skipped after an error; already reported.
        case invalid
    }
    var kind: Kind
    var start: Int
    var end: Int
    var tag: String?
    var flow = false

    var isNull: Bool {
        if case .scalar(let v, .plain) = kind, v.isEmpty, tag == nil { return true }
        return false
    }
    var scalarText: String? {
        if case .scalar(let v, _) = kind { return String(decoding: v, as: UTF8.self) }
        return nil
    }
    var typeDescription: String {
        switch kind {
        case .scalar: "a scalar"
        case .sequence: "a sequence"
        case .mapping: "a mapping"
        case .invalid: "an invalid node"
        }
    }
}

/// libyaml marks count characters (not bytes); converts them to byte offsets of the
/// file with a cursor, since events arrive in nearly increasing order.
struct MarkConverter {
    let bytes: [UInt8]
    var charIndex = 0
    var byteOffset: Int

    init(bytes: [UInt8]) {
        self.bytes = bytes
        // libyaml skips a UTF-8 byte order mark without counting it.
        byteOffset = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
    }

    mutating func offset(_ index: Int) -> Int {
        while charIndex < index && byteOffset < bytes.count {
            byteOffset += 1
            while byteOffset < bytes.count && bytes[byteOffset] & 0xC0 == 0x80 { byteOffset += 1 }
            charIndex += 1
        }
        while charIndex > index && byteOffset > 0 {
            byteOffset -= 1
            while byteOffset > 0 && bytes[byteOffset] & 0xC0 == 0x80 { byteOffset -= 1 }
            charIndex -= 1
        }
        return byteOffset
    }

    mutating func offset(_ m: yaml_mark_t) -> Int { offset(Int(m.index)) }
}

/// A container being read.
struct Frame {
    var node: YNode
    var isSequence: Bool
    var items: [YNode] = []
    var pairs: [(key: YNode, value: YNode)] = []
    var pendingKey: YNode?

    init(node: YNode, isSequence: Bool) {
        self.node = node
        self.isSequence = isSequence
    }

    var built: YNode {
        var n = node
        n.kind = isSequence ? .sequence(items) : .mapping(pairs)
        return n
    }
}

/// Reads a YAML stream into `YNode`s (one per document), reporting libyaml errors,
/// anchors, aliases and over-deep nesting as diagnostics. Never recurses.
struct YAMLReader {
    let bytes: [UInt8]
    let file: Int
    var diagnostics: [Diagnostic] = []
    var marks: MarkConverter

    init(bytes: [UInt8], file: Int) {
        self.bytes = bytes
        self.file = file
        self.marks = MarkConverter(bytes: bytes)
    }

    func span(_ a: Int, _ b: Int) -> Span { Span(file: file, start: a, end: b) }

    mutating func error(_ code: String, _ message: String, at s: Span, label: String = "", help: String? = nil) {
        if diagnostics.count >= Parser.errorsMax { return }
        diagnostics.append(.error(code, message, at: s, label: label, help: help))
    }

    /// The documents of the stream (partial trees when libyaml stops on an error).
    mutating func read() -> [YNode] {
        var documents: [YNode] = []
        // Open containers: the node being built (children kept aside so appends stay
        // in place) plus, for mappings, a pending key.
        var stack: [Frame] = []
        // While > 0, events are inside a skipped (too deep) subtree.
        var skipDepth = 0
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            error("E0104", "cannot initialise the YAML reader", at: span(0, 0))
            return []
        }
        defer { yaml_parser_delete(&parser) }

        func add(_ n: YNode, to stack: inout [Frame], documents: inout [YNode]) {
            guard !stack.isEmpty else { documents.append(n); return }
            let top = stack.count - 1
            if stack[top].isSequence {
                stack[top].items.append(n)
            } else if let k = stack[top].pendingKey {
                stack[top].pairs.append((k, n))
                stack[top].pendingKey = nil
            } else {
                stack[top].pendingKey = n
            }
        }

        let input = bytes
        input.withUnsafeBufferPointer { buf in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            while true {
                var ev = yaml_event_t()
                guard yaml_parser_parse(&parser, &ev) == 1 else {
                    reportParserError(&parser)
                    break
                }
                defer { yaml_event_delete(&ev) }
                let start = marks.offset(ev.start_mark)
                let end = marks.offset(ev.end_mark)
                switch ev.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    if skipDepth > 0 { skipDepth += 1; continue }
                    let isSeq = ev.type == YAML_SEQUENCE_START_EVENT
                    let anchor = isSeq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor
                    let tagPtr = isSeq ? ev.data.sequence_start.tag : ev.data.mapping_start.tag
                    if anchor != nil { reportAnchor(start) }
                    var n = YNode(kind: isSeq ? .sequence([]) : .mapping([]), start: start, end: end, tag: tagPtr.map { String(cString: $0) })
                    n.flow = isSeq ? ev.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE
                        : ev.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
                    if stack.count >= Parser.depthMax {
                        error("E0106", "nesting is too deep (more than \(Parser.depthMax) levels)", at: span(start, start + 1),
                              help: "flatten the structure or split it into named declarations")
                        skipDepth = 1
                        add(YNode(kind: .invalid, start: start, end: end), to: &stack, documents: &documents)
                        continue
                    }
                    stack.append(Frame(node: n, isSequence: isSeq))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    if skipDepth > 0 { skipDepth -= 1; continue }
                    guard let f = stack.popLast() else { continue }
                    var n = f.built
                    n.end = max(n.end, end)
                    add(n, to: &stack, documents: &documents)
                case YAML_SCALAR_EVENT:
                    if skipDepth > 0 { continue }
                    let s = ev.data.scalar
                    if s.anchor != nil { reportAnchor(start) }
                    let value = s.value.map { Array(UnsafeBufferPointer(start: $0, count: s.length)) } ?? []
                    let style: YNode.Style
                    switch s.style {
                    case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .single
                    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .double
                    case YAML_LITERAL_SCALAR_STYLE: style = .literal
                    case YAML_FOLDED_SCALAR_STYLE: style = .folded
                    default: style = .plain
                    }
                    // libyaml reports a non-specific `!` tag for quoted scalars; ignore it.
                    var tag = s.tag.map { String(cString: $0) }
                    if tag == "!" { tag = nil }
                    add(YNode(kind: .scalar(value: value, style: style), start: start, end: end, tag: tag), to: &stack, documents: &documents)
                case YAML_ALIAS_EVENT:
                    if skipDepth > 0 { continue }
                    error("E0104", "YAML aliases are not supported", at: span(start, end), label: "alias here",
                          help: "write the value out in full; ezflow reuses values through named declarations")
                    add(YNode(kind: .invalid, start: start, end: end), to: &stack, documents: &documents)
                case YAML_DOCUMENT_START_EVENT:
                    if documents.count == 1 && stack.isEmpty {
                        error("E0104", "a `.ezflow.yaml` file holds one YAML document", at: span(start, end + 3),
                              label: "second document starts here", help: "move the second document to a file of its own")
                    }
                default:
                    break
                }
            }
        }
        // After an error: close what is open so the partial tree is still checked.
        // An unclosed flow collection is what broke: drop it (already reported) rather
        // than guess what it held.
        while let f = stack.popLast() {
            var n = f.built
            n.end = max(n.end, n.start)
            if n.flow { n.kind = .invalid }
            add(n, to: &stack, documents: &documents)
        }
        return documents
    }

    mutating func reportAnchor(_ at: Int) {
        error("E0104", "YAML anchors are not supported", at: span(at, at + 1), label: "anchor here",
              help: "write the value out in full; ezflow reuses values through named declarations")
    }

    mutating func reportParserError(_ p: inout yaml_parser_t) {
        let problem = p.problem.map { String(cString: $0) } ?? "invalid YAML"
        let at: Int
        if p.error == YAML_READER_ERROR {
            at = min(Int(p.problem_offset), bytes.count)
        } else {
            at = marks.offset(p.problem_mark)
        }
        var secondary: [Label] = []
        if let c = p.context, p.error != YAML_READER_ERROR {
            let cAt = marks.offset(p.context_mark)
            if cAt != at { secondary.append(Label(span(cAt, cAt + 1), String(cString: c))) }
        }
        var help: String?
        if at < bytes.count && bytes[at] == 0x09 || problem.contains("tab") {
            help = "indent YAML with spaces, not tabs"
        } else if problem.contains("expected ',' or ']'") {
            help = "close the flow sequence with `]`"
        } else if problem.contains("expected ',' or '}'") {
            help = "close the flow mapping with `}`"
        } else if problem.contains("mapping values are not allowed") {
            help = "quote the value if it contains `: `"
        }
        let end = at < bytes.count ? at + 1 : at
        if diagnostics.count < Parser.errorsMax {
            diagnostics.append(.error("E0104", "invalid YAML: \(problem)", at: span(at, end), label: problem,
                                      secondary: secondary, help: help))
        }
    }
}
