/// Generates valid ezflow workflows of a given size and DAG shape, for `ezbench check`.
///
/// Every generated file is meant to check clean (zero errors, zero warnings): the
/// declarations are all used, and the deadline and budget are computed from the same
/// worst case the checker computes (attempts × timeout + backoff), with a margin.
/// Output is deterministic: the same (shape, size) always gives the same bytes.

/// The three DAG shapes the benchmark generates.
enum Shape: String, CaseIterable, Sendable {
    /// Each task runs `after` the previous one: the critical path is the whole file.
    case chain
    /// One root fanning out through a tree of width ≤ 100 to the leaves, then joined
    /// level by level (width ≤ 100) down to one final join.
    case fanout
    /// Layers of width ≈ √N; each task depends on 2 pseudo-random tasks of the layer above.
    case layered
}

/// One generated workflow file.
struct GeneratedWorkflow: Sendable {
    var shape: Shape
    var tasks: Int
    var fileName: String
    var text: String
    /// Tasks on the longest `after` path (what the deadline is sized from).
    var criticalPath: Int
    var lines: Int
    var bytes: Int
}

/// A task in the DAG before rendering: its name and the indices it runs after.
private struct Node {
    var name: String
    var after: [Int]
    var tags: [String]
}

/// Deterministic 64-bit generator (SplitMix64), so the layered DAG is the same every run.
struct SplitMix64: Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<bound (bound > 0); the modulo bias is irrelevant here.
    mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

struct WorkflowGenerator: Sendable {
    /// Largest `after` list the fan-out shape writes.
    static let fanWidth = 100
    static let seed: UInt64 = 0x657A_666C_6F77 // "ezflow"

    // The retry rule every task uses; the worst case below must match it.
    static let attempts = 3
    static let retryDelaySeconds = 2
    static let retryMaxDelaySeconds = 60
    // Task timeouts cycle through these (seconds); rendered as 30s, 1m, 2m, 5m.
    static let timeouts = [30, 60, 120, 300]
    static let costPerCallMicros = 2_000 // $0.002

    /// Upper bound on one task's wall time under its retry rule: every attempt times out
    /// and every wait takes the full max_delay (jitter can only shorten it).
    static var worstSecondsPerTask: Int {
        attempts * timeouts.max()! + attempts * retryMaxDelaySeconds
    }

    func generate(shape: Shape, tasks n: Int) -> GeneratedWorkflow {
        precondition(n >= 3, "need at least 3 tasks")
        let nodes: [Node]
        switch shape {
        case .chain: nodes = chain(n)
        case .fanout: nodes = fanout(n)
        case .layered: nodes = layered(n)
        }
        precondition(nodes.count == n, "generator produced \(nodes.count) tasks, wanted \(n)")
        let critical = longestPath(nodes)
        let name = "bench_\(shape.rawValue)_\(n)"
        let text = render(name: name, shape: shape, nodes: nodes, criticalPath: critical)
        var lines = 0
        for b in text.utf8 where b == UInt8(ascii: "\n") { lines += 1 }
        return GeneratedWorkflow(
            shape: shape, tasks: n, fileName: name + ".ezflow", text: text,
            criticalPath: critical, lines: lines, bytes: text.utf8.count)
    }

    // MARK: shapes

    private func chain(_ n: Int) -> [Node] {
        (0..<n).map { i in
            Node(name: "step_\(i)", after: i == 0 ? [] : [i - 1], tags: ["stage_\(i / 1000)"])
        }
    }

    /// Leaves L and the fan tree above them: level sizes s0 = L, s(k+1) = ceil(s(k)/100),
    /// up to a single root. The join tree mirrors it, so the total is L + 2·Σ s(k≥1).
    /// The largest L that fits is taken; the few tasks left over become a short
    /// `publish` chain after the final join, so the count is exactly n.
    private func fanout(_ n: Int) -> [Node] {
        let w = Self.fanWidth
        func levels(_ leaves: Int) -> [Int] {
            var s = [leaves]
            while s.last! > 1 { s.append((s.last! + w - 1) / w) }
            if s.count == 1 { s.append(1) } // a single leaf still gets a root above it
            return s
        }
        func total(_ leaves: Int) -> Int { let s = levels(leaves); return s[0] + 2 * s.dropFirst().reduce(0, +) }
        var leaves = max(1, n - 2)
        while leaves > 1 && total(leaves) > n { leaves -= 1 }
        let sizes = levels(leaves)
        let top = sizes.count - 1

        var nodes: [Node] = []
        nodes.reserveCapacity(n)
        // Fan-out levels, root first. fanIndex[k][j] = index of fan node j at level k.
        var fanStart = [Int](repeating: 0, count: sizes.count)
        for k in stride(from: top, through: 1, by: -1) {
            fanStart[k] = nodes.count
            for j in 0..<sizes[k] {
                let after = k == top ? [] : [fanStart[k + 1] + j / w]
                nodes.append(Node(name: "fan_\(k)_\(j)", after: after, tags: ["fan", "level_\(k)"]))
            }
        }
        let leafStart = nodes.count
        for i in 0..<sizes[0] {
            nodes.append(Node(name: "leaf_\(i)", after: [fanStart[1] + i / w], tags: ["leaf", "shard_\(i % 16)"]))
        }
        // Join levels: join node j at level k runs after children j*w ..< (j+1)*w of level k-1.
        var joinStart = [Int](repeating: 0, count: sizes.count)
        joinStart[0] = leafStart
        for k in 1...top {
            joinStart[k] = nodes.count
            for j in 0..<sizes[k] {
                let lo = j * w, hi = min((j + 1) * w, sizes[k - 1])
                let after = (lo..<hi).map { joinStart[k - 1] + $0 }
                nodes.append(Node(name: "join_\(k)_\(j)", after: after, tags: ["join", "level_\(k)"]))
            }
        }
        var previous = nodes.count - 1
        var p = 0
        while nodes.count < n {
            nodes.append(Node(name: "publish_\(p)", after: [previous], tags: ["publish"]))
            previous = nodes.count - 1
            p += 1
        }
        return nodes
    }

