import EzflowRuntime
import Foundation

/// Mutations that keep a workflow readable but change what it says: numbers and units,
/// words, names, whole lines, swapped tokens and inserted attributes. Most mutants still
/// parse and many still check clean, which is what `CheckCleanPropertyTests` needs.
enum SemanticMutator {
    static let numbers = [
        "0", "1", "-1", "-4", "9", "10", "1000", "99999999999", "0.5", "-0.5", "1.5",
        "0s", "1ms", "-3m", "30m", "2h", "100000h", "$0", "-$1", "$0.5", "$1000", "0 tokens", "200k tokens", "-5 tokens",
    ]
    static let words = [
        "exponential", "linear", "fixed", "full", "none", "equal", "decorrelated", "merge", "last_writer", "fail", "escalate",
        "cheapest", "fastest", "learned", "auction", "exec", "http", "llm", "sim", "allow", "deny", "run", "approve",
        "env", "file", "vault", "refused", "allowed", "timeout", "transient", "agent_error", "true", "false", "null", "item",
    ]
    /// Attribute lines inserted after the opening line of a block of the kind before the
    /// `|`; `NAME` becomes a name of the file.
    static let snippets = [
        "task|needs: [item]", "task|needs: [\"shell\", \"shell\"]", "task|after: [NAME, NAME]", "task|after: [NAME]",
        "task|timeout: -3m", "task|timeout: 1ms", "task|priority: 9", "task|for_each: [\"a\", \"b\"]",
        "task|for_each: [{ a: \"x\" }, { a: \"y\", b: null }]", "task|retry { attempts: 2, on: [transient, transient] }",
        "task|retry { attempts: 3, backoff: exponential, delay: 1s, max_delay: 2s }", "task|tags: [\"t\", \"t\"]",
        "task|max_cost: $1", "task|max_tokens: 10k tokens", "task|budget { money: $5 }", "task|budget { time: 1m }",
        "task|env: { A: \"1\", A: \"2\" }", "task|env: { A: \"${item}\" }", "task|writes: [NAME]", "task|agent: NAME",
        "task|role: NAME", "task|secrets: [NAME]", "task|for_each: [NAME.outputs.stdout]", "task|for_each: [inputs.NAME]",
        "task|for_each: inputs.NAME", "task|output NAME: string", "task|output NAME: list[string]",
        "workflow|max_parallel: 0", "workflow|max_parallel: 2", "workflow|output o: string { on_conflict: merge }",
        "workflow|output o: list[string] { on_conflict: merge }", "workflow|selector: auction", "workflow|deadline: 1h",
        "workflow|input NAME: string = \"v\"", "workflow|budget { money: $5, time: 1h }", "workflow|agents: [NAME]",
        "group|priority: 3", "group|after: [NAME]", "group|budget { tokens: 1k tokens }",
        "agent|concurrency: 0", "agent|failure_rate: 1", "agent|latency: -1s", "agent|cost_per_call: $0.01",
        "retry|catch: NAME", "retry|on: [timeout, timeout]", "retry|max_delay: 1h", "role|agents: [NAME, NAME]",
        "task|approvers: [NAME]", "task|retry: NAME", "task|workflow: NAME", "task|with: { NAME: inputs.NAME }",
        "task|with: { NAME: item }", "task|for_each: [item]", "task|self_approval: allowed", "task|model: \"m\"",
        "task|retry { attempts: 2, catch: NAME }", "task|env: { NAME: NAME.outputs.stdout }",
        "task|on_timeout: escalate", "task|on_timeout: fail", "task|escalate_to: [NAME]", "task|escalate_timeout: 1h",
    ]
    /// Replacements for literal `lit` of its own kind, so that most mutants keep their types.
    static func sameKind(_ lit: String) -> [String] {
        if lit.contains("$") { return ["$0", "-$1", "$0.5", "$1000", "$0.000001"] }
        if lit.hasSuffix("tokens") || lit.hasSuffix("k") || lit.hasSuffix("M") { return ["0 tokens", "200k tokens", "-5 tokens", "1 tokens"] }
        if lit.hasSuffix("s") || lit.hasSuffix("m") || lit.hasSuffix("h") { return ["0s", "1ms", "-3m", "30m", "2h", "100000h"] }
        if lit.contains(".") { return ["0.5", "-0.5", "1.5", "0.0", "1.0"] }
        return ["0", "1", "-1", "-4", "9", "10", "1000", "99999999999"]
    }

    static func mutate(_ text: String, _ rng: inout SeededRandom) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.isEmpty { return text }
        func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }
        let names = identifiers(text)
        func name() -> String { names.isEmpty ? "x" : names[below(names.count)] }
        // Weighted towards the kinds that most often still check clean.
        let kinds = [0, 0, 0, 0, 0, 0, 7, 7, 7, 7, 7, 1, 1, 2, 2, 3, 4, 4, 5, 6]
        switch kinds[below(kinds.count)] {
        case 0:  // a number or unit literal
            let hits = matches(numberPattern, lines)
            if let (l, r) = hits.isEmpty ? nil : hits[below(hits.count)] {
                let kind = sameKind(String(lines[l][r]))
                lines[l] = replacing(lines[l], r, below(4) == 0 ? numbers[below(numbers.count)] : kind[below(kind.count)])
            }
        case 1:  // the word after `key: `
            let hits = matches(wordValuePattern, lines)
            if let (l, r) = hits.isEmpty ? nil : hits[below(hits.count)] {
                lines[l] = replacing(lines[l], r, below(2) == 0 ? words[below(words.count)] : name())
            }
        case 2:  // a name, anywhere
            let hits = matches(identPattern, lines)
            if let (l, r) = hits.isEmpty ? nil : hits[below(hits.count)] { lines[l] = replacing(lines[l], r, name()) }
        case 3:
            lines.remove(at: below(lines.count))
        case 4:
            let i = below(lines.count)
            lines.insert(lines[i], at: i)
        case 5:
            let i = below(lines.count - 1)
            if i + 1 < lines.count { lines.swapAt(i, i + 1) }
        case 6:  // two names swap places
            let hits = matches(identPattern, lines)
            if hits.count >= 2 {
                let a = hits[below(hits.count)], b = hits[below(hits.count)]
                if a.0 != b.0 {
                    let (ta, tb) = (String(lines[a.0][a.1]), String(lines[b.0][b.1]))
                    lines[a.0] = replacing(lines[a.0], a.1, tb)
                    lines[b.0] = replacing(lines[b.0], b.1, ta)
                }
            }
        default:  // an attribute inserted into a block
            let pick = snippets[below(snippets.count)].split(separator: "|", maxSplits: 1)
            let kind = pick[0] + " "
            let opens = lines.indices.filter { lines[$0].hasSuffix("{") && lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix(kind) }
            if !opens.isEmpty {
                var s = String(pick[1])
                while let r = s.range(of: "NAME") { s.replaceSubrange(r, with: name()) }
                lines.insert("  " + s, at: opens[below(opens.count)] + 1)
            }
        }
        return lines.joined(separator: "\n")
    }

    static let numberPattern = try! NSRegularExpression(pattern: #"-?\$?\d+(\.\d+)?(ms|s|m|h|k|M)?( tokens)?"#)
    static let wordValuePattern = try! NSRegularExpression(pattern: #"(?<=: )[a-z_][a-z_0-9]*\b"#)
    static let identPattern = try! NSRegularExpression(pattern: #"\b[a-z_][a-z_0-9]*\b"#)

    /// (line, range) of every match, outside `#` comments.
    static func matches(_ re: NSRegularExpression, _ lines: [String]) -> [(Int, Range<String.Index>)] {
        var out: [(Int, Range<String.Index>)] = []
        for (i, l) in lines.enumerated() where !l.trimmingCharacters(in: .whitespaces).hasPrefix("#") {
            for m in re.matches(in: l, range: NSRange(l.startIndex..., in: l)) {
                if let r = Range(m.range, in: l) { out.append((i, r)) }
            }
        }
        return out
    }

    static func replacing(_ line: String, _ r: Range<String.Index>, _ with: String) -> String {
        var l = line
        l.replaceSubrange(r, with: with)
        return l
    }

    /// The distinct lowercase names of a file, in order of first appearance.
    static func identifiers(_ text: String) -> [String] {
        var seen: Set<String> = [], out: [String] = []
        for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).hasPrefix("#") {
            let l = String(line)
            for m in identPattern.matches(in: l, range: NSRange(l.startIndex..., in: l)) {
                if let r = Range(m.range, in: l), seen.insert(String(l[r])).inserted { out.append(String(l[r])) }
            }
        }
        return out
    }
}