    private func layered(_ n: Int) -> [Node] {
        let width = max(2, Int((Double(n).squareRoot()).rounded()))
        var rng = SplitMix64(seed: Self.seed ^ UInt64(n))
        var nodes: [Node] = []
        nodes.reserveCapacity(n)
        var prevStart = 0, prevCount = 0
        var layer = 0
        while nodes.count < n {
            let start = nodes.count
            let count = min(width, n - start)
            for j in 0..<count {
                var after: [Int] = []
                if prevCount == 1 {
                    after = [prevStart]
                } else if prevCount > 1 {
                    let a = rng.next(below: prevCount)
                    var b = rng.next(below: prevCount - 1)
                    if b >= a { b += 1 }
                    after = [prevStart + min(a, b), prevStart + max(a, b)]
                }
                nodes.append(Node(name: "l\(layer)_\(j)", after: after, tags: ["layer_\(layer)"]))
            }
            prevStart = start
            prevCount = count
            layer += 1
        }
        return nodes
    }

    /// Number of tasks on the longest path; nodes are in topological order by construction.
    private func longestPath(_ nodes: [Node]) -> Int {
        var depth = [Int](repeating: 1, count: nodes.count)
        var best = 0
        for (i, node) in nodes.enumerated() {
            for a in node.after {
                precondition(a < i, "generator emitted a forward edge")
                depth[i] = max(depth[i], depth[a] + 1)
            }
            best = max(best, depth[i])
        }
        return best
    }

    // MARK: rendering

    private func render(name: String, shape: Shape, nodes: [Node], criticalPath: Int) -> String {
        let n = nodes.count
        // Margin of 1.5× over the worst case, rounded up to whole hours / dollars.
        let deadlineHours = (criticalPath * Self.worstSecondsPerTask * 3 / 2 + 3599) / 3600
        let totalHours = (n * Self.worstSecondsPerTask * 3 / 2 + 3599) / 3600
        let moneyDollars = (n * Self.attempts * Self.costPerCallMicros * 3 / 2 + 999_999) / 1_000_000

        var out = ""
        out.reserveCapacity(n * 260 + 2048)
        out += """
            # Generated by `ezbench check`: shape \(shape.rawValue), \(n) tasks, longest path \(criticalPath).
            # Regenerate with: swift run -c release ezbench check --shapes \(shape.rawValue) --sizes \(n) --emit DIR

            agent shell_runner {
              driver: exec
              capabilities: ["shell", "linux"]
              concurrency: 16
              cost_per_call: $0.002
            }

            role builder {
              allow: [run]
              agents: [shell_runner]
            }

            retry standard {
              attempts: \(Self.attempts)
              backoff: exponential
              delay: \(Self.retryDelaySeconds)s
              max_delay: \(Self.retryMaxDelaySeconds / 60)m
              jitter: full
              on: [timeout, transient]
            }

            workflow \(name) {
              description: "synthetic \(shape.rawValue) DAG for the ezc check benchmark"
              input x: string = "world"
              deadline: \(deadlineHours)h
              max_parallel: 64

              budget {
                money: $\(moneyDollars)
                time: \(totalHours)h
              }


            """
        let timeoutText = Self.timeouts.map { $0 % 60 == 0 ? "\($0 / 60)m" : "\($0)s" }
        for (i, node) in nodes.enumerated() {
            out += "  task "
            out += node.name
            out += " {\n    run: \"echo ${inputs.x} from "
            out += node.name
            out += " && test -n \\\"\\$HOME\\\"\"\n"
            out += "    role: builder\n"
            out += "    needs: [\"shell\"]\n"
            out += "    timeout: "
            out += timeoutText[i % timeoutText.count]
            out += "\n    retry: standard\n"
            out += "    priority: \(i % 10)\n"
            out += "    tags: [\"bench\", \"\(shape.rawValue)\""
            for t in node.tags { out += ", \""; out += t; out += "\"" }
            out += "]\n"
            if !node.after.isEmpty {
                out += "    after: ["
                for (k, a) in node.after.enumerated() {
                    if k > 0 { out += ", " }
                    out += nodes[a].name
                }
                out += "]\n"
            }
            out += "  }\n"
        }
        out += "}\n"
        return out
    }
}
